"""``--variants K``: every candidate question also asked over K seeded variants of its data.

A variant candidate is the same question over data changed by a family that keeps
questions true (``dsgym.variants.variant_data``: the family the source suite
declares for the tasks on those files, else ``rows-bootstrap``).  It gets its own id
(``<id>.v<seed>``) and goes through rollout, verify, consensus and the probe on its
own, so its consensus answer is computed on the variant's data and its verified
trajectories are separate SFT examples.  The data is built once per dataset and seed
(cached by content in the user cache); a dataset none of whose files the family can
transform gets no variants, with the reason in the report.
"""

from __future__ import annotations

import time
from typing import Any

from dsgym.sandbox.images import image_tag
from dsgym.synth.run import Run
from dsgym.synth.sources import Dataset
from dsgym.task import Task, VariantSpec
from dsgym.variants import VariantError, variant_data

DEFAULT = VariantSpec(family="rows-bootstrap")
# where a candidate keeps its data variant: not ``metadata["variant"]``, which the env reports as a task variant
# of its own (a replayed gold, another episode key)
VARIANT = "data_variant"


def variant_id(task_id: str, seed: int) -> str:
    """A variant candidate's id (task ids allow letters, digits, ``.``, ``-`` and ``_``)."""
    return f"{task_id}.v{seed}"


def seeds(count: int) -> list[int]:
    return list(range(1, count + 1))


def expand(run: Run, tasks: list[Task], datasets: list[Dataset],
           image_of: dict[str, str]) -> tuple[list[Task], dict[str, str]]:
    """``tasks`` with each one's variant candidates right after it, and why a dataset got none."""
    started = time.monotonic()
    stats = run.stage("variants", "candidates")
    stats.input = len(tasks)
    by_name = {ds.name: ds for ds in datasets}
    built: dict[tuple[str, int], Task] = {}
    refused: dict[str, str] = {}
    out: list[Task] = []
    for task in tasks:
        out.append(task)
        name = task.metadata["dataset"]
        spec = by_name[name].variant or DEFAULT
        for seed in seeds(run.s.variants):
            if name in refused:
                stats.drop("data the family cannot transform")
                continue
            if (name, seed) not in built:
                try:
                    built[(name, seed)] = variant_data(task.model_copy(update={"variant": spec}), seed,
                                                       image=image_tag(image_of[name]))
                except VariantError as exc:
                    refused[name] = f"{spec.family}: {exc}"
                    stats.drop("data the family cannot transform")
                    continue
            data = built[(name, seed)]
            out.append(task.model_copy(update={
                "id": variant_id(task.id, seed), "data_root": data.data_root,
                "metadata": {**task.metadata, VARIANT: data.metadata["variant"], "original": task.id}}))
            stats.output += 1
    stats.seconds = time.monotonic() - started
    run.progress("variants", len(built), len(built))
    return out, refused


def summary(candidates: list[Task], kept: list[Task], examples: dict[str, int], refused: dict[str, str],
            count: int) -> dict[str, Any]:
    """Originals and variants side by side: candidates rolled out, tasks kept, SFT examples."""
    def split(ids: list[str], weight: dict[str, int] | None = None) -> dict[str, int]:
        variant = {t.id for t in candidates if VARIANT in t.metadata}
        total = {"originals": 0, "variants": 0}
        for tid in ids:
            total["variants" if tid in variant else "originals"] += (weight or {}).get(tid, 1)
        return total

    return {"per_question": count, "candidates": split([t.id for t in candidates]),
            "kept": split([t.id for t in kept]), "examples": split(list(examples), examples),
            "datasets_without_variants": refused}
