"""Episodes per minute of the oracle agent over dsgym-tasks-lite, through the runner, at several concurrencies.

    python benchmarks/episodes_per_minute.py [--concurrency 1 2 4 8] [--tasks N] [--backend ray [--address A]] [--json]

Each setting is a full ``dsgym eval`` run (``dsgym.runner.evaluate``) into a fresh
temporary run folder: one new container per episode, the JSONL written and fsynced
per episode, retries and the hard episode timeout armed, so the figure is what a
user gets.  Needs the Docker daemon and the sandbox image (``dsgym sandbox build``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time

import dsgym
from dsgym import runner

SUITE = "dsgym-tasks-lite"


def measure(concurrency: int, targets: list[str], backend=None) -> dict[str, float]:
    settings = runner.EvalSettings(targets=targets, agent="oracle", env_options={"cell_timeout": 120.0},
                                   episode_timeout=600.0)
    with tempfile.TemporaryDirectory(prefix="dsgym-bench-") as out:
        start = time.monotonic()
        outcome = runner.evaluate(settings, out, concurrency=concurrency, backend=backend)
        elapsed = time.monotonic() - start
    records = outcome.records
    scored = [r["score"] for r in records if r["status"] == "ok"]
    return {"concurrency": concurrency, "episodes": len(records), "seconds": elapsed,
            "per_minute": 60 * len(records) / elapsed, "mean_score": statistics.fmean(scored) if scored else 0.0,
            "errors": sum(r["status"] == "error" for r in records),
            "mean_episode_s": statistics.fmean(r["wall_time"] for r in records) if records else 0.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--tasks", type=int, default=None, help="only the first N tasks (default: all)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--backend", choices=["local", "ray"], default="local",
                        help="ray: one Ray task per episode on a local Ray with all CPUs (or --address)")
    parser.add_argument("--address", default=None, help="Ray cluster address (with --backend ray)")
    args = parser.parse_args()
    backend = None
    if args.backend == "ray":
        from dsgym.ray_backend import RayBackend

        backend = RayBackend(address=args.address)
        backend.init()

    ids = sorted(dsgym.get_suite(SUITE).tasks)[: args.tasks]
    targets = [f"{SUITE}/{task_id}" for task_id in ids]
    measure(1, targets[:1], backend)  # warm the Docker client, the page cache (and the Ray workers)
    rows = [measure(c, targets, backend) for c in args.concurrency]
    if args.json:
        print(json.dumps({"suite": SUITE, "cpus": os.cpu_count(), "rows": rows}, indent=2))
        return
    print(f"oracle over {SUITE} ({len(targets)} tasks), {os.cpu_count()} CPUs, {args.backend} backend")
    print(f"{'concurrency':>11}{'episodes':>10}{'seconds':>10}{'ep/min':>9}{'speedup':>9}{'s/episode':>11}"
          f"{'score':>7}{'errors':>8}")
    base = rows[0]["per_minute"]
    for r in rows:
        print(f"{r['concurrency']:>11}{r['episodes']:>10}{r['seconds']:>10.1f}{r['per_minute']:>9.1f}"
              f"{r['per_minute'] / base:>8.2f}x{r['mean_episode_s']:>11.2f}{r['mean_score']:>7.3f}{r['errors']:>8}")


if __name__ == "__main__":
    main()
