"""``split-redraw``: a prediction task's train/test split drawn again, hidden labels regenerated on the host.

The full labelled data (train plus the hidden labels) is re-split with the same sizes and
columns, stratified on the target; the reference solution is replayed on the original and
the new split, and the original leaderboard's baselines move by its change in the metric
(``place_on_board``), so a variant's score means what the original's does (docs/variants.md).
"""

from __future__ import annotations

import json
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dsgym.filter.perturb import NotPerturbable, file_seed
from dsgym.sandbox.base import SandboxError
from dsgym.task import Task
from dsgym.variants.cache import VariantError, cache_root, digest, sandbox_runner, stats, task_digest
from dsgym.variants.families import Build, family, place, read_table, write_table


@family("split-redraw", "the train/test split re-drawn with the same sizes (stratified on the target or its "
        "quantiles when asked); hidden labels regenerated on the host from the full labelled data",
        kinds=("prediction",), params=("stratify", "files"))
def _redraw(b: Build) -> None:
    task, spec = b.task, b.task.prediction
    assert spec is not None and spec.labels_file is not None
    folder = _split_folder(task)
    src = task.data_root / folder
    if (src / "train.h5ad").is_file():
        _redraw_anndata(b, folder, src)
        return
    train_h, train_rows, delim, newline = read_table(src / "train.csv", "train.csv")
    test_h, test_rows, _, _ = read_table(src / "test.csv", "test.csv")
    label_h, label_rows, _, _ = read_table(Path(spec.labels_file), "labels.csv")
    idc = spec.id_column
    targets = [c for c in train_h if c not in test_h]
    if not targets or idc not in train_h or idc not in test_h:
        raise NotPerturbable("train.csv has no target column beyond test.csv's, or no id column")
    # the full labelled table in train.csv's layout: test rows get their targets back from the hidden labels
    encode = _label_encoding(targets, spec.target_columns,
                             {t: {row[train_h.index(t)] for row in train_rows} for t in targets})
    labels = {row[label_h.index(idc)]: row for row in label_rows}
    full = [list(row) for row in train_rows]
    for row in test_rows:
        hidden = labels.get(row[test_h.index(idc)])
        if hidden is None:
            raise NotPerturbable(f"test id {row[test_h.index(idc)]} has no hidden label")
        record = dict(zip(test_h, row))
        record.update(encode.decode(dict(zip(label_h, hidden))))
        full.append([record[c] for c in train_h])
    rng = np.random.default_rng(file_seed(b.seed, "split-redraw", folder))
    test_idx = rng.permutation(_draw_test(full, train_h, targets, len(test_rows), b.params.get("stratify"), rng))
    chosen = set(test_idx.tolist())
    train_new = [full[i] for i in rng.permutation(len(full)) if i not in chosen]
    test_new = [full[i] for i in test_idx]
    out = b.out / folder
    out.mkdir(parents=True, exist_ok=True)
    write_table(out / "train.csv", train_h, train_new, delim, newline)
    write_table(out / "test.csv", test_h, [[dict(zip(train_h, r))[c] for c in test_h] for r in test_new],
                delim, newline)
    labels_out = b.out.parent / "labels.csv"
    write_table(labels_out, label_h, [encode.encode(dict(zip(train_h, r)), label_h, idc) for r in test_new],
                ",", "\n")
    b.labels = labels_out
    if spec.sample_submission:
        _sample(task.data_root / spec.sample_submission, b.out / spec.sample_submission, idc,
                [dict(zip(train_h, r))[idc] for r in test_new])
    done = {"train.csv", "test.csv", Path(spec.sample_submission or "").name}
    for path in sorted(src.iterdir()):
        if path.name not in done:
            place(path, out / path.name)
    b.notes[folder] = f"split re-drawn: {len(train_new)} train / {len(test_new)} test rows"


def _split_folder(task: Task) -> str:
    folder = task.data_root / task.data_files[0] if len(task.data_files) == 1 else None
    if folder is None or not any((folder / f"train.{ext}").is_file() for ext in ("csv", "h5ad")):
        raise NotPerturbable("split-redraw needs one data folder holding train and test (.csv or .h5ad)")
    return task.data_files[0]


def _redraw_anndata(b: Build, folder: str, src: Path) -> None:
    """``train.h5ad``/``test.h5ad`` re-drawn inside the suite's image (``anndata_split``); labels back on the host."""
    from dsgym.variants import anndata_split

    spec = b.task.prediction
    assert spec is not None and spec.labels_file is not None and len(spec.target_columns) == 1
    target, idc = spec.target_columns[0], spec.id_column
    label_h, label_rows, _, _ = read_table(Path(spec.labels_file), "labels.csv")
    hidden = {row[label_h.index(idc)]: row[label_h.index(target)] for row in label_rows}
    out = b.out / folder
    out.mkdir(parents=True, exist_ok=True)
    seed = file_seed(b.seed, "split-redraw", folder)
    call = f"redraw({'/data/' + folder!r}, {target!r}, {hidden!r}, {seed}, '/workspace/variant')"
    try:
        value, copied = sandbox_runner(b.image).script(
            Path(anndata_split.__file__).read_text(), call, {folder: src},
            fetch=lambda v: {path: out / name for name, path in v["paths"].items()})
    except RuntimeError as exc:
        raise NotPerturbable(f"the AnnData split could not be re-drawn: {exc}") from None
    except SandboxError as exc:
        raise VariantError(f"task {b.task.env_id}: the sandbox failed while re-drawing the split: {exc}") from exc
    if any(size is None for size in copied.values()):
        raise NotPerturbable("the re-drawn AnnData files were not written")
    stats["anndata_builds"] += 1
    b.labels = b.out.parent / "labels.csv"
    write_table(b.labels, [idc, target], [[i, label] for i, label in zip(value["ids"], value["labels"])],
                ",", "\n")
    if spec.sample_submission:
        _sample(b.task.data_root / spec.sample_submission, b.out / spec.sample_submission, idc, value["ids"])
    for path in sorted(src.iterdir()):
        if path.name not in {"train.h5ad", "test.h5ad", Path(spec.sample_submission or "").name}:
            place(path, out / path.name)
    b.notes[folder] = f"split re-drawn in the image: {value['train']} train / {len(value['ids'])} test cells"


@dataclass
class _Encoding:
    """How train.csv's target columns map to the hidden labels' columns (the same, or one-hot)."""

    targets: list[str]
    onehot: dict[str, list[tuple[str, str]]]  # train column -> [(label column, value)]

    def decode(self, hidden: dict[str, str]) -> dict[str, str]:
        out = {t: hidden[t] for t in self.targets if t not in self.onehot}
        for t, columns in self.onehot.items():
            hot = [value for column, value in columns if float(hidden[column]) == 1.0]
            if len(hot) != 1:
                raise NotPerturbable(f"hidden one-hot labels of {t} are not one-hot")
            out[t] = hot[0]
        return out

    def encode(self, row: dict[str, str], label_h: list[str], idc: str) -> list[str]:
        values = {idc: row[idc], **{t: row[t] for t in self.targets if t not in self.onehot}}
        for t, columns in self.onehot.items():
            values.update({column: "1" if row[t] == value else "0" for column, value in columns})
        return [values[c] for c in label_h]


def _label_encoding(targets: list[str], label_columns: list[str], values: dict[str, set[str]]) -> _Encoding:
    """Train targets kept as they are, or one-hot in the labels (one column per class, named by the class as
    train.csv writes it, or ``<target>_<class>``)."""
    onehot: dict[str, list[tuple[str, str]]] = {}
    for t in targets:
        if t in label_columns:
            continue
        if values[t] <= set(label_columns):
            columns = [(c, c) for c in label_columns]
        else:
            columns = [(c, c[len(t) + 1:]) for c in label_columns if c.startswith(t + "_")]
        if not columns:
            raise NotPerturbable(f"train target {t} is not among the hidden label columns")
        onehot[t] = columns
    return _Encoding(targets, onehot)


def _draw_test(full: list[list[str]], header: list[str], targets: list[str], size: int, stratify: Any,
               rng: np.random.Generator) -> np.ndarray:
    """Test row indices: a seeded draw of ``size`` rows, stratified on the target ("target") or on its quintiles
    ("quantiles"), proportionally per stratum (largest remainders)."""
    n = len(full)
    if not stratify:
        return np.sort(rng.choice(n, size=size, replace=False))
    values = [row[header.index(targets[0])] for row in full]
    if stratify == "quantiles":
        numbers = np.array([float(v) for v in values])
        edges = np.quantile(numbers, [0.2, 0.4, 0.6, 0.8])
        strata = np.searchsorted(edges, numbers, side="right").astype(str).tolist()
    else:
        strata = values
    groups: dict[str, list[int]] = {}
    for i, s in enumerate(strata):
        groups.setdefault(s, []).append(i)
    names = sorted(groups)
    quota = np.array([len(groups[g]) * size / n for g in names])
    take = np.floor(quota).astype(int)
    for k in np.argsort(-(quota - take), kind="stable")[: size - take.sum()]:
        take[k] += 1
    picked = [np.array(groups[g])[rng.choice(len(groups[g]), size=t, replace=False)]
              for g, t in zip(names, take)]
    return np.sort(np.concatenate(picked))


def _sample(src: Path, dst: Path, idc: str, ids: list[str]) -> None:
    """A sample submission for the new test ids, each row holding the original sample's first row's values."""
    header, rows, delim, newline = read_table(src, src.name)
    first = dict(zip(header, rows[0]))
    write_table(dst, header, [[i if c == idc else first[c] for c in header] for i in ids], delim, newline)


BOARD = "leaderboard.json"
RUN_SOLUTION = """


def __dsgym_reference(code, path):
    import os
    exec(compile(code, 'reference_solution', 'exec'), {'__name__': '__main__'})
    return path if os.path.isfile(path) else None
"""


def place_on_board(task: Task, build: Build, tmp: Path, folder: Path) -> str | None:
    """A prediction variant's leaderboard: the original's baselines, each moved by what the reference solution
    gained or lost between the original split and the variant's (both runs in the suite's image).

    The baselines were fitted once, on the original split (tasks/dspredict-lite/build.py), and are
    too costly to refit per variant; moving them with the reference keeps a score's meaning: a
    submission that does as well as the reference on the variant stands where the reference
    stands on the original board.  Writes ``leaderboard.json`` into ``tmp``; a failed reference
    run rejects the seed (the reason).
    """
    spec = task.prediction
    assert spec is not None and build.labels is not None
    if spec.leaderboard_file is None:
        return None  # no board: a valid submission scores 1.0, as for the original
    original = _reference_metric(task, task.data_paths(), Path(spec.labels_file), build.image,
                                 cache_root() / task.suite / task.id / f"reference-{digest(task_digest(task))}.json")
    if isinstance(original, str):
        raise VariantError(f"task {task.env_id}: the reference solution fails on the original split: {original}")
    moved = _reference_metric(task, {rel: build.out / rel for rel in task.data_files}, build.labels, build.image)
    if isinstance(moved, str):
        return moved
    key = spec.leaderboard_key or task.id
    stats_all = json.loads(Path(spec.leaderboard_file).read_text())
    if key not in stats_all:
        raise VariantError(f"task {task.env_id}: leaderboard {spec.leaderboard_file} has no entry {key!r}")
    shift = moved - original
    board = dict(stats_all[key])
    for name in ("public_scores", "private_scores"):
        board[name] = [value + shift for value in board.get(name, [])]
    for name in ("public_mean", "public_median", "private_mean", "private_median"):
        if board.get(name.split("_")[0] + "_scores") and isinstance(board.get(name), (int, float)):
            board[name] += shift
    if isinstance(board.get("entries"), list):
        board["entries"] = [{**e, "score": e["score"] + shift} if isinstance(e, dict) and "score" in e else e
                            for e in board["entries"]]
    board["variant_note"] = (f"the original split's baselines moved by {shift:+.6g}, the reference solution's "
                             f"change in {task.metric} ({original:.6g} on the original split, {moved:.6g} here)")
    (tmp / BOARD).write_text(json.dumps({key: board}, indent=1))
    build.reference = {"original": original, "variant": moved}
    return None


def _reference_metric(task: Task, files: dict[str, Path], labels: Path, image: str,
                      cache: Path | None = None) -> float | str:
    """The metric of the reference solution's submission against ``labels`` (or why there is none)."""
    if cache is not None and cache.is_file():
        return json.loads(cache.read_text())["metric_value"]
    spec = task.prediction
    assert spec is not None
    if not task.solution:
        return "the task has no reference solution to replay"
    from dsgym.grading import grade

    stats["replays"] += 1
    target = f"/workspace/{spec.submission_file}"
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / "submission"
        try:
            call = f"__dsgym_reference({task.solution!r}, {target!r})"
            value, copied = sandbox_runner(image).script(RUN_SOLUTION, call, files,
                                                         fetch=lambda path: {path: copy} if path else {})
        except RuntimeError as exc:
            return f"the reference solution failed: {exc}"[:500]
        except SandboxError as exc:
            raise VariantError(f"task {task.env_id}: the sandbox failed while replaying: {exc}") from exc
        if value is None or copied.get(value) is None:
            return f"the reference solution wrote no {spec.submission_file}"
        unboarded = task.model_copy(update={"prediction": spec.model_copy(
            update={"labels_file": labels, "leaderboard_file": None})})
        score = grade(unboarded, submission=copy)
    if not score.breakdown.get("valid") or not math.isfinite(float(score.breakdown.get("metric_value", "nan"))):
        return f"the reference submission is not valid: {score.breakdown.get('reason', score.breakdown)}"[:500]
    metric = float(score.breakdown["metric_value"])
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps({"metric_value": metric}))
    return metric
