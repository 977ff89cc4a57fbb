"""Seeded, execution-verified task variants: fresh data under a family that keeps the question true, gold by replay.

A suite declares per task (or once for the suite) which **family** of seeded
transformations keeps a task's question true (``Task.variant``, a
``dsgym.task.VariantSpec``), or ``none`` with the reason.  ``variant_task(task, seed)``
builds the variant's data on the host into the user cache (``dsgym.fetching.home()``;
AnnData files are transformed inside the suite's image, which has ``anndata``), replays
the reference solution on it in a fresh sandbox of the suite's image, checks the
result, and returns the task with that data and that gold.  A rejected seed is replaced
by the next one of a fixed sequence (``attempt_seed``); everything is cached by content
(task digest, family and params, seed, image id), so a cached variant costs a digest and
a JSON read.  Prediction tasks re-draw their train/test split; their hidden labels are
regenerated on the host from the full labelled data, and the reference solution is
replayed on both splits to move the original leaderboard's baselines by its change in
the metric (``place_on_board``).  See docs/variants.md.
"""

from __future__ import annotations

import ast
import hashlib
import json
import math
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from dsgym.filter.checks import render_answer, same_answer
from dsgym.filter.perturb import NotPerturbable
from dsgym.task import Task, VariantSpec
from dsgym.variants.cache import (VARIANT_VERSION, VariantError, cache_root, digest, file_digest, image_id, lock,
                                  sandbox_runner, stats, suite_image, task_digest)
from dsgym.variants.families import FAMILIES, NONE, Build, check_spec, family, family_of
from dsgym.variants.redraw import BOARD, place_on_board

MAX_ATTEMPTS = 4  # seeds tried per requested seed (the requested one, then ``attempt_seed(seed, k)``)


def attempt_seed(seed: int, attempt: int) -> int:
    """The seed tried at ``attempt`` (0: the requested one): a fixed sequence, so a rejected seed is always
    replaced by the same next one."""
    if attempt == 0:
        return seed
    return int.from_bytes(hashlib.sha256(f"{seed}\0{attempt}".encode()).digest()[:4], "big") & 0x7FFFFFFF


def _checked(task: Task, seed: Any) -> int:
    """The seed as an int, once the task's declaration allows variants (else ``VariantError``, saying why)."""
    name, reason = family_of(task)
    if name is None:
        raise VariantError(f"task {task.env_id} has no variants: {reason}")
    if problems := check_spec(task):
        raise VariantError(f"task {task.env_id}: {'; '.join(problems)}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise VariantError(f"a variant seed is a non-negative integer, not {seed!r}")
    return int(seed)


def variant_task(task: Task, seed: int, *, image: str | None = None) -> Task:
    """``task``'s variant ``seed``: its data built on the host, its gold replayed in the suite's image, cached.

    ``image`` is the sandbox image tag to replay in (default: the suite's image).  Raises
    ``VariantError`` when the task declares no family (or ``none``) or no seed of the
    fixed sequence gives a valid variant; the message says why.
    """
    seed, tag = _checked(task, seed), image or suite_image(task)
    assert task.variant is not None
    key = digest({"task": task_digest(task), "family": task.variant.family, "params": task.variant.params,
                  "seed": seed, "image": image_id(tag),
                  "version": VARIANT_VERSION})
    folder = cache_root() / task.suite / task.id / key
    record = _cached(key, folder, lambda: _make(task, seed, tag, folder))
    return _as_task(task, record, folder)


def variant_data(task: Task, seed: int, *, image: str | None = None) -> Task:
    """``task`` over variant ``seed`` of its data under its declared family, with no gold (``answer`` None).

    For callers that compute their own answer on the variant (synthesis takes the
    rollouts' consensus), so nothing is replayed.  The key is the data's contents, the
    family and its params, the seed and the image id, not the question: every question
    over the same files shares one cached folder per seed (``variants/data/<key>/``).
    Seeds are tried as in ``variant_task``; ``VariantError`` when the family changes none
    of the files on any of them.
    """
    seed, tag = _checked(task, seed), image or suite_image(task)
    assert task.variant is not None
    files = {rel: file_digest(path) for rel, path in task.data_paths().items()}
    key = digest({"files": files, "family": task.variant.family, "params": task.variant.params, "seed": seed,
                  "image": image_id(tag), "version": VARIANT_VERSION})
    folder = cache_root() / "data" / key
    record = _cached(key, folder, lambda: _make_data(task, seed, tag, folder))
    return task.model_copy(update={"data_root": folder / "data", "answer": None,
                                   "metadata": {**task.metadata, "variant": variant_info(record)}})


def _cached(key: str, folder: Path, make: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """The variant record kept under ``folder``, made once under the key's lock; a kept failure raises again."""
    with lock(key):
        record = _read_record(folder)
        if record is None:
            record = make()
    if "error" in record:
        raise VariantError(record["error"])
    return record


def _make_data(task: Task, seed: int, image: str, folder: Path) -> dict[str, Any]:
    """The first seed of the sequence whose family changes some file; kept (or the failure) under ``folder``."""
    assert task.variant is not None
    rejected: list[dict[str, Any]] = []
    folder.parent.mkdir(parents=True, exist_ok=True)
    record: dict[str, Any] | None = None
    for attempt in range(MAX_ATTEMPTS):
        used = attempt_seed(seed, attempt)
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
        try:
            build = Build(task, dict(task.variant.params), used, tmp / "data", image)
            build.out.mkdir()
            problem = _build(build)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        if problem is None:
            record = {"seed": seed, "used_seed": used, "family": task.variant.family, "params": task.variant.params,
                      "notes": build.notes, "rejected": rejected}
            break
        rejected.append({"seed": used, "reason": problem})
        shutil.rmtree(tmp, ignore_errors=True)
    if record is None:
        why = "; ".join(f"seed {r['seed']}: {r['reason']}" for r in rejected)
        record = {"seed": seed, "family": task.variant.family, "rejected": rejected,
                  "error": f"no data variant under {task.variant.family} in {MAX_ATTEMPTS} seeds: {why}"[:2000]}
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    (tmp / "variant.json").write_text(json.dumps(record, indent=1, sort_keys=True))
    _install(tmp, folder)
    return record


def _make(task: Task, seed: int, image: str, folder: Path) -> dict[str, Any]:
    """Try the seeds of the sequence until one gives a valid variant; keep it (or the failure) under ``folder``."""
    assert task.variant is not None
    rejected: list[dict[str, Any]] = []
    folder.parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(MAX_ATTEMPTS):
        used = attempt_seed(seed, attempt)
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
        try:
            build = Build(task, dict(task.variant.params), used, tmp / "data", image)
            build.out.mkdir()
            problem = _build(build)
            gold = None
            if problem is None and task.kind == "answer":
                gold, problem = _replay(task, build)
            elif problem is None:
                problem = place_on_board(task, build, tmp, folder)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        if problem is not None:
            rejected.append({"seed": used, "reason": problem})
            shutil.rmtree(tmp, ignore_errors=True)
            continue
        record = {"seed": seed, "used_seed": used, "family": task.variant.family, "params": task.variant.params,
                  "answer": gold, "notes": build.notes, "rejected": rejected,
                  "labels": "labels.csv" if build.labels else None, "reference": build.reference}
        (tmp / "variant.json").write_text(json.dumps(record, indent=1, sort_keys=True))
        _install(tmp, folder)
        return record
    why = "; ".join(f"seed {r['seed']}: {r['reason']}" for r in rejected)
    moved = [r for r in rejected if not r["reason"].startswith("the answer does not move")]
    if not moved:
        error = (f"task {task.env_id} is not variant-able under {task.variant.family}: its answer does not "
                 f"change on any of {MAX_ATTEMPTS} seeds")
    else:
        error = f"task {task.env_id}: no valid variant in {MAX_ATTEMPTS} seeds from {seed}: {why}"[:2000]
    record = {"seed": seed, "family": task.variant.family, "error": error, "rejected": rejected}
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    (tmp / "variant.json").write_text(json.dumps(record, indent=1, sort_keys=True))
    _install(tmp, folder)
    return record


def _install(tmp: Path, folder: Path) -> None:
    try:
        tmp.rename(folder)
    except OSError:  # another process finished the same variant first: theirs is the same
        shutil.rmtree(tmp, ignore_errors=True)


def _build(build: Build) -> str | None:
    """Build the data; a family that changes nothing, or fails, is a rejected seed (the reason)."""
    assert build.task.variant is not None
    try:
        FAMILIES[build.task.variant.family].build(build)
    except NotPerturbable as exc:
        return f"the data cannot be transformed: {exc}"
    except (OSError, ValueError, KeyError, IndexError) as exc:
        return f"building the data failed: {type(exc).__name__}: {exc}"[:500]
    stats["builds"] += 1
    if all(note.startswith("unchanged") for note in build.notes.values()):
        return "the family changes none of the task's files: " + "; ".join(
            f"{rel}: {note}" for rel, note in build.notes.items())[:400]
    return None


PLAIN = """


def __dsgym_plain(value):
    import numpy
    if isinstance(value, dict):
        return {str(k): __dsgym_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [__dsgym_plain(v) for v in value]
    if isinstance(value, numpy.ndarray):
        return [__dsgym_plain(v) for v in value.tolist()]
    if isinstance(value, numpy.generic):
        return value.item()
    return value


answer = repr(__dsgym_plain(answer))
"""


def _replay(task: Task, build: Build) -> tuple[Any, str | None]:
    """Run the reference solution on the variant's data in a fresh sandbox; (gold, None) or (None, why not)."""
    if not task.solution:
        return None, "the task has no reference solution to replay"
    files = {rel: build.out / rel for rel in task.data_files}
    stats["replays"] += 1
    run = sandbox_runner(build.image).solution(task.solution + "\n" + PLAIN, files)
    if run.infra:
        raise VariantError(f"task {task.env_id}: the sandbox failed while replaying: {run.error}")
    if run.answer is None:
        return None, f"the reference solution failed: {run.error}"
    try:
        gold = ast.literal_eval(run.answer)
    except (ValueError, SyntaxError):
        return None, f"the answer is not a plain value: {run.answer[:100]!r}"
    if problem := _invalid(task, gold):
        return None, problem
    equal, _ = same_answer(task, render_answer(gold), task.answer)
    if equal:
        return None, "the answer does not move: it equals the original's"
    return gold, None


def _invalid(task: Task, gold: Any) -> str | None:
    """Why ``gold`` does not have the original answer's format (type, list length) or is not finite."""
    original = task.answer
    if isinstance(original, (int, float)) and not isinstance(original, bool):
        if not isinstance(gold, (int, float)) or isinstance(gold, bool):
            return f"the answer {gold!r} is not a number, as the guideline asks"
    elif isinstance(original, list):
        if not isinstance(gold, list) or len(gold) != len(original):
            return f"the answer {str(gold)[:80]} is not a list of {len(original)} items, as the guideline asks"
    elif isinstance(original, str) and not isinstance(gold, str):
        return f"the answer {gold!r} is not text, as the guideline asks"
    for value in gold if isinstance(gold, list) else [gold]:
        if isinstance(value, float) and not math.isfinite(value):
            return f"the answer {gold!r} is not finite"
    variant = task.model_copy(update={"answer": gold})
    equal, how = same_answer(variant, render_answer(gold), gold)
    if not equal:
        return f"the answer does not grade as itself under {task.metric}: {how}"
    return None


def _as_task(task: Task, record: dict[str, Any], folder: Path) -> Task:
    info = variant_info(record)
    update: dict[str, Any] = {"data_root": folder / "data", "metadata": {**task.metadata, "variant": info}}
    if task.kind == "answer":
        update["answer"] = record["answer"]
    elif record.get("labels") and task.prediction is not None:
        update["prediction"] = task.prediction.model_copy(update={
            "labels_file": folder / record["labels"], "leaderboard_file": folder / BOARD,
            "leaderboard_key": task.prediction.leaderboard_key or task.id})
    return task.model_copy(update=update)


def variant_info(record: dict[str, Any]) -> dict[str, Any]:
    """What reset's ``info["variant"]`` and the variant task's ``metadata["variant"]`` hold."""
    return {"seed": record["seed"], "used_seed": record["used_seed"], "family": record["family"]}


def _read_record(folder: Path) -> dict[str, Any] | None:
    try:
        return json.loads((folder / "variant.json").read_text())
    except FileNotFoundError:
        return None
    except (OSError, json.JSONDecodeError):  # a damaged entry is rebuilt
        shutil.rmtree(folder, ignore_errors=True)
        return None


def declared(spec: VariantSpec | None) -> str:
    """A declaration in words (for listings): the family and its params, or why there is none."""
    if spec is None:
        return "no family declared"
    if spec.family == NONE:
        return f"none: {spec.reason}"
    params = ", ".join(f"{k}={v}" for k, v in sorted(spec.params.items()))
    return spec.family + (f" ({params})" if params else "")


__all__ = ["FAMILIES", "VariantError", "attempt_seed", "cache_root", "check_spec", "declared", "family", "family_of",
           "sandbox_runner", "stats", "suite_image", "variant_data", "variant_info", "variant_task"]
