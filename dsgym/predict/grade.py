"""Grading a prediction task's submission host-side: validate, score, place on the leaderboard.

The episode's score (the env's reward) is the submission's percentile on the
task's offline leaderboard divided by 100, so it lies in [0, 1] whatever the
metric's scale and direction.  A task without a leaderboard scores 1.0 for a
valid graded submission (the raw metric is in the breakdown).  An invalid
submission scores the task's ``invalid_score`` with a reason code and message;
it never raises.  What does raise (:class:`GradingError`) is a task that cannot
be graded on this machine at all, e.g. its hidden labels are missing.
"""

from __future__ import annotations

import csv
import time
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from dsgym.predict import kaggle, metrics, standing, submission
from dsgym.scoring.result import Score

if TYPE_CHECKING:  # graded by duck typing too: Harbor task folders ship this module without pydantic
    from dsgym.task import Task


class GradingError(RuntimeError):
    """The task cannot be graded here (labels or leaderboard missing or corrupt, unknown metric)."""


def grade(task: Task, source: Path | bytes | None) -> Score:
    """Score the submission (a file on the host, or its bytes; None: the agent wrote none) for ``task``.

    The breakdown records the submission's size (``submission_bytes``) and how long grading
    took (``grading_seconds``).
    """
    started = time.perf_counter()
    score = _grade(task, source)
    if source is not None:
        size = len(source) if isinstance(source, bytes) else Path(source).stat().st_size
        score.breakdown["submission_bytes"] = size
    score.breakdown["grading_seconds"] = round(time.perf_counter() - started, 3)
    return score


def _grade(task: Task, source: Path | bytes | None) -> Score:
    spec = task.prediction
    if spec is None:
        raise GradingError(f"task {task.env_id} is not a prediction task")
    if source is None:
        return invalid(task, "missing_file", f"no {spec.submission_file} in the working directory "
                                             "when the episode ended")
    if spec.labels_file is None:
        try:
            table = submission.read_table(source)
        except submission.SubmissionError as exc:
            return invalid(task, exc.reason, str(exc))
        return _grade_on_kaggle(task, table, source if isinstance(source, bytes) else Path(source).read_bytes())
    try:
        metric = metrics.get_metric(task.metric)
    except metrics.UnknownMetricError as exc:
        raise GradingError(f"task {task.env_id}: {exc}") from exc
    targets = spec.target_columns or [c for c in label_columns(task) if c != spec.id_column]
    numeric = targets if metric.output in ("probability", "value") else []
    truth, truth_ids = labels_with_ids(task, tuple(numeric))
    try:
        table = submission.read_table(source, numeric=numeric)
    except submission.SubmissionError as exc:
        return invalid(task, exc.reason, str(exc))
    order = truth_ids.match(table, spec.id_column)
    problems = submission.check(table, truth, spec.id_column, targets, numeric_columns=numeric,
                                allow_nan=spec.allow_nan, order=order)
    if problems:
        return rejected(task, problems)
    pred, true = submission.align(table, truth, spec.id_column, targets, order=order)
    try:
        value = metric.compute(true, pred, task.metric_params)
    except metrics.PredictionError as exc:  # well-formed, but values the metric cannot take
        return invalid(task, "metric_input", str(exc))
    except (ValueError, metrics.MetricParamError) as exc:  # the task's labels or params are at fault
        raise GradingError(f"task {task.env_id}: metric {task.metric} cannot grade: {exc}") from exc
    breakdown: dict[str, Any] = {"valid": True, "metric": metric.name, "metric_value": value,
                                 "higher_is_better": metric.higher_is_better, "rows": len(true)}
    return _placed(breakdown, leaderboard(task))


def _placed(breakdown: dict[str, Any], board: standing.Leaderboard | None) -> Score:
    """The score as the percentile of the breakdown's ``metric_value`` on ``board`` (1.0 without one)."""
    if board is None:
        return Score(1.0, {**breakdown, "leaderboard": None})
    place = board.standing(breakdown["metric_value"])
    breakdown.update(percentile=place.percentile, rank=place.rank, teams=place.teams, medal=place.medal,
                     above_median=place.above_median, medal_thresholds=place.thresholds,
                     leaderboard=board.source, medal_rules=board.rules)
    return Score(min(1.0, max(0.0, place.percentile / 100.0)), breakdown)


def _grade_on_kaggle(task: Task, table: pd.DataFrame, data: bytes) -> Score:
    """Official tasks: check the format against the public sample, then let Kaggle score it."""
    spec = task.prediction
    assert spec is not None
    if spec.sample_submission and (sample_path := task.data_root / spec.sample_submission).is_file():
        try:
            sample = submission.read_table(sample_path)
        except submission.SubmissionError as exc:
            raise GradingError(f"task {task.env_id}: sample submission {sample_path} is unreadable: {exc}") from exc
        id_column = spec.id_column if spec.id_column in sample.columns else str(sample.columns[0])
        problems = submission.check(table, sample, id_column, allow_nan=spec.allow_nan)
        if problems:
            return rejected(task, problems)
    competition = str(task.metadata.get("challenge_name") or task.id)
    try:
        public, private = kaggle.score(competition, data, spec.submission_file)
    except kaggle.KaggleError as exc:
        raise GradingError(str(exc)) from exc
    breakdown: dict[str, Any] = {"valid": True, "metric": task.metric, "metric_value": private if private is not None
                                 else public, "public_score": public, "private_score": private,
                                 "higher_is_better": spec.higher_is_better, "graded_by": "kaggle"}
    board = leaderboard(task, private=private is not None)
    return _placed(breakdown, board)


def invalid(task: Task, reason: str, message: str, **extra: Any) -> Score:
    assert task.prediction is not None
    return Score(task.prediction.invalid_score, {"valid": False, "reason": reason, "message": message, **extra})


def rejected(task: Task, problems: list[submission.Problem]) -> Score:
    """An invalid submission: the first problem's reason, every problem's message."""
    return invalid(task, problems[0].reason, "; ".join(p.message for p in problems),
                   problems=[{"reason": p.reason, "message": p.message} for p in problems])


def labels(task: Task, numeric: tuple[str, ...] = ()) -> pd.DataFrame:
    """The hidden labels (``numeric`` columns as float64 where they parse)."""
    return labels_with_ids(task, numeric)[0]


def labels_with_ids(task: Task, numeric: tuple[str, ...] = ()) -> tuple[pd.DataFrame, submission.IdIndex]:
    """The hidden labels and an index of their ids, both cached for the next grading."""
    spec = task.prediction
    assert spec is not None
    if spec.labels_file is None:
        raise GradingError(f"task {task.env_id} has no hidden labels to grade against "
                           "(official DSPredict tasks are scored by Kaggle: see docs/dspredict.md)")
    path = Path(spec.labels_file)
    try:
        return _read_labels(path, path.stat().st_mtime_ns, spec.id_column, numeric)
    except FileNotFoundError as exc:
        raise GradingError(f"task {task.env_id}: hidden labels {path} are missing on this machine") from exc
    except submission.SubmissionError as exc:
        raise GradingError(f"task {task.env_id}: hidden labels {path} are unreadable: {exc}") from exc


def label_columns(task: Task) -> list[str]:
    """The hidden labels' header, from their first line: which columns to parse as numbers."""
    spec = task.prediction
    assert spec is not None and spec.labels_file is not None
    try:
        with open(spec.labels_file, encoding="utf-8-sig", newline="") as handle:
            return [name.strip() for name in next(csv.reader(handle), [])]
    except FileNotFoundError as exc:
        raise GradingError(f"task {task.env_id}: hidden labels {spec.labels_file} are missing on this machine") from exc
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise GradingError(f"task {task.env_id}: hidden labels {spec.labels_file} are unreadable: {exc}") from exc


def leaderboard(task: Task, *, private: bool = True) -> standing.Leaderboard | None:
    """The task's offline leaderboard; ``private=False`` places a public score on the public board."""
    spec = task.prediction
    assert spec is not None
    if spec.leaderboard_file is None:
        return None
    path = Path(spec.leaderboard_file)
    if path.suffix.lower() == ".csv":  # MLE-bench's leaderboard.csv: one competition, MLE-bench's medal rules
        try:
            return _read_mlebench_board(path, path.stat().st_mtime_ns, spec.higher_is_better)
        except (OSError, ValueError) as exc:
            raise GradingError(f"task {task.env_id}: leaderboard {path} unusable: {exc}") from exc
    key = spec.leaderboard_key or task.id
    try:
        boards = _read_leaderboards(path, path.stat().st_mtime_ns)
    except (OSError, ValueError) as exc:
        raise GradingError(f"task {task.env_id}: leaderboard {path} unusable: {exc}") from exc
    if key not in boards:
        raise GradingError(f"task {task.env_id}: leaderboard {path} has no entry {key!r}")
    stats = boards[key] if private else {**boards[key], "private_scores": []}
    try:
        return standing.leaderboard_from_stats(stats, spec.higher_is_better)
    except ValueError as exc:
        raise GradingError(f"task {task.env_id}: leaderboard entry {key!r} in {path}: {exc}") from exc


@lru_cache(maxsize=8)
def _read_labels(path: Path, mtime_ns: int, id_column: str,
                 numeric: tuple[str, ...]) -> tuple[pd.DataFrame, submission.IdIndex]:
    table = submission.read_table(path, numeric=numeric)
    if id_column not in table.columns:
        raise submission.SubmissionError("missing_id_column", f"no id column {id_column!r}")
    table[id_column] = submission.normalize_ids(table[id_column])  # one copy of the ids, shared by the index
    return table, submission.IdIndex(table[id_column])


@lru_cache(maxsize=16)
def _read_leaderboards(path: Path, mtime_ns: int) -> dict[str, dict]:
    return standing.load_leaderboards(path)


@lru_cache(maxsize=16)
def _read_mlebench_board(path: Path, mtime_ns: int, higher_is_better: bool) -> standing.Leaderboard:
    return standing.mlebench_leaderboard(path, higher_is_better)
