"""Threat: code that outlives its episode (background processes), and a host that hangs or dies
when the kernel is killed or the container is killed from outside.
"""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import pytest

from tests.security.probe import is_docker, kill_from_outside, sandbox_gone
from tests.support.helpers import python

pytestmark = pytest.mark.docker


def host_processes_with(marker: str) -> list[int]:
    """Pids on this host whose command line holds ``marker`` (the host sees the sandbox's processes)."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if marker.encode() in (proc / "cmdline").read_bytes():
                    found.append(int(proc.name))
            except OSError:
                continue
    return found


def test_background_processes_die_with_the_episode(make_env):
    marker = f"dsgym-bg-{uuid.uuid4().hex[:12]}"
    env = make_env("secret-test/sum-y", cell_timeout=30)
    env.reset(seed=0)
    sandbox = env.unwrapped.sandbox
    code = (
        "import os, subprocess, sys, time\n"
        f"marker = {marker!r}\n"
        "sleeper = [sys.executable, '-c', 'import time, sys; time.sleep(3600)', marker]\n"
        "subprocess.Popen(sleeper + ['popen'], start_new_session=True)\n"
        "subprocess.run(['sh', '-c', 'nohup \"$@\" >/dev/null 2>&1 &', 'sh', *sleeper, 'nohup'])\n"
        "if os.fork() == 0:  # double fork: the grandchild is re-parented to init\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        "        os.execv(sys.executable, sleeper + ['double-fork'])\n"
        "    os._exit(0)\n"
        "time.sleep(0.5)\n"
        "print('started')\n"
    )
    obs, *_ = env.step(python(code))
    assert "started" in obs, obs
    deadline = time.monotonic() + 5
    while len(host_processes_with(marker)) < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(host_processes_with(marker)) == 3, "the background processes did not start: nothing proved"

    _, _, terminated, _, _info = env.step("<answer>297</answer>")
    assert terminated
    assert sandbox_gone(sandbox), "the episode's sandbox survived its answer"
    deadline = time.monotonic() + 10
    while host_processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert host_processes_with(marker) == [], "background processes outlived their episode"


def test_killing_the_kernel_is_reported_and_a_fresh_kernel_continues(make_env):
    env = make_env("secret-test/sum-y", cell_timeout=30)
    env.reset(seed=0)
    env.step(python("lost = 1"))
    obs, _, terminated, truncated, info = env.step(python("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"))
    assert not (terminated or truncated), obs
    assert "[kernel died]" in obs and "killed" in obs, obs
    assert info["kernel_restarted"] is True and info["kernel_restarts"] == 1
    obs, _, _, _, info = env.step(python("print('lost' in dir())"))
    assert obs.strip() == "False", obs
    assert info["kernel_restarted"] is False


def test_os_exit_is_reported_and_the_kernel_is_replaced(make_env):
    env = make_env("secret-test/sum-y", cell_timeout=30)
    env.reset(seed=0)
    obs, _, _, _, info = env.step(python("gone_soon = 1"))
    assert info["kernel_restarts"] == 0
    obs, _, terminated, truncated, info = env.step(python("import os\nos._exit(1)"))
    assert not (terminated or truncated), obs
    assert "[kernel died]" in obs and "exit code 1" in obs, obs
    assert info["kernel_restarted"] is True
    assert info["kernel_restarts"] == 1

    obs, _, terminated, truncated, info = env.step(python("print('fresh' if 'gone_soon' not in dir() else 'stale')"))
    assert obs.strip() == "fresh", obs
    assert info["kernel_restarted"] is False and info["kernel_restarts"] == 1
    env.step(python("import os\nos._exit(3)"))
    obs, _, _, _, info = env.step(python("print(2 + 2)"))
    assert obs.strip() == "4" and info["kernel_restarts"] == 2, (obs, info)


def test_a_container_removed_from_outside_ends_the_episode_without_hanging(make_env):
    env = make_env("secret-test/sum-y", cell_timeout=60)
    env.reset()
    sandbox = env.unwrapped.sandbox
    if is_docker(sandbox):
        sandbox.container.remove(force=True)
    else:  # nothing removes a bwrap sandbox but killing it
        kill_from_outside(sandbox)
    start = time.monotonic()
    obs, _reward, _terminated, truncated, info = env.step(python("print(1)"))
    assert truncated and info["termination"] == "sandbox_error" and "[sandbox failed]" in obs
    assert time.monotonic() - start < 10


def test_docker_kill_mid_cell_ends_the_episode_clearly(make_env):
    env = make_env("secret-test/sum-y", cell_timeout=60)
    env.reset(seed=0)
    sandbox = env.unwrapped.sandbox
    killer = threading.Timer(1.5, kill_from_outside, (sandbox,))
    killer.start()
    start = time.monotonic()
    try:
        obs, _, _terminated, truncated, info = env.step(python("import time\ntime.sleep(50)\nprint('done')"))
    finally:
        killer.cancel()
    elapsed = time.monotonic() - start
    assert elapsed < 15, f"the host waited {elapsed:.1f} s for a killed container"
    assert truncated and info["termination"] == "sandbox_error", (obs, info)
    assert "[sandbox failed]" in obs and "killed from outside" in obs, obs
    assert env.unwrapped.sandbox is None
    assert sandbox_gone(sandbox)  # and the dead sandbox was removed


def test_docker_kill_between_cells_ends_the_episode_clearly(make_env):
    env = make_env("secret-test/sum-y", cell_timeout=60)
    env.reset(seed=0)
    env.step(python("x = 1"))
    kill_from_outside(env.unwrapped.sandbox)
    start = time.monotonic()
    obs, _, _terminated, truncated, info = env.step(python("print(x)"))
    assert time.monotonic() - start < 10
    assert truncated and info["termination"] == "sandbox_error" and "[sandbox failed]" in obs, obs
