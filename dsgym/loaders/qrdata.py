"""QRData as released by DSGym: ``data/task/QRData/qrdata.json``.

Each record: ``context``, ``question``, ``answer`` (a string), ``data``
(``/data/qrdata/data/<file>``) and ``metadata`` (``reference``, ``keywords``,
``question_type`` = ``multiple_choice`` or ``numerical``, and for multiple choice
``multiple_choices``).  Records have no id: a task's id is its position in the file.

Multiple-choice questions use the ``choice`` metric with the release's options;
numerical ones use ``numeric`` with 3% relative tolerance, QRData's own rule and
the tolerance DSGym's loader configures.  A percentage answer (``"5.36%"``) is
stored as its fraction with ``percent_ok`` so ``5.36%``, ``5.36`` and ``0.0536``
all match.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dsgym.loaders.records import (
    Context, OfficialFormat, RecordError, data_files, index_id, mapping, number, question, text,
)
from dsgym.task import Task

SUITE = "qrdata"
TASK_FILE = "task/QRData/qrdata.json"
REL_TOL = 0.03


def build(record: Mapping[str, Any], index: int, tid: str, ctx: Context) -> Task:
    meta = mapping(record, "metadata")
    raw_answer = record.get("answer")
    if isinstance(raw_answer, (int, float)) and not isinstance(raw_answer, bool):
        raw_answer = str(raw_answer)
    if not isinstance(raw_answer, str) or not raw_answer.strip():
        raise RecordError("answer", "missing" if raw_answer is None else "expected a non-empty string")
    kind = meta.get("question_type")
    metadata = {"question_type": kind, "keywords": meta.get("keywords") or [],
                "reference": meta.get("reference"), "index": index,
                "official_answer": raw_answer}  # the text the release grades against (--scoring official)
    if kind == "multiple_choice":
        options = meta.get("multiple_choices")
        if options is not None and (not isinstance(options, list) or not all(isinstance(o, str) for o in options)):
            raise RecordError("metadata.multiple_choices", "expected a list of strings")
        params: dict[str, Any] = {}
        if options:
            letters = all(len(o.strip()) == 1 for o in options)
            params["options"] = [o.strip().upper() if letters else o for o in options]
            guideline = f"Answer with exactly one of: {', '.join(params['options'])}."
        else:
            guideline = "Answer with the chosen option only."
        metric, answer = "choice", raw_answer.strip()
    elif kind == "numerical":
        stripped = raw_answer.strip()
        percent = stripped.endswith("%")
        value = number(stripped.rstrip("%"))
        if value is None:
            raise RecordError("answer", f"numerical question whose answer {raw_answer!r} is not a number")
        metric, answer = "numeric", value / 100 if percent else value
        params = {"rel_tol": REL_TOL, "abs_tol": 0.0, "percent_ok": percent}
        metadata["answer_unit"] = "percent" if percent else "number"
        guideline = "Answer with a single number" + (" (a percentage)." if percent else ".")
    else:
        raise RecordError("metadata.question_type", f"expected 'multiple_choice' or 'numerical', got {kind!r}")
    return Task(
        id=tid, suite=ctx.suite, data_root=ctx.data_root, question=question(record),
        context=text(record, "context", required=False), guideline=guideline, data_files=data_files(record),
        metric=metric, metric_params=params, answer=answer, metadata=metadata,
    )


FORMAT = OfficialFormat(
    suite=SUITE, task_file=TASK_FILE, task_id=index_id, build=build, benchmark="QRData",
    description="QRData statistical and causal reasoning questions over data (multiple choice and numerical).",
)


# The module-level entry points every loader offers (see dsgym.loaders).
load, from_dataset, from_hub = FORMAT.load, FORMAT.from_dataset, FORMAT.from_hub
