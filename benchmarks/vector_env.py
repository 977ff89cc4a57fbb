"""Group resets and vector-env steps: what RL training over dsgym costs on the sandbox side.

    python benchmarks/vector_env.py [--group 8] [--num-envs 4] [--steps 20] [--json]

* time to reset a group of ``--group`` episodes of one task: sync vector env with cold
  sandboxes (no pool), the sync vector env of ``dsgym.make_vec`` once its shared
  pool is warm, and the async one (a process per env, each with a pool of one);
* time for the shared pool to refill a whole group after the group's episodes ended,
  with one starter thread and with ``make_vec``'s four (containers started side by side);
* environment steps per second of a vector env of ``--num-envs`` on a trivial cell
  (``x = x + 1``): each step is one batched action, i.e. ``num_envs`` cells.

Needs Docker and the default sandbox image.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from gymnasium.vector import SyncVectorEnv

import dsgym
from dsgym.rl import suite_pool

ENV_ID = "dsgym-tasks-lite"
TASK = "iris-kmeans-ari"


def timed_reset(envs, rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        started = time.monotonic()
        envs.reset(options={"task_id": TASK})
        times.append(time.monotonic() - started)
        time.sleep(1.0 + 0.6 * envs.num_envs)  # let a pool refill before the next group
    return times


def refill_time(group: int, starters: int) -> float:
    """Seconds from handing out a full pool of ``group`` until it is full again."""
    pool = suite_pool(ENV_ID, size=group, starters=starters)
    try:
        wait_full(pool, group)
        for sandbox in [pool.acquire() for _ in range(group)]:
            sandbox.close()
        started = time.monotonic()
        wait_full(pool, group)
        return time.monotonic() - started
    finally:
        pool.close()


def wait_full(pool, count: int) -> None:
    while pool.ready() < count:
        if pool.last_error:
            raise RuntimeError(f"the pool cannot start sandboxes: {pool.last_error}")
        time.sleep(0.02)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--group", type=int, default=8)
    parser.add_argument("--num-envs", type=int, default=4)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    figures: dict[str, float] = {}

    cold = SyncVectorEnv([lambda: dsgym.make(ENV_ID) for _ in range(args.group)])
    try:
        figures["group_reset_cold_s"] = statistics.median(timed_reset(cold, args.rounds))
    finally:
        cold.close()
    for mode in ("sync", "async"):
        envs = dsgym.make_vec(ENV_ID, num_envs=args.group, vectorization_mode=mode)
        try:
            envs.reset(options={"task_id": TASK})  # starts the processes (async) and fills the pools
            time.sleep(1.0 + 0.6 * args.group)
            figures[f"group_reset_{mode}_pooled_s"] = statistics.median(timed_reset(envs, args.rounds))
        finally:
            envs.close()

    for starters in (1, 4):
        figures[f"pool_refill_{starters}_starters_s"] = refill_time(args.group, starters)

    envs = dsgym.make_vec(ENV_ID, num_envs=args.num_envs)
    try:
        envs.reset(options={"task_id": TASK})
        envs.step(("<python>\nx = 0\n</python>",) * args.num_envs)
        started = time.monotonic()
        for _ in range(args.steps):
            envs.step(("<python>\nx = x + 1\n</python>",) * args.num_envs)
        elapsed = time.monotonic() - started
    finally:
        envs.close()
    figures["vector_steps_per_s"] = args.steps / elapsed
    figures["cells_per_s"] = args.steps * args.num_envs / elapsed
    figures = {key: round(value, 3) for key, value in figures.items()}
    if args.json:
        print(json.dumps({"group": args.group, "num_envs": args.num_envs, **figures}, indent=2))
        return
    print(f"group of {args.group} episodes of {ENV_ID}/{TASK}, medians of {args.rounds} resets:")
    print(f"  cold sandboxes (no pool):          {figures['group_reset_cold_s']:.3f} s")
    print(f"  make_vec sync, warm shared pool:   {figures['group_reset_sync_pooled_s']:.3f} s")
    print(f"  make_vec async, a pool per worker: {figures['group_reset_async_pooled_s']:.3f} s")
    print(f"refilling the shared pool after a group of {args.group} ended: "
          f"{figures['pool_refill_1_starters_s']:.3f} s with 1 starter, "
          f"{figures['pool_refill_4_starters_s']:.3f} s with 4")
    print(f"vector env of {args.num_envs}: {figures['vector_steps_per_s']:.1f} steps/s "
          f"({figures['cells_per_s']:.1f} cells/s)")


if __name__ == "__main__":
    main()
