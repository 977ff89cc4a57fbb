"""Static checks of a suite: what can be wrong with a task before any episode is played."""

from __future__ import annotations

import inspect
from dataclasses import dataclass

from dsgym.scoring import METRICS
from dsgym.task import Suite, Task


@dataclass(frozen=True)
class Problem:
    suite: str
    task: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.suite}/{self.task}" if self.task else self.suite
        return f"{where}: {self.message}"


def check_task(task: Task, *, need_solution: bool) -> list[str]:
    from dsgym.variants import check_spec

    messages = task.unsafe_data() + check_spec(task)
    if missing := task.missing_data():
        messages.append(f"data file(s) missing: {', '.join(missing)}")
    if task.kind == "prediction":
        return messages + check_prediction(task, need_solution=need_solution)
    metric = METRICS.get(task.metric)
    if metric is None:
        messages.append(f"unknown metric {task.metric!r}")
    else:
        accepted = inspect.signature(metric).parameters
        takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in accepted.values())
        unknown = [k for k in task.metric_params if k not in accepted and not takes_any]
        if unknown:
            messages.append(f"metric {task.metric} does not take: {', '.join(unknown)}")
    if task.kind == "answer" and task.answer is None:
        messages.append("no reference answer")
    if task.kind == "prediction" and task.prediction is None:
        messages.append("prediction task without a prediction spec")
    if need_solution and not task.solution:
        messages.append("no reference solution")
    return messages


def check_prediction(task: Task, *, need_solution: bool) -> list[str]:
    """A prediction task's metric, hidden labels and leaderboard load, and agree with its spec."""
    from dsgym.predict import grade, metrics

    spec = task.prediction
    if spec is None:
        return ["prediction task without a prediction spec"]
    messages = []
    if spec.labels_file is not None:  # without labels Kaggle grades, whatever the metric
        try:
            metrics.get_metric(task.metric)
        except metrics.UnknownMetricError as exc:
            messages.append(str(exc.args[0] if exc.args else exc))
    if spec.sample_submission and not (task.data_root / spec.sample_submission).exists():
        messages.append(f"sample submission {spec.sample_submission} missing")
    try:
        if spec.labels_file is not None:
            truth = grade.labels(task)
            if missing := [c for c in [spec.id_column, *spec.target_columns] if c not in truth.columns]:
                messages.append(f"hidden labels lack column(s): {', '.join(missing)}")
        grade.leaderboard(task)
    except grade.GradingError as exc:
        messages.append(str(exc))
    if need_solution and not task.solution:
        messages.append("no reference solution")
    return messages


def validate_suite(suite: Suite, *, need_solutions: bool = False) -> list[Problem]:
    """Every problem found in ``suite``: load errors first, then per task."""
    problems = [Problem(suite.name, None, error) for error in suite.errors]
    for task in suite.tasks.values():
        problems += [Problem(suite.name, task.id, m) for m in check_task(task, need_solution=need_solutions)]
    return problems
