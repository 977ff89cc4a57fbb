"""The sandbox contract shared by the Docker and local runtimes, and what a cell returns."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from dsgym.sandbox.cpu import CellCpu
from dsgym.suite_files import check_regular, real, walk_files

ImageSink = Callable[[bytes], None]
MAX_DISPLAYS = 1000  # display outputs kept per cell


class SandboxError(RuntimeError):
    """The sandbox itself failed (would not start, was killed): not the agent's code."""


class CopyOutError(SandboxError):
    """A file could not be copied out of the sandbox.

    ``reason`` is a short code: ``too_large``, ``timed_out``, ``not_a_file`` (a link,
    a folder, a FIFO) or ``unreadable`` (an I/O error, the sandbox gone).
    """

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


class SandboxBroken(SandboxError):
    """The sandbox stopped working because of what ran inside it: its init killed, the kernel's
    supervisor stopped, its state forged.  The episode's outcome (scored), not an infrastructure error."""


class CappedText:
    """Accumulates output but keeps only its head and tail, so a flood cannot exhaust memory."""

    def __init__(self, cap: int):
        self.cap = cap
        self.head: list[str] = []
        self.head_len = 0
        self.tail = ""
        self.total = 0

    def add(self, text: str) -> None:
        self.total += len(text)
        room = self.cap - self.head_len
        if room > 0:
            self.head.append(text[:room])
            self.head_len += min(room, len(text))
            text = text[room:]
        if text:
            self.tail = (self.tail + text)[-self.cap:]

    @property
    def dropped(self) -> int:
        return self.total - self.head_len - len(self.tail)

    def text(self) -> str:
        head = "".join(self.head)
        if not self.tail:
            return head
        marker = f"\n... [{self.dropped:,} characters dropped] ...\n" if self.dropped else ""
        return head + marker + self.tail

    def __str__(self) -> str:
        return self.text()


@dataclass
class KernelError:
    ename: str
    evalue: str
    traceback: str


@dataclass
class ExecutionResult:
    """Everything one cell produced, as collected from the kernel's iopub messages."""

    stdout: CappedText
    stderr: CappedText
    result: str | None = None
    displays: list[str] = field(default_factory=list)
    images: list[bytes] = field(default_factory=list)  # only when no image sink was given, and capped
    displays_dropped: int = 0  # display outputs past the cell's output cap, not kept
    displays_chars: int = 0
    images_dropped: int = 0
    error: KernelError | None = None
    timed_out: bool = False
    kernel_died: bool = False
    kernel_restarted: bool = False
    exit_code: int | None = None
    duration: float = 0.0
    cpu: CellCpu | None = None  # the CPU the cell got (sandboxes that can measure it)

    def add_display(self, text: str, cap: int) -> None:
        """Keep a display's text while all displays together stay within ``cap`` characters
        (and ``MAX_DISPLAYS`` outputs): thousands of ``display()`` calls must not fill host memory."""
        room = cap - self.displays_chars
        if room <= 0 or len(self.displays) >= MAX_DISPLAYS:
            self.displays_dropped += 1
        elif text:
            self.displays.append(text[:room])
            self.displays_chars += min(len(text), room)


@dataclass
class PendingCell:
    """A cell sent to a sandbox's kernel whose reply is not collected yet (``Sandbox.execute_begin``)."""

    sandbox: Sandbox
    state: object


@dataclass(frozen=True)
class Limits:
    """Resource limits of one sandbox.  Memory strings use Docker's units (``512m``, ``2g``)."""

    memory: str = "2g"
    cpus: float = 1.0
    pids: int = 256
    workspace_size: str = "1g"
    tmp_size: str = "256m"
    gpus: str | None = None  # "all" or device indexes/UUIDs "0,1" (docker only; dsgym.sandbox.gpus)


class Sandbox(ABC):
    """A place to run an agent's code: a live kernel, data at ``data_dir``, scratch at ``workdir``.

    A sandbox serves exactly one episode: ``start`` it, ``put_data`` the task's
    files, ``execute`` cells, ``close`` it.
    """

    data_dir: str
    workdir: str
    isolated: bool
    enforced: dict[str, str] | None = None  # which limits hold and how, where the kind says (run records)

    @abstractmethod
    def start(self, timeout: float = 60.0) -> None: ...

    @abstractmethod
    def put_data(self, files: dict[str, Path]) -> None:
        """Make ``files`` (relative path inside ``data_dir`` -> host file) visible, read-only."""

    @abstractmethod
    def execute(self, code: str, timeout: float, on_image: ImageSink | None = None) -> ExecutionResult:
        """Run one cell.  ``on_image`` receives each PNG as it arrives (none are kept in the result)."""

    def execute_begin(self, code: str, timeout: float, on_image: ImageSink | None = None) -> PendingCell:
        """Send one cell and return at once, so that several sandboxes' cells run together (a vector env's
        step); ``execute_end`` collects its result.  By default the cell runs in ``execute_end``, serially."""
        return PendingCell(self, (code, timeout, on_image))

    def execute_end(self, pending: PendingCell) -> ExecutionResult:
        """The result of a cell ``execute_begin`` sent (its time limit counts from when it was sent)."""
        code, timeout, on_image = pending.state
        return self.execute(code, timeout, on_image)

    @abstractmethod
    def freeze(self) -> None:
        """Stop every process in the sandbox, so nothing the agent started can run, write or hold up
        a copy any more.  Only copying out and ``close`` are possible afterwards."""

    @abstractmethod
    def copy_out(self, path: str, dest: Path, *, max_bytes: int, timeout: float = 60.0) -> int | None:
        """Stream the file ``path`` (inside the sandbox) to the host file ``dest``; its size, None if absent.

        Time and size are bounded on the host; a failure raises :class:`CopyOutError` and
        leaves nothing at ``dest``.
        """

    @abstractmethod
    def close(self) -> None: ...

    @property
    def kernel_restarts(self) -> int:
        """Times the sandbox's kernel was restarted (a cell that killed it); kinds keep theirs in ``kernel``."""
        kernel = getattr(self, "kernel", None)
        return kernel.restarts if kernel is not None else 0

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def stage_files(files: dict[str, Path], dest: Path, link: bool) -> None:
    """Place task files in ``dest`` under their relative paths.

    Hard links are cheap and safe behind a read-only mount; a sandbox whose code
    could write to them (``LocalSandbox``) gets read-only copies instead.  Only regular
    files are placed, each by its resolved path; a folder is walked and a symlink in it
    that leaves it is refused (``UnsafePathError``), so links cannot stage host files.
    """
    place = link_or_copy if link else _readonly_copy
    for rel, src in files.items():
        target = dest / rel
        if Path(rel).is_absolute() or ".." in Path(rel).parts:
            raise SandboxError(f"data file path must stay inside the data folder: {rel!r}")
        source = real(src)
        if source.is_dir():
            placed = [(target / sub, file) for sub, file in walk_files(source)]
            target.mkdir(parents=True, exist_ok=True)
        else:
            check_regular(source, None, f"data file {rel}")
            placed = [(target, source)]
        for path, file in placed:
            path.parent.mkdir(parents=True, exist_ok=True)
            place(str(file), str(path))


@contextlib.contextmanager
def waiting_lock(path: Path, doing: str, log: Callable[[str], None]) -> Iterator[None]:
    """An exclusive lock on ``path`` across threads and processes; a waiter says it waits for another process
    ``doing`` (an image build or a tree takes minutes: silence would look like a hang)."""
    with open(path, "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"waiting for another process {doing}")
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _readonly_copy(src: str, dst: str) -> None:
    shutil.copyfile(src, dst)
    os.chmod(dst, 0o444)
