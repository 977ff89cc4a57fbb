"""Quality checks: the reference answer reproduces, deterministically; it is well-formed under the
task's metric; the data files exist and load; the question is not a duplicate."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from dsgym.filter.checks import CheckResult, normalize_text, render_answer, same_answer
from dsgym.grading import grade
from dsgym.scoring import JudgeConfigError
from dsgym.task import Task
from dsgym.validation import check_task


def reproduces_result(task: Task, run: dict[str, Any] | None) -> CheckResult:
    if task.kind != "answer":
        return CheckResult("skip", "prediction task: graded on a submission file")
    if not task.solution:
        return CheckResult("skip", "no reference solution")
    if run is None:
        return CheckResult("skip", "not run")
    if run.get("infra"):
        return CheckResult("error", f"the sandbox failed: {run.get('error')}")
    if run.get("answer") is None:
        return CheckResult("fail", f"the reference solution failed: {run.get('error')}", {"run": run})
    equal, how = same_answer(task, run["answer"], task.answer)
    evidence = {"stored": render_answer(task.answer)[:300], "computed": run["answer"][:300], "compared": how}
    if equal:
        return CheckResult("pass", "the reference solution reproduces the stored answer", evidence)
    return CheckResult("fail", f"the reference solution gives {run['answer'][:80]!r}, the stored answer is "
                               f"{render_answer(task.answer)[:80]!r} ({how})", evidence)


def deterministic_result(task: Task, first: dict[str, Any] | None, second: dict[str, Any] | None) -> CheckResult:
    if not task.solution or task.kind != "answer":
        return CheckResult("skip", "no reference solution" if not task.solution else "prediction task")
    if first is None or second is None:
        return CheckResult("skip", "not run")
    if first.get("infra") or second.get("infra"):
        return CheckResult("error", "the sandbox failed: "
                                    f"{first.get('error') if first.get('infra') else second.get('error')}")
    a, b = first.get("answer"), second.get("answer")
    evidence = {"first": (a or first.get("error") or "")[:300], "second": (b or second.get("error") or "")[:300]}
    if a is None and b is None:
        if first.get("error") == second.get("error"):
            return CheckResult("skip", "the solution failed the same way twice (see reproduces)", evidence)
        return CheckResult("fail", "the solution failed differently in two runs", evidence)
    if a is None or b is None:
        return CheckResult("fail", "the solution gave an answer in one run and failed in the other", evidence)
    if a == b:
        return CheckResult("pass", "two runs in fresh sandboxes gave the same answer", evidence)
    equal, how = same_answer(task, b, a)
    if equal:
        return CheckResult("pass", f"two runs differ in text but the metric equates them ({how})", evidence)
    return CheckResult("fail", f"two runs in fresh sandboxes gave different answers: {a[:60]!r} vs {b[:60]!r}",
                       evidence)


def well_formed_result(task: Task) -> CheckResult:
    """The static problems of ``dsgym.validation`` (bar missing data) and a self-score of 1."""
    problems = [p for p in check_task(task, need_solution=False) if not p.startswith("data file(s) missing")]
    if problems:
        return CheckResult("fail", "; ".join(problems))
    if task.kind != "answer":
        return CheckResult("skip", "prediction task: graded on a submission file")
    rendered = render_answer(task.answer)
    try:
        score = grade(task, rendered)
    except JudgeConfigError as exc:
        return CheckResult("skip", f"an LLM-judge metric needs a judge model to self-score: {exc}"[:300])
    except Exception as exc:  # noqa: BLE001 - invalid metric parameters and the like are the finding
        return CheckResult("fail", f"the metric cannot grade the stored answer: {type(exc).__name__}: {exc}"[:300])
    evidence = {"answer": rendered[:300], "score": round(float(score.value), 6),
                "breakdown": {k: v for k, v in score.breakdown.items() if isinstance(v, (str, int, float, bool))}}
    if score.value < 1.0 - 1e-9:
        reason = score.breakdown.get("reason") or "it scores below 1"
        return CheckResult("fail", f"the stored answer does not score 1.0 against itself under {task.metric}: "
                                   f"{reason} (score {score.value:g})", evidence)
    return CheckResult("pass", f"the stored answer parses and scores 1.0 under {task.metric}", evidence)


def data_files_result(task: Task, run: dict[str, Any] | None) -> CheckResult:
    """Missing files fail on the host; the others must load in the sandbox run (``run["loads"]``)."""
    missing = task.missing_data()
    loads = run.get("loads") if run else None
    evidence: dict[str, Any] = {"files": list(task.data_files)}
    if missing:
        evidence["missing"] = missing
        return CheckResult("fail", f"data file(s) missing: {', '.join(missing)}", evidence)
    if not task.data_files:
        return CheckResult("pass", "the task has no data files", evidence)
    if run and run.get("infra"):
        return CheckResult("error", f"the sandbox failed: {run.get('error')}", evidence)
    if loads is None:
        return CheckResult("pass", "all data files exist (not loaded: no sandbox run)", evidence)
    evidence["loads"] = loads
    bad = {rel: how for rel, how in sorted(loads.items()) if how != "ok"}
    if bad:
        return CheckResult("fail", "data file(s) do not load: "
                           + "; ".join(f"{rel}: {how}" for rel, how in bad.items())[:500], evidence)
    return CheckResult("pass", "all data files exist and load", evidence)


def duplicate_results(tasks: list[Task], digest: Callable[[Path], str]) -> dict[str, CheckResult]:
    """The first task with a given (normalised question, data contents) is kept; later ones are duplicates."""
    first: dict[tuple[str, tuple[str, ...]], str] = {}
    out: dict[str, CheckResult] = {}
    for task in tasks:
        data = tuple(sorted(digest(path) if path.exists() else f"missing:{rel}"
                            for rel, path in task.data_paths().items()))
        key = (normalize_text(task.question), data)
        if key in first:
            out[task.id] = CheckResult("fail", f"same question and data as task {first[key]}",
                                       {"duplicate_of": first[key]})
        else:
            first[key] = task.id
            out[task.id] = CheckResult("pass", "no other task has this question over the same data")
    return out
