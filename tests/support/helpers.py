"""Small helpers shared by the tests."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def python(code: str) -> str:
    """A code action."""
    return f"<python>\n{code}\n</python>"


def labelled_containers() -> list:
    from dsgym.sandbox.docker import list_containers

    return list_containers()


def owned_containers(pid: int | None = None) -> list:
    """The dsgym containers this test process (or process ``pid``) started."""
    from dsgym.sandbox.docker import list_containers

    return list_containers(owned_by=os.getpid() if pid is None else pid)
