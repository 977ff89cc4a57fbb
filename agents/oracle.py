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
# the sandbox paths reference solutions are written against (docker and bwrap serve them)
FIXED_PATHS = {"/data": "data_dir", "/workspace": "workdir"}


def path_mismatch(solution: str, info: dict[str, Any] | None) -> str | None:
    """Why ``solution`` cannot run in the sandbox ``info`` describes (None: it can).

    Reference solutions read ``/data/...`` and write ``/workspace/...``; the local sandbox
    serves them elsewhere (a temp folder: it has no isolation and never writes to the
    host's own ``/data``), so replaying them there would fail on every file.
    """
    for fixed, key in FIXED_PATHS.items():
        served = (info or {}).get(key)
        if served and served != fixed and re.search(rf"""["']{re.escape(fixed)}/""", solution):
            return (f"the reference solution uses {fixed}/..., which this sandbox serves at {served} (the local "
                    f"sandbox has no isolation and never writes to the host's {fixed}): play the oracle with "
                    "the docker or bwrap sandbox")
    return None


class OracleAgent(Agent):
    name = "oracle"

    def start(self, task: Task, prompt: str, info: dict[str, Any] | None = None) -> None:
        self.reset_usage()
        solution = task.solution or _host_solution(task)  # agents get the public task: the oracle looks it up
        if not solution:
            raise ValueError(f"task {task.env_id} has no reference solution")
        if why := path_mismatch(solution, info):
            raise ValueError(f"task {task.env_id}: {why}")
        self.solution = solution
        self.stage = 0

    def act(self, observation: str | None) -> str:
        self.stage += 1
        if self.stage == 1:
            return f"<python>\n{self.solution}\n</python>"
        if self.stage == 2:
            return f"<python>\nprint({BEGIN!r} + str(answer) + {END!r})\n</python>"
        found = REPORT.search(observation or "")
        return f"<answer>{found.group(1).strip() if found else ''}</answer>"


def _host_solution(task: Task) -> str | None:
    """The reference solution of a registered task (a variant's is its original's: same code, other data)."""
    from dsgym import registry

    try:
        return registry.get_task(task.suite, task.id).solution
    except registry.UnknownEnvError:
        return None
