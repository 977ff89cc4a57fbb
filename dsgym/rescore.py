"""``dsgym rescore``: grade a run's stored answers again with the tasks' current metrics; no model, no sandbox.

Under the run's own scoring profile the run is re-graded in place (each record keeps its
``previous_score``).  Under another profile (``--scoring official`` on a run scored by dsgym's
metrics, or back) the run is left untouched and a new run folder holds the re-graded copy: a
run folder has one profile, and the original scores are never overwritten.
"""

from __future__ import annotations

import errno
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dsgym import registry
from dsgym.episode import describe, now_iso
from dsgym.grading import grade, metric_used
from dsgym.llm import RUN_CACHE, caching_in
from dsgym.run_folder import (EPISODES, MANIFEST, SUMMARY, episode_log, latest, read_manifest, run_scoring,
                              suite_fingerprint, write_manifest)
from dsgym.runlog import LOCK, RunDirError, locked
from dsgym.scoring.profiles import DEFAULT_PROFILE, check_profile
from dsgym.scoring.result import Score
from dsgym.task import Task


UNFINISHED = ".rescoring"  # in a copy under another profile while it is written: the source's path


@dataclass
class RescoreResult:
    regraded: int = 0
    changed: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    torn_bytes: int = 0
    scoring: str = DEFAULT_PROFILE  # the profile the answers were graded under
    out: Path | None = None  # the run folder holding the re-graded records (a new one when the profile changed)


def rescore(path: str | os.PathLike[str], *, allow_judge: bool = False, scoring: str | None = None,
            out: str | os.PathLike[str] | None = None) -> RescoreResult:
    """Re-grade the stored answers of a run under ``scoring`` (default: the run's own profile).

    Each re-graded record keeps ``previous_score`` (and ``previous_status`` when it
    changes, e.g. a scoring error that now grades) and names the profile and metric
    (``scoring``, ``metric``).  Tasks graded by a judge model need ``allow_judge``
    (else they are skipped; in a new folder they become scoring errors that a later
    ``rescore --judge`` grades).  Prediction tasks are re-graded from the submission
    files the run kept.  Under the run's own profile the log is replaced atomically;
    under another, the re-graded run is written to ``out`` (default ``<path>-<profile>``),
    which must be empty or absent, and ``path`` is not changed.
    """
    path = Path(path)
    with locked(path):
        manifest = read_manifest(path)
        if manifest is None:
            raise RunDirError(f"{path} is not a dsgym run folder (no {MANIFEST})")
        was = run_scoring(manifest)
        profile = check_profile(scoring or was)
        if profile == was:
            if out is not None and Path(out).resolve() != path.resolve():
                raise RunDirError(f"{path} is already scored under {profile}: it is re-graded in place, "
                                  "--out is only for a new profile")
            return _regrade_run(path, path, manifest, profile, allow_judge, was=was)
        target = Path(out) if out is not None else path.with_name(f"{path.name}-{profile}")
        if target.resolve() == path.resolve():
            raise RunDirError(f"--out must differ from {path}: the run's {was} scores are kept as they are")
        with locked(target):
            kept = {LOCK, UNFINISHED, RUN_CACHE} if _clear_unfinished(target, path) else {LOCK}
            if any(entry.name not in kept for entry in target.iterdir()):
                raise RunDirError(f"{target} is not empty: pick another --out for the {profile}-scored copy, "
                                  f"or re-grade that copy in place (dsgym rescore {target})")
            (target / UNFINISHED).write_text(str(path.resolve()))
            _link_files(path, target)
            result = _regrade_run(path, target, manifest, profile, allow_judge, was=was)
            (target / UNFINISHED).unlink()
            return result


def _clear_unfinished(target: Path, source: Path) -> bool:
    """A copy of ``source`` that an interrupted rescore left unfinished (marked, no manifest yet) is cleared for
    a new try; the judge's replies it had cached stay, so verdicts already paid for are not asked again."""
    mark = target / UNFINISHED
    if not mark.is_file() or mark.read_text() != str(source.resolve()) or (target / MANIFEST).exists():
        return False
    for entry in target.iterdir():
        if entry.name in (LOCK, UNFINISHED, RUN_CACHE):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    return True


def _regrade_run(source: Path, target: Path, manifest: dict[str, Any], profile: str, allow_judge: bool, *,
                 was: str) -> RescoreResult:
    new = source != target
    result = RescoreResult(scoring=profile, out=target)

    def skip(reason: str) -> None:
        result.skipped[reason] = result.skipped.get(reason, 0) + 1

    contents = episode_log(source).read()
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
            if new:  # its score was given under the other profile: it cannot stand in this run
                _unscored(record, "the task no longer exists, so it cannot be graded under this profile", when)
            continue
        choice = metric_used(task, profile)
        if task.kind == "answer" and record.get("termination") != "answer":
            skip("no answer submitted")
            record.update(scoring=profile, metric=choice.metric)  # 0 under every profile
            continue
        if choice.judged and not allow_judge:
            skip(f"{choice.metric} metric (needs a judge model; use --judge)")
            if new:
                _unscored(record, f"not graded under the {profile} profile: {choice.metric} needs a judge model "
                                  f"(dsgym rescore {target} --judge)", when)
            continue
        old_score, old_status = record.get("score"), record.get("status")
        try:
            with caching_in(target / RUN_CACHE):  # a judge's verdicts stay with the run
                score = _regrade(task, record, source, profile)
            fresh = {"status": "ok", "score": score.value, "score_breakdown": score.breakdown,
                     "error": None, "error_type": None}
        except Exception as exc:  # noqa: BLE001 - still misconfigured: a scoring error, as in the env
            fresh = {"status": "error", "score": None, "score_breakdown": {"error": describe(exc)},
                     "error": f"scoring failed: {exc}", "error_type": "scoring"}
        result.regraded += 1
        result.changed += (fresh["score"], fresh["status"]) != (old_score, old_status)
        record["previous_score"] = old_score
        if new:
            record["previous_scoring"] = record.get("scoring") or DEFAULT_PROFILE
        if fresh["status"] != old_status:
            record["previous_status"] = old_status
        record.update(fresh, scoring=profile, metric=choice.metric, rescored_at=when)
    episode_log(target).rewrite(records)
    manifest["rescored_at"] = when
    manifest["suites"] = {**manifest.get("suites", {}),
                          **{name: suite_fingerprint(registry.get_suite(name))
                             for name in manifest.get("suites", {}) if name in registry.suites()}}
    if new:
        settings = manifest.setdefault("settings", {})
        options = {k: v for k, v in (settings.get("env_options") or {}).items() if k != "scoring"}
        settings["env_options"] = options if profile == DEFAULT_PROFILE else {**options, "scoring": profile}
        manifest["rescored_from"] = {"path": str(source.resolve()), "name": manifest.get("name"),
                                     "scoring": was, "run_id": manifest.get("run_id")}
        manifest["name"] = target.resolve().name
    write_manifest(target, manifest)
    return result


def _unscored(record: dict[str, Any], why: str, when: str) -> None:
    record.update(previous_score=record.get("score"), previous_scoring=record.get("scoring") or DEFAULT_PROFILE,
                  status="error", score=None, error=f"scoring failed: {why}", error_type="scoring",
                  score_breakdown={"error": why}, scoring=None, metric=None, rescored_at=when)


def _link_files(source: Path, target: Path) -> None:
    """Everything of a run but its log, manifest and summary (artifacts, the model-reply cache), hard-linked
    where the file system allows (no space used), else copied."""
    def link(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
                raise
            shutil.copy2(src, dst)

    skip = {EPISODES, MANIFEST, SUMMARY, LOCK, UNFINISHED}
    for entry in source.iterdir():
        if entry.name in skip or entry.name.startswith("replaced-"):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.copytree(entry, target / entry.name, copy_function=link, dirs_exist_ok=True)
        else:
            link(str(entry), str(target / entry.name))


def _regrade(task: Task, record: dict[str, Any], out: Path, profile: str) -> Score:
    """Grade an episode again: its answer text, or the submission file the run kept."""
    saved = record.get("submission")
    path = out / saved if saved else None
    return grade(task, record.get("answer"), path if path and path.is_file() else None, scoring=profile)
