"""Files a suite folder names, resolved and kept inside the folders the suite may use.

A suite folder is input from elsewhere (downloaded, generated, shared), so every path
its manifest names (data folder, data files, reference solutions, hidden labels,
leaderboards, sample submission) is resolved with every symlink followed and refused
when it lands outside the folders the suite may read: its own folder and, for a
filtered suite that references its source instead of copying it, the source suite's
folder (a suite the user registered).  Files read on the host must be regular files of
bounded size, so a link to ``/dev/zero``, a FIFO or a huge file cannot hang or exhaust
the host.  See docs/security.md (suite folders).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

SOLUTION_LIMIT = 1 << 20  # a reference solution is code, not data
HOST_FILE_LIMIT = 1 << 30  # hidden labels, leaderboards, sample submissions: read whole on the host


class UnsafePathError(ValueError):
    """A path a suite names leaves the folders it may use, or is not a regular file of bounded size."""


def real(path: Path) -> Path:
    """``path`` absolute, with every symlink resolved (the file it would actually open)."""
    return Path(os.path.realpath(path))


def contained(path: Path, roots: Sequence[Path], what: str) -> Path:
    """``path`` resolved, if it lies inside one of ``roots`` (given resolved); else ``UnsafePathError``."""
    resolved = real(path)
    if any(resolved == root or resolved.is_relative_to(root) for root in roots):
        return resolved
    where = " or ".join(str(root) for root in roots)
    raise UnsafePathError(f"{what} {path} resolves to {resolved}, outside {where}")


class Resolver:
    """``contained`` for many paths of one suite: folders are resolved once, files with one ``lstat``.

    A suite of 100,000 tasks names 100,000 files in a handful of folders; resolving each
    path from the root would cost a system call per path component per file.
    """

    def __init__(self, roots: Sequence[Path]) -> None:
        self.roots = [str(root) for root in roots]
        self._folders: dict[str, str] = {}

    def resolve(self, path: str | os.PathLike[str]) -> str:
        folder, name = os.path.split(os.path.abspath(path))
        if name in ("", ".", ".."):
            return os.path.realpath(path)
        base = self._folders.get(folder)
        if base is None:
            base = self._folders[folder] = os.path.realpath(folder)
        full = os.path.join(base, name)
        return os.path.realpath(full) if os.path.islink(full) else full

    def contained(self, path: str | os.PathLike[str], what: str) -> str:
        resolved = self.resolve(path)
        for root in self.roots:
            if resolved == root or resolved.startswith(root.rstrip(os.sep) + os.sep):
                return resolved
        raise UnsafePathError(f"{what} {path} resolves to {resolved}, outside {' or '.join(self.roots)}")


def check_regular(path: Path, limit: int | None, what: str) -> None:
    """Refuse an existing ``path`` that is not a regular file (of at most ``limit`` bytes, if given)."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return  # missing files are reported where they are needed
    _check_stat(info, path, limit, what)


def open_regular(path: Path, resolved: str | Path, limit: int, what: str) -> BinaryIO:
    """``resolved`` (the checked real path of ``path``) opened for reading, if a regular file of at most ``limit`` bytes.

    The file is opened without blocking and checked on the open descriptor, so a FIFO or a
    device swapped in after a check is refused too.
    """
    handle = open(os.open(resolved, os.O_RDONLY | os.O_NONBLOCK), "rb")
    try:
        _check_stat(os.fstat(handle.fileno()), path, limit, what)
    except BaseException:
        handle.close()
        raise
    return handle


def read_text(path: Path, resolved: str, limit: int, what: str) -> str:
    """The text of a host file the suite names (``resolved``: its checked real path), at most ``limit`` bytes."""
    with open_regular(path, resolved, limit, what) as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise UnsafePathError(f"{what} {path} is larger than {limit} bytes")
    return data.decode("utf-8")


def walk_files(folder: Path) -> Iterator[tuple[str, Path]]:
    """Every regular file under ``folder`` as (path relative to it, resolved file).

    Symlinks are followed only while they stay inside ``folder``; a link out of it, a
    link loop, or anything that is neither a folder nor a regular file is refused.
    """
    root = real(folder)
    pending = [(root, "")]
    seen = {root}
    while pending:
        current, prefix = pending.pop()
        for entry in sorted(os.scandir(current), key=lambda e: e.name):
            rel = f"{prefix}{entry.name}"
            target = contained(Path(entry.path), [root], f"data file {rel} in {folder}")
            info = os.stat(target)
            if stat.S_ISDIR(info.st_mode):
                if target in seen:
                    raise UnsafePathError(f"data folder {folder}: {rel} links back into a folder already staged")
                seen.add(target)
                pending.append((target, f"{rel}/"))
            else:
                _check_stat(info, Path(entry.path), None, "data file")
                yield rel, target


def _check_stat(info: os.stat_result, path: Path, limit: int | None, what: str) -> None:
    if not stat.S_ISREG(info.st_mode):
        raise UnsafePathError(f"{what} {path} is not a regular file")
    if limit is not None and info.st_size > limit:
        raise UnsafePathError(f"{what} {path} is {info.st_size} bytes, more than the {limit} allowed")
