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
from urllib.parse import urlparse

from openenv.core.client_types import StepResult
from openenv.core.env_client import EnvClient
from websockets.asyncio.client import connect as ws_connect

from dsgym.http_guard import is_loopback
from dsgym.rl.openenv_server import TOKEN_ENV, DSGymAction, DSGymObservation, DSGymState


class DSGymClient(EnvClient[DSGymAction, DSGymObservation, DSGymState]):
    """An OpenEnv client that sends the server's bearer token (``token``, else ``$DSGYM_SERVE_TOKEN``).

    ``dsgym serve`` prints the token it made at start; ``token=""`` is for a server
    started with ``--no-token``.  A refused handshake names the likely cause.
    """

    def __init__(self, base_url: str, token: str | None = None, **options: Any):
        super().__init__(base_url, **options)
        self._token = token if token is not None else os.environ.get(TOKEN_ENV)

    async def connect(self) -> DSGymClient:
        if self._ws is not None:
            return self
        headers = {"Authorization": f"Bearer {self._token}"} if self._token else None
        try:
            self._ws = await ws_connect(self._ws_url, open_timeout=self._connect_timeout,
                                        max_size=self._max_message_size, additional_headers=headers,
                                        proxy=None if is_loopback(urlparse(self._ws_url).hostname or "") else True)
        except Exception as exc:
            hint = "" if self._token else (f" (no token given: pass token=... or set {TOKEN_ENV} to the token "
                                           "dsgym serve printed)")
            raise ConnectionError(f"cannot connect to {self._ws_url}: {exc}{hint}") from exc
        return self

    def _step_payload(self, action: DSGymAction) -> dict[str, Any]:
        return action.model_dump(exclude_none=True, exclude={"metadata"})

    def _parse_result(self, payload: dict[str, Any]) -> StepResult[DSGymObservation]:
        observation = DSGymObservation(**payload.get("observation", {}), reward=payload.get("reward"),
                                       done=payload.get("done", False))
        return StepResult(observation=observation, reward=payload.get("reward"), done=payload.get("done", False))

    def _parse_state(self, payload: dict[str, Any]) -> DSGymState:
        return DSGymState(**payload)


__all__ = ["DSGymAction", "DSGymClient", "DSGymObservation", "DSGymState"]
