"""DABStep as released by DSGym: ``data/task/DABStep/dev.jsonl`` (suite ``dabstep``) and ``all.jsonl``
(suite ``dabstep-test``).

Each line: ``task_id``, ``question``, ``answer``, ``guidelines``, ``level``; the
same columns as the upstream hub dataset ``adyen/DABstep`` (config ``tasks``,
splits ``dev`` and ``default``).  Only ``dev`` carries answers: ``all.jsonl`` /
``default`` is DABStep's hidden test set, whose tasks load with ``answer=None``
and ``metadata['answer_hidden']``.  Every task uses the same seven context files
in ``data/data/dabstep/``; the records do not list them.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dsgym.loaders.records import Context, OfficialFormat, RecordError, official_id, question, text
from dsgym.task import Suite, Task

SUITE = "dabstep"
TEST_SUITE = "dabstep-test"  # the 450 of all.jsonl: answers hidden, graded by DABStep's leaderboard only
TASK_FILES = {"dev": "task/DABStep/dev.jsonl", "all": "task/DABStep/all.jsonl"}
HUB_REPO, HUB_CONFIG, HUB_SPLITS = "adyen/DABstep", "tasks", {"dev": "dev", "all": "default"}
DATA_FILES = [f"dabstep/{name}" for name in (
    "acquirer_countries.csv", "fees.json", "manual.md", "merchant_category_codes.csv",
    "merchant_data.json", "payments-readme.md", "payments.csv",
)]
CONTEXT = (
    "The files describe one payments processor. payments.csv holds its card transactions "
    "(payments-readme.md explains the columns); fees.json holds the fee rules; merchant_data.json, "
    "merchant_category_codes.csv and acquirer_countries.csv describe merchants, category codes and "
    "acquirers. manual.md defines the business terms the questions use: read it and follow its "
    "definitions rather than general usage."
)


def task_id(record: Mapping[str, Any], index: int) -> str:
    return official_id(record.get("task_id"), "task_id")


def build(record: Mapping[str, Any], index: int, tid: str, ctx: Context) -> Task:
    answer = record.get("answer")
    if answer is not None and not isinstance(answer, str):
        answer = str(answer)
    hidden = answer is None or not answer.strip()
    level = record.get("level")
    if level is not None and not isinstance(level, str):
        raise RecordError("level", f"expected a string, got {type(level).__name__}")
    # source_suite: a dabstep-test task grades (and exports) as the DABStep task it is
    metadata: dict[str, Any] = {"task_id": record.get("task_id"), "level": level, "index": index,
                                "source_suite": SUITE}
    if hidden:
        metadata["answer_hidden"] = True
    return Task(
        id=tid, suite=ctx.suite, data_root=ctx.data_root, question=question(record),
        context=CONTEXT, guideline=text(record, "guidelines", required=False), data_files=list(DATA_FILES),
        metric="dabstep", answer=None if hidden else answer, metadata=metadata,
    )


def _format(subset: str) -> OfficialFormat:
    return OfficialFormat(
        suite=SUITE if subset == "dev" else TEST_SUITE, task_file=TASK_FILES[subset], task_id=task_id, build=build,
        benchmark="DABStep",
        description=f"DABStep multi-step questions over a payments processor's data ({subset} subset).",
        hub_repo=HUB_REPO, hub_name=HUB_CONFIG, hub_split=HUB_SPLITS[subset],
    )


FORMAT = _format("dev")
ALL = _format("all")


def _pick(subset: str) -> OfficialFormat:
    if subset not in TASK_FILES:
        raise ValueError(f"DABStep subset must be one of {', '.join(TASK_FILES)}, got {subset!r}")
    return FORMAT if subset == "dev" else ALL


def load(root: str | Path, task_file: str | Path | None = None, *, subset: str = "dev") -> Suite:
    """``subset='dev'`` (the 10 tasks with answers) or ``'all'`` (the 450, answers hidden)."""
    return _pick(subset).load(root, task_file)


def from_dataset(dataset, root: str | Path, source: str = "dataset", *, subset: str = "dev") -> Suite:
    return _pick(subset).from_dataset(dataset, root, source)


def from_hub(root: str | Path | None = None, *, subset: str = "dev", **kwargs: Any) -> Suite:
    """From ``adyen/DABstep``, config ``tasks``: subset ``dev`` is its split ``dev``, ``all`` its ``default``.

    Other ``kwargs`` (``repo_id``, ``split``, ``data_files``, ...) go to ``OfficialFormat.from_hub``.
    """
    return _pick(subset).from_hub(root, **kwargs)
