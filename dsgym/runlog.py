"""The one resumable run log: eval episodes, filter checks and synth stages append to it the same way.

A log is a JSONL file, one object per line, each line keyed by its content (what the
result depends on) so a rerun reuses what matches and redoes the rest.  Lines are
written by one thread at a time, one ``os.write`` of a whole line on an ``O_APPEND``
descriptor followed by ``fsync``: a process killed with SIGKILL loses at most the work
in flight and leaves at worst one torn last line, which the reader reports and the next
writer cuts off.  ``locked`` keeps two writers out of one folder.  The run-folder format
is described once, in docs/run-folder.md.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
import threading
from collections.abc import Callable, Hashable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LOCK = ".lock"


@dataclass
class LogContents:
    records: list[dict[str, Any]]
    torn_bytes: int = 0  # an incomplete last line (an interrupted write), ignored
    bad_lines: list[int] = field(default_factory=list)  # complete lines that are not JSON objects (1-based)
    good_size: int = 0  # bytes up to the end of the last complete line


def _encode(record: dict[str, Any]) -> bytes:
    return (json.dumps(record, ensure_ascii=False, default=str) + "\n").encode("utf-8", "surrogatepass")


class RunLog:
    """An append-only JSONL log of whole lines; ``key(record)`` says which result a line is (the latest wins)."""

    def __init__(self, path: str | os.PathLike[str], key: Callable[[dict[str, Any]], Hashable] | None = None):
        self.path = Path(path)
        self.key = key
        self._fd: int | None = None
        self._lock = threading.Lock()

    def read(self) -> LogContents:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return LogContents([])
        end = data.rfind(b"\n") + 1
        body, tail = data[:end], data[end:]
        contents = LogContents([], good_size=end)
        for number, line in enumerate(body.split(b"\n")[:-1], 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:
                record = None
            if isinstance(record, dict):
                contents.records.append(record)
            else:
                contents.bad_lines.append(number)
        if tail.strip():
            contents.torn_bytes = len(tail)
        return contents

    def open(self) -> LogContents:
        """Read the log, cut off a torn last line, and open it for appending."""
        contents = self.read()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        if os.fstat(fd).st_size > contents.good_size:
            os.ftruncate(fd, contents.good_size)
            os.fsync(fd)
        self._fd = fd
        fsync_dir(self.path.parent)
        return contents

    def latest(self, records: Iterable[dict[str, Any]] | None = None) -> dict[Hashable, dict[str, Any]]:
        """The last record of each key (a redone result supersedes the old line), in the order last written."""
        assert self.key is not None, "a log read by key needs key="
        return latest(self.read().records if records is None else records, self.key)

    def append(self, record: dict[str, Any]) -> None:
        data = _encode(record)
        with self._lock:
            if self._fd is None:
                self.open()
            assert self._fd is not None
            written = os.write(self._fd, data)
            while written < len(data):  # only on a full disk or a signal: the reader treats the line as torn
                written += os.write(self._fd, data[written:])
            os.fsync(self._fd)

    def rewrite(self, records: list[dict[str, Any]]) -> None:
        """Replace the whole log atomically (temp file, fsync, rename)."""
        self.close()
        atomic_write(self.path, b"".join(_encode(r) for r in records))

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


def latest(records: Iterable[dict[str, Any]],
           key: Callable[[dict[str, Any]], Hashable]) -> dict[Hashable, dict[str, Any]]:
    """The last record of each ``key`` (a redone result supersedes the old line), in the order last written."""
    out: dict[Hashable, dict[str, Any]] = {}
    for record in records:
        try:
            name = key(record)
        except (KeyError, TypeError, ValueError):
            continue  # a line of another format
        out.pop(name, None)
        out[name] = record
    return out


def atomic_write(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so a crash leaves the old file or the new one, never a mix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class RunDirError(RuntimeError):
    """The run folder cannot be used as asked (busy, other settings, not a run)."""


@contextmanager
def locked(out: Path) -> Iterator[None]:
    """Exclusive use of a run folder by this process (released on exit, also by SIGKILL)."""
    out.mkdir(parents=True, exist_ok=True)
    fd = os.open(out / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "another process"
            raise RunDirError(f"{out} is in use by {holder}; wait for it or pick another --out") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)
