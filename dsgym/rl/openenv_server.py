"""dsgym under the OpenEnv contract: an ``openenv.core`` Environment, its types, and the served app.

Each WebSocket session (one OpenEnv client) gets its own ``ToolSession``, hence
its own sandbox per episode, drawn from one warm pool per server.  openenv's
session machinery does the bookkeeping: a closed connection destroys its session
at once, and a client that vanishes without closing is reaped after
``idle_timeout`` seconds without a message; either way ``close`` frees the sandbox.

Served routes (``SERVED_ROUTES``): ``/ws`` (the WebSocket sessions), ``GET /health``,
``GET /schema`` and ``GET /metadata``.  openenv's stateless HTTP ``/reset`` and
``/step`` would start and drop a sandbox per request, and its MCP routes (``/mcp``)
and the OpenAPI document are not used: none of them is served.

``RequestGuard`` fronts every request: web pages are refused (``dsgym.http_guard``:
a foreign ``Origin`` or ``Host``), anything but ``GET`` and the WebSocket handshake is
refused, and every request but ``GET /health`` must carry ``Authorization: Bearer
<token>`` unless the server was started explicitly without a token.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from typing import Any, Literal

from fastapi import FastAPI
from openenv.core.env_server.http_server import HTTPEnvServer
from openenv.core.env_server.interfaces import Environment
from openenv.core.env_server.types import Action, ConcurrencyConfig, EnvironmentMetadata, Observation, State
from pydantic import Field
from starlette.types import ASGIApp, Receive, Scope, Send

from dsgym.http_guard import is_loopback, refusal
from dsgym.registry import resolve
from dsgym.rl.session import ToolSession, suite_pool
from dsgym.sandbox import SandboxPool

TOKEN_ENV = "DSGYM_SERVE_TOKEN"
SERVED_ROUTES = frozenset({"/ws", "/health", "/schema", "/metadata"})
OPEN_PATHS = frozenset({"/health"})  # answered without a token


class DSGymAction(Action):
    """One tool call: ``run_python`` with ``code``, or ``submit_answer`` with ``answer`` (ends the episode)."""

    tool: Literal["run_python", "submit_answer"]
    code: str | None = Field(default=None, description="Python to run in the episode's kernel (run_python)")
    answer: str | None = Field(default=None, description="The final answer (submit_answer)")

    def argument(self) -> str:
        """The tool's argument; a missing one is refused here, in the session, so the connection survives."""
        name = "code" if self.tool == "run_python" else "answer"
        value = getattr(self, name)
        if value is None:
            raise ValueError(f"{self.tool} needs the {name!r} field")
        return value


class DSGymObservation(Observation):
    """What the agent sees: the task prompt after reset, then each tool's output; ``reward`` is the task's score."""

    text: str = ""
    task_id: str | None = None
    turn: int = 0
    score: float | None = Field(default=None, description="The task metric's score once the episode is over")
    termination: str | None = Field(default=None, description="Why the episode ended: answer, max_turns, ...")


class DSGymState(State):
    """The session's episode: which task, whether it is over and how it scored."""

    task_id: str | None = None
    done: bool = True
    score: float | None = None


class DSGymServedEnv(Environment[DSGymAction, DSGymObservation, DSGymState]):
    """One client's environment; openenv makes one per WebSocket session."""

    SUPPORTS_CONCURRENT_SESSIONS = True

    def __init__(self, env_id: str, pool: SandboxPool | None, format_penalty: float, env_options: dict[str, Any],
                 on_close: Callable[[DSGymServedEnv], None] = lambda env: None):
        super().__init__()
        self._env_id = env_id
        self._on_close = on_close
        self._session = ToolSession(env_id, pool=pool, format_penalty=format_penalty, **env_options)
        self._episode_id: str | None = None
        self._steps = 0

    def reset(self, seed: int | None = None, episode_id: str | None = None, task_id: str | None = None,
              **_: Any) -> DSGymObservation:
        prompt = self._session.start(task_id, seed=seed)
        self._episode_id = episode_id or self._session.env.episode_id
        self._steps = 0
        return DSGymObservation(text=prompt, task_id=self._session.task_id, done=False, reward=None)

    def step(self, action: DSGymAction, timeout_s: float | None = None, **_: Any) -> DSGymObservation:
        argument = action.argument()
        self._steps += 1
        if action.tool == "run_python":
            text = self._session.run_python(argument)
        else:
            text = self._session.submit_answer(argument)
        done = self._session.done
        info = self._session.last_info
        return DSGymObservation(text=text, task_id=self._session.task_id, turn=info.get("turn", self._steps),
                                done=done, score=self._session.score, termination=info.get("termination"),
                                reward=self._session.reward if done else None)

    @property
    def state(self) -> DSGymState:
        return DSGymState(episode_id=self._episode_id, step_count=self._steps, task_id=self._session.task_id,
                          done=self._session.done, score=self._session.score)

    def get_metadata(self) -> EnvironmentMetadata:
        return EnvironmentMetadata(name=f"dsgym/{self._env_id}", description=(
            "A data-science task in a sandboxed Jupyter kernel. Actions: run_python(code), "
            "submit_answer(answer). Reward: the task's metric score when the episode ends."))

    def close(self) -> None:
        self._session.close()
        self._on_close(self)


class RequestGuard:
    """ASGI middleware in front of every route: refuses web pages, other methods and missing tokens.

    ``token`` None serves without one (only ever on loopback); ``loopback_only`` also
    requires a ``Host`` naming this machine (the server is bound to loopback).
    """

    def __init__(self, app: ASGIApp, token: str | None, loopback_only: bool):
        self.app = app
        self.expected = f"Bearer {token}".encode() if token else None
        self.loopback_only = loopback_only

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        raw = dict(scope.get("headers") or [])
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in raw.items()}
        why, status = refusal(headers, loopback_only=self.loopback_only), 403
        if why is None and scope["type"] == "http" and scope["method"] not in ("GET", "HEAD"):
            why, status = f"{scope['method']} is not served (only GET and the /ws WebSocket)", 405
        if why is None and not self._authorized(scope, raw.get(b"authorization", b"")):
            why, status = "missing or wrong token", 401
        if why is None:
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": why[:120]})
        else:
            extra = [(b"www-authenticate", b"Bearer")] if status == 401 else []
            await send({"type": "http.response.start", "status": status,
                        "headers": [(b"content-type", b"application/json"), *extra]})
            await send({"type": "http.response.body", "body": json.dumps({"detail": why}).encode()})

    def _authorized(self, scope: Scope, header: bytes) -> bool:
        if self.expected is None or (scope["type"] == "http" and scope["path"] in OPEN_PATHS):
            return True
        return secrets.compare_digest(header, self.expected)


def create_server_app(env_id: str, *, token: str | None, host: str = "127.0.0.1", max_sessions: int = 8,
                      idle_timeout: float | None = 600.0, pool_size: int = 2, format_penalty: float = 0.0,
                      **env_options: Any) -> FastAPI:
    """The FastAPI app ``dsgym serve`` runs; build it on the main thread (the pool starts here).

    ``token`` is what clients must send (``dsgym serve`` makes one when none is given);
    None serves without one, which only a loopback ``host`` allows.
    """
    resolve(env_id)  # unknown ids fail before anything starts
    loopback = is_loopback(host)
    if token is None and not loopback:
        raise ValueError(f"serving on {host} needs a token: anyone who can reach it could run code in sandboxes")
    if max_sessions < 1:
        raise ValueError("max_sessions must be at least 1")
    pool = suite_pool(env_id, pool_size, env_options) if pool_size > 0 else None
    live: set[DSGymServedEnv] = set()

    def new_env() -> DSGymServedEnv:
        env = DSGymServedEnv(env_id, pool, format_penalty, env_options, on_close=live.discard)
        live.add(env)
        return env

    def shut_down() -> None:
        """Sessions still open when the server stops lose their sandboxes, then the warm ones go."""
        for env in list(live):
            env.close()
        if pool is not None:
            pool.close()

    server = HTTPEnvServer(new_env, DSGymAction, DSGymObservation, concurrency_config=ConcurrencyConfig(
        max_concurrent_envs=max_sessions, session_timeout=idle_timeout))
    app = FastAPI(title=f"dsgym OpenEnv server: {env_id}", docs_url=None, redoc_url=None, openapi_url=None)
    server.register_routes(app, mode="production")
    app.router.routes[:] = [route for route in app.router.routes if getattr(route, "path", None) in SERVED_ROUTES]
    app.router.on_shutdown.append(shut_down)
    app.state.env_server = server
    app.state.live_envs = live
    app.add_middleware(RequestGuard, token=token, loopback_only=loopback)
    return app
