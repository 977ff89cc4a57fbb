"""``dsgym export dabstep``: a run's DABStep answers in the DABStep leaderboard's submission format.

The release carries answers for DABStep's 10 dev tasks only; the other 450 are graded by
the DABStep leaderboard (the ``adyen/DABstep`` Space on the Hugging Face hub), which takes
a JSON Lines file with one object per task::

    {"task_id": "5", "agent_answer": "NL", "reasoning_trace": "the steps that led there"}

``task_id`` and ``agent_answer`` are required, ``reasoning_trace`` optional, every value a
string.  The leaderboard refuses a file that lacks any of its tasks, and any missing value, so a task
the run did not finish (no answer: an error, or out of turns or time) is written with an
empty answer, which it scores as wrong, and listed for the caller to report.

A run's DABStep tasks are those of the ``dabstep`` suite or, in a union such as
``dsgym-tasks``, those whose metadata names ``dabstep`` as their source; ``task_id`` is the
official id from the task's metadata (or, when the suite is not registered here, the
run's task id without the union's ``dabstep-`` prefix).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dsgym.run_folder import load_run
from dsgym.runlog import atomic_write

SUITE = "dabstep"
PREFIX = f"{SUITE}-"  # a DABStep task's id in the dsgym-tasks union
FILE_NAME = "dabstep-submission.jsonl"


class DABStepExportError(ValueError):
    """The run cannot be exported (not a run folder, no DABStep task in it)."""


@dataclass
class Export:
    """What ``export_run`` wrote: the file, its line count, and the tasks written without an answer."""

    path: Path
    written: int = 0
    unfinished: list[str] = field(default_factory=list)  # official ids with why, e.g. "17 (max_turns)"


def export_run(run: str | os.PathLike[str], out: str | os.PathLike[str] | None = None, *, sample: int = 0) -> Export:
    """Write the DABStep tasks of run folder ``run`` (their ``sample``-th episode) to ``out``.

    ``out`` defaults to ``<run>/dabstep-submission.jsonl``.  Tasks are written in official id
    order; a task the run planned (its targets, where their suites are registered here) but
    has no episode of is written empty too, as not run.
    """
    from dsgym.runlog import RunDirError

    try:
        manifest, records, _ = load_run(run)
    except RunDirError as exc:
        raise DABStepExportError(str(exc)) from None
    planned = _planned_tasks(manifest.get("settings", {}).get("targets") or [])
    rows: dict[str, dict[str, str]] = {}
    unfinished: dict[str, str] = {}
    for (suite, task_id), task in planned.items():
        if (official := official_id({"suite": suite, "task_id": task_id}, task)) is not None:
            rows[official] = {"task_id": official, "agent_answer": "", "reasoning_trace": ""}
            unfinished[official] = "not run"
    for record in records:
        if record.get("variant") or int(record.get("sample", 0)) != sample:
            continue  # a variant's data differ from DABStep's; one episode per task
        key = (str(record.get("suite", "")), str(record.get("task_id", "")))
        official = official_id(record, planned.get(key))
        if official is None:
            continue
        answer = record.get("answer")
        finished = isinstance(answer, str) and (record.get("status") == "ok" or record.get("error_type") == "scoring")
        rows[official] = {"task_id": official, "agent_answer": answer.strip() if finished else "",
                          "reasoning_trace": reasoning_trace(record) if finished else ""}
        unfinished.pop(official, None)
        if not finished:
            unfinished[official] = record.get("error_type") or record.get("termination") or "no answer"
    if not rows:
        raise DABStepExportError(f"{run} holds no DABStep episode (sample {sample}): run the suite dabstep-test "
                                 "(DABStep's 450 test tasks), dabstep or dsgym-tasks first")
    path = Path(out) if out is not None else Path(run) / FILE_NAME
    body = "".join(json.dumps(rows[key], ensure_ascii=False) + "\n" for key in sorted(rows, key=_id_order))
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, body.encode("utf-8"))
    return Export(path=path, written=len(rows),
                  unfinished=[f"{key} ({unfinished[key]})" for key in sorted(unfinished, key=_id_order)])


def official_id(record: Mapping[str, Any], task: Any | None) -> str | None:
    """The DABStep task id of a run record, or None when the record is not of a DABStep task."""
    suite, task_id = str(record.get("suite", "")), str(record.get("task_id", ""))
    if task is not None:
        meta = task.metadata
        source = meta.get("source_suite", suite)
        if source != SUITE:
            return None
        value = meta.get("task_id", meta.get("source_id", task_id))
        return str(value).strip()
    if suite == SUITE:
        return task_id
    return task_id.removeprefix(PREFIX) if task_id.startswith(PREFIX) else None


def reasoning_trace(record: Mapping[str, Any]) -> str:
    """The episode's steps: each model reply (or action) and what running it showed."""
    parts = []
    for number, turn in enumerate(record.get("turns") or [], 1):
        said = turn.get("reply") if turn.get("reply") is not None else turn.get("action", "")
        parts.append(f"Step {number}:\n{(said or '').strip()}")
        if (observation := (turn.get("observation") or "").strip()):
            parts.append(f"Output {number}:\n{observation}")
    return "\n\n".join(parts)


def _planned_tasks(targets: list[str]) -> dict[tuple[str, str], Any]:
    """(suite, task id) -> task for the run's targets whose suites are registered here (none is fetched)."""
    from dsgym import registry

    known = registry.suites()
    planned = {}
    for target in targets:
        name, _, task_id = str(target).partition("/")
        suite = known.get(name)
        if suite is None:
            continue
        if task_id:
            chosen = [suite.tasks[task_id]] if task_id in suite.tasks else []
        else:
            chosen = list(suite.tasks.values())
        for task in chosen:
            planned[(name, task.id)] = task
    return planned


def _id_order(task_id: str) -> tuple[int, int | str]:
    return (0, int(task_id)) if task_id.isdigit() else (1, task_id)
