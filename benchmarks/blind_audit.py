"""Blind audit of an answer suite: write what the blind probe shows, count the tasks a model answered blind.

A model that sees only a task's prompt (context, question, answer format and data file names; no data,
no code) should not be able to answer it.  This script is the offline half of that check:

    python benchmarks/blind_audit.py prompts dsgym-tasks-lite --out prompts.jsonl
    # ... have a model answer each line's "prompt" (system text: dsgym.filter.probe.SYSTEM) ...
    python benchmarks/blind_audit.py grade dsgym-tasks-lite answers.jsonl

``prompts`` writes one line ``{"task": id, "prompt": text}`` per answer task, the exact user message of
the blind probe (no answers; ``dsgym filter --write-blind-prompts`` writes the same with the system text
and the prompt's sha256).  ``grade`` reads one line ``{"task", "sample", "answer", "model"}`` per recorded
answer, checks and grades them exactly as ``dsgym filter --blind-answers`` does (``dsgym.filter.recorded``:
the ``<answer>`` tag's content or the bare text, the task's own metric, full marks is right) and prints
how many tasks were answered right by at least one sample, without writing a filtered suite.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import dsgym
from dsgym.filter.output import FilterError
from dsgym.filter.probe import probe_prompt
from dsgym.filter.recorded import grade, load_answers


def write_prompts(suite: str, out: Path) -> int:
    tasks = [t for t in dsgym.get_suite(suite).tasks.values() if t.kind == "answer"]
    out.write_text("".join(json.dumps({"task": t.id, "prompt": probe_prompt(t)}, ensure_ascii=False) + "\n"
                           for t in tasks), encoding="utf-8")
    return len(tasks)


def grade_file(suite_name: str, path: Path) -> dict[str, Any]:
    """Every recorded answer graded; the tasks right by at least one sample; the tasks not probed."""
    suite = dsgym.get_suite(suite_name)
    recorded = load_answers(path, suite)
    by_task = {task_id: grade(suite.tasks[task_id], answers) for task_id, answers in recorded.by_task.items()}
    answer_tasks = [t.id for t in suite.tasks.values() if t.kind == "answer"]
    return {"suite": suite_name, "answers_sha256": recorded.sha256, "models": recorded.models,
            "tasks": len(answer_tasks), "probed": len(by_task), "answers": recorded.count,
            "right_tasks": sorted(t for t, samples in by_task.items() if any(s.get("passed") for s in samples)),
            "right_answers": sum(bool(s.get("passed")) for samples in by_task.values() for s in samples),
            "not_probed": [t for t in answer_tasks if t not in by_task], "by_task": by_task}


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
    except FilterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for task_id in report["right_tasks"]:
        right = next(s for s in report["by_task"][task_id] if s.get("passed"))
        print(f"right  {task_id}: {right['answer']}")
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
