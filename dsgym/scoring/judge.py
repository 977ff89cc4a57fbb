"""``llm_judge``: a model decides whether a free-text answer means the same as the reference.

Used where a suite asks for it (DiscoveryBench-style hypotheses).  The model is any
OpenAI-compatible endpoint, configured by params or environment:

    model     params["model"]    or $DSGYM_JUDGE_MODEL      (required)
    base_url  params["base_url"] or $DSGYM_JUDGE_BASE_URL   (else the OpenAI client's default)
    api_key   params["api_key"]  or $OPENAI_API_KEY

It is asked once per (endpoint, model, prompt) at temperature 0: replies are cached
on disk by ``dsgym.llm.LLMClient`` where the caller asks (``cache_dir``), else in the
run folder of the episode being graded (``dsgym eval``, ``rescore --judge``), else in
``$DSGYM_LLM_CACHE_DIR``, else not at all.  The reply should be ``{"verdict": "correct"}``
or ``{"verdict": "incorrect"}``; ``parse_verdict`` also reads bare yes/no/true/false,
``Verdict: correct``, ``## The final answer is: True`` and JSON with other keys.  A
reply it cannot read scores 0 with the reason in the breakdown.  A request that fails after
retries raises ``JudgeRequestError``: no judge said anything, so there is no score (callers
record a scoring error and keep the answer for ``dsgym rescore --judge``; a 0 would read as a
wrong answer and, in the blind probe, as a model that failed).
"""

from __future__ import annotations

import json
import os
import re
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported when a judge is used: the other metrics run without openai installed
    from dsgym.llm import LLMClient
from dsgym.scoring.result import Score
from dsgym.scoring.text import ScoringError, as_text, preview, read_with_reference, zero

SYSTEM_PROMPT = """\
You grade answers to data-analysis questions by comparing a candidate answer with a reference answer.
The candidate is correct when it makes the same claim as the reference: same direction and kind of \
effect, same variables, same conclusion. Wording does not matter; extra detail is fine as long as it \
does not contradict the reference; numbers must agree to the precision the reference gives.
The candidate is incorrect when it contradicts the reference, leaves out its main claim, reverses a \
direction of effect, or hedges between alternatives.
Reply with only a JSON object: {"verdict": "correct"} or {"verdict": "incorrect"}."""

USER_TEMPLATE = """\
Question:
{question}

Reference answer:
{reference}

Candidate answer:
{candidate}"""

TRUE_WORDS = {"correct", "yes", "true", "equivalent", "same", "match", "matches", "right", "pass", "1",
              "consistent", "agree", "agrees", "valid"}
FALSE_WORDS = {"incorrect", "no", "false", "not equivalent", "different", "wrong", "fail", "0", "mismatch",
               "not correct", "inconsistent", "disagree", "disagrees", "invalid", "not the same", "nonequivalent",
               "not_equivalent", "partially correct", "partial"}
VERDICT_KEYS = ("verdict", "correct", "is_correct", "equivalent", "is_equivalent", "match", "judgement", "judgment",
                "answer", "result", "label", "decision", "score")
LABELLED = re.compile(r"(?:verdict|final answer(?:\s+is)?|judge?ment|answer|decision)\s*[:=]\s*[*`\"']*"
                      r"\s*([A-Za-z_]+(?:\s+[A-Za-z_]+){0,2})", re.IGNORECASE)
VERDICT_WORD = re.compile(r"\b(not\s+)?(correct|incorrect)\b", re.IGNORECASE)
THINK = re.compile(r"<think>.*?</think>", re.IGNORECASE | re.DOTALL)


class JudgeConfigError(ScoringError, RuntimeError):
    """The judge has no model to ask: set params ``model`` or ``$DSGYM_JUDGE_MODEL``."""


class JudgeRequestError(ScoringError, RuntimeError):
    """The judge could not be asked (its endpoint failed after retries): no verdict, so no score."""


class JudgeReplyError(JudgeRequestError):
    """The judge answered, but not in the form its question asks for: no verdict, so no score."""


def word_verdict(text: str) -> bool | None:
    words = re.sub(r"[^\w\s]", " ", text.casefold()).split()
    phrase = " ".join(words)
    if phrase in FALSE_WORDS:
        return False
    if phrase in TRUE_WORDS:
        return True
    return None


def json_verdict(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value >= 0.5 if 0 <= value <= 1 else None
    if isinstance(value, str):
        return word_verdict(value)
    if isinstance(value, dict):
        lowered = {str(k).casefold(): v for k, v in value.items()}
        for key in VERDICT_KEYS:
            if key in lowered and (verdict := json_verdict(lowered[key])) is not None:
                return verdict
    return None


def json_objects(text: str) -> list[Any]:
    """Parseable JSON values in ``text``: the whole text, fenced blocks, then ``{...}`` spans, last first."""
    def load(candidates: list[str]) -> list[Any]:
        found = []
        for candidate in candidates:
            try:
                found.append(json.loads(candidate))
            except ValueError:
                continue
        return found

    parts = re.findall(r"```(?:json)?\s*(.*?)```", text, re.DOTALL) + re.findall(r"\{[^{}]*\}", text)
    return load([text]) + load(parts)[::-1]


def parse_verdict(reply: str) -> tuple[bool | None, str]:
    """``(True/False, how)`` for a judge reply, or ``(None, why not)`` when it cannot be read."""
    text = THINK.sub("", as_text(reply or "")).strip()
    if not text:
        return None, "empty reply"
    for value in json_objects(text):
        if (verdict := json_verdict(value)) is not None:
            return verdict, "json"
    if (verdict := word_verdict(text)) is not None:
        return verdict, "single word"
    labelled = LABELLED.findall(text)
    for phrase in reversed(labelled):
        for n in (3, 2, 1):  # "not equivalent because ..." -> try the longest leading phrase first
            if (verdict := word_verdict(" ".join(phrase.split()[:n]))) is not None:
                return verdict, "labelled verdict"
    last_line = text.splitlines()[-1]
    if (verdict := word_verdict(last_line)) is not None:
        return verdict, "last line"
    # "The candidate is incorrect because ...": every verdict word in the text agrees.
    words = {not (negated or word.casefold() == "incorrect") if not (negated and word.casefold() == "incorrect")
             else None for negated, word in VERDICT_WORD.findall(text)}
    if len(words) == 1 and None not in words:
        return words.pop(), "verdict word in the text"
    return None, "could not read a verdict in the judge's reply"


_clients: dict[tuple[Any, ...], LLMClient] = {}
_clients_lock = threading.Lock()


def judge_client(model: str, base_url: str | None, api_key: str | None, cache_dir: str | None, cache: bool,
                 timeout: float, max_retries: int, max_tokens: int | None) -> LLMClient:
    """One shared client per configuration (its connection pool and cache are reused)."""
    from dsgym.llm import LLMClient

    key = (model, base_url, api_key, cache_dir, cache, timeout, max_retries, max_tokens)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = LLMClient(model, base_url=base_url, api_key=api_key, temperature=0.0,
                                               max_tokens=max_tokens, cache_dir=cache_dir, cache=cache,
                                               timeout=timeout, max_retries=max_retries)
        return client


def judge_model(metric: str, model: str | None, base_url: str | None) -> tuple[str, str | None]:
    """The judge's model and endpoint: the metric's params, else $DSGYM_JUDGE_MODEL / $DSGYM_JUDGE_BASE_URL."""
    model = model or os.environ.get("DSGYM_JUDGE_MODEL")
    base_url = base_url or os.environ.get("DSGYM_JUDGE_BASE_URL")
    if not model:
        raise JudgeConfigError(f"the {metric} metric has no model: set metric_params {{'model': ..., "
                               "'base_url': ...} or the DSGYM_JUDGE_MODEL and DSGYM_JUDGE_BASE_URL environment "
                               "variables (the API key comes from OPENAI_API_KEY)")
    return model, base_url


def open_judge(model: str, base_url: str | None, api_key: str | None, cache_dir: str | None, cache: bool,
               timeout: float, max_retries: int, max_tokens: int | None) -> LLMClient:
    """The shared client of a judge, caching where ``dsgym.llm.chosen_cache_dir`` says (resolved per call:
    one process may grade several runs)."""
    from dsgym.llm import chosen_cache_dir

    directory = chosen_cache_dir(cache_dir)
    return judge_client(model, base_url, api_key, None if directory is None else str(directory), cache,
                        timeout, max_retries, max_tokens)


def llm_judge(prediction: str, reference: Any, question: str = "", model: str | None = None,
              base_url: str | None = None, api_key: str | None = None, cache_dir: str | None = None,
              cache: bool = True, timeout: float = 120.0, max_retries: int = 4,
              max_tokens: int | None = 512) -> Score:
    """1 when the judge model says the answer means the same as the reference."""
    model, base_url = judge_model("llm_judge", model, base_url)
    from dsgym.llm import LLMError

    text, failed = read_with_reference(prediction, reference)
    if failed:
        return failed
    client = open_judge(model, base_url, api_key, cache_dir, cache, timeout, max_retries, max_tokens)
    prompt = USER_TEMPLATE.format(question=as_text(question).strip() or "(not given)",
                                  reference=as_text(reference).strip(), candidate=text.strip())
    breakdown: dict[str, Any] = {"judge_model": model, "judge_base_url": client.base_url}
    try:
        reply = client.chat([{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": prompt}])
    except LLMError as exc:
        raise JudgeRequestError(f"judge request failed ({model} at {client.base_url}): {exc}") from exc
    verdict, how = parse_verdict(reply.text)
    breakdown.update(judge_reply=preview(reply.text, 500), cached=reply.cached, usage=reply.usage.to_dict())
    if verdict is None:
        return zero(how, **breakdown)
    return Score(float(verdict), {**breakdown, "verdict": "correct" if verdict else "incorrect", "read_as": how})
