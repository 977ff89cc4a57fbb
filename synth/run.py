"""One invocation's shared state (settings, resume log, budget, model clients, progress) and its thread pool."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

from dsgym import shutdown
from dsgym.episode import now_iso
from dsgym.filter.grounding import FileDigests
from dsgym.filter.state import StateStore
from dsgym.llm import RUN_CACHE, chosen_cache_dir
from dsgym.sandbox import sandbox_factory
from dsgym.sandbox.images import image_tag
from dsgym.synth.budget import Budget, BudgetedClient
from dsgym.synth.report import StageStats
from dsgym.synth.settings import SynthError, SynthSettings

STATE = "synth-state.jsonl"
Progress = Callable[[str, int, int], None]


class Stop(Exception):
    """A budget ran out: stop starting work in this stage."""


def parallel(items: list[Any], work: Callable[[Any], Any], workers: int, on_done: Callable[[Any, Any], None],
             stop: threading.Event) -> None:
    """Run ``work(item)`` on a thread pool, ``on_done(item, result)`` in this thread; ``stop`` ends it early.

    ``work`` raising ``Stop`` sets ``stop``: items not started are skipped; those
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
                    except Stop:
                        stop.set()
        except BaseException as exc:
            stop.set()
            failure = exc
            if not isinstance(exc, Exception):  # Ctrl-C, SIGTERM, SIGHUP: end the work in flight now
                shutdown.remove_sandboxes()
    if failure is not None:
        raise failure


class Run:
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
        self.ray = None
        if settings.backend == "ray":
            from dsgym.ray_backend import RayBackend

            self.ray = RayBackend(address=settings.address, num_cpus=settings.ray_cpus)
        # the replies of this output folder, unless a cache shared across runs is asked for
        self.llm_cache = chosen_cache_dir(settings.cache_dir) or out.resolve() / RUN_CACHE
        client_options = {"cache_dir": self.llm_cache, "budget": self.budget}
        self.generator = BudgetedClient(settings.model, settings.base_url, settings.api_key,
                                        temperature=settings.generate_temperature, **client_options)
        self.actor = BudgetedClient(settings.model, settings.base_url, settings.api_key,
                                    temperature=settings.rollout_temperature, **client_options)
        self.prober = BudgetedClient(settings.model, settings.base_url, settings.api_key,
                                     temperature=settings.probe_temperature, **client_options)

    def sandbox_map(self, items: list[Any], fn: Callable[..., dict[str, Any]], args: Callable[[Any], tuple],
                    done: Callable[[Any, dict[str, Any]], None]) -> None:
        """``fn(*args(item))`` for each item, ``-j`` at a time on threads here or as Ray tasks (``--backend ray``);
        ``done(item, result)`` runs here as each ends.  ``fn`` must be module-level (picklable) and never raise;
        ``done`` raising ``Stop`` ends the stage (work not started stays to do)."""
        if self.ray is None:
            parallel(items, lambda item: fn(*args(item)), self.s.concurrency, done, self.stop)
            return
        from dsgym import ray_backend

        def finished(item: Any, value: Any, error: BaseException | None) -> None:
            done(item, value if error is None else {"error": f"ray: {type(error).__name__}: {error}"[:500]})

        try:
            ray_backend.remote(self.ray, fn, items, args, finished,
                               window=self.s.concurrency if self.s.concurrency > 1 else None)
        except Stop:
            self.stop.set()

    def stage(self, name: str, unit: str = "tasks") -> StageStats:
        self.stages[name] = StageStats(name, unit=unit)
        return self.stages[name]

    def halt(self, why: str) -> None:
        self.stopped_by = self.stopped_by or why
        self.stop.set()

    def cached(self, item: str, part: str, key: str) -> dict[str, Any] | None:
        record = self.stored.get((item, part, key))
        return record["result"] if record is not None else None

    def reuse(self, part: str, keys: dict[str, str], stats: StageStats) -> tuple[dict[str, Any], list[str]]:
        """The results the resume log holds for ``keys`` (item name -> key), and the names still to do."""
        found, todo = {}, []
        for name, key in keys.items():
            hit = self.cached(name, part, key)
            if hit is None:
                todo.append(name)
            else:
                found[name] = hit
        stats.reused += len(found)
        return found, todo

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


def preflight(run: Run, images: Iterable[str]) -> None:
    """The daemon, the images and the model endpoint, checked before any work, with clear errors."""
    from dsgym import preflight as outside

    try:
        outside.check({name: image_tag(name) for name in set(images)}, ray=run.ray, client=run.generator,
                      sandbox=run.s.sandbox or os.environ.get("DSGYM_SANDBOX") or "docker")
    except outside.PreflightError as exc:
        raise SynthError(str(exc)) from exc
