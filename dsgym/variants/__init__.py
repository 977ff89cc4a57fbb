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
the metric (``_place_on_board``).  See docs/variants.md.
"""

from __future__ import annotations

import ast
import csv
import hashlib
import io
import json
import math
import os
import shutil
import tempfile
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dsgym.filter import anndata_script
from dsgym.filter.checks import render_answer, same_answer
from dsgym.filter.perturb import DELIMITED, NotPerturbable, file_kind, file_seed, perturb_file
from dsgym.sandbox.base import SandboxError
from dsgym.task import Task, VariantSpec

VARIANT_VERSION = 1  # part of every cache key: bump when a family's output changes
MAX_ATTEMPTS = 4  # seeds tried per requested seed (the requested one, then ``attempt_seed(seed, k)``)
REPLAY_TIMEOUT = 600.0  # seconds for one reference run (a DESeq2 fit on a busy machine takes a while)
NONE = "none"

# counted in this process: tests prove a cached reset replays nothing
stats: Counter[str] = Counter()
_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()
_image_ids: dict[str, str] = {}


class VariantError(Exception):
    """The task cannot give this variant: no family declared, ``none``, or no valid seed (the message says why)."""


# ----- families ------------------------------------------------------------------------------


@dataclass
class Build:
    """One variant being built: the task, its family's params, the seed, where the data goes, and notes."""

    task: Task
    params: dict[str, Any]
    seed: int
    out: Path  # the variant's data folder (mirrors the task's data folder)
    image: str
    notes: dict[str, str] = field(default_factory=dict)
    labels: Path | None = None  # prediction variants: the regenerated hidden labels (host side)
    reference: dict[str, float] | None = None  # prediction variants: the reference solution's metric, both splits


@dataclass(frozen=True)
class Family:
    """A seeded transformation of a task's data.  ``build`` writes every data file into ``Build.out``
    (transformed or unchanged) and notes what it did; ``kinds`` are the task kinds it serves."""

    name: str
    description: str
    build: Callable[[Build], None]
    kinds: tuple[str, ...] = ("answer",)
    params: tuple[str, ...] = ()


FAMILIES: dict[str, Family] = {}


def family(name: str, description: str, *, kinds: tuple[str, ...] = ("answer",),
           params: tuple[str, ...] = ()) -> Callable[[Callable[[Build], None]], Callable[[Build], None]]:
    def register(build: Callable[[Build], None]) -> Callable[[Build], None]:
        FAMILIES[name] = Family(name, description, build, kinds, params)
        return build
    return register


def family_of(task: Task) -> tuple[str | None, str]:
    """The declared family's name and the stated reason (None and the reason when there is none)."""
    spec = task.variant
    if spec is None:
        return None, f"suite {task.suite} declares no variant family for task {task.id}"
    if spec.family == NONE:
        return None, spec.reason
    return spec.family, spec.reason


def check_spec(task: Task) -> list[str]:
    """What is wrong with a task's declaration (unknown family, wrong kind, unknown or bad params)."""
    spec = task.variant
    if spec is None or spec.family == NONE:
        return []
    fam = FAMILIES.get(spec.family)
    if fam is None:
        return [f"variant: unknown family {spec.family!r}; known: {', '.join(sorted(FAMILIES))} or none"]
    problems = []
    if task.kind not in fam.kinds:
        problems.append(f"variant: family {spec.family} does not apply to {task.kind} tasks")
    if unknown := sorted(set(spec.params) - set(fam.params)):
        problems.append(f"variant: family {spec.family} does not take {', '.join(unknown)}"
                        f" (it takes: {', '.join(fam.params) or 'nothing'})")
    fraction = spec.params.get("fraction")
    if fraction is not None and not (isinstance(fraction, (int, float)) and 0 < fraction < 1):
        problems.append(f"variant: fraction must be a number between 0 and 1, not {fraction!r}")
    return problems


def _files_of(build: Build) -> dict[str, Path]:
    """The task's data files the family may transform: ``params["files"]`` if named, else all."""
    paths = build.task.data_paths()
    named = build.params.get("files")
    return {rel: path for rel, path in paths.items() if named is None or rel in named}


def _copy_rest(build: Build, done: set[str]) -> None:
    """Every data file the family left alone goes into the variant unchanged."""
    for rel, path in build.task.data_paths().items():
        if rel not in done:
            _place(path, build.out / rel)


def _place(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if src.is_dir():
        shutil.copytree(src, dst, copy_function=_link_or_copy)
    else:
        _link_or_copy(src, dst)


def _link_or_copy(src: str | Path, dst: str | Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def _row_family(name: str) -> Callable[[Build], None]:
    """The filter's row transformation ``name`` (``dsgym.filter.perturb``) on every table; on AnnData, cells."""
    def build(b: Build) -> None:
        done = set()
        for rel, src in _files_of(b).items():
            dst = b.out / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            try:
                if file_kind(rel) == "anndata":
                    _anndata(src, dst, rel, name, b)
                else:
                    perturb_file(src, dst, name, b.seed, rel)
            except NotPerturbable as exc:
                b.notes[rel] = f"unchanged: {exc}"
                continue
            done.add(rel)
            b.notes[rel] = name
        _copy_rest(b, done)
    return build


family("rows-bootstrap", "rows (cells of an AnnData file) resampled with replacement, same count, source order",
       params=("files",))(_row_family("rows-bootstrap"))
family("rows-subsample", "a random 75% of the rows (cells of an AnnData file) kept, source order",
       params=("files",))(_row_family("rows-subsample"))


def _table(src: Path, rel: str) -> tuple[list[str], list[list[str]], str, str]:
    """A delimited file as (header, rows, delimiter, newline), tokens as written."""
    if file_kind(rel) != "delimited":
        raise NotPerturbable(f"only delimited text tables ({', '.join(DELIMITED)}) are handled")
    text = src.read_bytes().decode("utf-8")
    newline = "\r\n" if "\r\n" in text[:10_000] else "\n"
    delimiter = DELIMITED[Path(rel).suffix.lower()]
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    while rows and not rows[-1]:
        rows.pop()
    if len(rows) < 2:
        raise NotPerturbable("no data rows")
    return rows[0], rows[1:], delimiter, newline


def _write_table(dst: Path, header: list[str], rows: list[list[str]], delimiter: str, newline: str) -> None:
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=delimiter, lineterminator=newline)
    writer.writerow(header)
    writer.writerows(rows)
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_text(out.getvalue(), encoding="utf-8", newline="")


def _table_family(transform: Callable[[list[str], list[list[str]], Build, np.random.Generator, str],
                                      tuple[list[list[str]], str]]) -> Callable[[Build], None]:
    """A family that rewrites delimited tables row by row; files it does not apply to stay as they are."""
    def build(b: Build) -> None:
        done = set()
        for rel, src in _files_of(b).items():
            try:
                header, rows, delimiter, newline = _table(src, rel)
                rng = np.random.default_rng(file_seed(b.seed, b.task.variant.family, rel))
                new_rows, note = transform(header, rows, b, rng, rel)
            except NotPerturbable as exc:
                b.notes[rel] = f"unchanged: {exc}"
                continue
            _write_table(b.out / rel, header, new_rows, delimiter, newline)
            done.add(rel)
            b.notes[rel] = note
        _copy_rest(b, done)
    return build


def _column(header: list[str], name: Any, rel: str) -> int:
    if name not in header:
        raise NotPerturbable(f"no column {name!r}")
    return header.index(name)


@family("rows-window", "a contiguous window of a time series: a seeded 0..max_start rows cut at the start and "
        "0..max_end at the end", params=("max_start", "max_end", "files"))
def _window(b: Build) -> None:
    def cut(header, rows, b, rng, rel):
        start = int(rng.integers(0, int(b.params.get("max_start", 0)) + 1))
        end = int(rng.integers(0, int(b.params.get("max_end", 0)) + 1))
        if len(rows) - start - end < 3:
            raise NotPerturbable("the window would leave fewer than 3 rows")
        return rows[start:len(rows) - end], f"rows {start + 1}..{len(rows) - end} of {len(rows)} kept"
    _table_family(cut)(b)


@family("units-subsample", "a seeded share of the units of a panel kept with all their rows (units named in "
        "'always' are always kept)", params=("column", "fraction", "always", "files"))
def _units(b: Build) -> None:
    def keep(header, rows, b, rng, rel):
        col = _column(header, b.params.get("column"), rel)
        units = list(dict.fromkeys(row[col] for row in rows))
        always = [u for u in units if u in set(b.params.get("always", []))]
        others = [u for u in units if u not in always]
        size = max(1, round(len(units) * float(b.params.get("fraction", 0.8))) - len(always))
        if len(others) < 2 or size >= len(others):
            raise NotPerturbable("too few units to subsample")
        kept = set(always) | {others[i] for i in rng.choice(len(others), size=size, replace=False)}
        return [row for row in rows if row[col] in kept], f"{len(kept)} of {len(units)} units kept"
    _table_family(keep)(b)


@family("values-holdout", "a further seeded share of one column's recorded values left empty (as missing)",
        params=("column", "fraction", "files"))
def _holdout(b: Build) -> None:
    def hold(header, rows, b, rng, rel):
        col = _column(header, b.params.get("column"), rel)
        present = [i for i, row in enumerate(rows) if row[col].strip()]
        count = round(len(present) * float(b.params.get("fraction", 0.1)))
        if count < 1:
            raise NotPerturbable("no recorded values to hold out")
        held = {present[i] for i in rng.choice(len(present), size=count, replace=False)}
        out = [[("" if i in held and c == col else v) for c, v in enumerate(row)] for i, row in enumerate(rows)]
        return out, f"{count} of {len(present)} recorded {header[col]} values left empty"
    _table_family(hold)(b)


@family("counts-thinning", "every integer count binomially thinned (each read kept with probability 'fraction')",
        params=("fraction", "files"))
def _thin(b: Build) -> None:
    def thin(header, rows, b, rng, rel):
        p = float(b.params.get("fraction", 0.8))
        counts = [c for c in range(len(header)) if all(row[c].isdigit() for row in rows)]
        if not counts:
            raise NotPerturbable("no column of non-negative integer counts")
        out = [list(row) for row in rows]
        for c in counts:
            values = rng.binomial(np.array([int(row[c]) for row in rows]), p)
            for row, value in zip(out, values):
                row[c] = str(int(value))
        return out, f"{len(counts)} count columns thinned with p = {p:g}"
    _table_family(thin)(b)


def _anndata(src: Path, dst: Path, rel: str, name: str, b: Build) -> None:
    """The filter's AnnData transformation ``name`` (cells), run in a sandbox of the suite's image; shared by
    every task that uses the same file (cached by file digest, transformation, seed and image)."""
    seed = file_seed(b.seed, name, rel)
    key = _digest({"file": _file_digest(src), "name": name, "seed": seed, "image": _image_id(b.image),
                   "version": VARIANT_VERSION})
    cached = cache_root() / "files" / key / Path(rel).name
    with _lock(key):
        if not cached.exists():
            runner = _runner(b.image)
            call = f"make_all({'/data/' + rel!r}, '/workspace/variant', {[(name, seed)]!r})"
            tmp = cached.parent.with_name(key + ".tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
            try:
                report, copied = runner.script(Path(anndata_script.__file__).read_text(), call, {rel: src},
                                               fetch=lambda value: {v["path"]: tmp / Path(rel).name
                                                                    for v in value.values() if "path" in v})
            except RuntimeError as exc:
                shutil.rmtree(tmp, ignore_errors=True)
                raise NotPerturbable(str(exc)) from None
            entry = report.get(name, {})
            if "path" not in entry or copied.get(entry["path"]) is None:
                shutil.rmtree(tmp, ignore_errors=True)
                raise NotPerturbable(entry.get("error", "the AnnData transformation gave no file"))
            stats["anndata_builds"] += 1
            shutil.rmtree(cached.parent, ignore_errors=True)
            tmp.rename(cached.parent)
    _link_or_copy(cached, dst)


# ----- prediction tasks: a re-drawn split ------------------------------------------------------


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
    train_h, train_rows, delim, newline = _table(src / "train.csv", "train.csv")
    test_h, test_rows, _, _ = _table(src / "test.csv", "test.csv")
    label_h, label_rows, _, _ = _table(Path(spec.labels_file), "labels.csv")
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
    _write_table(out / "train.csv", train_h, train_new, delim, newline)
    _write_table(out / "test.csv", test_h, [[dict(zip(train_h, r))[c] for c in test_h] for r in test_new],
                 delim, newline)
    labels_out = b.out.parent / "labels.csv"
    _write_table(labels_out, label_h, [encode.encode(dict(zip(train_h, r)), label_h, idc) for r in test_new],
                 ",", "\n")
    b.labels = labels_out
    if spec.sample_submission:
        _sample(task.data_root / spec.sample_submission, b.out / spec.sample_submission, idc,
                [dict(zip(train_h, r))[idc] for r in test_new])
    done = {"train.csv", "test.csv", Path(spec.sample_submission or "").name}
    for path in sorted(src.iterdir()):
        if path.name not in done:
            _place(path, out / path.name)
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
    label_h, label_rows, _, _ = _table(Path(spec.labels_file), "labels.csv")
    hidden = {row[label_h.index(idc)]: row[label_h.index(target)] for row in label_rows}
    out = b.out / folder
    out.mkdir(parents=True, exist_ok=True)
    seed = file_seed(b.seed, "split-redraw", folder)
    call = f"redraw({'/data/' + folder!r}, {target!r}, {hidden!r}, {seed}, '/workspace/variant')"
    try:
        value, copied = _runner(b.image).script(
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
    _write_table(b.labels, [idc, target], [[i, label] for i, label in zip(value["ids"], value["labels"])],
                 ",", "\n")
    if spec.sample_submission:
        _sample(b.task.data_root / spec.sample_submission, b.out / spec.sample_submission, idc, value["ids"])
    for path in sorted(src.iterdir()):
        if path.name not in {"train.h5ad", "test.h5ad", Path(spec.sample_submission or "").name}:
            _place(path, out / path.name)
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
    header, rows, delim, newline = _table(src, src.name)
    first = dict(zip(header, rows[0]))
    _write_table(dst, header, [[i if c == idc else first[c] for c in header] for i in ids], delim, newline)


BOARD = "leaderboard.json"
RUN_SOLUTION = """
def __dsgym_reference(code, path):
    import os
    exec(compile(code, 'reference_solution', 'exec'), {'__name__': '__main__'})
    return path if os.path.isfile(path) else None
"""


def _place_on_board(task: Task, build: Build, tmp: Path, folder: Path) -> str | None:
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
                                 cache_root() / task.suite / task.id / f"reference-{_digest(task_digest(task))}.json")
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
            value, copied = _runner(image).script(RUN_SOLUTION, f"__dsgym_reference({task.solution!r}, {target!r})",
                                                  files, fetch=lambda path: {path: copy} if path else {})
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


# ----- building, replaying, checking, caching --------------------------------------------------


def cache_root() -> Path:
    """Where variants are kept: ``<dsgym home>/variants`` (``$DSGYM_HOME``, else the user cache)."""
    from dsgym.fetching import home

    return home() / "variants"


def attempt_seed(seed: int, attempt: int) -> int:
    """The seed tried at ``attempt`` (0: the requested one): a fixed sequence, so a rejected seed is always
    replaced by the same next one."""
    if attempt == 0:
        return seed
    return int.from_bytes(hashlib.sha256(f"{seed}\0{attempt}".encode()).digest()[:4], "big") & 0x7FFFFFFF


def variant_task(task: Task, seed: int, *, image: str | None = None) -> Task:
    """``task``'s variant ``seed``: its data built on the host, its gold replayed in the suite's image, cached.

    ``image`` is the sandbox image tag to replay in (default: the suite's image).  Raises
    ``VariantError`` when the task declares no family (or ``none``) or no seed of the
    fixed sequence gives a valid variant; the message says why.
    """
    name, reason = family_of(task)
    if name is None:
        raise VariantError(f"task {task.env_id} has no variants: {reason}")
    if problems := check_spec(task):
        raise VariantError(f"task {task.env_id}: {'; '.join(problems)}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise VariantError(f"a variant seed is a non-negative integer, not {seed!r}")
    seed = int(seed)
    tag = image or _suite_image(task)
    assert task.variant is not None
    key = _digest({"task": task_digest(task), "family": task.variant.family, "params": task.variant.params,
                   "seed": seed, "image": _image_id(tag),
                   "version": VARIANT_VERSION})
    folder = cache_root() / task.suite / task.id / key
    with _lock(key):
        record = _read_record(folder)
        if record is None:
            record = _make(task, seed, tag, folder)
    if "error" in record:
        raise VariantError(record["error"])
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
    name, reason = family_of(task)
    if name is None:
        raise VariantError(f"task {task.env_id} has no variants: {reason}")
    if problems := check_spec(task):
        raise VariantError(f"task {task.env_id}: {'; '.join(problems)}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise VariantError(f"a variant seed is a non-negative integer, not {seed!r}")
    seed, tag = int(seed), image or _suite_image(task)
    assert task.variant is not None
    files = {rel: _file_digest(path) for rel, path in task.data_paths().items()}
    key = _digest({"files": files, "family": name, "params": task.variant.params, "seed": seed,
                   "image": _image_id(tag), "version": VARIANT_VERSION})
    folder = cache_root() / "data" / key
    with _lock(key):
        record = _read_record(folder)
        if record is None:
            record = _make_data(task, seed, tag, folder)
    if "error" in record:
        raise VariantError(record["error"])
    return task.model_copy(update={"data_root": folder / "data", "answer": None,
                                   "metadata": {**task.metadata, "variant": variant_info(record)}})


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
                problem = _place_on_board(task, build, tmp, folder)
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
    run = _runner(build.image).solution(task.solution + "\n" + PLAIN, files)
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


# ----- keys ------------------------------------------------------------------------------------


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:32]


_file_digests: dict[tuple[str, int, int], str] = {}


def _file_digest(path: Path) -> str:
    """sha256 of a file (or of a folder's files and names), remembered by path, size and mtime."""
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _file_digests:
        digest = hashlib.sha256()
        paths = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for p in paths:
            digest.update(str(p.relative_to(path) if path.is_dir() else "").encode() + b"\0")
            with p.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
        _file_digests[key] = digest.hexdigest()
    return _file_digests[key]


def task_digest(task: Task) -> str:
    """The task as posed (question, solution, answer, files' contents, labels): what its variants depend on."""
    files = {rel: _file_digest(path) for rel, path in task.data_paths().items()}
    labels = task.prediction.labels_file if task.prediction else None
    return _digest({"task": task.model_dump(mode="json"), "files": files,
                    "labels": _file_digest(Path(labels)) if labels else None})


def _lock(key: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(key, threading.Lock())


def _suite_image(task: Task) -> str:
    from dsgym import registry
    from dsgym.sandbox.images import image_tag

    try:
        name = registry.get_suite(task.suite).image
    except (KeyError, ValueError, LookupError):
        name = "default"
    return image_tag(name)


def _image_id(tag: str) -> str:
    """The image's content id (so a rebuilt image gives new golds); the tag itself for non-Docker sandboxes."""
    if tag not in _image_ids:
        kind = os.environ.get("DSGYM_SANDBOX") or "docker"
        if kind != "docker":
            _image_ids[tag] = f"{kind}:{tag}"
        else:
            import docker

            try:
                _image_ids[tag] = docker.from_env().images.get(tag).id
            except docker.errors.ImageNotFound as exc:
                raise VariantError(f"sandbox image {tag} is not built: run dsgym sandbox build") from exc
            except docker.errors.DockerException as exc:
                raise VariantError(f"cannot reach Docker to look up image {tag}: {exc}") from exc
    return _image_ids[tag]


_factories: dict[str, Callable[[], Any]] = {}


def _runner(image: str):
    """A runner of fresh sandboxes of ``image`` (the sandbox kind of ``$DSGYM_SANDBOX``, else Docker)."""
    from dsgym.filter.execution import SandboxRunner
    from dsgym.sandbox.spec import SandboxSpec

    if image not in _factories:
        _factories[image] = SandboxSpec(None, image).factory()
    return SandboxRunner(_factories[image], REPLAY_TIMEOUT)


def declared(spec: VariantSpec | None) -> str:
    """A declaration in words (for listings): the family and its params, or why there is none."""
    if spec is None:
        return "no family declared"
    if spec.family == NONE:
        return f"none: {spec.reason}"
    params = ", ".join(f"{k}={v}" for k, v in sorted(spec.params.items()))
    return spec.family + (f" ({params})" if params else "")
