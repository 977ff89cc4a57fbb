"""The families of seeded data transformations, registered by name (``@family``), and the declarations' checks.

A family writes every data file of a task into the variant's folder, transformed or
unchanged, and notes what it did.  Row families reuse the filter's perturbations
(``dsgym.filter.perturb``); AnnData files are transformed inside the suite's image.
Prediction tasks' ``split-redraw`` lives in ``dsgym.variants.redraw``.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dsgym.filter import anndata_script
from dsgym.filter.perturb import DELIMITED, NotPerturbable, file_kind, file_seed, perturb_file
from dsgym.task import Task
from dsgym.variants.cache import VARIANT_VERSION, cache_root, digest, file_digest, image_id, lock, sandbox_runner, stats

NONE = "none"


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
            place(path, build.out / rel)


def place(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if src.is_dir():
        shutil.copytree(src, dst, copy_function=link_or_copy)
    else:
        link_or_copy(src, dst)


def link_or_copy(src: str | Path, dst: str | Path) -> None:
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


def read_table(src: Path, rel: str) -> tuple[list[str], list[list[str]], str, str]:
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


def write_table(dst: Path, header: list[str], rows: list[list[str]], delimiter: str, newline: str) -> None:
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
                header, rows, delimiter, newline = read_table(src, rel)
                rng = np.random.default_rng(file_seed(b.seed, b.task.variant.family, rel))
                new_rows, note = transform(header, rows, b, rng, rel)
            except NotPerturbable as exc:
                b.notes[rel] = f"unchanged: {exc}"
                continue
            write_table(b.out / rel, header, new_rows, delimiter, newline)
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
    key = digest({"file": file_digest(src), "name": name, "seed": seed, "image": image_id(b.image),
                  "version": VARIANT_VERSION})
    cached = cache_root() / "files" / key / Path(rel).name
    with lock(key):
        if not cached.exists():
            replayer = sandbox_runner(b.image)
            call = f"make_all({'/data/' + rel!r}, '/workspace/variant', {[(name, seed)]!r})"
            tmp = cached.parent.with_name(key + ".tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
            try:
                report, copied = replayer.script(Path(anndata_script.__file__).read_text(), call, {rel: src},
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
    link_or_copy(cached, dst)
