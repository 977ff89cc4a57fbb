"""Blind audit of an answer suite: write what the blind probe shows, grade answers recorded elsewhere.

A model that sees only a task's prompt (context, question, answer format and data file names; no data,
no code) should not be able to answer it.  This script is the offline half of that check:

    python benchmarks/blind_audit.py prompts dsgym-tasks-lite --out prompts.jsonl
    # ... have a model answer each line's "prompt" (system text: dsgym.filter.probe.SYSTEM) ...
    python benchmarks/blind_audit.py grade dsgym-tasks-lite answers.jsonl

``prompts`` writes one line ``{"task": id, "prompt": text}`` per task, the exact user message of
``dsgym.filter.probe`` (no answers).  ``grade`` reads one line ``{"task", "sample", "answer", "model"}`` per
recorded answer (``answer`` is either the bare answer or a whole reply with ``<answer>...</answer>``, as
the live probe extracts it), grades each with the task's own metric exactly as the probe does, and
prints how many tasks were answered right.  A malformed line or an unknown task id is an error that
names the line; tasks without any answer are listed as not probed.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import dsgym
from dsgym.filter.probe import extract_answer, probe_prompt
from dsgym.scoring import score_answer
from dsgym.task import Task


class AnswerFileError(ValueError):
    """A line of the answers file that cannot be graded; the message names the file and line."""


def write_prompts(suite: str, out: Path) -> int:
    tasks = [t for t in dsgym.get_suite(suite).tasks.values() if t.kind == "answer"]
    out.write_text("".join(json.dumps({"task": t.id, "prompt": probe_prompt(t)}, ensure_ascii=False) + "\n"
                           for t in tasks), encoding="utf-8")
    return len(tasks)


def read_answers(path: Path, tasks: dict[str, Task]) -> list[dict[str, Any]]:
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise AnswerFileError(f"{where}: not valid JSON ({exc.msg})") from None
        if not isinstance(row, dict) or not isinstance(row.get("task"), str) or "answer" not in row:
            raise AnswerFileError(f"{where}: expected an object with a string 'task' and an 'answer'")
        if row["task"] not in tasks:
            raise AnswerFileError(f"{where}: unknown task {row['task']!r} (not in the suite)")
        rows.append({**row, "line": number})
    return rows


def grade(task: Task, answer: Any) -> tuple[bool, str]:
    """(passed, graded text) as the live probe grades: tags extracted when present, else the bare text."""
    text = answer if isinstance(answer, str) else json.dumps(answer)
    extracted = extract_answer(text) if "<answer>" in text.lower() else (text.strip() or None)
    if extracted is None:
        return False, ""
    try:
        score = score_answer(task.metric, extracted, task.answer, task.metric_params, question=task.question)
    except Exception as exc:  # noqa: BLE001 - a metric that cannot grade this answer: a miss, reported
        return False, f"{extracted} (grading failed: {type(exc).__name__})"
    return score.value >= 1.0 - 1e-9, extracted


def grade_file(suite: str, path: Path) -> dict[str, Any]:
    tasks = {t.id: t for t in dsgym.get_suite(suite).tasks.values() if t.kind == "answer"}
    by_task: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in read_answers(path, tasks):
        passed, graded = grade(tasks[row["task"]], row["answer"])
        by_task[row["task"]].append({"sample": row.get("sample", 0), "model": row.get("model"),
                                     "answer": graded, "passed": passed})
    right = sorted(task_id for task_id, samples in by_task.items() if any(s["passed"] for s in samples))
    answers = sum(len(samples) for samples in by_task.values())
    return {"suite": suite, "tasks": len(tasks), "probed": len(by_task), "answers": answers,
            "right_tasks": right, "right_answers": sum(s["passed"] for v in by_task.values() for s in v),
            "not_probed": sorted(set(tasks) - set(by_task)),
            "models": sorted({str(s["model"]) for v in by_task.values() for s in v}), "by_task": dict(by_task)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("prompts", help="write the blind-probe prompt of every answer task")
    p.add_argument("suite")
    p.add_argument("--out", type=Path, required=True)
    g = sub.add_parser("grade", help="grade recorded blind answers with each task's metric")
    g.add_argument("suite")
    g.add_argument("answers", type=Path)
    g.add_argument("--json", type=Path, help="also write the full per-answer grading here")
    args = parser.parse_args(argv)
    if args.command == "prompts":
        print(f"{write_prompts(args.suite, args.out)} prompts written to {args.out}")
        return 0
    try:
        report = grade_file(args.suite, args.answers)
    except (AnswerFileError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for task_id in report["right_tasks"]:
        right = [s["answer"] for s in report["by_task"][task_id] if s["passed"]]
        print(f"right  {task_id}: {right[0]}")
    print(f"models: {', '.join(report['models'])}")
    print(f"answered right blind: {len(report['right_tasks'])} of {report['probed']} probed tasks "
          f"({report['right_answers']} of {report['answers']} answers); suite has {report['tasks']} answer tasks")
    if report["not_probed"]:
        print(f"not probed ({len(report['not_probed'])}): {', '.join(report['not_probed'])}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
