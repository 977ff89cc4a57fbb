"""``--gpus``: the device request prediction sandboxes get, the clear error without GPUs, the run manifest.

This machine has no GPU.  The request is checked as the Docker daemon receives it: without the
NVIDIA Container Toolkit the daemon refuses a container that asks for GPUs, so a sandbox that
fails that way proves the request was sent (a sandbox without it starts).  On a GPU host the same
test starts the sandbox and lists the GPUs from inside it (README: checking GPUs).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import docker.types
import pytest

import dsgym
from dsgym.config import EnvConfig
from dsgym.sandbox import Limits, SandboxError
from dsgym.sandbox import gpus

DSGYM = str(Path(sys.executable).with_name("dsgym"))


@pytest.mark.parametrize("given, canonical", [("all", "all"), ("ALL", "all"), (" 0, 2 ", "0,2"),
                                              ("GPU-8f2c1d3e-aaaa", "GPU-8f2c1d3e-aaaa"), (None, None)])
def test_gpus_values_are_normalised(given, canonical):
    assert gpus.normalize(given) == canonical


@pytest.mark.parametrize("bad", ["", "yes", "0,0", "0;1", "-1", "0,"])
def test_malformed_gpus_are_refused(bad):
    with pytest.raises(gpus.GpuError, match="--gpus"):
        gpus.normalize(bad)
    with pytest.raises(ValueError):
        EnvConfig(gpus=bad)


def test_device_requests_are_what_docker_run_gpus_sends():
    assert gpus.device_requests(None) == []
    (every,) = gpus.device_requests("all")
    assert every == docker.types.DeviceRequest(count=-1, capabilities=[["gpu"]])
    (some,) = gpus.device_requests("0,GPU-1a2b")
    assert some == docker.types.DeviceRequest(device_ids=["0", "GPU-1a2b"], capabilities=[["gpu"]])


def _fake_driver(folder: Path) -> dict[str, str]:
    """An ``nvidia-smi`` that lists one GPU: the host's GPU inventory is the one thing faked here."""
    folder.mkdir(exist_ok=True)
    smi = folder / "nvidia-smi"
    smi.write_text("#!/bin/sh\nif [ \"$1\" = -L ]; then\n  echo 'GPU 0: Fake GPU (UUID: GPU-00000000-fake)'\n"
                   "  echo '  MIG 1g.10gb Device 0: (UUID: MIG-11111111-fake)'\nelse\n  echo '0, GPU-00000000-fake'\nfi\n")
    smi.chmod(0o755)
    return {"PATH": f"{folder}{os.pathsep}{os.environ['PATH']}"}


def test_gpus_are_checked_against_what_the_driver_lists_mig_slices_included(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", _fake_driver(tmp_path / "bin")["PATH"])
    gpus.host_gpus.cache_clear()
    gpus.host_mig_devices.cache_clear()
    try:
        assert gpus.require("0,MIG-11111111-fake") == "0,MIG-11111111-fake"
        assert gpus.require("GPU-00000000-fake") == "GPU-00000000-fake"
        with pytest.raises(gpus.GpuError, match="no GPU 1, MIG-22222222-fake on this host; it has 0 "
                                                 r"\(GPU-00000000-fake\), MIG MIG-11111111-fake"):
            gpus.require("1,MIG-22222222-fake")
    finally:
        gpus.host_gpus.cache_clear()
        gpus.host_mig_devices.cache_clear()


@pytest.mark.skipif(bool(gpus.host_gpus()), reason="this host has GPUs")
def test_asking_a_gpu_less_host_for_gpus_fails_at_make():
    with pytest.raises(gpus.GpuError, match="no NVIDIA GPU"):
        dsgym.make("dspredict-lite", gpus="all")
    env = dsgym.make("dsgym-tasks-lite", gpus="all")  # no prediction task: no GPU asked for, nothing to check
    assert env.sandbox_spec.limits is None or env.sandbox_spec.limits.gpus is None


@pytest.mark.docker
def test_a_docker_sandbox_sends_the_gpu_request(docker_image):
    from dsgym.sandbox.docker import DockerSandbox, client

    sandbox = DockerSandbox(docker_image, Limits(gpus="all"))
    if gpus.host_gpus():  # a GPU host: the devices are there (the README's check)
        sandbox.start()
        try:
            out = sandbox.execute("import subprocess; print(subprocess.run(['nvidia-smi', '-L'], "
                                  "capture_output=True, text=True).stdout)", timeout=60)
            assert "GPU 0" in out.stdout
        finally:
            sandbox.close()
        return
    with pytest.raises(SandboxError, match=r"(?s)capabilities: \[\[gpu\]\].*NVIDIA Container Toolkit"):
        sandbox.start()
    assert not client().containers.list(all=True, filters={"label": f"dsgym.root={sandbox.root}"})


@pytest.mark.skipif(bool(gpus.host_gpus()), reason="this host has GPUs")
def test_eval_with_gpus_on_a_gpu_less_host_stops_before_the_run(tmp_path):
    out = subprocess.run([DSGYM, "eval", "dspredict-lite/wine-cultivar", "--gpus", "all", "--out",
                          str(tmp_path / "run")], capture_output=True, text=True, timeout=300)
    assert out.returncode == 2 and "no NVIDIA GPU" in out.stderr and "Container Toolkit" in out.stderr
    assert not (tmp_path / "run").exists()
    out = subprocess.run([DSGYM, "eval", "dspredict-lite/wine-cultivar", "--gpus", "0", "--sandbox", "bwrap",
                          "--out", str(tmp_path / "run")], capture_output=True, text=True, timeout=300)
    assert out.returncode == 2 and "--gpus needs the docker sandbox kind" in out.stderr


@pytest.mark.docker
@pytest.mark.skipif(bool(gpus.host_gpus()), reason="this host has GPUs")
def test_eval_records_gpus_and_gives_them_to_prediction_sandboxes_only(docker_image, tmp_path):
    env = {**os.environ, **_fake_driver(tmp_path / "bin")}
    run = tmp_path / "run"
    out = subprocess.run([DSGYM, "eval", "dsgym-tasks-lite/iris-kmeans-ari", "dspredict-lite/wine-cultivar",
                          "--gpus", "0", "--retries", "0", "--out", str(run)],
                         capture_output=True, text=True, timeout=600, env=env)
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["settings"]["env_options"]["gpus"] == "0"
    records = {r["task_id"]: r for r in map(json.loads, (run / "episodes.jsonl").read_text().splitlines())}
    assert records["iris-kmeans-ari"]["status"] == "ok" and records["iris-kmeans-ari"]["score"] == 1.0
    # the prediction task's sandbox asked the daemon for GPU 0, which this host's daemon cannot give
    assert records["wine-cultivar"]["status"] == "error", out.stderr
    assert "NVIDIA Container Toolkit" in records["wine-cultivar"]["error"]
