"""Soak: many episodes at concurrency 4 with faults injected; every episode must end in one result line.

    python benchmarks/soak.py [--episodes 300] [--concurrency 4] [--seed 0] [--kill-every 4] [--json]

The agent is the oracle of ``dsgym-tasks-lite`` with a fault drawn per attempt: its
kernel killed (``os.kill(getpid(), 9)`` in the first cell), a slow cell that runs past
the cell timeout, or none; meanwhile a thread kills one of the run's containers with
``docker kill`` every ``--kill-every`` seconds.  The run goes through
``dsgym.runner.evaluate`` (retries, the JSONL log) like ``dsgym eval``.  At the end it
reports the result lines (one per episode, no duplicates), statuses, the containers
left (must be 0) and this process's RSS and the machine's available memory against
their baseline (taken after a warm-up episode).  Needs Docker and the sandbox images.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dsgym import registry, runner  # noqa: E402
from dsgym.agents.oracle import OracleAgent  # noqa: E402
from dsgym.task import Task  # noqa: E402

SUITE = "dsgym-tasks-lite"
CELL_TIMEOUT = 10.0  # above every reference solution's run time, even on a loaded machine
FAULTS = ("kernel_kill", "slow_cell", "none")


class FaultyOracle(OracleAgent):
    """The oracle, after one injected fault (``fault``): the episode must still end with the right answer."""

    name = "faulty-oracle"

    def __init__(self, fault: str) -> None:
        super().__init__()
        self.fault = fault

    def start(self, task: Task, prompt: str) -> None:
        super().start(task, prompt)
        self.faulted = self.fault == "none"

    def act(self, observation: str | None) -> str:
        if not self.faulted:
            self.faulted = True
            if self.fault == "kernel_kill":
                return "<python>\nimport os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n</python>"
            return f"<python>\nimport time\ntime.sleep({CELL_TIMEOUT + 5})\n</python>"
        return super().act(observation)


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def available_mb() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) / 1024
    return 0.0


def own_containers() -> list:
    from dsgym.sandbox.docker import list_containers

    return list_containers(owned_by=os.getpid())


def killer(stop: threading.Event, every: float, rng: random.Random, kills: list[str]) -> None:
    """``docker kill`` one running container of this process every ``every`` seconds."""
    while not stop.wait(every):
        running = [c for c in own_containers() if c.status == "running"]
        if running:
            victim = rng.choice(running)
            try:
                victim.kill()
                kills.append(victim.short_id)
            except Exception:  # noqa: BLE001 - it may have ended by itself meanwhile
                pass


def soak(episodes: int = 300, concurrency: int = 4, seed: int = 0, kill_every: float = 4.0,
         out: Path | None = None) -> dict[str, Any]:
    """Run the soak and return its figures (see the module docstring)."""
    tasks = sorted(t.id for t in registry.get_suite(SUITE).tasks.values() if t.solution)
    samples = -(-episodes // len(tasks))
    targets = [f"{SUITE}/{task_id}" for task_id in tasks[:-(-episodes // samples)]]  # tasks x samples >= episodes
    rng = random.Random(seed)
    lock = threading.Lock()
    faults: Counter[str] = Counter()

    def agent() -> FaultyOracle:
        with lock:
            fault = rng.choice(FAULTS)
            faults[fault] += 1
        return FaultyOracle(fault)

    with tempfile.TemporaryDirectory(prefix="dsgym-soak-") as scratch:
        folder = Path(out or Path(scratch) / "run")
        warm = runner.EvalSettings(targets=targets[:1], agent="oracle", env_options={"cell_timeout": CELL_TIMEOUT})
        runner.evaluate(warm, Path(scratch) / "warm-up")
        gc.collect()
        base_rss, base_available = rss_mb(), available_mb()
        settings = runner.EvalSettings(targets=targets, agent="faulty-oracle", samples=samples,
                                       env_options={"cell_timeout": CELL_TIMEOUT, "max_turns": 6},
                                       episode_timeout=120.0)
        kills: list[str] = []
        stop = threading.Event()
        thread = threading.Thread(target=killer, args=(stop, kill_every, random.Random(seed + 1), kills), daemon=True)
        started = time.monotonic()
        thread.start()
        try:
            outcome = runner.evaluate(settings, folder, agent_factory=agent, concurrency=concurrency,
                                      retries=2, backoff=0.5)
        finally:
            stop.set()
            thread.join()
        wall = time.monotonic() - started
        lines = runner.episode_log(folder).read()
        keys = [(r["task_id"], r["sample"]) for r in lines.records]
        statuses = Counter(r["status"] if r["status"] == "ok" else f"error:{r['error_type']}" for r in lines.records)
        time.sleep(1.0)
        leaked = own_containers()
        gc.collect()
        return {"episodes": len(outcome.jobs), "result_lines": len(keys), "unique": len(set(keys)),
                "missing": outcome.missing, "statuses": dict(statuses),
                "perfect": sum(1 for r in lines.records if r.get("score") == 1.0),
                "retried_episodes": sum(1 for r in lines.records if r.get("retried")),
                "faults": dict(faults), "container_kills": len(kills), "containers_left": len(leaked),
                "wall_seconds": round(wall, 1), "episodes_per_minute": round(60 * len(keys) / wall, 1),
                "rss_mb": {"baseline": round(base_rss), "after": round(rss_mb())},
                "available_mb": {"baseline": round(base_available), "after": round(available_mb())},
                "torn_bytes": lines.torn_bytes, "bad_lines": lines.bad_lines}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--episodes", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--kill-every", type=float, default=4.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    figures = soak(args.episodes, args.concurrency, args.seed, args.kill_every)
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    for key, value in figures.items():
        print(f"{key:>20}: {value}")


if __name__ == "__main__":
    main()
