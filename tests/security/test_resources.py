"""Threat: code in the sandbox exhausts host memory, CPU or pids (fork bomb, memory bomb, spinning
threads and subprocesses), or runs past its cell timeout.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from dsgym.sandbox import Limits
from tests.support.helpers import python
from tests.security.probe import cell_json, is_docker, kind_cannot

pytestmark = pytest.mark.docker


def test_memory_blowup_kills_only_the_kernel(make_env):
    env = make_env("secret-test/sum-y", cell_timeout=60, limits=Limits(memory="256m"))
    env.reset(seed=0)
    sandbox = env.unwrapped.sandbox
    if not is_docker(sandbox) and not sandbox.enforced["memory"].startswith("cgroup"):
        kind_cannot("bwrap", ("bwrap",), "without a writable cgroup bwrap limits memory by RLIMIT_AS per "
                    "process: an allocation past it fails with MemoryError instead of an OOM kill")
    obs, *_ = env.step(python("before = 'still here'\nprint(before)"))
    assert "still here" in obs

    t0 = time.monotonic()
    obs, _, terminated, truncated, info = env.step(python(
        "blocks = []\nwhile True:\n    blocks.append(b'\\x01' * (16 << 20))"))
    assert not (terminated or truncated), obs
    assert "[kernel died]" in obs, obs
    assert "out of memory" in obs, obs
    assert info["kernel_restarted"] is True and info["kernel_restarts"] == 1
    assert time.monotonic() - t0 < 45

    # The host is fine and so is the container: the next cell runs in a fresh kernel.
    assert subprocess.run(["true"], timeout=10).returncode == 0
    if is_docker(sandbox):
        sandbox.container.reload()
        assert sandbox.container.status == "running"
    else:
        assert sandbox.proc.poll() is None
    obs, _, _, _, info = env.step(python("print(before)"))
    assert "NameError" in obs, obs
    assert info["kernel_restarted"] is False
    obs, *_ = env.step(python("print(6 * 7)"))
    assert obs.strip() == "42", obs


def test_infinite_loop_is_interrupted_and_the_kernel_survives(make_env):
    env = make_env("secret-test/sum-y", cell_timeout=2)
    env.reset(seed=0)
    env.step(python("kept = 41"))
    t0 = time.monotonic()
    obs, _, terminated, truncated, info = env.step(python("while True:\n    pass"))
    elapsed = time.monotonic() - t0
    assert not (terminated or truncated), obs
    assert "[timeout]" in obs, obs
    assert "[kernel died]" not in obs, obs
    assert info["timed_out"] is True and info["kernel_restarted"] is False
    assert 1.9 <= elapsed < 6, f"the loop was stopped after {elapsed:.1f} s"
    obs, _, _, _, info = env.step(python("print(kept + 1)"))
    assert obs.strip() == "42", obs
    assert info["timed_out"] is False and info["kernel_restarts"] == 0


def test_fork_bomb_is_contained_by_the_pids_limit(make_env):
    pids = 64
    env = make_env("secret-test/sum-y", cell_timeout=30, limits=Limits(pids=pids))
    env.reset(seed=0)
    code = (
        "import os, signal, subprocess, time\n"
        "cg = '/sys/fs/cgroup/pids/'\n"
        "if not os.path.exists(cg + 'pids.current'):\n"
        "    cg = '/sys/fs/cgroup/'  # cgroup v2\n"
        "def current():\n"
        "    if not os.path.exists(cg):  # bwrap: no /sys; its PID namespace holds only the sandbox's tasks\n"
        "        return sum(len(os.listdir(f'/proc/{p}/task')) for p in os.listdir('/proc') if p.isdigit()\n"
        "                   and os.path.exists(f'/proc/{p}/task'))\n"
        "    return int(open(cg + 'pids.current').read())\n"
        "limit = open(cg + 'pids.max').read().strip() if os.path.exists(cg) else None\n"
        "idle = current()\n"
        "bomb = subprocess.Popen(['bash', '-c', ':(){ :|:& };:'], start_new_session=True,\n"
        "                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
        "peak, end = 0, time.monotonic() + 3\n"
        "while time.monotonic() < end:\n"
        "    peak = max(peak, current())\n"
        "    time.sleep(0.05)\n"
        "for _ in range(40):\n"
        "    try:\n"
        "        os.killpg(bomb.pid, signal.SIGKILL)\n"
        "    except ProcessLookupError:\n"
        "        break\n"
        "    time.sleep(0.05)\n"
        "bomb.wait(timeout=10)\n"
        "for _ in range(100):\n"
        "    try:\n"
        "        os.killpg(bomb.pid, signal.SIGKILL)\n"
        "    except ProcessLookupError:\n"
        "        break\n"
        "    time.sleep(0.05)\n"
        "time.sleep(0.2)\n"
        "emit({'limit': limit, 'idle': idle, 'peak': peak, 'after': current()})\n"
    )
    seen, obs, info = cell_json(env, code)
    sandbox = env.unwrapped.sandbox
    if is_docker(sandbox):
        assert seen["limit"] == str(pids), seen
    else:  # bwrap: the limit as the host set it (a cgroup's pids.max, else RLIMIT_NPROC)
        assert seen["limit"] is None and (f"pids.max={pids}" in sandbox.enforced["pids"]
                                          or f": {pids} tasks on top of" in sandbox.enforced["pids"]), sandbox.enforced
    assert seen["peak"] <= pids, f"the fork bomb went past the pids limit: {seen}"
    assert seen["peak"] >= pids - 8, f"the fork bomb never got near the limit, so it proved nothing: {seen}"
    assert seen["after"] <= seen["idle"] + 2, f"bomb processes survived killpg: {seen}"
    assert info["kernel_restarted"] is False

    # The host can still start processes and the kernel still answers.
    assert subprocess.run(["true"], timeout=10).returncode == 0
    obs, *_ = env.step(python("print('still answering')"))
    assert obs.strip() == "still answering", obs


def cpu_usage_ns(container) -> int:
    """The container's total CPU time (cgroup v1 cpuacct), read on the host or else through exec."""
    if hasattr(container, "cgroup"):  # a bwrap sandbox: its own cgroup
        return int((container.cgroup.folders["cpuacct"] / "cpuacct.usage").read_text())
    host = Path(f"/sys/fs/cgroup/cpuacct/docker/{container.id}/cpuacct.usage")
    if host.is_file():
        return int(host.read_text())
    result = container.exec_run(["cat", "/sys/fs/cgroup/cpuacct/cpuacct.usage"])
    assert result.exit_code == 0, result.output
    return int(result.output)


def test_cpu_spin_in_threads_and_subprocesses_is_capped(make_env):
    env = make_env("secret-test/sum-y", cell_timeout=3, limits=Limits(cpus=1.0))
    env.reset(seed=0)
    sandbox = env.unwrapped.sandbox
    container = sandbox.container if is_docker(sandbox) else sandbox
    if is_docker(sandbox):
        container.reload()
        assert container.attrs["HostConfig"]["NanoCpus"] == 1_000_000_000
    elif "cpuacct" not in container.cgroup.folders or not container.enforced["cpus"].startswith("cgroup"):
        kind_cannot("bwrap", ("bwrap",), "without a writable cgroup (an ordinary user on cgroup v1, or no "
                    "delegated v2 folder) nothing limits a bwrap sandbox's CPU share")
    spin = (
        "import hashlib, subprocess, sys, threading\n"
        "spinners = [subprocess.Popen([sys.executable, '-c', 'while True: pass']) for _ in range(3)]\n"
        "def hash_forever():\n"
        "    block = b'x' * (16 << 20)\n"
        "    while True:\n"
        "        hashlib.sha256(block).digest()  # releases the GIL: real parallel threads\n"
        "for _ in range(3):\n"
        "    threading.Thread(target=hash_forever, daemon=True).start()\n"
        "while True:\n"
        "    pass\n"
    )
    t0 = time.monotonic()
    obs, _, terminated, truncated, info = env.step(python(spin))
    assert not (terminated or truncated), obs
    assert "[timeout]" in obs and info["timed_out"] is True, obs  # the cell is interrupted at its limit
    assert time.monotonic() - t0 < 15
    # Six busy workers keep spinning after the interrupt; the container still gets one CPU's worth.
    before, start = cpu_usage_ns(container), time.monotonic()
    time.sleep(3)
    used = (cpu_usage_ns(container) - before) / 1e9 / (time.monotonic() - start)
    assert used > 0.5, f"the spinners used only {used:.2f} CPUs: the probe proved nothing"
    assert used < 1.35, f"the container used {used:.2f} CPUs with a 1-CPU limit"
    obs, *_ = env.step(python("print('still answering')"))
    assert "still answering" in obs, obs
