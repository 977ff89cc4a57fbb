"""Episodes (and other sandbox work) as Ray tasks, for runs that outgrow one machine.

    runner.run(jobs, agent_factory, backend=RayBackend(address="auto"), on_result=...)

One Ray task per episode: it plays the episode on whichever node Ray picks, with the
same retries and hard timeout as the local backend (``runner.run`` with one job), and
returns the record; the driver calls ``on_result`` as each one arrives, so
``dsgym eval`` writes the same JSONL and resumes the same way.  Each task declares
the CPUs and memory of one sandbox, so Ray's scheduler packs episodes onto nodes.
A task whose worker process or node dies is re-run by Ray (``max_retries``); it never
returned, so no episode is recorded twice.

Nodes need Docker and the sandbox images (``dsgym sandbox build`` on each, or the
images pushed to a registry they pull from) and the task data at the same paths
(embedded suites ship in the package; other suites on a shared filesystem).  Suites
registered on the driver are shipped to the workers through the object store.
Install with ``pip install dsgym[ray]``.  See ``docs/scale-out.md``.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dsgym import registry

if TYPE_CHECKING:
    from dsgym.agents.base import Agent
    from dsgym.episode import EpisodeRecord
    from dsgym.runner import Job
    from dsgym.task import Suite

ENV_VARS = ("PYTHONPATH", "DSGYM_SUITES", "DSGYM_DATA_DIR", "DSGYM_SANDBOX", "DSGYM_TMPDIR", "DSGYM_LLM_CACHE",
            "OPENAI_API_KEY", "OPENAI_BASE_URL", "DSGYM_API_KEY", "DSGYM_BASE_URL", "DSGYM_MODEL", "DOCKER_HOST")
_known: dict[str, str] = {}  # in a worker: suites registered there (name -> hash of their task definitions)


class RayBackendError(RuntimeError):
    """Ray is missing, the cluster cannot be reached, or a node cannot run sandboxes."""


@dataclass
class RayBackend:
    """Where and how to run tasks: the cluster ``address`` (None: start a local Ray; ``auto``: the
    cluster this machine belongs to; ``ray://host:10001``: a remote one) and each task's resources."""

    address: str | None = None
    num_cpus: float = 1.0
    memory: str = "2g"
    max_retries: int = 3
    local_cpus: int | None = None  # CPUs of a local Ray started here (default: all)

    def init(self) -> Any:
        try:
            import ray
        except ImportError:
            raise RayBackendError("the Ray backend needs Ray: pip install 'dsgym[ray]'") from None
        if not ray.is_initialized():
            env = {name: os.environ[name] for name in ENV_VARS if name in os.environ}
            options: dict[str, Any] = {"runtime_env": {"env_vars": env}, "log_to_driver": False,
                                       "include_dashboard": False}
            if self.address is None and self.local_cpus is not None:
                options["num_cpus"] = self.local_cpus
            try:
                ray.init(address=self.address, **options)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise RayBackendError(f"cannot connect to the Ray cluster at {self.address}: {exc}") from exc
        return ray

    def resources(self) -> dict[str, Any]:
        from dsgym.sandbox.docker import _parse_bytes

        return {"num_cpus": self.num_cpus, "memory": _parse_bytes(self.memory), "max_retries": self.max_retries,
                "retry_exceptions": False}

    def slots(self) -> int:
        """Tasks the cluster runs at once with these resources (at least 1)."""
        ray = self.init()
        return max(1, int(ray.cluster_resources().get("CPU", 1) // max(self.num_cpus, 0.01)))


# -- in the worker --------------------------------------------------------------------------------


def _register(suites: list[Suite]) -> None:
    from dsgym.runner import suite_fingerprint

    for suite in suites:
        fingerprint = suite_fingerprint(suite)["hash"]
        if _known.get(suite.name) != fingerprint:
            registry.add_suite(suite)
            _known[suite.name] = fingerprint


def _play(job: Job, agent_factory: Callable[[], Agent], env_options: dict[str, Any], episode_timeout: float | None,
          retries: int, backoff: float, suites: list[Suite]) -> dict[str, Any]:
    """One episode on a worker, exactly as the local backend plays it."""
    from dsgym import runner

    _register(suites)
    (record,) = runner.run([job], agent_factory, concurrency=1, env_options=env_options,
                           episode_timeout=episode_timeout, retries=retries, backoff=backoff)
    return record.to_dict()


def _images_here(tags: dict[str | None, str]) -> str | None:
    """On one node: None if the daemon and images are there, else what is wrong."""
    from dsgym.sandbox.base import SandboxError
    from dsgym.sandbox.docker import require_images

    try:
        require_images(tags)
    except SandboxError as exc:
        return str(exc)
    return None


# -- on the driver --------------------------------------------------------------------------------


def check_nodes(backend: RayBackend, tags: dict[str | None, str]) -> None:
    """Ask every alive node with CPUs whether it can run sandboxes of ``tags``; raise with the ones that cannot."""
    ray = backend.init()
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    probe = ray.remote(num_cpus=0)(_images_here)
    nodes = [n for n in ray.nodes() if n.get("Alive") and n.get("Resources", {}).get("CPU")]
    answers = ray.get([probe.options(scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False))
                       .remote(tags) for n in nodes])
    problems = [f"{n.get('NodeManagerAddress')}: {answer}" for n, answer in zip(nodes, answers) if answer]
    if problems:
        raise RayBackendError("node(s) that cannot run sandboxes:\n  " + "\n  ".join(problems))


def run_jobs(jobs: list[Job], agent_factory: Callable[[], Agent], backend: RayBackend, *,
             concurrency: int | None, env_options: dict[str, Any],
             on_result: Callable[[EpisodeRecord], None] | None, episode_timeout: float | None,
             retries: int, backoff: float) -> list[EpisodeRecord]:
    """Play ``jobs`` as Ray tasks, at most ``concurrency`` (default: what the cluster fits) in flight."""
    from dsgym.episode import EpisodeRecord

    ray = backend.init()
    suites = ray.put([registry.get_suite(name) for name in sorted({job.suite for job in jobs})])
    task = ray.remote(**backend.resources())(_play)
    records: dict[int, EpisodeRecord] = {}

    def submit(index: int, job: Job) -> Any:
        return task.remote(job, agent_factory, env_options, episode_timeout, retries, backoff, suites)

    def done(index: int, value: Any, error: BaseException | None) -> None:
        if error is None:
            record = EpisodeRecord.from_dict(value)
        else:
            from dsgym.runner import _blank_record

            record = _blank_record(jobs[index]).fail(
                "sandbox", f"ray: the task of this episode failed {backend.max_retries + 1} time(s): "
                           f"{type(error).__name__}: {error}"[:2000], retryable=True)
        records[index] = record
        if on_result:
            on_result(record)

    stream(ray, list(enumerate(jobs)), lambda item: submit(*item), lambda item, value, error: done(item[0], value, error),
           window=concurrency or backend.slots())
    return [records[i] for i in range(len(jobs))]


def stream(ray: Any, items: Iterable[Any], submit: Callable[[Any], Any],
           done: Callable[[Any, Any, BaseException | None], None], *, window: int) -> None:
    """Keep ``window`` tasks in flight; call ``done(item, value, error)`` here as each finishes.

    An exception out of ``done`` (or Ctrl-C) cancels the tasks in flight and is re-raised.
    """
    pending = deque(items)
    inflight: dict[Any, Any] = {}
    try:
        while pending or inflight:
            while pending and len(inflight) < max(1, window):
                item = pending.popleft()
                inflight[submit(item)] = item
            ready, _ = ray.wait(list(inflight), num_returns=1, timeout=1.0)
            for ref in ready:
                item = inflight.pop(ref)
                try:
                    value, error = ray.get(ref), None
                except (ray.exceptions.RayError, OSError) as exc:
                    value, error = None, exc
                done(item, value, error)
    except BaseException:
        for ref in inflight:
            ray.cancel(ref)  # a KeyboardInterrupt in the task: its run() removes its containers
        time.sleep(0.5)
        raise


def remote(backend: RayBackend, fn: Callable[..., Any], items: list[Any], args: Callable[[Any], tuple],
           done: Callable[[Any, Any, BaseException | None], None], *, window: int | None = None) -> None:
    """Run module-level ``fn(*args(item))`` as one Ray task per item (sandbox-sized), results to ``done``."""
    ray = backend.init()
    task = ray.remote(**backend.resources())(fn)
    stream(ray, items, lambda item: task.remote(*args(item)), done, window=window or backend.slots())
