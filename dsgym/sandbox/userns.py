"""Run a command as root of a new user namespace whose other ids are the caller's subordinate ids.

    python -m dsgym.sandbox.userns -- COMMAND [ARG...]

Inside, uid and gid 0 are the caller's own, and 1..65535 the first 65535 of its ranges in
``/etc/subuid`` and ``/etc/subgid``, so that ``chown`` to an image's users works as in Docker and
whatever was the caller's stays the caller's.  It is what util-linux 2.38's ``unshare --map-auto
--map-root-user`` does, for hosts whose util-linux is older (Ubuntu 22.04, RHEL 9): a child
unshares its user namespace and waits while this process, outside, maps its ids with the
set-user-ID helpers ``newuidmap`` and ``newgidmap`` (package uidmap); the child then execs the
command, and this process exits with its status.
"""

from __future__ import annotations

import ctypes
import os
import pwd
import signal
import subprocess
import sys
from pathlib import Path

CLONE_NEWUSER = 0x10000000
PR_SET_PDEATHSIG = 1
MAPPED = 65535  # ids 1..65535: every id a Debian image gives its users and groups (nobody is 65534)


def subordinate_range(file: Path, user: str, uid: int) -> tuple[int, int] | None:
    """The first range (start, count) ``file`` gives ``user`` (by name or uid) holding ``MAPPED`` ids."""
    try:
        lines = file.read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        parts = line.strip().split(":")
        if (len(parts) == 3 and parts[0] in (user, str(uid)) and parts[1].isdigit() and parts[2].isdigit()
                and int(parts[2]) >= MAPPED):
            return int(parts[1]), int(parts[2])
    return None


def die_with(parent: int) -> None:
    """SIGKILL this process when ``parent`` ends (Linux's parent-death signal, kept across exec)."""
    if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL) != 0 or os.getppid() != parent:
        os._exit(125)  # no such guard, or the parent is already gone


def run(argv: list[str]) -> int:
    """Run ``argv`` in the mapped namespace; its exit status (128 + the signal that ended it)."""
    user = pwd.getpwuid(os.getuid()).pw_name
    ranges = [subordinate_range(Path(f"/etc/sub{kind}"), user, os.getuid()) for kind in ("uid", "gid")]
    if None in ranges:
        print(f"userns: /etc/subuid and /etc/subgid must give {user} a range of {MAPPED} ids", file=sys.stderr)
        return 125
    die_with(os.getppid())  # a SIGKILLed builder takes its running step with it (its lock is then free)
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:  # the child: unshare, say so, wait for its map, become the command
        die_with(parent)
        os.close(ready_r)
        os.close(go_w)
        if ctypes.CDLL(None, use_errno=True).unshare(CLONE_NEWUSER) != 0:
            os.write(2, f"userns: cannot create a user namespace: {os.strerror(ctypes.get_errno())}\n".encode())
            os._exit(125)
        os.write(ready_w, b"1")
        if os.read(go_r, 1) != b"1":
            os._exit(125)
        try:
            os.execvp(argv[0], argv)
        except OSError as exc:
            os.write(2, f"userns: {argv[0]}: {exc.strerror}\n".encode())
            os._exit(127)
    os.close(ready_w)
    os.close(go_r)
    if os.read(ready_r, 1) == b"1":
        for tool, own, (start, _) in (("newuidmap", os.getuid(), ranges[0]), ("newgidmap", os.getgid(), ranges[1])):
            mapped = subprocess.run([tool, str(pid), "0", str(own), "1", "1", str(start), str(MAPPED)],
                                    check=False, capture_output=True, text=True)
            if mapped.returncode != 0:
                print(f"userns: {tool} failed: {mapped.stderr.strip()}", file=sys.stderr)
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                return 125
        os.write(go_w, b"1")
    os.close(go_w)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


if __name__ == "__main__":
    args = sys.argv[1:]
    if args[:1] == ["--"]:
        args = args[1:]
    if not args:
        sys.exit(__doc__)
    sys.exit(run(args))
