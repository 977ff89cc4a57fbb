"""Scripting the fake OpenAI server to play whole episodes.

    model = ScriptedModel([
        "Let me look.\\n<python>\\nprint(1 + 1)\\n</python>",   # a fixed reply
        lambda convo: f"<answer>{convo.observation.split()[-1]}</answer>",  # reads the last output
    ])
    with FakeOpenAI(replies=model) as fake:
        agent = ReActAgent(model="fake-model", base_url=fake.base_url, cache=False)
        record = play(env, agent)
    assert agent.usage == model.usage()

Each successful chat call takes the next step: a string, or a function of the
``Conversation`` the server received (system prompt, task prompt, the last user
message -- the newest observation -- and the whole message list).  Asking for
more steps than were scripted raises, which the fake turns into an HTTP 500, so
a runaway agent fails instead of looping.  Failed calls (injected with
``fake.fail_next``) never reach the script.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from tests.support.fake_openai import count_tokens, message_text

BEGIN, END = "@@scripted@@", "@@/scripted@@"
MARKED = re.compile(re.escape(BEGIN) + r"(.*?)" + re.escape(END), re.DOTALL)


@dataclass(frozen=True)
class Conversation:
    """One chat request as the scripted model sees it."""

    request: dict[str, Any]

    @property
    def messages(self) -> list[dict[str, Any]]:
        return self.request["messages"]

    @property
    def system(self) -> str:
        return next((message_text(m) for m in self.messages if m["role"] == "system"), "")

    @property
    def task(self) -> str:
        """The first user message: the task prompt (with any context note the agent appended)."""
        return next((message_text(m) for m in self.messages if m["role"] == "user"), "")

    @property
    def observation(self) -> str:
        """The last user message: the newest observation (the task prompt on the first call)."""
        users = [m for m in self.messages if m["role"] in ("user", "tool")]
        return message_text(users[-1]) if users else ""

    def marked(self) -> str | None:
        """The value a ``print_marked`` cell printed, read from the newest observation."""
        found = MARKED.search(self.observation)
        return found.group(1).strip() if found else None


Step = str | Callable[[Conversation], str]


class ScriptedModel:
    """A reply function for ``FakeOpenAI(replies=...)``: plays ``steps`` one per successful call."""

    def __init__(self, steps: Sequence[Step]) -> None:
        self.steps = list(steps)
        self.conversations: list[Conversation] = []
        self.replies: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, request: dict[str, Any]) -> str:
        with self._lock:
            index = len(self.replies)
            if index >= len(self.steps):
                raise RuntimeError(f"the script has {len(self.steps)} steps; call {index + 1} asked for more")
            convo = Conversation(request)
            step = self.steps[index]
            reply = step(convo) if callable(step) else step
            self.conversations.append(convo)
            self.replies.append(reply)
            return reply

    @property
    def calls(self) -> int:
        return len(self.replies)

    def usage(self) -> dict[str, int]:
        """The sum of the ``usage`` fields the fake server sent for the calls this script answered."""
        prompt = sum(count_tokens(message_text(m)) for c in self.conversations for m in c.messages)
        completion = sum(count_tokens(r) for r in self.replies)
        return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


# ----- building blocks -------------------------------------------------------------------------------


def print_marked(expression: str) -> str:
    """Code that prints ``expression`` between markers that ``Conversation.marked`` finds."""
    return f"print({BEGIN!r} + str({expression}) + {END!r})"


def python(code: str, thought: str = "I will compute this in the kernel.") -> str:
    """A react-style reply: a short thought, then one code action."""
    return f"{thought}\n<python>\n{code}\n</python>"


def answer_marked(convo: Conversation) -> str:
    """Answer with the value a ``print_marked`` cell printed (fails loudly if none is visible)."""
    value = convo.marked()
    if value is None:
        raise AssertionError(f"no marked value in the observation: {convo.observation[:500]!r}")
    return f"The output shows the result.\n<answer>{value}</answer>"


def solve_with_reference(solution: str) -> list[Step]:
    """Two steps that solve a task the way its reference solution does: run it, print
    ``answer``, then submit what was printed (the stored answer is never read)."""
    return [python(f"{solution.rstrip()}\n{print_marked('answer')}"), answer_marked]
