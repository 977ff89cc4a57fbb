#!/usr/bin/env python3
"""Checking a prediction file's format against a reference table, on the host and in the sandbox.

The host grader checks the agent's submission against the hidden labels table;
the prediction sandbox ships this same file as the command ``check-submission``,
which checks against the public sample submission and never computes a score.
So it imports only the standard library, numpy and pandas.

Reading (``read_table``): UTF-8 CSV (a BOM is fine) with a header row.  Every cell
is read as text, so ids keep their leading zeros and nothing is guessed; header
names are stripped of surrounding spaces.  An empty cell or NaN (a literal "nan"
in any case) is a missing value.

Ids are compared as text with surrounding spaces stripped, and an id written as
an integer-valued decimal ("12.0", what pandas writes for an int column that went
through float) reads as that integer ("12").  No other rewriting: "007" stays "007".

A target column is numeric when every non-missing value in the reference parses
as a number (so in the sandbox the sample submission decides), unless the caller
names the numeric columns.

Problem reason codes, in the order ``check`` reports them: duplicate_columns,
missing_id_column, missing_columns, extra_columns (the submission must hold
exactly the id and target columns, as on Kaggle), row_count, duplicate_ids,
unknown_ids, missing_ids, missing_values, non_numeric, non_finite.
``read_table`` raises ``SubmissionError`` with missing_file, too_large or unreadable.

Command line: ``check-submission [SUBMISSION] [--sample PATH] [--id-column NAME]``
prints ``OK: ...`` and exits 0, or prints each problem and exits 1; it exits 2
when it cannot check at all (no single sample submission found, unreadable sample).
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import sys
from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

DEFAULT_SUBMISSION = "/workspace/submission.csv"
DEFAULT_DATA_DIR = "/data"
EXAMPLES = 5
_INT_AS_DECIMAL = r"^([+-]?[0-9]+)\.0*$"
_COMPRESSED = {b"\x1f\x8b": "gzip", b"PK\x03\x04": "zip", b"PAR1": "parquet"}
HASH_SLICE = 1 << 20
MISSING_NUMBERS = ["", "nan", "NaN", "NAN", "Nan"]  # other spellings of nan take the (slower) text path


class SubmissionError(ValueError):
    """A file that cannot be read or aligned as a submission; ``reason`` is a short machine code."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a submission's format."""

    reason: str
    message: str

    def __str__(self) -> str:
        return f"{self.reason}: {self.message}"


def _examples(values) -> str:
    values = list(values)
    shown = ", ".join(repr(v) for v in values[:EXAMPLES])
    return shown + (", ..." if len(values) > EXAMPLES else "")


# ----- reading ------------------------------------------------------------------------------------

def _read_bytes(source: bytes, max_bytes: int) -> bytes:
    if len(source) > max_bytes:
        raise SubmissionError("too_large", f"the file is larger than the {max_bytes:,}-byte limit")
    return source


def _check_start(start: bytes, whole: bool) -> None:
    """Refuse what is plainly not a CSV from its first bytes (``whole``: they are the whole file)."""
    if whole and not start.strip():
        raise SubmissionError("unreadable", "the file is empty")
    for magic, kind in _COMPRESSED.items():
        if start.startswith(magic):
            raise SubmissionError("unreadable", f"the file is {kind} data, not a CSV; write a plain CSV")
    if b"\x00" in start[:65536]:
        raise SubmissionError("unreadable", "the file holds binary data (NUL bytes), not a CSV")


def _decode(data: bytes) -> str:
    _check_start(data, whole=True)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SubmissionError("unreadable", f"the file is not UTF-8 text (byte {data[exc.start]:#04x} at "
                                            f"offset {exc.start}); write it as UTF-8") from None


def _parse(source: str | io.StringIO | Path, **options) -> pd.DataFrame:
    try:
        return pd.read_csv(source, encoding="utf-8-sig", keep_default_na=False, **options)
    except pd.errors.EmptyDataError:
        raise SubmissionError("unreadable", "the file has no header and no rows") from None
    except UnicodeDecodeError as exc:
        raise SubmissionError("unreadable", f"the file is not UTF-8 text (byte {exc.object[exc.start]:#04x}); "
                                            "write it as UTF-8") from None
    except (pd.errors.ParserError, ValueError) as exc:
        raise SubmissionError("unreadable", f"not a valid CSV: {str(exc).strip()}") from None


def _as_text(raw: pd.DataFrame) -> pd.DataFrame:
    # header=None keeps repeated header names (pandas would rename them), so check can report them
    header = ["" if pd.isna(name) else str(name).strip() for name in raw.iloc[0]]
    frame = raw.iloc[1:].reset_index(drop=True)
    frame.columns = header
    return frame


def _typed(path: Path, start: bytes, numeric: Collection[str]) -> pd.DataFrame | None:
    """The file with ``numeric`` columns parsed as float64 by the CSV parser itself, or None when a
    cell is not a plain number (or the header is odd): then the text reading and its checks apply."""
    try:
        first = start.decode("utf-8-sig").splitlines()[0] if b"\n" in start else None
    except UnicodeDecodeError:
        return None
    if first is None:
        return None
    header = [name.strip() for name in next(csv.reader([first]))]
    if len(set(header)) != len(header) or not set(numeric) & set(header):
        return None
    positions = {i: "float64" for i, name in enumerate(header) if name in numeric}
    missing = {i: MISSING_NUMBERS if i in positions else [""] for i in range(len(header))}
    try:  # "str": pandas' string dtype where there is one (far smaller than Python strings), else object
        frame = pd.read_csv(path, encoding="utf-8-sig", header=None, skiprows=1, keep_default_na=False,
                            na_values=missing, dtype={i: positions.get(i, "str") for i in range(len(header))})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError, UnicodeDecodeError):
        return None
    if frame.shape[1] != len(header):
        return None
    frame.columns = header
    return frame


def read_table(source: str | Path | bytes, *, max_bytes: int = 256 << 20,
               numeric: Collection[str] = ()) -> pd.DataFrame:
    """A CSV file (path or bytes) as a frame of ``str`` cells (object dtype) under its header; missing cells are NaN.

    A file given by path is parsed straight from disk (no copy of its text in memory), and the
    columns named in ``numeric`` come out as float64 when every cell in them is a plain number
    or missing: a large submission is not held as millions of Python strings.
    """
    if isinstance(source, bytes):
        return _as_text(_parse(io.StringIO(_decode(_read_bytes(source, max_bytes))), header=None, dtype=object,
                               na_values=[""]))
    path = Path(source)
    if not path.exists():
        raise SubmissionError("missing_file", f"no file at {path}")
    if not path.is_file():
        raise SubmissionError("unreadable", f"{path} is not a file")
    size = path.stat().st_size
    if size > max_bytes:
        raise SubmissionError("too_large", f"the file is larger than the {max_bytes:,}-byte limit")
    with path.open("rb") as handle:
        start = handle.read(1 << 16)
    _check_start(start, whole=size <= len(start))
    if numeric and (frame := _typed(path, start, numeric)) is not None:
        return frame
    return _as_text(_parse(path, header=None, dtype=object, na_values=[""]))


# ----- cells --------------------------------------------------------------------------------------

def normalize_ids(ids: pd.Series) -> pd.Series:
    """Ids as comparable text (the module docstring's rule); a missing id is "".  Text stays in the
    kind it came in: Python strings (object dtype), or pandas' string dtype, which holds millions
    of ids in a fraction of the memory."""
    if isinstance(ids.dtype, pd.StringDtype):
        text = ids.fillna("")
    else:
        text = ids.astype(object)
        if text.isna().any():
            text = text.where(text.notna(), "")
        if pd.api.types.infer_dtype(text, skipna=False) != "string":
            text = text.map(str)
    text = text.str.strip()  # on object dtype: a string with nothing to strip stays the same object (memory)
    decimal = text.str.contains(".", regex=False).to_numpy(dtype=bool)  # the regex only where it can apply
    if decimal.any():
        text[decimal] = text[decimal].str.replace(_INT_AS_DECIMAL, r"\1", regex=True)
    return text


def _cells(series: pd.Series) -> pd.Series:
    return series.astype(object).map(lambda v: v.strip() if isinstance(v, str) else v)


def missing_mask(series: pd.Series) -> np.ndarray:
    """Empty cells and NaN, literal "nan" included."""
    if _is_float(series):
        return np.isnan(series.to_numpy())
    cells = _cells(series)
    return (cells.isna() | cells.map(lambda v: isinstance(v, str) and v.lower() in ("", "nan"))).to_numpy()


def parse_numbers(series: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(values as floats, NaN where missing or not a number; the missing mask; the not-a-number mask)."""
    if _is_float(series):  # parsed by read_table(numeric=...): every cell was a number or missing
        values = series.to_numpy()
        return values, np.isnan(values), np.zeros(len(values), dtype=bool)
    values = pd.to_numeric(_cells(series), errors="coerce").to_numpy(dtype=float)
    missing = missing_mask(series)
    return values, missing, np.isnan(values) & ~missing


def _is_float(series: pd.Series) -> bool:
    return series.dtype == np.float64


def _is_numeric(series: pd.Series) -> bool:
    _, missing, bad = parse_numbers(series)
    return not missing.all() and not bad.any()


# ----- checking -----------------------------------------------------------------------------------

def _targets(reference: pd.DataFrame, id_column: str, target_columns: list[str] | None,
             unique_ids: bool = False) -> list[str]:
    """The target columns, after checking the reference itself (a bad reference is a task bug: it raises).

    ``unique_ids``: the caller already knows the reference's ids are unique (``IdIndex.match`` succeeded).
    """
    columns = list(reference.columns)
    if len(set(columns)) != len(columns):
        raise ValueError(f"the reference repeats column names: {columns}")
    if id_column not in columns:
        raise ValueError(f"the reference has no id column {id_column!r}; its columns: {columns}")
    targets = [c for c in columns if c != id_column] if target_columns is None else list(target_columns)
    absent = [c for c in targets if c not in columns or c == id_column]
    if absent or not targets:
        raise ValueError(f"target columns {targets} must be non-id columns of the reference {columns}")
    if not unique_ids and normalize_ids(reference[id_column]).duplicated().any():
        raise ValueError(f"the reference repeats ids in {id_column!r}")
    return targets


def _column_problems(submission: pd.DataFrame, id_column: str, targets: list[str]) -> list[Problem]:
    columns = [str(c) for c in submission.columns]
    problems = []
    repeated = sorted(c for c, n in Counter(columns).items() if n > 1)
    if repeated:
        problems.append(Problem("duplicate_columns", f"the header repeats {len(repeated)} column names: "
                                                     f"{_examples(repeated)}"))
    if id_column not in columns:
        hint = " (the header has one column: is the file comma-separated?)" if len(columns) == 1 else ""
        problems.append(Problem("missing_id_column", f"no id column {id_column!r}; the header is "
                                                     f"{_examples(columns)}{hint}"))
    missing = [c for c in targets if c not in columns]
    if missing:
        problems.append(Problem("missing_columns", f"{len(missing)} target columns are missing: "
                                                   f"{_examples(missing)}"))
    extra = [c for c in dict.fromkeys(columns) if c != id_column and c not in targets]
    if extra:
        problems.append(Problem("extra_columns", f"{len(extra)} unexpected columns: {_examples(extra)}; the "
                                                 f"header must be exactly {', '.join([id_column, *targets])}"))
    return problems


def _id_problems(submission: pd.DataFrame, reference: pd.DataFrame, id_column: str) -> list[Problem]:
    problems = []
    ids, wanted = normalize_ids(submission[id_column]), normalize_ids(reference[id_column])
    repeated = ids[ids.duplicated()].unique()
    if len(repeated):
        problems.append(Problem("duplicate_ids", f"{len(repeated)} ids appear more than once "
                                                 f"({int(ids.duplicated().sum())} extra rows): {_examples(repeated)}"))
    unknown = ids[~ids.isin(wanted)].unique()
    if len(unknown):
        problems.append(Problem("unknown_ids", f"{len(unknown)} ids are not in the test set: {_examples(unknown)}"))
    absent = wanted[~wanted.isin(ids)]
    if len(absent):
        problems.append(Problem("missing_ids", f"{len(absent)} test ids have no row: {_examples(absent)}"))
    return problems


def _locator(submission: pd.DataFrame, id_column: str, id_usable: bool) -> Callable[[np.ndarray], str]:
    """Where the cells of a mask sit, for a message: their ids if the id column is usable, else row numbers."""
    def at(mask: np.ndarray) -> str:
        rows = np.flatnonzero(mask)
        if id_usable:
            shown = [f"id {i!r}" for i in normalize_ids(submission[id_column].iloc[rows[:EXAMPLES]])]
        else:
            shown = [f"row {r + 1}" for r in rows[:EXAMPLES]]  # 1 = the first row under the header
        return ", ".join(shown) + (", ..." if len(rows) > EXAMPLES else "")
    return at


def _value_problems(submission: pd.DataFrame, column: str, numeric: bool, allow_nan: bool,
                    at: Callable[[np.ndarray], str]) -> list[Problem]:
    series = submission[column]
    problems = []
    values, missing, bad = parse_numbers(series) if numeric else (None, missing_mask(series), None)
    if missing.any() and not allow_nan:
        problems.append(Problem("missing_values", f"column {column!r} has {int(missing.sum())} empty or NaN "
                                                  f"values (at {at(missing)})"))
    if numeric:
        if bad.any():
            problems.append(Problem("non_numeric", f"column {column!r} must hold numbers; {int(bad.sum())} values "
                                                   f"do not ({_examples(pd.unique(series[bad]))})"))
        infinite = np.isinf(values)
        if infinite.any():
            problems.append(Problem("non_finite", f"column {column!r} has {int(infinite.sum())} infinite values "
                                                  f"(at {at(infinite)})"))
    return problems


class IdIndex:
    """A reference's ids (through ``normalize_ids``), sorted by a 64-bit hash once, so that a
    submission holding exactly those ids is matched in time linear in its rows up to one sort
    of integers; hashing millions of strings into a table is several times slower.  The ids
    themselves are compared after the hashes, so a collision only costs the full checks."""

    def __init__(self, wanted: pd.Series):
        self.ids = wanted.reset_index(drop=True)
        hashes = _hashes(self.ids)
        self.order = np.argsort(hashes)
        self.sorted = hashes[self.order]
        self.unique = not (np.diff(self.sorted) == 0).any()

    def match(self, submission: pd.DataFrame, id_column: str) -> np.ndarray | None:
        """Where each wanted id sits in ``submission``, if it holds exactly the wanted ids, each once,
        in any order (as written: no normalizing needed); else None, and the full checks say what is wrong."""
        if (not self.unique or len(submission) != len(self.ids)
                or Counter(str(c) for c in submission.columns)[id_column] != 1):
            return None
        mine = submission[id_column].reset_index(drop=True)
        if mine.isna().any():
            return None
        if _same(mine, self.ids):  # written in the reference's order, as agents usually do
            return np.arange(len(mine))
        try:
            hashes = _hashes(mine)
        except TypeError:
            return None
        order = np.argsort(hashes)
        if not np.array_equal(hashes[order], self.sorted) or not _same(mine.take(order), self.ids.take(self.order)):
            return None
        positions = np.empty(len(mine), dtype=np.intp)
        positions[self.order] = order
        return positions


def _hashes(ids: pd.Series) -> np.ndarray:
    """64-bit hashes of the ids' text, the same for Python strings and pandas' string dtype.

    In slices: hashing turns pandas' string dtype into Python strings, a million at a time here
    rather than all at once (about 75 bytes an id).
    """
    slices = [pd.util.hash_pandas_object(ids.iloc[start:start + HASH_SLICE], index=False, categorize=False)
              .to_numpy() for start in range(0, len(ids), HASH_SLICE)]
    return np.concatenate(slices) if slices else np.empty(0, dtype=np.uint64)


def _same(a: pd.Series, b: pd.Series) -> bool:
    return bool(a.reset_index(drop=True).eq(b.reset_index(drop=True)).all())


def check(submission: pd.DataFrame, reference: pd.DataFrame, id_column: str, target_columns: list[str] | None = None,
          *, numeric_columns: list[str] | None = None, allow_nan: bool = False,
          order: np.ndarray | None = None) -> list[Problem]:
    """Every format problem of ``submission`` against ``reference`` (the same id and target columns).

    ``target_columns`` defaults to every reference column but the id; ``numeric_columns``
    to the targets whose reference values are all numbers.  Raises ``ValueError`` when
    the reference itself is unusable (no such id column, repeated ids or names).
    ``order`` is ``IdIndex.match``'s answer: the ids are known to match, so they are not checked again.
    """
    targets = _targets(reference, id_column, target_columns, unique_ids=order is not None)
    if numeric_columns is None:
        numeric = {c for c in targets if _is_numeric(reference[c])}
    elif set(numeric_columns) <= set(targets):
        numeric = set(numeric_columns)
    else:
        raise ValueError(f"numeric columns {sorted(set(numeric_columns) - set(targets))} are not target columns")
    problems = _column_problems(submission, id_column, targets)
    if order is None and len(submission) != len(reference):
        problems.append(Problem("row_count", f"the submission has {len(submission)} rows; expected "
                                             f"{len(reference)}, one per id"))
    columns = Counter(str(c) for c in submission.columns)
    id_usable = columns[id_column] == 1
    if id_usable and order is None:
        problems += _id_problems(submission, reference, id_column)
    at = _locator(submission, id_column, id_usable)
    for column in targets:
        if columns[column] == 1:
            problems += _value_problems(submission, column, column in numeric, allow_nan, at)
    return problems


def align(submission: pd.DataFrame, reference: pd.DataFrame, id_column: str,
          target_columns: list[str] | None = None, *, order: np.ndarray | None = None
          ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(submission, reference) target columns with rows in the reference's id order, index 0..n-1.

    Raises ``SubmissionError`` (the first blocking problem's reason, every message) when
    the columns or ids do not match one to one; extra columns are dropped, values unchecked.
    """
    targets = _targets(reference, id_column, target_columns, unique_ids=order is not None)
    problems = [p for p in _column_problems(submission, id_column, targets) if p.reason != "extra_columns"]
    if not problems and order is None:
        problems = _id_problems(submission, reference, id_column)
    if problems:
        raise SubmissionError(problems[0].reason, "; ".join(p.message for p in problems))
    if order is None:
        order = pd.Index(normalize_ids(submission[id_column])).get_indexer(normalize_ids(reference[id_column]))
    return (submission[targets].iloc[order].reset_index(drop=True),
            reference[targets].reset_index(drop=True))


# ----- the check-submission command ---------------------------------------------------------------

def find_sample(data_dir: Path) -> Path:
    """The one sample submission under ``data_dir`` (sample_submission*.csv or sampleSubmission*.csv)."""
    found = sorted(Path(root) / name for root, _, names in os.walk(data_dir) for name in names
                   if name.lower().startswith(("sample_submission", "samplesubmission"))
                   and name.lower().endswith(".csv"))
    if len(found) == 1:
        return found[0]
    if not found:
        raise LookupError(f"no sample_submission*.csv under {data_dir}; pass --sample PATH")
    raise LookupError(f"{len(found)} sample submissions under {data_dir}: {', '.join(map(str, found))}; "
                      "pass the right one with --sample PATH")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="check-submission",
        description="Check a submission file's format against the sample submission. It never computes a score.")
    parser.add_argument("submission", nargs="?", default=DEFAULT_SUBMISSION,
                        help=f"the file to check (default {DEFAULT_SUBMISSION})")
    parser.add_argument("--sample", help="the sample submission (default: the one sample_submission*.csv under "
                                         "--data-dir)")
    parser.add_argument("--id-column", help="the id column (default: the sample's first column)")
    parser.add_argument("--data-dir", default=DEFAULT_DATA_DIR,
                        help=f"where to look for the sample submission (default {DEFAULT_DATA_DIR})")
    args = parser.parse_args(argv)
    try:
        sample_path = Path(args.sample) if args.sample else find_sample(Path(args.data_dir))
        sample = read_table(sample_path)
        id_column = args.id_column or str(sample.columns[0])
        if id_column not in sample.columns:
            raise LookupError(f"the sample {sample_path} has no column {id_column!r}; it has "
                              f"{', '.join(map(str, sample.columns))}")
        targets = [c for c in sample.columns if c != id_column]
        _targets(sample, id_column, targets)
    except (LookupError, SubmissionError, ValueError) as exc:
        print(f"cannot check: {exc}", file=sys.stderr)
        return 2
    try:
        submission = read_table(args.submission)
    except SubmissionError as exc:
        print(f"{exc.reason}: {args.submission}: {exc.message}")
        return 1
    problems = check(submission, sample, id_column, targets)
    if problems:
        for problem in problems:
            print(problem)
        print(f"{len(problems)} problem(s) in {args.submission}")
        return 1
    print(f"OK: {len(submission)} rows, columns {', '.join(map(str, submission.columns))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
