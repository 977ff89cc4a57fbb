"""The official release as a whole: which suites a data folder holds, and the ``dsgym-tasks`` union.

A data folder is laid out like the ``data/`` folder of the official DSGym
repository::

    <data_dir>/task/<suite folder>/<file>.json|jsonl   task records
    <data_dir>/data/...                                 data files (/data/... in the sandbox)
    <data_dir>/DSPredict_Offline_Leaderboard/...        DSPredict leaderboards (host only)

``discover`` builds every suite whose task file is there and skips the others.
"""

from __future__ import annotations

import os
from pathlib import Path

from dsgym.loaders import dabstep, daeval, discoverybench, dsbio, dspredict, qrdata, scienceagentbench
from dsgym.loaders.records import ANALYSIS_IMAGE, OfficialFormat
from dsgym.task import Suite, TaskFileError

#: Every official suite, by its official name.
FORMATS: dict[str, OfficialFormat] = {
    fmt.suite: fmt for fmt in (daeval.FORMAT, qrdata.FORMAT, dabstep.FORMAT, dabstep.ALL, discoverybench.FORMAT,
                               scienceagentbench.FORMAT, dsbio.FORMAT, dspredict.EASY, dspredict.HARD)
}
#: The analysis suites whose union is ``dsgym-tasks``.
ANALYSIS_SUITES = ("daeval", "qrdata", "dabstep", "discoverybench", "scienceagentbench")
UNION = "dsgym-tasks"


def release_root(data_dir: str | os.PathLike[str]) -> Path:
    """``data_dir`` itself, or its ``data/`` child when given a checkout of the official repository."""
    root = Path(data_dir)
    if not (root / "task").is_dir() and (root / "data" / "task").is_dir():
        return root / "data"
    return root


def load_suite(name: str, data_dir: str | os.PathLike[str]) -> Suite:
    """One official suite by name (``dsgym-tasks`` too); raises ``TaskFileError`` if its file is absent."""
    root = release_root(data_dir)
    if name == UNION:
        return union([FORMATS[n].load(root) for n in ANALYSIS_SUITES if (root / FORMATS[n].task_file).is_file()])
    if name not in FORMATS:
        raise KeyError(f"unknown official suite {name!r}; known: {', '.join([*FORMATS, UNION])}")
    return FORMATS[name].load(root)


def discover(data_dir: str | os.PathLike[str]) -> list[Suite]:
    """Every official suite present under ``data_dir``, plus ``dsgym-tasks`` if any analysis suite is.

    A suite whose task file is absent is skipped; one whose file cannot be read comes
    back empty with the reason in ``errors``; bad records are errors of their suite.
    """
    root = release_root(data_dir)
    found: list[Suite] = []
    for fmt in FORMATS.values():
        if not (root / fmt.task_file).is_file():
            continue
        try:
            found.append(fmt.load(root))
        except TaskFileError as exc:
            found.append(Suite(name=fmt.suite, root=root, version="official", description=fmt.description,
                               image=fmt.image, errors=[str(exc)]))
    analysis = [suite for suite in found if suite.name in ANALYSIS_SUITES]
    if analysis:
        found.append(union(analysis))
    return found


def union(suites: list[Suite], name: str = UNION) -> Suite:
    """The analysis suites as one suite: ids become ``<suite>-<id>``, data files stay as they are.

    The official repository publishes no list of the tasks its quality and
    shortcut filters kept, so this is every released task; the shortcut filter
    produces the filtered suite.
    """
    root = suites[0].root if suites else Path(".")
    merged = Suite(name=name, root=root, version="official", image=ANALYSIS_IMAGE,
                   description="DSGym-Tasks: the official analysis suites together (unfiltered).",
                   sources=[source for suite in suites for source in suite.sources])
    for suite in suites:
        merged.errors.extend(suite.errors)
        for task in suite.tasks.values():
            task_id = f"{suite.name}-{task.id}"
            if task_id in merged.tasks:
                merged.errors.append(f"{suite.name}: task {task.id}: id: duplicate task id {task_id!r} in {name}")
                continue
            metadata = {"source_suite": suite.name, **task.metadata, "source_id": task.id}  # a task's own source wins
            merged.tasks[task_id] = task.model_copy(update={"id": task_id, "suite": name, "metadata": metadata})
    return merged
