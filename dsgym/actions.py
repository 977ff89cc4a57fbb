"""The text protocol between agent and environment.

An action is text holding ``<python>code</python>`` (run the code in the kernel)
or ``<answer>text</answer>`` (submit and end the episode).  When both appear the
one that comes first counts and the rest is ignored, so an agent that writes its
answer before it has seen the result does not get a free cell.  Anything else
gets ``FORMAT_HELP`` back.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from typing import Literal

from dsgym.sandbox.base import ExecutionResult

TAG = re.compile(r"<(python|answer)>(.*?)</\1>", re.DOTALL | re.IGNORECASE)
FENCE = re.compile(r"^\s*```(?:python|py)?\s*\n(.*?)\n?\s*```\s*$", re.DOTALL)

FORMAT_HELP = (
    "[format error] Your reply had no action. Reply with exactly one of:\n"
    "  <python>\nprint('code to run in the Jupyter kernel')\n</python>\n"
    "  <answer>your final answer</answer>\n"
    "Code runs in a persistent kernel (variables survive between turns). "
    "The answer ends the episode."
)


@dataclass(frozen=True)
class Action:
    kind: Literal["code", "answer", "invalid"]
    content: str = ""
    ignored: str = ""  # text after the first action, which was not executed


def parse_action(text: str) -> Action:
    if not isinstance(text, str):
        return Action("invalid", ignored=repr(text)[:200])
    match = TAG.search(text)
    if match is None:
        return Action("invalid")
    kind, body = match.group(1).lower(), match.group(2)
    rest = text[match.end():]
    ignored = rest.strip() if TAG.search(rest) else ""
    if kind == "answer":
        return Action("answer", body.strip(), ignored)
    fenced = FENCE.match(body)
    return Action("code", (fenced.group(1) if fenced else body).strip("\n"), ignored)


def truncate(text: str, limit: int) -> str:
    """Keep the head and tail of ``text`` with a visible marker saying how much was cut.

    The result, marker included, is never longer than ``limit`` (the observation
    space declares that cap, so it must hold exactly).
    """
    if len(text) <= limit:
        return text
    cut = len(text)
    for _ in range(3):  # the marker's own length depends on the count it prints; settles in two rounds
        marker = f"\n... [output truncated: {cut:,} characters omitted] ...\n"
        keep = max(limit - len(marker), 0)
        cut = len(text) - keep
    if keep == 0:
        return marker[:limit]
    head = keep * 2 // 3
    return f"{text[:head]}{marker}{text[len(text) - (keep - head):]}"


def png_size(data: bytes) -> tuple[int, int] | None:
    if data[:8] != b"\x89PNG\r\n\x1a\n" or len(data) < 24:
        return None
    return struct.unpack(">II", data[16:24])


def format_execution(result: ExecutionResult, limit: int, figure_names: list[str]) -> str:
    """The observation an agent sees after a code cell."""
    parts: list[str] = []
    stdout, stderr = result.stdout.text(), result.stderr.text()
    if stdout:
        parts.append(truncate(stdout.rstrip("\n"), limit))
    if stderr:
        parts.append("[stderr]\n" + truncate(stderr.rstrip("\n"), limit))
    for text in result.displays:
        parts.append(truncate(text, limit))
    if result.result is not None:
        parts.append("[result]\n" + truncate(result.result, limit))
    for name, png in zip(figure_names, result.images):
        size = png_size(png)
        dims = f"{size[0]}x{size[1]} " if size else ""
        parts.append(f"[figure: {dims}PNG saved as {name}]")
    if result.error is not None:
        parts.append("[error]\n" + truncate(result.error.traceback or
                                            f"{result.error.ename}: {result.error.evalue}", limit))
    if result.timed_out and not result.kernel_died:
        parts.append(f"[timeout] The cell ran past its time limit and was interrupted "
                     f"after {result.duration:.1f} s. The kernel and its variables survive.")
    if result.kernel_died:
        why = "it ran out of memory or was killed" if result.exit_code in (-9, 137) else \
            f"exit code {result.exit_code}"
        if result.timed_out:
            why = "it did not stop after an interrupt at the cell time limit"
        parts.append(f"[kernel died] The Python kernel died ({why}). A fresh kernel was started: "
                     "all variables and imports are gone; files in the working directory remain.")
    return "\n".join(parts) if parts else "[no output]"
