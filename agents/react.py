"""LLM scaffolds over any OpenAI-compatible chat endpoint: ``react`` and ``codeact``.

    agent = ReActAgent(model="qwen2.5-coder-32b", base_url="http://localhost:8000/v1")
    record = dsgym.episode.play(env, agent)

Both keep one conversation per episode -- system prompt, task prompt, then the
model's replies (assistant turns) and the env's observations (user turns) -- and
ask the model for the next reply through ``dsgym.llm.LLMClient`` (retries,
disk cache, usage from the API).  ``react`` asks for a short thought and then one
action; ``codeact`` asks for code first and also accepts a bare fenced Python
block as code.

Configuration (constructor keyword, else environment variable, else default):

=====================  ==============================================  ===========================
keyword                environment                                     default
=====================  ==============================================  ===========================
model                  DSGYM_MODEL                                     (required)
base_url               DSGYM_BASE_URL, OPENAI_BASE_URL                 OpenAI's API
api_key                DSGYM_API_KEY, OPENAI_API_KEY                   placeholder (local servers)
temperature            DSGYM_TEMPERATURE                               0.0
max_tokens             DSGYM_MAX_TOKENS                                None (the server's default)
max_context_tokens     DSGYM_MAX_CONTEXT_TOKENS                        32768
cache                  DSGYM_LLM_CACHE (0/false/off disables)          on
sample_index           --                                              see *Caching* below
=====================  ==============================================  ===========================

Other keywords: ``cache_dir``, ``seed`` (sent to the API as ``seed + sample_index``),
``max_observation_chars`` (8000), ``timeout`` (seconds per request, 120),
``max_retries`` (4), ``backoff`` (1.0 s, doubling), ``params`` (extra request
parameters such as ``{"top_p": 0.95}``), ``system_prompt`` (replaces the
built-in one), ``accept_fenced`` (bare fenced code counts as code; codeact: on),
``client`` (a ready ``LLMClient`` to share).

Context budget.  Every request is kept within ``max_context_tokens - max_tokens``
prompt tokens, estimated as characters / 4 plus a few tokens per message and
corrected upward when the API reports more prompt tokens than the estimate for
the previous request.  The system prompt and the task prompt are always kept.
When the conversation does not fit, the oldest turns (a reply and the
observation it produced) go first; a visible ``[context note]`` appended to the
task prompt says how many went and lists the code they ran, abbreviated.  Every
observation is stored cut to ``max_observation_chars`` (head and tail kept), and
if the newest turn alone is still too large, its observation is cut further.

Caching.  Replies are cached on disk only where asked: an agent built by
``dsgym eval`` caches in its run folder's ``llm-cache/`` (or in the cache shared
across runs on purpose with ``--llm-cache DIR``); a bare agent caches in
``cache_dir`` or ``$DSGYM_LLM_CACHE_DIR`` if given, else nowhere.  The cache keys
each request by endpoint, model, messages, sampling parameters and the episode's
*sample index*.  The index makes k samples
of one task distinct (sample i never reuses sample j's replies, even at
temperature 0), while re-running or resuming sample i replays it from the cache
(exactly, as long as the code produces the same observations).  Set it with the
``sample_index`` keyword or attribute (``dsgym.runner`` sets
``agent.sample_index = job.sample`` before each episode), or
``start(task, prompt, info, sample_index=i)``; when it is not set, the n-th episode of
a task played by this agent instance is sample n (0, 1, ...), so runners that
build one agent per episode must set it.  With ``seed`` the API also gets
``seed + sample_index``, for servers that honour it.  ``cache=False`` turns the
cache off.  Replies served from the cache cost nothing and are not added to
``usage`` (``stats.cache_hits`` counts them; ``last_reply.cached`` marks each).
The host path of saved figures is dropped from observations before the model
sees them: the model cannot open it, and its random episode id would make every
re-run miss the cache.

What the model sees besides the env's text: each observation is headed
``Result of turn i of N:``, and short ``[note]`` lines say when a reply held
several actions (only the first ran), was cut at the token limit, put code in a
bare fence (react), or when few turns are left.  N is ``max_turns`` from
``reset``'s info (``start(task, prompt, info)``, ``info["limits"]``); an agent
started without info knows no turn limit (the header is ``Result of turn i:``).  A reply without an action is
passed to the env as it is, so the env's format help answers it.

Transcripts.  After each ``act``, ``last_reply`` holds the model's whole reply
(reasoning and action), its finish reason, its usage and whether it came from
the cache; the episode record keeps it per turn.  ``chat_from_record`` rebuilds
the exact chat the model saw from such a record, for SFT export.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from dsgym.actions import TAG, truncate
from dsgym.agents import prompts
from dsgym.agents.base import Agent, ModelReply, episode_limits
from dsgym.task import Task

if TYPE_CHECKING:  # dsgym.llm imports openai: loaded when an agent is built, not with dsgym.agents
    from dsgym.llm import Completion, LLMClient

DEFAULT_CONTEXT_TOKENS = 32768
DEFAULT_OBSERVATION_CHARS = 8000
MIN_PROMPT_TOKENS = 256  # the prompt budget never shrinks below this, whatever max_tokens says
CHARS_PER_TOKEN = 4
TOKENS_PER_MESSAGE = 4
TOKENS_PER_REQUEST = 3
SUMMARY_LINE_CHARS = 120
SUMMARY_SHARE = 0.15  # of the prompt budget, at most, for the list of dropped turns' code

# ----- reading an action out of a reply ------------------------------------------------------------

THINK = re.compile(r"<(think|thinking|reasoning)>.*?</\1>", re.DOTALL | re.IGNORECASE)
OPEN_TAG = re.compile(r"<(python|answer)>", re.IGNORECASE)
OPEN_THINK = re.compile(r"<(think|thinking|reasoning)>", re.IGNORECASE)
FENCED = re.compile(r"```[ \t]*([A-Za-z0-9_+.-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)
PYTHON_FENCES = {"", "python", "python3", "py", "ipython", "ipython3", "jupyter"}
FINAL_ANSWER = re.compile(r"^[ \t>#*_-]*final[ \t]+answer[ \t*_]*[:\uff1a][ \t*_]*(.*)$", re.IGNORECASE | re.MULTILINE)
NEXT_LINE = re.compile(r"\s*(\S[^\n]*)")
BOXED = re.compile(r"^\\boxed\{(.*)\}$", re.DOTALL)


@dataclass(frozen=True)
class Extracted:
    """What the agent read in one reply.

    ``action`` is what goes to the env: one canonical action, or (``kind == "none"``)
    the reply's text itself so the env answers with its format help.  ``end`` is where
    the action ends in ``text`` (the reply with reasoning blocks removed): the history
    keeps the reply up to there, as if the model had stopped after its action.
    """

    kind: Literal["code", "answer", "none"]
    action: str
    text: str
    end: int
    how: Literal["tag", "unclosed", "fence", "marker", "none"]
    extra: bool = False


def strip_reasoning(text: str) -> str:
    """Drop ``<think>...</think>`` blocks (and one never closed, to the end): actions written
    while thinking do not count."""
    text = THINK.sub("", text or "")
    unclosed = OPEN_THINK.search(text)
    return (text[:unclosed.start()] if unclosed else text).strip()


def extract_action(reply: str, *, accept_fenced: bool = False, accept_marker: bool = True) -> Extracted:
    """Read exactly one action from a model reply.

    In order: the first complete ``<python>``/``<answer>`` tag (as the env would read it);
    an opened tag never closed (a reply cut at a stop sequence or the token limit: the
    rest of the reply is the content); then, when there are no tags, the earliest of a
    fenced Python block (``accept_fenced``) and a ``Final Answer: ...`` line
    (``accept_marker``).  Otherwise ``kind == "none"`` and the text passes through.
    """
    text = strip_reasoning(reply)
    match = TAG.search(text)
    if match is not None:
        kind = "answer" if match.group(1).lower() == "answer" else "code"
        return Extracted(kind, match.group(0), text, match.end(), "tag",
                         extra=TAG.search(text, match.end()) is not None)
    opened = OPEN_TAG.search(text)
    if opened is not None:
        body = text[opened.end():]
        body = re.sub(r"\s*```\s*$", "", body).strip("\n")  # a fence left open inside the tag
        if not body.strip():
            pass  # cut right after the tag: nothing to run or submit
        elif opened.group(1).lower() == "answer":
            return Extracted("answer", f"<answer>{body.strip()}</answer>", text, len(text), "unclosed")
        else:
            return Extracted("code", f"<python>\n{body}\n</python>", text, len(text), "unclosed")
    found: list[Extracted] = []
    if accept_fenced:
        for fence in FENCED.finditer(text):
            if fence.group(1).lower() in PYTHON_FENCES and fence.group(2).strip():
                code = fence.group(2).strip("\n")
                more = any(f.group(1).lower() in PYTHON_FENCES and f.group(2).strip()
                           for f in FENCED.finditer(text, fence.end()))
                found.append(Extracted("code", f"<python>\n{code}\n</python>", text, fence.end(), "fence",
                                       extra=more))
                break
    if accept_marker:
        fences = [f.span() for f in FENCED.finditer(text)]  # "# final answer: ..." in code is a comment
        marker = next((m for m in FINAL_ANSWER.finditer(text)
                       if not any(a <= m.start() < b for a, b in fences)), None)
        if marker is not None:
            value, end = marker.group(1), marker.end()
            if not value.strip():  # "Final answer:" alone on its line: the next non-empty line
                following = NEXT_LINE.match(text, end)
                value, end = (following.group(1), following.end()) if following else ("", end)
            value = clean_answer(value)
            if value:
                found.append(Extracted("answer", f"<answer>{value}</answer>", text, end, "marker"))
    if found:
        first = min(found, key=lambda e: e.end)
        return first
    return Extracted("none", text, text, len(text), "none")


def clean_answer(value: str) -> str:
    value = value.strip().strip("*`_").strip()
    boxed = BOXED.match(value)
    if boxed:
        value = boxed.group(1).strip()
    return value


def has_bare_fence(text: str) -> bool:
    return any(f.group(1).lower() in PYTHON_FENCES and f.group(2).strip() for f in FENCED.finditer(text))


# ----- the token estimate --------------------------------------------------------------------------


def estimate_tokens(messages: list[dict[str, Any]], scale: float = 1.0) -> int:
    """A cheap prompt-token estimate: characters / 4 per message plus framing, times ``scale``."""
    chars = sum(len(str(m.get("content") or "")) for m in messages)
    raw = chars / CHARS_PER_TOKEN + TOKENS_PER_MESSAGE * len(messages) + TOKENS_PER_REQUEST
    return math.ceil(raw * scale)


# ----- the agent -----------------------------------------------------------------------------------


@dataclass
class _Turn:
    """One finished turn as the model sees it: its reply (cut after the action) and the observation."""

    reply: str
    kind: str
    code: str
    observation: str = ""


@dataclass
class _EpisodeStats:
    requests: int = 0
    cache_hits: int = 0
    retries: int = 0
    dropped_turns: int = 0
    notes: list[str] = field(default_factory=list)


def _env(name: str) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else None


def _number(value: Any, name: str, kind: type) -> Any:
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be {'an integer' if kind is int else 'a number'}, got {value!r}") from None


def _flag(value: str) -> bool:
    return value.strip().lower() not in ("0", "false", "no", "off", "")


class ReActAgent(Agent):
    """Brief reasoning, then exactly one action per reply (see the module docstring)."""

    name = "react"
    system_template = prompts.REACT
    default_accept_fenced = False

    def __init__(self, model: str | None = None, base_url: str | None = None, api_key: str | None = None, *,
                 temperature: float | None = None, max_tokens: int | None = None,
                 max_context_tokens: int | None = None, max_observation_chars: int = DEFAULT_OBSERVATION_CHARS,
                 cache: bool | None = None, cache_dir: str | os.PathLike[str] | None = None,
                 sample_index: int | None = None, seed: int | None = None, timeout: float = 120.0,
                 max_retries: int = 4, backoff: float = 1.0, params: Mapping[str, Any] | None = None,
                 system_prompt: str | None = None, accept_fenced: bool | None = None,
                 client: LLMClient | None = None) -> None:
        super().__init__()
        if client is not None:
            model = model or client.model
        model = model or _env("DSGYM_MODEL")
        if not model:
            raise ValueError(f"the {self.name} agent needs a model: pass model=... (dsgym --model) "
                             "or set DSGYM_MODEL (and OPENAI_BASE_URL / DSGYM_BASE_URL for the endpoint)")
        if temperature is None:
            temperature = _number(_env("DSGYM_TEMPERATURE") or 0.0, "DSGYM_TEMPERATURE", float)
        if max_tokens is None and _env("DSGYM_MAX_TOKENS"):
            max_tokens = _number(_env("DSGYM_MAX_TOKENS"), "DSGYM_MAX_TOKENS", int)
        if max_context_tokens is None:
            max_context_tokens = _number(_env("DSGYM_MAX_CONTEXT_TOKENS") or DEFAULT_CONTEXT_TOKENS,
                                         "DSGYM_MAX_CONTEXT_TOKENS", int)
        if cache is None:
            cache = _flag(_env("DSGYM_LLM_CACHE") or "1")
        if max_context_tokens <= 0 or max_observation_chars <= 0 or (max_tokens is not None and max_tokens <= 0):
            raise ValueError("max_context_tokens, max_observation_chars and max_tokens must be positive")
        self.model = model
        self.temperature = float(temperature)
        self.max_tokens = max_tokens
        self.max_context_tokens = int(max_context_tokens)
        self.max_observation_chars = int(max_observation_chars)
        self.cache = bool(cache)
        self.sample_index = sample_index
        self.seed = seed
        self.params = dict(params or {})
        self.system_prompt = system_prompt if system_prompt is not None else self.system_template
        self.accept_fenced = self.default_accept_fenced if accept_fenced is None else accept_fenced
        if client is None:
            from dsgym.llm import LLMClient
        self.client = client or LLMClient(
            model, base_url or _env("DSGYM_BASE_URL"), api_key or _env("DSGYM_API_KEY"),
            temperature=self.temperature, max_tokens=max_tokens, cache_dir=cache_dir, cache=self.cache,
            max_retries=max_retries, backoff=backoff, timeout=timeout)
        self._episodes: dict[str, int] = {}  # task env id -> episodes started (the default sample index)
        self._task: Task | None = None
        self._prompt = ""
        self._turns: list[_Turn] = []
        self._pending_notes: list[str] = []
        self._max_turns: int | None = None
        self._scale = 1.0
        self._episode_sample: int = 0
        self.stats = _EpisodeStats()
        self.last_request: list[dict[str, Any]] = []

    # ----- the Agent contract ------------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        return {"agent": self.name, "model": self.model, "base_url": self.client.base_url,
                "temperature": self.temperature, "max_tokens": self.max_tokens,
                "max_context_tokens": self.max_context_tokens, "max_observation_chars": self.max_observation_chars,
                "cache": self.cache, "sample_index": self.sample_index, "seed": self.seed,
                "params": dict(self.params), "accept_fenced": self.accept_fenced,
                "system_prompt_sha256": hashlib.sha256(self.system_prompt.encode()).hexdigest()[:16]}

    def start(self, task: Task, prompt: str, info: dict[str, Any] | None = None, *,
              sample_index: int | None = None) -> None:
        """A new episode; the turn limit comes from ``info["limits"]`` (none without info)."""
        self.reset_usage()
        if sample_index is not None:
            self.sample_index = sample_index
        played = self._episodes.get(task.env_id, 0)
        self._episodes[task.env_id] = played + 1
        self._episode_sample = self.sample_index if self.sample_index is not None else played
        self._task = task
        self._prompt = prompt
        self._turns = []
        self._pending_notes = []
        max_turns = episode_limits(info).get("max_turns")
        self._max_turns = int(max_turns) if max_turns else None
        self.stats = _EpisodeStats()
        self.last_request = []
        self.last_reply = None

    def act(self, observation: str | None) -> str:
        if self._task is None:
            raise RuntimeError(f"{type(self).__name__}.act() before start()")
        if observation is not None and self._turns:
            self._turns[-1].observation = self._observation_text(len(self._turns), observation)
        messages = self.messages()
        completion = self._ask(messages)
        self.last_reply = ModelReply(completion.text, completion.finish_reason, completion.usage.to_dict(),
                                     completion.cached)
        return self._take(completion)

    def chat_from_record(self, task: Task, record: dict[str, Any]) -> list[dict[str, Any]]:
        """The chat of a recorded episode as this agent showed it to the model, untrimmed (see the module doc).

        Each turn's reply is read again as ``act`` read it (cut after its action, notes
        for what went wrong), each observation headed and cut as the model saw it; the
        turn limit in the headers comes from the record's ``limits`` (reset's
        ``info["limits"]``).  The record must come from an agent configured like this one
        (same system prompt).
        """
        from dsgym.llm import Completion, Usage

        recorded = (record.get("agent_config") or {}).get("system_prompt_sha256")
        mine = hashlib.sha256(self.system_prompt.encode()).hexdigest()[:16]
        if recorded and recorded != mine:
            raise ValueError(f"episode {record.get('task_id')}#{record.get('sample')} was played with another "
                             "system prompt than this agent's")
        turns = record.get("turns") or []
        if any(turn.get("reply") is None for turn in turns):
            raise ValueError(f"episode {record.get('task_id')}#{record.get('sample')} holds no model replies "
                             "(recorded by an older dsgym, or by an agent without a model)")
        limits = record.get("limits")
        self.start(task, str(record.get("prompt") or ""), {"limits": limits} if limits else None,
                   sample_index=int(record.get("sample", 0)))
        for number, turn in enumerate(turns, 1):
            text = str(turn["reply"])
            self._take(Completion(text=text, texts=(text,), usage=Usage(), cached=True, model=self.model,
                                  finish_reason=turn.get("finish_reason")))
            if number < len(turns):  # the last observation ended the episode: the model never saw it
                self._turns[-1].observation = self._observation_text(number, str(turn.get("observation") or ""))
        return self._chat()

    def _chat(self) -> list[dict[str, Any]]:
        """System prompt, task prompt, every reply and observation so far, untrimmed."""
        messages = [{"role": "system", "content": self.system_prompt}, {"role": "user", "content": self._prompt}]
        for turn in self._turns:
            messages.append({"role": "assistant", "content": turn.reply})
            if turn.observation:
                messages.append({"role": "user", "content": turn.observation})
        return messages

    # ----- the conversation --------------------------------------------------------------------
    @property
    def prompt_budget(self) -> int:
        """Prompt tokens a request may hold: the context budget less the reply's ``max_tokens``."""
        return max(MIN_PROMPT_TOKENS, self.max_context_tokens - (self.max_tokens or 0))

    def messages(self) -> list[dict[str, Any]]:
        """The request for the next reply, trimmed to ``prompt_budget`` (see the module docstring)."""
        budget = self.prompt_budget
        system = {"role": "system", "content": self.system_prompt}
        kept = list(self._turns)
        dropped = 0
        while True:
            task = {"role": "user", "content": self._task_text(self._turns[:dropped], budget)}
            messages = [system, task] + self._turn_messages(kept)
            if estimate_tokens(messages, self._scale) <= budget or len(kept) <= 1:
                break
            kept.pop(0)
            dropped += 1
        self.stats.dropped_turns = dropped
        if estimate_tokens(messages, self._scale) > budget:
            messages = self._shrink(messages, budget)
        return messages

    def _turn_messages(self, turns: list[_Turn]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for turn in turns:
            out.append({"role": "assistant", "content": turn.reply})
            out.append({"role": "user", "content": turn.observation})
        return out

    def _task_text(self, dropped: list[_Turn], budget: int) -> str:
        if not dropped:
            return self._prompt
        note = prompts.NOTE_DROPPED.format(count=len(dropped), first=1, last=len(dropped))
        lines = []
        for number, turn in enumerate(dropped, 1):
            if turn.kind == "code":
                flat = "; ".join(line.strip() for line in turn.code.splitlines() if line.strip())
                lines.append(f"- turn {number}: {flat[:SUMMARY_LINE_CHARS]}"
                             + ("..." if len(flat) > SUMMARY_LINE_CHARS else ""))
            else:
                lines.append(f"- turn {number}: (no code)")
        room = int(budget * SUMMARY_SHARE * CHARS_PER_TOKEN / self._scale)
        summary = "\n".join([prompts.NOTE_DROPPED_CODE, *lines])
        if len(summary) > room:  # keep the newest lines that fit
            while lines and len("\n".join([prompts.NOTE_DROPPED_CODE, "- ...", *lines])) > room:
                lines.pop(0)
            summary = "\n".join([prompts.NOTE_DROPPED_CODE, "- ...", *lines]) if lines else ""
        return f"{self._prompt}\n\n{note}" + (f"\n{summary}" if summary else "")

    def _shrink(self, messages: list[dict[str, Any]], budget: int) -> list[dict[str, Any]]:
        """Cut the largest non-system messages (newest observation first) until the estimate fits."""
        messages = [dict(m) for m in messages]
        for _ in range(8):
            over = estimate_tokens(messages, self._scale) - budget
            if over <= 0:
                break
            # the turns first; the task prompt only when nothing else is left to cut
            candidates = [i for i in range(2, len(messages)) if len(messages[i]["content"]) > 200] or \
                [i for i in (1,) if len(messages[1]["content"]) > 200]
            if not candidates:
                break
            index = max(candidates, key=lambda i: (len(messages[i]["content"]), i))
            content = messages[index]["content"]
            cut_chars = math.ceil(over / self._scale * CHARS_PER_TOKEN) + 120  # and room for the marker
            messages[index]["content"] = truncate(content, max(200, len(content) - cut_chars))
        return messages

    def _observation_text(self, turn: int, observation: str) -> str:
        of = ""
        if self._max_turns:
            left = self._max_turns - turn
            of = f" of {self._max_turns}"
            if left == 1:
                self._pending_notes.append(prompts.NOTE_LAST_TURN)
            elif 1 < left <= 3:
                self._pending_notes.append(prompts.NOTE_TURNS_LEFT.format(left=left))
        body = truncate(_stable(observation), self.max_observation_chars)
        parts = [prompts.OBSERVATION_HEADER.format(turn=turn, of=of), body, *self._pending_notes]
        self._pending_notes = []
        return "\n".join(parts)

    # ----- one request -------------------------------------------------------------------------
    def _ask(self, messages: list[dict[str, Any]]) -> Completion:
        overrides: dict[str, Any] = dict(self.params)
        if self.seed is not None:
            overrides["seed"] = self.seed + self._episode_sample
        self.last_request = messages
        completion = self.client.chat(messages, sample_index=self._episode_sample, **overrides)
        self.stats.requests += 1
        if completion.cached:
            self.stats.cache_hits += 1
        else:
            self.usage["prompt_tokens"] += completion.usage.prompt_tokens
            self.usage["completion_tokens"] += completion.usage.completion_tokens
            self.usage["total_tokens"] += completion.usage.total_tokens
            self.stats.retries += max(0, completion.attempts - 1)
        estimate = estimate_tokens(messages)
        if completion.usage.prompt_tokens > 0 and estimate > 0:
            self._scale = max(1.0, completion.usage.prompt_tokens / estimate)
        return completion

    def _take(self, completion: Completion) -> str:
        found = extract_action(completion.text, accept_fenced=self.accept_fenced)
        notes = []
        if found.extra:
            notes.append(prompts.NOTE_EXTRA_ACTIONS)
        if completion.finish_reason == "length":
            notes.append(prompts.NOTE_CUT_OFF)
        if found.kind == "none" and not self.accept_fenced and has_bare_fence(found.text):
            notes.append(prompts.NOTE_BARE_FENCE)
        self._pending_notes = notes
        self.stats.notes.extend(notes)
        reply = found.text[:found.end].rstrip() or prompts.EMPTY_REPLY
        code = ""
        if found.kind == "code":
            body = TAG.search(found.action)
            code = body.group(2).strip("\n") if body else ""
        self._turns.append(_Turn(truncate(reply, self.max_observation_chars), found.kind, code))
        return found.action


class CodeActAgent(ReActAgent):
    """Code first: every reply is a code block (tags or a fenced block), or the final ``<answer>``."""

    name = "codeact"
    system_template = prompts.CODEACT
    default_accept_fenced = True


FIGURE_PATH = re.compile(r"(\[figure: [^\]]*?PNG) saved as [^\]]+\]")


def _stable(observation: str) -> str:
    """Drop the host path of saved figures: the model cannot open it, and it changes every episode
    (it holds a random episode id), which would defeat the cache on a re-run."""
    return FIGURE_PATH.sub(r"\1]", observation or "")


__all__ = ["CodeActAgent", "Extracted", "ReActAgent", "estimate_tokens", "extract_action", "strip_reasoning"]
