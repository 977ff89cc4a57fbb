"""Threat: code in the sandbox writes to /data or the image, fills a disk (its own or the host's),
or tampers with the files the host reads back.
"""

from __future__ import annotations

import os
import time

import pytest

from dsgym.sandbox import Limits
from tests.support.helpers import python
from tests.security.probe import RssWatch, cell_json, is_docker, sandbox_id

pytestmark = pytest.mark.docker


def test_data_is_read_only_and_episodes_share_no_files(make_env, secret_suite):
    env = make_env("secret-test/sum-y", cell_timeout=30)
    env.reset(seed=0)
    host_file = secret_suite.tasks["sum-y"].data_paths()["numbers.csv"]
    before = host_file.read_bytes()
    first_container = sandbox_id(env.unwrapped.sandbox)

    code = (
        "import os\n"
        "outcome = {}\n"
        "for label, path, mode in [('append', '/data/numbers.csv', 'a'), ('truncate', '/data/numbers.csv', 'w'),\n"
        "                          ('create', '/data/new.txt', 'w')]:\n"
        "    try:\n"
        "        with open(path, mode) as handle:\n"
        "            handle.write('tampered')\n"
        "        outcome[label] = 'written'\n"
        "    except OSError as exc:\n"
        "        outcome[label] = type(exc).__name__ + ': ' + str(exc)\n"
        "for label, call in [('remove', lambda: os.remove('/data/numbers.csv')),\n"
        "                    ('mkdir', lambda: os.mkdir('/data/sub'))]:\n"
        "    try:\n"
        "        call()\n"
        "        outcome[label] = 'done'\n"
        "    except OSError as exc:\n"
        "        outcome[label] = type(exc).__name__ + ': ' + str(exc)\n"
        "outcome['readable'] = open('/data/numbers.csv').readline().strip()\n"
        "os.makedirs('/workspace/sub', exist_ok=True)\n"
        "for path in ['/workspace/leftover.txt', '/workspace/sub/leftover.txt', '/tmp/leftover.txt']:\n"
        "    with open(path, 'w') as handle:\n"
        "        handle.write('from episode 1')\n"
        "emit(outcome)\n"
    )
    outcome, obs, _ = cell_json(env, code)
    for label in ("append", "truncate", "create", "remove", "mkdir"):
        assert "Error" in outcome[label], f"{label} on /data was allowed: {outcome[label]}\n{obs}"
    assert "Read-only file system" in outcome["create"], outcome
    assert outcome["readable"] == "x,y"
    assert host_file.read_bytes() == before, "the task's data file on the host was modified"
    assert not (host_file.parent / "new.txt").exists()

    env.reset(seed=0)
    assert sandbox_id(env.unwrapped.sandbox) != first_container, "a new episode must get a new container"
    code = (
        "import os\n"
        "emit({'workspace': sorted(os.listdir('/workspace')),\n"
        "      'tmp_leftover': os.path.exists('/tmp/leftover.txt'),\n"
        "      'data': sorted(os.listdir('/data'))})\n"
    )
    seen, obs, _ = cell_json(env, code)
    assert seen["workspace"] == [], f"/workspace is not empty in the next episode: {seen}"
    assert seen["tmp_leftover"] is False, "/tmp survived into the next episode"
    assert seen["data"] == ["numbers.csv"]
    assert host_file.read_bytes() == before


def test_the_root_filesystem_is_read_only(make_env):
    env = make_env("secret-test/sum-y", cell_timeout=30)
    env.reset(seed=0)
    code = (
        "out = {}\n"
        "for path in ['/etc/passwd', '/etc/new', '/usr/bin/python3-evil', '/opt/dsgym/kernel_launcher.py',\n"
        "             '/var/tmp/x', '/root/x', '/home/x', '/x']:\n"
        "    try:\n"
        "        with open(path, 'a') as handle:\n"
        "            handle.write('tampered')\n"
        "        out[path] = 'written'\n"
        "    except OSError as exc:\n"
        "        out[path] = f'{type(exc).__name__}: {exc}'\n"
        "emit(out)\n"
    )
    out, _obs, _ = cell_json(env, code)
    for path, outcome in out.items():
        assert outcome != "written", f"{path} was writable"
        assert "Read-only file system" in outcome or "Permission denied" in outcome, (path, outcome)
    if is_docker(env.unwrapped.sandbox):
        container = env.unwrapped.sandbox.container
        container.reload()
        assert container.attrs["HostConfig"]["ReadonlyRootfs"] is True


def test_filling_workspace_and_tmp_stops_at_their_caps(make_env):
    env = make_env("secret-test/sum-y", cell_timeout=60, limits=Limits(workspace_size="48m", tmp_size="24m"))
    env.reset(seed=0)
    for folder, cap_mb in (("/workspace", 48), ("/tmp", 24)):
        fill = (
            f"block = b'\\0' * (1 << 20)\n"
            f"with open('{folder}/fill.bin', 'wb') as handle:\n"
            "    for _ in range(10_000):\n"
            "        handle.write(block)\n"
            "        handle.flush()\n"
        )
        obs, _, terminated, truncated, info = env.step(python(fill))
        assert not (terminated or truncated), obs
        # The agent sees ENOSPC in its observation, clearly.
        assert "No space left on device" in obs and "Errno 28" in obs, obs
        assert info["kernel_restarted"] is False
        size, obs, _ = cell_json(env, f"import os\nemit(os.path.getsize('{folder}/fill.bin'))")
        assert (cap_mb - 4) << 20 <= size <= cap_mb << 20, f"{folder} held {size} bytes with a {cap_mb} MB cap"
        # The episode goes on: freeing the space makes the folder writable again.
        freed, obs, _ = cell_json(env, (
            f"import os\nos.remove('{folder}/fill.bin')\n"
            f"open('{folder}/after.txt', 'w').write('ok')\n"
            f"emit(open('{folder}/after.txt').read())\n"))
        assert freed == "ok", obs


def test_the_container_log_cannot_fill_the_host_disk(make_env):
    """Every process in the sandbox shares one uid, so code can write to init's stdout (/proc/1/fd/1),
    which the daemon stores on the host's disk.  That log is capped (product fix: log_config).
    bwrap: init's output goes to a file in the sandbox's own size-capped /tmp, never the host's disk."""
    env = make_env("secret-test/sum-y", cell_timeout=60)
    env.reset(seed=0)
    sandbox = env.unwrapped.sandbox
    if not is_docker(sandbox):
        before = du(sandbox.root)
        written, _obs, _ = cell_json(env, (
            "import os\nfd = os.open('/proc/1/fd/1', os.O_WRONLY)\n"
            "for _ in range(64):\n    os.write(fd, b'y' * (1 << 19) + b'\\n')\n"
            "emit(64 * ((1 << 19) + 1))\n"))
        assert written > 30 << 20
        assert du(sandbox.root) - before < 1 << 16, "init's output landed in the sandbox's host folder"
        return
    container = sandbox.container
    container.reload()
    config = container.attrs["HostConfig"]["LogConfig"]
    assert config["Type"] == "json-file" and config["Config"].get("max-size") == "1m", config
    written, _obs, _ = cell_json(env, (
        "import os\nfd = os.open('/proc/1/fd/1', os.O_WRONLY)\n"
        "for _ in range(64):\n    os.write(fd, b'y' * (1 << 19) + b'\\n')\n"
        "emit(64 * ((1 << 19) + 1))\n"))
    assert written > 30 << 20
    log_path = container.attrs["LogPath"]
    if os.access(log_path, os.R_OK):  # the daemon's files are readable when the tests run as root
        time.sleep(0.5)
        assert os.path.getsize(log_path) < 3 << 20, f"the container log grew to {os.path.getsize(log_path)} bytes"


def du(path) -> int:
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files
               if os.path.isfile(os.path.join(d, f)))


def test_the_kernel_folder_cannot_fill_the_host_disk(make_env):
    """/run/dsgym (the kernel's sockets and state) is writable by sandbox code; it is a 1 MB tmpfs
    inside the container, so nothing written there reaches the host's disk."""
    env = make_env("secret-test/sum-y", cell_timeout=60)
    env.reset(seed=0)
    sandbox = env.unwrapped.sandbox
    host_before = du(sandbox.root)
    result, obs, _ = cell_json(env, (
        "import os\nwritten = 0\n"
        "try:\n"
        "    with open('/run/dsgym/filler', 'wb') as handle:\n"
        "        for _ in range(64):\n"
        "            handle.write(b'z' * (1 << 20)); handle.flush(); written += 1 << 20\n"
        "    error = None\n"
        "except OSError as exc:\n"
        "    error = exc.errno\n"
        "emit({'written': written, 'error': error, 'mount': [l for l in open('/proc/mounts') "
        "if ' /run/dsgym ' in l]})\n"))
    assert result["error"] == 28 and result["written"] <= 1 << 20, result  # ENOSPC at the cap
    assert result["mount"] and result["mount"][0].split()[2] == "tmpfs", result
    assert du(sandbox.root) - host_before < 1 << 16  # nothing landed in the sandbox's host folder
    obs, *_ = env.step(python("import os\nos.remove('/run/dsgym/filler')\nprint(6 * 7)"))
    assert obs.strip() == "42", obs


@pytest.mark.parametrize("forgery", ["symlink-to-dev-zero", "fifo", "huge-file"])
def test_a_forged_state_file_neither_hangs_nor_floods_the_host(make_env, forgery):
    """The host polls state.json in the writable connection directory; sandbox code can replace it.
    Before the fix a symlink to /dev/zero made the host read forever and a FIFO made it block."""
    env = make_env("secret-test/sum-y", cell_timeout=30)
    env.reset(seed=0)
    forge = {
        "symlink-to-dev-zero": "os.symlink('/dev/zero', tmp)",
        "fifo": "os.mkfifo(tmp)",
        "huge-file": "open(tmp, 'wb').truncate(256 << 20)",  # sparse: no real disk used
    }[forgery]
    code = (
        "import os, time\n"
        "state = '/run/dsgym/state.json'\n"
        "real = open(state).read()\n"
        "tmp = '/run/dsgym/forged'\n"
        f"{forge}\n"
        "os.replace(tmp, state)\n"
        "time.sleep(1.5)\n"
        "with open(state + '.mine', 'w') as handle:\n"
        "    handle.write(real)\n"
        "os.replace(state + '.mine', state)\n"
        "print('restored')\n"
    )
    start = time.monotonic()
    with RssWatch() as rss:
        obs, _, terminated, truncated, _info = env.step(python(code))
    assert time.monotonic() - start < 25, "the host hung on a forged state file"
    assert rss.growth < 200, f"the host's memory grew by {rss.growth} MB"
    assert not (terminated or truncated), obs
    obs, *_ = env.step(python("print(6 * 7)"))
    assert obs.strip() == "42", obs
