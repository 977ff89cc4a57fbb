"""An agent that answers each task with a fixed text at once: the scoring tests grade chosen answers."""

from __future__ import annotations

from typing import Any

from dsgym.agents.base import Agent

# task id -> answer: DAEval's task 7 half right, QRData's 55.0% written as 55%, its 0.45 as 0.46
ANSWERS = {"7": "@mean_height[1.70]\n@tallest[Bob]", "3": "55%", "2": "0.46"}


class FixedAnswers(Agent):
    name = "fixed-answers"

    def start(self, task: Any, prompt: str, info: dict[str, Any] | None = None) -> None:
        self.answer = ANSWERS.get(task.id, "no idea")

    def act(self, observation: str | None) -> str:
        return f"<answer>{self.answer}</answer>"
