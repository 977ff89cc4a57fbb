"""One invocation's shared state (settings, resume log, budget, model clients, progress) and how it runs work."""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from dsgym import engine, shutdown
from dsgym.episode import now_iso
from dsgym.filter.grounding import FileDigests
from dsgym.filter.state import open_state
from dsgym.llm import RUN_CACHE, chosen_cache_dir
from dsgym.sandbox.base import Sandbox
from dsgym.sandbox.images import image_tag
from dsgym.sandbox.spec import SandboxSpec
from dsgym.synth.budget import Budget, BudgetedClient
from dsgym.synth.report import StageStats
from dsgym.synth.settings import SynthError, SynthSettings

STATE = "synth-state.jsonl"
Progress = Callable[[str, int, int], None]


class Stop(Exception):
    """A budget ran out: stop starting work in this stage."""


def _call(fn: Callable[..., Any], item: tuple[int, tuple]) -> Any:
    """``fn(*args)`` of an ``(index, args)`` item: module-level, so Ray can ship it with ``fn``."""
    return fn(*item[1])


class Run:
    """One invocation's shared state: settings, logs, budget, clients, progress."""

    def __init__(self, settings: SynthSettings, out: Path, progress: Progress | None) -> None:
        self.s = settings
        self.out = out
        self.progress = progress or (lambda stage, done, total: None)
        self.state, self.stored = open_state(out / STATE)
        self.digests = FileDigests()
        self.budget = Budget(settings.max_model_calls, settings.max_sandbox_time)
        self.stop = threading.Event()
        self.stopped_by: str | None = None
        self.stages: dict[str, StageStats] = {}
        self.name = settings.name or f"synth-{out.resolve().name}"
        self._factories: dict[str, Callable[[], Sandbox]] = {}
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

    def each(self, items: list[Any], work: Callable[[Any], Any], done: Callable[[Any, Any], None], *,
             window: int, backend: engine.Backend | None = None,
             failed: Callable[[Any, BaseException], None] | None = None) -> None:
        """``work(item)`` for each item on the engine (threads, or ``backend``); ``done(item, result)`` here as
        each ends (``failed(item, exc)`` if ``work`` raised, where given).

        ``work`` or ``done`` raising ``Stop`` stops new work (``self.stop``); what is in
        flight ends and is recorded.  Any other exception stops new work too and is raised
        once the work in flight has ended (their results dropped); Ctrl-C removes the
        sandboxes in flight at once.
        """
        failure: list[BaseException] = []

        def finished(item: Any, value: Any, error: BaseException | None) -> None:
            if failure:
                return
            try:
                if error is None:
                    done(item, value)
                elif failed is not None and not isinstance(error, Stop):
                    failed(item, error)
                else:
                    raise error
            except Stop:
                self.stop.set()
            except Exception as exc:  # noqa: BLE001 - raised once the work in flight has ended
                failure.append(exc)
                self.stop.set()

        def aborted(inflight: list[Any], exc: BaseException) -> None:
            self.stop.set()
            if not isinstance(exc, Exception):  # Ctrl-C, SIGTERM, SIGHUP: end the work in flight now
                shutdown.remove_sandboxes()

        engine.run(items, work, backend=backend or engine.ThreadBackend("dsgym-synth"), on_done=finished,
                   window=window, stop=self.stop, on_abort=aborted)
        if failure:
            raise failure[0]

    def sandbox_map(self, items: list[Any], fn: Callable[..., dict[str, Any]], args: Callable[[Any], tuple],
                    done: Callable[[Any, dict[str, Any]], None]) -> None:
        """``fn(*args(item))`` for each item, ``-j`` at a time on threads here or as Ray tasks (``--backend ray``);
        ``done(item, result)`` runs here as each ends.  ``fn`` must be module-level (picklable) and never raise;
        ``done`` raising ``Stop`` ends the stage (work not started stays to do)."""
        indexed = [(index, args(item)) for index, item in enumerate(items)]  # here: factories install handlers
        ray = self.ray

        def failed(pair: tuple[int, tuple], error: BaseException) -> None:  # the Ray task itself failed
            done(items[pair[0]], {"error": f"ray: {type(error).__name__}: {error}"[:500]})

        self.each(indexed, functools.partial(_call, fn), lambda pair, value: done(items[pair[0]], value),
                  window=self.s.concurrency if ray is None or self.s.concurrency > 1 else ray.slots(),
                  backend=ray, failed=failed if ray is not None else None)

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

    def factory(self, image: str) -> Callable[[], Sandbox]:
        """Sandboxes of ``image`` (a suite image name) of this run's kind; call it from the calling thread."""
        if image not in self._factories:
            self._factories[image] = SandboxSpec(self.s.sandbox, image_tag(image)).factory()
        return self._factories[image]

    def close(self) -> None:
        self.state.close()
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
