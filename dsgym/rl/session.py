"""One dsgym episode driven by tool calls: the piece every RL integration shares.

A trainer's rollout (TRL, OpenEnv, verifiers) sees two tools, ``run_python(code)``
and ``submit_answer(answer)``, and one number at the end, :attr:`ToolSession.reward`.
Underneath is a plain ``DSGymEnv`` in ``interface="tools"`` mode, so turn limits,
cell timeouts, the episode budget and host-side grading are exactly those of
``dsgym eval``.

Reward (see ``docs/rl.md``): the task's score from its own metric, in [0, 1]
(prediction tasks: the graded submission file when the episode ends), minus
``format_penalty`` when the rollout ended without ``submit_answer``.  A sandbox the
policy broke itself (PID 1 killed, forged kernel state) is its outcome: reward 0, the
reason in ``last_info``.  Only a failure outside its control (the Docker daemon, a
container killed from outside) marks the rollout :attr:`ToolSession.excluded`, the
episode ``dsgym eval`` leaves out of its mean; trainers should drop it the same way.
"""

from __future__ import annotations

import threading
from typing import Any

from dsgym.actions import Action, parse_action
from dsgym.registry import resolve
from dsgym.sandbox import SandboxPool, SandboxSpec
from dsgym.sandbox.images import image_tag
from dsgym.task import Suite


class SessionError(RuntimeError):
    """A tool was called outside an episode: before ``start`` or after it ended."""


def suite_pool(env_id: str, size: int, env_options: dict[str, Any] | None = None, *,
               starters: int = 4) -> SandboxPool:
    """A warm pool for the sandboxes of ``env_id``'s suite, shared by many sessions.

    ``env_options`` are the options the sessions' envs get: the pool's sandboxes
    follow their ``sandbox``, ``image`` and ``limits``.  Create it on the main
    thread (Docker's exit handlers are installed there) and close it when
    training ends; it keeps ``size`` started containers ready, refilled by
    ``starters`` threads side by side (more than 4 gains little on a few cores).
    """
    suite, _ = resolve(env_id)
    options = env_options or {}
    factory = SandboxSpec(options.get("sandbox"), options.get("image") or image_tag(suite.image),
                          options.get("limits")).factory()
    return SandboxPool(factory, size=size, starters=min(starters, size))


def suite_tasks(env_id: str, task_ids: list[str] | None = None) -> tuple[Suite, list[str]]:
    """``env_id``'s suite and the tasks to train on: ``task_ids``, else the task ``env_id`` names, else all."""
    suite, task = resolve(env_id)
    ids = task_ids or ([task.id] if task else sorted(suite.tasks))
    unknown = sorted(set(ids) - set(suite.tasks))
    if unknown:
        raise ValueError(f"unknown task(s) in suite {suite.name!r}: {', '.join(unknown)}")
    return suite, ids


class ToolSession:
    """A reusable tool-call front end to one ``DSGymEnv``: ``start`` an episode, call tools, read ``reward``.

    ``env_id`` is a suite (a task per ``start``, or the one named there) or
    ``"<suite>/<task>"``.  The sandbox is taken on ``start`` (from ``pool`` when
    given) and released as soon as the episode ends, so a finished rollout holds
    no container while the trainer computes its loss.  With ``interface="text"`` the
    prompt asks for ``<python>``/``<answer>`` replies instead, fed to ``act_text``.
    """

    def __init__(self, env_id: str, *, pool: SandboxPool | None = None, format_penalty: float = 0.0,
                 interface: str = "tools", **env_options: Any):
        from dsgym.env import make

        if format_penalty < 0:
            raise ValueError("format_penalty must be >= 0 (it is subtracted)")
        self.format_penalty = format_penalty
        self.env = make(env_id, pool=pool, interface=interface, **env_options)
        self.last_info: dict[str, Any] = {}
        self.submitted = False
        self.started = False
        self._lock = threading.Lock()  # tool calls of one session may arrive from several threads

    @property
    def done(self) -> bool:
        return self.env.done

    @property
    def task_id(self) -> str | None:
        return self.env.task.id if self.env.task else None

    @property
    def variant(self) -> dict[str, Any] | None:
        """The seeded variant this episode plays (``variant="fresh"`` draws one per ``start``), None: the original."""
        return self.last_info.get("variant") if self.started else None

    @property
    def score(self) -> float | None:
        """The metric's score once the episode is over, else None."""
        return self.last_info.get("score") if self.started and self.done else None

    @property
    def excluded(self) -> str | None:
        """Why this finished episode's reward says nothing about the policy (an infrastructure failure), else None."""
        if self.started and self.done and self.last_info.get("termination") == "sandbox_error":
            return f"sandbox: {self.last_info.get('error') or 'the sandbox failed'}"
        return None

    @property
    def reward(self) -> float:
        """The training reward: score minus the format penalty; 0 for an episode still running."""
        if not self.started:
            raise SessionError("no episode yet: call start() first")
        if not self.done:
            return 0.0 - self.format_penalty
        penalty = 0.0 if self.submitted else self.format_penalty
        return float(self.last_info.get("score", 0.0)) - penalty

    def start(self, task_id: str | None = None, seed: int | None = None) -> str:
        """Begin an episode (ending any running one) and return the task prompt."""
        with self._lock:
            options = {"task_id": task_id} if task_id else None
            prompt, info = self.env.reset(seed=seed, options=options)
            self.last_info, self.submitted, self.started = info, False, True
            return prompt

    def run_python(self, code: str) -> str:
        """Run ``code`` in the episode's Jupyter kernel and return what it printed, displayed or raised."""
        return self._act(Action("code", code))

    def submit_answer(self, answer: str) -> str:
        """Submit the final answer; this ends the episode and grades it."""
        return self._act(Action("answer", str(answer).strip()))

    def act_text(self, reply: str) -> str:
        """Play one reply of the text protocol (code, answer, or a malformed reply: each is a turn)."""
        return self._act(parse_action(reply), reply)

    def end(self) -> None:
        """End the episode now (the rollout stopped calling tools): grade it and free the sandbox."""
        with self._lock:
            if self.started and not self.done:
                self.last_info = self.env.finish("rollout_ended")

    def close(self) -> None:
        """Release the sandbox and the env; the session cannot start again."""
        with self._lock:
            self.env.close()

    def _act(self, action: Action, text: str | None = None) -> str:
        with self._lock:
            if not self.started or self.done:
                raise SessionError("the episode is over: no more actions" if self.started
                                   else "no episode yet: call start() first")
            observation, _, _, _, info = self.env.act(action, text)
            self.last_info = info
            self.submitted = self.submitted or action.kind == "answer"
            return observation
