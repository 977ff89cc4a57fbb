"""DSBio: ``data/task/dsbio/dsbio.json``.

Each record: ``context``, ``question``, ``answer`` (a string, a number or a list
of strings), ``answer_guideline``, ``data`` (``/data/bio/<file>``, mostly
``.h5ad``; the release ships none of them), ``data_link`` (where to download
them) and ``metadata`` (``domain``, ``paper_title``, ``paper_path``,
``reference``, ``notebook_path``).  No ids: a task's id is its position in the file.

DSGym scores DSBio with exact match, case-insensitive, with no numeric
tolerance, and compares lists as sets; the metric follows the answer's shape:
lists -> ``list_match`` (unordered, case-insensitive), plain numbers ->
``numeric`` (exact up to float noise), anything else -> ``exact_match``
(case-insensitive).
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

from dsgym.loaders.records import (
    Context, OfficialFormat, RecordError, data_files, index_id, mapping, number, question, strings, text,
)
from dsgym.task import Task

SUITE = "dsbio"
TASK_FILE = "task/dsbio/dsbio.json"


def read_answer(value: Any) -> tuple[str, Any, dict[str, Any]]:
    """The official answer as ``(metric, reference, params)``."""
    if isinstance(value, str) and value.strip().startswith("["):
        try:  # a list stored as its Python literal (how a hub copy keeps one column type)
            value = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            pass
    if isinstance(value, (list, tuple)):
        if not value or not all(isinstance(item, (str, int, float)) for item in value):
            raise RecordError("answer", "expected a non-empty list of names")
        return "list_match", [str(item) for item in value], {"ordered": False, "case_sensitive": False}
    numeric = number(value)
    if numeric is not None:
        return "numeric", numeric, {"rel_tol": 0.0, "abs_tol": 1e-9}
    if isinstance(value, str) and value.strip():
        return "exact_match", value.strip(), {"case_sensitive": False}
    raise RecordError("answer", "missing" if value is None else f"expected a string, number or list, got {value!r}")


def build(record: Mapping[str, Any], index: int, tid: str, ctx: Context) -> Task:
    meta = mapping(record, "metadata")
    metric, answer, params = read_answer(record.get("answer"))
    metadata = {key: meta.get(key) for key in ("domain", "paper_title", "paper_path", "reference", "notebook_path")}
    metadata.update(data_link=[link.strip() for link in strings(record, "data_link", required=False)], index=index,
                    official_answer=str(record.get("answer")))  # the text the release grades against
    return Task(
        id=tid, suite=ctx.suite, data_root=ctx.data_root, question=question(record),
        context=text(record, "context", required=False), guideline=text(record, "answer_guideline", required=False),
        data_files=data_files(record), metric=metric, metric_params=params, answer=answer, metadata=metadata,
    )


FORMAT = OfficialFormat(
    suite=SUITE, task_file=TASK_FILE, task_id=index_id, build=build, benchmark="DSBio", image="official-bio",
    description="DSBio expert-derived bioinformatics analysis questions (single-cell, spatial, QTL data).",
)


# The module-level entry points every loader offers (see dsgym.loaders).
load, from_dataset, from_hub = FORMAT.load, FORMAT.from_dataset, FORMAT.from_hub
