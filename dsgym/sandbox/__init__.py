"""Sandboxes: where agent code runs.  Docker by default; a local kernel only when asked for."""

from __future__ import annotations

from collections.abc import Callable

from dsgym.sandbox.base import ExecutionResult, Limits, Sandbox, SandboxBroken, SandboxError
from dsgym.sandbox.pool import SandboxPool
from dsgym.sandbox.spec import SandboxSpec, fresh, kinds, sandbox_kind


def sandbox_factory(kind: str | None = None, image: str | None = None,
                    limits: Limits | None = None) -> Callable[[], Sandbox]:
    """A constructor for the chosen runtime: ``SandboxSpec(kind, image, limits).factory()``."""
    return SandboxSpec(kind, image, limits).factory()


__all__ = ["ExecutionResult", "Limits", "Sandbox", "SandboxBroken", "SandboxError", "SandboxPool", "SandboxSpec",
           "fresh", "kinds", "sandbox_factory", "sandbox_kind"]
