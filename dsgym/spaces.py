"""The text spaces of dsgym envs, and how Gymnasium's vector envs carry them through shared memory.

Gymnasium's ``AsyncVectorEnv`` (``shared_memory=True`` is its default) reads a ``Text``
space's shared buffer once, when it is built, into a tuple of immutable strings, and
returns that same tuple after every step (Gymnasium issue #1164): every observation
would be the blank string read at start.  ``spaces.Text`` also keeps only the
characters of its charset.  ``UnicodeText`` registers its own shared-memory layout
(a length and the code points, so any Unicode survives) and reads it back as
``SharedTexts``, a live view: the strings are decoded from the buffer when they are
looked at, and a copy (what ``AsyncVectorEnv`` returns with its default ``copy=True``)
is a plain tuple of the current strings.
"""

from __future__ import annotations

import multiprocessing as mp
from types import ModuleType
from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.vector.utils.shared_memory import (create_shared_memory, read_from_shared_memory,
                                                  write_to_shared_memory)

_CODE = np.dtype("<u4")


class UnicodeText(spaces.Text):
    """Any Python string up to ``max_length`` characters.

    ``spaces.Text`` only admits a fixed character set; data and tracebacks hold
    arbitrary Unicode.  Samples still draw from printable ASCII.
    """

    def __init__(self, max_length: int, seed: int | None = None):
        super().__init__(max_length=max_length, min_length=0,
                         charset="".join(chr(c) for c in range(32, 127)) + "\n\t", seed=seed)

    def contains(self, x: Any) -> bool:
        return isinstance(x, str) and len(x) <= self.max_length

    def __repr__(self) -> str:
        return f"UnicodeText(max_length={self.max_length})"


def _slots(space: UnicodeText, buffer: Any) -> np.ndarray:
    """The buffer as one row ``[length, code point, ...]`` per env."""
    return np.frombuffer(buffer.get_obj(), dtype=_CODE).reshape(-1, space.max_length + 1)


def _decode(row: np.ndarray) -> str:
    return row[1:1 + int(row[0])].tobytes().decode("utf-32-le", "surrogatepass")


class SharedTexts(tuple):
    """The batch of strings in a shared buffer, decoded each time it is read.

    A ``tuple`` so that ``isinstance`` checks and batched ``Tuple`` spaces accept it;
    every read goes through the methods below, which look at the buffer, not at the
    tuple's own (blank) storage.  Copies and pickles are plain tuples of the strings
    as they are at that moment.
    """

    _space: UnicodeText
    _buffer: Any

    def __new__(cls, space: UnicodeText, buffer: Any, n: int) -> SharedTexts:
        self = super().__new__(cls, ("",) * n)
        self._space, self._buffer = space, buffer
        return self

    def snapshot(self) -> tuple[str, ...]:
        return tuple(_decode(row) for row in _slots(self._space, self._buffer))

    def __getitem__(self, index):  # type: ignore[override]
        return self.snapshot()[index]

    def __iter__(self):
        return iter(self.snapshot())

    def __contains__(self, value: object) -> bool:
        return value in self.snapshot()

    def __eq__(self, other: object) -> bool:
        return self.snapshot() == other

    def __ne__(self, other: object) -> bool:
        return self.snapshot() != other

    def __hash__(self) -> int:
        return hash(self.snapshot())

    def __add__(self, other):  # type: ignore[override]
        return self.snapshot() + other

    def __repr__(self) -> str:
        return repr(self.snapshot())

    def __copy__(self) -> tuple[str, ...]:
        return self.snapshot()

    def __deepcopy__(self, memo: dict) -> tuple[str, ...]:
        return self.snapshot()

    def __reduce__(self):
        return tuple, (self.snapshot(),)


@create_shared_memory.register(UnicodeText)
def _create(space: UnicodeText, n: int = 1, ctx: ModuleType = mp) -> Any:
    return ctx.Array(_CODE.char, n * (space.max_length + 1))


@read_from_shared_memory.register(UnicodeText)
def _read(space: UnicodeText, shared_memory: Any, n: int = 1) -> SharedTexts:
    return SharedTexts(space, shared_memory, n)


@write_to_shared_memory.register(UnicodeText)
def _write(space: UnicodeText, index: int, value: str, shared_memory: Any) -> None:
    if not space.contains(value):
        raise ValueError(f"not an observation of {space}: a {type(value).__name__} of "
                         f"{len(value) if isinstance(value, str) else '?'} characters")
    codes = np.frombuffer(value.encode("utf-32-le", "surrogatepass"), dtype=_CODE)
    row = _slots(space, shared_memory)[index]
    row[0] = len(codes)
    row[1:1 + len(codes)] = codes
