"""dsgym: a gym for data-science agents.

``dsgym.make("<suite>/<task-id>")`` (or ``"<suite>"`` to draw a task per reset)
returns a Gymnasium env whose episodes run in fresh sandboxes.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any

import gymnasium

from dsgym.plugins import VERIFIERS_NAMES, verifiers_v1
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


def __getattr__(name: str) -> Any:
    """verifiers' plugin classes (``vf-eval dsgym``; see dsgym.plugins), imported on first use."""
    if name in VERIFIERS_NAMES:
        from dsgym.rl import verifiers_env

        return getattr(verifiers_env, name)
    raise AttributeError(f"module 'dsgym' has no attribute {name!r}")


install_lazy_registry()  # suites are read on first use, e.g. gymnasium.make("<suite>/<task>"), not on import

__all__ = ["UnknownEnvError", "__version__", "add_suite", "fetch", "get_suite", "get_task", "make",
           "make_vec", "register_official", "register_suite", "resolve", "suites"]
if verifiers_v1():  # listed only where importable: ``from dsgym import *`` works without verifiers
    __all__ += VERIFIERS_NAMES
