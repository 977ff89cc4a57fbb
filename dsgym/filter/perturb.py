"""Perturbed copies of a task's data files, for the data-grounding check.

Every perturbation is a named, seeded transformation of one file; a task's run
under a perturbation sees every one of its data files transformed by it (files
of a kind that cannot be perturbed stay as they are).  The names, in the order
the grounding check tries them:

* ``rows-bootstrap``  - rows resampled with replacement (same count, original order kept)
* ``numeric-permute`` - each numeric column shuffled across rows on its own
* ``labels-permute``  - categorical columns relabelled by a cyclic shift of their sorted values
* ``numeric-affine``  - numeric columns scaled (and floats shifted)
* ``rows-subsample``  - a random 75% of the rows kept (original order)

File kinds: delimited text (``.csv``, ``.tsv``, ``.tab``: read as text with the
``csv`` module so untouched columns keep their exact spelling), whitespace
tables (``.txt``, ``.dat``: ``#`` comment lines and the column alignment are
kept), parquet (pandas), and AnnData (``.h5ad``: transformed inside the suite's
sandbox image by ``dsgym.filter.anndata_script``; see ``docs/filter.md``).
Anything else is left unperturbed, with the reason recorded.

The seed of a file's perturbation is derived from the run's seed, the
perturbation's name and the file's relative path, so the same file gets the
same perturbed copy in every task that uses it and in every rerun.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

PERTURBATIONS = ("rows-bootstrap", "numeric-permute", "labels-permute", "numeric-affine", "rows-subsample")
PERTURBATION_VERSION = 2  # part of the resume key: bump when a perturbation's output changes
DELIMITED = {".csv": ",", ".tsv": "\t", ".tab": "\t"}
WHITESPACE = {".txt", ".dat"}
PARQUET = {".parquet", ".pq"}
ANNDATA = {".h5ad"}
MISSING = {"", "na", "n/a", "nan", "null", "none", "?"}
INT = re.compile(r"^[+-]?\d+$")
SUBSAMPLE_FRACTION = 0.75
SCALE = 1.1  # numeric-affine: x -> 1.1 x + 0.25 sd(x) for floats, round(1.1 x) for integers
SHIFT_SDS = 0.25
MAX_CODES = 10  # an integer column with at most this many distinct values is a code (a label)
MAX_LABELS = 50  # a text column with at most this many distinct values (repeating) is categorical


class NotPerturbable(Exception):
    """This file cannot be perturbed this way; the message says why (recorded as a note)."""


def file_kind(rel: str) -> str | None:
    suffix = Path(rel).suffix.lower()
    if suffix in DELIMITED:
        return "delimited"
    if suffix in WHITESPACE:
        return "whitespace"
    if suffix in PARQUET:
        return "parquet"
    if suffix in ANNDATA:
        return "anndata"
    return None


def file_seed(seed: int, perturbation: str, rel: str) -> int:
    digest = hashlib.sha256(f"{seed}\0{perturbation}\0{rel}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


# ----- columns of text tokens ---------------------------------------------------------------


def _number(token: str) -> float | None:
    if token.strip().lower() in MISSING:
        return None
    try:
        value = float(token)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


@dataclass
class TextColumn:
    """One column of a text table: its tokens, and what they are."""

    tokens: list[str]

    def __post_init__(self) -> None:
        self.present = [i for i, t in enumerate(self.tokens) if t.strip().lower() not in MISSING]
        values = [_number(self.tokens[i]) for i in self.present]
        self.numeric = bool(self.present) and all(v is not None for v in values)
        self.values = np.array(values, dtype=float) if self.numeric else None
        self.integer = self.numeric and all(INT.match(self.tokens[i].strip()) for i in self.present)
        self.distinct = sorted({self.tokens[i] for i in self.present})

    @property
    def categorical(self) -> bool:
        if self.integer:
            return 2 <= len(set(self.values.tolist())) <= MAX_CODES
        if self.numeric:
            return False
        return 2 <= len(self.distinct) <= MAX_LABELS and len(self.distinct) <= len(self.present) / 2

    def replaced(self, values: list[str]) -> list[str]:
        out = list(self.tokens)
        for i, value in zip(self.present, values):
            out[i] = value
        return out


def _format(value: float, integer: bool) -> str:
    if integer:
        return str(int(round(value)))
    return f"{value:.12g}"


def _permute_numeric(column: TextColumn, rng: np.random.Generator) -> list[str]:
    if not column.numeric or len(column.present) < 2:
        return column.tokens
    order = rng.permutation(len(column.present))
    return column.replaced([column.tokens[column.present[j]] for j in order])


def _affine(column: TextColumn, rng: np.random.Generator) -> list[str]:
    if not column.numeric or column.categorical:
        return column.tokens
    values = column.values
    if column.integer:
        return column.replaced([_format(v * SCALE, True) for v in values])
    sd = float(np.std(values)) or 1.0
    return column.replaced([_format(v * SCALE + SHIFT_SDS * sd, False) for v in values])


def _relabel(column: TextColumn, rng: np.random.Generator) -> list[str]:
    if not column.categorical:
        return column.tokens
    if column.integer:  # codes: permute the distinct values, compared as numbers
        codes = sorted({int(round(v)) for v in column.values})
        shift = {str(c): str(codes[(k + 1) % len(codes)]) for k, c in enumerate(codes)}
        return column.replaced([shift[str(int(round(v)))] for v in column.values])
    labels = column.distinct
    shift = {label: labels[(k + 1) % len(labels)] for k, label in enumerate(labels)}
    return column.replaced([shift[column.tokens[i]] for i in column.present])


COLUMN_OPS: dict[str, Callable[[TextColumn, np.random.Generator], list[str]]] = {
    "numeric-permute": _permute_numeric,
    "numeric-affine": _affine,
    "labels-permute": _relabel,
}


def row_selection(perturbation: str, n: int, rng: np.random.Generator) -> np.ndarray | None:
    """Row indices for a row perturbation (None for a column perturbation)."""
    if perturbation == "rows-bootstrap":
        if n < 2:
            raise NotPerturbable("fewer than 2 rows")
        return np.sort(rng.choice(n, size=n, replace=True))
    if perturbation == "rows-subsample":
        if n < 4:
            raise NotPerturbable("fewer than 4 rows")
        keep = max(1, int(round(n * SUBSAMPLE_FRACTION)))
        return np.sort(rng.choice(n, size=keep, replace=False))
    return None


def perturb_rows(rows: list[list[str]], perturbation: str, rng: np.random.Generator) -> list[list[str]]:
    """A table of text tokens (data rows only) under ``perturbation``."""
    selection = row_selection(perturbation, len(rows), rng)
    if selection is not None:
        return [list(rows[i]) for i in selection]
    op = COLUMN_OPS[perturbation]
    width = len(rows[0]) if rows else 0
    columns = [op(TextColumn([row[c] for row in rows]), rng) for c in range(width)]
    return [[columns[c][r] for c in range(width)] for r in range(len(rows))]


# ----- file formats --------------------------------------------------------------------------


def _read_text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NotPerturbable(f"not UTF-8 text ({exc.reason})") from None


def perturb_delimited(src: Path, dst: Path, perturbation: str, rng: np.random.Generator, delimiter: str) -> None:
    text = _read_text(src)
    newline = "\r\n" if "\r\n" in text[:10_000] else "\n"
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    while rows and not rows[-1]:
        rows.pop()
    if len(rows) < 2:
        raise NotPerturbable("no data rows")
    header, body = rows[0], rows[1:]
    if any(len(row) != len(header) for row in body):
        raise NotPerturbable("rows of different lengths")
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=delimiter, lineterminator=newline)
    writer.writerow(header)
    writer.writerows(perturb_rows(body, perturbation, rng))
    dst.write_text(out.getvalue(), encoding="utf-8", newline="")


TOKEN = re.compile(r"\S+")


def _rejoin(line: str, tokens: list[str]) -> str:
    """``line`` with its tokens replaced, each right-aligned in the width its original occupied."""
    out, previous_end = [], 0
    for match, token in zip(TOKEN.finditer(line), tokens):
        width = match.end() - previous_end
        if previous_end == 0 and match.start() == 0:
            piece = token
        else:
            piece = token.rjust(width) if len(token) < width else " " + token
        out.append(piece)
        previous_end = match.end()
    return "".join(out)


def perturb_whitespace(src: Path, dst: Path, perturbation: str, rng: np.random.Generator) -> None:
    lines = _read_text(src).split("\n")
    data = [i for i, line in enumerate(lines) if line.strip() and not line.lstrip().startswith("#")]
    if not data:
        raise NotPerturbable("no data lines")
    header = None
    if any(_number(t) is None for t in lines[data[0]].split()):
        header, data = data[0], data[1:]
    if len(data) < 2:
        raise NotPerturbable("fewer than 2 data lines")
    rows = [lines[i].split() for i in data]
    if len({len(row) for row in rows}) != 1 or (header is not None and len(lines[header].split()) != len(rows[0])):
        raise NotPerturbable("lines with different numbers of fields: not a whitespace-separated table")
    new_rows = perturb_rows(rows, perturbation, rng)
    if len(new_rows) == len(rows):
        for i, row in zip(data, new_rows):
            lines[i] = _rejoin(lines[i], row)
        out = lines
    else:  # rows were dropped or repeated: rebuild the data block, templated on the first data line
        template = lines[data[0]]
        before, after = lines[:data[0]], lines[data[-1] + 1:]
        out = before + [_rejoin(template, row) for row in new_rows] + after
    dst.write_text("\n".join(out), encoding="utf-8", newline="")


def perturb_parquet(src: Path, dst: Path, perturbation: str, rng: np.random.Generator) -> None:
    from dsgym.extras import need

    pd = need("pandas", "perturbing a parquet file")
    try:
        frame = pd.read_parquet(src)
    except ImportError as exc:
        raise NotPerturbable(f"pandas cannot read parquet here ({exc})") from None
    selection = row_selection(perturbation, len(frame), rng)
    if selection is not None:
        frame = frame.iloc[selection]
    else:
        for name in frame.columns:
            frame[name] = _perturb_series(frame[name], perturbation, rng)
    frame.to_parquet(dst)


def _perturb_series(series, perturbation: str, rng: np.random.Generator):
    import pandas as pd

    mask = series.notna().to_numpy()
    if mask.sum() < 2:
        return series
    out = series.copy()
    is_bool = pd.api.types.is_bool_dtype(series)
    is_int = pd.api.types.is_integer_dtype(series) and not is_bool
    is_float = pd.api.types.is_float_dtype(series)
    values = series[mask]
    distinct = sorted(values.unique().tolist(), key=str)
    categorical = isinstance(series.dtype, pd.CategoricalDtype) or is_bool or (
        is_int and 2 <= len(distinct) <= MAX_CODES) or (
        not (is_int or is_float) and 2 <= len(distinct) <= min(MAX_LABELS, mask.sum() / 2))
    if perturbation == "numeric-permute" and (is_int or is_float):
        out[mask] = values.to_numpy()[rng.permutation(len(values))]
    elif perturbation == "numeric-affine" and (is_int or is_float) and not categorical:
        array = values.to_numpy(dtype=float)
        if is_int:
            scaled = out.astype("float64")
            scaled[mask] = np.round(array * SCALE)
            return scaled.astype(series.dtype)
        out[mask] = array * SCALE + SHIFT_SDS * (float(np.std(array)) or 1.0)
    elif perturbation == "labels-permute" and categorical:
        if isinstance(series.dtype, pd.CategoricalDtype):
            categories = list(series.cat.categories)
            if len(categories) >= 2:
                return series.cat.rename_categories(categories[1:] + categories[:1])
            return series
        shift = {value: distinct[(k + 1) % len(distinct)] for k, value in enumerate(distinct)}
        out[mask] = values.map(shift)
    return out


def perturb_file(src: Path, dst: Path, perturbation: str, seed: int, rel: str) -> None:
    """Write ``src`` under ``perturbation`` to ``dst``; raise ``NotPerturbable`` (with a reason) if it can't."""
    if perturbation not in PERTURBATIONS:
        raise ValueError(f"unknown perturbation {perturbation!r}; known: {', '.join(PERTURBATIONS)}")
    if src.is_dir():
        raise NotPerturbable("a directory")
    kind = file_kind(rel)
    rng = np.random.default_rng(file_seed(seed, perturbation, rel))
    if kind == "delimited":
        perturb_delimited(src, dst, perturbation, rng, DELIMITED[Path(rel).suffix.lower()])
    elif kind == "whitespace":
        perturb_whitespace(src, dst, perturbation, rng)
    elif kind == "parquet":
        perturb_parquet(src, dst, perturbation, rng)
    else:
        raise NotPerturbable(f"no host-side perturbation for {Path(rel).suffix or 'extension-less'} files")
