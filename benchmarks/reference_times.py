"""Each embedded task's reference solution, timed in a fresh sandbox: wall seconds and the CPU it got.

    python benchmarks/reference_times.py [--suite dsbio-lite ...] [--task ID ...] [--image bio=TAG]
                                         [--top 5] [--json FILE]

One new container per task (its suite's image, ``--cpus`` 1 as in an eval), the task's data
staged, then the solution run as one cell, as the oracle's first turn does; the CPU seconds
come from the container's cgroup (``dsgym.sandbox.cpu``), so a busy host shows as a low
CPU share rather than as a slow solution.  ``--image bio=dsgym-sandbox-bio:<old tag>`` times
an older image (before/after figures).  Prints one line per task and the slowest ``--top``.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import dsgym
from dsgym.sandbox.base import Limits
from dsgym.sandbox.docker import DockerSandbox
from dsgym.sandbox.images import image_tag

SUITES = ["dsgym-tasks-lite", "dsbio-lite"]


def time_task(suite: str, task_id: str, image: str, timeout: float) -> dict:
    task = dsgym.get_suite(suite).tasks[task_id]
    sandbox = DockerSandbox(image=image, limits=Limits(cpus=1.0))
    started = time.monotonic()
    sandbox.start()
    ready = time.monotonic() - started
    try:
        sandbox.put_data(task.data_paths())
        result = sandbox.execute(task.solution, timeout)
    finally:
        sandbox.close()
    cpu = result.cpu
    return {"env_id": f"{suite}/{task_id}", "image": image, "start_s": round(ready, 2),
            "wall_s": round(result.duration, 2), "cpu_s": round(cpu.seconds, 2) if cpu else None,
            "cpu_share": round(cpu.share, 2) if cpu else None, "timed_out": result.timed_out,
            "error": result.error.ename if result.error else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", nargs="+", default=SUITES)
    parser.add_argument("--task", nargs="+", default=None, help="only these task ids")
    parser.add_argument("--image", nargs="+", default=[], help="NAME=TAG: time this tag for image NAME")
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--top", type=int, default=5)
    parser.add_argument("--json", default=None, help="also write the rows to this file")
    args = parser.parse_args()
    override = dict(item.split("=", 1) for item in args.image)
    rows = []
    print(f"host: {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}", flush=True)
    print(f"{'task':58} {'start':>6} {'wall':>7} {'cpu':>7} {'share':>5}", flush=True)
    for suite in args.suite:
        suite_obj = dsgym.get_suite(suite)
        image = override.get(suite_obj.image) or image_tag(suite_obj.image)
        for task_id in sorted(suite_obj.tasks):
            if args.task and task_id not in args.task:
                continue
            row = time_task(suite, task_id, image, args.timeout)
            rows.append(row)
            flag = " TIMEOUT" if row["timed_out"] else (f" {row['error']}" if row["error"] else "")
            print(f"{row['env_id']:58} {row['start_s']:6.2f} {row['wall_s']:7.2f} {row['cpu_s'] or 0:7.2f} "
                  f"{row['cpu_share'] or 0:5.2f}{flag}", flush=True)
    print(f"\nslowest {args.top} (wall s, cpu s):")
    for row in sorted(rows, key=lambda r: -r["wall_s"])[: args.top]:
        print(f"  {row['env_id']:58} {row['wall_s']:7.2f} {row['cpu_s'] or 0:7.2f}")
    print(f"total: {len(rows)} tasks, wall {sum(r['wall_s'] for r in rows):.1f} s, "
          f"cpu {sum(r['cpu_s'] or 0 for r in rows):.1f} s, host load now {os.getloadavg()[0]:.1f}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(rows, handle, indent=1)


if __name__ == "__main__":
    main()
