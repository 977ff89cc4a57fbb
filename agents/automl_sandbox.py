"""AutoML baseline for Kaggle-style prediction tasks, run inside the sandbox's kernel.

dsgym's ``automl`` agent (agents/automl.py) sends this module's source as its
first code cell and then calls it, so everything here runs in the sandbox with
only the task's data under ``/data`` and the working directory ``/workspace``:

    problem = profile_task(HINTS)       # find the files, read them, print a profile
    result = fit_and_submit(problem)    # features, cross-validated model, submission.csv
    fallback_submission(HINTS)          # if that failed: priors in the right format

``HINTS`` is what the task tells the agent: the sample submission's path under
/data, the id and target columns, the metric's name and parameters, the data
files.  Every field is optional; the files' layout fills the gaps.

The layout it expects (Kaggle's, and dspredict-lite's): ``/data/<task>/``
holds ``train.csv`` (id, features, targets), ``test.csv`` (id, features) and
``sample_submission.csv`` (id, targets), or ``train.h5ad``/``test.h5ad``
(single-cell: the obs index is the id, the target an obs column).  Targets
are the sample's non-id columns found in train; if none is, a train column
whose values are the sample's column names makes a multi-class probability
task.  The model is LightGBM (scikit-learn's HistGradientBoosting if LightGBM
is missing), optionally against a linear model, chosen by cross-validation on
the task's metric.  Nothing depends on the clock: a fixed work budget (molecules
described, images read, train cells x folds) decides what it does, so the same inputs
always give the same submission, and every cut it makes is reported (``degraded``).
The metric is dsgym's own (``dsgym_metrics``, installed in every dsgym sandbox
image from dsgym/predict/metrics.py), computed on the columns the submission
would hold, so a CV score is what the grader would compute on those rows.
Needs numpy, pandas, scikit-learn and dsgym_metrics; uses lightgbm, rdkit, PIL
and anndata when a task calls for them.
"""

from __future__ import annotations

import json
import re
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

warnings.filterwarnings("ignore")

DATA = Path("/data")
WORK = Path("/workspace")
SUBMISSION = "submission.csv"
SEED = 0
FOLDS = 5
MAX_TRAIN_ROWS = 200_000
IMAGE_SIDE = 16
# The work budget (never the clock, which a busy machine would turn into a worse model): beyond these
# sizes the baseline does less and says so in its result's ``degraded`` list.
DESCRIBED_MOLECULES = 50_000  # RDKit descriptors for up to this many molecules per column (else fingerprints)
READ_IMAGES = 50_000  # images per column read as pixels (beyond: blank)
FOLD_CELLS = 1e9  # train cells x folds: above it, fewer folds (at least 2)
DEGRADED: list[str] = []  # what this fit_and_submit call cut, in order


def degrade(what: str) -> None:
    """Record (and print) a cut the work budget made: it goes into the result and the agent's answer."""
    print(f"  degraded: {what}")
    DEGRADED.append(what)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
TABLE_SUFFIXES = (".csv", ".csv.gz", ".csv.zip", ".zip", ".tsv", ".parquet", ".h5ad")


# -- metrics -------------------------------------------------------------------------------------
# Validation folds are scored by dsgym's own metric code (dsgym/predict/metrics.py, shipped in every
# dsgym sandbox image as ``dsgym_metrics``) on the columns the submission would hold, with the task's
# metric params: the CV score is the number the grader would compute on those rows.


def _metrics():
    try:
        import dsgym_metrics
        return dsgym_metrics
    except ImportError:  # outside a dsgym sandbox (dsgym's own tests run this module on the host)
        try:
            from dsgym.predict import metrics
            return metrics
        except ImportError:
            raise RuntimeError("dsgym_metrics is missing from this image; rebuild it with "
                               "`dsgym sandbox build`") from None


def task_metric(hints: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """The metric the grader uses, by its dsgym name, and the params to score it with (None: unknown)."""
    metrics = _metrics()
    params = hints.get("metric_params") or {}
    names = [hints.get("metric"), *(v for v in params.values() if isinstance(v, str))]
    found = next((m for m in map(metrics.metric_from_text, names) if m is not None), None)
    if found is None:
        return None, {}
    accepted = found.accepted_params()
    return found.name, {**{k: v for k, v in params.items() if k in accepted}, **found.params}


def lower_is_better(metric: str) -> bool:
    return not _metrics().get_metric(metric).higher_is_better


def validation_score(y: np.ndarray, pred: np.ndarray, target: Target) -> float:
    """The task's metric on out-of-fold predictions (model scale), written as the submission would be."""
    decoded = _decode(pred, target)
    if target.output == "proba" and len(target.classes) > 2:  # one submission column cannot hold them
        predicted = pd.DataFrame(decoded, columns=list(label_strings(pd.Series(target.classes))))
    else:
        predicted = pd.DataFrame(_as_output(decoded, target))
    if target.output in ("wide_proba", "proba") and predicted.shape[1] > 1:  # one column per class, one-hot truth
        labels = label_strings(pd.Series(y)).to_numpy()
        truth = pd.DataFrame({column: (labels == str(column)).astype(int) for column in predicted.columns})
    else:
        truth = pd.DataFrame({target.column: y})
    return float(_metrics().compute(target.metric, truth, predicted, target.metric_params))


# -- finding and reading the data ----------------------------------------------------------------


def read_table(path: Path, id_column: str | None = None) -> pd.DataFrame:
    """A CSV (plain or compressed), TSV or Parquet table; the id column stays text ("007" stays "007")."""
    name = path.name.lower()
    if name.endswith(".parquet"):
        table = pd.read_parquet(path)
        if id_column in table.columns:
            table[id_column] = table[id_column].astype(str)
        return table
    sep = "\t" if name.endswith((".tsv", ".tsv.gz")) else ","
    return pd.read_csv(path, sep=sep, low_memory=False, dtype={id_column: str} if id_column else None)


def read_sample(path: Path) -> pd.DataFrame:
    """The sample submission, every cell as text: written back, its ids and layout are unchanged."""
    if path.name.lower().endswith(".parquet"):
        return pd.read_parquet(path).astype(str)
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _is_table(path: Path) -> bool:
    return path.is_file() and path.name.lower().endswith(TABLE_SUFFIXES)


def _find(folder: Path, stem: str) -> Path | None:
    """``train.csv``, ``train.csv.zip``, ``train.parquet``, ``train.h5ad``, ... in ``folder``, else below it."""
    for depth in ("*", "*/*"):
        found = sorted(p for p in folder.glob(depth) if _is_table(p) and p.name.lower().split(".")[0] == stem)
        if found:
            return found[0]
    for depth in ("*", "*/*"):
        found = sorted(p for p in folder.glob(depth) if _is_table(p) and p.name.lower().startswith(stem)
                       and "submission" not in p.name.lower())
        if found:
            return found[0]
    return None


def locate(hints: dict[str, Any]) -> dict[str, Path | None]:
    """The task folder and its sample submission, train and test files."""
    sample = DATA / hints["sample_submission"] if hints.get("sample_submission") else None
    if sample is None or not sample.is_file():
        candidates = [p for depth in ("*", "*/*", "*/*/*") for p in DATA.glob(depth)
                      if _is_table(p) and "submission" in p.name.lower()]
        candidates.sort(key=lambda p: ("sample" not in p.name.lower(), len(p.parts), str(p)))
        sample = candidates[0] if candidates else None
    if sample is not None:
        folder = sample.parent
    else:
        trains = sorted(p for depth in ("*", "*/*", "*/*/*") for p in DATA.glob(depth)
                        if _is_table(p) and p.name.lower().startswith("train"))
        folder = trains[0].parent if trains else DATA
    train, test = _find(folder, "train"), _find(folder, "test")
    return {"folder": folder, "sample": sample, "train": train, "test": test}


@dataclass
class Target:
    """One column of the submission and how to predict it."""

    column: str                   # the submission's column (or the first of a wide class block)
    source: str                   # the column in train that holds the labels
    task: str = "regression"      # regression | binary | multiclass
    output: str = "value"         # value | label | proba | wide_proba | top_k
    metric: str = "rmse"          # dsgym's name for the task's metric (dsgym_metrics)
    metric_params: dict[str, Any] = field(default_factory=dict)  # the task's params for it
    classes: np.ndarray | None = None
    positive: Any = None          # binary proba: the class whose probability is submitted
    columns: list[str] = field(default_factory=list)  # wide_proba: the sample's class columns, in order
    k: int = 3
    log_target: bool = False
    round_labels: bool = False    # qwk on ordinal numbers: regression, then round to a class
    threshold: float | None = None  # binary labels for f1/balanced accuracy: tuned on out-of-fold predictions


@dataclass
class Problem:
    hints: dict[str, Any]
    folder: Path
    sample: pd.DataFrame
    train: pd.DataFrame
    test: pd.DataFrame
    id_column: str
    targets: list[Target]
    kind: str = "table"           # table | h5ad
    train_matrix: Any = None      # h5ad: the expression matrices
    test_matrix: Any = None
    notes: list[str] = field(default_factory=list)


def _read_h5ad(train_path: Path, test_path: Path) -> tuple[pd.DataFrame, pd.DataFrame, Any, Any]:
    import anndata

    train, test = anndata.read_h5ad(train_path), anndata.read_h5ad(test_path)
    genes = [g for g in train.var_names if g in set(test.var_names)]
    if len(genes) < len(train.var_names):
        train, test = train[:, genes], test[:, genes]
    obs_train, obs_test = train.obs.copy(), test.obs.copy()
    obs_train.index, obs_test.index = obs_train.index.astype(str), obs_test.index.astype(str)
    return obs_train, obs_test, train.X, test.X


def profile_task(hints: dict[str, Any]) -> Problem:
    """Find and read the task's files, decide what to predict, and print a compact profile."""
    files = locate(hints)
    print(f"task folder: {files['folder']}")
    for key in ("sample", "train", "test"):
        print(f"  {key}: {files[key]}")
    if files["train"] is None or files["test"] is None:
        raise FileNotFoundError(f"no train/test files found under {files['folder']}")
    kind = "h5ad" if files["train"].suffix == ".h5ad" else "table"
    sample = read_sample(files["sample"]) if files["sample"] is not None else None
    wanted_id = _id_column(hints, sample)
    train_matrix = test_matrix = None
    if kind == "h5ad":
        train, test, train_matrix, test_matrix = _read_h5ad(files["train"], files["test"])
    else:
        train, test = read_table(files["train"], wanted_id), read_table(files["test"], wanted_id)
    id_column = wanted_id or _common_column(train, test)
    if kind == "h5ad":
        # the obs index is the id: make it a column like a table's
        train = train.rename_axis(None).reset_index(names=id_column) if id_column not in train else train
        test = test.rename_axis(None).reset_index(names=id_column) if id_column not in test else test
    if sample is None:
        sample = _sample_from_hints(hints, train, test, id_column)
    problem = Problem(hints, files["folder"], sample, train, test, id_column, [], kind, train_matrix, test_matrix)
    problem.targets = decide_targets(problem)
    _print_profile(problem)
    return problem


def _id_column(hints: dict[str, Any], sample: pd.DataFrame | None) -> str | None:
    """The task's id column if the sample has it, else the sample's first column."""
    wanted = hints.get("id_column")
    if sample is None:
        return wanted
    return wanted if wanted in sample.columns else str(sample.columns[0])


def _common_column(train: pd.DataFrame, test: pd.DataFrame) -> str:
    common = [c for c in train.columns if c in test.columns]
    return str(common[0]) if common else "id"


def _sample_from_hints(hints, train, test, id_column) -> pd.DataFrame:
    """No sample submission: ids from test, targets from the hints or train's columns missing in test."""
    targets = hints.get("target_columns") or [c for c in train.columns if c not in test.columns]
    sample = pd.DataFrame({id_column: test[id_column]})
    for column in targets:
        sample[column] = 0
    return sample


def _looks_probabilistic(values: pd.Series) -> bool:
    """Placeholder values like 0.5 or 1/n in the sample mean probabilities are wanted."""
    numeric = pd.to_numeric(values, errors="coerce").dropna()
    if numeric.empty or len(numeric) < len(values) * 0.9:
        return False
    return bool(((numeric > 0) & (numeric < 1)).any() and numeric.between(0, 1).all())


def decide_targets(problem: Problem) -> list[Target]:
    """Which train column feeds each submission column, the task type and the output form."""
    hints, sample, train, test = problem.hints, problem.sample, problem.train, problem.test
    metric, metric_params = task_metric(hints)
    columns = [c for c in sample.columns if c != problem.id_column]
    present = [c for c in columns if c in train.columns]
    if not present:
        extra = [c for c in train.columns if c not in test.columns and c != problem.id_column]
        names = {str(c) for c in columns}
        for source in extra:
            if len(columns) > 1 and set(label_strings(train[source]).dropna().unique()) <= names:
                wide_metric = metric if metric in ("log_loss", "roc_auc") else "log_loss"
                target = Target(columns[0], source, "multiclass", "wide_proba", wide_metric,
                                metric_params if wide_metric == metric else {}, columns=list(columns))
                target.classes = np.array([str(c) for c in columns])
                return [target]
        if len(columns) == 1 and len(extra) == 1:
            problem.notes.append(f"target {columns[0]!r} is not in train; using train's {extra[0]!r}")
            present = columns
            train[columns[0]] = train[extra[0]]
        else:
            raise ValueError(f"none of the submission's columns {columns} is in train, and no train column "
                             f"holds them as labels (train-only columns: {extra})")
    return [_decide_one(column, train[column], sample[column], metric, metric_params) for column in present]


def _decide_one(column: str, y: pd.Series, placeholder: pd.Series, metric: str | None,
                metric_params: dict[str, Any]) -> Target:
    y = y.dropna()
    numeric = pd.api.types.is_numeric_dtype(y) and not pd.api.types.is_bool_dtype(y)
    distinct = y.nunique()
    integral = numeric and bool(np.all(np.mod(y.to_numpy(dtype=float), 1) == 0))
    regression_metric = metric in ("rmse", "rmsle", "mae", "r2")
    if distinct <= 2:
        task = "binary"
    elif numeric and (regression_metric or not integral or distinct > 30):
        task = "regression"
    else:
        task = "multiclass"
    if task == "regression":
        target = Target(column, column, "regression", "value", metric or "rmse", metric_params)
        counts = integral and y.min() >= 0 and y.skew() > 1
        target.log_target = bool(metric == "rmsle" or (counts and metric not in ("rmse", "r2")))
        return target
    classes = _sorted_classes(y)
    target = Target(column, column, task, "label", metric or "accuracy", metric_params, classes=classes)
    if metric in ("roc_auc", "log_loss") or (metric is None and _looks_probabilistic(placeholder)):
        target.output = "proba"
        target.metric = metric or "log_loss"
    elif metric == "map_at_k":
        tokens = placeholder.dropna().astype(str).str.split().str.len()
        target.k = int(metric_params.get("k") or (tokens.max() if len(tokens) and tokens.max() > 1 else 3))
        target.output = "top_k"
    elif metric == "quadratic_weighted_kappa" and numeric and integral:
        target.round_labels = True
    if task == "binary":
        wanted = str(metric_params.get("pos_label", "")).lower()
        preferred = [c for c in classes if str(c).lower() == wanted] or \
            [c for c in classes if str(c).lower() in ("1", "1.0", "true", "yes", "y", "positive", "pos")]
        target.positive = preferred[0] if preferred else classes[-1]
        if target.positive != classes[-1]:
            target.classes = np.array([c for c in classes if c != target.positive] + [target.positive])
    if target.output == "proba" and task == "multiclass" and target.metric not in ("log_loss", "roc_auc"):
        target.metric, target.metric_params = "log_loss", {}
    return target


def _sorted_classes(y: pd.Series) -> np.ndarray:
    """The distinct labels, sorted, as a plain numpy array of one type (ints, floats, bools or str)."""
    values = y.dropna().unique().tolist()
    try:
        return np.array(sorted(values))
    except TypeError:  # mixed types
        return np.array(sorted(str(v) for v in values))


def label_strings(values: pd.Series) -> pd.Series:
    """Labels as the strings a wide sample submission names its columns by (2.0 -> '2'), NaN kept."""
    def text(v):
        if isinstance(v, (float, np.floating)) and float(v).is_integer():
            return str(int(v))
        return str(v)

    return values.map(lambda v: text(v) if pd.notna(v) else np.nan)


def _print_profile(problem: Problem) -> None:
    train, test, sample = problem.train, problem.test, problem.sample
    print(f"\ntrain {train.shape}, test {test.shape}, sample submission {sample.shape}; id column {problem.id_column!r}")
    if problem.kind == "h5ad":
        print(f"expression matrices: train {problem.train_matrix.shape}, test {problem.test_matrix.shape} "
              f"({type(problem.train_matrix).__name__})")
    rows = []
    for column in list(train.columns)[:40]:
        values = train[column]
        rows.append({"column": column, "dtype": str(values.dtype), "missing": int(values.isna().sum()),
                     "distinct": int(values.nunique()), "in test": column in test.columns,
                     "example": str(values.dropna().iloc[0])[:40] if values.notna().any() else ""})
    with pd.option_context("display.width", 160, "display.max_columns", 20):
        print(pd.DataFrame(rows).to_string(index=False))
        if train.shape[1] > 40:
            print(f"... and {train.shape[1] - 40} more columns")
        print("\nsample submission:")
        print(sample.head(3).to_string(index=False)[:1500])
    for note in problem.notes:
        print(f"note: {note}")
    for target in problem.targets:
        y = problem.train[target.source]
        summary = (y.describe().round(4).to_dict() if target.task == "regression"
                   else y.value_counts().head(10).to_dict())
        print(f"\ntarget {target.source!r}: {target.task}, submit {target.output}, metric {target.metric}"
              + (", log1p" if target.log_target else "") + f"\n  {summary}")


# -- features ------------------------------------------------------------------------------------


@dataclass
class Features:
    train: pd.DataFrame
    test: pd.DataFrame
    categorical: list[str]
    time_column: str | None = None   # a numeric time index, when the data are ordered in time
    forecast: bool = False           # test lies after train in time: time-ordered folds, a trend
    log: list[str] = field(default_factory=list)


_TIME_NAME = re.compile(r"(date|time|period|month|year|week|day|quarter|timestamp|^t$|^ds$)", re.IGNORECASE)
_SMILES_NAME = re.compile(r"smiles", re.IGNORECASE)
_SMILES_CHARS = re.compile(r"^[A-Za-z0-9@+\-\[\]\(\)=#$/\\%.:*]+$")


def _column_kind(name: str, values: pd.Series, folder: Path) -> str:
    """numeric | category | date | image | smiles | text | frequency | constant."""
    present = values.dropna()
    if present.nunique() <= 1:
        return "constant"
    if pd.api.types.is_bool_dtype(values):
        return "numeric"
    if pd.api.types.is_numeric_dtype(values):
        return "numeric"
    if isinstance(values.dtype, pd.CategoricalDtype):
        return "category"
    if pd.api.types.is_datetime64_any_dtype(values):
        return "date"
    head = present.astype(str).head(200)
    if head.str.lower().str.endswith(IMAGE_SUFFIXES).mean() > 0.9 and _image_path(folder, head.iloc[0]):
        return "image"
    if _SMILES_NAME.search(name) or (head.str.match(_SMILES_CHARS).mean() > 0.95 and head.str.len().mean() > 8
                                     and head.str.contains(r"[cCnNoO]").mean() > 0.95):
        if _rdkit_parses(head.head(50)):
            return "smiles"
    if pd.to_numeric(head, errors="coerce").notna().mean() > 0.9:
        return "numeric_text"
    if _TIME_NAME.search(name) or head.str.match(r"^\d{4}[-/Q]").mean() > 0.9:
        parsed = pd.to_datetime(head, errors="coerce")
        if parsed.notna().mean() > 0.9:
            return "date"
    distinct = present.nunique()
    if distinct <= 255 and (distinct <= 100 or distinct <= 0.05 * len(present)):
        return "category"
    if head.str.len().mean() > 25 and head.str.contains(" ").mean() > 0.5:
        return "text"
    return "frequency"


def _rdkit_parses(values: pd.Series) -> bool:
    try:
        from rdkit import Chem, RDLogger
    except ImportError:
        return False
    RDLogger.DisableLog("rdApp.*")
    parsed = [Chem.MolFromSmiles(str(v)) is not None for v in values]
    return bool(np.mean(parsed) > 0.8)


def _date_features(name: str, values: pd.Series) -> pd.DataFrame:
    when = pd.to_datetime(values, errors="coerce")
    origin = when.min()
    out = pd.DataFrame(index=values.index)
    out[f"{name}__t"] = (when - origin).dt.total_seconds() / 86400.0
    out[f"{name}__year"] = when.dt.year
    out[f"{name}__month"] = when.dt.month
    out[f"{name}__quarter"] = when.dt.quarter
    out[f"{name}__dayofyear"] = when.dt.dayofyear
    if when.dt.day.nunique() > 1:
        out[f"{name}__dayofweek"] = when.dt.dayofweek
    if (when.dt.hour > 0).any():
        out[f"{name}__hour"] = when.dt.hour
    return out


_IMAGES_BY_NAME: dict[Path, dict[str, Path]] = {}


def _image_path(folder: Path, value: Any) -> Path | None:
    """An image named in a table: a path relative to the task folder, else a file of that name below it."""
    direct = folder / str(value)
    if direct.is_file():
        return direct
    if folder not in _IMAGES_BY_NAME:
        _IMAGES_BY_NAME[folder] = {p.name: p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES}
    return _IMAGES_BY_NAME[folder].get(Path(str(value)).name)


def _image_features(name: str, values: pd.Series, folder: Path) -> pd.DataFrame:
    """Grayscale pixels of each image, resized to IMAGE_SIDE x IMAGE_SIDE, scaled to [0, 1]."""
    from PIL import Image

    side, rows = IMAGE_SIDE, []
    blank = np.zeros(side * side, dtype=np.float32)
    for i, value in enumerate(values):
        path = _image_path(folder, value) if pd.notna(value) and i < READ_IMAGES else None
        if path is None:
            rows.append(blank)
            continue
        try:
            with Image.open(path) as img:
                pixels = np.asarray(img.convert("L").resize((side, side)), dtype=np.float32) / 255.0
            rows.append(pixels.ravel())
        except (OSError, ValueError):
            rows.append(blank)
    if len(values) > READ_IMAGES:
        degrade(f"{name}: pixels of the first {READ_IMAGES:,} of {len(values):,} images only; the rest are blank")
    matrix = np.vstack(rows)
    columns = [f"{name}__px{i}" for i in range(matrix.shape[1])]
    return pd.DataFrame(matrix, index=values.index, columns=columns)


_DESCRIPTORS = ("MolWt", "MolLogP", "TPSA", "NumHDonors", "NumHAcceptors", "NumRotatableBonds", "RingCount",
                "NumAromaticRings", "HeavyAtomCount", "FractionCSP3")


def _smiles_features(name: str, values: pd.Series) -> pd.DataFrame:
    """Morgan fingerprint bits (radius 2, 1024 bits) and a handful of RDKit descriptors."""
    from rdkit import Chem, RDLogger
    from rdkit.Chem import Descriptors, rdFingerprintGenerator

    RDLogger.DisableLog("rdApp.*")
    generator = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=1024)
    functions = [getattr(Descriptors, d) for d in _DESCRIPTORS]
    bits = np.zeros((len(values), 1024), dtype=np.uint8)
    descriptors = np.full((len(values), len(functions)), np.nan)
    with_descriptors = len(values) <= DESCRIBED_MOLECULES
    if not with_descriptors:
        degrade(f"{name}: {len(values):,} molecules, over {DESCRIBED_MOLECULES:,}: fingerprints only, no RDKit "
                "descriptors")
    for i, smiles in enumerate(values.astype(str)):
        mol = Chem.MolFromSmiles(smiles)
        if mol is None:
            continue
        bits[i] = generator.GetFingerprintAsNumPy(mol)
        if with_descriptors:
            descriptors[i] = [f(mol) for f in functions]
    out = pd.DataFrame(bits, index=values.index, columns=[f"{name}__fp{i}" for i in range(1024)])
    out = out.loc[:, out.to_numpy().any(axis=0)]  # drop bits that are never set
    if with_descriptors:
        out[[f"{name}__{d}" for d in _DESCRIPTORS]] = descriptors
    return out


def _text_features(name: str, values: pd.Series) -> pd.DataFrame:
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer

    text = values.fillna("").astype(str)
    out = pd.DataFrame({f"{name}__chars": text.str.len(), f"{name}__words": text.str.split().str.len()},
                       index=values.index)
    tfidf = TfidfVectorizer(max_features=20_000, min_df=2, sublinear_tf=True).fit_transform(text)
    if tfidf.shape[1] > 40:
        svd = TruncatedSVD(n_components=32, random_state=SEED).fit_transform(tfidf)
        out[[f"{name}__svd{i}" for i in range(svd.shape[1])]] = svd
    return out


def _expression_features(problem: Problem) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Single-cell: log-normalised expression, its top principal components and most variable genes.

    At most 2,000 genes (the most variable) are densified, so a wide matrix fits in memory.
    """
    from scipy import sparse
    from sklearn.decomposition import PCA

    both = sparse.vstack([sparse.csr_matrix(problem.train_matrix), sparse.csr_matrix(problem.test_matrix)])
    both = both.tocsr().astype(np.float32)
    n_train, log = problem.train_matrix.shape[0], []
    sample = both[: min(200, both.shape[0])].toarray()
    if sample.size and np.all(np.mod(sample, 1) == 0) and sample.max() > 30:
        totals = np.asarray(both.sum(axis=1)).ravel()
        both = sparse.diags(1e4 / np.maximum(totals, 1)).dot(both).tocsr()
        both.data = np.log1p(both.data)
        log.append("raw counts: normalised to 10,000 per cell and log1p")
    mean = np.asarray(both.mean(axis=0)).ravel()
    variance = np.asarray(both.multiply(both).mean(axis=0)).ravel() - mean ** 2
    keep = np.sort(np.argsort(-variance)[: min(2000, both.shape[1])])
    dense = both[:, keep].toarray()
    components = max(1, min(50, dense.shape[0] - 1, dense.shape[1]))
    pcs = PCA(n_components=components, random_state=SEED).fit_transform(dense)
    top = np.argsort(-variance[keep])[: min(300, len(keep))]
    genes = [f"gene__{i}" for i in keep[top]]
    log.append(f"{components} principal components (of {len(keep)} most variable genes) + the {len(top)} "
               "most variable genes")
    frame = pd.DataFrame(np.hstack([pcs, dense[:, top]]), columns=[f"pc{i}" for i in range(components)] + genes)
    return frame.iloc[:n_train].reset_index(drop=True), frame.iloc[n_train:].reset_index(drop=True), log


def build_features(problem: Problem) -> Features:
    """One numeric/categorical matrix for train and test, from the columns both tables have."""
    train, test = problem.train, problem.test
    sources = {t.source for t in problem.targets}
    log: list[str] = []
    parts_train: list[pd.DataFrame] = []
    parts_test: list[pd.DataFrame] = []
    if problem.kind == "h5ad":
        x_train, x_test, log = _expression_features(problem)
        parts_train.append(x_train)
        parts_test.append(x_test)
    columns = [c for c in train.columns if c in test.columns and c != problem.id_column and c not in sources]
    both = pd.concat([train[columns], test[columns]], axis=0, ignore_index=True)
    n_train = len(train)
    categorical: list[str] = []
    time_candidates: list[str] = []
    frames: list[pd.DataFrame] = []
    kinds: dict[str, list[str]] = {}
    for column in columns:
        values = both[column]
        kind = _column_kind(str(column), values, problem.folder)
        kinds.setdefault(kind, []).append(str(column))
        name = str(column)
        if kind == "numeric":
            frames.append(values.astype(float).to_frame(name))
            if _TIME_NAME.search(name):
                time_candidates.append(name)
        elif kind == "numeric_text":
            frames.append(pd.to_numeric(values, errors="coerce").to_frame(name))
        elif kind == "category":
            codes = values.astype(str).where(values.notna()).astype("category")
            frames.append(codes.to_frame(name))
            categorical.append(name)
        elif kind == "date":
            dates = _date_features(name, values)
            frames.append(dates)
            time_candidates.insert(0, f"{name}__t")
        elif kind == "image":
            frames.append(_image_features(name, values, problem.folder))
        elif kind == "smiles":
            frames.append(_smiles_features(name, values))
        elif kind == "text":
            frames.append(_text_features(name, values))
        elif kind == "frequency":
            counts = values.map(values.value_counts())
            frames.append(counts.astype(float).to_frame(f"{name}__count"))
    log.append("column kinds: " + "; ".join(f"{k}: {', '.join(v[:8])}" + (" ..." if len(v) > 8 else "")
                                          for k, v in kinds.items()))
    if frames:
        matrix = pd.concat(frames, axis=1)
        matrix.columns = [re.sub(r"[^0-9A-Za-z_]+", "_", str(c)) for c in matrix.columns]
        matrix = matrix.loc[:, ~matrix.columns.duplicated()]
        categorical = [re.sub(r"[^0-9A-Za-z_]+", "_", c) for c in categorical]
        parts_train.append(matrix.iloc[:n_train].reset_index(drop=True))
        parts_test.append(matrix.iloc[n_train:].reset_index(drop=True))
    if not parts_train:
        raise ValueError("no usable feature columns")
    x_train = pd.concat(parts_train, axis=1)
    x_test = pd.concat(parts_test, axis=1)
    features = Features(x_train, x_test, categorical, log=log)
    time_candidates = [re.sub(r"[^0-9A-Za-z_]+", "_", c) for c in time_candidates]
    for column in time_candidates:
        t_train, t_test = x_train[column], x_test[column]
        if t_train.notna().all() and t_test.notna().all() and (t_test > t_train.max()).mean() > 0.5:
            features.time_column, features.forecast = column, True
            log.append(f"test lies after train in {column!r}: time-ordered folds, linear trend candidate")
            break
    return features


# -- models --------------------------------------------------------------------------------------


def _lightgbm():
    try:
        import lightgbm

        return lightgbm
    except ImportError:  # e.g. the default image: scikit-learn's gradient boosting instead
        return None


@dataclass
class Candidate:
    name: str
    cv: float
    oof: np.ndarray
    test: np.ndarray
    folds_done: int


def _folds(y: np.ndarray, target: Target, features: Features, folds: int, seed: int):
    from sklearn.model_selection import KFold, StratifiedKFold, TimeSeriesSplit

    n = len(y)
    if features.forecast:  # validate on the latest windows, each as long as the test's horizon
        order = np.argsort(features.train[features.time_column].to_numpy(), kind="stable")
        horizon = max(1, min(len(features.test), n // (folds + 1)))
        return [(order[a], order[b]) for a, b in TimeSeriesSplit(n_splits=folds, test_size=horizon).split(order)]
    if target.task != "regression":
        _, counts = np.unique(y.astype(str), return_counts=True)
        if counts.min() >= folds:
            return list(StratifiedKFold(folds, shuffle=True, random_state=seed).split(np.zeros(n), y.astype(str)))
    return list(KFold(folds, shuffle=True, random_state=seed).split(np.zeros(n)))


def _encode(y: np.ndarray, target: Target) -> np.ndarray:
    """Model-side target: floats for regression, class indices for classification."""
    if target.task == "regression" or target.round_labels:
        values = y.astype(float)
        return np.log1p(np.clip(values, 0, None)) if target.log_target else values
    index = {c: i for i, c in enumerate(target.classes)}
    return np.array([index[v] for v in y])


def _gbm(target: Target, n_rows: int, n_features: int, seed: int):
    """A LightGBM (or HistGradientBoosting) estimator and the fit keywords for early stopping."""
    lgb = _lightgbm()
    regression = target.task == "regression" or target.round_labels
    if lgb is None:
        from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

        cls = HistGradientBoostingRegressor if regression else HistGradientBoostingClassifier
        return cls(max_iter=300, learning_rate=0.06, early_stopping=n_rows >= 100, random_state=seed,
                   categorical_features="from_dtype"), lambda x_val, y_val: {}
    # fewer, larger steps where each round is costly (many classes, many rows)
    fast = target.task == "multiclass" and not target.round_labels or n_rows * n_features > 2e7
    params = {"n_estimators": 1000 if fast else 3000, "learning_rate": 0.1 if fast else 0.05,
              "num_leaves": 31 if n_rows > 2000 else 15, "min_child_samples": max(3, min(20, n_rows // 100)),
              "subsample": 0.8, "subsample_freq": 1, "colsample_bytree": 0.8 if n_features < 200 else 0.4,
              "reg_lambda": 1.0, "n_jobs": 1, "random_state": seed, "verbose": -1}
    model = lgb.LGBMRegressor(**params) if regression else lgb.LGBMClassifier(**params)

    def fit_kwargs(x_val, y_val):
        return {"eval_set": [(x_val, y_val)], "callbacks": [lgb.early_stopping(50 if fast else 100, verbose=False)]}

    return model, fit_kwargs


def _linear(target: Target, seed: int):
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    regression = target.task == "regression" or target.round_labels
    model = Ridge(alpha=1.0) if regression else LogisticRegression(C=0.5, max_iter=300, random_state=seed)
    return make_pipeline(SimpleImputer(strategy="median"), StandardScaler(), model)


def _predict(model, x: pd.DataFrame, target: Target) -> np.ndarray:
    """Values (regression) or probabilities over all of ``target.classes`` (classification)."""
    if target.task == "regression" or target.round_labels:
        return np.asarray(model.predict(x), dtype=float)
    proba = np.zeros((len(x), len(target.classes)))
    proba[:, np.asarray(model.classes_, dtype=int)] = model.predict_proba(x)
    return proba


def _run_candidate(name: str, features: Features, y: np.ndarray, target: Target, folds, seed: int) -> Candidate:
    """Cross-validate one model.

    The test prediction averages the fold models; for a forecast (test after
    train in time) it comes from one model refit on all of train instead, since
    the latest rows matter most there.  ``+trend``: a straight line in the time
    index is fitted first and the model learns what it leaves (a GBM cannot
    extrapolate a trend).
    """
    linear = name.startswith("linear")
    trend = name.endswith("+trend")
    x, x_test = features.train, features.test
    if linear:
        x, x_test = _numeric_only(x), _numeric_only(x_test)
    encoded = _encode(y, target)
    classify = encoded.dtype.kind == "i"
    oof = np.full((len(y), len(target.classes)) if classify else len(y), np.nan)
    t_train = features.train[features.time_column].to_numpy(float) if trend else None
    test_preds, rounds, done = [], [], 0
    for i, (fit_rows, val_rows) in enumerate(folds):
        y_fit, y_val = encoded[fit_rows], encoded[val_rows]
        offset_fit = offset_val = 0.0
        if trend:
            line = np.polyfit(t_train[fit_rows], y_fit, 1)
            offset_fit, offset_val = np.polyval(line, t_train[fit_rows]), np.polyval(line, t_train[val_rows])
        if linear:
            model = _linear(target, seed)
            model.fit(x.iloc[fit_rows], y_fit - offset_fit)
        else:
            model, fit_kwargs = _gbm(target, len(fit_rows), x.shape[1], seed)
            seen = np.isin(y_val, y_fit) if classify else np.ones(len(val_rows), bool)  # eval needs known classes
            model.fit(x.iloc[fit_rows], y_fit - offset_fit,
                      **fit_kwargs(x.iloc[val_rows[seen]], (y_val - offset_val)[seen] if trend else y_val[seen]))
            rounds.append(getattr(model, "best_iteration_", None) or getattr(model, "n_iter_", None))
        oof[val_rows] = _predict(model, x.iloc[val_rows], target) + offset_val
        if not features.forecast:
            test_preds.append(_predict(model, x_test, target))
        done += 1
    if features.forecast:
        offset = offset_test = 0.0
        if trend:
            line = np.polyfit(t_train, encoded, 1)
            offset = np.polyval(line, t_train)
            offset_test = np.polyval(line, features.test[features.time_column].to_numpy(float))
        if linear:
            model = _linear(target, seed)
        else:  # as many rounds as the latest folds needed
            model, _ = _gbm(target, len(y), x.shape[1], seed)
            latest = [r for r in rounds[-2:] if r]
            if latest:
                key = "n_estimators" if "n_estimators" in model.get_params() else "max_iter"
                model.set_params(**{key: max(20, int(np.mean(latest) * 1.1))})
        model.fit(x, encoded - offset)
        test_preds.append(_predict(model, x_test, target) + offset_test)
    covered = ~np.isnan(oof if oof.ndim == 1 else oof[:, 0])
    value = validation_score(y[covered], oof[covered], target)
    return Candidate(name, value, oof, np.mean(test_preds, axis=0), done)


def _last_value(features: Features, y: np.ndarray, target: Target, folds) -> Candidate:
    """The naive forecast: every later row gets the mean target at the latest time seen."""
    t = features.train[features.time_column].to_numpy(float)
    encoded = _encode(y, target)
    oof = np.full(len(y), np.nan)
    for fit_rows, val_rows in folds:
        latest = fit_rows[t[fit_rows] == t[fit_rows].max()]
        oof[val_rows] = encoded[latest].mean()
    covered = ~np.isnan(oof)
    value = validation_score(y[covered], oof[covered], target)
    test = np.full(len(features.test), encoded[t == t.max()].mean())
    return Candidate("last_value", value, oof, test, len(folds))


def _numeric_only(x: pd.DataFrame) -> pd.DataFrame:
    out = x.copy()
    for column in out.columns:
        if isinstance(out[column].dtype, pd.CategoricalDtype):
            out[column] = out[column].cat.codes.replace(-1, np.nan).astype(float)
    return out


def _decode(pred: np.ndarray, target: Target) -> np.ndarray:
    """Model-side prediction -> the target's scale (values) or probabilities (unchanged)."""
    if target.task == "regression" or target.round_labels:
        values = np.expm1(pred) if target.log_target else pred
        if target.round_labels:
            numbers = np.array(target.classes, dtype=float)
            values = np.clip(np.rint(values), numbers.min(), numbers.max())
        return values
    return pred


def fit_target(features: Features, target: Target, train: pd.DataFrame, folds: int = FOLDS,
               seed: int = SEED) -> tuple[np.ndarray, dict[str, Any]]:
    """Cross-validate the candidate models for one target; the best one's test predictions."""
    y_all = (label_strings(train[target.source]) if target.output == "wide_proba" else train[target.source]).to_numpy()
    keep = pd.notna(y_all)
    if target.round_labels or target.task == "regression":
        keep &= pd.to_numeric(pd.Series(y_all), errors="coerce").notna().to_numpy()
    x_full = features.train
    features = Features(features.train.loc[keep].reset_index(drop=True), features.test, features.categorical,
                        features.time_column, features.forecast)
    y = y_all[keep]
    if len(y) > MAX_TRAIN_ROWS:
        rows = np.random.default_rng(seed).choice(len(y), MAX_TRAIN_ROWS, replace=False)
        features.train, y = features.train.iloc[rows].reset_index(drop=True), y[rows]
        print(f"  training on a random {MAX_TRAIN_ROWS:,} of {len(x_full):,} rows")
    folds = max(2, min(folds, len(y) // 10 or 2))
    cells = features.train.shape[0] * features.train.shape[1]
    if cells * folds > FOLD_CELLS and folds > 2:
        fewer = max(2, int(FOLD_CELLS // max(cells, 1)))
        degrade(f"{target.column}: {fewer} folds instead of {folds} ({cells:,} train cells)")
        folds = fewer
    splits = _folds(y, target, features, folds, seed)
    trend = features.forecast and target.task == "regression"
    linear = ["linear+trend" if trend else "linear"] if cells < 3e7 else []
    if not linear:
        degrade(f"{target.column}: no linear model ({cells:,} train cells)")
    names = [*linear, "gbm"]
    if trend:
        names.insert(names.index("gbm") + 1, "gbm+trend")
        names.insert(0, "last_value")
    results: list[Candidate] = []
    for name in names:
        now = time.time()  # for the log only: no decision reads the clock
        try:
            if name == "last_value":
                result = _last_value(features, y, target, splits)
            else:
                result = _run_candidate(name, features, y, target, splits, seed)
        except Exception as exc:  # noqa: BLE001 - one failing model must not cost the submission
            print(f"  {name}: failed ({type(exc).__name__}: {exc})")
            continue
        print(f"  {name:<13} CV {target.metric} = {result.cv:.5f}  ({result.folds_done}/{len(splits)} folds, "
              f"{time.time() - now:.1f} s)")
        results.append(result)
    if not results:
        raise RuntimeError("every model failed")
    lower = lower_is_better(target.metric)
    results.sort(key=lambda r: r.cv if lower else -r.cv)
    best = results[0]
    if len(results) > 1 and (blend := _blend(results[0], results[1], y, target)) is not None:
        print(f"  {blend.name:<13} CV {target.metric} = {blend.cv:.5f}")
        if (blend.cv < best.cv) if lower else (blend.cv > best.cv):
            best = blend
    report = {"model": best.name, "cv": best.cv, "metric": target.metric, "folds": best.folds_done,
              "candidates": {r.name: r.cv for r in results}}
    if target.task == "binary" and target.output == "label" and target.metric in ("f1", "balanced_accuracy"):
        target.threshold, tuned = _tune_threshold(best, y, target)
        if target.threshold is not None:
            print(f"  threshold     {target.threshold:.3f} instead of 0.5: out-of-fold {target.metric} {tuned:.5f}")
            report["threshold"] = target.threshold
    return _decode(best.test, target), report


def _tune_threshold(best: Candidate, y: np.ndarray, target: Target) -> tuple[float | None, float]:
    """The probability cut that maximises the metric on out-of-fold predictions (None: keep 0.5)."""
    covered = ~np.isnan(best.oof[:, 0])
    proba, truth = best.oof[covered, 1], y[covered]
    negative, positive = target.classes

    def at(cut: float) -> float:
        labels = pd.DataFrame({target.column: np.where(proba >= cut, positive, negative)})
        return _metrics().compute(target.metric, pd.DataFrame({target.column: truth}), labels, target.metric_params)

    cuts = np.unique(np.quantile(proba, np.linspace(0.02, 0.98, 49)))
    values = [at(cut) for cut in cuts]
    best_cut = int(np.argmax(values))
    return (float(cuts[best_cut]), values[best_cut]) if values[best_cut] > at(0.5) else (None, at(0.5))


def _blend(first: Candidate, second: Candidate, y: np.ndarray, target: Target) -> Candidate | None:
    """The two best models' average, scored on the rows both predicted out of fold."""
    both = ~np.isnan(first.oof if first.oof.ndim == 1 else first.oof[:, 0])
    both &= ~np.isnan(second.oof if second.oof.ndim == 1 else second.oof[:, 0])
    if not both.any():
        return None
    oof = (first.oof + second.oof) / 2
    value = validation_score(y[both], oof[both], target)
    return Candidate(f"{first.name}|{second.name}", value, oof, (first.test + second.test) / 2,
                     min(first.folds_done, second.folds_done))


# -- the submission ------------------------------------------------------------------------------


def _as_output(pred: np.ndarray, target: Target) -> dict[str, Any]:
    """Submission column(s) from a decoded prediction."""
    if target.task == "regression":
        values = np.clip(pred, 0, None) if target.log_target else pred
        return {target.column: values}
    if target.round_labels:
        return {target.column: _restore_type(pred, target)}
    if target.output == "wide_proba":
        return {column: pred[:, i] for i, column in enumerate(target.columns)}
    if target.output == "proba":
        if len(target.classes) == 2:
            return {target.column: pred[:, list(target.classes).index(target.positive)]}
        return {target.column: pred.max(axis=1)}  # one column but many classes: best we can do
    if target.output == "top_k":
        order = np.argsort(-pred, axis=1)[:, : target.k]
        return {target.column: [" ".join(str(c) for c in target.classes[row]) for row in order]}
    if target.threshold is not None:
        return {target.column: _restore_type(np.where(pred[:, 1] >= target.threshold, target.classes[1],
                                                      target.classes[0]), target)}
    return {target.column: _restore_type(target.classes[np.argmax(pred, axis=1)], target)}


def _restore_type(labels: np.ndarray, target: Target) -> np.ndarray:
    """Labels in the training column's own type (1 not 1.0)."""
    kind = np.asarray(target.classes).dtype.kind
    if kind in "iuf" and np.all(np.mod(np.asarray(target.classes, dtype=float), 1) == 0):
        return np.asarray(labels, dtype=float).astype(np.int64)
    return np.asarray(labels)


def write_submission(problem: Problem, columns: dict[str, Any], path: Path | None = None) -> pd.DataFrame:
    """The sample submission with its target columns replaced, in its own row and column order."""
    path = path or WORK / (problem.hints.get("submission_file") or SUBMISSION)
    sample, test, id_column = problem.sample, problem.test, problem.id_column
    submission = sample.copy()
    if id_column in test.columns and id_column in sample.columns:
        position = pd.Series(np.arange(len(test)), index=test[id_column].astype(str).to_numpy())
        position = position[~position.index.duplicated()]
        rows = position.reindex(sample[id_column].astype(str).to_numpy()).to_numpy()
        if np.isnan(rows).any():
            raise ValueError(f"{int(np.isnan(rows).sum())} ids of the sample submission are not in test")
        rows = rows.astype(int)
    elif len(test) == len(sample):
        rows = np.arange(len(test))
    else:
        raise ValueError("cannot match test rows to the sample submission's ids")
    for column, values in columns.items():
        submission[column] = np.asarray(values)[rows]
    submission = submission[list(sample.columns)]
    path.parent.mkdir(parents=True, exist_ok=True)
    submission.to_csv(path, index=False)
    return submission


def fit_and_submit(problem: Problem, folds: int = FOLDS, seed: int = SEED) -> dict[str, Any]:
    """Features, a cross-validated model per target, and the submission file.  Prints what it does.

    The result's ``degraded`` lists every cut the work budget made (empty: the full baseline ran).
    """
    started = time.time()  # for the log only
    DEGRADED.clear()
    features = build_features(problem)
    for line in features.log:
        print(line)
    print(f"features: train {features.train.shape}, test {features.test.shape}, "
          f"{len(features.categorical)} categorical ({time.time() - started:.1f} s)")
    print(f"model: {'LightGBM' if _lightgbm() else 'scikit-learn HistGradientBoosting'}")
    columns: dict[str, Any] = {}
    reports = {}
    for target in problem.targets:
        print(f"target {target.column!r} ({target.task}, {target.output}):")
        pred, report = fit_target(features, target, problem.train, folds, seed)
        columns.update(_as_output(pred, target))
        name = f"{target.columns[0]}..{target.columns[-1]}" if target.output == "wide_proba" else target.column
        reports[name] = report
    submission = write_submission(problem, columns)
    path = WORK / (problem.hints.get("submission_file") or SUBMISSION)
    print(f"\nwrote {path}: {submission.shape[0]} rows x {submission.shape[1]} columns "
          f"in {time.time() - started:.1f} s")
    print(submission.head(3).to_string(index=False)[:800])
    result = {"targets": reports, "rows": int(submission.shape[0]), "seconds": round(time.time() - started, 1),
              "degraded": list(DEGRADED)}
    print("AUTOML_" "RESULT " + json.dumps(result, default=float))  # the agent's cue (split: see automl.py)
    return result


# -- the fallback --------------------------------------------------------------------------------


def fallback_submission(hints: dict[str, Any]) -> pd.DataFrame:
    """Priors in the sample's format: the target's median, most frequent class or class shares.

    Uses as little as possible (the sample submission, and train for the priors),
    so it works when the model could not be built.
    """
    files = locate(hints)
    if files["sample"] is None:
        raise FileNotFoundError("no sample submission to copy the format from")
    sample = read_sample(files["sample"])
    submission = sample.copy()
    id_column = _id_column(hints, sample)
    columns = [c for c in sample.columns if c != id_column]
    train = None
    try:
        if files["train"] is not None and files["train"].suffix == ".h5ad":
            import anndata

            train = anndata.read_h5ad(files["train"], backed="r").obs
        elif files["train"] is not None:
            train = read_table(files["train"])
    except Exception as exc:  # noqa: BLE001 - the fallback must write something
        print(f"train unreadable ({exc}); keeping the sample's values")
    if train is not None:
        found = [c for c in columns if c in train.columns]
        for column in found:
            y = train[column].dropna()
            if pd.api.types.is_numeric_dtype(y) and y.nunique() > 2 and not _looks_probabilistic(sample[column]):
                submission[column] = y.median() if y.nunique() > 30 else y.mode().iloc[0]
            elif _looks_probabilistic(sample[column]) and y.nunique() <= 2:
                submission[column] = float((y == sorted(y.unique())[-1]).mean())
            else:
                submission[column] = y.mode().iloc[0]
        if not found:  # wide class probabilities: the class shares
            for source in train.columns:
                values = train[source].dropna().astype(str)
                if len(columns) > 1 and set(values.unique()) <= {str(c) for c in columns}:
                    shares = values.value_counts(normalize=True)
                    for column in columns:
                        submission[column] = float(shares.get(str(column), 0.0))
                    break
    path = WORK / (hints.get("submission_file") or SUBMISSION)
    submission.to_csv(path, index=False)
    print(f"wrote fallback {path}: {submission.shape[0]} rows x {submission.shape[1]} columns")
    print(submission.head(3).to_string(index=False)[:800])
    return submission
