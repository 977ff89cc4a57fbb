"""What dsgym exports to other tools' plugin loaders, and whether those tools are installed.

verifiers 0.4 resolves the taskset id ``dsgym`` by importing this package and taking
the ``Taskset``, ``Env`` and ``Harness`` subclasses ``dsgym.__all__`` lists; they live
in ``dsgym.rl.verifiers_env`` and are listed only where verifiers 0.4 is installed.
This module imports nothing from dsgym, so both sides can use it.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

VERIFIERS_NAMES = ("DSGymTaskset", "DSGymVerifiersEnv", "DSGymChatHarness")


def verifiers_v1() -> bool:
    """Whether verifiers 0.4 or later is installed (0.3 ships an earlier ``verifiers.v1`` that dsgym does not support)."""
    try:
        major, minor = (int(part) for part in version("verifiers").split(".")[:2])
    except (PackageNotFoundError, ValueError):
        return False
    return (major, minor) >= (0, 4)
