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
``docs/rl.md`` has the reward definition and when to use something else.
"""

from __future__ import annotations

from typing import Any

from dsgym.registry import get_suite, resolve
from dsgym.rl.session import SessionError, ToolSession, suite_pool

EPISODE_OVER = "[episode over] This episode has ended; no more tool calls are run."


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
        self._session.end()
        reward = self._session.reward
        info = self._session.last_info
        self._record.append({"task_id": self._session.task_id, "answer": info.get("answer"),
                             "score": self._session.score, "reward": reward, "turns": info.get("turn"),
                             "termination": info.get("termination")})
        return reward


class DSGymEnvironments:
    """``environment_factory`` for one suite (or task): every environment shares one warm sandbox pool.

    ``pool_size`` should match the rollouts generated at once (``num_generations`` x
    prompts per step).  ``episodes`` lists every graded rollout (task, score, reward).
    Close it (or use it as a context manager) when training ends: that removes the
    pool's containers and any still held by an unfinished rollout.
    """

    def __init__(self, env_id: str, *, pool_size: int = 8, format_penalty: float = 0.0, **env_options: Any):
        resolve(env_id)  # an unknown suite or task fails here, before the trainer starts
        self.env_id = env_id
        self.format_penalty = format_penalty
        self.env_options = env_options
        self.pool = suite_pool(env_id, size=pool_size, sandbox=env_options.get("sandbox"),
                               image=env_options.get("image"), limits=env_options.get("limits"))
        self.episodes: list[dict[str, Any]] = []
        self._sessions: list[ToolSession] = []

    def __call__(self) -> DSGymToolEnv:
        session = ToolSession(self.env_id, pool=self.pool, format_penalty=self.format_penalty, **self.env_options)
        self._sessions.append(session)
        return DSGymToolEnv(session, self.episodes)

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
    ``reset`` appends the task statement, which names the sandbox's files.
    """
    try:
        from datasets import Dataset
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise ImportError("dsgym.rl.trl needs the TRL extra: pip install 'dsgym[trl]'") from exc
    suite, task = resolve(env_id)
    ids = task_ids or ([task.id] if task else sorted(get_suite(suite.name).tasks))
    unknown = sorted(set(ids) - set(suite.tasks))
    if unknown:
        raise ValueError(f"unknown task(s) in suite {suite.name!r}: {', '.join(unknown)}")
    prefix = [{"role": "system", "content": system_prompt}] if system_prompt else []
    rows = [{"prompt": [*prefix, {"role": "user", "content": ""}], "task_id": task_id}
            for _ in range(repeat) for task_id in ids]
    return Dataset.from_list(rows)
