"""Seeded task variants (issue 30): reset times, how often golds move, and what a memorised answer scores.

    python benchmarks/variants.py                       # the three lite suites, seeds 0-4, 2 workers
    python benchmarks/variants.py --suite dsbio-lite --seeds 3 --limit 10

Per suite it prints:

* the reset time of a variant: first (uncached: data built, reference solution replayed in the
  suite's image, then the episode's sandbox started) and cached (the same variant again), next
  to the original task's reset, one task per suite, in a fresh cache;
* over every task and seed: the share of the suite's tasks whose gold moves on at least 4 of
  the 5 seeds (a seed counts only if its own data gave a valid gold different from the
  original's, i.e. it was not replaced by a later seed), the tasks reported not variant-able
  and why;
* the mean score, on the variants obtained, of an agent that submits each original task's gold
  (graded with ``dsgym.grading.grade``, the env's grader); prediction tasks submit the original
  hidden labels' values for the re-drawn test ids that were test ids before, else the sample's value.

The cache is a temporary ``DSGYM_HOME`` unless ``--keep-cache`` names one.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

SUITES = ("dsgym-tasks-lite", "dsbio-lite", "dspredict-lite")
TIMED = {"dsgym-tasks-lite": "iris-kmeans-ari", "dsbio-lite": "pbmc-louvain-bulk-ari",
         "dspredict-lite": "breast-cancer-diagnosis"}


def reset_times(suite: str, task_id: str, seed: int) -> dict[str, float]:
    from dsgym.env import DSGymEnv

    env = DSGymEnv(suite, task_id)
    out = {}
    try:
        env.reset()  # warm-up: the first sandbox of a process pays for imports and the Docker connection
        for label, options in (("original", {}), ("first", {"variant": seed}), ("cached", {"variant": seed})):
            _, info = env.reset(options=options)
            out[label] = info["reset_time"]
    finally:
        env.close()
    return out


def memorised_score(original: Any, variant: Any) -> float:
    """What the original task's gold scores on ``variant`` (answer tasks: the stored answer as text; prediction
    tasks: the original hidden labels where the id was a test id before, the sample's value elsewhere)."""
    from dsgym.filter.checks import render_answer
    from dsgym.grading import grade

    if variant.kind == "answer":
        return grade(variant, render_answer(original.answer)).value
    import pandas as pd

    spec = variant.prediction
    old = pd.read_csv(original.prediction.labels_file, dtype=str).set_index(spec.id_column)
    sample = pd.read_csv(variant.data_root / spec.sample_submission, dtype=str)
    for column in spec.target_columns:
        known = sample[spec.id_column].map(old[column])
        sample[column] = known.fillna(sample[column])
    return grade(variant, submission=sample.to_csv(index=False).encode()).value


def sweep(suite_name: str, seeds: int, limit: int | None, workers: int) -> dict[str, Any]:
    from dsgym import registry
    from dsgym.variants import VariantError, family_of, variant_task

    suite = registry.get_suite(suite_name)
    tasks = sorted(suite.tasks.values(), key=lambda t: t.id)[:limit]
    declared = [t for t in tasks if family_of(t)[0] is not None]
    results: dict[tuple[str, int], Any] = {}

    def one(item: tuple[Any, int]) -> None:
        task, seed = item
        started = time.monotonic()
        try:
            variant = variant_task(task, seed)
            results[task.id, seed] = (variant, memorised_score(task, variant), time.monotonic() - started)
        except VariantError as exc:
            results[task.id, seed] = (exc, None, time.monotonic() - started)

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(one, [(t, s) for t in declared for s in range(seeds)]))
    moved, reasons, scores, times = {}, {}, [], []
    for task in declared:
        count = 0
        for seed in range(seeds):
            variant, score, seconds = results[task.id, seed]
            times.append(seconds)
            if isinstance(variant, Exception):
                reasons[task.id] = str(variant)
                continue
            scores.append(score)
            count += variant.metadata["variant"]["used_seed"] == seed
        moved[task.id] = count
    need = seeds - 1 if seeds >= 5 else seeds
    return {"tasks": len(tasks), "declared": len(declared),
            "none": {t.id: family_of(t)[1] for t in tasks if family_of(t)[0] is None},
            "moved": moved, "moving": sum(c >= need for c in moved.values()), "need": need,
            "not_variantable": reasons, "scores": scores, "build_seconds": times}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", action="append", choices=SUITES)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--limit", type=int, default=None, help="first N tasks (by id) of each suite")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--keep-cache", default=None, help="DSGYM_HOME to use (default: a new temporary folder)")
    args = parser.parse_args(argv)
    home = args.keep_cache or tempfile.mkdtemp(prefix="dsgym-variants-bench-")
    os.environ["DSGYM_HOME"] = home
    print(f"cache: {home}; seeds 0..{args.seeds - 1}; workers {args.workers}")
    for name in args.suite or SUITES:
        times = reset_times(name, TIMED[name], 1000)
        print(f"\n== {name}")
        print(f"reset of {TIMED[name]}: original {times['original']:.2f} s, variant first (uncached) "
              f"{times['first']:.2f} s, variant cached {times['cached']:.2f} s")
        started = time.monotonic()
        result = sweep(name, args.seeds, args.limit, args.workers)
        share = result["moving"] / result["tasks"] if result["tasks"] else 0.0
        print(f"tasks {result['tasks']}, with a family {result['declared']}, none declared {len(result['none'])}")
        print(f"gold moves on >= {result['need']}/{args.seeds} seeds: {result['moving']}/{result['tasks']} tasks "
              f"({100 * share:.1f}%)")
        if result["not_variantable"]:
            print(f"no variant for some seed ({len(result['not_variantable'])} tasks):")
            for task_id, reason in sorted(result["not_variantable"].items()):
                print(f"  {task_id}: {reason[:300]}")
        fewer = {t: c for t, c in result["moved"].items() if c < result["need"]}
        if fewer:
            print("moved on fewer seeds: " + ", ".join(f"{t} {c}/{args.seeds}" for t, c in sorted(fewer.items())))
        if result["scores"]:
            print(f"original-gold agent on {len(result['scores'])} variants: mean score "
                  f"{statistics.fmean(result['scores']):.3f}, max {max(result['scores']):.3f}")
        print(f"variant build+replay: mean {statistics.fmean(result['build_seconds']):.2f} s per (task, seed); "
              f"sweep wall time {time.monotonic() - started:.0f} s")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
