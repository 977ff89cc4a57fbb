"""Copying files out of sandboxes: exact bytes, the size cap while a file still grows, the time bound."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

import dsgym
from dsgym.sandbox.base import CopyOutError, Limits
from dsgym.sandbox.docker import DockerSandbox
from dsgym.sandbox.local import LocalSandbox, NotIsolatedWarning
from dsgym.sandbox.transfer import copy_file, open_root
from tests.support.helpers import python

MB = 1 << 20
# Appends 1 MB blocks to a file in the background (a new session: it outlives the cell), forever.
GROW = ("import subprocess, sys\n"
        "subprocess.Popen([sys.executable, '-c', \"import os\\n"
        "block = b'1,2\\\\n' * 262144\\n"
        "with open('{path}', 'ab', buffering=0) as out:\\n"
        "    while True:\\n"
        "        out.write(block)\\n\"], start_new_session=True)\n")


def _wait_for_size(sandbox, path: str, size: int) -> None:
    for _ in range(200):
        result = sandbox.execute(f"import os; print(os.path.getsize({path!r}) if os.path.exists({path!r}) else 0)", 30)
        if int(result.stdout.text().strip() or 0) >= size:
            return
        time.sleep(0.05)
    raise AssertionError(f"{path} never reached {size} bytes")


@pytest.fixture
def sandbox(docker_image):
    box = DockerSandbox(image=docker_image, limits=Limits(workspace_size="256m"))
    box.start()
    yield box
    box.close()


@pytest.mark.docker
def test_a_60mb_file_comes_out_byte_for_byte(sandbox, tmp_path):
    made = sandbox.execute("import hashlib, random\n"
                           "data = random.Random(7).randbytes(60 << 20)\n"
                           "open('/workspace/big.bin', 'wb').write(data)\n"
                           "print(hashlib.sha256(data).hexdigest())", 120)
    inside_digest = made.stdout.text().strip()
    dest = tmp_path / "out" / "big.bin"
    assert sandbox.copy_out("/workspace/big.bin", dest, max_bytes=64 * MB) == 60 * MB
    assert hashlib.sha256(dest.read_bytes()).hexdigest() == inside_digest
    assert [p.name for p in dest.parent.iterdir()] == ["big.bin"]
    assert sandbox.copy_out("/workspace/absent.csv", tmp_path / "absent", max_bytes=MB) is None
    assert not (tmp_path / "absent").exists()


@pytest.mark.docker
def test_the_cap_stops_a_file_that_is_still_being_written(sandbox, tmp_path):
    sandbox.execute(GROW.format(path="/workspace/grow.csv"), 30)
    _wait_for_size(sandbox, "/workspace/grow.csv", 6 * MB)
    dest = tmp_path / "out" / "grow.csv"
    dest.parent.mkdir()
    started = time.monotonic()
    with pytest.raises(CopyOutError) as raised:
        sandbox.copy_out("/workspace/grow.csv", dest, max_bytes=4 * MB, timeout=60)
    assert raised.value.reason == "too_large" and "4,194,304-byte limit" in str(raised.value)
    assert time.monotonic() - started < 10
    assert list(dest.parent.iterdir()) == [], "a partial copy was left on the host"


@pytest.mark.docker
def test_links_and_fifos_in_the_sandbox_are_refused_without_blocking(sandbox, tmp_path):
    sandbox.execute("import os\n"
                    "os.symlink('/etc/hostname', '/workspace/link.csv')\n"
                    "os.mkfifo('/workspace/fifo.csv')\n"
                    "os.symlink('/etc', '/workspace/etc')", 30)
    for name in ("link.csv", "fifo.csv", "etc/hostname"):
        with pytest.raises(CopyOutError) as raised:
            sandbox.copy_out(f"/workspace/{name}", tmp_path / name.replace("/", "-"), max_bytes=MB, timeout=10)
        assert raised.value.reason == "not_a_file", name
    assert list(tmp_path.iterdir()) == []


def test_the_cap_is_checked_while_reading_not_only_against_the_size_the_file_claims(tmp_path):
    root = open_root("/proc")  # its files claim a size of 0 and hold more: as a file that grows after fstat
    (tmp_path / "out").mkdir()
    try:
        with pytest.raises(CopyOutError, match="grew past the 100-byte limit") as raised:
            copy_file(root, f"{os.getpid()}/status", tmp_path / "out" / "status", max_bytes=100, timeout=30)
    finally:
        os.close(root)
    assert raised.value.reason == "too_large" and list((tmp_path / "out").iterdir()) == []


def test_the_time_bound_stops_a_copy_and_leaves_nothing(tmp_path):
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "slow.bin").write_bytes(os.urandom(3 * MB))
    root = open_root(tree)
    (tmp_path / "out").mkdir()
    try:
        with pytest.raises(CopyOutError) as raised:
            copy_file(root, "/slow.bin", tmp_path / "out" / "slow.bin", max_bytes=8 * MB, timeout=0.0)
        assert raised.value.reason == "timed_out"
        assert list((tmp_path / "out").iterdir()) == []
        assert copy_file(root, "slow.bin", tmp_path / "ok.bin", max_bytes=8 * MB, timeout=30) == 3 * MB
        with pytest.raises(CopyOutError, match="plain path"):
            copy_file(root, "/../etc/passwd", tmp_path / "x", max_bytes=MB, timeout=30)
    finally:
        os.close(root)


@pytest.mark.docker
def test_a_submission_growing_past_the_cap_is_invalid_with_the_reason(docker_image, predict_suite, tmp_path,
                                                                       monkeypatch):
    monkeypatch.setattr("dsgym.env.MAX_SUBMISSION_BYTES", 4 * MB)
    artifacts = tmp_path / "artifacts"
    env = dsgym.make("predict-env/toy", artifacts_dir=artifacts, max_turns=4)
    try:
        env.reset()
        env.step(python(GROW.format(path="/workspace/submission.csv")))
        _wait_for_size(env.unwrapped.sandbox, "/workspace/submission.csv", 6 * MB)
        *_, terminated, _, info = env.step("<answer>done</answer>")
    finally:
        env.close()
    breakdown = info["score_breakdown"]
    assert terminated and info["score"] == 0.0
    assert breakdown["valid"] is False and breakdown["reason"] == "too_large", breakdown
    assert "limit" in breakdown["message"] and "submission" not in info
    assert not artifacts.exists() or not any(Path(artifacts).rglob("*submission*"))


def test_the_local_sandbox_copies_out_the_same_way_and_freezes_its_processes(tmp_path):
    with pytest.warns(NotIsolatedWarning):
        sandbox = LocalSandbox()
    sandbox.start()
    try:
        workspace = sandbox.workdir
        sandbox.execute(f"open({workspace!r} + '/out.csv', 'w').write('id,y\\n1,2\\n')\n"
                        f"import os; os.symlink('/etc/hostname', {workspace!r} + '/link.csv')", 30)
        sandbox.freeze()
        assert _stopped(sandbox.proc.pid)
        assert sandbox.copy_out(f"{workspace}/out.csv", tmp_path / "out.csv", max_bytes=MB) == 9
        assert (tmp_path / "out.csv").read_text() == "id,y\n1,2\n"
        for path in (f"{workspace}/link.csv", "/etc/hostname"):
            with pytest.raises(CopyOutError) as raised:
                sandbox.copy_out(path, tmp_path / "refused", max_bytes=MB)
            assert raised.value.reason == "not_a_file"
    finally:
        sandbox.close()
    assert sandbox.proc.poll() is not None


def _stopped(pid: int) -> bool:
    for _ in range(100):
        with open(f"/proc/{pid}/stat") as stat:
            if stat.read().rpartition(")")[2].split()[0] == "T":
                return True
        time.sleep(0.02)
    return False
