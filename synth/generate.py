"""Stage 2: a model proposes analysis questions about a dataset, grounded in its profile.

The reply must hold a JSON array of questions (in ``<questions>`` tags or a fenced
``json`` block).  Each question names its answer type, which fixes how answers are
graded: ``number`` (``numeric`` within half a unit of the requested decimals),
``text`` (``exact_match``) or ``list`` (``list_match``, unordered).  Entries that
do not parse are dropped with a reason and counted.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from dsgym.synth.sources import Dataset
from dsgym.task import Task

GENERATE_VERSION = 1
ANSWER_TYPES = ("number", "text", "list")
MAX_DECIMALS = 6
QUESTION_CHARS = 2000

SYSTEM = """\
You write data-analysis questions for training data-science agents. You are shown a profile of a dataset \
(files, columns, types, statistics, sample rows). Propose questions that:
- can only be answered by loading and analysing the data (not from general knowledge or from the profile \
alone: the profile's summary statistics must not already contain the answer);
- need several steps (e.g. filtering, grouping, joining, deriving a column, fitting a simple model, a \
statistical test);
- have exactly one correct, objectively checkable answer: a number, a short text (a category, a name) or a \
short list;
- name the files and columns they use exactly as in the profile.

Reply with a JSON array inside <questions></questions> tags. Each element is an object:
  {"question": "...", "answer_type": "number" | "text" | "list", "decimals": 2 (numbers only: how many \
decimal places to round to), "guideline": "the answer format, e.g. 'a number rounded to 2 decimals'"}
Write nothing after the closing tag."""

TAGGED = re.compile(r"<questions>(.*?)</questions>", re.DOTALL | re.IGNORECASE)
FENCED_JSON = re.compile(r"```(?:json)?\s*\n(.*?)```", re.DOTALL)


def messages(profile_text: str, count: int) -> list[dict[str, str]]:
    user = f"{profile_text}\n\nPropose {count} questions about this dataset."
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def _payload(reply: str) -> Any:
    for pattern in (TAGGED, FENCED_JSON):
        found = pattern.search(reply or "")
        if found:
            return json.loads(found.group(1).strip())
    start, end = (reply or "").find("["), (reply or "").rfind("]")
    if start >= 0 and end > start:
        return json.loads(reply[start:end + 1])
    raise ValueError("no JSON array of questions in the reply")


def parse(reply: str) -> tuple[list[dict[str, Any]], list[str]]:
    """The well-formed questions of a reply, and one problem line per dropped entry (or for the reply)."""
    try:
        payload = _payload(reply)
    except ValueError as exc:  # json.JSONDecodeError is a ValueError
        return [], [f"reply: {exc}"[:300]]
    if isinstance(payload, dict):
        payload = payload.get("questions", [payload])
    if not isinstance(payload, list):
        return [], ["reply: the JSON is not an array of questions"]
    questions, problems = [], []
    for index, entry in enumerate(payload, 1):
        try:
            questions.append(_question(entry))
        except ValueError as exc:
            problems.append(f"question {index}: {exc}"[:300])
    return questions, problems


def _question(entry: Any) -> dict[str, Any]:
    if not isinstance(entry, dict):
        raise ValueError("not a JSON object")
    text = entry.get("question")
    if not isinstance(text, str) or not text.strip():
        raise ValueError("no question text")
    if len(text) > QUESTION_CHARS:
        raise ValueError(f"question longer than {QUESTION_CHARS} characters")
    kind = str(entry.get("answer_type", "")).strip().lower()
    if kind not in ANSWER_TYPES:
        raise ValueError(f"answer_type {entry.get('answer_type')!r} is not one of {', '.join(ANSWER_TYPES)}")
    question = {"question": text.strip(), "answer_type": kind,
                "guideline": str(entry.get("guideline") or "").strip()}
    if kind == "number":
        decimals = entry.get("decimals", 2)
        if isinstance(decimals, bool) or not isinstance(decimals, int) or not 0 <= decimals <= MAX_DECIMALS:
            raise ValueError(f"decimals must be an integer from 0 to {MAX_DECIMALS}, not {decimals!r}")
        question["decimals"] = decimals
    return question


def grading(question: dict[str, Any]) -> tuple[str, dict[str, Any], str]:
    """Metric, its parameters and the answer-format line for a parsed question."""
    kind = question["answer_type"]
    if kind == "number":
        decimals = question["decimals"]
        tolerance = 0.5 * 10 ** -decimals * (1 + 1e-9)
        default = f"A single number rounded to {decimals} decimal place(s)." if decimals else "A single integer."
        return "numeric", {"abs_tol": tolerance, "rel_tol": 1e-9}, question["guideline"] or default
    if kind == "list":
        return "list_match", {}, question["guideline"] or "A comma-separated list."
    return "exact_match", {}, question["guideline"] or "A short text answer."


def task_id(dataset: Dataset, index: int, question: dict[str, Any]) -> str:
    """Stable per question text: regenerating with other settings never reuses another question's rollouts."""
    digest = hashlib.sha256(json.dumps(question, sort_keys=True).encode()).hexdigest()[:8]
    return f"{dataset.name}-q{index}-{digest}"


def candidate(dataset: Dataset, suite: str, index: int, question: dict[str, Any]) -> Task:
    """A task with no reference answer yet (metric ``pending``): the rollouts' consensus becomes it."""
    metric, params, guideline = grading(question)
    return Task(id=task_id(dataset, index, question), suite=suite, question=question["question"],
                guideline=guideline, data_files=list(dataset.files), metric="pending", data_root=dataset.root,
                metadata={"dataset": dataset.name, "source": dataset.source, "answer_type": question["answer_type"],
                          "final_metric": metric, "final_metric_params": params})
