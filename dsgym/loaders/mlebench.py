"""MLE-bench competitions, prepared with MLE-bench's own tools, as the prediction suite ``mlebench``.

``mlebench prepare`` (openai/mle-bench) downloads a Kaggle competition and splits it into::

    <data_dir>/<competition>/prepared/public/    description.md, train/test files, sample_submission.csv
    <data_dir>/<competition>/prepared/private/   the answers (the held-out test labels)

What grades a competition lives in the mle-bench checkout, one folder per competition::

    <competitions_dir>/<competition>/config.yaml       grader name, answers and sample submission paths
    <competitions_dir>/<competition>/leaderboard.csv   Kaggle's final leaderboard (a ``score`` column)

``competitions_dir`` is, first that is given: the ``competitions`` argument, the
``DSGYM_MLEBENCH_COMPETITIONS`` environment variable, or the ``mlebench/competitions``
folder of an installed ``mlebench`` package.  Either may name the checkout's root or its
``mlebench/competitions`` folder.

Each prepared competition becomes one prediction task: ``prepared/public`` is the
sandbox's ``/data`` (read-only, nothing else); ``prepared/private`` and the leaderboard
stay on the host, named only in the task's ``prediction`` spec, which ``Task.public()``
strips.  The grader's name maps to one of dsgym's prediction metrics (``GRADERS``); a
competition whose grader dsgym lacks, or whose folder is incomplete, is reported in
``Suite.errors`` and the others still load.  Scores are placed on the competition's
``leaderboard.csv`` with MLE-bench's medal rules (``dsgym.predict.standing``).
"""

from __future__ import annotations

import csv
import importlib.util
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from dsgym.loaders.records import describe
from dsgym.task import TASK_ID_PATTERN, PredictionSpec, Suite, Task, TaskFileError

SUITE = "mlebench"
IMAGE = "official-kaggle"  # the sandbox image every MLE-bench competition runs in: named here only
DATA_ENV = "DSGYM_MLEBENCH_DIR"
COMPETITIONS_ENV = "DSGYM_MLEBENCH_COMPETITIONS"

#: MLE-bench grader name (config.yaml ``grader.name``) -> dsgym metric and its params.  Only graders
#: whose MLE-bench definition dsgym's metric computes the same way are here; the rest are reported.
GRADERS: dict[str, tuple[str, dict[str, Any]]] = {
    "accuracy": ("accuracy", {}),
    "multi-class-classification-accuracy": ("accuracy", {}),
    "auc-roc": ("roc_auc", {}),
    "mean-column-wise-roc-auc": ("roc_auc", {"multi_target": True}),
    "column-wise roc auc": ("roc_auc", {"multi_target": True}),
    "log-loss": ("log_loss", {}),
    "multi-class-log-loss": ("log_loss", {}),
    "root-mean-squared-error": ("rmse", {}),
    "root_mean_squared_error": ("rmse", {}),
    "mean-column-wise-rmsle": ("rmsle", {"multi_target": True}),
    "mean-absolute-error": ("mae", {}),
    "macro-f1-score": ("f1_macro", {}),
    "quadratic-weighted-kappa": ("quadratic_weighted_kappa", {}),
    "map-at-5": ("map_at_k", {"k": 5}),
    "map@5": ("map_at_k", {"k": 5}),
    "map@12": ("map_at_k", {"k": 12}),
}
QUESTION = (
    "Build a model for the MLE-bench competition '{name}' and predict its test set. Write the predictions "
    "to submission.csv in your working directory, in the format of the sample submission."
)
GUIDELINE = (
    "The competition's description (also description.md among the data files) gives the evaluation metric "
    "and the submission format. When submission.csv is written, answer with a short summary of your approach."
)


class CompetitionError(ValueError):
    """A competition that cannot become a task; the message says what is missing or wrong."""


def competitions_dir(given: str | os.PathLike[str] | None = None) -> Path | None:
    """Where the competitions' config.yaml and leaderboard.csv are: the argument, the env var, or mlebench's."""
    for candidate in (given, os.environ.get(COMPETITIONS_ENV)):
        if candidate:
            root = Path(candidate).expanduser()
            return root / "mlebench" / "competitions" if (root / "mlebench" / "competitions").is_dir() else root
    try:
        spec = importlib.util.find_spec("mlebench")  # finds the package without running it
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations))) / "competitions"
    return None


def prepared_ids(data_dir: Path) -> list[str]:
    """The competitions under ``data_dir`` that ``mlebench prepare`` has made a ``prepared`` folder for."""
    return sorted(entry.name for entry in data_dir.iterdir() if (entry / "prepared").is_dir())


def load(data_dir: str | os.PathLike[str], competitions: str | os.PathLike[str] | None = None, *,
         ids: Iterable[str] | None = None, name: str = SUITE) -> Suite:
    """Every prepared competition under ``data_dir`` (or only ``ids``) as one task each.

    Raises ``TaskFileError`` when ``data_dir`` is not a folder or no competitions folder is
    known; a competition that cannot be built is an error of the suite, not an exception.
    """
    root = Path(data_dir).expanduser()
    if not root.is_dir():
        raise TaskFileError(f"{name}: MLE-bench data folder {root} does not exist (prepare competitions with "
                            f"`mlebench prepare -c <id> --data-dir {root}`)")
    configs = competitions_dir(competitions)
    if configs is None or not configs.is_dir():
        raise TaskFileError(f"{name}: no MLE-bench competitions folder"
                            + (f" at {configs}" if configs else "")
                            + f": pass the mle-bench checkout (or set {COMPETITIONS_ENV}), or pip install it")
    suite = Suite(name=name, root=root, version="mlebench", image=IMAGE,
                  description="MLE-bench: Kaggle competitions prepared by MLE-bench; the agent writes "
                              "submission.csv, graded host-side and placed on the competition's leaderboard.",
                  sources=[{"benchmark": "MLE-bench", "data_dir": str(root), "competitions": str(configs)}])
    for competition in (list(ids) if ids is not None else prepared_ids(root)):
        try:
            suite.tasks[competition] = build(competition, root, configs, name)
        except CompetitionError as exc:
            suite.errors.append(f"{name}: competition {competition}: {exc}")
    return suite


def build(competition: str, data_dir: Path, configs: Path, suite: str = SUITE) -> Task:
    """One competition as a prediction task; ``CompetitionError`` says why it cannot be one."""
    if not re.match(TASK_ID_PATTERN, competition):
        raise CompetitionError(f"{competition!r} is not a usable task id")
    public = data_dir / competition / "prepared" / "public"
    if not public.is_dir():
        raise CompetitionError(f"no prepared/public folder in {data_dir / competition} "
                               f"(run `mlebench prepare -c {competition}`)")
    folder = configs / competition
    config = _config(folder / "config.yaml")
    grader = _field(config, ("grader", "name"))
    if grader.lower() not in GRADERS:
        raise CompetitionError(f"grader {grader!r} has no dsgym metric; dsgym grades: {', '.join(sorted(GRADERS))}")
    metric, params = GRADERS[grader.lower()]
    answers = data_dir / _field(config, ("dataset", "answers"))
    if answers.suffix.lower() != ".csv":
        raise CompetitionError(f"answers {answers.name} are not a CSV file; dsgym grades CSV answers only")
    if answers.resolve().is_relative_to(public.resolve()):
        raise CompetitionError(f"answers {answers} are inside prepared/public, which the agent sees")
    if not answers.is_file():
        raise CompetitionError(f"answers {answers} are missing (prepared/private must hold what "
                               "`mlebench prepare` wrote)")
    sample = _in_public(data_dir / _field(config, ("dataset", "sample_submission")), public)
    columns = _header(public / sample, "sample submission")
    if len(columns) < 2:
        raise CompetitionError(f"sample submission {sample} needs an id column and at least one target column")
    answer_columns = _header(answers, "answers")
    missing = [c for c in columns if c not in answer_columns]
    if missing:
        raise CompetitionError(f"answers {answers.name} lack the sample submission's column(s) {', '.join(missing)}")
    if metric == "roc_auc" and len(columns) > 2:  # MLE-bench's auc-roc over several columns: their mean
        params = {**params, "multi_target": True}
    higher = _direction(metric)
    board = folder / "leaderboard.csv"
    _check_board(board, higher)
    description = _description(public, folder)
    spec = dict(submission_file="submission.csv", id_column=columns[0], target_columns=columns[1:],
                sample_submission=sample, labels_file=answers, leaderboard_file=board, leaderboard_key=competition,
                higher_is_better=higher)
    try:
        return Task(
            id=competition, suite=suite, data_root=public, kind="prediction", prediction=PredictionSpec(**spec),
            question=QUESTION.format(name=config.get("name") or competition), context=description,
            guideline=GUIDELINE,
            data_files=sorted(entry.name for entry in public.iterdir()), metric=metric, metric_params=params,
            metadata={"competition_id": competition, "name": config.get("name"), "grader": grader,
                      "competition_type": config.get("competition_type"),
                      "awards_medals": config.get("awards_medals"), "source": "MLE-bench"},
        )
    except ValidationError as exc:
        raise CompetitionError(describe(exc)) from None


def _config(path: Path) -> Mapping[str, Any]:
    from dsgym.extras import need

    yaml = need("yaml", "reading MLE-bench's config.yaml")
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CompetitionError(f"no {path} (is the competitions folder an mle-bench checkout's "
                               "mlebench/competitions?)") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise CompetitionError(f"{path} is unreadable: {exc}") from None
    if not isinstance(config, Mapping):
        raise CompetitionError(f"{path}: expected a mapping, got {type(config).__name__}")
    return config


def _field(config: Mapping[str, Any], keys: tuple[str, ...]) -> str:
    value: Any = config
    for key in keys:
        value = value.get(key) if isinstance(value, Mapping) else None
    if not isinstance(value, str) or not value.strip():
        raise CompetitionError(f"config.yaml has no {'.'.join(keys)}")
    return value.strip()


def _in_public(path: Path, public: Path) -> str:
    """A path config.yaml names, relative to the public folder (it must be inside it)."""
    try:
        relative = path.resolve().relative_to(public.resolve())
    except ValueError:
        raise CompetitionError(f"sample submission {path} is not in {public}") from None
    if not (public / relative).is_file():
        raise CompetitionError(f"sample submission {public / relative} is missing")
    return relative.as_posix()


def _header(path: Path, what: str) -> list[str]:
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            return [name.strip() for name in next(csv.reader(handle), [])]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise CompetitionError(f"{what} {path} is unreadable: {exc}") from None


def _direction(metric: str) -> bool:
    from dsgym.predict import metrics  # pandas: only when an MLE-bench suite loads

    return metrics.get_metric(metric).higher_is_better


def _check_board(path: Path, higher: bool) -> None:
    from dsgym.predict import standing

    try:
        standing.mlebench_leaderboard(path, higher)
    except ValueError as exc:
        raise CompetitionError(f"leaderboard: {exc}") from None


def _description(public: Path, folder: Path) -> str:
    """The description ``mlebench prepare`` copied into public/, else the checkout's own."""
    for path in (public / "description.md", folder / "description.md"):
        if path.is_file():
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise CompetitionError(f"description {path} is unreadable: {exc}") from None
            if text.strip():
                return text
    raise CompetitionError(f"no description.md in {public} or {folder}")
