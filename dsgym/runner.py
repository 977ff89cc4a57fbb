"""Running many episodes, several at a time, each in its own env and sandbox; run folders and resume.

Two layers:

* ``run(jobs, agent_factory, concurrency=..., env_options=...)`` plays episodes and
  returns their ``EpisodeRecord``\\ s.  Each episode runs in a worker thread with
  retries for infrastructure failures (sandbox, model endpoint) and an optional hard
  deadline (``episode_timeout``, retries included): at the deadline the runner stops
  waiting, records a ``timeout`` error and closes the episode's sandbox, even if the
  agent is stuck in a model call.
* ``evaluate(settings, out)`` is ``dsgym eval``: it plays the (task, sample) episodes
  of a run folder that are not done yet and appends one JSON line per episode to
  ``<out>/episodes.jsonl``; ``<out>/manifest.json`` records what was run and how.
  Model replies (agent and judge) are cached in ``<out>/llm-cache/``, so a resume or
  ``--retry-errors`` replays exactly what this run saw and no other run sees them;
  ``llm_cache`` (``--llm-cache``) shares a cache across runs on purpose.

The log is written by one thread only (the scheduler's), one ``os.write`` of a whole
line on an ``O_APPEND`` descriptor followed by ``fsync``, so a process killed with
SIGKILL loses at most the episodes in flight and leaves at worst one torn last line,
which the reader reports and the next writer cuts off.  A ``flock`` on
``<out>/.lock`` keeps two writers out of one folder.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import math
import os
import queue
import shutil
import sys
import tempfile
import threading
import time
import uuid
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dsgym import admission, registry
from dsgym.agents.base import Agent
from dsgym.env import DSGymEnv
from dsgym.episode import EpisodeRecord, describe, episode_key, now_iso, play
from dsgym.llm import RUN_CACHE, caching_in, chosen_cache_dir
from dsgym.predict.grade import grade as grade_submission
from dsgym.sandbox.base import Limits
from dsgym.scoring import score_answer
from dsgym.scoring.result import Score
from dsgym.task import Task

if TYPE_CHECKING:
    from dsgym.ray_backend import RayBackend

EPISODES = "episodes.jsonl"
ARTIFACTS = "artifacts"  # figures and submission files of the run's episodes
MANIFEST = "manifest.json"
LOCK = ".lock"
MANIFEST_FORMAT = 1
LLM_CACHE = "llm_cache"  # a runner option carried in env_options (to Ray workers too): the episodes' reply cache


# -- jobs ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    """One episode to play: a task and a sample index (also the seed of ``reset``)."""

    suite: str
    task_id: str
    sample: int = 0

    @property
    def env_id(self) -> str:
        return f"{self.suite}/{self.task_id}"

    @property
    def key(self) -> str:
        return episode_key(self.suite, self.task_id, self.sample)

    @property
    def seed(self) -> int:
        return self.sample


def expand(env_ids: Iterable[str], samples: int = 1) -> list[Job]:
    """``suite`` means every task of the suite; ``suite/task`` means that task; ``samples`` each.

    Sample 0 of every task comes first, so a run cut short still covers every task.
    Duplicates (a suite and one of its tasks) are played once.
    """
    if samples < 1:
        raise ValueError("samples must be at least 1")
    tasks: dict[tuple[str, str], None] = {}  # ordered and deduplicated in linear time
    for env_id in env_ids:
        suite, task = registry.resolve(env_id)
        for task_id in [task.id] if task else sorted(suite.tasks):
            tasks.setdefault((suite.name, task_id))
    return [Job(suite, task_id, sample) for sample in range(samples) for suite, task_id in tasks]


# -- one episode, with retries ---------------------------------------------------------------------


@dataclass(frozen=True)
class RetryPolicy:
    """Retries of sandbox and model-endpoint failures: ``backoff * 2**(n-1)`` s before retry n."""

    retries: int = 2
    backoff: float = 2.0
    max_backoff: float = 60.0

    def delay(self, attempt: int) -> float:
        return min(self.max_backoff, self.backoff * 2 ** (attempt - 1))


class _Slot:
    """One episode in flight: its deadline, a cancel flag, and what the worker is doing now."""

    def __init__(self, index: int, job: Job, deadline: float | None):
        self.index, self.job, self.deadline = index, job, deadline
        self.in_flight = 0  # episodes running when this one started, itself included
        self.load_retry = False  # the second attempt of a load-suspect episode
        self.started = time.monotonic()
        self.cancel = threading.Event()
        self.env: DSGymEnv | None = None
        self.record: EpisodeRecord | None = None  # the attempt in progress
        self.agent: Agent | None = None
        self.failures: list[dict[str, Any]] = []
        self.tokens: dict[str, int] = {}

    def abandon(self) -> None:
        """Stop waiting for this episode: flag it and remove its sandbox now (thread-safe)."""
        self.cancel.set()
        env = self.env
        if env is not None:
            try:
                env.close()
            except Exception:  # noqa: BLE001 - best effort; the worker closes it again
                pass

    def timeout_record(self, budget: float) -> EpisodeRecord:
        """The record of an episode given up at its deadline: what it did so far, typed ``timeout``."""
        current = self.record
        record = _blank_record(self.job)
        if current is not None:
            for name in ("agent", "agent_config", "model", "prompt", "episode_id", "reset_time", "category"):
                setattr(record, name, getattr(current, name))
            record.turns = list(current.turns)
        record.started_at = current.started_at if current is not None else record.started_at
        record.tokens = _add_tokens(self.tokens, _agent_tokens(self.agent))
        record.attempts = len(self.failures) + 1
        record.retried = list(self.failures)
        record.wall_time = time.monotonic() - self.started
        record.ended_at = now_iso()
        return record.fail("timeout", f"episode exceeded its hard budget of {budget:g} s "
                                      f"(--episode-timeout, retries included); its sandbox was closed")


def _blank_record(job: Job) -> EpisodeRecord:
    try:
        category = registry.get_task(job.suite, job.task_id).metadata.get("category")
    except registry.UnknownEnvError:
        category = None
    return EpisodeRecord(env_id=job.env_id, task_id=job.task_id, agent="", suite=job.suite, sample=job.sample,
                         seed=job.seed, category=category, started_at=now_iso())


def _agent_tokens(agent: Agent | None) -> dict[str, int]:
    usage = getattr(agent, "usage", None) or {}
    try:
        return {k: int(usage.get(k, 0) or 0) for k in ("prompt_tokens", "completion_tokens", "total_tokens")}
    except (AttributeError, TypeError, ValueError):
        return {}


def _add_tokens(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    keys = ("prompt_tokens", "completion_tokens", "total_tokens")
    return {k: int(a.get(k, 0)) + int(b.get(k, 0)) for k in keys}


def _attempt(job: Job, agent_factory: Callable[[], Agent], env_options: dict[str, Any],
             slot: _Slot) -> EpisodeRecord:
    """Play the job once: a fresh agent, a fresh env and sandbox."""
    t0 = time.monotonic()
    record = _blank_record(job)
    slot.record = record
    try:
        agent = agent_factory()
    except Exception as exc:  # noqa: BLE001 - e.g. an endpoint the agent checks at start
        from dsgym.episode import classify_agent_error

        kind, retry = classify_agent_error(exc)
        record.wall_time = time.monotonic() - t0
        return record.fail(kind, f"agent could not be created: {describe(exc)}", retryable=retry)
    slot.agent = agent
    try:
        agent.sample_index = job.sample  # lets a sampling agent draw distinct (cached) samples per index
    except AttributeError:
        pass
    record.agent = getattr(agent, "name", type(agent).__name__)
    try:
        record.agent_config = dict(agent.config())
    except Exception as exc:  # noqa: BLE001 - a broken config() must not lose the episode
        record.agent_config = {"agent": record.agent, "config_error": describe(exc)}
    record.model = record.agent_config.get("model")
    try:
        env = DSGymEnv(job.suite, job.task_id, **env_options)
    except Exception as exc:  # noqa: BLE001 - bad options, unknown sandbox kind
        record.wall_time = time.monotonic() - t0
        return record.fail("env", f"env could not be created: {describe(exc)}")
    slot.env = env
    try:
        if slot.cancel.is_set():
            return record.fail("timeout", "cancelled by the runner")
        play(env, agent, seed=job.seed, record=record, cancel=slot.cancel)
    finally:
        slot.env = None
        try:
            env.close()
        except Exception:  # noqa: BLE001 - the record matters more than a failed removal
            pass
    return record


def run_episode(job: Job, agent_factory: Callable[[], Agent], env_options: dict[str, Any] | None = None,
                policy: RetryPolicy = RetryPolicy(), *, slot: _Slot | None = None) -> EpisodeRecord:
    """Play ``job``, retrying sandbox and endpoint failures per ``policy`` (within the slot's deadline)."""
    slot = slot or _Slot(0, job, None)
    options = env_options or {}
    attempt = 0
    while True:
        attempt += 1
        record = _attempt(job, agent_factory, options, slot)
        if record.status == "ok" or not record.retryable or attempt > policy.retries or slot.cancel.is_set():
            break
        delay = policy.delay(attempt)
        if slot.deadline is not None and time.monotonic() + delay >= slot.deadline:
            break  # no time left for another try: the error stands
        slot.failures.append(record.attempt_summary())
        slot.tokens = _add_tokens(slot.tokens, record.tokens)
        slot.agent = None
        if slot.cancel.wait(delay):
            break
    record.attempts = attempt
    record.retried = list(slot.failures)
    record.tokens = _add_tokens(slot.tokens, record.tokens)
    return record


# -- the scheduler ---------------------------------------------------------------------------------


class RunAborted(RuntimeError):
    """Too many episodes failed (``max_errors``); the run stopped early."""

    def __init__(self, message: str, records: list[EpisodeRecord]):
        super().__init__(message)
        self.records = records


def error_limit(max_errors: float | None, total: int) -> float | None:
    """``max_errors`` as a count (>= 1) or a fraction of ``total`` (< 1); the run aborts above it."""
    if max_errors is None:
        return None
    if max_errors < 0:
        raise ValueError("max_errors must be >= 0")
    if max_errors >= 1:
        if max_errors != int(max_errors):
            raise ValueError("max_errors is a count (an integer >= 0) or a fraction below 1")
        return float(max_errors)
    return max_errors * total


def admit(jobs: list[Job], concurrency: int, *, cpus: float | None = None,
          overcommit: bool = False) -> admission.Admission:
    """Admission control for ``jobs`` on this host (``dsgym.admission``): the plan and its warnings."""
    needs = [admission.suite_needs(registry.get_suite(name)) for name in sorted({j.suite for j in jobs})]
    return admission.plan(concurrency, needs, cpus=cpus, overcommit=overcommit)


def run(jobs: list[Job], agent_factory: Callable[[], Agent], *, concurrency: int = 1,
        env_options: dict[str, Any] | None = None,
        on_result: Callable[[EpisodeRecord], None] | None = None,
        episode_timeout: float | None = None, retries: int = 2, backoff: float = 2.0,
        max_errors: float | None = None, backend: RayBackend | None = None,
        cpus: float | None = None, overcommit: bool = False,
        plan: admission.Admission | None = None) -> list[EpisodeRecord]:
    """Play every job (``concurrency`` at once) and return the records in job order.

    ``agent_factory`` is called once per attempt, in the episode's worker thread.
    ``on_result`` is called from the calling thread as each episode ends (a single
    writer).  ``episode_timeout``: hard seconds per episode, retries included.
    ``max_errors``: raise ``RunAborted`` once more episodes than this (a count, or a
    fraction of the jobs) ended in error.  On Ctrl-C every in-flight sandbox is removed.
    ``env_options`` may also hold ``llm_cache`` (taken out before the env sees them): a
    folder where model clients built during an episode cache their replies.
    ``backend``: play each episode as a Ray task instead (``dsgym.ray_backend``); then
    ``concurrency`` is the most tasks in flight (1, the default, means what the cluster fits)
    and ``agent_factory`` must be picklable.

    Admission control (``plan``, else ``admit(jobs, concurrency, cpus=, overcommit=)``, whose
    warnings are issued as ``OvercommitWarning``): each sandbox gets ``plan.cpus`` CPUs (unless
    ``env_options`` give ``limits``), CPU-heavy suites' episodes run at most ``plan.heavy_limit``
    at once, and an episode that ends ``load_suspect`` (a cell starved of CPU by the host's load)
    is played once more after the others, at half the concurrency.  Every record carries the
    conditions it ran under (``EpisodeRecord.conditions``).
    """
    if backend is not None:
        return _run_on_ray(jobs, agent_factory, backend, concurrency=concurrency, env_options=env_options,
                           on_result=on_result, episode_timeout=episode_timeout, retries=retries,
                           backoff=backoff, max_errors=max_errors)
    if episode_timeout is not None and episode_timeout <= 0:
        raise ValueError("episode_timeout must be positive")
    options = dict(env_options or {})
    cache = options.pop(LLM_CACHE, None)
    if plan is None:
        plan = admit(jobs, concurrency, cpus=cpus, overcommit=overcommit)
        for message in plan.warnings:
            warnings.warn(message, OvercommitWarning, stacklevel=2)
    limits = options.get("limits")
    if limits is None:
        limits = options["limits"] = Limits(cpus=plan.cpus)
    conditions = {**plan.conditions(), "sandbox_cpus": limits.cpus}
    heavy = {name for name in {j.suite for j in jobs} if admission.suite_needs(registry.get_suite(name)).cpu_heavy}
    policy = RetryPolicy(retries=max(0, retries), backoff=backoff)
    limit = error_limit(max_errors, len(jobs))
    done: queue.SimpleQueue[tuple[_Slot, EpisodeRecord]] = queue.SimpleQueue()
    queues = _Queues(jobs, heavy)
    inflight: dict[int, _Slot] = {}
    records: dict[int, EpisodeRecord] = {}
    errors = 0
    slots = max(1, concurrency)

    def work(slot: _Slot) -> None:
        try:
            with caching_in(cache):  # the agent's and the judge's clients cache their replies there
                record = run_episode(slot.job, agent_factory, options, policy, slot=slot)
        except BaseException as exc:  # noqa: BLE001 - a bug here must still end the episode
            record = _blank_record(slot.job).fail("agent", f"runner: {describe(exc)}")
        record.conditions = {**conditions, "in_flight": slot.in_flight, "load_retry": slot.load_retry}
        done.put((slot, record))

    try:
        while queues or inflight:
            while True:
                heavy_now = sum(s.job.suite in heavy for s in inflight.values())
                taken = queues.take(len(inflight), slots, heavy_now, plan.heavy_limit)
                if taken is None:
                    break
                index, job, first = taken
                deadline = time.monotonic() + episode_timeout if episode_timeout else None
                slot = inflight[index] = _Slot(index, job, deadline)
                slot.in_flight = len(inflight)
                if first is not None:  # the load-suspect attempt, kept in the retry's record
                    slot.load_retry = True
                    slot.failures.append({**first.attempt_summary(), "conditions": first.conditions})
                    slot.tokens = dict(first.tokens)
                # daemon: a worker stuck in a model call past its deadline must not keep the process alive
                threading.Thread(target=work, args=(slot,), name=f"dsgym-episode-{index}", daemon=True).start()
            wait = 0.5
            deadlines = [s.deadline for s in inflight.values() if s.deadline is not None]
            if deadlines:
                wait = max(0.0, min(wait, min(deadlines) - time.monotonic()))
            finished: list[tuple[_Slot, EpisodeRecord]] = []
            try:
                item = done.get(timeout=wait)
                while True:  # take every result that is in before looking at deadlines
                    if inflight.get(item[0].index) is item[0]:
                        finished.append(item)
                    item = done.get_nowait()
            except queue.Empty:
                pass
            now = time.monotonic()
            for slot in list(inflight.values()):
                if slot.deadline is not None and now >= slot.deadline and all(s is not slot for s, _ in finished):
                    slot.abandon()
                    finished.append((slot, slot.timeout_record(episode_timeout or 0)))
            for slot, record in finished:
                del inflight[slot.index]
                if not record.conditions:  # given up at its deadline
                    record.conditions = {**conditions, "in_flight": slot.in_flight, "load_retry": slot.load_retry}
                if record.error_type == "load_suspect" and not slot.load_retry:
                    queues.retry(slot.index, slot.job, record)  # once more, after the others, fewer at once
                    continue
                records[slot.index] = record
                errors += record.status == "error"
                if on_result:
                    on_result(record)
            if limit is not None and errors > limit:
                raise RunAborted(f"aborted: {errors} of {len(records)} finished episode(s) failed, more "
                                 f"than max_errors={max_errors:g} allows", [records[i] for i in sorted(records)])
    except BaseException as exc:
        for slot in inflight.values():
            slot.abandon()
        if not isinstance(exc, Exception):  # Ctrl-C, SystemExit: also sandboxes still being created
            _stop_sandboxes()
        raise
    return [records[i] for i in range(len(jobs))]


class OvercommitWarning(UserWarning):
    """More episodes were asked to run at once than the machine has cores (or memory) for."""


class _Queues:
    """Episodes waiting to start: CPU-heavy and other ones (each in job order), then load-suspect retries.

    Retries start only when nothing else waits, and at most half the slots are in use, so
    they run under less load than the attempt that starved.
    """

    def __init__(self, jobs: list[Job], heavy: set[str]):
        self.heavy: deque[tuple[int, Job]] = deque()
        self.light: deque[tuple[int, Job]] = deque()
        for index, job in enumerate(jobs):
            (self.heavy if job.suite in heavy else self.light).append((index, job))
        self.retries: deque[tuple[int, Job, EpisodeRecord]] = deque()

    def __bool__(self) -> bool:
        return bool(self.heavy or self.light or self.retries)

    def retry(self, index: int, job: Job, first: EpisodeRecord) -> None:
        self.retries.append((index, job, first))

    def take(self, running: int, slots: int, heavy_running: int,
             heavy_limit: int | None) -> tuple[int, Job, EpisodeRecord | None] | None:
        """The next episode to start now, or None."""
        if running >= slots:
            return None
        heavy_ok = heavy_limit is None or heavy_running < heavy_limit
        heads = [q for q in (self.light, self.heavy if heavy_ok else None) if q]
        if heads:
            index, job = min(heads, key=lambda q: q[0][0]).popleft()
            return index, job, None
        if self.heavy or self.light or not self.retries or running >= max(1, slots // 2):
            return None
        return self.retries.popleft()


def _run_on_ray(jobs: list[Job], agent_factory: Callable[[], Agent], backend: RayBackend, *, concurrency: int,
                env_options: dict[str, Any] | None, on_result: Callable[[EpisodeRecord], None] | None,
                episode_timeout: float | None, retries: int, backoff: float,
                max_errors: float | None) -> list[EpisodeRecord]:
    from dsgym import ray_backend

    limit = error_limit(max_errors, len(jobs))
    finished: list[EpisodeRecord] = []
    errors = 0

    def counted(record: EpisodeRecord) -> None:
        nonlocal errors
        record.conditions = record.conditions or {"concurrency": concurrency, "backend": "ray"}
        finished.append(record)
        errors += record.status == "error"
        if on_result:
            on_result(record)
        if limit is not None and errors > limit:
            raise RunAborted(f"aborted: {errors} of {len(finished)} finished episode(s) failed, more "
                             f"than max_errors={max_errors:g} allows", list(finished))

    return ray_backend.run_jobs(jobs, agent_factory, backend, concurrency=concurrency if concurrency > 1 else None,
                                env_options=dict(env_options or {}), on_result=counted,
                                episode_timeout=episode_timeout, retries=max(0, retries), backoff=backoff)


def _stop_sandboxes() -> None:
    """Remove every container this process still holds, so in-flight episodes end at once."""
    docker_sandbox = sys.modules.get("dsgym.sandbox.docker")
    if docker_sandbox is not None:
        docker_sandbox.close_all()


# -- the episode log -------------------------------------------------------------------------------


@dataclass
class LogContents:
    records: list[dict[str, Any]]
    torn_bytes: int = 0  # an incomplete last line (an interrupted write), ignored
    bad_lines: list[int] = field(default_factory=list)  # complete lines that are not JSON objects (1-based)
    good_size: int = 0  # bytes up to the end of the last complete line


class EpisodeLog:
    """``episodes.jsonl``: append-only, one JSON object per line, whole lines or nothing."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self._fd: int | None = None

    def read(self) -> LogContents:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return LogContents([])
        end = data.rfind(b"\n") + 1
        body, tail = data[:end], data[end:]
        contents = LogContents([], good_size=end)
        for number, line in enumerate(body.split(b"\n")[:-1], 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:
                record = None
            if isinstance(record, dict):
                contents.records.append(record)
            else:
                contents.bad_lines.append(number)
        if tail.strip():
            contents.torn_bytes = len(tail)
        return contents

    def open(self) -> LogContents:
        """Read the log, cut off a torn last line, and open it for appending."""
        contents = self.read()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        if os.fstat(fd).st_size > contents.good_size:
            os.ftruncate(fd, contents.good_size)
            os.fsync(fd)
        self._fd = fd
        _fsync_dir(self.path.parent)
        return contents

    def append(self, record: dict[str, Any]) -> None:
        assert self._fd is not None, "open() the log first"
        data = (json.dumps(record, ensure_ascii=False, default=str) + "\n").encode("utf-8", "surrogatepass")
        written = os.write(self._fd, data)
        while written < len(data):  # only on a full disk or a signal: the reader treats the line as torn
            written += os.write(self._fd, data[written:])
        os.fsync(self._fd)

    def rewrite(self, records: list[dict[str, Any]]) -> None:
        """Replace the whole log atomically (temp file, fsync, rename)."""
        self.close()
        atomic_write(self.path, b"".join((json.dumps(r, ensure_ascii=False, default=str) + "\n").encode(
            "utf-8", "surrogatepass") for r in records))

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def latest(records: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The last record of each episode key (a retried episode supersedes its errored line)."""
    out: dict[str, dict[str, Any]] = {}
    for record in records:
        key = episode_key(record.get("suite", ""), record.get("task_id", ""), int(record.get("sample", 0)))
        out.pop(key, None)
        out[key] = record
    return out


def atomic_write(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so a crash leaves the old file or the new one, never a mix."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# -- run folders -----------------------------------------------------------------------------------


class RunDirError(RuntimeError):
    """The run folder cannot be used as asked (other settings, busy, not a run)."""


@dataclass
class EvalSettings:
    """What decides an eval's results; a run folder holds episodes of one setting only."""

    targets: list[str]
    agent: str = "oracle"
    agent_kwargs: dict[str, Any] = field(default_factory=dict)
    samples: int = 1
    env_options: dict[str, Any] = field(default_factory=dict)
    episode_timeout: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"targets": list(self.targets), "agent": self.agent, "agent_kwargs": dict(self.agent_kwargs),
                "samples": self.samples, "env_options": dict(self.env_options),
                "episode_timeout": self.episode_timeout}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EvalSettings:
        return cls(**{k: data[k] for k in ("targets", "agent", "agent_kwargs", "samples", "env_options",
                                           "episode_timeout") if k in data})


FINGERPRINT_FORMAT = 2  # 1 (no "hash_format"): one JSON document of all tasks; 2: each task's JSON in turn


def suite_fingerprint(suite: registry.Suite) -> dict[str, Any]:
    """Version, task count and a SHA-256 of every task definition of a suite.

    Each task is serialised by pydantic (compiled, about five times faster than ``json``
    with sorted keys), so a 100,000-task suite is fingerprinted in about a second.
    """
    digest = hashlib.sha256()
    for _, task in sorted(suite.tasks.items()):
        try:
            blob = task.model_dump_json(exclude=_HOST_PATHS, fallback=str)
        except ValueError:  # text pydantic will not encode (lone surrogates): the slow, lenient path
            blob = json.dumps(_task_definition(task), sort_keys=True, ensure_ascii=False, default=str)
        digest.update(blob.encode("utf-8", "surrogatepass") + b"\n")
    return {"version": suite.version, "tasks": len(suite.tasks), "hash": digest.hexdigest(),
            "hash_format": FINGERPRINT_FORMAT}


def prompt_hash(jobs: list[Job]) -> str:
    """A hash of what the agent sees of the run's tasks (grading excluded: ``rescore`` handles that)."""
    seen = sorted({(j.suite, j.task_id) for j in jobs})
    known = registry.suites()
    parts = []
    for suite, task_id in seen:
        task = known[suite].tasks[task_id]
        parts.append({"env_id": task.env_id, "context": task.context, "question": task.question,
                      "guideline": task.guideline, "data_files": task.data_files, "kind": task.kind,
                      "submission": task.prediction.submission_file if task.prediction else None})
    return _hash(parts)


def _regrade(task: Task, record: dict[str, Any], out: Path) -> Score:
    """Grade an episode again: its answer text, or the submission file the run kept."""
    if task.kind == "answer":
        return score_answer(task.metric, record.get("answer") or "", task.answer, task.metric_params,
                            question=task.question)
    saved = record.get("submission")
    path = out / saved if saved else None
    return grade_submission(task, path if path and path.is_file() else None)


_HOST_PATHS = {"prediction": {"labels_file", "leaderboard_file"}}  # differ between machines; content is the task's


def _task_definition(task: Any) -> dict[str, Any]:
    data = task.model_dump(mode="json")
    if data.get("prediction"):
        for name in _HOST_PATHS["prediction"]:
            data["prediction"].pop(name, None)
    return data


def _hash(value: Any) -> str:
    blob = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8", "surrogatepass")).hexdigest()


def read_manifest(out: str | os.PathLike[str]) -> dict[str, Any] | None:
    path = Path(out) / MANIFEST
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except ValueError as exc:
        raise RunDirError(f"{path} is not valid JSON ({exc}); is {out} a dsgym run folder?") from exc


def write_manifest(out: str | os.PathLike[str], manifest: dict[str, Any]) -> None:
    atomic_write(Path(out) / MANIFEST, (json.dumps(manifest, indent=2, ensure_ascii=False, default=str)
                                        + "\n").encode())


def settings_differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Human-readable differences between two settings dicts (JSON-normalised)."""
    old, new = json.loads(json.dumps(old, default=str)), json.loads(json.dumps(new, default=str))
    diffs = []
    for key in sorted(set(old) | set(new)):
        if old.get(key) != new.get(key):
            diffs.append(f"{key}: {json.dumps(old.get(key))} (in the run) vs {json.dumps(new.get(key))} (now)")
    return diffs


@contextmanager
def locked(out: Path) -> Iterator[None]:
    """Exclusive use of a run folder by this process (released on exit, also by SIGKILL)."""
    out.mkdir(parents=True, exist_ok=True)
    fd = os.open(out / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "another process"
            raise RunDirError(f"{out} is in use by {holder}; wait for it or pick another --out") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)


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

    @property
    def missing(self) -> int:
        return len(self.jobs) - len(self.records)


def evaluate(settings: EvalSettings, out: str | os.PathLike[str], *,
             agent_factory: Callable[[], Agent] | None = None, concurrency: int = 1, retries: int = 2,
             backoff: float = 2.0, max_errors: float | None = None, retry_errors: bool = False,
             force: bool = False, command: list[str] | None = None, agent_config: dict[str, Any] | None = None,
             on_plan: Callable[[EvalOutcome, list[Job]], None] | None = None,
             on_result: Callable[[EpisodeRecord], None] | None = None,
             backend: RayBackend | None = None, llm_cache: str | os.PathLike[str] | None = None,
             cpus: float | None = None, overcommit: bool = False) -> EvalOutcome:
    """Play the episodes of ``settings`` that ``out`` does not hold yet (or, ``retry_errors``, the errored ones).

    Refuses (``RunDirError``) when ``out`` holds a run of other settings or other
    prompts, unless ``force``, which moves the old files into ``out/replaced-<time>/``.
    Raises ``RunAborted`` (``max_errors``) and ``KeyboardInterrupt`` after recording
    the invocation's end in the manifest; finished episodes are always kept.  ``backend``
    plays the episodes on Ray (the log and the resume are the same).  ``llm_cache``: a
    folder (or ``shared``) whose cached model replies this run may reuse and add to;
    by default (and without ``$DSGYM_LLM_CACHE_DIR``) the run folder's own ``llm-cache/``.
    ``cpus`` (each sandbox's CPUs) and ``overcommit``: admission control (``run``); its
    warnings are among the outcome's notes, and the invocation records the plan.
    """
    import dsgym
    from dsgym import shutdown

    out = Path(out)
    jobs = expand(settings.targets, settings.samples)
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
        log = EpisodeLog(out / EPISODES)
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
                _set_aside(out)
                manifest = None
            else:
                for name, now in suites.items():
                    then = manifest.get("suites", {}).get(name, {})
                    if then.get("hash_format") == now["hash_format"] and then.get("hash") != now["hash"]:
                        notes.append(f"suite {name}: task definitions changed since the run began "
                                     f"(version {then.get('version')} -> {now['version']}); the prompts "
                                     "did not, so the run resumes; `dsgym rescore` re-grades old answers")
        elif force:
            _set_aside(out)
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
                                      "backend": "ray" if backend else "local",
                                      "address": backend.address if backend else None,
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
        finally:
            log.close()
    return outcome


def _summary_of(record: dict[str, Any]) -> dict[str, Any]:
    return {"error_type": record.get("error_type"), "error": record.get("error"),
            "termination": record.get("termination"), "turns": len(record.get("turns", [])),
            "wall_time": record.get("wall_time"), "tokens": record.get("tokens", {}),
            "started_at": record.get("started_at"), "episode_id": record.get("episode_id")}


def _set_aside(out: Path) -> None:
    """``--force``: move the previous run's files into ``out/replaced-<time>/``, never delete them."""
    target = out / f"replaced-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:4]}"
    moved = False
    for name in (EPISODES, MANIFEST, RUN_CACHE):  # a new run starts with no replies of the old one
        if (out / name).exists():
            target.mkdir(exist_ok=True)
            shutil.move(str(out / name), str(target / name))
            moved = True
    if moved:
        _fsync_dir(out)


def load_run(path: str | os.PathLike[str]) -> tuple[dict[str, Any], list[dict[str, Any]], LogContents]:
    """A run folder's manifest and the latest record of each of its episodes."""
    path = Path(path)
    manifest = read_manifest(path)
    if manifest is None:
        raise RunDirError(f"{path} is not a dsgym run folder (no {MANIFEST})")
    contents = EpisodeLog(path / EPISODES).read()
    return manifest, list(latest(contents.records).values()), contents


# -- rescore ---------------------------------------------------------------------------------------


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
        log = EpisodeLog(path / EPISODES)
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


def parse_max_errors(text: str | None) -> float | None:
    """``"5"`` (a count), ``"0.1"`` or ``"10%"`` (a fraction of the episodes); None: no limit."""
    if text is None or text == "":
        return None
    try:
        value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise ValueError(f"--max-errors takes a count (5) or a fraction (0.1, 10%), not {text!r}") from None
    if value < 0 or not math.isfinite(value) or (value >= 1 and value != int(value)):
        raise ValueError(f"--max-errors takes a count (5) or a fraction (0.1, 10%), not {text!r}")
    return value
