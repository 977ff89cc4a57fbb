"""Harbor's local Docker environment for machines that cannot pull Harbor's egress-control images.

Harbor (0.26) enforces a task's ``network_mode = "no-network"`` on local Docker with a sidecar
container built from images on Docker Hub; where those cannot be pulled (an offline CI
machine), it refuses such tasks.  This environment runs them instead with Compose's
``network_mode: none`` on the task's container (the overlay Harbor ships for other
providers): no network at all, for the agent and the verifier alike, which is all an
exported dsgym task asks for.  Anything else is Harbor's Docker environment unchanged.

It imports only Harbor, so Harbor's own environment loads it from this file's folder:
``PYTHONPATH=<this folder> harbor run -e harbor_offline_docker:OfflineDockerEnvironment ...``
(docs/harbor.md).
"""

from __future__ import annotations

from pathlib import Path

from harbor.environments.capabilities import EnvironmentCapabilities
from harbor.environments.docker import COMPOSE_NO_NETWORK_PATH
from harbor.environments.docker.docker import DockerEnvironment


class OfflineDockerEnvironment(DockerEnvironment):
    """Docker with ``network_mode: none`` for no-network tasks when Harbor's egress sidecar is unavailable."""

    def _offline(self) -> bool:
        return self._network_disabled and not self._enable_egress_control

    @property
    def capabilities(self) -> EnvironmentCapabilities:
        found = super().capabilities
        return found.model_copy(update={"disable_internet": True}) if self._offline() else found

    @property
    def _docker_compose_paths(self) -> list[Path]:
        paths = super()._docker_compose_paths
        return [*paths, COMPOSE_NO_NETWORK_PATH] if self._offline() else paths
