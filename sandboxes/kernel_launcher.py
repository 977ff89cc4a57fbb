"""Keeps one ipykernel alive inside a sandbox and tells the host about each (re)start.

The host cannot watch a process inside a ``--network none`` container, so this
supervisor writes ``state.json`` into the shared connection directory each time
it starts a kernel (a new ``generation``) and after the kernel dies (its exit
code).  A dead kernel is replaced at once, so an ``os._exit`` or an OOM kill costs
the agent its variables, never the episode.

SIGUSR1 kills the current kernel and all it spawned (the host's escalation when
an interrupt does not stop a cell); SIGTERM kills it and exits.

In a Docker sandbox it is the container's PID 1 (no separate init), for two reasons:
it reaps every orphaned process, and it holds the sandbox's lease.  The host renews
the lease by touching a file on a mount only the host can write; when no renewal
is seen for the lease's seconds (the owner was SIGKILLed, crashed, or its node
vanished) this process exits, which stops the container, and the daemon removes
it.  Code in the sandbox runs as the same user but cannot stop or kill PID 1
(the kernel drops SIGKILL and SIGSTOP sent to a namespace's init from inside it),
and signals it can send (SIGTERM, SIGINT) end the sandbox, never prolong it.

Standard library only: it also runs outside the image (``LocalSandbox``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path


# Run in the kernel at start: DataFrames and Series display as compact text.
STARTUP = """
def _dsgym_setup():
    def compact(obj, printer, cycle):
        import pandas as pd
        with pd.option_context("display.max_rows", 20, "display.min_rows", 10,
                               "display.max_columns", 20, "display.width", 120,
                               "display.max_colwidth", 60):
            printer.text(repr(obj))
    formatter = get_ipython().display_formatter.formatters["text/plain"]
    formatter.for_type_by_name("pandas.core.frame", "DataFrame", compact)
    formatter.for_type_by_name("pandas.core.series", "Series", compact)
_dsgym_setup()
del _dsgym_setup
"""


# Caches filled while the image was built (sandboxes/warm_caches.py), read-only in the image,
# and the variable naming where each lives at run time (a writable tmpfs folder).
WARM_ENV = "DSGYM_WARM_CACHE"
WARM_TARGETS = {"numba": "NUMBA_CACHE_DIR", "matplotlib": "MPLCONFIGDIR"}


def seed_caches(environ=os.environ) -> int:
    """Mirror the image's warm caches into the writable folders the kernel will use; return files placed.

    numba wants a writable cache folder (it checks before it reads), so its read-only entries
    are symlinked: reading follows the link, and numba replaces a file it rewrites (a
    rename), never writes through the link.  Other caches are small and are copied.
    A file that is already there is left alone.
    """
    root = environ.get(WARM_ENV)
    if not root or not os.path.isdir(root):
        return 0
    placed = 0
    for name, variable in WARM_TARGETS.items():
        source, target = Path(root) / name, environ.get(variable)
        if not target or not source.is_dir():
            continue
        for folder, _, files in os.walk(source):
            here = Path(target) / Path(folder).relative_to(source)
            here.mkdir(parents=True, exist_ok=True)
            for file in files:
                dest = here / file
                if dest.exists() or dest.is_symlink():
                    continue
                try:
                    if name == "numba":
                        dest.symlink_to(Path(folder) / file)
                    else:
                        dest.write_bytes((Path(folder) / file).read_bytes())
                    placed += 1
                except OSError:
                    pass  # a full /tmp: that entry is compiled or built again on use
    return placed


def write_state(conn_dir: Path, state: dict) -> None:
    tmp = conn_dir / "state.json.tmp"
    tmp.write_text(json.dumps(state))
    os.replace(tmp, conn_dir / "state.json")


def prefer_as_oom_victim() -> None:
    """Run in the kernel child: the OOM killer should pick the kernel, not us."""
    try:
        Path("/proc/self/oom_score_adj").write_text("1000")
    except OSError:
        pass


def kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


class Lease:
    """The host's renewals of this sandbox, seen as changes of one file's mtime.

    The file holds the lease's length in seconds.  Time is measured on this process's
    monotonic clock from the last change seen, so a host clock step neither ends nor
    extends a lease.  A file that vanishes (the host removed the sandbox's folder)
    is never renewed again.
    """

    def __init__(self, path: Path, default: float = 60.0):
        self.path = path
        try:
            self.seconds = max(1.0, float(path.read_text().strip()))
        except (OSError, ValueError):
            self.seconds = default
        self.seen = self._stamp()
        self.renewed = time.monotonic()

    def _stamp(self) -> tuple[int, int] | None:
        try:
            stat = os.stat(self.path)
        except OSError:
            return None
        return stat.st_mtime_ns, stat.st_ino

    def lapsed(self) -> bool:
        stamp, now = self._stamp(), time.monotonic()
        if stamp is not None and stamp != self.seen:
            self.seen, self.renewed = stamp, now
        return now - self.renewed > self.seconds

    def poll_interval(self) -> float:
        return min(1.0, self.seconds / 4)


def unblock_children_signals() -> None:
    """Run in the kernel child: the launcher blocks SIGCHLD (it waits with sigtimedwait)."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
    prefer_as_oom_victim()


def wait_for(kernel: subprocess.Popen, lease: Lease | None) -> int | None:
    """Reap children (orphans re-parented to us too) until the kernel exits; None when the lease lapses."""
    while True:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                pid, status = kernel.pid, 0  # pragma: no cover - the kernel was reaped elsewhere
            if pid == 0:
                break
            if pid == kernel.pid:
                kernel.returncode = os.waitstatus_to_exitcode(status)
                return kernel.returncode
        if lease is not None and lease.lapsed():
            return None
        signal.sigtimedwait({signal.SIGCHLD}, lease.poll_interval() if lease else 1.0)


def main(conn_dir: Path, workdir: Path, lease: Lease | None = None) -> int:
    stopping = False
    current: subprocess.Popen | None = None

    def on_term(signum, frame):
        nonlocal stopping
        stopping = True
        if current is not None:
            kill_group(current)

    def on_kill_kernel(signum, frame):
        if current is not None:
            kill_group(current)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    signal.signal(signal.SIGUSR1, on_kill_kernel)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})

    seed_caches()
    startup = conn_dir / "startup.py"
    startup.write_text(STARTUP)
    cmd = [sys.executable, "-m", "ipykernel_launcher", "-f", str(conn_dir / "kernel.json"),
           "--HistoryManager.enabled=False", f"--IPKernelApp.exec_files={startup}"]
    generation = 0
    last_exit = None
    while not stopping:
        generation += 1
        started = time.time()
        current = subprocess.Popen(
            cmd, cwd=workdir, start_new_session=True, preexec_fn=unblock_children_signals
        )
        write_state(conn_dir, {"generation": generation, "pid": current.pid, "alive": True,
                               "last_exit": last_exit, "started": started})
        last_exit = wait_for(current, lease)
        kill_group(current)  # whatever the kernel left running dies with it
        if last_exit is None:
            write_state(conn_dir, {"generation": generation, "pid": current.pid, "alive": False,
                                   "last_exit": None, "started": started, "lease_lapsed": True})
            print(f"dsgym: the sandbox's lease lapsed (no renewal from its owner for {lease.seconds:g} s); "
                  "stopping", file=sys.stderr, flush=True)
            return 0
        write_state(conn_dir, {"generation": generation, "pid": current.pid, "alive": False,
                               "last_exit": last_exit, "started": started})
        if time.time() - started < 1.0:
            time.sleep(0.2)  # do not spin if the kernel cannot start at all
    return 0


if __name__ == "__main__":
    conn = Path(sys.argv[1] if len(sys.argv) > 1 else "/run/dsgym")
    work = Path(sys.argv[2] if len(sys.argv) > 2 else "/workspace")
    sys.exit(main(conn, work, Lease(Path(sys.argv[3])) if len(sys.argv) > 3 else None))
