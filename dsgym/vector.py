"""Vector envs over dsgym: N episodes stepped together, for RL trainers that want batches or groups.

    envs = dsgym.make_vec("dsgym-tasks-lite", num_envs=8)              # sync, one shared warm pool
    obs, info = envs.reset(seed=0, options={"task_id": "iris-kmeans-ari"})  # a GRPO group: 8 of one task
    obs, rewards, terminated, truncated, info = envs.step(actions)        # a tuple of 8 action strings
    envs.close()                                                           # every container removed

``gymnasium.make_vec("dsgym/<suite>", num_envs=8)`` gives the same pooled sync vector
env (dsgym registers ``from_spec`` as the ids' vector entry point); asking Gymnasium
for ``vectorization_mode="sync"``/``"async"`` instead wraps plain envs, one cold
sandbox per reset.

Observations and actions are tuples of strings (Gymnasium batches ``Text`` spaces as
a ``Tuple``).  ``vectorization_mode="sync"`` steps the envs in this process and
gives them one ``SandboxPool`` of ``num_envs`` warm sandboxes, so a group reset
hands over started containers instead of starting N cold, and sends every env's cell to its
kernel before it waits for any, so a step of N cells takes about the time of the slowest; ``"async"`` runs each env
in its own spawned process (``gymnasium.vector.AsyncVectorEnv``; observations come back
through shared memory, see ``dsgym.spaces``), each with a warm pool of one.  Gymnasium's
autoreset modes all apply (``autoreset_mode``); the default, next-step, resets an env on
the ``step`` after its episode ended (that action is ignored).
"""

from __future__ import annotations

from typing import Any

import gymnasium
from gymnasium.vector import AsyncVectorEnv, AutoresetMode, SyncVectorEnv
from gymnasium.vector.utils import iterate

from dsgym.env import DSGymEnv
from dsgym.registry import resolve
from dsgym.rl.session import suite_pool
from dsgym.sandbox import SandboxPool

MODES = ("sync", "async")


class PooledSyncVectorEnv(SyncVectorEnv):
    """A ``SyncVectorEnv`` whose envs share one warm pool, closed with it."""

    def __init__(self, env_fns: list, pool: SandboxPool, **kwargs: Any) -> None:
        self.pool = pool
        try:
            super().__init__(env_fns, **kwargs)
        except BaseException:
            pool.close()
            raise

    def step(self, actions):
        """Gymnasium's sync step, with every env's cell sent to its kernel before any reply is awaited.

        The envs that will step (not the ones autoreset this step) begin their turn first
        (``DSGymEnv.step_begin``: the cell runs in its own kernel from then on); Gymnasium's own
        ``step`` then steps each env in order, which collects the begun turns.  So N trivial cells
        take about one cell's time, and autoreset, infos and ordering stay exactly Gymnasium's.
        """
        for index, action in enumerate(iterate(self.action_space, actions)):
            env = self.envs[index]
            resetting = self.autoreset_mode == AutoresetMode.NEXT_STEP and self._autoreset_envs[index]
            if not resetting and isinstance(env, DSGymEnv) and not env.done:
                env.step_begin(action)
        return super().step(actions)

    def close_extras(self, **kwargs: Any) -> None:
        try:
            super().close_extras(**kwargs)
        finally:
            self.pool.close()


def make_vec(env_id: str, num_envs: int = 1, *, vectorization_mode: str = "sync", pool_size: int | None = None,
             autoreset_mode: str | AutoresetMode = AutoresetMode.NEXT_STEP,
             **options: Any) -> gymnasium.vector.VectorEnv:
    """``num_envs`` dsgym envs of ``env_id`` (a suite or one task) as one vector env; ``options`` go to each env."""
    from dsgym.env import make

    if num_envs < 1:
        raise ValueError("num_envs must be at least 1")
    if vectorization_mode not in MODES:
        raise ValueError(f"vectorization_mode must be one of {', '.join(MODES)}, not {vectorization_mode!r}")
    if "pool" in options or "pool_size" in options:
        raise ValueError("make_vec pools the sandboxes itself: use its pool_size, not pool/pool_size options")
    resolve(env_id)  # an unknown id fails here, before any worker or container starts
    if vectorization_mode == "async":
        per_env = {**options, "pool_size": 1 if pool_size is None else pool_size}
        # spawn, not fork: a forked child would share this process's ZeroMQ context and Docker client
        return AsyncVectorEnv([lambda: make(env_id, **per_env) for _ in range(num_envs)],
                              context="spawn", autoreset_mode=AutoresetMode(autoreset_mode))
    pool = suite_pool(env_id, pool_size or num_envs, options)
    return PooledSyncVectorEnv([lambda: make(env_id, pool=pool, **options) for _ in range(num_envs)], pool,
                               autoreset_mode=AutoresetMode(autoreset_mode))


def from_spec(num_envs: int, suite: str, task_id: str | None = None, **options: Any) -> gymnasium.vector.VectorEnv:
    """Gymnasium's ``vector_entry_point`` for dsgym ids: the registered kwargs name the suite and task."""
    return make_vec(f"{suite}/{task_id}" if task_id else suite, num_envs, **options)
