"""Profiling a dataset's files inside the sandbox (this file's source is sent there and run).

Standalone: it needs only the standard library, numpy and pandas (anndata for
``.h5ad``), because it runs in the task's image, not in dsgym's environment.
``profile_files(root, files)`` returns a JSON-able dict per file: its kind and size,
then for tables the shape, every column's dtype, missing values, summary
statistics or most common values, and a few sample rows.
"""

import json
import math
import os

import numpy as np
import pandas as pd

SAMPLE_ROWS = 5
MAX_COLUMNS = 60
TOP_VALUES = 5
CELL_CHARS = 60


def _plain(value):
    """A JSON-safe, short rendering of one value."""
    if value is None:
        return None
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return None if math.isnan(value) else (value if math.isfinite(value) else str(value))
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    text = str(value)
    return text if len(text) <= CELL_CHARS else text[:CELL_CHARS] + "..."


def _number(value):
    value = float(value)
    if not math.isfinite(value):
        return None
    return float(f"{value:.6g}")


def _column(series):
    info = {"dtype": str(series.dtype), "missing": int(series.isna().sum())}
    if pd.api.types.is_bool_dtype(series):
        counts = series.value_counts(dropna=True)
        info["top"] = [[str(k), int(v)] for k, v in counts.head(TOP_VALUES).items()]
    elif pd.api.types.is_numeric_dtype(series):
        values = series.dropna()
        if len(values):
            info.update(min=_number(values.min()), max=_number(values.max()), mean=_number(values.mean()),
                        std=_number(values.std()) if len(values) > 1 else None,
                        median=_number(values.median()), unique=int(values.nunique()))
    else:
        values = series.dropna().astype(str)
        counts = values.value_counts()
        info["unique"] = int(len(counts))
        info["top"] = [[_plain(k), int(v)] for k, v in counts.head(TOP_VALUES).items()]
    return info


def _table(frame):
    columns = list(frame.columns)
    shown = columns[:MAX_COLUMNS]
    # lists, not dicts: the profile is stored as JSON with sorted keys, and column order matters
    return {"rows": int(len(frame)), "columns": len(columns),
            "column_info": [dict(name=str(c), **_column(frame[c])) for c in shown],
            "more_columns": len(columns) - len(shown),
            "sample": [[_plain(v) for v in row] for row in frame[shown].head(SAMPLE_ROWS).itertuples(index=False)]}


def _read_table(path, suffix):
    if suffix in (".parquet", ".pq"):
        return pd.read_parquet(path)
    if suffix == ".tsv":
        return pd.read_csv(path, sep="\t")
    if suffix == ".jsonl":
        return pd.read_json(path, lines=True)
    if suffix == ".json":
        return pd.read_json(path)
    if suffix == ".xlsx":
        return pd.read_excel(path)
    if suffix == ".txt":
        with open(path, encoding="utf-8", errors="replace") as handle:
            head = handle.readline()
        sep = "\t" if "\t" in head else ("," if "," in head else r"\s+")
        return pd.read_csv(path, sep=sep, engine="python")
    return pd.read_csv(path)


def _anndata(path):
    import anndata

    adata = anndata.read_h5ad(path, backed="r")
    try:
        return {"kind": "anndata", "n_obs": int(adata.n_obs), "n_vars": int(adata.n_vars),
                "X_dtype": str(adata.X.dtype) if adata.X is not None else None,
                "obs": _table(adata.obs.reset_index(names="obs_name")),
                "var": _table(adata.var.reset_index(names="var_name")),
                "layers": sorted(adata.layers.keys()), "obsm": sorted(adata.obsm.keys()),
                "uns": sorted(adata.uns.keys())}
    finally:
        adata.file.close()


def profile_files(root, files):
    """The profile of every file (a file that cannot be read says why instead)."""
    out = {}
    for rel in files:
        path = os.path.join(root, rel)
        suffix = os.path.splitext(rel)[1].lower()
        entry = {"size_bytes": os.path.getsize(path) if os.path.exists(path) else None}
        try:
            if suffix == ".h5ad":
                entry.update(_anndata(path))
            else:
                entry.update(kind="table", **_table(_read_table(path, suffix)))
        except Exception as exc:  # a file pandas cannot read is described, not fatal
            entry.update(kind="unreadable", error=f"{type(exc).__name__}: {exc}"[:300])
        out[rel] = entry
    return json.loads(json.dumps(out, default=str))
