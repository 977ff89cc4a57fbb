"""Copying one file out of a sandbox's file tree onto the host: streamed, capped, bounded in time.

The sandbox's tree is reached from the host (a container's ``/proc/<pid>/root``, a
local sandbox's folder), so the copy is plain file I/O through one reused buffer:
linear in the file's size, memory bounded by the buffer, no second copy in memory.
Everything on the sandbox side is written by the agent, so the copy trusts none of it:
no component of the path may be a symbolic link (a link could point at a host file),
the file must be a regular file (a FIFO would block, a device would never end), the
cap is checked against the file's size before reading and again while reading (a
process may still be appending), and a wall-clock bound is checked at every chunk.
The host file appears whole under its name or not at all.
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
import time
from pathlib import Path, PurePosixPath

from dsgym.sandbox.base import CopyOutError

CHUNK_BYTES = 1 << 20


def open_root(root: str | Path) -> int:
    """A descriptor of the sandbox's tree (``/proc/<pid>/root`` is followed: that is the point)."""
    try:
        return os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        raise CopyOutError("unreadable", f"the sandbox's files cannot be reached ({exc.strerror})") from exc


def copy_file(root: int, path: str, dest: Path, *, max_bytes: int, timeout: float) -> int | None:
    """Copy ``path`` (inside the tree whose descriptor is ``root``) to the host file ``dest``; its size,
    or None if absent.

    Raises :class:`CopyOutError` with ``reason`` ``too_large`` (past ``max_bytes``),
    ``timed_out`` (past ``timeout`` seconds), ``not_a_file`` (a link, a folder, a FIFO)
    or ``unreadable`` (an I/O error, the sandbox gone); ``dest`` is then left untouched.
    """
    deadline = time.monotonic() + timeout
    source = _open_inside(root, path)
    if source is None:
        return None
    try:
        info = os.fstat(source)
        if not stat.S_ISREG(info.st_mode):
            raise CopyOutError("not_a_file", f"{path} is not a regular file")
        if info.st_size > max_bytes:
            raise CopyOutError("too_large", f"{path} holds {info.st_size:,} bytes, past the "
                                            f"{max_bytes:,}-byte limit")
        return _stream(source, path, dest, max_bytes, deadline, timeout)
    finally:
        os.close(source)


def _open_inside(root: int, path: str) -> int | None:
    """A read descriptor for ``path`` under ``root``, refusing links at every step; None if absent."""
    parts = [p for p in PurePosixPath(path).parts if p != "/"]
    if not parts or any(p in (".", "..") for p in parts):
        raise CopyOutError("not_a_file", f"{path!r} is not a plain path to a file")
    folder = os.dup(root)
    try:
        for name in parts[:-1]:
            inner = os.open(name, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=folder)
            os.close(folder)
            folder = inner
        return os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=folder)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise CopyOutError("not_a_file", f"{path}: a symbolic link or a non-folder is in the way; "
                                             "write a regular file") from exc
        raise CopyOutError("unreadable", f"cannot open {path}: {exc.strerror}") from exc
    finally:
        os.close(folder)


def _stream(source: int, path: str, dest: Path, max_bytes: int, deadline: float, timeout: float) -> int:
    dest.parent.mkdir(parents=True, exist_ok=True)
    # not mkstemp: its 0600 would keep the file from a sandbox it is staged into later (umask applies)
    partial = dest.parent / f".{dest.name}.{secrets.token_hex(6)}.partial"
    handle = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
    buffer = bytearray(CHUNK_BYTES)
    view = memoryview(buffer)
    total = 0
    try:
        with os.fdopen(handle, "wb") as out:
            while True:
                try:
                    count = os.readv(source, [view])
                except OSError as exc:
                    raise CopyOutError("unreadable", f"reading {path} failed: {exc.strerror}") from exc
                if not count:
                    break
                total += count
                if total > max_bytes:
                    raise CopyOutError("too_large", f"{path} grew past the {max_bytes:,}-byte limit while "
                                                    "being copied (is something still writing it?)")
                out.write(view[:count])
                if time.monotonic() > deadline:
                    raise CopyOutError("timed_out", f"copying {path} took longer than {timeout:g} s "
                                                    f"({total:,} bytes copied)")
        os.replace(partial, dest)
    except BaseException:
        os.unlink(partial)
        raise
    return total
