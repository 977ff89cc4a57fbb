"""Small helpers shared by the tests."""

from __future__ import annotations

import os
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def canonical(name: str) -> str:
    """A distribution's name as pip compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(image: str) -> dict[str, str]:
    """``sandboxes/<image>/requirements.txt``: canonical distribution name -> version (each line pinned)."""
    found = {}
    for line in (REPO / "sandboxes" / image / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            package, sep, version = line.partition("==")
            assert sep and version, f"{image}: {line!r} is not pinned with =="
            found[canonical(package)] = version
    return found


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
