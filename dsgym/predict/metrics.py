"""Kaggle competition metrics, each carrying the direction that makes a score better.

``compute(name, truth, pred, params)`` scores two frames that ``submission.align``
has already put row by row in the same order, holding only the target columns
(the same names in the same order).  The leaderboard needs the direction, and the
sandbox prompt needs to say what the target columns hold (``Metric.output``).

Labels are compared as text after one normalisation, so a label written as 1,
1.0 or "1" is the same label: surrounding spaces go, integer-valued numbers
become integers ("1.0" -> "1", "007" -> "7"), other numbers their shortest
float text ("0.50" -> "0.5"), booleans "True"/"False"; anything else is kept
as written (case-sensitive).  Empty cells and NaN (a literal "nan" in any case)
are missing values, which no metric accepts except a blank ``map_at_k``
prediction (no guesses).

Errors: ``PredictionError`` (a ValueError) for a prediction the metric cannot
score (the grader reports it as an invalid submission); a plain ``ValueError``
for truth or shape problems (a broken task); ``MetricParamError`` (a TypeError)
for params the metric does not take or values it cannot use.

| metric                   | better | output      | params (defaults)                         |
|--------------------------|--------|-------------|-------------------------------------------|
| accuracy                 | higher | label       |                                           |
| balanced_accuracy        | higher | label       |                                           |
| f1                       | higher | label       | pos_label=None ("1", else the larger)     |
| f1_macro                 | higher | label       |                                           |
| roc_auc                  | higher | probability | pos_label=None (binary, one column)       |
| log_loss                 | lower  | probability | pos_label=None (binary, one column)       |
| rmse, rmsle, mae         | lower  | value       |                                           |
| r2                       | higher | value       |                                           |
| map_at_k                 | higher | ranking     | k=3                                       |
| quadratic_weighted_kappa | higher | label       | labels=None (the rating scale, in order)  |

Every metric also takes ``multi_target`` (default false): score each target
column on its own and average ("mean column-wise RMSE / ROC AUC").

``metric_from_text`` reads a free-text metric name (a Kaggle competition's) as one of
these, or None.  This module imports only numpy and pandas: every sandbox image ships
it as ``dsgym_metrics`` (dsgym/sandbox/images.py), so code in the sandbox (the automl
agent's validation) scores as the grader does.
"""

from __future__ import annotations

import difflib
import functools
import inspect
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import pandas as pd

Output = Literal["label", "probability", "value", "ranking"]

EPS = 1e-15  # Kaggle's log-loss clip: probabilities live in [EPS, 1 - EPS]
EXAMPLES = 5
_INTEGER = re.compile(r"[+-]?[0-9]+")


class PredictionError(ValueError):
    """The prediction holds values the metric cannot score: an invalid submission, not a broken task."""


class MetricParamError(TypeError):
    """A metric param the metric does not take, or a value it cannot use: a task configuration bug."""


class UnknownMetricError(KeyError):
    """No metric or alias of that name."""

    def __str__(self) -> str:  # KeyError would print the message with quotes around it
        return str(self.args[0])


@dataclass(frozen=True)
class Metric:
    """A metric, its direction, and what the submission's target columns must hold.

    ``params`` are fixed by the name it was looked up under (``map@5`` fixes ``k=5``,
    ``mcrmse`` fixes ``multi_target``); ``compute`` rejects params that contradict them.
    """

    name: str
    higher_is_better: bool
    output: Output
    fn: Callable[..., float] = field(repr=False, compare=False)
    params: Mapping[str, Any] = field(default_factory=dict)

    def compute(self, truth: pd.DataFrame, pred: pd.DataFrame, params: Mapping[str, Any] | None = None) -> float:
        kwargs = self._kwargs(params)
        _check_frames(self.name, truth, pred)
        if kwargs.pop("multi_target"):
            return float(np.mean([self.fn(truth[[c]], pred[[c]], **kwargs) for c in truth.columns]))
        return float(self.fn(truth, pred, **kwargs))

    def accepted_params(self) -> dict[str, Any]:
        """The params this metric takes, with their defaults."""
        own = {name: p.default for name, p in inspect.signature(self.fn).parameters.items()
               if p.kind is inspect.Parameter.KEYWORD_ONLY}
        return {**own, "multi_target": False}

    def _kwargs(self, params: Mapping[str, Any] | None) -> dict[str, Any]:
        given = dict(params or {})
        accepted = self.accepted_params()
        unknown = sorted(set(given) - set(accepted))
        if unknown:
            raise MetricParamError(f"metric {self.name!r} takes no param {', '.join(map(repr, unknown))}; "
                                   f"its params: {', '.join(accepted)}")
        for key, value in self.params.items():
            if key in given and given[key] != value:
                raise MetricParamError(f"metric {self.name!r} was named with {key}={value!r}, "
                                       f"but params say {key}={given[key]!r}")
        kwargs = {**accepted, **given, **self.params}
        if not isinstance(kwargs["multi_target"], bool):
            raise MetricParamError(f"multi_target must be true or false, got {kwargs['multi_target']!r}")
        return kwargs


# ----- reading cells ------------------------------------------------------------------------------

def _examples(values: Iterable[Any]) -> str:
    values = list(values)
    shown = ", ".join(repr(v) for v in values[:EXAMPLES])
    return shown + (", ..." if len(values) > EXAMPLES else "")


def _error(side: str, message: str) -> ValueError:
    return PredictionError(message) if side == "prediction" else ValueError(message)


def label(value: Any) -> str | None:
    """One label as comparable text (the module docstring's rule); None for a missing value."""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        number = float(value)
    else:
        text = str(value).strip()
        if text.lower() in ("", "nan"):
            return None
        if _INTEGER.fullmatch(text):
            return str(int(text))
        try:
            number = float(text)
        except ValueError:
            return text
    if math.isnan(number):
        return None
    return str(int(number)) if number.is_integer() else repr(number)


def _labels(metric: str, series: pd.Series, side: str) -> np.ndarray:
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    texts = np.array([label(u) for u in uniques] + [None], dtype=object)
    out = texts[codes]  # the NA sentinel -1 picks the trailing None
    missing = np.flatnonzero([t is None for t in out]).tolist()
    if missing:
        raise _error(side, f"{metric}: the {side} column {series.name!r} has {len(missing)} missing values "
                           f"(row positions {_examples(missing)})")
    return out


def _numbers(metric: str, series: pd.Series, side: str) -> np.ndarray:
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        values = series.to_numpy(dtype=float, na_value=np.nan)
        missing = np.isnan(values)
    else:
        cells = series.astype(object).map(lambda v: v.strip() if isinstance(v, str) else v)
        values = pd.to_numeric(cells, errors="coerce").to_numpy(dtype=float)
        missing = (cells.isna() | cells.map(lambda v: isinstance(v, str) and v.lower() in ("", "nan"))).to_numpy()
        bad = np.isnan(values) & ~missing
        if bad.any():
            raise _error(side, f"{metric} needs numbers: the {side} column {series.name!r} has {int(bad.sum())} "
                               f"non-numeric values ({_examples(pd.unique(cells[bad]))})")
    where = f"the {side} column {series.name!r}"
    if missing.any():
        raise _error(side, f"{metric}: {where} has {int(missing.sum())} missing values "
                           f"(row positions {_examples(np.flatnonzero(missing).tolist())})")
    if np.isinf(values).any():
        raise _error(side, f"{metric}: {where} has {int(np.isinf(values).sum())} infinite values")
    return values


def _column(metric: str, frame: pd.DataFrame) -> pd.Series:
    if frame.shape[1] != 1:
        raise ValueError(f"{metric} scores one target column, got {frame.shape[1]} ({_examples(frame.columns)}); "
                         "set multi_target to average it over the columns")
    return frame.iloc[:, 0]


def _check_frames(metric: str, truth: pd.DataFrame, pred: pd.DataFrame) -> None:
    if list(truth.columns) != list(pred.columns):
        raise ValueError(f"{metric}: truth columns {list(truth.columns)} and prediction columns "
                         f"{list(pred.columns)} differ; align them first")
    if truth.columns.duplicated().any():
        raise ValueError(f"{metric}: duplicate target columns {_examples(truth.columns[truth.columns.duplicated()])}")
    if len(truth) != len(pred):
        raise ValueError(f"{metric}: {len(truth)} truth rows but {len(pred)} prediction rows; align them first")
    if truth.shape[1] == 0 or len(truth) == 0:
        raise ValueError(f"{metric}: nothing to score ({len(truth)} rows, {truth.shape[1]} target columns)")


def _order_key(text: str) -> tuple[int, float, str]:
    """Numbers in numeric order, then text in code-point order."""
    try:
        return 0, float(text), ""
    except ValueError:
        return 1, 0.0, text


def _positive(metric: str, classes: set[str], pos_label: Any) -> str:
    """The positive class: ``pos_label``, else "1" when the labels are 0/1, else the larger of two labels."""
    if len(classes) > 2:
        raise ValueError(f"{metric} is binary, but the truth holds {len(classes)} labels "
                         f"({_examples(sorted(classes, key=_order_key))})")
    if pos_label is not None:
        positive = label(pos_label)
        if positive is None:
            raise MetricParamError(f"{metric}: pos_label {pos_label!r} is not a label")
    elif "1" in classes or classes == {"0"}:
        positive = "1"
    elif len(classes) == 2:
        positive = max(classes, key=_order_key)
    else:
        raise ValueError(f"{metric}: cannot tell the positive class from the truth's one label "
                         f"{_examples(classes)}; pass pos_label")
    if len(classes - {positive}) > 1:
        raise ValueError(f"{metric}: pos_label {positive!r} is neither of the truth's labels "
                         f"({_examples(sorted(classes, key=_order_key))})")
    return positive


def _binary_truth(metric: str, series: pd.Series, pos_label: Any) -> np.ndarray:
    truth = _labels(metric, series, "truth")
    return truth == _positive(metric, set(truth), pos_label)


def _one_hot(metric: str, truth: pd.DataFrame) -> np.ndarray:
    matrix = np.column_stack([_numbers(metric, truth[c], "truth") for c in truth.columns])
    bad = np.flatnonzero(~np.isin(matrix, (0.0, 1.0)).all(axis=1) | (matrix.sum(axis=1) != 1)).tolist()
    if bad:
        raise ValueError(f"{metric}: with {truth.shape[1]} class columns the truth must be one-hot (a single 1 "
                         f"per row); {len(bad)} rows are not (rows {_examples(bad)})")
    return matrix


def _no_pos_label(metric: str, pos_label: Any, columns: int) -> None:
    if pos_label is not None:
        raise MetricParamError(f"{metric}: pos_label applies to one binary column, not {columns} class columns")


# ----- label metrics ------------------------------------------------------------------------------

def _label_pair(metric: str, truth: pd.DataFrame, pred: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    return _labels(metric, _column(metric, truth), "truth"), _labels(metric, _column(metric, pred), "prediction")


def _confusion(truth: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Counts by (true class, predicted class) over the classes either side uses."""
    classes, codes = np.unique(np.concatenate([truth, pred]), return_inverse=True)
    k, n = len(classes), len(truth)
    return np.bincount(codes[:n] * k + codes[n:], minlength=k * k).reshape(k, k)


def accuracy(truth: pd.DataFrame, pred: pd.DataFrame) -> float:
    t, p = _label_pair("accuracy", truth, pred)
    return float(np.mean(t == p))


def balanced_accuracy(truth: pd.DataFrame, pred: pd.DataFrame) -> float:
    """Mean recall over the classes in the truth (a predicted class the truth lacks has no recall)."""
    matrix = _confusion(*_label_pair("balanced_accuracy", truth, pred))
    support = matrix.sum(axis=1)
    present = support > 0
    return float(np.mean(np.diag(matrix)[present] / support[present]))


def f1(truth: pd.DataFrame, pred: pd.DataFrame, *, pos_label: Any = None) -> float:
    """F1 of the positive class; predictions of any other label count as negative; 0 with no positives at all."""
    t, p = _label_pair("f1", truth, pred)
    positive = _positive("f1", set(t), pos_label)
    tp = np.sum((t == positive) & (p == positive))
    wrong = np.sum((t == positive) != (p == positive))  # false positives + false negatives
    return float(2 * tp / (2 * tp + wrong)) if tp + wrong else 0.0


def f1_macro(truth: pd.DataFrame, pred: pd.DataFrame) -> float:
    """Unweighted mean F1 over every class either side uses."""
    matrix = _confusion(*_label_pair("f1_macro", truth, pred))
    tp = np.diag(matrix)
    return float(np.mean(2 * tp / (matrix.sum(axis=0) + matrix.sum(axis=1))))


def quadratic_weighted_kappa(truth: pd.DataFrame, pred: pd.DataFrame, *, labels: list[Any] | None = None) -> float:
    """Cohen's kappa with weights (i - j)^2 over the rating scale (Kaggle's definition).

    Integer labels are their own scale (from the lowest to the highest seen, gaps
    included, as Kaggle does); any other labels need ``labels``, the categories in order.
    Kappa = 1 - sum(w * O) / sum(w * E), with E the outer product of the two histograms
    scaled to n rows.  For quadratic weights both sums reduce to moments of the
    positions x (truth) and y (prediction): sum(w O) ∝ mean((x - y)^2) and
    sum(w E) ∝ var(x) + var(y) + (mean x - mean y)^2, so no N x N matrix is built.
    When both sides put every row on one and the same rating, kappa is 1.
    """
    metric = "quadratic_weighted_kappa"
    t, p = _label_pair(metric, truth, pred)
    x, y = _ratings(metric, t, "truth", labels), _ratings(metric, p, "prediction", labels)
    disagreement = np.mean((x - y) ** 2)
    chance = np.var(x) + np.var(y) + (np.mean(x) - np.mean(y)) ** 2
    return 1.0 if chance == 0 else float(1 - disagreement / chance)


def _ratings(metric: str, values: np.ndarray, side: str, scale: list[Any] | None) -> np.ndarray:
    """Each label's position on the rating scale."""
    if scale is None:
        bad = [v for v in pd.unique(values) if not _INTEGER.fullmatch(v)]
        if bad:
            hint = "round predictions to the rating scale" if side == "prediction" else "pass params.labels in order"
            raise _error(side, f"{metric} takes integer ratings; the {side} holds {len(bad)} other labels "
                               f"({_examples(bad)}): {hint}")
        return values.astype(np.int64).astype(float)
    if not isinstance(scale, (list, tuple)) or not scale:
        raise MetricParamError(f"{metric}: labels must be a non-empty list of categories in order, got {scale!r}")
    order = [label(v) for v in scale]
    if None in order or len(set(order)) != len(order):
        raise MetricParamError(f"{metric}: labels must be distinct, non-missing categories, got {scale!r}")
    position = {name: i for i, name in enumerate(order)}
    unknown = [v for v in pd.unique(values) if v not in position]
    if unknown:
        raise _error(side, f"{metric}: the {side} holds {len(unknown)} labels outside the scale {order} "
                           f"({_examples(unknown)})")
    return np.array([position[v] for v in values], dtype=float)


# ----- probability metrics ------------------------------------------------------------------------

def _auc(metric: str, positive: np.ndarray, score: np.ndarray, column: Any) -> float:
    """Probability that a random positive outranks a random negative (ties count half): Mann-Whitney U."""
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValueError(f"{metric}: the truth column {column!r} holds one class only "
                         f"({len(positive)} {'positive' if n_pos else 'negative'} rows); AUC needs both")
    ranks = pd.Series(score).rank(method="average").to_numpy()
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def roc_auc(truth: pd.DataFrame, pred: pd.DataFrame, *, pos_label: Any = None) -> float:
    """Binary: one column of labels and one of positive-class scores.  Multi-class: one-vs-rest macro mean
    over one score column per class, the truth one-hot in the same columns."""
    metric = "roc_auc"
    if truth.shape[1] == 1:
        column = truth.columns[0]
        positive = _binary_truth(metric, truth[column], pos_label)
        return _auc(metric, positive, _numbers(metric, pred[column], "prediction"), column)
    _no_pos_label(metric, pos_label, truth.shape[1])
    onehot = _one_hot(metric, truth)
    return float(np.mean([_auc(metric, onehot[:, i] == 1, _numbers(metric, pred[c], "prediction"), c)
                          for i, c in enumerate(truth.columns)]))


def log_loss(truth: pd.DataFrame, pred: pd.DataFrame, *, pos_label: Any = None) -> float:
    """Mean negative log-likelihood as Kaggle computes it: probabilities clipped to [1e-15, 1 - 1e-15],
    then (multi-class) each row divided by its sum, so rows need not sum to one."""
    metric = "log_loss"
    if truth.shape[1] == 1:
        column = truth.columns[0]
        positive = _binary_truth(metric, truth[column], pos_label)
        prob = np.clip(_numbers(metric, pred[column], "prediction"), EPS, 1 - EPS)
        return float(-np.mean(np.where(positive, np.log(prob), np.log1p(-prob))))
    _no_pos_label(metric, pos_label, truth.shape[1])
    onehot = _one_hot(metric, truth)
    prob = np.clip(np.column_stack([_numbers(metric, pred[c], "prediction") for c in pred.columns]), EPS, 1 - EPS)
    prob /= prob.sum(axis=1, keepdims=True)
    return float(-np.mean(np.log(prob[onehot == 1])))


# ----- value metrics ------------------------------------------------------------------------------

def _value_pair(metric: str, truth: pd.DataFrame, pred: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    return _numbers(metric, _column(metric, truth), "truth"), _numbers(metric, _column(metric, pred), "prediction")


def rmse(truth: pd.DataFrame, pred: pd.DataFrame) -> float:
    t, p = _value_pair("rmse", truth, pred)
    return float(np.sqrt(np.mean((t - p) ** 2)))


def rmsle(truth: pd.DataFrame, pred: pd.DataFrame) -> float:
    """RMSE of log(1 + x); a negative value has no such log here, so it is an error, not a clipped guess."""
    metric = "rmsle"
    t, p = _value_pair(metric, truth, pred)
    for side, values in (("truth", t), ("prediction", p)):
        negative = values[values < 0]
        if len(negative):
            raise _error(side, f"{metric} takes log(1 + x), so values must be >= 0; the {side} has "
                               f"{len(negative)} negative values ({_examples(negative.tolist())})")
    return float(np.sqrt(np.mean((np.log1p(t) - np.log1p(p)) ** 2)))


def mae(truth: pd.DataFrame, pred: pd.DataFrame) -> float:
    t, p = _value_pair("mae", truth, pred)
    return float(np.mean(np.abs(t - p)))


def r2(truth: pd.DataFrame, pred: pd.DataFrame) -> float:
    """1 - SS_res / SS_tot; a constant truth scores 1 when matched exactly, else 0 (scikit-learn's rule)."""
    t, p = _value_pair("r2", truth, pred)
    residual, total = np.sum((t - p) ** 2), np.sum((t - t.mean()) ** 2)
    if total == 0:
        return 1.0 if residual == 0 else 0.0
    return float(1 - residual / total)


# ----- ranking metrics ----------------------------------------------------------------------------

def map_at_k(truth: pd.DataFrame, pred: pd.DataFrame, *, k: int = 3) -> float:
    """Kaggle's MAP@k: the mean over rows of AP@k = sum of precision@i at each hit / min(relevant, k).

    A prediction cell holds labels separated by spaces in rank order; only the first k
    count, a label repeated later is not a second hit, and a blank cell scores 0.
    A truth cell holds the relevant labels (usually one), separated by spaces.
    """
    metric = "map_at_k"
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise MetricParamError(f"{metric}: k must be a positive integer, got {k!r}")
    relevant = [set(_tokens(cell)) for cell in _labels(metric, _column(metric, truth), "truth")]
    total = 0.0
    for want, cell in zip(relevant, _column(metric, pred)):
        hits, precision_sum, seen = 0, 0.0, set()
        for i, guess in enumerate(_tokens(cell)[:k], start=1):
            if guess in want and guess not in seen:
                hits += 1
                precision_sum += hits / i
            seen.add(guess)
        total += precision_sum / min(len(want), k)
    return total / len(relevant)


_token_label = functools.lru_cache(maxsize=1 << 16)(label)  # a ranking column repeats few labels many times


def _tokens(cell: Any) -> list[str]:
    """The labels in a space-separated cell, each normalised; none for a missing cell."""
    if not isinstance(cell, str) and pd.isna(cell):
        return []
    return [t for t in map(_token_label, str(cell).split()) if t is not None]


# ----- the registry -------------------------------------------------------------------------------

METRICS: dict[str, Metric] = {m.name: m for m in (
    Metric("accuracy", True, "label", accuracy),
    Metric("balanced_accuracy", True, "label", balanced_accuracy),
    Metric("f1", True, "label", f1),
    Metric("f1_macro", True, "label", f1_macro),
    Metric("roc_auc", True, "probability", roc_auc),
    Metric("log_loss", False, "probability", log_loss),
    Metric("rmse", False, "value", rmse),
    Metric("rmsle", False, "value", rmsle),
    Metric("mae", False, "value", mae),
    Metric("r2", True, "value", r2),
    Metric("map_at_k", True, "ranking", map_at_k),
    Metric("quadratic_weighted_kappa", True, "label", quadratic_weighted_kappa),
)}

_MULTI = {"multi_target": True}
ALIASES: dict[str, tuple[str, dict[str, Any]]] = {
    **{a: ("accuracy", {}) for a in ("acc", "accuracy_score", "categorization_accuracy")},
    "balanced_accuracy_score": ("balanced_accuracy", {}),
    **{a: ("f1", {}) for a in ("f1_score", "f1_binary", "binary_f1")},
    **{a: ("f1_macro", {}) for a in ("macro_f1", "f1_macro_score", "macro_f1_score")},
    **{a: ("roc_auc", {}) for a in ("auc", "auc_roc", "roc_auc_score", "auroc", "area_under_roc_curve")},
    **{a: ("roc_auc", _MULTI) for a in ("mean_column_wise_roc_auc", "mean_columnwise_roc_auc", "mean_column_wise_auc")},
    **{a: ("log_loss", {}) for a in ("logloss", "cross_entropy", "multi_class_log_loss", "multiclass_log_loss",
                                     "binary_log_loss")},
    **{a: ("rmse", {}) for a in ("root_mean_squared_error", "root_mean_square_error")},
    **{a: ("rmse", _MULTI) for a in ("mcrmse", "mean_column_wise_rmse", "mean_columnwise_rmse")},
    **{a: ("rmsle", {}) for a in ("root_mean_squared_log_error", "root_mean_squared_logarithmic_error")},
    "mean_absolute_error": ("mae", {}),
    **{a: ("r2", {}) for a in ("r2_score", "r_squared", "coefficient_of_determination")},
    **{a: ("map_at_k", {}) for a in ("map", "mapk", "map@k")},
    **{a: ("quadratic_weighted_kappa", {}) for a in ("qwk", "quadratic_kappa", "kappa_quadratic",
                                                     "cohen_kappa_quadratic")},
}
_MAP_AT = re.compile(r"map(?:@|_at_|_)?([0-9]+)")


def _key(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


def get_metric(name: str) -> Metric:
    """The metric for a name or alias, case-insensitive, spaces and dashes read as underscores.

    ``map@5`` (also ``map_at_5``, ``map5``) is ``map_at_k`` with ``k=5``; ``mcrmse`` is ``rmse``
    averaged per column.  Raises ``UnknownMetricError`` naming the close matches.
    """
    key = _key(name)
    if key in METRICS:
        return METRICS[key]
    if key in ALIASES:
        base, params = ALIASES[key]
        return replace(METRICS[base], params=params)
    if (match := _MAP_AT.fullmatch(key)) and int(match.group(1)) > 0:
        return replace(METRICS["map_at_k"], params={"k": int(match.group(1))})
    known = sorted(METRICS) + sorted(ALIASES)
    close = difflib.get_close_matches(key, known, n=3, cutoff=0.6)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    raise UnknownMetricError(f"unknown metric {name!r}{hint}; known: {', '.join(sorted(METRICS))}, map@<k> "
                             "(and aliases such as auc, logloss, qwk, mcrmse)")


# Free-text names (a Kaggle competition's "Root Mean Squared Logarithmic Error", "Mean Columnwise
# AUC", "Categorization Accuracy") by the words they contain, checked in order: the first match wins.
# None marks a metric dsgym does not implement, so that a longer name is not read as a wrong one
# ("mean absolute percentage error" is no MAE).
_WORDS: list[tuple[str, str | None, dict[str, Any]]] = [
    (r"mape|percentage|smape", None, {}),
    (r"mcc|matthews", None, {}),
    (r"rmsle|squared_log|msle", "rmsle", {}),
    (r"column_?wise.*(rmse|root_mean_squared)|(rmse|root_mean_squared).*column_?wise", "rmse", _MULTI),
    (r"rmse|root_mean_squared|mse|squared_error", "rmse", {}),
    (r"mae|mean_absolute|absolute_error", "mae", {}),
    (r"(^|_)r2|r_squared|determination", "r2", {}),
    (r"column_?wise.*(auc|roc)|(auc|roc).*column_?wise", "roc_auc", _MULTI),
    (r"auc|roc", "roc_auc", {}),
    (r"log_?loss|cross_?entropy|logarithmic", "log_loss", {}),
    (r"kappa|qwk", "quadratic_weighted_kappa", {}),
    (r"map|average_precision|apk", "map_at_k", {}),
    (r"f1_macro|macro_f1", "f1_macro", {}),
    (r"f1|f_score|fscore", "f1", {}),
    (r"balanced", "balanced_accuracy", {}),
    (r"acc|categorization", "accuracy", {}),
]


def metric_from_text(text: Any) -> Metric | None:
    """The metric a free-text name means, or None when dsgym implements none for it.

    A registry name or alias (``get_metric``) first; else the words in the name (see
    ``_WORDS``): "Root Mean Squared Logarithmic Error" is ``rmsle``, "MAP@3" is ``map_at_k``
    with ``k=3``, "Mean Columnwise AUC" is ``roc_auc`` averaged per column.  For competition
    metric names that only Kaggle scores, e.g. what an agent should optimise.
    """
    if not isinstance(text, str) or not text.strip():
        return None
    try:
        return get_metric(text)
    except UnknownMetricError:
        pass
    key = re.sub(r"[^a-z0-9@]+", "_", text.lower()).strip("_")
    for pattern, name, params in _WORDS:
        if re.search(pattern, key):
            if name == "map_at_k" and (k := re.search(r"(?:map|@|_at)_?([0-9]+)", key)) and int(k.group(1)) > 0:
                params = {"k": int(k.group(1))}
            return None if name is None else replace(METRICS[name], params=params)
    return None


def compute(name: str, truth: pd.DataFrame, pred: pd.DataFrame, params: Mapping[str, Any] | None = None) -> float:
    """Score aligned ``pred`` against ``truth`` (same rows in the same order, target columns only)."""
    return get_metric(name).compute(truth, pred, params)
