"""Ray as a backend of the engine (``dsgym.engine.Backend``), for runs that outgrow one machine.

    runner.run(jobs, agent_factory, backend=RayBackend(address="auto"), on_result=...)

Each work item (an attempt of an episode, a synthesis profile or re-run) is one Ray
task on whichever node Ray picks; the engine on the driver keeps the window of tasks in
flight, the retries, the deadlines and the single writer of the run log, so ``dsgym eval``
writes the same JSONL and resumes the same way.  Work items carry what they run (a job
carries its ``Task``), so workers need no registry of suites.  Each task declares the CPUs
and memory of one sandbox, so Ray's scheduler packs work onto nodes.  A task whose worker
process or node dies is re-run by Ray (``max_retries``); it never returned, so nothing is
recorded twice.

Nodes need Docker and the sandbox images (``dsgym sandbox build`` on each, or the images
pushed to a registry they pull from) and the task data at the same paths (embedded suites
ship in the package; other suites on a shared filesystem).  Install with
``pip install dsgym[ray]``.  See ``docs/scale-out.md``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

ENV_VARS = ("PYTHONPATH", "DSGYM_SUITES", "DSGYM_DATA_DIR", "DSGYM_SANDBOX", "DSGYM_TMPDIR", "DSGYM_LLM_CACHE",
            "OPENAI_API_KEY", "OPENAI_BASE_URL", "DSGYM_API_KEY", "DSGYM_BASE_URL", "DSGYM_MODEL", "DOCKER_HOST")


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
    name = "ray"
    _task: Any = field(default=None, init=False, repr=False, compare=False)

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

    # -- dsgym.engine.Backend ---------------------------------------------------------------------

    def submit(self, work: Callable[[Any], Any], item: Any) -> Hashable:
        if self._task is None:
            self._task = self.init().remote(**self.resources())(run_item)
        return self._task.remote(work, item)

    def wait(self, handles: Sequence[Hashable], timeout: float) -> list[tuple[Hashable, Any, BaseException | None]]:
        ray = self.init()
        if not handles:
            return []
        ready, _ = ray.wait(list(handles), num_returns=len(handles), timeout=timeout)
        out: list[tuple[Hashable, Any, BaseException | None]] = []
        for ref in ready:
            try:
                out.append((ref, ray.get(ref), None))
            except (ray.exceptions.RayError, OSError) as exc:
                out.append((ref, None, exc))
        return out

    def cancel(self, handle: Hashable) -> None:
        """A KeyboardInterrupt in the task: the work there removes its sandboxes."""
        self.init().cancel(handle)


# -- in the worker --------------------------------------------------------------------------------


def run_item(work: Callable[[Any], Any], item: Any) -> Any:
    """One work item in a worker (its process title is ``ray::run_item``)."""
    return work(item)


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
