"""The agent contract: read observations, write actions.  Agents touch the sandbox only via the env."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from dsgym.task import Task


@dataclass(frozen=True)
class ModelReply:
    """One model reply as the episode record keeps it: the whole text (reasoning and action), why it ended,
    what the API said it cost, and whether it was replayed from a cache (then it cost nothing now)."""

    text: str
    finish_reason: str | None
    usage: dict[str, int]
    cached: bool


class Agent(ABC):
    """Given the task and each new observation, produce the next action text.

    ``usage`` holds the tokens the agent spent in the current episode (reset by
    ``start``), as the model API reported them; ``config`` describes the agent for
    run manifests.  A failure of the model endpoint should surface as
    ``dsgym.llm.LLMError`` so runners can tell it from a bug in the agent.
    An agent backed by a model sets ``last_reply`` in each ``act`` (the episode
    record keeps it per turn); a ``dsgym.llm.LLMClient`` it builds while the runner
    plays an episode caches in the run's cache by itself (``dsgym.llm.caching_in``).
    """

    name = "agent"
    last_reply: ModelReply | None = None
    # what the agent cut in its last episode to stay within a budget (e.g. the automl baseline's work
    # budget), in words; copied into the episode record and counted in the run's summary
    degraded: list[str] = []

    def __init__(self) -> None:
        self.usage = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}

    @abstractmethod
    def start(self, task: Task, prompt: str, info: dict[str, Any] | None = None) -> None:
        """A new episode begins with ``prompt`` (the env's first observation).

        ``info`` is ``reset``'s info: ``info["limits"]`` holds the episode's ``max_turns``,
        ``cell_timeout`` (seconds) and ``episode_budget`` (seconds), the only place an agent
        should learn them (the prompt's wording is for models, not for parsing).  It is None
        when a caller drives the agent by hand without an env; then the agent assumes no limits.
        """

    @abstractmethod
    def act(self, observation: str | None) -> str:
        """The next action; ``observation`` is what the previous action produced (None at first)."""

    def chat_from_record(self, task: Task, record: dict[str, Any]) -> list[dict[str, Any]] | None:
        """The chat the model saw in a recorded episode (system, task prompt, replies, observations), rebuilt
        from the record's turns; None for agents without a model.  Synthesis exports it as SFT data."""
        return None

    def config(self) -> dict[str, Any]:
        return {"agent": self.name}

    def reset_usage(self) -> None:
        self.usage = {key: 0 for key in self.usage}


def episode_limits(info: dict[str, Any] | None) -> dict[str, Any]:
    """The limits in ``reset``'s info (``max_turns``, ``cell_timeout``, ``episode_budget``); {} without info."""
    return dict((info or {}).get("limits") or {})
