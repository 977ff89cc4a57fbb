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


def share(sizes: list[int], budget: int) -> list[int]:
    """Split ``budget`` among parts of ``sizes``: small parts keep all they have, large ones split the rest evenly."""
    quota = [0] * len(sizes)
    left = sorted(range(len(sizes)), key=lambda i: sizes[i])
    while left:
        even = budget // len(left)
        i = left.pop(0)
        quota[i] = min(sizes[i], even)
        budget -= quota[i]
    return quota


def format_execution(result: ExecutionResult, limit: int, figure_notes: list[str]) -> str:
    """The observation an agent sees after a code cell.

    stdout, stderr, displayed objects, the result and the error together show at most
    ``limit`` characters (each cut with a marker, the largest first); notes about figures,
    timeouts and kernel deaths follow.
    """
    sections: list[tuple[str, str]] = []
    stdout, stderr = result.stdout.text(), result.stderr.text()
    if stdout:
        sections.append(("", stdout.rstrip("\n")))
    if stderr:
        sections.append(("[stderr]\n", stderr.rstrip("\n")))
    if result.displays:
        sections.append(("", "\n".join(result.displays)))
    if result.result is not None:
        sections.append(("[result]\n", result.result))
    if result.error is not None:
        sections.append(("[error]\n", result.error.traceback or f"{result.error.ename}: {result.error.evalue}"))
    quotas = share([len(text) for _, text in sections], limit)
    parts = [label + truncate(text, quota) for (label, text), quota in zip(sections, quotas)]
    if result.displays_dropped:
        parts.append(f"[displays dropped] {result.displays_dropped:,} more displayed output(s) were past "
                     "the output limit and are not shown.")
    parts += figure_notes
    if result.images_dropped:
        parts.append(f"[figures not saved] {result.images_dropped} more figure(s) were not kept.")
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
