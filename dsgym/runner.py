"""``dsgym eval``: play the episodes of a run folder that are not done yet, resumably.

``evaluate(settings, out)`` plays the (task, sample) episodes that ``out`` does not hold yet
through ``dsgym.episodes.run`` (the engine's eval client) and appends one JSON line per
episode to ``<out>/episodes.jsonl`` (``dsgym.runlog``: fsynced whole lines, a torn last line
cut, exact resume after SIGKILL); ``<out>/manifest.json`` records what was run and how
(``dsgym.run_folder``; format in docs/run-folder.md).  Model replies (agent and judge) are
cached in ``<out>/llm-cache/``, so a resume or ``--retry-errors`` replays exactly what this run
saw and no other run sees them; ``llm_cache`` (``--llm-cache``) shares a cache on purpose.

This module is also the public face of the layer that runs many episodes: ``Job``,
``expand``, ``run`` and the run-folder helpers are importable from here.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dsgym import registry
from dsgym.agents.base import Agent
from dsgym.engine import Backend
from dsgym.episode import EpisodeRecord, now_iso
from dsgym.episodes import (LLM_CACHE, Job, OvercommitWarning, RetryPolicy, RunAborted, admit, error_limit, expand,
                            parse_max_errors, run)
from dsgym.llm import RUN_CACHE, chosen_cache_dir
from dsgym.rescore import RescoreResult, rescore
from dsgym.run_folder import (ARTIFACTS, EPISODES, MANIFEST, MANIFEST_FORMAT, SUMMARY, EvalSettings, episode_log,
                              latest, load_run, prompt_hash, read_manifest, set_aside, settings_differences,
                              suite_fingerprint, write_manifest, write_summary)
from dsgym.runlog import LogContents, RunDirError, RunLog, atomic_write, locked

__all__ = ["ARTIFACTS", "EPISODES", "LLM_CACHE", "MANIFEST", "MANIFEST_FORMAT", "EvalOutcome", "EvalSettings", "Job",
           "LogContents", "OvercommitWarning", "RescoreResult", "RetryPolicy", "RunAborted", "RunDirError", "RunLog", "SUMMARY",
           "admit", "atomic_write", "episode_log", "error_limit", "evaluate", "expand", "latest", "load_run",
           "locked", "parse_max_errors", "prompt_hash", "read_manifest", "rescore", "run", "settings_differences",
           "suite_fingerprint", "write_manifest", "write_summary"]


@dataclass
class EvalOutcome:
    """What ``evaluate`` did: every planned episode's latest record, and this invocation's counts."""

    out: Path
    manifest: dict[str, Any]
    jobs: list[Job]
    records: list[dict[str, Any]]  # the latest record of each planned episode that has one
    ran: int = 0
    skipped: int = 0
    torn_bytes: int = 0
    bad_lines: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # admission control's (--concurrency beyond the machine)
    summary: Any = None  # report.Summary of ``records``, also written to <out>/summary.json

    @property
    def missing(self) -> int:
        return len(self.jobs) - len(self.records)


def evaluate(settings: EvalSettings, out: str | os.PathLike[str], *,
             agent_factory: Callable[[], Agent] | None = None, concurrency: int = 1, retries: int = 2,
             backoff: float = 2.0, max_errors: float | None = None, retry_errors: bool = False,
             force: bool = False, command: list[str] | None = None, agent_config: dict[str, Any] | None = None,
             on_plan: Callable[[EvalOutcome, list[Job]], None] | None = None,
             on_result: Callable[[EpisodeRecord], None] | None = None,
             backend: Backend | None = None, llm_cache: str | os.PathLike[str] | None = None,
             cpus: float | None = None, overcommit: bool = False, seed: int = 0,
             pass_threshold: float = 1.0) -> EvalOutcome:
    """Play the episodes of ``settings`` that ``out`` does not hold yet (or, ``retry_errors``, the errored ones).

    Refuses (``RunDirError``) when ``out`` holds a run of other settings or other
    prompts, unless ``force``, which moves the old files into ``out/replaced-<time>/``.
    Raises ``RunAborted`` (``max_errors``) and ``KeyboardInterrupt`` after recording
    the invocation's end in the manifest; finished episodes are always kept.  ``backend``
    plays the episodes on Ray (the log and the resume are the same).  ``llm_cache``: a
    folder (or ``shared``) whose cached model replies this run may reuse and add to;
    by default (and without ``$DSGYM_LLM_CACHE_DIR``) the run folder's own ``llm-cache/``.
    ``cpus`` (each sandbox's CPUs) and ``overcommit``: admission control (``run``); its
    warnings are among the outcome's notes, and the invocation records the plan.  At the end
    (also after an abort or interrupt) ``<out>/summary.json`` holds the summary of the planned
    episodes recorded so far (``seed`` and ``pass_threshold`` as in ``report.summarize``).
    """
    import dsgym
    from dsgym import shutdown

    out = Path(out)
    settings.env()  # bad env options fail here, before the run folder is touched
    jobs = expand(settings.targets, settings.samples, settings.variants)
    if agent_factory is None:
        from dsgym.agents import load_agent

        def agent_factory() -> Agent:
            return load_agent(settings.agent, **settings.agent_kwargs)

    shared = chosen_cache_dir(llm_cache)
    cache = (shared or Path(out) / RUN_CACHE).resolve()
    plan = admit(jobs, concurrency, cpus=cpus, overcommit=overcommit) if backend is None else None

    suites = {name: suite_fingerprint(registry.get_suite(name)) for name in sorted({j.suite for j in jobs})}
    prompts = prompt_hash(jobs)
    with locked(out):
        manifest = read_manifest(out)
        log = episode_log(out)
        notes: list[str] = []
        if manifest is None and not force and log.read().records:
            raise RunDirError(f"{out} holds {EPISODES} but no {MANIFEST}: not a run of this dsgym; "
                              "use --force to start over there, or another --out")
        if manifest is not None:
            diffs = settings_differences(manifest.get("settings", {}), settings.to_dict())
            if manifest.get("prompt_hash") != prompts:
                diffs.append("the tasks' prompts (question, context, data files) changed since the run began")
            if diffs and not force:
                raise RunDirError(f"{out} holds a run with other settings:\n  " + "\n  ".join(diffs)
                                  + "\nrerun with the same settings to resume, pick another --out, "
                                    "or --force to start over (the old files are kept in a subfolder)")
            if diffs:
                set_aside(out)
                manifest = None
            else:
                for name, now in suites.items():
                    then = manifest.get("suites", {}).get(name, {})
                    if then.get("hash_format") == now["hash_format"] and then.get("hash") != now["hash"]:
                        notes.append(f"suite {name}: task definitions changed since the run began "
                                     f"(version {then.get('version')} -> {now['version']}); the prompts "
                                     "did not, so the run resumes; `dsgym rescore` re-grades old answers")
        elif force:
            set_aside(out)
        if manifest is None and retry_errors:
            raise RunDirError(f"{out} holds no run to retry errors of")
        contents = log.open()
        try:
            done = latest(contents.records)
            if retry_errors:
                todo = [j for j in jobs if done.get(j.key, {}).get("status") == "error"]
            else:
                todo = [j for j in jobs if j.key not in done]
            started = now_iso()
            if manifest is None:
                manifest = {"format": MANIFEST_FORMAT, "name": out.resolve().name, "run_id": uuid.uuid4().hex[:12],
                            "dsgym_version": dsgym.__version__, "created_at": started,
                            "command": command or sys.argv, "settings": settings.to_dict(),
                            "agent_config": agent_config or {"agent": settings.agent},
                            "suites": suites, "prompt_hash": prompts, "episodes": len(jobs),
                            "started_at": started, "ended_at": None, "status": "running", "invocations": []}
            invocation = {"command": command or sys.argv, "dsgym_version": dsgym.__version__,
                          "started_at": started, "ended_at": None, "status": "running",
                          "options": {"concurrency": concurrency, "retries": retries, "backoff": backoff,
                                      "max_errors": max_errors, "retry_errors": retry_errors, "force": force,
                                      "backend": backend.name if backend else "local",
                                      "address": getattr(backend, "address", None),
                                      "llm_cache": str(shared) if shared else RUN_CACHE,
                                      "overcommit": overcommit, "cpus": cpus},
                          "admission": ({**plan.conditions(), "fits": plan.fits, "warnings": plan.warnings}
                                        if plan else None),
                          "planned": len(todo), "ran": 0, "errors": 0}
            manifest.setdefault("invocations", []).append(invocation)
            manifest.update(status="running", ended_at=None)
            write_manifest(out, manifest)
            outcome = EvalOutcome(out, manifest, jobs, [], skipped=len(jobs) - len(todo),
                                  torn_bytes=contents.torn_bytes, bad_lines=contents.bad_lines, notes=notes,
                                  warnings=list(plan.warnings) if plan and todo else [])
            if on_plan:
                on_plan(outcome, todo)

            def record_one(record: EpisodeRecord) -> None:
                record.run_id = manifest["run_id"]
                if record.submission:  # kept relative, so a moved run dir can still be rescored
                    record.submission = os.path.relpath(Path(record.submission).resolve(), out.resolve())
                previous = done.get(record.key)
                if previous is not None and previous.get("status") == "error":  # --retry-errors
                    record.retried = [*previous.get("retried", []), _summary_of(previous), *record.retried]
                with shutdown.deferred():  # a stop signal waits until the line and its count are in
                    log.append(record.to_dict())
                    invocation["ran"] += 1
                    invocation["errors"] += record.status == "error"
                if on_result:
                    on_result(record)

            status = "interrupted"
            try:
                env_options = {"artifacts_dir": str(out / ARTIFACTS), LLM_CACHE: str(cache),
                               **settings.env_options}
                run(todo, agent_factory, concurrency=concurrency, env_options=env_options,
                    on_result=record_one, episode_timeout=settings.episode_timeout, retries=retries,
                    backoff=backoff, max_errors=max_errors, backend=backend, plan=plan)
                status = "completed"
            except RunAborted:
                status = "aborted"
                raise
            finally:
                final = log.read()
                merged = latest(final.records)
                if len(merged) < len(final.records):  # retried episodes: keep one line each
                    log.rewrite(list(merged.values()))
                outcome.records = [merged[j.key] for j in jobs if j.key in merged]
                invocation.update(ended_at=now_iso(), status=status)
                complete = len(outcome.records) == len(jobs)
                manifest.update(ended_at=invocation["ended_at"],
                                status="complete" if complete else ("aborted" if status == "aborted" else
                                                                    "incomplete"))
                write_manifest(out, manifest)
                outcome.ran = invocation["ran"]
                outcome.summary = _summary(outcome, settings, seed=seed, pass_threshold=pass_threshold)
                write_summary(out, outcome.summary)
        finally:
            log.close()
    return outcome


def _summary(outcome: EvalOutcome, settings: EvalSettings, **options: Any):
    """The summary ``dsgym eval`` prints: the planned episodes' records, with the run's notes."""
    from dsgym import report

    summary = report.summarize(outcome.records, name=outcome.out.name, agent=settings.agent,
                               model=settings.agent_kwargs.get("model"), k=settings.samples,
                               scoring=settings.scoring, **options)
    if outcome.missing:
        summary.notes.append(f"incomplete: {len(outcome.records)} of {len(outcome.jobs)} episodes recorded")
    return summary


def _summary_of(record: dict[str, Any]) -> dict[str, Any]:
    return {"error_type": record.get("error_type"), "error": record.get("error"),
            "termination": record.get("termination"), "turns": len(record.get("turns", [])),
            "wall_time": record.get("wall_time"), "tokens": record.get("tokens", {}),
            "started_at": record.get("started_at"), "episode_id": record.get("episode_id")}
