"""Scoring profiles: which metric grades a task, dsgym's own or the official release's (docs/scoring.md).

``dsgym`` (the default) grades every task with the metric its suite declares (``Task.metric``):
partial credit for DAEval, numeric tolerance, a lenient reading of answers.  ``official``
grades each task of an official suite the way the DSGym release's evaluator does, so a
number can be set beside the paper's:

| suite            | official metric        | as the release                                      |
|------------------|------------------------|-----------------------------------------------------|
| daeval           | official_list_match    | ``list_match``, numeric tolerance 0                 |
| qrdata           | official_exact_match   | ``exact_match``, numeric tolerance 0.03             |
| dabstep          | official_dabstep       | ``dabstep`` (stripped, lower-cased equality)        |
| dsbio            | official_exact_match   | ``exact_match``, numeric tolerance 0                |
| discoverybench   | official_hms           | ``hms_score`` (``llm_score`` in the breakdown)      |

``official-judge`` is ``official`` with the release's LLM equivalence judge (``equivalence_by_llm``,
the default its evaluator's dataset integration sets) grading DAEval, QRData and DABStep instead of
the loaders' all-or-nothing match, which stays in the breakdown (``match_score``): the released CLI
reports the match, the evaluator's defaults and the paper's tables the judge (docs/scoring.md).

A task of ``dsgym-tasks`` (or a filtered copy) is graded by its source suite
(``metadata["source_suite"]``).  Tasks with no official grader keep dsgym's metric, and
the choice says why: ScienceAgentBench (the release has no loader or metric for it),
the prediction suites (the release submits to Kaggle and places the public score on a
leaderboard; dsgym grades against the hidden labels host-side and places that score on
the same offline leaderboard), and every suite that is not an official one (the embedded
``-lite`` suites, user suites).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dsgym.task import Task

PROFILES = ("dsgym", "official", "official-judge")
DEFAULT_PROFILE = "dsgym"

# suite -> (metric, params); the reference is the answer text the release's loader hands its grader
OFFICIAL: dict[str, tuple[str, dict[str, Any]]] = {
    "daeval": ("official_list_match", {"numeric_tolerance": 0.0}),
    "qrdata": ("official_exact_match", {"numeric_tolerance": 0.03}),
    "dabstep": ("official_dabstep", {}),
    "dsbio": ("official_exact_match", {"numeric_tolerance": 0.0}),
    "discoverybench": ("official_hms", {}),
}
# official-judge: the suites the release's evaluator judges by equivalence (the loader's match stays beside)
JUDGE_EQUIVALENCE = ("daeval", "qrdata", "dabstep")
# metrics that ask a model
JUDGED = frozenset({"llm_judge", "official_llm_score", "official_hms", "official_equivalence"})
NO_OFFICIAL = {
    "scienceagentbench": "the official release has no grader for ScienceAgentBench",
    "dspredict-easy": "the official release submits to Kaggle; dsgym grades against the hidden labels "
                      "and places the score on the same offline leaderboard",
    "dspredict-hard": "the official release submits to Kaggle; dsgym grades against the hidden labels "
                      "and places the score on the same offline leaderboard",
}


class UnknownProfileError(ValueError):
    pass


@dataclass(frozen=True)
class Choice:
    """How one task is graded under a profile: the metric, its params and the reference it is handed."""

    profile: str
    metric: str
    params: dict[str, Any] = field(default_factory=dict)
    reference: Any = None
    official: bool = False  # graded by an official metric
    note: str | None = None  # why not, under the official profile

    @property
    def judged(self) -> bool:
        return self.metric in JUDGED


def check_profile(name: str) -> str:
    if name not in PROFILES:
        raise UnknownProfileError(f"unknown scoring profile {name!r}; known: {', '.join(PROFILES)}")
    return name


def source_suite(task: Task) -> str:
    """The official suite a task comes from: its own, or the one ``dsgym-tasks`` took it from."""
    return str(task.metadata.get("source_suite") or task.suite)


def metric_name(task: Task) -> str:
    """dsgym's metric of a task as a record names it (prediction tasks: ``prediction``)."""
    return "prediction" if task.kind == "prediction" else task.metric


def choose(task: Task, profile: str = DEFAULT_PROFILE) -> Choice:
    """The metric that grades ``task`` under ``profile`` (raises ``UnknownProfileError`` for another name)."""
    check_profile(profile)
    own = Choice(profile, metric_name(task), dict(task.metric_params), task.answer)
    if profile == "dsgym":
        return own
    suite = source_suite(task)
    if task.kind == "prediction":
        return Choice(profile, own.metric, own.params, own.reference,
                      note=NO_OFFICIAL.get(suite, "not an official suite: graded with dsgym's prediction grading"))
    if suite not in OFFICIAL:
        return Choice(profile, own.metric, own.params, own.reference,
                      note=NO_OFFICIAL.get(suite, "not an official suite: graded with dsgym's metric"))
    metric, params = OFFICIAL[suite]
    if profile == "official-judge" and suite in JUDGE_EQUIVALENCE:
        metric, params = "official_equivalence", {"match": metric, "match_params": params}
    reference = task.metadata.get("official_answer", task.answer)  # the release's answer text, where it differs
    return Choice(profile, metric, dict(params), reference, official=True)
