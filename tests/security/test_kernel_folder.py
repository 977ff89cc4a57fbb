"""Threat: the host follows links the sandbox planted, and host users reach into sandboxes.

Red team: a symlink in the kernel folder (``/run/dsgym``, writable inside the sandbox)
made the host's kernel client connect to a host-only unix socket: the host reaches the
folder through ``/proc/<pid>/root``, where an absolute link resolves against the host's
root.  The connection file was 0644 under 0755 folders, and sandboxes ran as uid 1000,
on many hosts a real person, who could read the key and ptrace the sandbox.

The host must open the kernel folder and its sockets without following links and
connect only to the socket it checked; the key file must be readable by the sandbox's
uid alone; sandboxes must run as a uid no host account has.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.support.helpers import python
from tests.security.probe import cell_json, is_docker

pytestmark = pytest.mark.docker
SYSTEM_PYTHON = shutil.which("python3", path="/usr/bin:/bin") or sys.executable  # runnable by any user

PLANT = """
import os, subprocess, sys
planter = '''
import os, sys, time
target, end = sys.argv[1], time.time() + 40
while time.time() < end:
    for n in range(1, 6):
        path = f"/run/dsgym/k-{n}"
        if not os.path.islink(path):
            try:
                os.unlink(path)
            except OSError:
                pass
            try:
                os.symlink(target, path)
            except OSError:
                pass
    time.sleep(0.001)
'''
# its own session: it outlives the kernel (the launcher kills only the kernel's process group)
subprocess.Popen([sys.executable, '-c', planter, TARGET], start_new_session=True,
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
import time
time.sleep(0.5)
print(sorted((name, os.readlink('/run/dsgym/' + name)) for name in os.listdir('/run/dsgym')
             if os.path.islink('/run/dsgym/' + name)))
"""


class HostOnlySocket:
    """A unix socket server on the host, in a folder the sandbox cannot see; counts connections."""

    def __init__(self, folder: Path):
        self.path = folder / "host-only.sock"
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(str(self.path))
        self.server.listen(64)
        self.server.settimeout(0.2)
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.server.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.server.close()


def test_planted_symlinks_to_a_host_socket_are_never_followed(make_env, tmp_path):
    host = HostOnlySocket(tmp_path)
    try:
        env = make_env("secret-test/sum-y", cell_timeout=60)
        env.reset(seed=0)
        obs, *_ = env.step(python(PLANT.replace("TARGET", repr(str(host.path)))))
        assert "k-1" in obs and str(host.path) in obs, obs  # the links are in place
        # the kernel dies: the host connects to its successor, with the links planted again and again
        obs, _, terminated, truncated, info = env.step(python("import os\nos._exit(1)"))
        assert host.connections == 0, f"the host connected {host.connections} time(s) to a host-only socket"
        if not (terminated or truncated):  # the host pinned the new kernel's own sockets first
            assert info["kernel_restarted"], obs
            again, *_ = env.step(python("print(6 * 7)"))
            assert again.strip() == "42", again
        else:  # it met a planted link: the agent broke its own sandbox, scored 0
            assert info["termination"] == "sandbox_broken" and "symbolic link" in obs, obs
    finally:
        host.close()


def test_the_sandbox_runs_as_a_uid_no_host_account_has(make_env):
    env = make_env("secret-test/sum-y", cell_timeout=30)
    env.reset(seed=0)
    ids, obs, _ = cell_json(env, "import os, getpass\nemit([os.getuid(), os.getgid(), getpass.getuser()])")
    uid, gid, name = ids
    sandbox = env.unwrapped.sandbox
    if not is_docker(sandbox):  # bwrap: "agent" (1000) inside a user namespace; what counts is the host uid
        assert (uid, gid, name) == (1000, 1000, "agent"), ids
        status = dict(line.split(":", 1) for line in open(f"/proc/{sandbox.pid}/status") if ":" in line)
        uid, gid = int(status["Uid"].split()[0]), int(status["Gid"].split()[0])
    if os.geteuid() != 0:  # an ordinary user's sandboxes run as that user: no other account can ptrace them
        assert (uid, gid) == (os.geteuid(), os.getegid()), ids
        return
    with pytest.raises(KeyError):
        pwd.getpwuid(uid)
    low, high = login_uid_range()
    assert not low <= uid <= high, f"uid {uid} is in the range the host gives to people ({low}-{high})"
    assert gid == uid and name == "agent", ids


@pytest.mark.skipif(os.geteuid() != 0, reason="switching to another host user needs root")
def test_other_host_users_cannot_read_the_key_or_reach_into_the_sandbox(make_env):
    env = make_env("secret-test/sum-y", cell_timeout=30)
    env.reset(seed=0)
    sandbox = env.unwrapped.sandbox
    key_file = sandbox.root / "seed" / "kernel.json"
    if is_docker(sandbox):
        info = key_file.stat()
        assert info.st_mode & 0o077 == 0 and (sandbox.root / "seed").stat().st_mode & 0o077 == 0
    else:  # bwrap writes the key into the sandbox's tmpfs from a pipe: it is never on the host's disk
        assert not (sandbox.root / "seed").exists()
    key = sandbox.kernel.connection["key"]
    # every host account with a login range uid (here: uid 1000, the image's user), and nobody
    people = sorted({entry.pw_uid for entry in pwd.getpwall() if entry.pw_uid >= 1000} | {65534})
    probe = ("import os, sys\nout = []\n"
             "for path in sys.argv[1:]:\n"
             "    try:\n"
             "        out.append(open(path, 'rb').read(64) if os.path.isfile(path) else os.listdir(path))\n"
             "    except OSError as exc:\n"
             "        out.append(type(exc).__name__)\n"
             "print(out)\n")
    targets = [str(key_file)] if is_docker(sandbox) else []
    targets += [f"/proc/{sandbox.pid}/root/run/dsgym", f"/proc/{sandbox.pid}/environ"]
    for uid in people:
        done = subprocess.run([SYSTEM_PYTHON, "-c", probe, *targets], capture_output=True, text=True,
                              timeout=30, user=uid, group=uid, extra_groups=[], cwd="/")
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == str(["PermissionError"] * len(targets)), (uid, done.stdout)
        assert key not in done.stdout


def login_uid_range() -> tuple[int, int]:
    """UID_MIN..UID_MAX from /etc/login.defs (1000..60000 by default): the uids given to people."""
    limits = {"UID_MIN": 1000, "UID_MAX": 60000}
    try:
        for line in Path("/etc/login.defs").read_text().splitlines():
            fields = line.split()
            if len(fields) == 2 and fields[0] in limits and fields[1].isdigit():
                limits[fields[0]] = int(fields[1])
    except OSError:
        pass
    return limits["UID_MIN"], limits["UID_MAX"]
