"""dsgym suites as ``verifiers`` multi-turn environments, scored by the tasks' own metrics.

    vf-eval dsgym -a '{"suite": "dsgym-tasks-lite"}' -m MODEL -b http://HOST:PORT/v1 -k OPENAI_API_KEY -n 5 -r 3

``verifiers`` finds an environment by importing the module named after its id and
calling ``load_environment``: ``dsgym.load_environment`` is this module's.  It
targets the classic ``verifiers`` API (``MultiTurnEnv``, ``Rubric``), which the
0.3 releases still ship and 0.4 removed.

The model plays dsgym's text protocol (``<python>code</python>`` runs a cell,
``<answer>...</answer>`` submits), so any chat model works, tool calling or not.
Each rollout drives one ``ToolSession``: its sandbox comes from a warm pool shared
by the environment's rollouts, and a cleanup hook grades the episode and frees the
sandbox however the rollout ends (answer, limit, error, timeout, cancellation).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

try:
    import verifiers as vf
    from datasets import Dataset
    from verifiers import MultiTurnEnv  # the classic API: verifiers 0.4 dropped it
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError("dsgym's verifiers environment needs verifiers' classic API (verifiers 0.3.x): "
                      "pip install 'dsgym[verifiers]'") from exc

from dsgym.config import DEFAULTS
from dsgym.rl.session import ToolSession, suite_pool, suite_tasks
from dsgym.sandbox import SandboxError, SandboxPool

T = TypeVar("T")

# Sandbox calls block (a code cell may run for minutes), so they get threads of their
# own: on asyncio's small default executor they would starve each other and verifiers.
SANDBOX_THREADS = 64


async def dsgym_reward(state: vf.State) -> float:
    """The reward: the task metric's score minus any format penalty (``ToolSession.reward``)."""
    return float(state.get("dsgym_reward") or 0.0)


async def dsgym_score(state: vf.State) -> float:
    """The bare metric score, reported beside the reward (weight 0)."""
    return float(state.get("dsgym_score") or 0.0)


class DSGymVerifiersEnv(MultiTurnEnv):
    """One dsgym episode per rollout; the environment's replies are the sandbox's observations."""

    def __init__(self, suite: str, *, pool_size: int, format_penalty: float, env_options: dict[str, Any],
                 **kwargs: Any):
        super().__init__(**kwargs)
        self.suite = suite
        self.pool_size = pool_size
        self.format_penalty = format_penalty
        self.env_options = env_options
        # Started by the first rollout: vf-eval also loads the environment in processes that never roll out.
        self.pool: SandboxPool | None = None
        self.executor = ThreadPoolExecutor(SANDBOX_THREADS, thread_name_prefix="dsgym-verifiers")

    async def blocking(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a blocking sandbox call off the event loop, so other rollouts go on meanwhile."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    def shared_pool(self) -> SandboxPool | None:
        if self.pool is None and self.pool_size > 0:
            self.pool = suite_pool(self.suite, self.pool_size, self.env_options)
        return self.pool

    async def setup_state(self, state: vf.State) -> vf.State:
        session = ToolSession(self.suite, pool=self.shared_pool(), format_penalty=self.format_penalty,
                              interface="text", **self.env_options)
        state["dsgym_session"] = session  # before start: the cleanup hook frees whatever start acquired
        try:
            prompt = await self.blocking(session.start, state["info"]["task_id"])
        except SandboxError as exc:  # the infrastructure's failure, not the model's: verifiers records and retries it
            raise vf.SandboxError(f"dsgym could not start a sandbox: {exc}") from exc
        # dsgym's prompt names the sandbox's paths and limits, so it replaces the dataset's question.
        system = [m for m in state["prompt"] if m.get("role") == "system"]
        state["prompt"] = [*system, vf.UserMessage(content=prompt)]
        return state

    async def env_response(self, messages: vf.Messages, state: vf.State, **kwargs: Any) -> vf.Messages:
        session: ToolSession = state["dsgym_session"]
        observation = await self.blocking(session.act_text, reply_text(messages))
        response: vf.Messages = [vf.UserMessage(content=observation)]
        if session.done:
            state["final_env_response"] = response
        return response

    @vf.cleanup
    async def release_sandbox(self, state: vf.State) -> None:
        """Grade the episode (if the rollout stopped before it ended) and free its sandbox."""
        session: ToolSession | None = state.get("dsgym_session")
        if session is None:
            return
        state["dsgym_session"] = None
        # One executor job that always closes: it finishes even if this rollout is cancelled meanwhile.
        state.update(await self.blocking(finish, session))

    @vf.teardown
    async def close_pool(self) -> None:
        """Stop the warm sandboxes; called inline, as verifiers also tears down from ``atexit`` (no threads then)."""
        pool, self.pool = self.pool, None
        if pool is not None:
            pool.close()
        self.executor.shutdown(wait=False)


def finish(session: ToolSession) -> dict[str, Any]:
    """End ``session``'s episode, close it, and return what the rubric and results need."""
    try:
        session.end()
        if not session.started:
            return {"dsgym_reward": 0.0, "dsgym_score": None, "dsgym_termination": "not_started",
                    "dsgym_excluded": None}
        return {"dsgym_reward": session.reward, "dsgym_score": session.score,
                "dsgym_termination": session.last_info.get("termination"), "dsgym_excluded": session.excluded}
    finally:
        session.close()


def reply_text(messages: vf.Messages) -> str:
    """The text of the model's last reply ('' when it had none, which dsgym answers with format help)."""
    content = messages[-1].get("content") if messages else None
    if isinstance(content, list):  # content parts
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return content if isinstance(content, str) else ""


def load_environment(suite: str = "dsgym-tasks-lite", task_ids: list[str] | None = None, *, max_turns: int = DEFAULTS.max_turns,
                     format_penalty: float = 0.0, pool_size: int = 2, system_prompt: str | None = None,
                     **env_options: Any) -> vf.Environment:
    """A ``verifiers`` environment over ``suite`` (or ``"<suite>/<task>"``), one dataset row per task.

    ``max_turns`` is dsgym's turn limit (verifiers' own loop allows one more, so
    the last reply is still played); ``pool_size`` warm sandboxes are kept started
    (0: one is started per rollout).  Other options go to ``dsgym.env.DSGymEnv``
    (``cell_timeout``, ``episode_budget``, ``sandbox``, ...).
    """
    found, ids = suite_tasks(suite, task_ids)
    if pool_size < 0:
        raise ValueError("pool_size must be >= 0")
    options = {**env_options, "max_turns": max_turns}
    ToolSession(found.name, format_penalty=format_penalty, interface="text", **options).close()  # bad options fail here
    rows = Dataset.from_list([{"question": found.tasks[task_id].question, "answer": "",
                               "info": {"task_id": task_id}} for task_id in ids])
    rubric = vf.Rubric(funcs=[dsgym_reward], weights=[1.0])
    rubric.add_metric(dsgym_score)
    return DSGymVerifiersEnv(found.name, pool_size=pool_size, format_penalty=format_penalty,
                             env_options=options, dataset=rows, eval_dataset=rows,
                             system_prompt=system_prompt, rubric=rubric, max_turns=max_turns + 1)
