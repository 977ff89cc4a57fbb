"""No container or host temp dir outlives its env: close, episode end, errors, SIGTERM, SIGKILL + prune.

Real containers throughout.  Other processes may run dsgym containers at the same
time, so every check compares the ids this test created, never global counts.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import docker.errors
import pytest

import dsgym
from dsgym.sandbox import SandboxError
from dsgym.sandbox.docker import client
from dsgym.agents import OracleAgent
from tests.support.helpers import REPO, labelled_containers, owned_containers, python

pytestmark = pytest.mark.docker


def container_ids() -> set[str]:
    return {container.id for container in labelled_containers()}


def owned_by(pid: int | None = None) -> set[str]:
    """Ids of the labelled containers a process (this one by default) created."""
    owner = f":{pid or os.getpid()}"
    return {c.id for c in labelled_containers() if c.labels.get("dsgym.owner", "").endswith(owner)}


def container_exists(container_id: str) -> bool:
    try:
        client().containers.get(container_id)
    except docker.errors.NotFound:
        return False
    return True


# -- 1. close and episode end -----------------------------------------------------------------------


def test_close_and_episode_end_remove_the_container_and_temp_dir(make_env):
    before = owned_by()
    env = make_env("secret-test/sum-y")
    env.reset(seed=0)
    sandbox = env.unwrapped.sandbox
    container_id, root = sandbox.container.id, sandbox.root
    assert container_id in owned_by() - before
    assert root.is_dir() and (root / "data" / "numbers.csv").is_file()
    assert sandbox.container.labels["dsgym.root"] == str(root)

    env.close()
    assert container_id not in container_ids()
    assert not container_exists(container_id)
    assert not root.exists(), f"{root} outlived env.close()"

    # An episode that ends by answer releases its sandbox at once, before any close().
    env.reset(seed=0)
    sandbox = env.unwrapped.sandbox
    container_id, root = sandbox.container.id, sandbox.root
    env.step(python("print(1)"))
    _, _, terminated, _, info = env.step("<answer>297</answer>")
    assert terminated and info["termination"] == "answer"
    assert env.unwrapped.sandbox is None
    assert not container_exists(container_id), "the container outlived the episode"
    assert not root.exists()
    assert owned_by() - before == set()


# -- 2. errors inside the env -----------------------------------------------------------------------


def test_failed_reset_raises_clearly_and_leaves_no_container(make_env, tmp_path, monkeypatch):
    suite_dir = tmp_path / "suite"
    (suite_dir / "data").mkdir(parents=True)
    data_file = suite_dir / "data" / "vanishing.csv"
    data_file.write_text("a\n1\n")
    name = f"vanish-{os.getpid()}"
    (suite_dir / "manifest.json").write_text(json.dumps({
        "suite": name, "data_dir": "data",
        "tasks": [{"id": "t", "question": "q?", "data_files": ["vanishing.csv"], "answer": "1"}],
    }))
    suite = dsgym.register_suite(suite_dir)
    assert not suite.errors and "t" in suite.tasks
    roots = tmp_path / "roots"
    roots.mkdir()
    monkeypatch.setenv("DSGYM_TMPDIR", str(roots))  # so we can see every sandbox root it made

    env = make_env(f"{name}/t")
    data_file.unlink()
    before = owned_by()
    with pytest.raises(Exception) as caught:
        env.reset(seed=0)
    message = f"{type(caught.value).__name__}: {caught.value}"
    assert "vanishing.csv" in message, f"the error does not name the missing file: {message}"
    assert isinstance(caught.value, (OSError, SandboxError)), message
    assert env.unwrapped.sandbox is None
    assert owned_by() - before == set(), "a container was left behind by the failed reset"
    assert list(roots.iterdir()) == [], f"sandbox temp dirs were left behind: {list(roots.iterdir())}"

    # The env is still usable once the file is back.
    data_file.write_text("a\n1\n")
    env.reset(seed=0)
    obs, *_ = env.step(python("print(open('/data/vanishing.csv').read().split())"))
    assert "['a', '1']" in obs


# -- 3 and 4. the host process dies -----------------------------------------------------------------


HOLDER = textwrap.dedent("""
    import json, sys, time
    import dsgym
    options = json.loads(sys.argv[1])
    env = dsgym.make("secret-test/sum-y", **options)
    pool = env.unwrapped.pool

    def wait_pool():
        end = time.monotonic() + 60
        while pool is not None and pool.ready() < 1 and time.monotonic() < end:
            time.sleep(0.05)

    wait_pool()  # a warm pool: the first sandbox was started by the pool's thread
    env.reset(seed=0)
    wait_pool()  # and its replacement is running too
    sandbox = env.unwrapped.sandbox
    print(sandbox.container.id, sandbox.root, flush=True)
    time.sleep(120)
""")


def start_holder(secret_suite, tmp_path: Path, **options) -> tuple[subprocess.Popen, str, Path]:
    """A separate Python process that holds one env's container; returns it, the id and the root."""
    env = {**os.environ, "DSGYM_SUITES": str(secret_suite.root)}
    stderr = (tmp_path / "holder.err").open("w")
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, json.dumps(options)], stdout=subprocess.PIPE, stderr=stderr,
                            text=True, env=env, cwd=REPO)
    line: list[str] = []
    reader = threading.Thread(target=lambda: line.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(60)
    if not line or not line[0].strip():
        proc.kill()
        proc.wait()
        pytest.fail(f"the holder process printed no container id:\n{(tmp_path / 'holder.err').read_text()}")
    container_id, root = line[0].split()
    return proc, container_id, Path(root)


def test_sigkill_then_prune_removes_orphans_but_not_live_containers(make_env, secret_suite, tmp_path):
    mine = make_env("secret-test/sum-y")
    mine.reset(seed=0)
    my_id = mine.unwrapped.sandbox.container.id

    proc, orphan_id, root = start_holder(secret_suite, tmp_path)
    try:
        orphan = client().containers.get(orphan_id)
        assert orphan.labels["dsgym.owner"].endswith(f":{proc.pid}")
        label_root = Path(orphan.labels["dsgym.root"])
        assert label_root == root and root.is_dir()
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(10) == -signal.SIGKILL
        time.sleep(0.5)
        assert container_exists(orphan_id), "a SIGKILLed process cannot clean up: the container should remain"

        cli = Path(sys.executable).parent / "dsgym"
        assert cli.is_file(), f"no dsgym console script next to {sys.executable}"
        done = subprocess.run([str(cli), "sandbox", "prune"], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        # (every dsgym process of this host reaps orphans before its first sandbox, so a test running
        # beside this one may have removed it first)
        assert orphan.short_id in done.stdout or not container_exists(orphan_id), done.stdout
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert not container_exists(orphan_id), "prune left the orphaned container"
    assert not label_root.exists(), f"prune left the orphan's temp dir {label_root}"

    # A live process's container survived prune and still works.
    assert container_exists(my_id), "prune removed the container of a live process"
    obs, *_ = mine.step(python("print('alive after prune')"))
    assert obs.strip() == "alive after prune", obs


@pytest.mark.parametrize("options", [{}, {"pool_size": 1}], ids=["plain", "warm-pool"])
def test_sigterm_of_the_host_process_removes_its_container(secret_suite, docker_image, tmp_path, options):
    proc, container_id, root = start_holder(secret_suite, tmp_path, **options)
    try:
        held = owned_by(proc.pid)
        assert container_id in held and root.is_dir()
        assert len(held) == (2 if options.get("pool_size") else 1), held  # the pool keeps a spare
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    stderr = (tmp_path / "holder.err").read_text()
    left = [cid for cid in held if container_exists(cid)]
    for cid in left:  # do not leak them (or their temp dirs) into later tests
        leftover = client().containers.get(cid)
        leftover.remove(force=True)
        leftover_root = Path(leftover.labels.get("dsgym.root", ""))
        if leftover_root.name.startswith("dsgym-"):
            shutil.rmtree(leftover_root, ignore_errors=True)
    assert left == [], f"SIGTERM (exit code {code}) left {len(left)} of {len(held)} container(s) behind\n{stderr}"
    assert code == 128 + signal.SIGTERM, f"exit code {code}\n{stderr}"
    assert not root.exists(), f"SIGTERM left the temp dir {root}"


# -- 5. SIGTERM and SIGHUP stop a long-running command like Ctrl-C ------------------------------------


class SlowOracle(OracleAgent):
    """The oracle after a two-second cell, so that episodes are mid-run when the signal lands."""

    name = "slow-oracle"

    def start(self, task, prompt):
        super().start(task, prompt)
        self.waited = False

    def act(self, observation):
        if not self.waited:
            self.waited = True
            return python("import time\ntime.sleep(2)")
        return super().act(observation)


DSGYM = str(Path(sys.executable).with_name("dsgym"))


def eval_env(secret_suite) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "DSGYM_SUITES": str(secret_suite.root)}


def gone_within(pid: int, seconds: float) -> list:
    end = time.monotonic() + seconds
    while owned_containers(pid) and time.monotonic() < end:
        time.sleep(0.2)
    left = owned_containers(pid)
    for container in left:  # do not leak them into later tests
        container.remove(force=True)
    return left


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_stop_signal_mid_eval_removes_its_sandboxes_and_a_rerun_resumes_exactly(secret_suite, docker_image,
                                                                                 tmp_path, sig):
    out = tmp_path / "run"
    command = [DSGYM, "eval", "secret-test/sum-y", "--samples", "6", "-j", "2", "--agent",
               "tests.test_cleanup:SlowOracle", "--out", str(out)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=eval_env(secret_suite))
    log = out / "episodes.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (log.exists() and log.read_bytes().count(b"\n") >= 2
                                               and owned_containers(proc.pid)):
        time.sleep(0.05)
    assert owned_containers(proc.pid), "no sandbox was running when the signal was sent: nothing proved"
    proc.send_signal(sig)
    signalled = time.monotonic()
    left = gone_within(proc.pid, 5.0)
    took = time.monotonic() - signalled
    _, stderr = proc.communicate(timeout=30)
    assert left == [], f"{len(left)} sandbox(es) still there {took:.1f} s after {sig.name}\n{stderr}"
    assert proc.returncode == 128 + sig, stderr
    assert f"stopped by {sig.name}" in stderr and "Rerun the same command to resume" in stderr, stderr
    done = log.read_bytes().count(b"\n")
    assert 2 <= done < 6, "the signal should land mid-run"
    assert log.read_bytes().endswith(b"\n"), "a half-written record reached the log"
    assert json.loads((out / "manifest.json").read_text())["invocations"][0]["status"] == "interrupted"

    rerun = subprocess.run(command, capture_output=True, text=True, timeout=300, env=eval_env(secret_suite))
    assert rerun.returncode == 0, rerun.stderr
    assert f"skipping {done} episode(s) already recorded" in rerun.stderr, rerun.stderr
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert sorted(f"{r['task_id']}#{r['sample']}" for r in records) == [f"sum-y#{i}" for i in range(6)]
    assert all(r["status"] == "ok" and r["score"] == 1.0 for r in records)
    manifest = json.loads((out / "manifest.json").read_text())
    assert [i["status"] for i in manifest["invocations"]] == ["interrupted", "completed"]
    assert [i["ran"] for i in manifest["invocations"]] == [done, 6 - done]


def test_a_second_signal_forces_the_exit_and_still_removes_the_sandboxes(secret_suite, docker_image, tmp_path):
    proc = subprocess.Popen([DSGYM, "eval", "secret-test/sum-y", "--samples", "4", "-j", "2", "--agent",
                             "tests.test_runner:CellSleeper", "--out", str(tmp_path / "run")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=eval_env(secret_suite))
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and len(owned_containers(proc.pid)) < 2:
        time.sleep(0.1)
    assert len(owned_containers(proc.pid)) == 2
    proc.send_signal(signal.SIGTERM)
    time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=30)
    left = gone_within(proc.pid, 5.0)
    assert left == [], f"{len(left)} sandbox(es) left after two signals\n{stderr}"
    assert proc.returncode == 128 + signal.SIGTERM, stderr


def test_sigterm_stops_a_filter_run_removes_its_sandboxes_and_keeps_finished_checks(docker_image, tmp_path):
    out = tmp_path / "filtered"
    proc = subprocess.Popen([DSGYM, "filter", "dsgym-tasks-lite", "--out", str(out), "-j", "2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(owned_containers(proc.pid)) < 2:
        time.sleep(0.1)
    assert owned_containers(proc.pid), "no sandbox was running when the signal was sent: nothing proved"
    time.sleep(1)
    proc.send_signal(signal.SIGTERM)
    left = gone_within(proc.pid, 5.0)
    _, stderr = proc.communicate(timeout=30)
    assert left == [], f"{len(left)} sandbox(es) left 5 s after SIGTERM\n{stderr}"
    assert proc.returncode == 128 + signal.SIGTERM, stderr
    assert "stopped by SIGTERM" in stderr and "rerun the same command to resume" in stderr, stderr
    state = out / "filter-state.jsonl"
    assert not state.exists() or state.read_bytes().endswith(b"\n"), "a half-written check reached the state"
