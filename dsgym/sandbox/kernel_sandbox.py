"""``KernelSandbox``: what the docker, bwrap and local kinds share once their kernel is up.

Each kind starts its processes its own way, then talks to the same kernel launcher over the
same ipc sockets (``KernelSession``).  From there on a cell, its CPU accounting, the blame for
a broken sandbox and the bounded copy-out work the same, so they are written once here; a kind
says only how to sample its CPU counters (``_cpu_sample``), whom to blame (``_blame``) and
whether the process behind ``/proc/<pid>/root`` is still its own (``_still_running``).
"""

from __future__ import annotations

import os
from abc import abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING

from dsgym.sandbox import cpu
from dsgym.sandbox.base import (CopyOutError, ExecutionResult, ImageSink, Limits, PendingCell, Sandbox, SandboxError,
                                stage_files)
from dsgym.sandbox.transfer import copy_file, open_root

if TYPE_CHECKING:
    from dsgym.sandbox.kernel import KernelSession


class KernelSandbox(Sandbox):
    """A sandbox whose cells run in a ``KernelSession``; subclasses start it and set ``kernel`` and ``pid``."""

    kernel: KernelSession | None = None
    pid: int = 0  # the sandbox's first process as the host sees it (0: not started)
    limits: Limits  # kinds with CPU counters (``_cpu_sample``) set it
    _frozen: bool = False
    _cgroup: tuple[Path, Path] | None = None  # cpu.cgroup_dirs(pid), looked up once

    def put_data(self, files: dict[str, Path]) -> None:
        """Hard links into the host folder mounted read-only at ``data_dir`` (the local kind copies instead)."""
        assert self.root is not None, "start() the sandbox first"
        stage_files(files, self.root / "data", link=True)

    def execute(self, code: str, timeout: float, on_image: ImageSink | None = None) -> ExecutionResult:
        return self.execute_end(self.execute_begin(code, timeout, on_image))

    def execute_begin(self, code: str, timeout: float, on_image: ImageSink | None = None) -> PendingCell:
        if self.kernel is None:
            raise SandboxError("the sandbox is not started")
        if self._frozen:
            raise SandboxError("the sandbox is frozen (its files were being copied out); it can only be closed")
        before = self._cpu_sample()
        try:
            cell = self.kernel.send(code, timeout, on_image=on_image)
        except SandboxError as exc:
            raise self._blame(exc) from exc
        return PendingCell(self, (cell, before))

    def execute_end(self, pending: PendingCell) -> ExecutionResult:
        cell, before = pending.state
        try:
            result = self.kernel.collect(cell)
        except SandboxError as exc:
            raise self._blame(exc) from exc
        if before is not None:
            result.cpu = cpu.between(before, self._cpu_sample(), self.limits.cpus)
        return result

    def _cpu_sample(self) -> cpu.CpuSample | None:
        """The sandbox's own cgroup counters (None where it has no cgroup of its own)."""
        if self._cgroup is None:
            self._cgroup = cpu.cgroup_dirs(self.pid)
        return cpu.sample(self.pid, self._cgroup)

    @abstractmethod
    def _blame(self, exc: SandboxError) -> SandboxError:
        """``SandboxBroken`` when the sandbox's own processes are to blame for ``exc``, else ``exc``."""

    def _still_running(self) -> str | None:
        """None while ``pid`` is still the sandbox's; else why not (the pid could name another process)."""
        return None

    def copy_out(self, path: str, dest: Path, *, max_bytes: int, timeout: float = 60.0) -> int | None:
        """Copy with plain file I/O through ``/proc/<pid>/root``, the sandbox's own view of its files (its
        tmpfs included), bounded in time and size and refusing links (``dsgym.sandbox.transfer``)."""
        if self.kernel is None or not self.pid:
            raise SandboxError("the sandbox is not started")
        try:
            root = open_root(f"/proc/{self.pid}/root")
        except OSError as exc:
            raise CopyOutError("unreadable", f"the sandbox is gone: {exc}") from exc
        try:
            # the descriptor is the sandbox's only if its process still had that pid after it was opened
            if (gone := self._still_running()) is not None:
                raise CopyOutError("unreadable", gone)
            return copy_file(root, path, dest, max_bytes=max_bytes, timeout=timeout)
        finally:
            os.close(root)
