"""The agent contract: read observations, write actions.  Agents touch the sandbox only via the env."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from dsgym.task import Task


class Agent(ABC):
    """Given the task and each new observation, produce the next action text.

    ``usage`` holds the tokens the agent spent in the current episode (reset by
    ``start``), as the model API reported them; ``config`` describes the agent for
    run manifests.  A failure of the model endpoint should surface as
    ``dsgym.llm.LLMError`` so runners can tell it from a bug in the agent.
    """

    name = "agent"

    def __init__(self) -> None:
        self.usage = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}

    @abstractmethod
    def start(self, task: Task, prompt: str) -> None:
        """A new episode begins with ``prompt`` (the env's first observation)."""

    @abstractmethod
    def act(self, observation: str | None) -> str:
        """The next action; ``observation`` is what the previous action produced (None at first)."""

    def conversation(self) -> list[dict[str, Any]] | None:
        """The episode's chat messages as the model saw them, if the agent keeps them (for SFT export)."""
        return None

    def config(self) -> dict[str, Any]:
        return {"agent": self.name}

    def reset_usage(self) -> None:
        self.usage = {key: 0 for key in self.usage}
