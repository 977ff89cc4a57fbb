"""The RL integrations that are tested in environments of their own, and how to tell where we run.

Each integration's pins would hold the others back (verifiers 0.4 needs ``mcp==2.0.0``
and ``openai<3``, openenv 0.10's ``fastmcp`` needs ``mcp<2``), so ``.ci/setup.sh``
installs each into its own venv with the exact versions of ``.ci/constraints/<name>.txt``.
Their test modules are collected only where the integration is installed in a
supported version (``tests/conftest.py``); ``tests/test_integrations.py`` runs them in
their venvs from the main test session.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from packaging.version import Version

from tests.support.helpers import REPO


@dataclass(frozen=True)
class Integration:
    name: str  # the extra: dsgym[<name>]
    distribution: str  # the package the extra installs
    minimum: str  # the oldest release the integration supports
    tests: tuple[str, ...]  # its test modules, relative to the repository

    @property
    def venv(self) -> Path:
        return REPO / f".venv-{self.name}"

    @property
    def constraints(self) -> Path:
        return REPO / ".ci" / "constraints" / f"{self.name}.txt"

    def pinned(self) -> str:
        """The exact version CI installs (from the constraints file)."""
        for line in self.constraints.read_text().splitlines():
            name, _, pin = line.split("#")[0].strip().partition("==")
            if name.strip().lower() == self.distribution:
                return pin.strip()
        raise AssertionError(f"{self.constraints} pins no {self.distribution}")

    def installed_here(self) -> bool:
        """Whether this interpreter has the integration in a supported version (its tests can run here)."""
        try:
            return Version(version(self.distribution)) >= Version(self.minimum)
        except PackageNotFoundError:
            return False


def require(name: str) -> None:
    """Called by an integration's test module: outside the integration's venv, fail its collection with where to run it."""
    import pytest

    integration = next(i for i in INTEGRATIONS if i.name == name)
    if not integration.installed_here():
        pytest.fail(f"{', '.join(integration.tests)} need(s) {integration.distribution}>={integration.minimum}: "
                    f"run them with {integration.venv.name}/bin/python -m pytest (made by .ci/setup.sh)",
                    pytrace=False)


INTEGRATIONS = (
    Integration("verifiers", "verifiers", "0.4", ("tests/test_rl_verifiers.py",)),
    Integration("openenv", "openenv", "0.10", ("tests/test_rl_openenv.py", "tests/security/test_serve.py")),
)
