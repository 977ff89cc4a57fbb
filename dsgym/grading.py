"""The one grader: an answer or a submission file against a task, used by the env, rescore, the filter and synthesis.

``grade(task, answer=..., submission=..., scoring=...)`` picks the metric that grades the task
under the scoring profile (``dsgym.scoring.profiles``: ``dsgym``, the task's own metric, or
``official``, the release's grader for official suites) for answer tasks, or the hidden labels
and leaderboard for prediction tasks (the same under both profiles).  It raises what cannot be
graded here (an unknown metric or profile, an unconfigured judge, missing labels); callers record
that as a scoring error, so the answer is kept for ``dsgym rescore``.  (A prediction task's
invalid submission is not an error: it scores the task's ``invalid_score``, see
``dsgym.predict.grade``.)
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from dsgym.scoring import score_answer
from dsgym.scoring.profiles import DEFAULT_PROFILE, Choice, choose
from dsgym.scoring.result import Score

if TYPE_CHECKING:  # the grader also runs where pydantic is not installed (Harbor task folders' tests/)
    from dsgym.task import Task


_GOLD = object()  # the task's own answer


class HiddenAnswerError(LookupError):
    """The task's answer is not in the release (a benchmark's test set): only its own leaderboard grades it."""


def grade(task: Task, answer: str | None = None, submission: Path | bytes | None = None, *,
          reference: Any = _GOLD, scoring: str = DEFAULT_PROFILE) -> Score:
    """Score ``answer`` (answer tasks) or the ``submission`` file (prediction tasks; None: none written).

    ``reference`` replaces the task's gold answer (the filter compares against a computed one);
    ``scoring`` is the profile (``metric_used`` says which metric it picks).
    """
    choice = choose(task, scoring)
    if reference is _GOLD and task.kind == "answer" and task.metadata.get("answer_hidden"):
        # never a score of 0, which would read as a wrong answer: a scoring error keeps the answer for export
        raise HiddenAnswerError(f"the answer of {task.suite}/{task.id} is hidden (a test-set task): only the "
                                "benchmark's own leaderboard grades it (DABStep: `dsgym export dabstep RUN`)")
    if task.kind == "prediction":
        from dsgym.predict.grade import grade as grade_submission  # pandas and the metrics: only when needed

        return grade_submission(task, submission)
    return score_answer(choice.metric, answer or "", choice.reference if reference is _GOLD else reference,
                        choice.params, question=task.question)


def metric_used(task: Task, scoring: str = DEFAULT_PROFILE) -> Choice:
    """The metric ``grade`` uses for ``task`` under ``scoring``, and why when it is not an official one."""
    return choose(task, scoring)
