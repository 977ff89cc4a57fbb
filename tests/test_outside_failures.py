"""The outside world failing: a clear message and exit status before any work, and nothing lost after.

Docker daemon not running, a sandbox image missing, the model endpoint unreachable, the
disk holding the run full (a small tmpfs mounted in a private mount namespace of the
command, so the machine's own disks are never filled).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.fake_openai import FakeOpenAI

DSGYM = str(Path(sys.executable).with_name("dsgym"))
REPO = Path(__file__).resolve().parents[1]


def dsgym(*args: str, timeout: float = 300, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([DSGYM, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PYTHONPATH": str(REPO), **env})


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_no_docker_daemon_is_said_at_once(tmp_path):
    missing = f"unix://{tmp_path}/no-docker.sock"
    result = dsgym("eval", "dsgym-tasks-lite/iris-kmeans-ari", "--out", str(tmp_path / "run"),
                   DOCKER_HOST=missing, timeout=60)
    assert result.returncode == 2
    assert "cannot reach the Docker daemon" in result.stderr and "start it" in result.stderr
    assert not (tmp_path / "run").exists()
    synth = dsgym("synth", "dsbio-lite", "--out", str(tmp_path / "synth"), "--model", "m",
                  "--base-url", f"http://127.0.0.1:{closed_port()}/v1", DOCKER_HOST=missing, timeout=60)
    assert synth.returncode == 2 and "cannot reach the Docker daemon" in synth.stderr


@pytest.mark.docker
def test_a_missing_image_names_the_build_command(docker_image, tmp_path):
    result = dsgym("eval", "dsgym-tasks-lite/iris-kmeans-ari", "--image", "dsgym-no-such-image:0",
                   "--out", str(tmp_path / "run"), timeout=60)
    assert result.returncode == 2
    assert "dsgym-no-such-image:0 not built" in result.stderr and "dsgym sandbox build" in result.stderr


@pytest.mark.docker
def test_an_unreachable_model_endpoint_is_said_before_any_episode(docker_image, tmp_path):
    url = f"http://127.0.0.1:{closed_port()}/v1"
    result = dsgym("eval", "dsgym-tasks-lite/iris-kmeans-ari", "--agent", "react", "--model", "m",
                   "--base-url", url, "--out", str(tmp_path / "run"), timeout=120)
    assert result.returncode == 2
    assert f"the model endpoint {url} is unreachable" in result.stderr
    assert not (tmp_path / "run" / "episodes.jsonl").exists()
    synth = dsgym("synth", "dsbio-lite", "--out", str(tmp_path / "synth"), "--model", "m", "--base-url", url,
                  timeout=120)
    assert synth.returncode == 2 and "is unreachable" in synth.stderr
    with FakeOpenAI(replies="<answer>1</answer>", api_key="right") as fake:  # reachable, the key refused
        refused = dsgym("eval", "dsgym-tasks-lite/iris-kmeans-ari", "--agent", "react", "--model", "m",
                        "--base-url", fake.base_url, "--out", str(tmp_path / "run2"), timeout=120)
    assert refused.returncode == 2 and "refused the API key" in refused.stderr


def can_mount_tmpfs() -> bool:
    if shutil.which("unshare") is None or os.geteuid() != 0:
        return False
    probe = subprocess.run(["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
                           capture_output=True)
    return probe.returncode == 0


@pytest.mark.docker
def test_a_full_disk_stops_the_run_clearly_and_keeps_what_was_written(docker_image, tmp_path):
    if not can_mount_tmpfs():
        pytest.fail("needs root and `unshare -m` to mount a small tmpfs in a private mount namespace")
    full = tmp_path / "small"
    full.mkdir()
    keep = tmp_path / "kept"
    # the run folder sits on a 160 KB tmpfs: the manifest and some episodes fit, then the disk is full;
    # before the namespace goes, what was written is copied out for the checks
    script = (f"mount -t tmpfs -o size=160k tmpfs {full} && "
              f"{DSGYM} eval dsgym-tasks-lite --agent oracle -j 2 --out {full}/run; status=$?; "
              f"cp -r {full}/run {keep}; exit $status")
    result = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, timeout=600,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == 4, result.stderr[-2000:]
    assert "is full" in result.stderr and "rerun the same command to resume" in result.stderr
    manifest = json.loads((keep / "manifest.json").read_text())
    assert manifest["settings"]["agent"] == "oracle"
    raw = (keep / "episodes.jsonl").read_bytes()
    complete = raw[:raw.rfind(b"\n") + 1].decode().splitlines()
    assert complete and all(json.loads(line)["status"] == "ok" for line in complete)
    # resuming on a disk with room finishes the run without playing the kept episodes again
    resumed = dsgym("eval", "dsgym-tasks-lite", "--agent", "oracle", "-j", "2", "--out", str(keep), timeout=900)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    records = [json.loads(line) for line in (keep / "episodes.jsonl").read_text().splitlines()]
    assert len(records) == 66 and len({(r["task_id"], r["sample"]) for r in records}) == 66
    assert f"skipping {len(complete)} episode(s) already recorded" in resumed.stderr
