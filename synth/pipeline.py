"""``synthesize``: datasets in, execution-verified SFT trajectories out; every stage resumable.

Stages, in order (their outputs under ``out``):

1. profile   - each dataset profiled in a sandbox                      synth-state.jsonl
2. generate  - the model proposes questions from each profile           synth-state.jsonl
3. dedup     - near-duplicate questions over the same data dropped;     tasks.jsonl
               ``max_tasks`` caps the rest
4. rollout   - the agent plays each task k times                        rollouts/episodes.jsonl
5. verify    - each answered rollout re-run from scratch in a fresh     synth-state.jsonl
               sandbox; kept only if the re-run shows its answer
6. consensus - the largest group of agreeing verified answers must     tasks.jsonl
               hold more than ``agreement`` of the k rollouts
7. shortcut  - the blind probe of ``dsgym.filter``: a task the model    synth-state.jsonl
               answers without data is dropped
8. difficulty- a task every rollout solves in ``trivial_cells`` cells   tasks.jsonl
9. export    - SFT dataset + card (and the verified tasks as a suite)  sft/, suite/

Each finished item is appended to its log as soon as it is done, keyed by a hash
of everything its result depends on, so a rerun (same or changed settings) redoes
only what is missing or changed; model replies also come from the LLM disk cache
(``<out>/llm-cache/``, or the cache shared on purpose with ``--llm-cache``).
``tasks.jsonl``, ``synth-report.json``/``.md`` and ``sft/`` are rewritten at the
end of every invocation from what is done so far.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dsgym.runlog import atomic_write, locked
from dsgym.episode import now_iso
from dsgym.synth import export, filters, stages, variants, verify
from dsgym.synth.report import StageStats, card, write_report
from dsgym.synth.run import Progress, Run, preflight
from dsgym.synth.settings import SynthError, SynthSettings
from dsgym.synth.sources import discover
from dsgym.task import Task

TASKS = "tasks.jsonl"
STAGES = ("profile", "generate", "dedup", "variants", "rollout", "verify", "consensus", "shortcut", "difficulty", "export")


@dataclass
class SynthResult:
    out: Path
    stages: dict[str, StageStats]
    kept_tasks: int
    examples: int
    pending: int
    budget: dict[str, Any]
    stopped_by: str | None
    sft_dir: Path
    suite_dirs: list[Path]

    @property
    def complete(self) -> bool:
        return self.pending == 0 and self.stopped_by is None


def synthesize(settings: SynthSettings, out: str | os.PathLike[str], *, progress: Progress | None = None) -> SynthResult:
    """Run (or resume) every stage into ``out``; see the module docstring."""
    settings.check()
    out = Path(out)
    with locked(out):
        run = Run(settings, out, progress)
        try:
            return _synthesize(run)
        finally:
            run.close()


def _timed(run: Run, name: str, fn: Callable[[], Any]) -> Any:
    started = time.monotonic()
    try:
        return fn()
    finally:
        run.stages[name].seconds = time.monotonic() - started


def _synthesize(run: Run) -> SynthResult:
    s = run.s
    try:
        datasets = discover(s.sources, s.image)
    except ValueError as exc:
        raise SynthError(str(exc)) from exc
    image_of = {ds.name: ds.image for ds in datasets}
    preflight(run, image_of.values())
    started = now_iso()
    profiles = _timed(run, "profile", lambda: stages.profiles(run, datasets))
    candidates = _timed(run, "generate", lambda: stages.questions(run, datasets, profiles))
    decisions: dict[str, dict[str, Any]] = {}
    tasks = stages.dedup(run, candidates, decisions)
    refused: dict[str, str] = {}
    if s.variants:
        tasks, refused = variants.expand(run, tasks, datasets, image_of)
        candidates = candidates + [t for t in tasks if variants.VARIANT in t.metadata]
    rollouts = _timed(run, "rollout", lambda: stages.rollouts(run, tasks, image_of))
    verdicts = _timed(run, "verify", lambda: stages.verify_rollouts(run, tasks, rollouts, image_of))

    t0 = time.monotonic()
    stats = run.stage("consensus")
    agreed: dict[str, Task] = {}
    outcome: dict[str, dict[str, Any]] = {}
    for task in tasks:
        per = verdicts[task.id]
        if len(per) < s.rollouts:
            decisions[task.id] = stages.decision(task, "pending", "verify" if len(rollouts[task.id]) == s.rollouts
                                           else "rollout", f"{len(per)} of {s.rollouts} rollouts verified so far",
                                           verdicts=list(per.values()))
            stats.pending += 1
            continue
        stats.input += 1
        result = verify.consensus(task, list(per.values()), s.rollouts, s.agreement)
        outcome[task.id] = result
        if not result["agreed"]:
            decisions[task.id] = stages.decision(task, "dropped", "consensus", result["reason"], verdicts=list(per.values()))
            stats.drop("no majority")
            continue
        minority = sum(1 for v in per.values() if v["status"] == verify.VERIFIED and v["sample"] not in result["samples"])
        if minority:
            stats.notes["verified rollouts outside the majority"] = \
                stats.notes.get("verified rollouts outside the majority", 0) + minority
        agreed[task.id] = verify.final_task(task, result["answer"])
    stats.output = len(agreed)
    stats.seconds = time.monotonic() - t0

    probes = _timed(run, "shortcut", lambda: stages.probe(run, agreed))
    shortcut = run.stages["shortcut"]
    t0 = time.monotonic()
    difficulty = run.stage("difficulty")
    kept: list[Task] = []
    for tid, task in agreed.items():
        per = list(verdicts[tid].values())
        check = probes.get(tid)
        if s.probe and check is None:
            decisions[tid] = stages.decision(task, "pending", "shortcut", "blind probe not run yet", verdicts=per)
            shortcut.pending += 1
            continue
        if check is not None and check.status == "fail":
            decisions[tid] = stages.decision(task, "dropped", "shortcut", check.reason, verdicts=per)
            shortcut.drop("answerable without the data")
            continue
        difficulty.input += 1
        if filters.trivial(per, outcome[tid], s.rollouts, s.trivial_cells):
            decisions[tid] = stages.decision(task, "dropped", "difficulty",
                                       f"every rollout solved it in at most {s.trivial_cells} code cell(s)",
                                       verdicts=per)
            difficulty.drop("trivial")
            continue
        kept.append(task)
    shortcut.output = shortcut.input - shortcut.pending - sum(shortcut.dropped.values())
    difficulty.output = len(kept)
    difficulty.seconds = time.monotonic() - t0

    t0 = time.monotonic()
    exported = run.stage("export", "examples")
    rows = []
    examples: dict[str, int] = {}
    agent = stages.rollout_agent(run)() if kept else None
    for task in kept:
        samples = outcome[task.id]["samples"]
        for sample in samples:
            rows.append(export.sft_row(task, rollouts[task.id][sample], task.answer, agent, s.observation_role))
        examples[task.id] = len(samples)
        decisions[task.id] = stages.decision(task, "kept", "export", outcome[task.id]["reason"], answer=task.answer,
                                       examples=len(samples), verdicts=list(verdicts[task.id].values()))
    exported.input = len(kept)
    exported.output = len(rows)
    pending = sum(1 for d in decisions.values() if d["status"] == "pending")
    sft_dir = export.write_sft(rows, run.out / "sft", card(run, datasets, len(kept), len(rows)))
    suite_dirs = _export_suites(run, kept, outcome, image_of) if s.export_suite else []
    exported.seconds = time.monotonic() - t0
    _write_tasks(run, candidates, decisions)
    summary = variants.summary(tasks, kept, examples, refused, s.variants) if s.variants else None
    write_report(run, started, len(kept), len(rows), pending, summary)
    return SynthResult(run.out, run.stages, len(kept), len(rows), pending, run.budget.to_dict(), run.stopped_by,
                       sft_dir, suite_dirs)


def _export_suites(run: Run, kept: list[Task], outcome: dict[str, dict[str, Any]],
                   image_of: dict[str, str]) -> list[Path]:
    images = sorted({image_of[t.metadata["dataset"]] for t in kept}) or ["default"]
    written = []
    for image in images:
        members = [(t, t.answer, {"consensus": outcome[t.id]["reason"], "image": image})
                   for t in kept if image_of[t.metadata["dataset"]] == image]
        folder = run.out / ("suite" if len(images) == 1 else f"suite-{image}")
        name = run.name if len(images) == 1 else f"{run.name}-{image}"
        written.append(export.write_suite(members, folder, name, f"Execution-verified tasks synthesised by dsgym "
                                                                  f"({len(members)} tasks)", image))
    return written


def _write_tasks(run: Run, candidates: list[Task], decisions: dict[str, dict[str, Any]]) -> None:
    lines = [json.dumps({**decisions[t.id], **({"variant": t.metadata[variants.VARIANT],
                                                "original": t.metadata["original"]}
                                               if variants.VARIANT in t.metadata else {})},
                        ensure_ascii=False, default=str) for t in candidates if t.id in decisions]
    atomic_write(run.out / TASKS, ("\n".join(lines) + "\n" if lines else "").encode())
