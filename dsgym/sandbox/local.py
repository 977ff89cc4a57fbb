"""A kernel in a local subprocess: for development on machines without Docker.

It is NOT isolated: agent code runs as you, with your network and your files.
It uses the same launcher, wire protocol and limits on cell time as the Docker
sandbox, so an episode behaves the same apart from isolation.  It is only ever
used when asked for (``sandbox="local"`` or ``DSGYM_SANDBOX=local``).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from dsgym.sandbox.base import CopyOutError, SandboxBroken, SandboxError, stage_files
from dsgym.sandbox.kernel import KernelSession, write_connection_file
from dsgym.sandbox.kernel_sandbox import KernelSandbox
from dsgym.sandbox.transfer import copy_file, open_root

if TYPE_CHECKING:
    from dsgym.sandbox.spec import SandboxSpec


class NotIsolatedWarning(UserWarning):
    """Agent code is running on the host without a sandbox."""


class LocalSandbox(KernelSandbox):
    isolated = False

    def __init__(self) -> None:
        warnings.warn("LocalSandbox runs agent code on this machine without any isolation",
                      NotIsolatedWarning, stacklevel=2)
        self.root = Path(tempfile.mkdtemp(prefix="dsgym-local-"))
        self.data_dir = str(self.root / "data")
        self.workdir = str(self.root / "workspace")
        self.proc: subprocess.Popen | None = None
        self.kernel: KernelSession | None = None
        self._frozen = False

    def start(self, timeout: float = 60.0) -> None:
        import importlib.util

        from dsgym.extras import hint

        if importlib.util.find_spec("ipykernel") is None:  # an extra: only this sandbox kind runs a kernel here
            raise SandboxError(hint("ipykernel", "the local sandbox (its kernel runs in this Python environment)"))
        conn = self.root / "conn"
        for path in (conn, Path(self.data_dir), Path(self.workdir)):
            path.mkdir(parents=True, exist_ok=True)
        connection = write_connection_file(conn, str(conn))
        launcher = resources.files("dsgym.sandboxes") / "kernel_launcher.py"
        env = {**os.environ, "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
        with open(self.root / "launcher.log", "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, str(launcher), str(conn), self.workdir],
                start_new_session=True, env=env, stdout=log, stderr=subprocess.STDOUT,
            )
        self.kernel = KernelSession(conn, connection, self._is_up, self._kill_kernel, pins_parent=self.root)
        try:
            self.kernel.wait_ready(timeout)
        except SandboxError:
            self.close()
            raise

    def put_data(self, files: dict[str, Path]) -> None:
        stage_files(files, Path(self.data_dir), link=False)

    def _cpu_sample(self) -> None:
        return None  # the kernel shares this machine's accounting: no counters of its own

    def _blame(self, exc: SandboxError) -> SandboxBroken:
        # Nothing but this process and the sandbox's own code touch the launcher: if it is gone
        # or its kernel no longer answers, the code that ran in it did that.
        status = self.proc.poll() if self.proc is not None else None
        how = f"its kernel launcher exited ({status})" if status is not None else "its kernel stopped answering"
        return SandboxBroken(f"the sandbox's own processes broke it: {how} ({exc})")

    def freeze(self) -> None:
        """Stop the launcher's and the kernel's process groups (a process that left them keeps running: not
        isolated)."""
        self._frozen = True
        if self._is_up():
            os.killpg(self.proc.pid, signal.SIGSTOP)
            if (group := self._kernel_group()) is not None:
                _signal_group(group, signal.SIGSTOP)

    def _kernel_group(self) -> int | None:
        """The kernel's process group (the launcher starts it in a session of its own), while it is this
        sandbox's: its pid from the launcher's state, checked against its command line (pids are reused)."""
        pid = self.kernel.state().get("pid") if self.kernel is not None else None
        if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
            return None
        try:
            ours = str(self.root).encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return None
        return pid if ours else None

    def copy_out(self, path: str, dest: Path, *, max_bytes: int, timeout: float = 60.0) -> int | None:
        """The same bounded, link-refusing copy as the Docker sandbox, rooted at this sandbox's folder."""
        try:
            inside = Path(path).relative_to(self.root)
        except ValueError:
            raise CopyOutError("not_a_file", f"{path} is outside the sandbox's folder {self.root}") from None
        root = open_root(self.root)
        try:
            return copy_file(root, str(inside), dest, max_bytes=max_bytes, timeout=timeout)
        finally:
            os.close(root)

    def close(self) -> None:
        # the kernel runs in a group of its own: a launcher killed outright (frozen) would leave it running
        kernel_group = self._kernel_group()
        if self.kernel is not None:
            self.kernel.close()
            self.kernel = None
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL if self._frozen else signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if kernel_group is not None:
            _signal_group(kernel_group, signal.SIGKILL)
        shutil.rmtree(self.root, ignore_errors=True)

    def _is_up(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _kill_kernel(self) -> None:
        if self._is_up():
            os.kill(self.proc.pid, signal.SIGUSR1)


def build(spec: SandboxSpec) -> Callable[[], LocalSandbox]:
    """The ``local`` sandbox kind (``dsgym.sandbox.spec``): a kernel on this machine, no isolation."""
    return LocalSandbox


def _signal_group(group: int, sig: int) -> None:
    try:
        os.killpg(group, sig)
    except ProcessLookupError:
        pass  # it ended meanwhile
