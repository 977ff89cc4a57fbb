"""The official release's LLM judge (``llm_score``), rewritten from its decision rule (docs/scoring.md).

The judge sees the question, the predicted answer and the true answer, and is told: a numerical
answer is right when its relative error is below 1%; otherwise compare with the true answer; the
answer must be clear and complete; a calculation alone is not an answer.  It thinks aloud and
ends with ``## The final answer is: True`` (or ``False``).  Only that line counts, read as
strictly as the release reads it: the text after the first marker must be exactly ``True``
(1) or ``False`` (0); anything else or no marker scores 0; a failed request is no score
(``JudgeRequestError``, a scoring error).

The judge is configured like ``llm_judge`` (params, else $DSGYM_JUDGE_MODEL and
$DSGYM_JUDGE_BASE_URL; the API key from $OPENAI_API_KEY) and its replies are cached the same way.
"""

from __future__ import annotations

from typing import Any

from dsgym.scoring.judge import JudgeRequestError, judge_model, open_judge
from dsgym.scoring.official import official_dabstep, official_exact_match, official_list_match, raw_text
from dsgym.scoring.result import Score
from dsgym.scoring.text import as_text, check_tolerance, preview, read_with_reference, zero

MARKER = "## The final answer is:"

PROMPT = """\
Decide whether a generated answer to a data-analysis question is right or wrong.

Question: {question}

Generated answer: {prediction}

True answer: {reference}

How to decide:
- A numerical answer is right when it is within {percent:g}% relative error of the true value.
- Any other answer is right when it agrees with the true answer.
- The answer has to be clear and complete.
- Showing a calculation without its result is not a right answer.

Write your reasoning after "Thoughts:", then end with one line that is exactly
{marker} True
or
{marker} False"""


def read_final_answer(reply: str) -> float | None:
    """1.0 or 0.0 from the line the release reads; None when that line is absent or says something else."""
    if MARKER not in reply:
        return None
    said = reply.split(MARKER)[1].strip()
    return {"True": 1.0, "False": 0.0}.get(said)


def official_llm_score(prediction: str, reference: Any, question: str = "", model: str | None = None,
                       base_url: str | None = None, api_key: str | None = None, cache_dir: str | None = None,
                       cache: bool = True, timeout: float = 120.0, max_retries: int = 4,
                       max_tokens: int | None = 1024, numeric_tolerance: float = 0.01) -> Score:
    """1 when the judge's final line says True, else 0."""
    model, base_url = judge_model("official_llm_score", model, base_url)
    check_tolerance(numeric_tolerance=numeric_tolerance)
    from dsgym.llm import LLMError

    text, failed = read_with_reference(prediction, reference, raw_text)
    if failed:
        return failed
    client = open_judge(model, base_url, api_key, cache_dir, cache, timeout, max_retries, max_tokens)
    prompt = PROMPT.format(question=as_text(question), prediction=text, reference=as_text(reference),
                           percent=numeric_tolerance * 100, marker=MARKER)
    breakdown: dict[str, Any] = {"judge_model": model, "judge_base_url": client.base_url}
    try:
        reply = client.chat([{"role": "user", "content": prompt}])
    except LLMError as exc:  # no verdict: a scoring error, never a 0 (the release scores it 0: docs/scoring.md)
        raise JudgeRequestError(f"judge request failed ({model} at {client.base_url}): {exc}") from exc
    verdict = read_final_answer(reply.text)
    breakdown.update(judge_reply=preview(reply.text, 500), cached=reply.cached, usage=reply.usage.to_dict())
    if verdict is None:
        return zero(f"the judge's reply has no '{MARKER} True/False' line (the release scores that 0)",
                    **breakdown)
    return Score(verdict, {**breakdown, "verdict": "True" if verdict else "False"})


# the all-or-nothing matchers the release's loaders set; official_equivalence reports theirs beside the judge's
MATCHERS = {"official_exact_match": official_exact_match, "official_list_match": official_list_match,
            "official_dabstep": official_dabstep}


def official_equivalence(prediction: str, reference: Any, question: str = "", match: str = "official_exact_match",
                         match_params: dict[str, Any] | None = None, model: str | None = None,
                         base_url: str | None = None, api_key: str | None = None, cache_dir: str | None = None,
                         cache: bool = True, timeout: float = 120.0, max_retries: int = 4,
                         max_tokens: int | None = 1024, numeric_tolerance: float = 0.01) -> Score:
    """The release's ``equivalence_by_llm`` (its evaluator's default for DAEval, QRData and DABStep): the judge's
    verdict is the score; the loader's all-or-nothing match (``match``) is kept beside it in the breakdown."""
    if match not in MATCHERS:
        raise ValueError(f"official_equivalence: match must be one of {', '.join(MATCHERS)}, not {match!r}")
    model, base_url = judge_model("official_equivalence", model, base_url)
    matched = MATCHERS[match](prediction, reference, **(match_params or {}))
    judged = official_llm_score(prediction, reference, question, model=model, base_url=base_url, api_key=api_key,
                                cache_dir=cache_dir, cache=cache, timeout=timeout, max_retries=max_retries,
                                max_tokens=max_tokens, numeric_tolerance=numeric_tolerance)
    return Score(judged.value, {**judged.breakdown, "match_metric": match, "match_score": matched.value})
