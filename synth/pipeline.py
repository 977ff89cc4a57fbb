"""``synthesize``: datasets in, execution-verified SFT trajectories out; every stage resumable.

Stages, in order (their outputs under ``out``):

1. profile   - each dataset profiled in a sandbox                      synth-state.jsonl
2. generate  - the model proposes questions from each profile           synth-state.jsonl
3. dedup     - near-duplicate questions over the same data dropped;     tasks.jsonl
               ``max_tasks`` caps the rest
4. rollout   - the agent plays each task k times                        rollouts/episodes.jsonl
5. verify    - each answered rollout re-run from scratch in a fresh     synth-state.jsonl
               sandbox; kept only if the re-run shows its answer
6. consensus - the largest group of agreeing verified answers must     tasks.jsonl
               hold more than ``agreement`` of the k rollouts
7. shortcut  - the blind probe of ``dsgym.filter``: a task the model    synth-state.jsonl
               answers without data is dropped
8. difficulty- a task every rollout solves in ``trivial_cells`` cells   tasks.jsonl
9. export    - SFT dataset + card (and the verified tasks as a suite)  sft/, suite/

Each finished item is appended to its log as soon as it is done, keyed by a hash
of everything its result depends on, so a rerun (same or changed settings) redoes
only what is missing or changed; model replies also come from the LLM disk cache.
``tasks.jsonl``, ``synth-report.json``/``.md`` and ``sft/`` are rewritten at the
end of every invocation from what is done so far.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from dsgym import registry, runner
from dsgym.episode import EpisodeRecord, now_iso
from dsgym.filter.execution import SandboxRunner
from dsgym.filter.grounding import FileDigests
from dsgym.filter.probe import probe_key, probe_result, run_sample
from dsgym.filter.state import StateStore, digest
from dsgym.llm import LLMError
from dsgym.sandbox import SandboxError, sandbox_factory
from dsgym.sandbox.images import image_tag
from dsgym.synth import export, filters, generate, profile, verify
from dsgym.synth.budget import Budget, BudgetedClient, BudgetExhausted
from dsgym.synth.sources import Dataset, discover
from dsgym.task import Suite, Task

STATE = "synth-state.jsonl"
ROLLOUTS = "rollouts"
TASKS = "tasks.jsonl"
REPORT = "synth-report.json"
STAGES = ("profile", "generate", "dedup", "rollout", "verify", "consensus", "shortcut", "difficulty", "export")
Progress = Callable[[str, int, int], None]


class SynthError(RuntimeError):
    """The run cannot start or go on (bad settings, no sandbox, a source that is not there)."""


class _Stop(Exception):
    """A budget ran out: stop starting work in this stage."""


@dataclass
class SynthSettings:
    """What a synthesis run does; budgets and concurrency only limit one invocation."""

    sources: list[str]
    model: str | None = None
    base_url: str | None = None
    api_key: str | None = None
    questions: int = 5
    generate_temperature: float = 0.7
    agent: str = "react"
    agent_kwargs: dict[str, Any] = field(default_factory=dict)
    rollouts: int = 3
    rollout_temperature: float = 0.7
    max_turns: int = 10
    cell_timeout: float = 120.0
    episode_budget: float = 900.0
    agreement: float = 0.5
    probe: bool = True
    probe_samples: int = 3
    probe_threshold: float = 0.5
    probe_temperature: float = 0.7
    dedup_threshold: float = 0.9
    trivial_cells: int = 1
    image: str | None = None
    sandbox: str | None = None
    observation_role: str = "user"
    export_suite: bool = False
    name: str | None = None
    max_tasks: int | None = None
    max_model_calls: int | None = None
    max_sandbox_time: float | None = None
    concurrency: int = 2
    llm_concurrency: int = 8
    cache_dir: str | None = None

    def check(self) -> None:
        if not self.sources:
            raise SynthError("give at least one source: a data folder, a data file or a suite name")
        if not self.model:
            raise SynthError("synthesis needs a model (--model, or $DSGYM_MODEL) behind an OpenAI-compatible "
                             "endpoint (--base-url)")
        if min(self.questions, self.rollouts, self.max_turns, self.concurrency, self.llm_concurrency,
               self.probe_samples) < 1:
            raise SynthError("questions, rollouts, max_turns, concurrency, llm_concurrency and probe_samples "
                             "must be at least 1")
        if not 0.0 <= self.agreement < 1.0 or not 0.0 < self.probe_threshold <= 1.0 \
                or not 0.0 < self.dedup_threshold <= 1.0:
            raise SynthError("need 0 <= agreement < 1, 0 < probe_threshold <= 1, 0 < dedup_threshold <= 1")
        if self.observation_role not in export.OBSERVATION_ROLES:
            raise SynthError(f"observation_role must be one of {', '.join(export.OBSERVATION_ROLES)}")
        if self.max_tasks is not None and self.max_tasks < 0:
            raise SynthError("max_tasks must be >= 0")

    def public(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("api_key")
        return data


@dataclass
class StageStats:
    """What one stage took in, gave out, dropped (by reason) and left for a rerun, and its wall time."""

    name: str
    input: int = 0
    output: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    pending: int = 0
    seconds: float = 0.0
    reused: int = 0
    unit: str = "tasks"
    notes: dict[str, int] = field(default_factory=dict)  # counts in another unit than the stage's

    def drop(self, reason: str, count: int = 1) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + count


@dataclass
class SynthResult:
    out: Path
    stages: dict[str, StageStats]
    kept_tasks: int
    examples: int
    pending: int
    budget: dict[str, Any]
    stopped_by: str | None
    sft_dir: Path
    suite_dirs: list[Path]

    @property
    def complete(self) -> bool:
        return self.pending == 0 and self.stopped_by is None


# -- helpers -----------------------------------------------------------------------------------------


def _parallel(items: list[Any], work: Callable[[Any], Any], workers: int, on_done: Callable[[Any, Any], None],
              stop: threading.Event) -> None:
    """Run ``work(item)`` on a thread pool, ``on_done(item, result)`` in this thread; ``stop`` ends it early.

    ``work`` raising ``_Stop`` sets ``stop``: items not started are skipped; those
    in flight finish.  Any other exception is re-raised here after the pool drains.
    """
    if not items:
        return
    pending = list(reversed(items))
    failure: BaseException | None = None
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dsgym-synth") as pool:
        running: dict[Future, Any] = {}
        try:
            while pending or running:
                while pending and len(running) < workers and not stop.is_set():
                    item = pending.pop()
                    running[pool.submit(work, item)] = item
                if not running:
                    break
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    item = running.pop(future)
                    try:
                        on_done(item, future.result())
                    except _Stop:
                        stop.set()
        except BaseException as exc:
            stop.set()
            failure = exc
    if failure is not None:
        raise failure


class _Run:
    """One invocation's shared state: settings, logs, budget, clients, progress."""

    def __init__(self, settings: SynthSettings, out: Path, progress: Progress | None) -> None:
        self.s = settings
        self.out = out
        self.progress = progress or (lambda stage, done, total: None)
        self.state = StateStore(out / STATE)
        self.stored = self.state.load()
        self.digests = FileDigests()
        self.budget = Budget(settings.max_model_calls, settings.max_sandbox_time)
        self.stop = threading.Event()
        self.stopped_by: str | None = None
        self.stages: dict[str, StageStats] = {}
        self.name = settings.name or f"synth-{out.resolve().name}"
        client_options = {"cache_dir": settings.cache_dir, "budget": self.budget}
        self.generator = BudgetedClient(settings.model, settings.base_url, settings.api_key,
                                        temperature=settings.generate_temperature, **client_options)
        self.actor = BudgetedClient(settings.model, settings.base_url, settings.api_key,
                                    temperature=settings.rollout_temperature, **client_options)
        self.prober = BudgetedClient(settings.model, settings.base_url, settings.api_key,
                                     temperature=settings.probe_temperature, **client_options)

    def stage(self, name: str, unit: str = "tasks") -> StageStats:
        self.stages[name] = StageStats(name, unit=unit)
        return self.stages[name]

    def halt(self, why: str) -> None:
        self.stopped_by = self.stopped_by or why
        self.stop.set()

    def cached(self, item: str, part: str, key: str) -> dict[str, Any] | None:
        record = self.stored.get((item, part, key))
        return record["result"] if record is not None else None

    def save(self, item: str, part: str, key: str, result: dict[str, Any]) -> None:
        self.state.append({"task": item, "part": part, "key": key, "complete": True, "result": result,
                           "at": now_iso()})

    def files_digest(self, paths: dict[str, Path]) -> dict[str, str]:
        return {rel: self.digests(path) for rel, path in sorted(paths.items())}

    def factory(self, image: str) -> Callable[[], Any]:
        return sandbox_factory(self.s.sandbox, image=image_tag(image))

    def close(self) -> None:
        for client in (self.generator, self.actor, self.prober):
            client.close()


def _preflight(run: _Run, images: Iterable[str]) -> None:
    """The daemon, the images and the model endpoint, checked before any work, with clear errors."""
    if (run.s.sandbox or os.environ.get("DSGYM_SANDBOX") or "docker") == "docker":
        from dsgym.sandbox.docker import require_images

        try:
            require_images({name: image_tag(name) for name in set(images)})
        except SandboxError as exc:
            raise SynthError(str(exc)) from exc
    try:
        run.generator.check_reachable()
    except LLMError as exc:
        raise SynthError(str(exc)) from exc


# -- stages ------------------------------------------------------------------------------------------


def _profiles(run: _Run, datasets: list[Dataset]) -> dict[str, dict[str, Any]]:
    stats = run.stage("profile", "datasets")
    stats.input = len(datasets)
    script = hashlib.sha256(Path(profile.profile_script.__file__).read_bytes()).hexdigest()
    keys = {ds.name: digest({"v": profile.PROFILE_VERSION, "script": script, "image": image_tag(ds.image),
                             "files": run.files_digest(ds.paths())}) for ds in datasets}
    found: dict[str, dict[str, Any]] = {}
    todo = []
    for ds in datasets:
        hit = run.cached(ds.name, "profile", keys[ds.name])
        if hit is not None:
            found[ds.name] = hit
            stats.reused += 1
        else:
            todo.append(ds)

    def work(ds: Dataset) -> dict[str, Any] | None:
        if not run.budget.sandbox_left:
            raise _Stop()
        started = time.monotonic()
        try:
            return profile.compute(ds, SandboxRunner(run.factory(ds.image), run.s.cell_timeout, run.stop))
        except (SandboxError, RuntimeError) as exc:
            return {"error": f"{type(exc).__name__}: {exc}"[:500]}
        finally:
            run.budget.add_sandbox(time.monotonic() - started)

    def done(ds: Dataset, result: dict[str, Any] | None) -> None:
        if result is not None and "error" not in result:
            found[ds.name] = result
            run.save(ds.name, "profile", keys[ds.name], result)
        run.progress("profile", len(found), len(datasets))
        if not run.budget.sandbox_left:
            run.halt(f"budget: {run.budget.spent()}")
            raise _Stop()

    run.progress("profile", len(found), len(datasets))
    _parallel(todo, work, run.s.concurrency, done, run.stop)
    stats.output = len(found)
    stats.pending = len(datasets) - len(found)
    return found


def _questions(run: _Run, datasets: list[Dataset], profiles: dict[str, dict[str, Any]]) -> list[Task]:
    stats = run.stage("generate", "questions")
    ready = [ds for ds in datasets if ds.name in profiles]
    messages = {ds.name: generate.messages(profile.render(ds, profiles[ds.name]), run.s.questions) for ds in ready}
    keys = {name: digest({"v": generate.GENERATE_VERSION, "messages": m, "model": run.s.model,
                          "base_url": run.generator.base_url, "temperature": run.s.generate_temperature})
            for name, m in messages.items()}
    results: dict[str, dict[str, Any]] = {}
    todo = []
    for ds in ready:
        hit = run.cached(ds.name, "generate", keys[ds.name])
        if hit is not None:
            results[ds.name] = hit
            stats.reused += 1
        else:
            todo.append(ds)

    def work(ds: Dataset) -> dict[str, Any] | None:
        try:
            reply = run.generator.chat(messages[ds.name])
        except BudgetExhausted:
            raise _Stop() from None
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
        _parallel(todo, work, run.s.llm_concurrency, done, run.stop)
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


def _dedup(run: _Run, tasks: list[Task], decisions: dict[str, dict[str, Any]],
           image_of: dict[str, str]) -> list[Task]:
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
            decisions[task.id] = _decision(task, "dropped", "dedup",
                                           f"near-duplicate of {tasks[other].id} (similarity {similarity:.2f})")
            stats.drop("near-duplicate")
        else:
            kept.append(task)
    if run.s.max_tasks is not None and len(kept) > run.s.max_tasks:
        for task in kept[run.s.max_tasks:]:
            decisions[task.id] = _decision(task, "pending", "dedup", f"beyond --max-tasks {run.s.max_tasks}")
        stats.pending = len(kept) - run.s.max_tasks
        kept = kept[:run.s.max_tasks]
    stats.output = len(kept)
    for image in sorted({image_of[t.metadata["dataset"]] for t in kept}):
        suite_tasks = {t.id: t for t in kept if image_of[t.metadata["dataset"]] == image}
        registry.add_suite(Suite(name=f"{run.name}-{image}", root=run.out, image=image, tasks=suite_tasks,
                                 description="candidate tasks of a synthesis run"))
    stats.seconds = time.monotonic() - started
    return kept


def _rollout_key(run: _Run, task: Task, agent_config: dict[str, Any], env_options: dict[str, Any]) -> str:
    material = {"question": task.question, "guideline": task.guideline, "files": run.files_digest(task.data_paths()),
                "agent": run.s.agent, "agent_config": {k: v for k, v in agent_config.items() if k != "sample_index"},
                "env": {k: v for k, v in env_options.items() if k != "artifacts_dir"}}
    return digest(material)


def _rollouts(run: _Run, tasks: list[Task]) -> dict[str, dict[int, dict[str, Any]]]:
    from dsgym.agents import load_agent

    stats = run.stage("rollout", "rollouts")
    k = run.s.rollouts
    folder = run.out / ROLLOUTS
    env_options = {"sandbox": run.s.sandbox or os.environ.get("DSGYM_SANDBOX") or "docker",
                   "max_turns": run.s.max_turns, "cell_timeout": run.s.cell_timeout,
                   "episode_budget": run.s.episode_budget, "artifacts_dir": str(folder / runner.ARTIFACTS)}
    agent_kwargs = {"client": run.actor, "temperature": run.s.rollout_temperature, "keep_conversation": True,
                    **run.s.agent_kwargs}

    def make_agent():
        return load_agent(run.s.agent, **agent_kwargs)

    try:
        agent_config = make_agent().config()
    except Exception as exc:  # noqa: BLE001 - a bad --agent or agent option
        raise SynthError(f"the rollout agent {run.s.agent!r} cannot be built: {exc}") from exc
    keys = {t.id: _rollout_key(run, t, agent_config, env_options) for t in tasks}
    log = runner.EpisodeLog(folder / runner.EPISODES)
    contents = log.open()
    try:
        latest = runner.latest(contents.records)
        by_task: dict[str, dict[int, dict[str, Any]]] = {t.id: {} for t in tasks}
        jobs = []
        for task in tasks:
            for sample in range(k):
                job = runner.Job(task.suite, task.id, sample)
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

        def on_result(record: EpisodeRecord) -> None:
            if record.status == "error" and (record.error or "").startswith("BudgetExhausted"):
                run.halt(f"budget: {run.budget.spent()}")
                raise _Stop()
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
                raise _Stop()

        run.progress("rollout", done_count[0], total)
        if jobs and not run.stop.is_set():
            try:
                runner.run(jobs, make_agent, concurrency=run.s.concurrency, env_options=env_options,
                           on_result=on_result, episode_timeout=2 * run.s.episode_budget + 60)
            except _Stop:
                pass
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


def _rollout_manifest(run: _Run, folder: Path, tasks: list[Task], agent_config: dict[str, Any],
                      env_options: dict[str, Any]) -> None:
    """A run manifest, so ``dsgym view <out>/rollouts`` shows the rollouts like any eval run."""
    manifest = runner.read_manifest(folder) if (folder / runner.MANIFEST).exists() else None
    manifest = manifest or {"format": runner.MANIFEST_FORMAT, "name": f"{run.name}-rollouts",
                            "run_id": uuid.uuid4().hex[:12], "created_at": now_iso()}
    suites = sorted({t.suite for t in tasks})
    manifest.update(settings={"targets": suites, "agent": run.s.agent, "samples": run.s.rollouts,
                              "env_options": {k: v for k, v in env_options.items() if k != "artifacts_dir"}},
                    agent_config={k: v for k, v in agent_config.items()}, episodes=len(tasks) * run.s.rollouts,
                    suites={name: {"tasks": sum(t.suite == name for t in tasks)} for name in suites},
                    status="synthesis rollouts", updated_at=now_iso())
    folder.mkdir(parents=True, exist_ok=True)
    runner.write_manifest(folder, manifest)


def _verify(run: _Run, tasks: list[Task], rollouts: dict[str, dict[int, dict[str, Any]]],
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

    def work(item: tuple[str, int]) -> dict[str, Any]:
        if not run.budget.sandbox_left:
            raise _Stop()
        task = by_id[item[0]]
        verdict = verify.verify(task, rollouts[item[0]][item[1]], run.factory(image_of[task.metadata["dataset"]]),
                                run.s.cell_timeout)
        run.budget.add_sandbox(verdict.get("duration", 0.0))
        return verdict

    def done(item: tuple[str, int], verdict: dict[str, Any]) -> None:
        if verdict["status"] != verify.RERUN_ERROR:
            verdicts[item[0]][item[1]] = verdict
            run.save(f"{item[0]}#{item[1]}", "verify", keys[item], verdict)
        run.progress("verify", sum(len(v) for v in verdicts.values()), total)
        if not run.budget.sandbox_left:
            run.halt(f"budget: {run.budget.spent()}")
            raise _Stop()

    run.progress("verify", total - len(todo), total)
    _parallel(todo, work, run.s.concurrency, done, run.stop)
    for per_task in verdicts.values():
        for verdict in per_task.values():
            if verdict["status"] != verify.VERIFIED:
                stats.drop(verdict["status"].replace("_", " "))
    stats.output = sum(v["status"] == verify.VERIFIED for per in verdicts.values() for v in per.values())
    stats.pending = total - sum(len(v) for v in verdicts.values())
    return verdicts


def _probe(run: _Run, agreed: dict[str, Task]) -> dict[str, Any]:
    """The blind probe of each agreed task (its reference set to the consensus); id -> CheckResult."""
    stats = run.stage("shortcut")
    stats.input = len(agreed)
    if not run.s.probe:
        stats.output = len(agreed)
        return {}
    samples, temperature = run.s.probe_samples, run.s.probe_temperature
    keys = {tid: probe_key(task, run.prober, samples, temperature, None) for tid, task in agreed.items()}
    results: dict[str, list[dict[str, Any]]] = {}
    todo = []
    for tid in agreed:
        hit = run.cached(tid, "probe", keys[tid])
        if hit is not None:
            results[tid] = hit["samples"]
            stats.reused += 1
        else:
            todo.append(tid)

    def work(tid: str) -> list[dict[str, Any]]:
        if not run.budget.calls_left:
            raise _Stop()
        return [run_sample(agreed[tid], run.prober, i, temperature, None) for i in range(samples)]

    def done(tid: str, got: list[dict[str, Any]]) -> None:
        if any("BudgetExhausted" in s.get("error", "") for s in got):
            run.halt(f"budget: {run.budget.spent()}")
            raise _Stop()
        if not any("error" in s for s in got):
            results[tid] = got
            run.save(tid, "probe", keys[tid], {"samples": got})
        run.progress("shortcut", len(results), len(agreed))

    run.progress("shortcut", len(results), len(agreed))
    _parallel(todo, work, run.s.llm_concurrency, done, run.stop)
    return {tid: probe_result(agreed[tid], got, samples, run.s.probe_threshold) for tid, got in results.items()}


def _decision(task: Task, status: str, stage: str, reason: str, **extra: Any) -> dict[str, Any]:
    return {"id": task.id, "dataset": task.metadata.get("dataset"), "source": task.metadata.get("source"),
            "question": task.question, "answer_type": task.metadata.get("answer_type"), "status": status,
            "stage": stage, "reason": reason, **extra}


# -- the pipeline ------------------------------------------------------------------------------------


def synthesize(settings: SynthSettings, out: str | os.PathLike[str], *, progress: Progress | None = None) -> SynthResult:
    """Run (or resume) every stage into ``out``; see the module docstring."""
    settings.check()
    out = Path(out)
    with runner.locked(out):
        run = _Run(settings, out, progress)
        try:
            return _synthesize(run)
        finally:
            run.close()


def _timed(run: _Run, name: str, fn: Callable[[], Any]) -> Any:
    started = time.monotonic()
    try:
        return fn()
    finally:
        run.stages[name].seconds = time.monotonic() - started


def _synthesize(run: _Run) -> SynthResult:
    s = run.s
    try:
        datasets = discover(s.sources, s.image)
    except ValueError as exc:
        raise SynthError(str(exc)) from exc
    image_of = {ds.name: ds.image for ds in datasets}
    _preflight(run, image_of.values())
    started = now_iso()
    profiles = _timed(run, "profile", lambda: _profiles(run, datasets))
    candidates = _timed(run, "generate", lambda: _questions(run, datasets, profiles))
    decisions: dict[str, dict[str, Any]] = {}
    tasks = _dedup(run, candidates, decisions, image_of)
    rollouts = _timed(run, "rollout", lambda: _rollouts(run, tasks))
    verdicts = _timed(run, "verify", lambda: _verify(run, tasks, rollouts, image_of))

    t0 = time.monotonic()
    stats = run.stage("consensus")
    agreed: dict[str, Task] = {}
    outcome: dict[str, dict[str, Any]] = {}
    for task in tasks:
        per = verdicts[task.id]
        if len(per) < s.rollouts:
            decisions[task.id] = _decision(task, "pending", "verify" if len(rollouts[task.id]) == s.rollouts
                                           else "rollout", f"{len(per)} of {s.rollouts} rollouts verified so far",
                                           verdicts=list(per.values()))
            stats.pending += 1
            continue
        stats.input += 1
        result = verify.consensus(task, list(per.values()), s.rollouts, s.agreement)
        outcome[task.id] = result
        if not result["agreed"]:
            decisions[task.id] = _decision(task, "dropped", "consensus", result["reason"], verdicts=list(per.values()))
            stats.drop("no majority")
            continue
        minority = sum(1 for v in per.values() if v["status"] == verify.VERIFIED and v["sample"] not in result["samples"])
        if minority:
            stats.notes["verified rollouts outside the majority"] = \
                stats.notes.get("verified rollouts outside the majority", 0) + minority
        agreed[task.id] = verify.final_task(task, result["answer"])
    stats.output = len(agreed)
    stats.seconds = time.monotonic() - t0

    probes = _timed(run, "shortcut", lambda: _probe(run, agreed))
    shortcut = run.stages["shortcut"]
    t0 = time.monotonic()
    difficulty = run.stage("difficulty")
    kept: list[Task] = []
    for tid, task in agreed.items():
        per = list(verdicts[tid].values())
        check = probes.get(tid)
        if s.probe and check is None:
            decisions[tid] = _decision(task, "pending", "shortcut", "blind probe not run yet", verdicts=per)
            shortcut.pending += 1
            continue
        if check is not None and check.status == "fail":
            decisions[tid] = _decision(task, "dropped", "shortcut", check.reason, verdicts=per)
            shortcut.drop("answerable without the data")
            continue
        difficulty.input += 1
        if filters.trivial(per, outcome[tid], s.rollouts, s.trivial_cells):
            decisions[tid] = _decision(task, "dropped", "difficulty",
                                       f"every rollout solved it in at most {s.trivial_cells} code cell(s)",
                                       verdicts=per)
            difficulty.drop("trivial")
            continue
        kept.append(task)
    shortcut.output = shortcut.input - shortcut.pending - sum(shortcut.dropped.values())
    difficulty.output = len(kept)
    difficulty.seconds = time.monotonic() - t0

    t0 = time.monotonic()
    exported = run.stage("export", "examples")
    rows = []
    for task in kept:
        samples = outcome[task.id]["samples"]
        for sample in samples:
            rows.append(export.sft_row(task, rollouts[task.id][sample], task.answer, s.observation_role))
        decisions[task.id] = _decision(task, "kept", "export", outcome[task.id]["reason"], answer=task.answer,
                                       examples=len(samples), verdicts=list(verdicts[task.id].values()))
    exported.input = len(kept)
    exported.output = len(rows)
    pending = sum(1 for d in decisions.values() if d["status"] == "pending")
    sft_dir = export.write_sft(rows, run.out / "sft", _card(run, datasets, len(kept), len(rows)))
    suite_dirs = _export_suites(run, kept, outcome, image_of) if s.export_suite else []
    exported.seconds = time.monotonic() - t0
    _write_tasks(run, candidates, decisions)
    _write_report(run, started, len(kept), len(rows), pending)
    return SynthResult(run.out, run.stages, len(kept), len(rows), pending, run.budget.to_dict(), run.stopped_by,
                       sft_dir, suite_dirs)


def _export_suites(run: _Run, kept: list[Task], outcome: dict[str, dict[str, Any]],
                   image_of: dict[str, str]) -> list[Path]:
    images = sorted({image_of[t.metadata["dataset"]] for t in kept}) or ["default"]
    written = []
    for image in images:
        members = [(t, t.answer, {"consensus": outcome[t.id]["reason"], "image": image})
                   for t in kept if image_of[t.metadata["dataset"]] == image]
        folder = run.out / ("suite" if len(images) == 1 else f"suite-{image}")
        name = run.name if len(images) == 1 else f"{run.name}-{image}"
        written.append(export.write_suite(members, folder, name, f"Execution-verified tasks synthesised by dsgym "
                                                                  f"({len(members)} tasks)", image))
    return written


def _write_tasks(run: _Run, candidates: list[Task], decisions: dict[str, dict[str, Any]]) -> None:
    lines = [json.dumps(decisions[t.id], ensure_ascii=False, default=str) for t in candidates if t.id in decisions]
    runner._atomic_write(run.out / TASKS, ("\n".join(lines) + "\n" if lines else "").encode())


def _stage_rows(run: _Run) -> list[dict[str, Any]]:
    return [{"stage": name, "unit": st.unit, "in": st.input, "out": st.output, "dropped": dict(st.dropped),
             "pending": st.pending, "reused": st.reused, "seconds": round(st.seconds, 2), "notes": dict(st.notes)}
            for name, st in run.stages.items()]


def _write_report(run: _Run, started: str, kept: int, examples: int, pending: int) -> None:
    report = {"name": run.name, "started_at": started, "ended_at": now_iso(), "settings": run.s.public(),
              "stages": _stage_rows(run), "kept_tasks": kept, "examples": examples, "pending_tasks": pending,
              "budget": run.budget.to_dict(), "stopped_by": run.stopped_by}
    runner._atomic_write(run.out / REPORT, (json.dumps(report, indent=2, default=str) + "\n").encode())
    runner._atomic_write(run.out / "synth-report.md", ("\n".join(report_lines(report)) + "\n").encode())


def report_lines(report: dict[str, Any]) -> list[str]:
    """The per-stage table (Markdown) of a ``synth-report.json``."""
    lines = [f"# Synthesis run {report['name']}", "",
             f"{report['kept_tasks']} tasks kept, {report['examples']} SFT examples, "
             f"{report['pending_tasks']} tasks pending" + (f" (stopped: {report['stopped_by']})"
                                                           if report.get("stopped_by") else ""), "",
             "| stage | unit | in | out | dropped | pending | reused | seconds |",
             "|---|---|---:|---:|---|---:|---:|---:|"]
    for row in report["stages"]:
        dropped = "; ".join(f"{reason}: {count}" for reason, count in row["dropped"].items()) or "-"
        if row.get("notes"):
            dropped += " (" + "; ".join(f"{what}: {count}" for what, count in row["notes"].items()) + ")"
        lines.append(f"| {row['stage']} | {row['unit']} | {row['in']} | {row['out']} | {dropped} | {row['pending']} "
                     f"| {row['reused']} | {row['seconds']:.1f} |")
    return lines


def _card(run: _Run, datasets: list[Dataset], kept: int, examples: int) -> str:
    """The dataset card: what the data is, where it came from, and what each filter dropped."""
    sources = sorted({ds.source for ds in datasets})
    lines = ["---", "task_categories:", "- text-generation", "tags:", "- dsgym", "- data-science", "- agents",
             "- sft", "---", "", f"# {run.name}: execution-verified data-science trajectories", "",
             f"{examples} chat trajectories (`messages`) of an agent solving {kept} data-analysis questions, "
             "generated by `dsgym synth`. Every kept trajectory's code was re-executed from scratch in a fresh "
             "sandbox and reproduced its final answer, and a majority of rollouts agreed on it.", "",
             "## Sources", ""]
    lines += [f"- {src} ({sum(ds.source == src for ds in datasets)} dataset(s))" for src in sources]
    lines += ["", "## Generation", "", f"- model: `{run.s.model}`; agent: `{run.s.agent}`; "
              f"{run.s.questions} questions per dataset; {run.s.rollouts} rollouts per question",
              f"- consensus: more than {run.s.agreement:g} of the rollouts; blind probe: "
              + (f"{run.s.probe_samples} samples, threshold {run.s.probe_threshold:g}" if run.s.probe else "off"),
              f"- near-duplicate threshold {run.s.dedup_threshold:g}; trivial: at most {run.s.trivial_cells} "
              "code cell(s) in every rollout", "", "## Counts and drop rates", ""]
    for row in _stage_rows(run):
        dropped = sum(row["dropped"].values())
        rate = f"{dropped / row['in']:.0%}" if row["in"] else "-"
        why = "; ".join(f"{reason}: {count}" for reason, count in row["dropped"].items())
        lines.append(f"- {row['stage']}: {row['in']} in, {row['out']} out, {dropped} dropped ({rate})"
                     + (f" [{why}]" if why else "") + (f", {row['pending']} pending" if row["pending"] else ""))
    lines += ["", "## Format", "", "Each row: `messages` (system, user task prompt, then assistant replies and "
              f"`{run.s.observation_role}` observations), `task_id`, `dataset`, `source`, `question`, `answer`, "
              "`reference` (JSON), `answer_type`, `sample`, `turns`, `model`, `agent`.", ""]
    return "\n".join(lines)
