"""dsgym for TRL's ``GRPOTrainer``: suites as tool-calling environments with the task's metric as reward.

    from dsgym.rl.trl import DSGymEnvironments, train_dataset

    with DSGymEnvironments("dsgym-tasks-lite", pool_size=16) as environments:
        trainer = GRPOTrainer(model=..., args=GRPOConfig(...),
                              train_dataset=train_dataset("dsgym-tasks-lite"),
                              environment_factory=environments)
        trainer.train()

TRL makes one environment per concurrent rollout and exposes its public methods
``run_python`` and ``submit_answer`` to the model as tools; ``reset`` starts the
row's task in a sandbox from the shared warm pool and returns its prompt, and
``get_reward`` ends the episode, grades it host-side and frees the sandbox at once.

TRL can only run tools for chat templates it can parse tool calls from (Qwen,
Llama, ...).  For any other model, pass ``rollout_func=TextRollout(environments)``
and ``reward_funcs=dsgym_reward`` instead: the model then plays dsgym's text
protocol (``<python>``/``<answer>`` replies).  ``docs/rl.md`` has the reward definition.
"""

from __future__ import annotations

import copy
import importlib.util
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from dsgym.rl.session import SessionError, ToolSession, suite_pool, suite_tasks

_missing = [name for name in ("trl", "datasets", "torch") if importlib.util.find_spec(name) is None]
if _missing:
    raise ImportError(f"dsgym.rl.trl needs {', '.join(_missing)}: pip install 'dsgym[trl]'")

EPISODE_OVER = "[episode over] This episode has ended; no more tool calls are run."
STOP_STRINGS = ("</python>", "</answer>")  # a text-protocol reply ends with its action


class DSGymToolEnv:
    """One rollout's environment; TRL keeps a few and ``reset``s them for each new rollout."""

    def __init__(self, session: ToolSession, record: list[dict[str, Any]]):
        self._session = session
        self._record = record

    def reset(self, task_id: str | None = None, **_: Any) -> str:
        """Start the dataset row's task (its ``task_id`` column) in a fresh sandbox; return its prompt."""
        return self._session.start(task_id)

    def run_python(self, code: str) -> str:
        """Run Python code in the task's persistent Jupyter kernel and return its output.

        Args:
            code: Python source to execute. Variables and imports persist between calls; the data is under /data.

        Returns:
            What the code printed or displayed, the value of its last expression, or its traceback.
        """
        try:
            return self._session.run_python(code)
        except SessionError:
            return EPISODE_OVER

    def submit_answer(self, answer: str) -> str:
        """Submit the final answer to the task. This ends the episode.

        Args:
            answer: The final answer, in the format the task asks for.

        Returns:
            A confirmation that the answer was recorded.
        """
        try:
            return self._session.submit_answer(answer)
        except SessionError:
            return EPISODE_OVER

    def get_reward(self) -> float:
        """End the episode (grading it, freeing its sandbox) and return the task's score minus any penalty."""
        return _finish(self._session, self._record)


def _finish(session: ToolSession, record: list[dict[str, Any]]) -> float:
    """End ``session``'s episode, note it in ``record`` and return its reward."""
    session.end()
    info = session.last_info
    record.append({"task_id": session.task_id, "answer": info.get("answer"), "score": session.score,
                   "reward": session.reward, "turns": info.get("turn"), "termination": info.get("termination"),
                   "excluded": session.excluded})
    return session.reward


class DSGymEnvironments:
    """``environment_factory`` for one suite (or task): every environment shares one warm sandbox pool.

    ``pool_size`` should match the rollouts generated at once (``num_generations`` x
    prompts per step).  ``episodes`` lists every graded rollout (task, score, reward).
    Close it (or use it as a context manager) when training ends: that removes the
    pool's containers and any still held by an unfinished rollout.
    """

    def __init__(self, env_id: str, *, pool_size: int = 8, format_penalty: float = 0.0, **env_options: Any):
        self.env_id = env_id
        self.format_penalty = format_penalty
        self.env_options = env_options
        self.pool = suite_pool(env_id, pool_size, env_options)  # an unknown suite or task fails here
        self.episodes: list[dict[str, Any]] = []
        self._sessions: list[ToolSession] = []

    def __call__(self) -> DSGymToolEnv:
        return DSGymToolEnv(self.session(), self.episodes)

    def session(self, interface: str = "tools") -> ToolSession:
        """A new session on the shared pool, closed with the factory."""
        session = ToolSession(self.env_id, pool=self.pool, format_penalty=self.format_penalty,
                              interface=interface, **self.env_options)
        self._sessions.append(session)
        return session

    def held_sandboxes(self) -> int:
        """Sandboxes still held by a session: 0 between steps, since every graded episode frees its own."""
        return sum(session.env.sandbox is not None for session in self._sessions)

    def close(self) -> None:
        for session in self._sessions:
            session.close()
        self.pool.close()

    def __enter__(self) -> DSGymEnvironments:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def train_dataset(env_id: str, *, task_ids: list[str] | None = None, repeat: int = 1,
                  system_prompt: str | None = None) -> Any:
    """A ``datasets.Dataset`` with one row per task (``repeat`` times): ``prompt`` and ``task_id``.

    The prompt holds only the optional system message and an empty user turn:
    the task statement, which names the sandbox's files, is appended when the
    episode starts.  The user turn also carries the ``task_id`` because TRL passes
    a ``rollout_func`` the prompts only; chat templates ignore the extra key.
    """
    from datasets import Dataset

    _, ids = suite_tasks(env_id, task_ids)
    prefix = [{"role": "system", "content": system_prompt, "task_id": None}] if system_prompt else []
    rows = [{"prompt": [*prefix, {"role": "user", "content": "", "task_id": task_id}], "task_id": task_id}
            for _ in range(repeat) for task_id in ids]
    return Dataset.from_list(rows)


def tools_parsable(processing_class: Any) -> bool:
    """Whether TRL can run tools for this tokenizer: it renders tool calls and TRL can parse them from replies."""
    from trl.chat_template_utils import add_response_schema, supports_tool_calling

    tokenizer = getattr(processing_class, "tokenizer", processing_class)
    if not supports_tool_calling(processing_class):
        return False
    if getattr(tokenizer, "response_template", None) is None and getattr(tokenizer, "response_schema", None) is None:
        try:
            add_response_schema(processing_class)  # what GRPOTrainer does too; sets the parser on success
        except ValueError:  # a template TRL does not know
            return False
    return True


def trainer_kwargs(environments: DSGymEnvironments, processing_class: Any, *, interface: str | None = None,
                   max_turns: int = 8, turn_tokens: int = 512) -> dict[str, Any]:
    """``GRPOTrainer`` keyword arguments that give it ``environments``' episodes and rewards.

    ``interface="tools"``: ``environment_factory`` (the model calls tools; TRL must parse
    them); ``"text"``: :class:`TextRollout` with :func:`dsgym_reward`; ``None``: tools
    when :func:`tools_parsable` says TRL can, else text.  ``max_turns`` and
    ``turn_tokens`` bound the text rollout (with tools, GRPOConfig's
    ``max_tool_calling_iterations`` and the env's ``max_turns`` do).
    """
    if interface is None:
        interface = "tools" if tools_parsable(processing_class) else "text"
    if interface == "tools":
        return {"environment_factory": environments}
    if interface == "text":
        return {"rollout_func": TextRollout(environments, max_turns=max_turns, turn_tokens=turn_tokens),
                "reward_funcs": [dsgym_reward]}
    raise ValueError(f"interface must be 'tools', 'text' or None, not {interface!r}")


def dsgym_reward(completions: list, dsgym_reward: list[float], **_: Any) -> list[float]:
    """Reward function for :class:`TextRollout`: the graded episode's reward it passed along."""
    return [float(reward) for reward in dsgym_reward]


class TextRollout:
    """``rollout_func`` for models whose chat template TRL cannot parse tool calls from: dsgym's text protocol.

    Each prompt's episode starts the task named on its user turn (see
    :func:`train_dataset`).  Then, turn by turn and batched over the live
    episodes, the trainer's own model writes a reply (stopped at ``</python>``,
    ``</answer>`` or end of turn), the sandbox plays it and the observation comes
    back as a user turn, until the episode ends, ``max_turns`` replies were
    written or ``max_completion_length`` tokens are spent.  The completion is
    the whole exchange as token ids, generated tokens exactly as sampled;
    ``env_mask`` zeroes the tokens the model did not write, so only its own are
    trained.  Each episode is graded and its sandbox freed before returning, and
    its reward goes to :func:`dsgym_reward` as the ``dsgym_reward`` field.

    Generation uses the trainer's transformers model (as GRPO does without vLLM);
    with ``use_vllm`` it refuses, since TRL's vLLM helpers cannot stop a reply at
    an action tag per turn.  Sampling log-probs are not returned (TRL's own
    transformers path does not have them either).
    """

    def __init__(self, environments: DSGymEnvironments, *, max_turns: int = 8, turn_tokens: int = 512):
        self.environments = environments
        self.max_turns = max_turns
        self.turn_tokens = turn_tokens
        self._idle: list[ToolSession] = []

    def __call__(self, prompts: list[list[dict[str, Any]]], trainer: Any) -> dict[str, Any]:
        if getattr(trainer, "use_vllm", False):
            raise ValueError("TextRollout generates with the trainer's transformers model; set use_vllm=False, "
                             "or use environment_factory with a tool-calling chat template for vLLM")
        tokenizer = getattr(trainer.processing_class, "tokenizer", trainer.processing_class)
        chat = _ChatFormat(tokenizer, {"chat_template": getattr(trainer, "chat_template", None),
                                       **trainer.chat_template_kwargs}, set(trainer.eos_token_ids))
        limit = trainer.max_completion_length
        sessions = self._take(len(prompts))
        try:
            with ThreadPoolExecutor(max_workers=len(prompts)) as threads:
                prompt_ids = [chat.render(messages, add_generation_prompt=True)
                              for messages in threads.map(_start, sessions, prompts)]
                episodes = [_Episode(session, ids) for session, ids in zip(sessions, prompt_ids)]
                for turn in range(1, self.max_turns + 1):
                    live = [e for e in episodes if e.open and not e.session.done and e.room(limit) > 0]
                    if not live:
                        break
                    replies = self._generate(trainer, tokenizer, chat, live)
                    observations = list(threads.map(lambda e, r: e.session.act_text(r), live, replies))
                    for episode, observation in zip(live, observations):
                        ids = chat.observation_ids(observation)
                        # a cut observation, or one after the last reply, would be trained around but never answered
                        episode.open = turn < self.max_turns and len(ids) < episode.room(limit)
                        if episode.open and not episode.session.done:
                            episode.add(ids, model=False, limit=limit)
                rewards = list(threads.map(lambda e: _finish(e.session, self.environments.episodes), episodes))
        finally:
            self._idle.extend(sessions)  # the next start() frees a sandbox an interrupted rollout still holds
        return {"prompt_ids": prompt_ids, "completion_ids": [e.completion for e in episodes], "logprobs": None,
                "env_mask": [e.mask for e in episodes], "dsgym_reward": rewards}

    def _take(self, count: int) -> list[ToolSession]:
        while len(self._idle) < count:
            self._idle.append(self.environments.session(interface="text"))
        taken, self._idle = self._idle[:count], self._idle[count:]
        return taken

    def _generate(self, trainer: Any, tokenizer: Any, chat: _ChatFormat, live: list[_Episode]) -> list[str]:
        """One reply per live episode, appended to its completion; returns the replies' text."""
        import torch
        from trl.models import unwrap_model_for_generation

        rows = [e.prompt + e.completion for e in live]
        width = max(map(len, rows))
        pad = tokenizer.pad_token_id
        input_ids = torch.tensor([[pad] * (width - len(r)) + r for r in rows], device=trainer.accelerator.device)
        attention = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows], device=input_ids.device)
        config = copy.deepcopy(trainer.generation_config)
        config.max_new_tokens = min(self.turn_tokens, max(e.room(trainer.max_completion_length) for e in live))
        config.stop_strings = list(STOP_STRINGS)
        with unwrap_model_for_generation(trainer.model_wrapped, trainer.accelerator,
                                         generation_kwargs=trainer.generation_kwargs) as model, torch.no_grad():
            output = model.generate(input_ids=input_ids, attention_mask=attention, generation_config=config,
                                    tokenizer=tokenizer)
        replies = []
        for episode, generated in zip(live, output[:, width:].tolist()):
            kept = generated[:_reply_length(tokenizer, generated, chat.eos_ids)]
            episode.add(kept, model=True, limit=trainer.max_completion_length)
            replies.append(tokenizer.decode(kept, skip_special_tokens=True))
            if kept and kept[-1] not in chat.eos_ids:  # stopped at an action tag or the turn's length: close it
                episode.add([chat.end_of_turn], model=False, limit=trainer.max_completion_length)
        return replies


class _Episode:
    """One rollout's token ids so far and which of them the model wrote."""

    def __init__(self, session: ToolSession, prompt: list[int]):
        self.session, self.prompt = session, prompt
        self.completion: list[int] = []
        self.mask: list[int] = []
        self.open = True  # False once no further reply can follow

    def room(self, limit: int) -> int:
        return limit - len(self.completion)

    def add(self, ids: list[int], *, model: bool, limit: int) -> None:
        ids = ids[:self.room(limit)]
        self.completion += ids
        self.mask += [int(model)] * len(ids)


def _start(session: ToolSession, prompt: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Start the task named on the prompt's last turn; return the chat with the task statement appended."""
    task_id = prompt[-1].get("task_id")
    if not task_id:
        raise ValueError("TextRollout needs the task on the prompt's last turn: build the dataset with train_dataset()")
    statement = session.start(task_id)
    chat = [{"role": m["role"], "content": m["content"]} for m in prompt]
    chat[-1]["content"] += statement
    return chat


class _ChatFormat:
    """How the chat template frames turns, in token ids, so a rollout can extend its ids without re-rendering."""

    def __init__(self, tokenizer: Any, template: dict[str, Any], eos_ids: set[int]):
        self.tokenizer, self.template, self.eos_ids = tokenizer, template, eos_ids
        self._probe = [{"role": "user", "content": "task"}, {"role": "assistant", "content": "reply"}]
        rendered = self.render(self._probe)
        ends = [i for i, token in enumerate(rendered) if token in eos_ids]
        if not ends:
            raise ValueError("the chat template closes an assistant turn with none of the end-of-turn tokens "
                             f"{sorted(eos_ids)}; TextRollout cannot tell where a reply ends")
        self._closed = rendered[:ends[-1] + 1]  # the probe chat up to its assistant turn's end
        self.end_of_turn = rendered[ends[-1]]

    def render(self, messages: list[dict[str, Any]], **options: Any) -> list[int]:
        return list(self.tokenizer.apply_chat_template(messages, tokenize=True, return_dict=False,
                                                       **self.template, **options))

    def observation_ids(self, observation: str) -> list[int]:
        """Ids after a closed assistant turn: the observation as a user turn, then the next assistant header."""
        extended = self.render([*self._probe, {"role": "user", "content": observation}], add_generation_prompt=True)
        if extended[:len(self._closed)] != self._closed:
            raise ValueError("this chat template does not extend a chat by appending to it; TextRollout needs it to")
        return extended[len(self._closed):]


def _reply_length(tokenizer: Any, generated: list[int], eos_ids: set[int]) -> int:
    """Tokens of the reply: up to the first end-of-turn token, or the first action tag's end if earlier."""
    end = next((n for n, token in enumerate(generated, 1) if token in eos_ids), len(generated))
    if not any(tag in tokenizer.decode(generated[:end]) for tag in STOP_STRINGS):
        return end
    low, high = 1, end  # the shortest prefix whose text holds a closing tag
    while low < high:
        middle = (low + high) // 2
        if any(tag in tokenizer.decode(generated[:middle]) for tag in STOP_STRINGS):
            high = middle
        else:
            low = middle + 1
    return low
