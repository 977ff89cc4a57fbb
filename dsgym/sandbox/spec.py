"""What sandbox an episode gets: ``SandboxSpec(kind, image, limits)``, and the kinds, registered by name.

A kind is a function ``spec -> (() -> Sandbox)``.  The built-in kinds are named here by
module path and imported only when used (so the CLI starts fast); another backend is one
module that decorates its builder with ``@sandbox_kind("name")``.  ``fresh`` is the one way
to run something in a new sandbox with a task's files (the filter and synthesis use it).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from dsgym.sandbox.base import Limits, Sandbox

Builder = Callable[["SandboxSpec"], Callable[[], Sandbox]]
DEFAULT_KIND = "docker"
_KINDS: dict[str, Builder | str] = {
    "docker": "dsgym.sandbox.docker:build",
    "local": "dsgym.sandbox.local:build",
    "bwrap": "dsgym.sandbox.bwrap:build",
}


def sandbox_kind(name: str) -> Callable[[Builder], Builder]:
    """Register ``builder`` as the sandbox kind ``name`` (``--sandbox name``, ``$DSGYM_SANDBOX``)."""

    def register(builder: Builder) -> Builder:
        _KINDS[name] = builder
        return builder

    return register


_CLOSERS: dict[str, Callable[[], None]] = {}  # kind -> remove every sandbox of that kind this process holds
_FORCED: dict[str, Callable[[], None]] = {}  # kind -> the same without taking any lock (a forced exit)


def on_close_all(kind: str, closer: Callable[[], None], forced: Callable[[], None] | None = None) -> None:
    """Let ``close_all`` reach a kind's live sandboxes (a kind calls this when it builds its first factory).

    ``forced``: how to remove them when the process is about to exit at once, from a thread that may
    run while another holds the kind's locks (a kind whose sandboxes die with this process needs none).
    """
    _CLOSERS[kind] = closer
    if forced is not None:
        _FORCED[kind] = forced


def close_all() -> None:
    """Remove every sandbox this process holds, of every kind in use: work in flight on other threads ends now."""
    for closer in list(_CLOSERS.values()):
        closer()


def remove_all_now() -> None:
    """``close_all`` for a forced exit: takes no lock, so it cannot wait on a thread that is stuck."""
    for remove in list(_FORCED.values()):
        remove()


def kinds() -> list[str]:
    return sorted(_KINDS)


@dataclass(frozen=True)
class SandboxSpec:
    """A sandbox to make: ``kind`` (None: ``$DSGYM_SANDBOX``, else docker), the image tag, the limits."""

    kind: str | None = None
    image: str | None = None
    limits: Limits | None = None

    @property
    def resolved_kind(self) -> str:
        return self.kind or os.environ.get("DSGYM_SANDBOX") or DEFAULT_KIND

    def factory(self) -> Callable[[], Sandbox]:
        """A constructor of sandboxes of this spec.  Call it from the main thread when you can: a kind may
        install signal handlers there (docker removes its containers on SIGTERM)."""
        kind = self.resolved_kind
        builder = _KINDS.get(kind)
        if builder is None:
            raise ValueError(f"unknown sandbox kind {kind!r}; choose one of {', '.join(kinds())}")
        if isinstance(builder, str):
            module, _, attr = builder.partition(":")
            builder = _KINDS[kind] = getattr(importlib.import_module(module), attr)
        return builder(self)


@contextmanager
def fresh(factory: Callable[[], Sandbox], files: dict[str, Path]) -> Iterator[Sandbox]:
    """A new sandbox with ``files`` under its data folder, closed on the way out whatever happens."""
    sandbox = factory()
    try:
        sandbox.start()
        sandbox.put_data(files)
        yield sandbox
    finally:
        sandbox.close()
