"""``pending``: a task whose reference answer does not exist yet (synthesis derives it from consensus)."""

from __future__ import annotations

from typing import Any

from dsgym.scoring.result import Score
from dsgym.scoring.text import preview


def pending(prediction: str, reference: Any) -> Score:
    """0, with the answer kept in the breakdown: grading happens once the rollouts agree on a reference."""
    return Score(0.0, {"reason": "no reference answer yet (graded after the rollouts' consensus)",
                       "answer": preview(prediction) if isinstance(prediction, str) else None})
