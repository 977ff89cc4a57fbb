"""The checks' names, the result every check gives, and answer comparison under a task's metric."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from dsgym.grading import grade
from dsgym.task import Task

BLIND_PROBE = "blind_probe"
GROUNDING = "grounding"
REPRODUCES = "reproduces"
DETERMINISTIC = "deterministic"
WELL_FORMED = "well_formed"
DATA_FILES = "data_files"
DUPLICATE = "duplicate"
CHECKS = (BLIND_PROBE, GROUNDING, REPRODUCES, DETERMINISTIC, WELL_FORMED, DATA_FILES, DUPLICATE)
SANDBOX_CHECKS = (GROUNDING, REPRODUCES, DETERMINISTIC, DATA_FILES)

# pass: fine; fail: the task is dropped, ``reason`` says why; skip: not applicable or not run;
# inconclusive: ran but could not decide (kept); error: the machinery failed (kept, retried on rerun).
STATUSES = ("pass", "fail", "skip", "inconclusive", "error")


@dataclass
class CheckResult:
    status: str
    reason: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "reason": self.reason, "evidence": self.evidence}


def normalize_text(text: str) -> str:
    """Lower case, Unicode-normalised, punctuation dropped, whitespace collapsed."""
    text = unicodedata.normalize("NFKC", str(text)).casefold()
    return " ".join(re.sub(r"[^\w]+", " ", text).split())


def render_answer(value: Any) -> str:
    """An answer as the oracle submits it: ``str`` of the value (what the sandbox prints)."""
    return str(value)


def same_answer(task: Task, prediction: str, reference: Any) -> tuple[bool, str]:
    """Whether ``prediction`` is ``reference`` under the task's metric (full score), and how that was read.

    A metric that cannot score here (an LLM judge without a model, a broken parameter)
    or cannot read the reference itself (a numeric metric with a text reference) falls
    back to comparing normalised text, so unreadable answers never look like different ones.
    """
    def text_equal(note: str) -> tuple[bool, str]:
        equal = normalize_text(prediction) == normalize_text(render_answer(reference))
        return equal, f"compared as normalised text ({note})"[:300]

    try:
        score = grade(task, prediction, reference=reference)
        if score.value >= 1.0 - 1e-9:
            return True, f"score {score.value:g}"
        itself = grade(task, render_answer(reference), reference=reference)
    except Exception as exc:  # noqa: BLE001 - see the docstring
        return text_equal(f"{type(exc).__name__}: {exc}")
    if itself.value < 1.0 - 1e-9:
        return text_equal(f"{task.metric} cannot read the reference: {itself.breakdown.get('reason', '')}")
    return False, f"score {score.value:g}"
