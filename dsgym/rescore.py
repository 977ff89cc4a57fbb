"""``dsgym rescore``: grade a run's stored answers again with the tasks' current metrics; no model, no sandbox."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dsgym import registry
from dsgym.episode import describe, now_iso
from dsgym.grading import grade
from dsgym.llm import RUN_CACHE, caching_in
from dsgym.run_folder import MANIFEST, episode_log, latest, read_manifest, suite_fingerprint, write_manifest
from dsgym.runlog import RunDirError, locked
from dsgym.scoring.result import Score
from dsgym.task import Task


@dataclass
class RescoreResult:
    regraded: int = 0
    changed: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    torn_bytes: int = 0


def rescore(path: str | os.PathLike[str], *, allow_judge: bool = False) -> RescoreResult:
    """Re-grade the stored answers of a run with the tasks' current metrics; no model, no sandbox.

    Each re-graded record keeps ``previous_score`` (and ``previous_status`` when it
    changes, e.g. a scoring error that now grades).  ``llm_judge`` tasks need a model
    and are skipped unless ``allow_judge``.  Prediction tasks are re-graded from the
    submission files the run kept.  The log is replaced atomically.
    """
    path = Path(path)
    result = RescoreResult()

    def skip(reason: str) -> None:
        result.skipped[reason] = result.skipped.get(reason, 0) + 1

    with locked(path):
        manifest = read_manifest(path)
        if manifest is None:
            raise RunDirError(f"{path} is not a dsgym run folder (no {MANIFEST})")
        log = episode_log(path)
        contents = log.read()
        result.torn_bytes = contents.torn_bytes
        records = list(latest(contents.records).values())
        when = now_iso()
        for record in records:
            if record.get("status") == "error" and record.get("error_type") != "scoring":
                skip(f"{record.get('error_type')} error (no answer to grade)")
                continue
            try:
                task = registry.get_task(record["suite"], record["task_id"])
            except registry.UnknownEnvError:
                skip("task no longer exists")
                continue
            if task.kind == "answer" and record.get("termination") != "answer":
                skip("no answer submitted")
                continue
            if task.metric == "llm_judge" and not allow_judge:
                skip("llm_judge metric (needs a model; use --judge)")
                continue
            old_score, old_status = record.get("score"), record.get("status")
            try:
                with caching_in(path / RUN_CACHE):  # a judge's verdicts stay with the run
                    score = _regrade(task, record, path)
                new = {"status": "ok", "score": score.value, "score_breakdown": score.breakdown,
                       "error": None, "error_type": None}
            except Exception as exc:  # noqa: BLE001 - still misconfigured: a scoring error, as in the env
                new = {"status": "error", "score": None, "score_breakdown": {"error": describe(exc)},
                       "error": f"scoring failed: {exc}", "error_type": "scoring"}
            result.regraded += 1
            result.changed += (new["score"], new["status"]) != (old_score, old_status)
            record["previous_score"] = old_score
            if new["status"] != old_status:
                record["previous_status"] = old_status
            record.update(new, rescored_at=when)
        log.rewrite(records)
        manifest["rescored_at"] = when
        manifest["suites"] = {**manifest.get("suites", {}),
                              **{name: suite_fingerprint(registry.get_suite(name))
                                 for name in manifest.get("suites", {}) if name in registry.suites()}}
        write_manifest(path, manifest)
    return result


def _regrade(task: Task, record: dict[str, Any], out: Path) -> Score:
    """Grade an episode again: its answer text, or the submission file the run kept."""
    saved = record.get("submission")
    path = out / saved if saved else None
    return grade(task, record.get("answer"), path if path and path.is_file() else None)
