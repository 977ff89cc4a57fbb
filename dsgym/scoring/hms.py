"""DiscoveryBench's hypothesis-matching score (HMS) as the official DSGym release computes it (docs/scoring.md).

A judge model does every step; the arithmetic is the release's:

1. Each hypothesis (the gold one and the answer) is split into sub-hypotheses, each with a
   context, variables and relations.  A split that fails leaves the whole hypothesis as one
   sub-hypothesis with context ``"None"``.
2. Each answer sub-hypothesis, in order, is paired with the first gold one not taken yet whose
   context matches: equal context texts match without asking; a ``"None"`` context matches
   nothing else; otherwise the judge says whether the contexts mean the same.
3. For a matched pair the judge compares the two *whole* hypotheses (the release passes the
   full texts, not the sub-hypotheses) on variables (sizes of both sets and their fuzzy
   intersection: F1 of precision ``intersection/answer's`` and recall ``intersection/gold's``)
   and on relation (very similar 1, similar but more general 0.5, different 0).  The pair
   scores ``1 x F1 x relation``.
4. HMS = (gold sub-hypotheses matched / gold sub-hypotheses) x (sum of pair scores / answer
   sub-hypotheses).

Where the judge gives no verdict, dsgym departs from the release: the release reads an
unreadable variables or relation reply as -1 and multiplies it in (two of them make 1.0), a
relation whose request failed as 0, and a failed split or context check as "no match".  Here
any of those is a scoring error (``JudgeReplyError``, ``JudgeRequestError``) that keeps the
answer for ``dsgym rescore --judge``: a number made of missing verdicts is not a score.

The release evaluates DiscoveryBench with ``llm_score`` too (``dsgym.scoring.official_judge``);
with ``llm_score=True`` its verdict is recorded in the breakdown beside the HMS.  The release's
evaluator hands HMS no dataset description (its metadata argument is never filled), so neither
does this.
"""

from __future__ import annotations

import json
import re
from typing import Any

from dsgym.scoring.judge import JudgeReplyError, JudgeRequestError, judge_model, open_judge
from dsgym.scoring.official import raw_text
from dsgym.scoring.official_judge import official_llm_score
from dsgym.scoring.result import Score
from dsgym.scoring.text import as_text, preview, read_with_reference

NO_DATASETS = [{"dataset_description": "", "columns": []}]
JSON_REPLY = {"response_format": {"type": "json_object"}}

SPLIT = """\
Break a hypothesis into the parts that define it, using only what the hypothesis and its workflow say \
(add nothing new, leave out no important detail):
- context: the boundary conditions that limit where it holds, e.g. "for men over 30", "in Asia and \
Europe"; when it holds for the whole dataset, take the context from the dataset description;
- variables: the concepts (columns) that interact in it, e.g. gender, age, income, or "None";
- relations: how those variables interact, e.g. "quadratic relationship", "inversely proportional", \
a piecewise condition, or "None".
A hypothesis may hold several sub-hypotheses; list each.

Task metadata:
```json
{metadata}
```

Reply with a JSON object:
{{"sub_hypo": [{{"text": "<the sub-hypothesis in words>", "context": "<its context>", \
"variables": ["<column>", ...], "relations": "<the relation between the variables>"}}, ...]}}"""

SAME_CONTEXT = """\
Does a predicted context mean the same as a gold context?  A context is a boundary condition that \
limits where a sub-hypothesis holds (e.g. "for men over 30", "in Asia and Europe"); a hypothesis over \
the full dataset takes its context from the dataset description.  Two hypotheses that both hold over \
the full dataset have matching contexts.

```json
{metadata}
```

Reply with a JSON object: {{"match": true}} or {{"match": false}}"""

JUDGE_SYSTEM = ("You evaluate hypotheses derived from data. Reply only with what is asked, with no "
                "conversation around it.")

COMPARE = """\
Two hypotheses, HypoA and HypoB (with optional workflows WorkflowA and WorkflowB), each answer the \
query below over the dataset(s) described below.  Hypotheses differ in three ways: contexts (the \
stratification of the data under which a hypothesis holds, e.g. "for all women", "from 1995 to \
2009"), variables (the dependent and independent variables it mentions) and relations (the form of \
the relation between the variables, e.g. "surged by about 10x").  Answer the question that follows, \
grounded in the query and the data.

```json
{metadata}
```

{question}"""

VARIABLES = """\
Question: which variables does each hypothesis use?  Reply with a JSON object:
{"sizeA": <number of variables in HypoA>, "sizeB": <number of variables in HypoB>, \
"intersection": <number of variables found in both; match them fuzzily, so paraphrases and \
different surface forms of one variable count once>, "explanation": "<a short explanation>"}"""

RELATION = """\
Question: does HypoB state the same relation as HypoA?  Relations order by how specific they are, e.g. \
"some relationship" > "positive relationship" > "positive and (linear or quadratic)" > "positive and \
linear".
Options: A) very similar  B) similar but general than HypoA  C) different
Reply with a JSON object: {"answer": "<one of the options>", "explanation": "<a short explanation>"}"""


def json_object(text: str) -> dict[str, Any] | None:
    """The JSON object in a reply: a ```json fenced block, else the span from the first '{' to the last '}'."""
    fenced = re.search(r"```json\s*(.*?)\s*```", text, re.DOTALL)
    candidates = [fenced.group(1)] if fenced else []
    start, end = text.find("{"), text.rfind("}")
    candidates += [text.strip()] + ([text[start:end + 1]] if 0 <= start < end else [])
    for candidate in candidates:
        try:
            value = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return None


def variable_scores(reply: str) -> dict[str, Any]:
    """Precision, recall and F1 of the variables from the judge's counts; -1 each when unreadable."""
    found = json_object(reply)
    unreadable = {"p": -1.0, "r": -1.0, "f1": -1.0, "unreadable": True}
    if found is None:
        return unreadable
    try:
        size_a, size_b, both = found.get("sizeA"), found.get("sizeB"), found.get("intersection")
        p = both / size_b if size_b else 0.0
        r = both / size_a if size_a else 0.0
        f1 = 2 * p * r / (p + r) if p > 0 and r > 0 else 0.0
        return {"p": p, "r": r, "f1": f1, "sizeA": size_a, "sizeB": size_b, "intersection": both}
    except (TypeError, ZeroDivisionError):  # a count missing or not a number: the release reads -1
        return unreadable


def relation_score(reply: str) -> float:
    """1 (very similar), 0.5 (similar but more general), 0 (different), -1 (unreadable)."""
    found = json_object(reply)
    said = found.get("answer") if found else None
    if found is None or (said is not None and not isinstance(said, str)):
        return -1.0
    said = (said or "").strip()
    if said.startswith("A") or "very similar" in said:
        return 1.0
    if said.startswith("B") or "similar but general than HypoA" in said:
        return 0.5
    if said.startswith("C") or "different" in said:
        return 0.0
    return -1.0


class _Judge:
    """The judge's calls for one HMS, with what each cost."""

    def __init__(self, client: Any) -> None:
        self.client, self.calls, self.cached = client, 0, 0
        self.failures: list[str] = []

    def ask(self, messages: list[dict[str, str]], **params: Any) -> str | None:
        """The reply's text, or None when the request failed (noted: ``official_hms`` then gives no score)."""
        from dsgym.llm import LLMError  # openai only once a judge is used

        try:
            reply = self.client.chat(messages, **params)
        except LLMError as exc:
            self.failures.append(str(exc)[:300])
            return None
        self.calls += 1
        self.cached += bool(reply.cached)
        return reply.text or ""

    def split(self, hypothesis: str) -> list[dict[str, Any]]:
        metadata = json.dumps({"datasets": NO_DATASETS, "hypothesis": hypothesis, "workflow": ""}, indent=1)
        reply = self.ask([{"role": "user", "content": SPLIT.format(metadata=metadata)}], **JSON_REPLY)
        found = json_object(reply) if reply else None
        parts = found.get("sub_hypo") if found else None
        parts = [p for p in parts if isinstance(p, dict)] if isinstance(parts, list) else []
        return parts or [{"text": hypothesis, "context": "None", "variables": [], "relations": ""}]

    def same_context(self, gold: dict[str, Any], mine: dict[str, Any]) -> bool:
        a, b = gold.get("context", ""), mine.get("context", "")
        if a == b:
            return True
        if "None" in (a, b):
            return False
        metadata = json.dumps({"gold_hypothesis": gold.get("text"), "gold_context": a,
                               "predicted_hypothesis": mine.get("text"), "predicted_context": b}, indent=1)
        reply = self.ask([{"role": "user", "content": SAME_CONTEXT.format(metadata=metadata)}], **JSON_REPLY)
        found = json_object(reply) if reply else None
        return bool(found.get("match", False)) if found else False

    def compare(self, question: str, gold: str, mine: str, dimension: str) -> str | None:
        metadata = json.dumps({"datasets": NO_DATASETS, "query": question, "HypoA": gold, "WorkflowA": "",
                               "HypoB": mine, "WorkflowB": ""}, indent=1)
        asked = COMPARE.format(metadata=metadata, question=VARIABLES if dimension == "var" else RELATION)
        return self.ask([{"role": "system", "content": JUDGE_SYSTEM}, {"role": "user", "content": asked}],
                        max_tokens=512, **JSON_REPLY)


def official_hms(prediction: str, reference: Any, question: str = "", model: str | None = None,
                 base_url: str | None = None, api_key: str | None = None, cache_dir: str | None = None,
                 cache: bool = True, timeout: float = 120.0, max_retries: int = 4, max_tokens: int | None = 2048,
                 llm_score: bool = True) -> Score:
    """The hypothesis-matching score of an answer against the gold hypothesis, in [0, 1]."""
    model, base_url = judge_model("official_hms", model, base_url)
    text, failed = read_with_reference(prediction, reference, raw_text)
    if failed:
        return failed
    gold_text = as_text(reference)
    judge = _Judge(open_judge(model, base_url, api_key, cache_dir, cache, timeout, max_retries, max_tokens))
    gold, mine = judge.split(gold_text), judge.split(text)
    taken: list[int] = []
    pairs: list[tuple[int, int]] = []
    for p, part in enumerate(mine):
        for g, gold_part in enumerate(gold):
            if g not in taken and judge.same_context(gold_part, part):
                taken.append(g)
                pairs.append((p, g))
                break
    variables: dict[str, Any] = {}
    relation = None
    pair_score = 0.0
    if pairs:  # every pair compares the whole hypotheses, so one comparison serves them all
        var_reply = judge.compare(question, gold_text, text, "var")
        rel_reply = judge.compare(question, gold_text, text, "rel")
        if var_reply is not None and rel_reply is not None:
            variables, relation = variable_scores(var_reply), relation_score(rel_reply)
            unreadable = [name for name, value in (("variables", variables["f1"]), ("relation", relation))
                          if value == -1.0]
            if unreadable:  # the release multiplies the -1s in: two of them make a perfect score
                raise JudgeReplyError(
                    f"the judge's reply to HMS's {' and '.join(unreadable)} question was unreadable "
                    f"({model} at {judge.client.base_url}): no score (the release would multiply in -1 for it). "
                    f"Replies: {preview(var_reply, 300)!r} / {preview(rel_reply, 300)!r}")
            pair_score = 1.0 * variables["f1"] * relation
    if judge.failures:  # a split or context check that failed would read as "no match": a 0 that is not one
        raise JudgeRequestError(f"{len(judge.failures)} request(s) to HMS's judge ({model} at "
                                f"{judge.client.base_url}) failed after retries: no score; `dsgym rescore RUN "
                                f"--judge` asks again. First: {judge.failures[0]}")
    recall_context = len(taken) / len(gold)
    mean_accuracy = pair_score * len(pairs) / len(mine)
    breakdown: dict[str, Any] = {
        "judge_model": model, "judge_base_url": judge.client.base_url,
        "gold_sub_hypotheses": preview(gold), "answer_sub_hypotheses": preview(mine),
        "matched": [f"P{p}||G{g}" for p, g in pairs], "recall_context": recall_context,
        "variables": variables, "relation": relation, "mean_accuracy": mean_accuracy,
        "judge_calls": judge.calls, "cached_calls": judge.cached}
    if llm_score:
        verdict = official_llm_score(text, gold_text, question, model=model, base_url=base_url, api_key=api_key,
                                     cache_dir=cache_dir, cache=cache, timeout=timeout, max_retries=max_retries)
        breakdown["llm_score"] = verdict.value
        breakdown["llm_score_breakdown"] = {k: v for k, v in verdict.breakdown.items()
                                            if k not in ("judge_model", "judge_base_url")}
    return Score(recall_context * mean_accuracy, breakdown)
