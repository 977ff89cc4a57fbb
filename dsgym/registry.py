"""Where suites come from and how env ids resolve to tasks.

Suites are found in four places: the embedded suites that ship inside the
package (``dsgym/tasks/<suite>/manifest.json``), the official suites under the
folder named by ``DSGYM_DATA_DIR`` (laid out like the official release's
``data/``; see ``dsgym.loaders``), folders named in the ``DSGYM_SUITES``
environment variable (``os.pathsep``-separated), and folders passed to
``register_suite``.  Each suite's tasks are also registered with
Gymnasium as ``<suite>/<task-id>`` and the suite itself as ``dsgym/<suite>``.
"""

from __future__ import annotations

import difflib
import logging
import os
import threading
from importlib import resources
from pathlib import Path

import gymnasium

from dsgym.task import Suite, Task, TaskFileError, load_manifest

log = logging.getLogger(__name__)
ENTRY_POINT = "dsgym.env:DSGymEnv"
VECTOR_ENTRY_POINT = "dsgym.vector:from_spec"

_suites: dict[str, Suite] = {}
_loaded = False
_lock = threading.RLock()


class UnknownEnvError(KeyError):
    """No suite or task by that name; the message lists the closest names."""

    def __str__(self) -> str:
        return str(self.args[0])


def embedded_suite_dirs() -> list[Path]:
    root = resources.files("dsgym.tasks")
    return sorted(Path(str(entry)) for entry in root.iterdir() if (entry / "manifest.json").is_file())


def _ensure_loaded() -> None:
    global _loaded
    with _lock:
        if _loaded:
            return
        _loaded = True
        extra = [Path(p) for p in os.environ.get("DSGYM_SUITES", "").split(os.pathsep) if p]
        for folder in [*embedded_suite_dirs(), *extra]:
            try:
                register_suite(folder)
            except TaskFileError as exc:
                log.warning("skipping suite: %s", exc)
        if data_dir := os.environ.get("DSGYM_DATA_DIR"):
            register_official(Path(data_dir))


def register_official(data_dir: str | os.PathLike[str]) -> list[Suite]:
    """Register the official suites found under a folder laid out like the release's ``data/``."""
    from dsgym.loaders import discover

    found = discover(Path(data_dir))
    for suite in found:
        add_suite(suite)
    if not found:
        log.warning("no official suite found under %s", data_dir)
    return found


def register_suite(path: str | os.PathLike[str]) -> Suite:
    """Load a suite folder, make its tasks available to ``make`` and to ``gymnasium.make``."""
    return add_suite(load_manifest(Path(path)))


def add_suite(suite: Suite) -> Suite:
    """Make an already built ``Suite`` available (replacing one of the same name)."""
    for error in suite.errors:
        log.warning("%s", error)
    with _lock:
        _suites[suite.name] = suite
    _register_with_gymnasium(suite)
    return suite


def _register_with_gymnasium(suite: Suite) -> None:
    ids = [(f"dsgym/{suite.name}", {"suite": suite.name})]
    ids += [(task.env_id, {"suite": suite.name, "task_id": task.id}) for task in suite.tasks.values()]
    for env_id, kwargs in ids:
        gymnasium.registry.pop(env_id, None)  # re-registering a suite replaces its ids
        # Step info carries wall-clock timings and agents' code may be random, so transitions
        # are declared nondeterministic; seeded resets are deterministic (same task, same prompt).
        gymnasium.register(env_id, entry_point=ENTRY_POINT, vector_entry_point=VECTOR_ENTRY_POINT, kwargs=kwargs,
                           nondeterministic=True, disable_env_checker=True)


def suites() -> dict[str, Suite]:
    _ensure_loaded()
    with _lock:
        return dict(_suites)


def get_suite(name: str) -> Suite:
    known = suites()
    if name not in known:
        raise UnknownEnvError(_unknown("suite", name, list(known)))
    return known[name]


def get_task(suite: str, task_id: str) -> Task:
    tasks = get_suite(suite).tasks
    if task_id not in tasks:
        raise UnknownEnvError(_unknown(f"task in suite {suite!r}", task_id, list(tasks)))
    return tasks[task_id]


def resolve(env_id: str) -> tuple[Suite, Task | None]:
    """``"<suite>"`` or ``"<suite>/<task-id>"`` (a leading ``dsgym/`` is accepted too)."""
    name = env_id.removeprefix("dsgym/")
    suite_name, _, task_id = name.partition("/")
    suite = get_suite(suite_name)
    return suite, (get_task(suite_name, task_id) if task_id else None)


def _unknown(what: str, name: str, candidates: list[str]) -> str:
    close = difflib.get_close_matches(name, candidates, n=5, cutoff=0.5)
    hint = f"; did you mean: {', '.join(close)}?" if close else ""
    listing = "" if close or len(candidates) > 20 else f"; known: {', '.join(sorted(candidates)) or '(none)'}"
    return f"unknown {what}: {name!r}{hint}{listing}"
