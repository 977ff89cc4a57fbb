"""The client a trainer uses to play a ``dsgym serve`` server, built on openenv's ``EnvClient``.

    from dsgym.rl.openenv_client import DSGymClient, DSGymAction

    with DSGymClient("http://trainer-box:8000", token="...").sync() as env:
        result = env.reset(task_id="iris-kmeans-ari")
        result = env.step(DSGymAction(tool="run_python", code="import pandas as pd"))
        result = env.step(DSGymAction(tool="submit_answer", answer="0.62"))
        result.reward, result.observation.score

Each client is one server session with its own sandbox per episode.
"""

from __future__ import annotations

import os
from typing import Any

from openenv.core.client_types import StepResult
from openenv.core.env_client import EnvClient

from dsgym.rl.openenv_server import TOKEN_ENV, DSGymAction, DSGymObservation, DSGymState


class DSGymClient(EnvClient[DSGymAction, DSGymObservation, DSGymState]):
    """An OpenEnv client that sends the server's bearer token (``token``, else ``$DSGYM_SERVE_TOKEN``).

    ``dsgym serve`` prints the token it made at start; ``token=""`` is for a server
    started with ``--no-token``.  A refused handshake without a token says so.
    """

    def __init__(self, base_url: str, token: str | None = None, **options: Any):
        self._token = token if token is not None else os.environ.get(TOKEN_ENV)
        headers = dict(options.pop("headers", None) or {})
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        super().__init__(base_url, headers=headers or None, **options)

    async def _connect_async(self) -> DSGymClient:
        try:
            return await super()._connect_async()
        except ConnectionError as exc:
            if self._token:
                raise
            raise ConnectionError(f"{exc} (no token given: pass token=... or set {TOKEN_ENV} to the token "
                                  "dsgym serve printed)") from exc

    def _step_payload(self, action: DSGymAction) -> dict[str, Any]:
        return action.model_dump(exclude_none=True, exclude={"metadata"})

    def _parse_result(self, payload: dict[str, Any]) -> StepResult[DSGymObservation]:
        observation = DSGymObservation(**payload.get("observation", {}), reward=payload.get("reward"),
                                       done=payload.get("done", False))
        return StepResult(observation=observation, reward=payload.get("reward"), done=payload.get("done", False))

    def _parse_state(self, payload: dict[str, Any]) -> DSGymState:
        return DSGymState(**payload)


__all__ = ["DSGymAction", "DSGymClient", "DSGymObservation", "DSGymState"]
