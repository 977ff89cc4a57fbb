"""The one grader: an answer or a submission file against a task, used by the env, rescore, the filter and synthesis.

``grade(task, answer=..., submission=...)`` picks the task's metric (answer tasks) or its
hidden labels and leaderboard (prediction tasks).  It raises what cannot be graded here (an
unknown metric, an unconfigured judge, missing labels); callers record that as a scoring
error, so the answer is kept for ``dsgym rescore``.  (A prediction task's invalid submission is
not an error: it scores the task's ``invalid_score``, see ``dsgym.predict.grade``.)
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from dsgym.scoring import score_answer
from dsgym.scoring.result import Score

if TYPE_CHECKING:  # the grader also runs where pydantic is not installed (Harbor task folders' tests/)
    from dsgym.task import Task


_GOLD = object()  # the task's own answer


def grade(task: Task, answer: str | None = None, submission: Path | bytes | None = None, *,
          reference: Any = _GOLD) -> Score:
    """Score ``answer`` (answer tasks) or the ``submission`` file (prediction tasks; None: none written).

    ``reference`` replaces the task's gold answer (the filter compares against a computed one).
    """
    if task.kind == "prediction":
        from dsgym.predict.grade import grade as grade_submission  # pandas and the metrics: only when needed

        return grade_submission(task, submission)
    return score_answer(task.metric, answer or "", task.answer if reference is _GOLD else reference,
                        task.metric_params, question=task.question)

