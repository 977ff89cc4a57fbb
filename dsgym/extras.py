"""Optional dependencies (pyproject's extras): imported where first needed, with the install command when missing."""

from __future__ import annotations

import importlib
from types import ModuleType

# module -> the extra that brings it (pyproject.toml [project.optional-dependencies])
EXTRA_OF = {"pandas": "predict", "yaml": "predict", "sklearn": "synth", "scipy": "synth", "ipykernel": "local", "ray": "ray",
            "datasets": "hub", "torch": "sft", "trl": "trl", "openenv": "openenv", "verifiers": "verifiers"}


class MissingExtra(ImportError):
    """An optional dependency is not installed; the message names the extra to install."""


def hint(module: str, what: str) -> str:
    extra = EXTRA_OF.get(module.split(".")[0])
    return f"{what} needs {module}: pip install 'dsgym[{extra}]'" if extra else f"{what} needs {module}"


def need(module: str, what: str) -> ModuleType:
    """``module`` imported, or ``MissingExtra`` saying which extra brings it."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] == module.split(".")[0]:
            raise MissingExtra(hint(module, what)) from exc
        raise
