"""Many episodes on the engine: each in its own env and sandbox, retried, bounded, admitted to the host.

``run(jobs, agent_factory, concurrency=..., env_options=...)`` plays episodes and returns
their ``EpisodeRecord``\\ s in job order.  It is one client of ``dsgym.engine``: each attempt
of an episode is one work item (a thread here, a Ray task with ``backend=RayBackend(...)``),
failures of the sandbox or the model endpoint are retried, and at the optional hard deadline
(``episode_timeout``, retries included) the engine stops waiting, records a ``timeout`` error
and the episode's sandbox is closed, even if the agent is stuck in a model call.

A ``Job`` carries its ``Task`` (and image), so nothing downstream looks the id up again and a
Ray worker runs exactly what the driver planned.
"""

from __future__ import annotations

import functools
import math
import threading
import time
import uuid
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from dsgym import admission, engine, registry
from dsgym.agents.base import Agent
from dsgym.config import EnvConfig
from dsgym.env import DSGymEnv
from dsgym.episode import EpisodeRecord, classify_agent_error, describe, episode_key, now_iso, play
from dsgym.llm import caching_in
from dsgym.sandbox.base import Limits
from dsgym.task import Suite, Task

LLM_CACHE = "llm_cache"  # a runner option carried in env_options (to Ray workers too): the episodes' reply cache
RetryPolicy = engine.Retries


@dataclass(frozen=True)
class Job:
    """One episode to play: a task and a sample index (also the seed of ``reset``).

    ``task`` and ``image`` are looked up from the registry when not given; a task that is
    not registered (a synthesis candidate) is passed in with its image.
    """

    suite: str
    task_id: str
    sample: int = 0
    task: Task | None = field(default=None, compare=False, repr=False)
    image: str | None = field(default=None, compare=False)
    variant: int | None = None  # the seed of a variant of the task (dsgym.variants); None: the task itself

    def __post_init__(self) -> None:
        if self.task is None:
            object.__setattr__(self, "task", registry.get_task(self.suite, self.task_id))
        if self.image is None:
            known = registry.suites().get(self.suite)
            object.__setattr__(self, "image", known.image if known is not None else "default")

    @property
    def env_id(self) -> str:
        return f"{self.suite}/{self.task_id}"

    @property
    def key(self) -> str:
        return episode_key(self.suite, self.task_id, self.sample, self.variant)

    @property
    def seed(self) -> int:
        return self.sample


def expand(env_ids: Iterable[str], samples: int = 1, variants: int = 0) -> list[Job]:
    """``suite`` means every task of the suite; ``suite/task`` means that task; ``samples`` each.

    ``variants``: also that many seeded variants of each task (seeds 1..variants), ``samples``
    each.  Sample 0 of every task (then of every variant) comes first, so a run cut short still
    covers every task.  Duplicates (a suite and one of its tasks) are played once.
    """
    if samples < 1 or variants < 0:
        raise ValueError("samples must be at least 1 and variants at least 0")
    tasks: dict[tuple[str, str], tuple[Task, str]] = {}  # ordered and deduplicated in linear time
    for env_id in env_ids:
        suite, task = registry.resolve(env_id)
        for one in [task] if task else [suite.tasks[i] for i in sorted(suite.tasks)]:
            tasks.setdefault((suite.name, one.id), (one, suite.image))
    return [Job(suite, task_id, sample, task, image, variant)
            for sample in range(samples) for variant in [None, *range(1, variants + 1)]
            for (suite, task_id), (task, image) in tasks.items()]


# -- one attempt, in the worker ---------------------------------------------------------------------


class _Live:
    """An attempt in flight in this process: what the driver needs to abandon it or report its progress."""

    def __init__(self) -> None:
        self.cancel = threading.Event()
        self.env: DSGymEnv | None = None
        self.record: EpisodeRecord | None = None
        self.agent: Agent | None = None

    def abandon(self) -> None:
        """Stop the attempt: flag it and remove its sandbox now (thread-safe; the worker closes it again)."""
        self.cancel.set()
        env = self.env
        if env is not None:
            try:
                env.close()
            except Exception:  # noqa: BLE001 - best effort
                pass


_LIVE: dict[tuple[str, int], _Live] = {}  # (run token, job index) -> the attempt running in this process


def blank_record(job: Job) -> EpisodeRecord:
    return EpisodeRecord(env_id=job.env_id, task_id=job.task_id, agent="", suite=job.suite, sample=job.sample,
                         seed=job.seed, category=job.task.metadata.get("category") if job.task else None,
                         started_at=now_iso(), variant=None if job.variant is None else {"seed": job.variant})


def _env_for(job: Job, options: dict[str, Any]) -> DSGymEnv:
    assert job.task is not None
    suite = Suite(name=job.suite, root=job.task.data_root, image=job.image or "default", tasks={job.task_id: job.task})
    if job.variant is not None:
        options = {**options, "variant": job.variant}
    return DSGymEnv(suite, job.task_id, **options)


def attempt(item: tuple[str, int, Job], agent_factory: Callable[[], Agent], options: dict[str, Any],
            cache: str | None) -> EpisodeRecord:
    """Play the job once with a fresh agent, env and sandbox (in a thread here, or in a Ray worker)."""
    token, index, job = item
    live = _LIVE[(token, index)] = _Live()
    try:
        with caching_in(cache):  # the agent's and the judge's clients cache their replies there
            return _attempt(job, agent_factory, options, live)
    except BaseException as exc:  # noqa: BLE001 - a bug here must still end the episode
        return blank_record(job).fail("agent", f"runner: {describe(exc)}")
    finally:
        _LIVE.pop((token, index), None)


def _attempt(job: Job, agent_factory: Callable[[], Agent], options: dict[str, Any], live: _Live) -> EpisodeRecord:
    t0 = time.monotonic()
    record = live.record = blank_record(job)
    try:
        agent = live.agent = agent_factory()
    except Exception as exc:  # noqa: BLE001 - e.g. an endpoint the agent checks at start
        kind, retry = classify_agent_error(exc)
        record.wall_time = time.monotonic() - t0
        return record.fail(kind, f"agent could not be created: {describe(exc)}", retryable=retry)
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
        env = live.env = _env_for(job, options)
    except Exception as exc:  # noqa: BLE001 - bad options, unknown sandbox kind
        record.wall_time = time.monotonic() - t0
        return record.fail("env", f"env could not be created: {describe(exc)}")
    try:
        if live.cancel.is_set():
            return record.fail("timeout", "cancelled by the runner")
        play(env, agent, seed=job.seed, record=record, cancel=live.cancel)
    finally:
        live.env = None
        try:
            env.close()
        except Exception:  # noqa: BLE001 - the record matters more than a failed removal
            pass
    return record


# -- the driver -------------------------------------------------------------------------------------


class RunAborted(RuntimeError):
    """Too many episodes failed (``max_errors``); the run stopped early."""

    def __init__(self, message: str, records: list[EpisodeRecord]):
        super().__init__(message)
        self.records = records


class OvercommitWarning(UserWarning):
    """More episodes were asked to run at once than the machine has cores (or memory) for."""


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


def admit(jobs: list[Job], concurrency: int, *, cpus: float | None = None,
          overcommit: bool = False) -> admission.Admission:
    """Admission control for ``jobs`` on this host (``dsgym.admission``): the plan and its warnings."""
    needs = [admission.suite_needs(_suite_of(job)) for job in _one_per_suite(jobs)]
    return admission.plan(concurrency, needs, cpus=cpus, overcommit=overcommit)


def _one_per_suite(jobs: list[Job]) -> list[Job]:
    return list({job.suite: job for job in jobs}.values())


def _suite_of(job: Job) -> Suite:
    return registry.suites().get(job.suite) or Suite(name=job.suite, root=job.task.data_root,  # type: ignore[union-attr]
                                                     image=job.image or "default")


class _Slot:
    """The driver's view of one episode: its attempts so far and the conditions it ran under."""

    def __init__(self, index: int, job: Job, load_retry: bool = False):
        self.index, self.job, self.load_retry = index, job, load_retry
        self.in_flight = 0
        self.started = time.monotonic()
        self.failures: list[dict[str, Any]] = []
        self.tokens: dict[str, int] = {}

    def finish(self, record: EpisodeRecord, attempts: int) -> EpisodeRecord:
        record.attempts = attempts
        record.retried = list(self.failures)
        record.tokens = _add_tokens(self.tokens, record.tokens)
        return record


class _Queues:
    """Episodes waiting to start: CPU-heavy and other ones (each in job order), then load-suspect retries.

    Retries start only when nothing else waits, and at most half the slots are in use, so
    they run under less load than the attempt that starved.
    """

    def __init__(self, items: list[tuple[str, int, Job]], heavy: set[str], slots: int, heavy_limit: int | None):
        self.heavy: deque[tuple[str, int, Job]] = deque(i for i in items if i[2].suite in heavy)
        self.light: deque[tuple[str, int, Job]] = deque(i for i in items if i[2].suite not in heavy)
        self.retries: deque[tuple[str, int, Job]] = deque()
        self.heavy_suites, self.slots, self.heavy_limit = heavy, slots, heavy_limit

    def __bool__(self) -> bool:
        return bool(self.heavy or self.light or self.retries)

    def take(self, running: Sequence[tuple[str, int, Job]]) -> tuple[str, int, Job] | None:
        heavy_running = sum(item[2].suite in self.heavy_suites for item in running)
        heavy_ok = self.heavy_limit is None or heavy_running < self.heavy_limit
        heads = [q for q in (self.light, self.heavy if heavy_ok else None) if q]
        if heads:
            return min(heads, key=lambda q: q[0][1]).popleft()
        if self.heavy or self.light or not self.retries or len(running) >= max(1, self.slots // 2):
            return None
        return self.retries.popleft()


def run(jobs: list[Job], agent_factory: Callable[[], Agent], *, concurrency: int = 1,
        env_options: dict[str, Any] | EnvConfig | None = None,
        on_result: Callable[[EpisodeRecord], None] | None = None,
        episode_timeout: float | None = None, retries: int = 2, backoff: float = 2.0,
        max_errors: float | None = None, backend: engine.Backend | None = None,
        cpus: float | None = None, overcommit: bool = False,
        plan: admission.Admission | None = None, stop: threading.Event | None = None) -> list[EpisodeRecord]:
    """Play every job (``concurrency`` at once) and return the records in job order.

    ``stop``: once set (say, by ``on_result`` when a budget is spent), no episode starts; those
    in flight end and are recorded, and only the played jobs have records.

    ``agent_factory`` is called once per attempt, in the worker.  ``on_result`` is called
    from the calling thread as each episode ends (a single writer).  ``episode_timeout``:
    hard seconds per episode, retries included.  ``max_errors``: raise ``RunAborted`` once
    more episodes than this (a count, or a fraction of the jobs) ended in error.  On Ctrl-C
    every in-flight sandbox is removed.  ``env_options`` (or an ``EnvConfig``) may also hold
    ``llm_cache``: a folder where model clients built during an episode cache their replies.
    ``backend``: where attempts run (default: threads here; ``dsgym.ray_backend.RayBackend``
    for a Ray cluster, where ``concurrency`` 1 means what the cluster fits and
    ``agent_factory`` must be picklable).

    Admission control (local threads; ``plan``, else ``admit(jobs, concurrency, cpus=,
    overcommit=)``, whose warnings are issued as ``OvercommitWarning``): each sandbox gets
    ``plan.cpus`` CPUs (unless the options give ``limits``), CPU-heavy suites' episodes run
    at most ``plan.heavy_limit`` at once, and an episode that ends ``load_suspect`` is played
    once more after the others, at half the concurrency.  Every record carries the
    conditions it ran under (``EpisodeRecord.conditions``).
    """
    if episode_timeout is not None and episode_timeout <= 0:
        raise ValueError("episode_timeout must be positive")
    options = env_options.to_options() if isinstance(env_options, EnvConfig) else dict(env_options or {})
    cache = options.pop(LLM_CACHE, None)
    token = uuid.uuid4().hex
    items = [(token, index, job) for index, job in enumerate(jobs)]
    local = backend is None
    if local:
        backend = engine.ThreadBackend("dsgym-episode")
        if plan is None:
            plan = admit(jobs, concurrency, cpus=cpus, overcommit=overcommit)
            for message in plan.warnings:
                warnings.warn(message, OvercommitWarning, stacklevel=2)
        if options.get("limits") is None:
            options["limits"] = Limits(cpus=plan.cpus)
        conditions = {**plan.conditions(), "sandbox_cpus": options["limits"].cpus}
        heavy = {job.suite for job in _one_per_suite(jobs) if admission.suite_needs(_suite_of(job)).cpu_heavy}
        window = max(1, concurrency)
        queues: engine.Queue[Any] = _Queues(items, heavy, window, plan.heavy_limit)
    else:
        window = concurrency if concurrency > 1 else backend.slots()  # type: ignore[union-attr]
        conditions = {"concurrency": concurrency, "backend": backend.name}  # type: ignore[union-attr]
        queues = engine.Fifo(items)
    slots = {index: _Slot(index, job) for _, index, job in items}
    records: dict[int, EpisodeRecord] = {}
    limit = error_limit(max_errors, len(jobs))
    errors = 0
    attempts: dict[int, int] = {}
    given_up: set[int] = set()  # episodes recorded at their deadline (their record is already whole)

    def started(item: tuple[str, int, Job], in_flight: int) -> None:
        slot = slots[item[1]]
        slot.in_flight, slot.started = in_flight, time.monotonic()
        attempts[item[1]] = 1

    def retrying(item: tuple[str, int, Job], record: EpisodeRecord) -> None:
        slot = slots[item[1]]
        slot.failures.append(record.attempt_summary())
        slot.tokens = _add_tokens(slot.tokens, record.tokens)
        attempts[item[1]] += 1

    def timed_out(item: tuple[str, int, Job]) -> EpisodeRecord:
        slot = slots[item[1]]
        live = _LIVE.get((token, item[1]))
        if live is not None:
            live.abandon()
        record = _timeout_record(slot, live, episode_timeout or 0)
        record.attempts = attempts.get(item[1], 1)
        given_up.add(item[1])
        return record

    def done(item: tuple[str, int, Job], record: EpisodeRecord | None, error: BaseException | None) -> None:
        nonlocal errors
        slot = slots[item[1]]
        if record is None:  # the backend lost the work (a Ray worker or node died, beyond Ray's retries)
            record = blank_record(slot.job).fail("sandbox", f"{backend.name}: the attempt failed: "  # type: ignore[union-attr]
                                                 f"{type(error).__name__}: {error}"[:2000], retryable=True)
        if item[1] not in given_up:
            record = slot.finish(record, attempts.get(item[1], 1))
        record.conditions = record.conditions or {**conditions, "in_flight": slot.in_flight,
                                                  "load_retry": slot.load_retry}
        if local and record.error_type == "load_suspect" and not slot.load_retry:
            again = slots[item[1]] = _Slot(item[1], slot.job, load_retry=True)  # once more, after the others
            again.failures.append({**record.attempt_summary(), "conditions": record.conditions})
            again.tokens = dict(record.tokens)
            queues.retries.append(item)  # type: ignore[attr-defined]
            return
        records[item[1]] = record
        errors += record.status == "error"
        if on_result:
            on_result(record)
        if limit is not None and errors > limit:
            raise RunAborted(f"aborted: {errors} of {len(records)} finished episode(s) failed, more "
                             f"than max_errors={max_errors:g} allows", [records[i] for i in sorted(records)])

    def aborted(running: list[tuple[str, int, Job]], exc: BaseException) -> None:
        for item in running:
            if (live := _LIVE.get((token, item[1]))) is not None:
                live.abandon()
        if not isinstance(exc, Exception):  # Ctrl-C, SystemExit: also sandboxes still being created
            _stop_sandboxes()

    work = functools.partial(attempt, agent_factory=agent_factory, options=options, cache=cache)
    engine.run(queues, work, backend=backend, on_done=done, window=window,  # type: ignore[arg-type]
               retries=engine.Retries(max(0, retries), backoff), retryable=lambda item, r: r.retryable,
               on_retry=retrying, deadline=episode_timeout, on_deadline=timed_out if episode_timeout else None,
               on_start=started, on_abort=aborted, stop=stop)
    return [records[i] for i in sorted(records)]


def _timeout_record(slot: _Slot, live: _Live | None, budget: float) -> EpisodeRecord:
    """The record of an episode given up at its deadline: what it did so far, typed ``timeout``."""
    current = live.record if live is not None else None
    record = blank_record(slot.job)
    if current is not None:
        for name in ("agent", "agent_config", "model", "prompt", "episode_id", "reset_time", "category"):
            setattr(record, name, getattr(current, name))
        record.turns = list(current.turns)
        record.started_at = current.started_at
    record.tokens = _add_tokens(slot.tokens, _agent_tokens(live.agent if live is not None else None))
    record.retried = list(slot.failures)
    record.wall_time = time.monotonic() - slot.started
    record.ended_at = now_iso()
    return record.fail("timeout", f"episode exceeded its hard budget of {budget:g} s "
                                  f"(--episode-timeout, retries included); its sandbox was closed")


def _agent_tokens(agent: Agent | None) -> dict[str, int]:
    usage = getattr(agent, "usage", None) or {}
    try:
        return {k: int(usage.get(k, 0) or 0) for k in ("prompt_tokens", "completion_tokens", "total_tokens")}
    except (AttributeError, TypeError, ValueError):
        return {}


def _add_tokens(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    keys = ("prompt_tokens", "completion_tokens", "total_tokens")
    return {k: int(a.get(k, 0)) + int(b.get(k, 0)) for k in keys}


def _stop_sandboxes() -> None:
    """Remove every sandbox this process still holds, so in-flight episodes end at once."""
    from dsgym.sandbox.spec import close_all

    close_all()
