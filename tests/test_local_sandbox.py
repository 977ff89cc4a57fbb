"""The local (unisolated) runtime: same protocol, chosen explicitly, says it is not isolated."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

import dsgym
from dsgym.sandbox.local import LocalSandbox, NotIsolatedWarning
from tests.support.helpers import python


def test_local_sandbox_warns_and_runs_an_episode(secret_suite):
    with pytest.warns(NotIsolatedWarning):
        env = dsgym.make("secret-test/sum-y", sandbox="local", cell_timeout=2)
        obs, info = env.reset()
    try:
        assert info["isolated"] is False
        data_dir = env.unwrapped.sandbox.data_dir
        assert f"{data_dir}/numbers.csv" in obs
        obs, *_ = env.step(python(f"import pandas as pd\nint(pd.read_csv('{data_dir}/numbers.csv')['y'].sum())"))
        assert "297" in obs
        obs, *_ = env.step(python("x = 5\nwhile True: pass"))
        assert "[timeout]" in obs
        obs, *_, info = env.step(python("import os; os._exit(3)"))
        assert "[kernel died]" in obs and "exit code 3" in obs and info["kernel_restarted"]
        obs, *_ = env.step(python("x"))
        assert "NameError" in obs
        _, reward, terminated, _, _ = env.step("<answer>297</answer>")
        assert terminated and reward == 1.0
    finally:
        env.close()


def test_local_data_is_a_read_only_copy(secret_suite, tmp_path):
    with pytest.warns(NotIsolatedWarning):
        sandbox = LocalSandbox()
    source = tmp_path / "a.csv"
    source.write_text("x\n1\n")
    try:
        sandbox.start()
        sandbox.put_data({"a.csv": source})
        copy = Path(sandbox.data_dir) / "a.csv"
        assert copy.stat().st_mode & 0o777 == 0o444 and copy.stat().st_ino != source.stat().st_ino
        # root ignores file modes, so the write may succeed: it can only reach the copy
        sandbox.execute(f"open('{copy}', 'w').write('changed')", timeout=5)
    finally:
        sandbox.close()
    assert source.read_text() == "x\n1\n"


def test_sandbox_choice_comes_from_the_environment_variable(secret_suite, monkeypatch):
    monkeypatch.setenv("DSGYM_SANDBOX", "local")
    with pytest.warns(NotIsolatedWarning):
        env = dsgym.make("secret-test/no-data")
        env.reset()
    try:
        assert env.unwrapped.sandbox.isolated is False
    finally:
        env.close()


def test_local_sandbox_refuses_the_oracle_on_solutions_written_for_data(secret_suite):
    """The reference solution reads /data/numbers.csv: refused clearly, and the host's /data untouched."""
    from dsgym.agents import OracleAgent
    from dsgym.episode import play

    had_data = Path("/data").exists()
    with pytest.warns(NotIsolatedWarning):
        env = dsgym.make("secret-test/sum-y", sandbox="local", cell_timeout=10)
        try:
            record = play(env, OracleAgent())
        finally:
            env.close()
    assert record.status == "error" and not record.turns
    assert "the reference solution uses /data/..." in record.error
    assert "docker or bwrap" in record.error
    assert Path("/data").exists() == had_data


def test_local_sandbox_refuses_a_task_whose_prompt_names_data_paths(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.csv").write_text("x\n1\n")
    (tmp_path / "manifest.json").write_text(json.dumps({"suite": "abs-paths", "data_dir": "data", "tasks": [
        {"id": "t", "question": "Read /data/a.csv: what is x?", "data_files": ["a.csv"], "answer": 1}]}))
    suite = dsgym.register_suite(tmp_path)
    with pytest.warns(NotIsolatedWarning):
        env = dsgym.make(f"{suite.name}/t", sandbox="local")
        try:
            with pytest.raises(ValueError, match="names files under /data/ in its prompt"):
                env.reset()
        finally:
            env.close()


def test_closing_a_frozen_local_sandbox_ends_its_kernel_too():
    """The launcher starts the kernel in a session of its own: killing the frozen launcher alone left it running."""
    with pytest.warns(NotIsolatedWarning):
        sandbox = LocalSandbox()
    sandbox.start()
    try:
        pid = sandbox.kernel.state()["pid"]
        assert str(sandbox.root).encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
        sandbox.freeze()
        assert wait_for_state(pid, "T"), "the kernel was not stopped with its launcher"
    finally:
        sandbox.close()
    assert wait_for_state(pid, "gone"), f"the kernel {pid} outlived its closed sandbox"


def wait_for_state(pid: int, wanted: str, seconds: float = 5.0) -> bool:
    """Whether process ``pid`` reaches ``wanted`` (a /proc state letter, or "gone": ended) within ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            state = "gone"
        if state == wanted or (wanted == "gone" and state == "Z"):
            return True
        time.sleep(0.05)
    return False
