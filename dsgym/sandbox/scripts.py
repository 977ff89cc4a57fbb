"""Running a script in a fresh sandbox and reading its result and files back (the filter and synthesis use it).

The script is defined in a new sandbox (``spec.fresh``: started, given the task's
files, closed whatever happens), one call's JSON result is printed between markers
and read off the cell's output, and the files the result names are streamed back to
the host with ``Sandbox.copy_out`` while the sandbox is frozen, so nothing the
script left running can change them mid-copy.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dsgym.sandbox.base import ExecutionResult, Sandbox
from dsgym.sandbox.spec import fresh

BEGIN, END = "<<dsgym-filter>>", "<</dsgym-filter>>"
REPORT = re.compile(re.escape(BEGIN) + r"(.*?)" + re.escape(END), re.DOTALL)
REPORT_TIMEOUT = 120.0  # defining a script, printing a value: never the long part
COPY_MAX_BYTES = 4 << 30  # past any sandbox's writable space: the cap is a backstop
COPY_TIMEOUT = 600.0


def show(expression: str) -> str:
    """A cell that prints ``str(expression)`` between the markers ``reported`` reads."""
    return f"print({BEGIN!r} + str({expression}) + {END!r})"


def reported(result: ExecutionResult) -> str | None:
    """What a cell printed between the markers, or None."""
    found = REPORT.search(result.stdout.text())
    return found.group(1) if found else None


def failure(result: ExecutionResult, what: str, timeout: float) -> str | None:
    """Why a cell failed (timed out, killed the kernel, raised), in words, or None if it ran."""
    if result.timed_out:
        return f"{what} timed out after {timeout:g} s"
    if result.kernel_died:
        return f"{what}: the kernel died (out of memory?)"
    if result.error is not None:
        return f"{what} raised {result.error.ename}: {result.error.evalue}"[:1000]
    return None


def run_script(factory: Callable[[], Sandbox], files: dict[str, Path], source: str, call: str, *,
               timeout: float, fetch: Callable[[Any], dict[str, Path]] | None = None,
               ) -> tuple[Any, dict[str, int | None]]:
    """Define ``source`` in a fresh sandbox with ``files``, return ``call``'s JSON result and the files copied out.

    ``call`` is an expression giving a JSON-able value (``timeout`` seconds to compute it);
    ``fetch(value)`` maps the sandbox paths to copy back to host files; the second result
    maps each of those paths to its size (None: absent).  Raises ``SandboxError`` if the
    sandbox or a copy fails and ``RuntimeError`` if the script does.
    """
    with fresh(factory, files) as sandbox:
        defined = sandbox.execute(source, REPORT_TIMEOUT)
        if (problem := failure(defined, "the helper script", REPORT_TIMEOUT)) is not None:
            raise RuntimeError(problem)
        shown = sandbox.execute(show(f"__import__('json').dumps({call})"), timeout)
        text = reported(shown)
        if text is None:
            raise RuntimeError(failure(shown, "the helper script", timeout) or "no report")
        value = json.loads(text)
        wanted = fetch(value) if fetch else {}
        if wanted:
            sandbox.freeze()
        copied = {path: sandbox.copy_out(path, dest, max_bytes=COPY_MAX_BYTES, timeout=COPY_TIMEOUT)
                  for path, dest in wanted.items()}
        return value, copied
