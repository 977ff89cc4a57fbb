"""The oracle: plays a task's reference solution, then submits what it computed.

It never reads the stored answer, so a full score proves that the solution,
the sandbox, the data mount and the metric agree end to end.
"""

from __future__ import annotations

import re
from typing import Any

from dsgym.agents.base import Agent
from dsgym.task import Task

BEGIN, END = "<<dsgym-oracle>>", "<</dsgym-oracle>>"
REPORT = re.compile(re.escape(BEGIN) + r"(.*?)" + re.escape(END), re.DOTALL)


class OracleAgent(Agent):
    name = "oracle"

    def start(self, task: Task, prompt: str, info: dict[str, Any] | None = None) -> None:
        self.reset_usage()
        if not task.solution:
            raise ValueError(f"task {task.env_id} has no reference solution")
        self.solution = task.solution
        self.stage = 0

    def act(self, observation: str | None) -> str:
        self.stage += 1
        if self.stage == 1:
            return f"<python>\n{self.solution}\n</python>"
        if self.stage == 2:
            return f"<python>\nprint({BEGIN!r} + str(answer) + {END!r})\n</python>"
        found = REPORT.search(observation or "")
        return f"<answer>{found.group(1).strip() if found else ''}</answer>"
