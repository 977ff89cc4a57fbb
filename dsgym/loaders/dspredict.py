"""DSPredict (Kaggle-style prediction): ``data/task/dspredict/easy.json`` and ``hard.json``.

Each record: ``challenge_name`` (the Kaggle slug, used as the task id),
``description`` (the whole brief: challenge, evaluation, submission format, data),
``competition_description``, ``evaluation_metric``, ``dataset_description``,
``docker_challenge_path`` (``/data/<challenge>``) and ``metadata`` (``domain``,
``keywords``, whose last entry names the competition metric).

Only the task side is built here: the competition data is not in the release
(download it with the Kaggle CLI into ``data/data/dspredict-<subset>/<challenge>/``,
see docs/dspredict.md); that folder is the data root, so ``/data/<challenge>`` is
the same path inside the sandbox.  Kaggle keeps the test labels, so these tasks
are scored by a late submission to Kaggle (``dsgym.predict.kaggle``).  Whether higher scores are better comes from the release's offline
leaderboard (``data/DSPredict_Offline_Leaderboard/<subset>_leaderboard_stats_*.json``,
listed best first, as the official grader reads it) or, for a challenge it does
not list, from the metric's name.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dsgym.loaders.records import Context, OfficialFormat, RecordError, data_file, mapping, official_id, text
from dsgym.task import PredictionSpec, Suite, Task

SUBSETS = ("easy", "hard")
LEADERBOARD_DIR = "DSPredict_Offline_Leaderboard"
METRIC = "kaggle"  # a competition metric dsgym does not implement: Kaggle scores it
SAMPLE_SUBMISSIONS = ("sample_submission.csv", "sampleSubmission.csv", "sample_submission.csv.zip",
                      "sample_submission.zip", "sample_submission.parquet", "gender_submission.csv")
_LOWER = re.compile(r"rmse|rmsle|rmsse|mae|medae|mape|smape|log ?loss|brier|error|loss|distance|deviance")
_HIGHER = re.compile(r"auc|accuracy|f1|f2|f-score|kappa|mcc|matthews|map|dice|r2|recall|precision|ndcg|"
                     r"spearman|kendall|correlation|iou")
QUESTION = (
    "Build a model for the Kaggle competition '{name}' and predict its test set. Write the predictions "
    "to submission.csv in your working directory, in the submission format the description asks for."
)
GUIDELINE = (
    "The description gives the evaluation metric and the submission format; the sample submission "
    "file, where there is one, shows the exact columns. When submission.csv is written, answer with "
    "a short summary of your approach."
)


def leaderboard(root: Path, subset: str) -> tuple[dict[str, Any], list[str]]:
    """The newest offline leaderboard file for ``subset`` (host side only), parsed once per suite."""
    folder = root / LEADERBOARD_DIR
    files = sorted(folder.glob(f"{subset}_leaderboard_stats_*.json")) if folder.is_dir() else []
    if not files:
        return {"leaderboard": {}, "leaderboard_file": None}, []
    try:
        boards = json.loads(files[-1].read_text(encoding="utf-8"))
        if not isinstance(boards, dict):
            raise ValueError("expected an object keyed by challenge name")
    except (OSError, ValueError) as exc:
        return {"leaderboard": {}, "leaderboard_file": None}, [f"leaderboard {files[-1]}: unreadable: {exc}"]
    return {"leaderboard": boards, "leaderboard_file": files[-1]}, []


def direction(board: Any, metric_name: str) -> tuple[bool | None, str]:
    """Whether higher is better, and where that came from: the leaderboard's order, else the metric's name."""
    if isinstance(board, Mapping):
        for key in ("public_scores", "private_scores"):
            scores = board.get(key)
            if isinstance(scores, list) and len(scores) > 1 and scores[0] != scores[-1]:
                if all(isinstance(s, (int, float)) for s in (scores[0], scores[-1])):
                    return scores[0] > scores[-1], "leaderboard"
    name = metric_name.lower()
    if _LOWER.search(name):
        return False, "metric name"
    if _HIGHER.search(name):
        return True, "metric name"
    return None, "unknown"


def local_metric(name: str) -> str:
    """The competition metric's name when dsgym implements it, else ``kaggle`` (only Kaggle computes it)."""
    from dsgym.predict import metrics  # pandas: imported when a DSPredict suite loads, not by every loader

    try:
        metrics.get_metric(name)  # the name itself is kept: an alias like map@5 carries its params
    except metrics.UnknownMetricError:
        return METRIC
    return name.lower()


def task_id(record: Mapping[str, Any], index: int) -> str:
    return official_id(record.get("challenge_name"), "challenge_name")


def build(record: Mapping[str, Any], index: int, tid: str, ctx: Context) -> Task:
    name = text(record, "challenge_name").strip()
    meta = mapping(record, "metadata")
    folder = data_file(record.get("docker_challenge_path") or f"/data/{name}", "docker_challenge_path")
    keywords = meta.get("keywords") or []
    if not isinstance(keywords, list):
        raise RecordError("metadata.keywords", "expected a list of strings")
    metric_name = str(keywords[-1]).strip() if keywords else ""
    board = ctx.extra.get("leaderboard", {}).get(name)
    higher, source = direction(board, metric_name or text(record, "evaluation_metric", required=False))
    sample = next((f"{folder}/{candidate}" for candidate in SAMPLE_SUBMISSIONS
                   if (ctx.data_root / folder / candidate).exists()), None)
    spec = PredictionSpec(
        submission_file="submission.csv", sample_submission=sample,
        leaderboard_file=ctx.extra.get("leaderboard_file") if board is not None else None,
        leaderboard_key=name, higher_is_better=True if higher is None else higher,
    )
    description = text(record, "description", required=False) or "\n\n".join(
        part for part in (text(record, key, required=False).strip() for key in
                          ("competition_description", "evaluation_metric", "dataset_description")) if part)
    if not description.strip():
        raise RecordError("description", "missing")
    return Task(
        id=tid, suite=ctx.suite, data_root=ctx.data_root, question=QUESTION.format(name=name),
        context=description, guideline=GUIDELINE, data_files=[folder], metric=local_metric(metric_name),
        metric_params={"competition_metric": metric_name} if metric_name else {},
        kind="prediction", prediction=spec,
        metadata={"challenge_name": name, "subset": ctx.extra.get("subset"), "domain": meta.get("domain"),
                  "keywords": keywords, "competition_metric": metric_name or None,
                  "evaluation_metric": text(record, "evaluation_metric", required=False),
                  "higher_is_better_source": source, "docker_challenge_path": record.get("docker_challenge_path"),
                  "index": index},
    )


def _format(subset: str) -> OfficialFormat:
    def prepare(root: Path) -> tuple[dict[str, Any], list[str]]:
        extra, problems = leaderboard(root, subset)
        return {**extra, "subset": subset}, problems

    return OfficialFormat(
        suite=f"dspredict-{subset}", task_file=f"task/dspredict/{subset}.json", task_id=task_id, build=build,
        benchmark=f"DSPredict ({subset})", image="official-kaggle", data_subdir=f"data/dspredict-{subset}", prepare=prepare,
        description=f"DSPredict-{subset}: Kaggle competitions; the agent writes submission.csv, graded host-side.",
    )


EASY, HARD = _format("easy"), _format("hard")
FORMATS = {"easy": EASY, "hard": HARD}


def _pick(subset: str) -> OfficialFormat:
    if subset not in FORMATS:
        raise ValueError(f"DSPredict subset must be one of {', '.join(SUBSETS)}, got {subset!r}")
    return FORMATS[subset]


def load(root: str | Path, task_file: str | Path | None = None, *, subset: str = "easy") -> Suite:
    """``subset='easy'`` or ``'hard'`` (suites ``dspredict-easy`` / ``dspredict-hard``)."""
    return _pick(subset).load(root, task_file)


def from_dataset(dataset, root: str | Path, source: str = "dataset", *, subset: str = "easy") -> Suite:
    return _pick(subset).from_dataset(dataset, root, source)


def from_hub(root: str | Path | None = None, *, subset: str = "easy", **kwargs: Any) -> Suite:
    return _pick(subset).from_hub(root, **kwargs)
