"""The blind probe: can a model answer the task from its prompt alone, with the data withheld?

The model sees the task's context, question and answer format and the NAMES of
its data files, and is told that it has no data, no files and no code.  It
answers ``k`` times (``sample_index`` 0..k-1: separate cache entries, so a rerun
costs nothing); each answer must sit in ``<answer>...</answer>`` and is graded
with the task's own metric.  A sample whose request failed (after the client's
retries), whose reply has no answer tag or whose grading raised is an error or a
miss, never a pass.  The pass rate is passes / k.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from dsgym.filter.checks import CheckResult
from dsgym.llm import LLMClient
from dsgym.grading import grade
from dsgym.task import Task

PROBE_VERSION = 1
ANSWER = re.compile(r"<answer>(.*?)</answer>", re.DOTALL | re.IGNORECASE)
REPLY_CHARS = 400

SYSTEM = (
    "You are helping to audit a data-analysis benchmark. You are shown a task WITHOUT its data: "
    "you have no access to the data files, their contents, a sandbox, code execution or any tool. "
    "You see only the task's context, its question, the required answer format and the names of "
    "its data files. Answer from what you know or can infer, and give your single best answer even "
    "if you are unsure. Put the final answer alone inside <answer></answer> tags."
)


def probe_prompt(task: Task) -> str:
    lines = task.statement()
    names = ", ".join(task.data_files) if task.data_files else "(none)"
    lines += [f"Data files (names only; their contents are withheld from you): {names}", "",
              "You cannot run code or open the files. Reply with <answer>your answer</answer>."]
    return "\n".join(lines)


def probe_messages(task: Task) -> list[dict[str, str]]:
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": probe_prompt(task)}]


def prompt_digest(task: Task) -> str:
    """The sha256 of the probe's messages for ``task``: what a recorded answer must have been given."""
    return hashlib.sha256(json.dumps(probe_messages(task), sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def extract_answer(reply: Any) -> str | None:
    """The text of the first ``<answer>`` tag, stripped; None if there is none or it is empty."""
    if not isinstance(reply, str):
        return None
    found = ANSWER.search(reply)
    if found is None:
        return None
    return found.group(1).strip() or None


def probe_key(task: Task, client: LLMClient, samples: int, temperature: float, max_tokens: int | None) -> str:
    """What a stored probe result depends on: the prompt, the grading and the sampling."""
    material = {"version": PROBE_VERSION, "messages": probe_messages(task), "model": client.model,
                "base_url": client.base_url, "samples": samples, "temperature": temperature,
                "max_tokens": max_tokens, "metric": task.metric, "metric_params": task.metric_params,
                "answer": task.answer, "question": task.question}
    blob = json.dumps(material, sort_keys=True, default=repr, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


def run_sample(task: Task, client: LLMClient, index: int, temperature: float,
               max_tokens: int | None) -> dict[str, Any]:
    """One blind answer, graded.  Never raises: a failure is the sample's ``error``."""
    sample: dict[str, Any] = {"index": index, "passed": False}
    overrides: dict[str, Any] = {"temperature": temperature, "sample_index": index}
    if max_tokens is not None:
        overrides["max_tokens"] = max_tokens
    try:
        reply = client.chat(probe_messages(task), **overrides)
    except Exception as exc:  # noqa: BLE001 - errors after retries, bad replies: never a pass, never a crash
        sample["error"] = f"{type(exc).__name__}: {exc}"[:500]
        return sample
    text = reply.text if isinstance(reply.text, str) else ""
    sample["reply"] = text[:REPLY_CHARS]
    return grade_sample(task, sample, extract_answer(text), "no <answer>...</answer> in the reply")


def grade_sample(task: Task, sample: dict[str, Any], answer: str | None, miss: str) -> dict[str, Any]:
    """Grade one blind answer with the task's own metric (a pass is full marks), live or recorded alike.

    No answer is a miss (``miss`` says why); a grading error is the sample's ``error``, never a pass.
    """
    if answer is None:
        sample.update(score=0.0, miss=miss)
        return sample
    sample["answer"] = answer[:REPLY_CHARS]
    try:
        score = grade(task, answer)
    except Exception as exc:  # noqa: BLE001 - e.g. an LLM-judge metric without a judge model
        sample["error"] = f"grading failed: {type(exc).__name__}: {exc}"[:500]
        return sample
    sample.update(score=round(float(score.value), 6), passed=score.value >= 1.0 - 1e-9)
    return sample


def probe_complete(samples: list[dict[str, Any]]) -> bool:
    """A probe with an errored sample is redone by a rerun (its successful samples come from the cache)."""
    return not any("error" in s for s in samples)


def probe_result(task: Task, samples: list[dict[str, Any]], k: int, threshold: float) -> CheckResult:
    passes = sum(1 for s in samples if s.get("passed"))
    errors = sum(1 for s in samples if "error" in s)
    rate = passes / k if k else 0.0
    evidence = {"samples": samples, "k": k, "passes": passes, "errors": errors, "pass_rate": round(rate, 6),
                "threshold": threshold}
    if task.kind != "answer":
        return CheckResult("skip", "prediction task: no answer to guess", {})
    if rate >= threshold:
        return CheckResult("fail", f"answered without data in {passes}/{k} samples "
                                   f"(pass rate {rate:.2f} >= threshold {threshold:g})", evidence)
    if errors and (passes + errors) / k >= threshold:
        return CheckResult("error", f"{errors}/{k} samples failed; with {passes} passes the verdict depends on "
                                    "them (rerun to retry)", evidence)
    note = f"; {errors} sample(s) failed and counted as misses" if errors else ""
    return CheckResult("pass", f"answered without data in {passes}/{k} samples "
                               f"(pass rate {rate:.2f} < threshold {threshold:g}){note}", evidence)
