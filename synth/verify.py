"""Stage 3: re-execute each trajectory's code from scratch and check that it produces the claimed answer.

A rollout that submitted an answer is replayed cell by cell in a fresh sandbox
(same image, same read-only data, a new kernel).  It is *verified* when the
answer can be read off the re-run's output under the task's final metric: a
printed number within the metric's tolerance (so rounding to the requested
decimals counts), the answer text as whole words, every item of a list answer.
Output of a cell whose own code holds the answer as a literal (``print(42.17)``)
is not evidence: the answer must be computed, not typed.

Then ``consensus`` groups the verified answers of a task's k rollouts under the
task's metric; the largest group becomes the reference answer when it holds more
than ``agreement`` of the k rollouts.
"""

from __future__ import annotations

import ast
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dsgym.actions import format_execution, parse_action
from dsgym.filter.checks import normalize_text, same_answer
from dsgym.sandbox.base import Sandbox, SandboxError
from dsgym.sandbox.spec import fresh
from dsgym.scoring.lists import parse_items
from dsgym.scoring.numbers import find_numbers, within
from dsgym.task import Task

VERIFY_VERSION = 1
OUTPUT_CHARS = 200_000  # per cell, of re-run output searched for the answer
MIN_LITERAL_DIGITS = 2  # a hard-coded number needs at least this many digits to count as one

VERIFIED = "verified"
NOT_REPRODUCED = "not_reproduced"
NO_ANSWER = "no_answer"
ROLLOUT_ERROR = "rollout_error"
RERUN_ERROR = "error"  # the sandbox failed: not a verdict, retried by a rerun


@dataclass
class Rerun:
    outputs: list[str] = field(default_factory=list)
    error: str | None = None
    duration: float = 0.0


def cells(record: dict[str, Any]) -> list[str]:
    """The code the rollout ran, in order (actions the env did not run as code are skipped)."""
    out = []
    for turn in record.get("turns", []):
        if turn.get("action_kind") == "code":
            action = parse_action(turn.get("action", ""))
            if action.kind == "code":
                out.append(action.content)
    return out


def rerun(code: list[str], files: dict[str, Any], factory: Callable[[], Sandbox], timeout: float) -> Rerun:
    """Run ``code`` cell by cell in a fresh sandbox; a cell that fails is output like any other."""
    started = time.monotonic()
    result = Rerun()
    try:
        with fresh(factory, files) as sandbox:
            for cell in code:
                executed = sandbox.execute(cell, timeout)
                result.outputs.append(format_execution(executed, OUTPUT_CHARS, []))
    except (SandboxError, OSError) as exc:
        result.error = f"sandbox failed: {exc}"[:1000]
    result.duration = time.monotonic() - started
    return result


def final_task(task: Task, reference: Any = None) -> Task:
    """The candidate with its real metric (kept in metadata while it is pending) and a reference."""
    return task.model_copy(update={"metric": task.metadata["final_metric"],
                                   "metric_params": dict(task.metadata.get("final_metric_params", {})),
                                   "answer": reference})


def _literals(code: str) -> tuple[list[float], list[str]]:
    """Numbers and strings written literally in ``code`` (read with ``ast``; a syntax error gives none)."""
    numbers, strings = [], []
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return numbers, strings
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant):
            if isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
                numbers.append(float(node.value))
            elif isinstance(node.value, str):
                strings.append(normalize_text(node.value))
    return numbers, strings


def _digits(text: str) -> int:
    return sum(ch.isdigit() for ch in text)


@dataclass(frozen=True)
class _Item:
    key: str  # normalised text
    number: float | None


def _items(task: Task, answer: str) -> list[_Item]:
    if task.metadata.get("answer_type") == "text":
        return [_Item(normalize_text(answer), None)]
    parsed = parse_items(answer if task.metadata.get("answer_type") == "list" else [answer])
    return [_Item(normalize_text(i.key) if i.number is None else i.key, i.number) for i in parsed]


def _typed_in(item: _Item, code: str, tol: tuple[float, float]) -> bool:
    numbers, strings = _literals(code)
    if item.number is not None:
        return _digits(str(item.key)) >= MIN_LITERAL_DIGITS and any(within(n, item.number, *tol) for n in numbers)
    return len(item.key) >= 3 and any(item.key in s for s in strings)


def _shown(item: _Item, output: str, tol: tuple[float, float]) -> bool:
    if item.number is not None:
        return any(within(found.value, item.number, *tol) for found in find_numbers(output))
    words = normalize_text(output)
    return bool(item.key) and re.search(rf"(?<!\w){re.escape(item.key)}(?!\w)", words) is not None


def evidence(task: Task, answer: str, code: list[str], outputs: list[str]) -> tuple[bool, str]:
    """Whether every item of ``answer`` shows in some re-run cell's output that did not type it in."""
    params = task.metadata.get("final_metric_params", {})
    tol = (float(params.get("rel_tol", 1e-6)), float(params.get("abs_tol", 0.0)))
    items = [item for item in _items(task, answer) if item.key or item.number is not None]
    if not items:
        return False, "the answer is empty"
    where = []
    for item in items:
        cell = next((i for i, (src, out) in enumerate(zip(code, outputs), 1)
                     if _shown(item, out, tol) and not _typed_in(item, src, tol)), None)
        if cell is None:
            typed = any(_shown(item, out, tol) for out in outputs)
            why = "only printed by a cell that has it as a literal" if typed else "not in the re-run's output"
            return False, f"{item.key!r}: {why}"
        where.append(cell)
    return True, f"shown by re-run cell(s) {sorted(set(where))}"


def verify(task: Task, record: dict[str, Any], factory: Callable[[], Sandbox], timeout: float) -> dict[str, Any]:
    """The verdict on one rollout: ``status`` (verified, not_reproduced, no_answer, rollout_error, error)."""
    base = {"sample": record.get("sample", 0), "answer": record.get("answer"), "turns": len(record.get("turns", []))}
    if record.get("status") == "error":
        return {**base, "status": ROLLOUT_ERROR, "reason": f"{record.get('error_type')}: {record.get('error')}"[:300]}
    answer = record.get("answer")
    if record.get("termination") != "answer" or not isinstance(answer, str) or not answer.strip():
        return {**base, "status": NO_ANSWER, "reason": f"ended without an answer ({record.get('termination')})"}
    code = cells(record)
    base["cells"] = len(code)
    if not code:
        return {**base, "status": NOT_REPRODUCED, "reason": "the answer was given without running any code"}
    result = rerun(code, task.data_paths(), factory, timeout)
    base["duration"] = round(result.duration, 3)
    if result.error:
        return {**base, "status": RERUN_ERROR, "reason": result.error}
    found, how = evidence(task, answer, code, result.outputs)
    return {**base, "status": VERIFIED if found else NOT_REPRODUCED, "reason": how}


def _reference(task: Task, answer: str) -> Any:
    """The consensus answer as a task's reference: a rounded number, else the answer text."""
    if task.metadata.get("answer_type") == "number":
        numbers = find_numbers(answer)
        if len(numbers) == 1:
            return numbers[0].value
    return answer.strip()


def consensus(task: Task, verdicts: list[dict[str, Any]], k: int, agreement: float) -> dict[str, Any]:
    """Group verified answers under the task's metric; a group of more than ``agreement * k`` wins."""
    groups: list[list[dict[str, Any]]] = []
    for verdict in sorted((v for v in verdicts if v["status"] == VERIFIED), key=lambda v: v["sample"]):
        for group in groups:
            if same_answer(final_task(task), verdict["answer"], _reference(task, group[0]["answer"]))[0]:
                group.append(verdict)
                break
        else:
            groups.append([verdict])
    sizes = [len(g) for g in groups]
    if not groups or max(sizes) <= agreement * k:
        return {"agreed": False, "groups": sizes, "k": k,
                "reason": f"no answer shared by more than {agreement:g} of {k} rollouts (verified groups: "
                          f"{sizes or 'none'})"}
    best = max(groups, key=len)  # the first of the largest groups (lowest sample) on a tie
    text = Counter(v["answer"].strip() for v in best).most_common(1)[0][0]
    return {"agreed": True, "answer": _reference(task, text), "samples": [v["sample"] for v in best],
            "groups": sizes, "k": k, "reason": f"{len(best)} of {k} rollouts agree"}
