"""dsgym: a gym for data-science agents.

``dsgym.make("<suite>/<task-id>")`` (or ``"<suite>"`` to draw a task per reset)
returns a Gymnasium env whose episodes run in fresh sandboxes.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any

import gymnasium

from dsgym.registry import (UnknownEnvError, add_suite, get_suite, get_task, install_lazy_registry,
                            register_official, register_suite, resolve, suites)

try:
    __version__ = version("dsgym")
except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
    __version__ = "0+unknown"


def make(env_id: str, **options: Any) -> gymnasium.Env:
    """A ``DSGymEnv`` for ``"<suite>"`` or ``"<suite>/<task-id>"``; options go to ``DSGymEnv``.

    Unknown ids raise ``UnknownEnvError`` naming the closest suites or tasks.
    """
    from dsgym.env import make as make_env

    return make_env(env_id, **options)


def make_vec(env_id: str, num_envs: int = 1, **options: Any) -> gymnasium.vector.VectorEnv:
    """``num_envs`` envs of ``env_id`` stepped together (see ``dsgym.vector.make_vec``)."""
    from dsgym.vector import make_vec as vectorized

    return vectorized(env_id, num_envs, **options)


def fetch(*suites: str, source: str | None = None, dest: str | None = None, progress: bool = True):
    """Fetch official suites into the user cache (``dsgym fetch``; see ``dsgym.fetching.fetch``)."""
    from dsgym.fetching import fetch as fetch_suites

    return fetch_suites(*suites, source=source, dest=dest, progress=progress)


# verifiers 0.4 resolves the taskset id ``dsgym`` to the Taskset, Env and Harness subclasses
# this package exports; they are imported only when asked for (they need dsgym[verifiers]).
VERIFIERS_NAMES = ("DSGymTaskset", "DSGymVerifiersEnv", "DSGymChatHarness")


def verifiers_v1() -> bool:
    """Whether verifiers 0.4 or later is installed (0.3 ships an earlier ``verifiers.v1`` that dsgym does not support)."""
    try:
        major, minor = (int(part) for part in version("verifiers").split(".")[:2])
    except (PackageNotFoundError, ValueError):
        return False
    return (major, minor) >= (0, 4)


def __getattr__(name: str) -> Any:
    """The verifiers plugin classes, imported on first use (``vf-eval dsgym``)."""
    if name in VERIFIERS_NAMES:
        from dsgym.rl import verifiers_env

        return getattr(verifiers_env, name)
    raise AttributeError(f"module 'dsgym' has no attribute {name!r}")


install_lazy_registry()  # suites are read on first use, e.g. gymnasium.make("<suite>/<task>"), not on import

__all__ = ["UnknownEnvError", "__version__", "add_suite", "fetch", "get_suite", "get_task", "make",
           "make_vec", "register_official", "register_suite", "resolve", "suites"]
if verifiers_v1():  # listed only where importable: ``from dsgym import *`` works without verifiers
    __all__ += VERIFIERS_NAMES
