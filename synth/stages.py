"""The stages that do work: profile, generate, dedup, rollout, verify and the blind probe.

Each takes the invocation's ``Run``, reuses what the resume log already holds for
the same inputs, does the rest on the engine (``Run.each``/``Run.sandbox_map``:
threads, or Ray tasks with ``--backend ray``) or through the budgeted model
clients, logs each finished item at once, and fills in its ``StageStats``.
"""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dsgym import episodes, run_folder
from dsgym.agents.base import Agent
from dsgym.config import hard_deadline
from dsgym.episode import EpisodeRecord, now_iso
from dsgym.filter.probe import probe_key, probe_result, run_sample
from dsgym.filter.state import digest
from dsgym.llm import LLMError
from dsgym.sandbox.images import image_tag
from dsgym.synth import filters, generate, profile, verify
from dsgym.synth.budget import BudgetExhausted
from dsgym.synth.run import Run, Stop
from dsgym.synth.settings import SynthError
from dsgym.synth.sources import Dataset
from dsgym.task import Task

ROLLOUTS = "rollouts"


def profiles(run: Run, datasets: list[Dataset]) -> dict[str, dict[str, Any]]:
    stats = run.stage("profile", "datasets")
    stats.input = len(datasets)
    script = hashlib.sha256(profile.script_source().encode()).hexdigest()
    keys = {ds.name: digest({"v": profile.PROFILE_VERSION, "script": script, "image": image_tag(ds.image),
                             "files": run.files_digest(ds.paths())}) for ds in datasets}
    found, names = run.reuse("profile", keys, stats)
    todo = [ds for ds in datasets if ds.name in names]

    def done(ds: Dataset, result: dict[str, Any]) -> None:
        run.budget.add_sandbox(result.get("duration", 0.0))
        if "profile" in result:
            found[ds.name] = result["profile"]
            run.save(ds.name, "profile", keys[ds.name], result["profile"])
        run.progress("profile", len(found), len(datasets))
        if not run.budget.sandbox_left:
            run.halt(f"budget: {run.budget.spent()}")
            raise Stop()

    run.progress("profile", len(found), len(datasets))
    if run.budget.sandbox_left:
        run.sandbox_map(todo, profile.measure, lambda ds: (ds, run.factory(ds.image), run.s.cell_timeout), done)
    stats.output = len(found)
    stats.pending = len(datasets) - len(found)
    return found


def questions(run: Run, datasets: list[Dataset], profiles: dict[str, dict[str, Any]]) -> list[Task]:
    stats = run.stage("generate", "questions")
    ready = [ds for ds in datasets if ds.name in profiles]
    messages = {ds.name: generate.messages(profile.render(ds, profiles[ds.name]), run.s.questions) for ds in ready}
    keys = {name: digest({"v": generate.GENERATE_VERSION, "messages": m, "model": run.s.model,
                          "base_url": run.generator.base_url, "temperature": run.s.generate_temperature})
            for name, m in messages.items()}
    results, names = run.reuse("generate", keys, stats)
    todo = [ds for ds in ready if ds.name in names]

    def work(ds: Dataset) -> dict[str, Any] | None:
        try:
            reply = run.generator.chat(messages[ds.name])
        except BudgetExhausted:
            raise Stop() from None
        except LLMError as exc:
            return {"error": str(exc)[:500]}
        questions, problems = generate.parse(reply.text)
        return {"questions": questions, "problems": problems, "reply": reply.text[:4000]}

    def done(ds: Dataset, result: dict[str, Any] | None) -> None:
        if result is not None and "error" not in result:
            results[ds.name] = result
            run.save(ds.name, "generate", keys[ds.name], result)
        run.progress("generate", len(results), len(ready))

    run.progress("generate", len(results), len(ready))
    try:
        run.each(todo, work, done, window=run.s.llm_concurrency)
    finally:
        if not run.budget.calls_left:
            run.halt(f"budget: {run.budget.spent()}")
    tasks: list[Task] = []
    for ds in ready:
        if ds.name not in results:
            continue
        result = results[ds.name]
        for problem in result["problems"]:
            stats.drop("malformed question" if problem.startswith("question") else "unreadable reply")
        suite = f"{run.name}-{ds.image}"
        for index, question in enumerate(result["questions"], 1):
            tasks.append(generate.candidate(ds, suite, index, question))
    stats.input = len(tasks) + sum(stats.dropped.values())
    stats.output = len(tasks)
    stats.pending = len(datasets) - len(results)
    stats.unit = "questions (pending: datasets)"
    return tasks


def dedup(run: Run, tasks: list[Task], decisions: dict[str, dict[str, Any]]) -> list[Task]:
    started = time.monotonic()
    stats = run.stage("dedup")
    stats.input = len(tasks)
    groups: dict[str, list[int]] = {}
    for index, task in enumerate(tasks):
        content = digest(run.files_digest(task.data_paths()))
        groups.setdefault(content, []).append(index)
    duplicate_of: dict[int, tuple[int, float]] = {}
    for members in groups.values():
        found = filters.near_duplicates([tasks[i].question for i in members], run.s.dedup_threshold)
        duplicate_of.update({members[i]: (members[j], sim) for i, (j, sim) in found.items()})
    kept = []
    for index, task in enumerate(tasks):
        if index in duplicate_of:
            other, similarity = duplicate_of[index]
            decisions[task.id] = decision(task, "dropped", "dedup",
                                           f"near-duplicate of {tasks[other].id} (similarity {similarity:.2f})")
            stats.drop("near-duplicate")
        else:
            kept.append(task)
    if run.s.max_tasks is not None and len(kept) > run.s.max_tasks:
        for task in kept[run.s.max_tasks:]:
            decisions[task.id] = decision(task, "pending", "dedup", f"beyond --max-tasks {run.s.max_tasks}")
        stats.pending = len(kept) - run.s.max_tasks
        kept = kept[:run.s.max_tasks]
    stats.output = len(kept)
    stats.seconds = time.monotonic() - started
    return kept


def _rollout_key(run: Run, task: Task, agent_config: dict[str, Any], env_options: dict[str, Any]) -> str:
    material = {"question": task.question, "guideline": task.guideline, "files": run.files_digest(task.data_paths()),
                "agent": run.s.agent, "agent_config": {k: v for k, v in agent_config.items() if k != "sample_index"},
                "env": {k: v for k, v in env_options.items() if k != "artifacts_dir"}}
    return digest(material)


def rollout_agent(run: Run) -> Callable[[], Agent]:
    """What builds the rollout agent: for the rollouts, and for rebuilding their chats at export."""
    from dsgym.agents import load_agent

    # on Ray each worker builds its own client (same endpoint and disk cache); here they share one
    connection = ({"client": run.actor} if run.ray is None else
                  {"model": run.s.model, "base_url": run.s.base_url, "api_key": run.s.api_key,
                   "cache_dir": str(run.llm_cache)})
    agent_kwargs = {**connection, "temperature": run.s.rollout_temperature, **run.s.agent_kwargs}
    agent_name = run.s.agent

    def make_agent() -> Agent:  # closes over plain values only: on Ray it is pickled to the workers
        return load_agent(agent_name, **agent_kwargs)

    return make_agent


def rollouts(run: Run, tasks: list[Task], image_of: dict[str, str]) -> dict[str, dict[int, dict[str, Any]]]:
    """Each task played ``--rollouts`` times; the jobs carry the candidate and its image (it is in no registry)."""
    stats = run.stage("rollout", "rollouts")
    k = run.s.rollouts
    folder = run.out / ROLLOUTS
    env_options = {"sandbox": run.s.sandbox or os.environ.get("DSGYM_SANDBOX") or "docker",
                   "max_turns": run.s.max_turns, "cell_timeout": run.s.cell_timeout,
                   "episode_budget": run.s.episode_budget, "artifacts_dir": str(folder / run_folder.ARTIFACTS)}
    make_agent = rollout_agent(run)
    try:
        agent_config = make_agent().config()
    except Exception as exc:  # noqa: BLE001 - a bad --agent or agent option
        raise SynthError(f"the rollout agent {run.s.agent!r} cannot be built: {exc}") from exc
    keys = {t.id: _rollout_key(run, t, agent_config, env_options) for t in tasks}
    log = run_folder.episode_log(folder)
    contents = log.open()
    try:
        latest = log.latest(contents.records)
        by_task: dict[str, dict[int, dict[str, Any]]] = {t.id: {} for t in tasks}
        jobs = []
        for task in tasks:
            for sample in range(k):
                job = episodes.Job(task.suite, task.id, sample, task=task, image=image_of[task.metadata["dataset"]])
                record = latest.get(job.key)
                if record is not None and record.get("synth_key") == keys[task.id] and _final(record):
                    by_task[task.id][sample] = record
                    stats.reused += 1
                else:
                    jobs.append(job)
        stats.input = len(tasks) * k
        _rollout_manifest(run, folder, tasks, agent_config, env_options)
        total = len(tasks) * k
        done_count = [total - len(jobs)]
        retried = [0]

        def on_result(record: EpisodeRecord) -> None:  # a spent budget stops new rollouts; running ones finish
            if record.status == "error" and (record.error or "").startswith("BudgetExhausted"):
                run.halt(f"budget: {run.budget.spent()}")
                return
            data = record.to_dict()
            data["synth_key"] = keys[record.task_id]
            log.append(data)
            run.budget.add_sandbox(record.wall_time)
            if _final(data):
                by_task[record.task_id][record.sample] = data
            else:
                retried[0] += 1
            done_count[0] += 1
            run.progress("rollout", done_count[0], total)
            if not run.budget.sandbox_left:
                run.halt(f"budget: {run.budget.spent()}")

        run.progress("rollout", done_count[0], total)
        if jobs and not run.stop.is_set():
            episodes.run(jobs, make_agent, concurrency=run.s.concurrency, env_options=env_options,
                         on_result=on_result, episode_timeout=hard_deadline(run.s.episode_budget), backend=run.ray,
                         stop=run.stop)
    finally:
        log.close()
    finished = sum(len(v) for v in by_task.values())
    stats.output = finished
    stats.pending = total - finished
    if retried[0]:
        stats.drop("failed for a reason a rerun may fix (sandbox, model endpoint, timeout): redone next time",
                    retried[0])
        stats.pending -= retried[0]
    return by_task


def _final(record: dict[str, Any]) -> bool:
    """A rollout that counts: it ended, or it failed in the agent or the env (a rerun would fail again)."""
    return record.get("status") == "ok" or record.get("error_type") in ("agent", "env")


def _rollout_manifest(run: Run, folder: Path, tasks: list[Task], agent_config: dict[str, Any],
                      env_options: dict[str, Any]) -> None:
    """A run manifest, so ``dsgym view <out>/rollouts`` shows the rollouts like any eval run."""
    manifest = run_folder.read_manifest(folder) if (folder / run_folder.MANIFEST).exists() else None
    manifest = manifest or {"format": run_folder.MANIFEST_FORMAT, "name": f"{run.name}-rollouts",
                            "run_id": uuid.uuid4().hex[:12], "created_at": now_iso()}
    suites = sorted({t.suite for t in tasks})
    manifest.update(settings={"targets": suites, "agent": run.s.agent, "samples": run.s.rollouts,
                              "env_options": {k: v for k, v in env_options.items() if k != "artifacts_dir"}},
                    agent_config={k: v for k, v in agent_config.items()}, episodes=len(tasks) * run.s.rollouts,
                    suites={name: {"tasks": sum(t.suite == name for t in tasks)} for name in suites},
                    status="synthesis rollouts", updated_at=now_iso())
    folder.mkdir(parents=True, exist_ok=True)
    run_folder.write_manifest(folder, manifest)


def verify_rollouts(run: Run, tasks: list[Task], rollouts: dict[str, dict[int, dict[str, Any]]],
                    image_of: dict[str, str]) -> dict[str, dict[int, dict[str, Any]]]:
    stats = run.stage("verify", "rollouts")
    verdicts: dict[str, dict[int, dict[str, Any]]] = {t.id: {} for t in tasks}
    by_id = {t.id: t for t in tasks}
    keys: dict[tuple[str, int], str] = {}
    todo = []
    for task in tasks:
        for sample, record in sorted(rollouts[task.id].items()):
            material = {"v": verify.VERIFY_VERSION, "cells": verify.cells(record), "answer": record.get("answer"),
                        "termination": record.get("termination"), "status": record.get("status"),
                        "files": run.files_digest(task.data_paths()), "image": image_tag(image_of[task.metadata["dataset"]]),
                        "timeout": run.s.cell_timeout, "metadata": task.metadata}
            keys[(task.id, sample)] = key = digest(material)
            hit = run.cached(f"{task.id}#{sample}", "verify", key)
            if hit is not None:
                verdicts[task.id][sample] = hit
                stats.reused += 1
            else:
                todo.append((task.id, sample))
    total = len(keys)
    stats.input = total

    def args(item: tuple[str, int]) -> tuple:
        task = by_id[item[0]]
        return task, rollouts[item[0]][item[1]], run.factory(image_of[task.metadata["dataset"]]), run.s.cell_timeout

    def done(item: tuple[str, int], verdict: dict[str, Any]) -> None:
        run.budget.add_sandbox(verdict.get("duration", 0.0))
        if "error" in verdict:  # the Ray task itself failed
            verdict = {"status": verify.RERUN_ERROR, "reason": verdict["error"]}
        if verdict["status"] != verify.RERUN_ERROR:
            verdicts[item[0]][item[1]] = verdict
            run.save(f"{item[0]}#{item[1]}", "verify", keys[item], verdict)
        run.progress("verify", sum(len(v) for v in verdicts.values()), total)
        if not run.budget.sandbox_left:
            run.halt(f"budget: {run.budget.spent()}")
            raise Stop()

    run.progress("verify", total - len(todo), total)
    if run.budget.sandbox_left:
        run.sandbox_map(todo, verify.verify, args, done)
    for per_task in verdicts.values():
        for verdict in per_task.values():
            if verdict["status"] != verify.VERIFIED:
                stats.drop(verdict["status"].replace("_", " "))
    stats.output = sum(v["status"] == verify.VERIFIED for per in verdicts.values() for v in per.values())
    stats.pending = total - sum(len(v) for v in verdicts.values())
    return verdicts


def probe(run: Run, agreed: dict[str, Task]) -> dict[str, Any]:
    """The blind probe of each agreed task (its reference set to the consensus); id -> CheckResult."""
    stats = run.stage("shortcut")
    stats.input = len(agreed)
    if not run.s.probe:
        stats.output = len(agreed)
        return {}
    samples, temperature = run.s.probe_samples, run.s.probe_temperature
    keys = {tid: probe_key(task, run.prober, samples, temperature, None) for tid, task in agreed.items()}
    stored, todo = run.reuse("probe", keys, stats)
    results = {tid: hit["samples"] for tid, hit in stored.items()}

    def work(tid: str) -> list[dict[str, Any]]:
        if not run.budget.calls_left:
            raise Stop()
        return [run_sample(agreed[tid], run.prober, i, temperature, None) for i in range(samples)]

    def done(tid: str, got: list[dict[str, Any]]) -> None:
        if any("BudgetExhausted" in s.get("error", "") for s in got):
            run.halt(f"budget: {run.budget.spent()}")
            raise Stop()
        if not any("error" in s for s in got):
            results[tid] = got
            run.save(tid, "probe", keys[tid], {"samples": got})
        run.progress("shortcut", len(results), len(agreed))

    run.progress("shortcut", len(results), len(agreed))
    run.each(todo, work, done, window=run.s.llm_concurrency)
    return {tid: probe_result(agreed[tid], got, samples, run.s.probe_threshold) for tid, got in results.items()}


def decision(task: Task, status: str, stage: str, reason: str, **extra: Any) -> dict[str, Any]:
    return {"id": task.id, "dataset": task.metadata.get("dataset"), "source": task.metadata.get("source"),
            "question": task.question, "answer_type": task.metadata.get("answer_type"), "status": status,
            "stage": stage, "reason": reason, **extra}
