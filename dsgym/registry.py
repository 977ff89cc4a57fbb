"""Where suites come from and how env ids resolve to tasks.

Suites are found in five places: the embedded suites that ship inside the
package (``dsgym/tasks/<suite>/manifest.json``), the official suites under the
folder named by ``DSGYM_DATA_DIR`` (laid out like the official release's
``data/``; see ``dsgym.loaders``), MLE-bench's prepared competitions under
``DSGYM_MLEBENCH_DIR`` (``dsgym.loaders.mlebench``), folders named in the ``DSGYM_SUITES``
environment variable (``os.pathsep``-separated), and folders passed to
``register_suite``.  Each suite's tasks are also registered with
Gymnasium as ``<suite>/<task-id>`` and the suite itself as ``dsgym/<suite>``.

Nothing is read at import: suites are loaded the first time they are needed
(``make``, ``suites()``, a lookup in Gymnasium's registry), so importing dsgym costs
the same with a 100,000-task suite configured as without.  Gymnasium's ``register``
checks each new id against every registered one (quadratic in the number of ids), so
a suite's specs are inserted into the registry directly, with the checks that matter
(id format, versioned vs unversioned ids of one name) done once per suite.
"""

from __future__ import annotations

import difflib
import gc
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

import gymnasium
import gymnasium.envs.registration as gym_registration
from gymnasium.envs.registration import EnvSpec

from dsgym.task import Suite, Task, TaskFileError, load_manifest

log = logging.getLogger(__name__)
ENTRY_POINT = "dsgym.env:DSGymEnv"
VECTOR_ENTRY_POINT = "dsgym.vector:from_spec"

_suites: dict[str, Suite] = {}
_gym_ids: dict[str, list[str]] = {}  # suite name -> the ids registered with Gymnasium for it
_loading = False  # set while (and after) the configured suites are read, so nested calls return
_loaded = False  # set once they are all in
_lock = threading.RLock()


class UnknownEnvError(KeyError):
    """No suite or task by that name; the message lists the closest names."""

    def __str__(self) -> str:
        return str(self.args[0])


def embedded_suite_dirs() -> list[Path]:
    root = resources.files("dsgym.tasks")
    return sorted(Path(str(entry)) for entry in root.iterdir() if (entry / "manifest.json").is_file())


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a suite is read.

    Loading builds hundreds of thousands of objects, none of them garbage; each collection
    triggered meanwhile would walk them all again (more than half the load time at 100,000 tasks).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _ensure_loaded() -> None:
    """Read the embedded and configured suites, once, on first need."""
    global _loading, _loaded
    with _lock:
        if _loading:
            return
        _loading = True
        with _gc_paused():
            extra = [Path(p) for p in os.environ.get("DSGYM_SUITES", "").split(os.pathsep) if p]
            for folder in [*embedded_suite_dirs(), *extra]:
                try:
                    register_suite(folder)
                except TaskFileError as exc:
                    log.warning("skipping suite: %s", exc)
            _register_fetched()
            if data_dir := os.environ.get("DSGYM_DATA_DIR"):
                register_official(Path(data_dir))  # after the fetched ones: DSGYM_DATA_DIR wins where both have a suite
            if mlebench_dir := os.environ.get("DSGYM_MLEBENCH_DIR"):
                try:
                    register_mlebench(mlebench_dir)
                except (TaskFileError, ImportError) as exc:  # ImportError: the predict extra is missing
                    log.warning("skipping suite: %s", exc)
        _loaded = True


def _register_fetched() -> None:
    """The official suites ``dsgym fetch`` put in the user cache (only those its record lists as complete)."""
    from dsgym.fetching import fetched_suites

    for suite in fetched_suites():
        add_suite(suite)


class LazyRegistry(dict):
    """Gymnasium's env registry, which reads dsgym's suites the first time anyone looks in it.

    ``gymnasium.make`` looks ids up in ``gymnasium.envs.registration.registry``; installing
    this mapping in its place (same entries) lets ``gymnasium.make("<suite>/<task>")`` work
    right after ``import dsgym`` without reading any suite at import.  Writes go straight in.
    """

    def _fill(self) -> None:
        if not _loaded:
            _ensure_loaded()

    def __getitem__(self, key):
        self._fill()
        return super().__getitem__(key)

    def __contains__(self, key) -> bool:
        self._fill()
        return super().__contains__(key)

    def __iter__(self):
        self._fill()
        return super().__iter__()

    def __len__(self) -> int:
        self._fill()
        return super().__len__()

    def __repr__(self) -> str:
        self._fill()
        return super().__repr__()

    def get(self, key, default=None):
        self._fill()
        return super().get(key, default)

    def keys(self):
        self._fill()
        return super().keys()

    def values(self):
        self._fill()
        return super().values()

    def items(self):
        self._fill()
        return super().items()

    def copy(self) -> dict:
        self._fill()
        return dict(super().items())


def install_lazy_registry() -> None:
    """Put a ``LazyRegistry`` (holding the current entries) wherever Gymnasium keeps its registry."""
    current = gym_registration.registry
    if isinstance(current, LazyRegistry):
        return
    lazy = LazyRegistry(dict.items(current))
    gym_registration.registry = lazy
    for module in (gymnasium, gymnasium.envs):
        if getattr(module, "registry", None) is current:
            module.registry = lazy
    printer = gym_registration.pprint_registry
    if printer.__defaults__:
        printer.__defaults__ = tuple(lazy if value is current else value for value in printer.__defaults__)


def register_official(data_dir: str | os.PathLike[str]) -> list[Suite]:
    """Register the official suites found under a folder laid out like the release's ``data/``."""
    from dsgym.loaders import discover

    found = discover(Path(data_dir))
    for suite in found:
        add_suite(suite)
    if not found:
        log.warning("no official suite found under %s", data_dir)
    return found


def register_mlebench(data_dir: str | os.PathLike[str], competitions: str | os.PathLike[str] | None = None) -> Suite:
    """Register the suite ``mlebench``: the competitions MLE-bench prepared under ``data_dir`` (docs/mlebench.md)."""
    from dsgym.loaders import mlebench

    return add_suite(mlebench.load(data_dir, competitions))


def register_suite(path: str | os.PathLike[str]) -> Suite:
    """Load a suite folder, make its tasks available to ``make`` and to ``gymnasium.make``."""
    _ensure_loaded()  # configured suites first: one registered here replaces theirs, and may be their filtered copy
    with _lock, _gc_paused():
        return add_suite(load_manifest(Path(path), dict(_suites)))


def add_suite(suite: Suite) -> Suite:
    """Make an already built ``Suite`` available (replacing one of the same name)."""
    _ensure_loaded()
    for error in suite.errors:
        log.warning("%s", error)
    with _lock:
        _register_with_gymnasium(suite)
        _suites[suite.name] = suite
    return suite


def _register_with_gymnasium(suite: Suite) -> None:
    """Insert the suite's specs into Gymnasium's registry in time linear in its size.

    ``gymnasium.register`` would scan the whole registry for every id; the checks it makes
    that can fail for dsgym ids are done here once for the suite: each id parses as a
    Gymnasium id, and no name is registered both with and without a ``-v<N>`` version
    (Gymnasium would then resolve the unversioned id to the versioned env).
    """
    ids = [(f"dsgym/{suite.name}", {"suite": suite.name})]
    ids += [(task.env_id, {"suite": suite.name, "task_id": task.id}) for task in suite.tasks.values()]
    try:
        # Step info carries wall-clock timings and agents' code may be random, so transitions
        # are declared nondeterministic; seeded resets are deterministic (same task, same prompt).
        specs = {env_id: EnvSpec(env_id, entry_point=ENTRY_POINT, vector_entry_point=VECTOR_ENTRY_POINT,
                                 kwargs=kwargs, nondeterministic=True)
                 for env_id, kwargs in ids}
    except gymnasium.error.Error as exc:
        raise TaskFileError(f"suite {suite.name!r}: {exc}") from exc
    registry = gym_registration.registry
    replaced = set(_gym_ids.get(suite.name, ()))
    others = [s for i, s in dict.items(registry) if s.namespace in (suite.name, "dsgym") and i not in replaced]
    versioned = {(s.namespace, s.name) for s in [*specs.values(), *others] if s.version is not None}
    plain = {(s.namespace, s.name) for s in [*specs.values(), *others] if s.version is None}
    if clashes := sorted(f"{ns}/{name}" for ns, name in versioned & plain):
        raise TaskFileError(f"suite {suite.name!r}: these ids exist both with and without a -v<N> suffix, which "
                            f"Gymnasium cannot tell apart: {', '.join(clashes[:10])}")
    for env_id in replaced:
        dict.pop(registry, env_id, None)  # re-registering a suite replaces its ids
    dict.update(registry, specs)
    _gym_ids[suite.name] = list(specs)


def suites() -> dict[str, Suite]:
    _ensure_loaded()
    with _lock:
        return dict(_suites)


def get_suite(name: str) -> Suite:
    known = suites()
    if name not in known:
        from dsgym.fetching import official_names

        if name in official_names():
            return _fetch_official(name)
        raise UnknownEnvError(_unknown("suite", name, list(known)))
    return known[name]


def _fetch_official(name: str) -> Suite:
    """An official suite that is not here yet: fetch it (unless offline), or say both ways to get it."""
    from dsgym.fetching import FetchError, fetch, fetched_suites, offline

    if offline():
        why = "offline mode is on (DSGYM_OFFLINE or HF_HUB_OFFLINE), so it was not fetched"
    else:
        try:
            fetch(name)
        except FetchError as exc:
            why = f"fetching it failed: {exc}"
        else:
            with _lock, _gc_paused():
                for suite in fetched_suites():
                    if suite.name not in _suites or suite.name == name:
                        add_suite(suite)
            if name in _suites:
                return _suites[name]
            why = "the fetch finished but the suite did not load"
    raise UnknownEnvError(
        f"{name!r} is an official DSGym suite that is not on this machine; {why}. Get it with "
        f"`dsgym fetch {name}` (--from or DSGYM_OFFICIAL_URL name a mirror or a local clone of the release), "
        f"or set DSGYM_DATA_DIR to a copy of the release's data/ folder.")


def get_task(suite: str, task_id: str) -> Task:
    return task_in(get_suite(suite), task_id)


def task_in(suite: Suite, task_id: str) -> Task:
    """The task ``task_id`` of ``suite`` (registered or not); the error lists the closest ids."""
    if task_id not in suite.tasks:
        raise UnknownEnvError(_unknown(f"task in suite {suite.name!r}", task_id, list(suite.tasks)))
    return suite.tasks[task_id]


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
