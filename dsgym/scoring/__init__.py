"""Grading answers: one function per metric, looked up by the task's ``metric`` name.

Every metric is ``fn(prediction, reference, **params) -> Score`` with a score in
[0, 1] and a breakdown that says how the answer was read, so a wrong score can be
debugged from the episode log.  Metrics that take a ``question`` parameter get the
task's question.  An answer that cannot be read (None, empty, malformed, huge)
scores 0 with a ``reason``; a misconfigured metric (an unknown or invalid
parameter, a judge without a model) raises.

| metric      | module  | params (defaults)                                                         |
|-------------|---------|---------------------------------------------------------------------------|
| exact_match | exact   | case_sensitive=False                                                      |
| numeric     | numeric | rel_tol=1e-6, abs_tol=0.0, percent_ok=False                               |
| list_match  | lists   | ordered=False, case_sensitive=False, partial=False, rel_tol=1e-6,         |
|             |         | abs_tol=0.0                                                               |
| daeval      | daeval  | rel_tol=0.0, abs_tol=None (half a unit of the reference's last decimal)   |
| dabstep     | dabstep | rel_tol=1e-4, abs_tol=1e-4                                                |
| choice      | choice  | options=None (then read from the question)                                |
| llm_judge   | judge   | model=None, base_url=None, api_key=None (else $DSGYM_JUDGE_MODEL,         |
|             |         | $DSGYM_JUDGE_BASE_URL, $OPENAI_API_KEY), cache=True, cache_dir=None,      |
|             |         | timeout=120, max_retries=4, max_tokens=512                                |
| pending     | pending | (none: scores 0 until synthesis sets a reference from the rollouts)      |

The ``official`` scoring profile (``dsgym.scoring.profiles``, docs/scoring.md) grades the
official suites with the release's own graders, rewritten here:

| metric               | module         | params (defaults)                                          |
|----------------------|----------------|------------------------------------------------------------|
| official_exact_match | official       | numeric_tolerance=0.03                                     |
| official_list_match  | official       | numeric_tolerance=0.0                                      |
| official_dabstep     | official       | (none)                                                     |
| official_llm_score   | official_judge | as llm_judge (max_tokens=1024), numeric_tolerance=0.01     |
| official_hms         | hms            | as llm_judge (max_tokens=2048), llm_score=True             |
| official_equivalence | official_judge | match=official_exact_match, match_params=None, and as       |
|                      |                | official_llm_score                                         |
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from dsgym.scoring.choice import choice
from dsgym.scoring.dabstep import dabstep
from dsgym.scoring.daeval import daeval
from dsgym.scoring.exact import exact_match
from dsgym.scoring.hms import official_hms
from dsgym.scoring.judge import JudgeConfigError, JudgeRequestError, llm_judge
from dsgym.scoring.lists import list_match
from dsgym.scoring.numeric import numeric
from dsgym.scoring.official import official_dabstep, official_exact_match, official_list_match
from dsgym.scoring.official_judge import official_equivalence, official_llm_score
from dsgym.scoring.pending import pending
from dsgym.scoring.result import Score
from dsgym.scoring.text import MetricParamError, ScoringError

Metric = Callable[..., Score]

METRICS: dict[str, Metric] = {
    "exact_match": exact_match,
    "numeric": numeric,
    "list_match": list_match,
    "daeval": daeval,
    "dabstep": dabstep,
    "choice": choice,
    "llm_judge": llm_judge,
    "pending": pending,
    "official_exact_match": official_exact_match,
    "official_list_match": official_list_match,
    "official_dabstep": official_dabstep,
    "official_llm_score": official_llm_score,
    "official_equivalence": official_equivalence,
    "official_hms": official_hms,
}


class UnknownMetricError(KeyError):
    pass


def metric_params(metric: str) -> dict[str, Any]:
    """The parameters ``metric`` accepts, with their defaults."""
    fn = METRICS[metric]
    return {name: p.default for name, p in list(inspect.signature(fn).parameters.items())[2:]
            if name != "question"}


def score_answer(metric: str, prediction: str, reference: Any, params: dict[str, Any] | None = None,
                 *, question: str = "") -> Score:
    """Grade ``prediction`` (the agent's answer text) against ``reference`` with ``metric``.

    Metrics that judge meaning (an LLM judge) also get the task's ``question``.
    Raises ``UnknownMetricError`` for an unknown metric, ``TypeError`` for a parameter
    the metric does not take, and ``ScoringError`` subclasses for invalid parameter
    values or a judge without a model.
    """
    try:
        fn = METRICS[metric]
    except KeyError:
        raise UnknownMetricError(f"unknown metric {metric!r}; known: {', '.join(sorted(METRICS))}") from None
    kwargs = dict(params or {})
    signature = inspect.signature(fn)
    if "question" in kwargs:
        raise TypeError(f"metric {metric!r}: 'question' comes from the task, not from metric params")
    if "question" in signature.parameters:
        kwargs["question"] = question
    try:
        signature.bind(prediction, reference, **kwargs)
    except TypeError as exc:
        known = ", ".join(metric_params(metric)) or "none"
        raise TypeError(f"metric {metric!r}: {exc} (its params: {known})") from None
    return fn(prediction, reference, **kwargs)


__all__ = ["METRICS", "JudgeConfigError", "JudgeRequestError", "MetricParamError", "Score", "ScoringError", "UnknownMetricError",
           "metric_params", "score_answer"]
