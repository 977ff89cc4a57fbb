"""How a long-running dsgym command stops: SIGTERM and SIGHUP are handled like Ctrl-C.

``timeout``, ``kill``, systemd, Slurm's ``scancel``, Kubernetes and CI runners stop a
process with SIGTERM, and a closed terminal sends SIGHUP.  ``install`` makes both
raise ``Terminated`` (a ``KeyboardInterrupt``) in the main thread, so each command's
Ctrl-C path runs for all three: scheduling stops, finished work is kept, the
sandboxes are removed, and the command exits with 128 + the signal.  A second
signal while that runs forces the exit at once, still removing this process's
sandboxes.  Commands that start sandboxes first ``reap`` those that processes of
this host left behind when they died.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

HANDLED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
FORCED_CLEANUP_SECONDS = 20.0  # a second signal waits at most this long for the removal of sandboxes


class Terminated(KeyboardInterrupt):
    """A stop signal (SIGINT, SIGTERM or SIGHUP) arrived; ``signum`` says which."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


_received: int | None = None  # the first signal, once one arrived
_deferring = 0  # depth of deferred() blocks in the main thread
_pending: int | None = None  # a first signal that arrived inside deferred()


def install() -> None:
    """Handle SIGINT, SIGTERM and SIGHUP as described above (from the main thread only)."""
    global _received, _pending
    if threading.current_thread() is not threading.main_thread():
        return
    _received = _pending = None
    for sig in HANDLED:
        signal.signal(sig, _on_signal)


def received() -> Terminated | None:
    """The stop signal that arrived (for code that swallows the exception, such as ``uvicorn.run``)."""
    return None if _received is None else Terminated(_received)


def exit_code(exc: BaseException) -> int:
    """128 + the signal that stopped the command (SIGINT for a plain KeyboardInterrupt)."""
    return 128 + int(getattr(exc, "signum", signal.SIGINT))


def cause(exc: BaseException) -> str:
    """``interrupted`` (Ctrl-C) or ``stopped by SIGTERM`` / ``SIGHUP``, for messages."""
    signum = int(getattr(exc, "signum", signal.SIGINT))
    return "interrupted" if signum == signal.SIGINT else f"stopped by {signal.Signals(signum).name}"


@contextmanager
def deferred() -> Iterator[None]:
    """Hold a first stop signal until the block ends, so a record being written is never cut short."""
    global _deferring, _pending
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _deferring += 1
    try:
        yield
    finally:
        _deferring -= 1
        if not _deferring and _pending is not None:
            signum, _pending = _pending, None
            raise Terminated(signum)


def reap(echo: Callable[[str], None], sandbox: str | None = None) -> int:
    """Remove this host's sandboxes whose owning process is gone (docker only); say how many."""
    if (sandbox or os.environ.get("DSGYM_SANDBOX") or "docker") != "docker":
        return 0
    from dsgym.sandbox import docker as docker_sandbox
    from dsgym.sandbox.base import SandboxError

    try:
        removed = docker_sandbox.reap_orphans()
    except SandboxError:
        return 0  # no daemon: the preflight check says so in its own words
    if removed:
        echo(f"removed {len(removed)} sandbox(es) left behind by dsgym processes of this host that are gone: "
             + " ".join(removed))
    return len(removed)


def remove_sandboxes() -> None:
    """Remove every sandbox this process holds, so work in flight on other threads ends now."""
    from dsgym.sandbox.spec import close_all

    close_all()


def _on_signal(signum: int, frame) -> None:
    global _received, _pending
    if _received is not None:
        _force_exit(signum)
    _received = signum
    if _deferring:
        _pending = signum
        return
    raise Terminated(signum)


def _force_exit(signum: int) -> None:
    """The second signal: remove this process's sandboxes (bounded in time) and exit now."""
    sys.stderr.write(f"\n{signal.Signals(signum).name} again: exiting now, removing this process's sandboxes\n")
    from dsgym.sandbox.spec import remove_all_now  # light: the kinds in use registered themselves there

    cleaner = threading.Thread(target=remove_all_now, daemon=True)
    cleaner.start()
    cleaner.join(FORCED_CLEANUP_SECONDS)
    os._exit(128 + signum)
