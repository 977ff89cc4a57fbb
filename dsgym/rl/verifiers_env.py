"""dsgym suites under ``verifiers`` 0.4 (its ``verifiers.v1`` taskset/harness stack), scored by dsgym.

    vf-eval dsgym --env.taskset.suite dsgym-tasks-lite -m MODEL --client.base-url http://HOST:PORT/v1 \\
        --client.api-key-var OPENAI_API_KEY --no-push

verifiers resolves the taskset id ``dsgym`` by importing the ``dsgym`` package and
taking the ``Taskset``, ``Env`` and ``Harness`` subclasses its ``__all__`` exports
(``dsgym/__init__.py`` lists them only when ``verifiers.v1`` is installed):

- ``DSGymTaskset``: one task per dsgym task of the suite (or of ``task_ids``);
- ``DSGymVerifiersEnv``: dsgym plays the user.  Each episode starts a
  ``ToolSession`` (its sandbox from a warm pool shared by the env's episodes), sends
  the task prompt, plays every reply (``<python>code</python>`` runs a cell,
  ``<answer>...</answer>`` submits) and sends the observation back as the next user
  turn until the episode ends.  The trace's rewards are dsgym's: ``dsgym_reward``
  (``ToolSession.reward``, weight 1) and nothing else; ``dsgym_score`` is a metric.
- ``DSGymChatHarness``: the model's side, one chat completion per turn made
  in-process through verifiers' interception endpoint, so a run needs no program
  installed at run time and works offline against any OpenAI-compatible server.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from dsgym.plugins import verifiers_v1

if not verifiers_v1():
    raise ImportError("dsgym's verifiers integration needs verifiers 0.4 or later (its verifiers.v1 API): "
                      "pip install 'dsgym[verifiers]'")

import verifiers.v1 as vf  # noqa: E402 - after the version check, which names the fix
from openai import AsyncOpenAI  # noqa: E402
from pydantic import Field, model_validator  # noqa: E402
from verifiers.v1.dialects.chat import message_to_wire  # noqa: E402

from dsgym.config import DEFAULTS
from dsgym.registry import UnknownEnvError
from dsgym.rl.session import ToolSession, suite_pool, suite_tasks
from dsgym.sandbox import SandboxError, SandboxPool

T = TypeVar("T")

# Sandbox calls block (a code cell may run for minutes), so they get threads of their
# own: on asyncio's small default executor they would starve each other and verifiers.
SANDBOX_THREADS = 64


class DSGymTaskData(vf.TaskData):
    """One dsgym task; the prompt is None because dsgym's own prompt (with the sandbox's paths) opens the episode."""

    suite: str
    task_id: str


class DSGymTask(vf.Task[DSGymTaskData]):
    """Scored by the env (``dsgym_reward``), not by task hooks: the grade comes from the episode's sandbox."""

    @property
    def key(self) -> str:
        return f"{self.data.suite}/{self.data.task_id}"


class DSGymTasksetConfig(vf.TasksetConfig):
    """``--env.taskset.*``: which suite and tasks, and the episode's limits (dsgym's env options)."""

    suite: str = "dsgym-tasks-lite"
    """A suite, or ``<suite>/<task>`` for one task."""
    task_ids: list[str] | None = None
    """Only these tasks of the suite (default: all)."""
    max_turns: int = Field(DEFAULTS.max_turns, ge=1)
    """dsgym's turn limit: code cells and answers per episode."""
    format_penalty: float = Field(0.0, ge=0)
    """Subtracted from the reward of an episode that ended without an answer."""
    pool_size: int = Field(2, ge=0)
    """Warm sandboxes kept started for the env's episodes (0: one is started per episode)."""
    options: dict[str, Any] = Field(default_factory=dict)
    """Other ``DSGymEnv`` options: ``cell_timeout``, ``episode_budget``, ``sandbox``, ``limits``, ..."""

    @model_validator(mode="after")
    def check_suite(self) -> DSGymTasksetConfig:
        """Unknown suites, tasks and options fail when the config is read, before any rollout."""
        try:
            found, _ = suite_tasks(self.suite, self.task_ids)
        except UnknownEnvError as exc:  # a KeyError: pydantic reports ValueErrors as the config's errors
            raise ValueError(str(exc.args[0] if exc.args else exc)) from exc
        ToolSession(found.name, format_penalty=self.format_penalty, interface="text",
                    **self.env_options()).close()
        return self

    def env_options(self) -> dict[str, Any]:
        return {**self.options, "max_turns": self.max_turns}


class DSGymTaskset(vf.Taskset[DSGymTask, DSGymTasksetConfig]):
    """The suite's tasks, in id order; ``task.data.id`` is the dsgym task id."""

    def load(self) -> Iterator[DSGymTask]:
        found, ids = suite_tasks(self.config.suite, self.config.task_ids)
        for task_id in ids:
            yield DSGymTask(DSGymTaskData(id=task_id, name=f"{found.name}/{task_id}",
                                          description=found.tasks[task_id].question, prompt=None,
                                          suite=found.name, task_id=task_id), self.config.task)


class DSGymChatHarnessConfig(vf.HarnessConfig):
    id: str = "dsgym"


class DSGymChatHarness(vf.Harness[DSGymChatHarnessConfig]):
    """One chat completion per turn, in-process, through the rollout's interception endpoint.

    The model writes dsgym's text actions; the env (not the harness) runs them in the
    sandbox, so the harness executes nothing and needs no container of its own.
    """

    APPENDS_SYSTEM_PROMPT = True
    SUPPORTS_RESUME = True  # each turn relaunches on the conversation so far
    EXECUTES_CODE = False
    NEEDS_CONTAINER = False

    async def launch(self, ctx: vf.ModelContext, trace: vf.Trace, runtime: vf.Runtime, endpoint: str,
                     secret: str, mcp_urls: dict[str, str], data: vf.TaskData) -> vf.ProgramResult:
        system, prompt = self.resolve_prompt(data)
        if isinstance(prompt, str):
            prompt = [vf.UserMessage(content=prompt)]
        messages = ([{"role": "system", "content": system}] if system else []) + \
            [message_to_wire(message) for message in prompt or []]
        async with AsyncOpenAI(base_url=endpoint, api_key=secret, max_retries=0) as client:
            await client.chat.completions.create(model=ctx.model, messages=messages)
        return vf.ProgramResult(exit_code=0, stdout="", stderr="")  # the interception recorded the call


class DSGymEnvConfig(vf.EnvConfig):
    """One seat, ``agent`` (``--env.agent.*``), playing on this machine: dsgym's sandbox is the container."""

    agent: vf.AgentConfig = vf.AgentConfig(runtime=vf.SubprocessConfig())


class DSGymVerifiersEnv(vf.Env[DSGymEnvConfig]):
    """One dsgym episode per rollout; dsgym plays the user and grades the episode host-side."""

    def __init__(self, config: DSGymEnvConfig):
        super().__init__(config)
        self.settings: DSGymTasksetConfig = self.taskset.config
        self.pool: SandboxPool | None = None
        self.executor: ThreadPoolExecutor | None = None

    async def start(self) -> None:
        self.executor = ThreadPoolExecutor(SANDBOX_THREADS, thread_name_prefix="dsgym-verifiers")
        if self.settings.pool_size > 0:
            self.pool = suite_pool(self.settings.suite, self.settings.pool_size, self.settings.env_options())

    async def stop(self) -> None:
        """Stop the warm sandboxes (each episode already freed its own)."""
        pool, self.pool = self.pool, None
        if pool is not None:
            pool.close()
        if self.executor is not None:
            self.executor.shutdown(wait=False)

    async def blocking(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a blocking sandbox call off the event loop, so other episodes go on meanwhile."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    async def run(self, task: DSGymTask, agents: vf.Agents) -> None:
        session = ToolSession(task.data.suite, pool=self.pool, format_penalty=self.settings.format_penalty,
                              interface="text", **self.settings.env_options())
        outcome: dict[str, Any] | None = None
        try:
            try:
                prompt = await self.blocking(session.start, task.data.task_id)
            except SandboxError as exc:  # the infrastructure's failure, not the model's
                raise vf.SandboxError(f"dsgym could not start a sandbox: {exc}") from exc
            async with agents.agent.interaction(task) as interaction:
                segment = await interaction.turn(prompt)
                while not segment.terminated:  # a verifiers limit (turns, tokens, time) ends it too
                    observation = await self.blocking(session.act_text, segment.last_reply)
                    if session.done:
                        break
                    segment = await interaction.turn(observation)
                outcome = await self.blocking(finish, session)
                record(interaction.trace, outcome)
        finally:
            if outcome is None:  # an error or a cancellation: the sandbox is freed all the same, by a
                # job on the executor that finishes even if this rollout is cancelled meanwhile
                await asyncio.shield(self.blocking(finish, session))


def finish(session: ToolSession) -> dict[str, Any]:
    """End ``session``'s episode (grading it if the model stopped early), close it, and return its outcome."""
    try:
        session.end()
        if not session.started:
            return {"reward": 0.0, "score": None, "termination": "not_started", "excluded": None}
        return {"reward": session.reward, "score": session.score,
                "termination": session.last_info.get("termination"), "excluded": session.excluded}
    finally:
        session.close()


def record(trace: vf.Trace, outcome: dict[str, Any]) -> None:
    """dsgym's grade on the trace: the only reward, the bare score as a metric, the rest as info."""
    trace.record_reward("dsgym_reward", outcome["reward"])
    if outcome["score"] is not None:
        trace.record_metric("dsgym_score", outcome["score"])
    trace.info["dsgym_termination"] = outcome["termination"]
    trace.info["dsgym_excluded"] = outcome["excluded"]


def load_environment(suite: str = "dsgym-tasks-lite", task_ids: list[str] | None = None, **settings: Any
                     ) -> DSGymVerifiersEnv:
    """The env ``vf-eval dsgym`` builds, from Python: ``settings`` are ``DSGymTasksetConfig``'s fields."""
    return vf.load_environment(DSGymEnvConfig(taskset=DSGymTasksetConfig(id="dsgym", suite=suite, task_ids=task_ids,
                                                                         **settings)))


__all__ = ["DSGymChatHarness", "DSGymTaskset", "DSGymVerifiersEnv"]
