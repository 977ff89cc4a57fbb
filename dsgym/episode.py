"""Playing one episode: an agent against an env, recorded turn by turn, failures typed by origin.

An episode ends ``ok`` (the agent answered, or ran out of turns or time: a score,
possibly 0) or ``error``: something other than the agent's data science went
wrong, and the episode has no score.  ``error_type`` says where:

=========  ==================================================================  =========
type       what failed                                                         retried
=========  ==================================================================  =========
model      the agent's model endpoint (``dsgym.llm.LLMError``)                 yes [1]_
agent      any other exception raised by the agent                             no
sandbox    the sandbox, from outside its control: the daemon, the image, the  yes
           host (would not start, removed or killed from outside:
           ``SandboxError``, Docker errors, termination ``sandbox_error``)
scoring    grading the submitted answer (a misconfigured metric); the answer   no
           is kept, so ``dsgym rescore`` can grade it later
env        the task or env options (missing data files, a bad option)         no
timeout    the runner's hard per-episode deadline (set by the runner)          no
load_      a cell hit its time limit while the host was overloaded: it got     once [2]_
suspect    under half the CPU its sandbox was promised and its threads waited
           for a CPU (``dsgym.sandbox.cpu``); each turn records the CPU it got
=========  ==================================================================  =========

.. [1] except client errors that cannot heal (HTTP 400, 401, 403, 404, 422...).
.. [2] by the runner, after the other episodes, at half the concurrency.

What the sandbox does to itself is the agent's outcome, never an error: a container
whose PID 1 or kernel supervisor was signalled from inside, or whose kernel stopped
answering, ends the episode ``ok`` with score 0 (termination ``sandbox_broken``, the
reason in ``score_breakdown``), and forged kernel messages are skipped by the host.
Errors are retried and left out of the mean, so an agent that could turn its failures
into errors would re-roll them for free.
"""

from __future__ import annotations

import functools
import inspect
import threading
import time
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from typing import Any

import gymnasium as gym

from dsgym.agents.base import Agent, ModelReply
from dsgym.env import MissingDataError
from dsgym.llm import LLMError
from dsgym.sandbox.base import SandboxError

SCHEMA = 1
ERROR_TYPES = ("model", "agent", "sandbox", "scoring", "env", "timeout", "load_suspect")
ZERO_TOKENS = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}


@dataclass
class Turn:
    action: str
    observation: str
    reward: float
    step_time: float
    kernel_restarted: bool = False
    agent_time: float = 0.0
    action_kind: str | None = None
    cell_error: str | None = None
    timed_out: bool = False
    tokens: int = 0
    at: float = 0.0  # seconds since the episode started, when the action was submitted
    # the model's whole reply (reasoning and action), as an agent with a model reports it (``Agent.last_reply``)
    reply: str | None = None
    finish_reason: str | None = None
    usage: dict[str, int] | None = None  # what the API said the reply cost (also when replayed from a cache)
    cached: bool | None = None  # replayed from a cache: it cost nothing in this episode
    figures: list[str] = field(default_factory=list)  # paths of the figures the env saved in this turn
    # the CPU the cell got (dsgym.sandbox.cpu.CellCpu.to_dict: cpu_seconds, cpu_share, cpu_promised, ...)
    cpu: dict[str, Any] | None = None
    load_suspect: bool = False  # the cell timed out while starved of CPU by the host's load


@dataclass
class EpisodeRecord:
    """One episode, as written to ``episodes.jsonl`` (one JSON object per line; see ``to_dict``)."""

    env_id: str
    task_id: str
    agent: str
    suite: str = ""
    sample: int = 0
    seed: int | None = None
    run_id: str = ""
    episode_id: str = ""
    category: str | None = None
    agent_config: dict[str, Any] = field(default_factory=dict)
    model: str | None = None
    status: str = "ok"
    prompt: str = ""
    turns: list[Turn] = field(default_factory=list)
    answer: str | None = None
    submission: str | None = None  # a prediction task's submission file, as copied out of the sandbox
    score: float | None = 0.0
    score_breakdown: dict[str, Any] = field(default_factory=dict)
    scoring: str | None = None  # the scoring profile that graded it (None: not graded; older runs: dsgym)
    metric: str | None = None  # the metric the profile used for the task (dsgym.scoring.profiles)
    termination: str | None = None
    error: str | None = None
    error_type: str | None = None
    tokens: dict[str, int] = field(default_factory=lambda: dict(ZERO_TOKENS))
    reset_time: float = 0.0
    wall_time: float = 0.0
    started_at: str = ""
    ended_at: str = ""
    attempts: int = 1
    retried: list[dict[str, Any]] = field(default_factory=list)
    # what the episode ran under: the run's concurrency, the host's cores, the sandbox's --cpus
    conditions: dict[str, Any] = field(default_factory=dict)
    # a seeded task variant ({"seed", "used_seed", "family"}; dsgym.variants), None for the original task
    variant: dict[str, Any] | None = None
    limits: dict[str, Any] = field(default_factory=dict)  # the episode's limits, as reset's info gave them
    degraded: list[str] = field(default_factory=list)  # what the agent said it cut (Agent.degraded)
    schema: int = SCHEMA
    retryable: bool = field(default=False, repr=False)  # runner bookkeeping, not written

    @property
    def key(self) -> str:
        return episode_key(self.suite or self.env_id.split("/")[0], self.task_id, self.sample, variant_seed(self.variant))

    def fail(self, error_type: str, message: str, *, retryable: bool = False) -> EpisodeRecord:
        assert error_type in ERROR_TYPES, error_type
        self.status, self.error_type, self.error = "error", error_type, message
        self.score, self.retryable = None, retryable
        self.termination = self.termination or ("timeout" if error_type == "timeout" else "error")
        return self

    def attempt_summary(self) -> dict[str, Any]:
        """What a failed attempt leaves behind when the runner retries the episode."""
        return {"error_type": self.error_type, "error": self.error, "termination": self.termination,
                "turns": len(self.turns), "wall_time": round(self.wall_time, 3), "tokens": dict(self.tokens),
                "started_at": self.started_at}

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("retryable")
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EpisodeRecord:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["turns"] = [Turn(**{k: v for k, v in t.items() if k in Turn.__dataclass_fields__})
                           for t in data.get("turns", [])]
        return cls(**values)

    def transcript(self) -> str:
        parts = [f"=== {self.env_id} ({self.agent}) ===", self.prompt]
        for index, turn in enumerate(self.turns, 1):
            said = turn.reply if turn.reply is not None else turn.action
            parts += [f"--- turn {index}: {'reply' if turn.reply is not None else 'action'} ---", said,
                      f"--- turn {index}: observation ({turn.step_time * 1000:.0f} ms) ---", turn.observation]
        if self.status == "error":
            parts.append(f"=== error ({self.error_type}): {self.error} ===")
        else:
            graded = f"; metric {self.metric}, scoring {self.scoring}" if self.scoring and self.metric else ""
            parts.append(f"=== score {self.score:.3f} ({self.termination}{graded}) ===")
        return "\n".join(parts)


def episode_key(suite: str, task_id: str, sample: int, variant: int | None = None) -> str:
    """The identity of an episode within a run: ``<suite>/<task-id>#<sample>``, ``<suite>/<task-id>~v<seed>#<sample>``
    for a seeded variant of the task."""
    return f"{suite}/{task_id}#{sample}" if variant is None else f"{suite}/{task_id}~v{variant}#{sample}"


def variant_seed(variant: Any) -> int | None:
    """The requested seed of a record's ``variant`` (None: the original task)."""
    return int(variant["seed"]) if isinstance(variant, dict) and variant.get("seed") is not None else None


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def classify_agent_error(exc: BaseException) -> tuple[str, bool]:
    """An exception out of the agent: ``model`` (endpoint) or ``agent`` (scaffold), and if retrying may help."""
    if isinstance(exc, LLMError):
        return "model", exc.retryable
    return "agent", False


def classify_env_error(exc: BaseException, *, at_reset: bool) -> tuple[str, bool]:
    """An exception out of the env: the sandbox (retry) or the task / its options (do not)."""
    if isinstance(exc, (MissingDataError, ValueError, KeyError, TypeError)) and not isinstance(exc, SandboxError):
        return "env", False
    if isinstance(exc, SandboxError) or _is_docker_error(exc) or at_reset:
        return "sandbox", True
    return "env", False


def _is_docker_error(exc: BaseException) -> bool:
    try:
        import docker.errors
    except ImportError:  # pragma: no cover - docker is a dependency
        return False
    return isinstance(exc, (docker.errors.DockerException, ConnectionError, TimeoutError))


class Cancelled(Exception):
    """The runner gave up on this episode (deadline or Ctrl-C); its record is discarded."""


def play(env: gym.Env, agent: Agent, *, seed: int | None = None, task_id: str | None = None,
         record: EpisodeRecord | None = None, cancel: threading.Event | None = None) -> EpisodeRecord:
    """Run ``agent`` until the episode ends.  Failures are recorded (typed), never raised.

    Works on any (wrapped) dsgym env through ``reset``/``step`` and their ``info`` only:
    the task, its ids and the limits come from ``reset``'s info.  ``record`` may be passed
    in (the runner fills ids first, and reads it while the episode runs); ``cancel``
    stops the episode between actions.
    """
    t0 = time.monotonic()
    if record is None:
        spec = getattr(env, "spec", None)
        spec_kwargs = dict(spec.kwargs) if spec is not None else {}
        suite, guess = spec_kwargs.get("suite", ""), spec_kwargs.get("task_id") or task_id or ""
        record = EpisodeRecord(env_id=f"{suite}/{guess}", task_id=guess, agent=agent.name, suite=suite, seed=seed)
    record.started_at = record.started_at or now_iso()
    agent.degraded = []  # an agent that does not reset it must not carry the last episode's over
    try:
        _play(env, agent, record, t0, seed, task_id, cancel)
    finally:
        record.degraded = [str(item) for item in getattr(agent, "degraded", None) or []]
        record.tokens = _usage(agent)
        record.wall_time = time.monotonic() - t0
        record.ended_at = now_iso()
    return record


def _play(env: gym.Env, agent: Agent, record: EpisodeRecord, t0: float, seed: int | None,
          task_id: str | None, cancel: threading.Event | None) -> None:
    def check() -> None:
        if cancel is not None and cancel.is_set():
            raise Cancelled()

    try:
        prompt, info = env.reset(seed=seed, options={"task_id": task_id} if task_id else None)
    except Exception as exc:  # noqa: BLE001 - e.g. the sandbox would not start
        kind, retry = classify_env_error(exc, at_reset=True)
        record.fail(kind, f"reset failed: {describe(exc)}", retryable=retry)
        return
    task = info.get("task")
    record.env_id = info.get("env_id") or (task.env_id if task is not None else record.env_id)
    record.task_id = info.get("task_id", record.task_id)
    record.suite = info.get("suite", record.suite)
    record.category = record.category or info.get("category")
    record.prompt, record.reset_time = prompt, info.get("reset_time", 0.0)
    record.episode_id = info.get("episode_id", record.episode_id)
    record.variant = info.get("variant") or record.variant
    record.limits = dict(info.get("limits") or {})
    try:
        check()
        try:
            start_agent(agent, task, prompt, info)
        except Exception as exc:  # noqa: BLE001 - one failed episode must not stop a run
            kind, retry = classify_agent_error(exc)
            record.fail(kind, f"agent.start failed: {describe(exc)}", retryable=retry)
            return
        observation: str | None = None
        while True:
            check()
            used = _usage(agent)["total_tokens"]
            ta = time.monotonic()
            agent.last_reply = None
            try:
                action = agent.act(observation)
            except Exception as exc:  # noqa: BLE001
                kind, retry = classify_agent_error(exc)
                record.fail(kind, describe(exc), retryable=retry)
                return
            agent_time = time.monotonic() - ta
            check()
            if not isinstance(action, str):
                record.fail("agent", f"agent.act returned {type(action).__name__}, not str")
                return
            try:
                observation, reward, terminated, truncated, info = env.step(action)
            except Exception as exc:  # noqa: BLE001
                kind, retry = classify_env_error(exc, at_reset=False)
                record.fail(kind, f"step failed: {describe(exc)}", retryable=retry)
                return
            reply = agent.last_reply
            record.turns.append(Turn(
                action=action, observation=observation, reward=float(reward), step_time=info["step_time"],
                kernel_restarted=bool(info.get("kernel_restarted")), agent_time=agent_time,
                action_kind=info.get("action_kind"), cell_error=info.get("error") if info.get("code") else None,
                timed_out=bool(info.get("timed_out")), tokens=_usage(agent)["total_tokens"] - used,
                at=ta - t0, figures=[figure["path"] for figure in info.get("figures") or []],
                cpu=info.get("cell_cpu"), load_suspect=bool(info.get("load_suspect")),
                **(_reply_fields(reply) if reply is not None else {})))
            if terminated or truncated:
                _finish(record, float(reward), info)
                return
    except Cancelled:
        record.fail("timeout", "cancelled by the runner")


def start_agent(agent: Agent, task: Any, prompt: str, info: dict[str, Any]) -> None:
    """``agent.start(task, prompt, info)``; an agent written before ``info`` existed gets ``(task, prompt)``."""
    if _takes_info(type(agent).start):
        agent.start(task, prompt, info)
    else:
        agent.start(task, prompt)


@functools.lru_cache(maxsize=256)
def _takes_info(start: Any) -> bool:
    try:
        parameters = inspect.signature(start).parameters
    except (TypeError, ValueError):
        return True
    return "info" in parameters or any(p.kind is p.VAR_POSITIONAL for p in parameters.values())


def _finish(record: EpisodeRecord, reward: float, info: dict[str, Any]) -> None:
    record.termination = info["termination"]
    record.answer = info.get("answer")
    record.submission = info.get("submission")
    record.score = reward
    record.score_breakdown = info.get("score_breakdown", {})
    record.scoring, record.metric = info.get("scoring"), info.get("metric")
    error = info.get("error") or ""
    starved = [i for i, turn in enumerate(record.turns, 1) if turn.load_suspect]
    if starved and record.termination != "sandbox_error":
        record.score_breakdown = {**record.score_breakdown, "score_under_load": reward}
        shares = ", ".join(f"turn {i}: {record.turns[i - 1].cpu.get('cpu_share'):g} of "
                           f"{record.turns[i - 1].cpu.get('cpu_promised'):g} CPU" for i in starved)
        record.fail("load_suspect", f"a cell hit its time limit while the host was overloaded ({shares}); "
                                    "not the agent's failure")
    elif record.termination == "sandbox_error":
        record.fail("sandbox", error or "the sandbox failed", retryable=True)
    elif isinstance(error, str) and error.startswith("scoring failed"):
        record.fail("scoring", error)


def _reply_fields(reply: ModelReply) -> dict[str, Any]:
    return {"reply": reply.text, "finish_reason": reply.finish_reason, "usage": dict(reply.usage),
            "cached": bool(reply.cached)}


def _usage(agent: Agent) -> dict[str, int]:
    usage = getattr(agent, "usage", None) or {}
    try:
        return {key: int(usage.get(key, 0) or 0) for key in ZERO_TOKENS}
    except (AttributeError, TypeError, ValueError):
        return dict(ZERO_TOKENS)
