"""Sandboxes: where agent code runs.  Docker by default; a local kernel only when asked for."""

from __future__ import annotations

import os
from collections.abc import Callable

from dsgym.sandbox.base import ExecutionResult, Limits, Sandbox, SandboxBroken, SandboxError
from dsgym.sandbox.pool import SandboxPool

SANDBOX_KINDS = ("docker", "local")


def sandbox_factory(kind: str | None = None, image: str | None = None,
                    limits: Limits | None = None) -> Callable[[], Sandbox]:
    """A constructor for the chosen runtime: ``kind`` or ``$DSGYM_SANDBOX``, default docker."""
    kind = kind or os.environ.get("DSGYM_SANDBOX", "docker")
    if kind == "docker":
        from dsgym.sandbox.docker import DockerSandbox, install_exit_handlers

        install_exit_handlers()  # from the caller's (usually the main) thread, for SIGTERM
        return lambda: DockerSandbox(image=image, limits=limits)
    if kind == "local":
        from dsgym.sandbox.local import LocalSandbox

        return LocalSandbox
    raise ValueError(f"unknown sandbox kind {kind!r}; choose one of {', '.join(SANDBOX_KINDS)}")


__all__ = ["ExecutionResult", "Limits", "Sandbox", "SandboxBroken", "SandboxError", "SandboxPool",
           "sandbox_factory"]
