"""The verifier of an exported Harbor task: dsgym's own grader run inside the task's container.

``dsgym export harbor`` copies this file into each task's ``tests/`` as ``grade.py``, beside
``tests/dsgym/`` (dsgym's grading modules: ``grading.py``, ``scoring/``, ``predict/``, which
need only the standard library, numpy and pandas, all in the sandbox image) and ``task.json``
(the task's definition with its answer, and for a prediction task ``hidden/``: its labels and
leaderboard entry).  Harbor uploads ``tests/`` only after the agent has finished.

It reads the agent's answer file (answer tasks) or submission (prediction tasks) from the
working directory, grades it with ``dsgym.grading.grade`` and writes ``reward.json`` (numbers
only: ``reward`` is dsgym's score; prediction tasks add ``valid``, ``above_median`` and
``medal``, 0-3 for none to gold) and ``grading.json`` (the full breakdown).  A task that cannot
be graded here (labels missing, an unknown metric) writes no reward and exits 1, so Harbor
reports a verifier error rather than a score of 0.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import stat
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # the dsgym modules shipped beside this script

from dsgym.grading import grade  # noqa: E402
from dsgym.predict.grade import GradingError, invalid  # noqa: E402
from dsgym.scoring.result import Score  # noqa: E402
from dsgym.scoring.text import MAX_ANSWER_CHARS  # noqa: E402

ANSWER_FILE = "answer.txt"
MEDALS = {None: 0, "bronze": 1, "silver": 2, "gold": 3}


def load_task(path: Path) -> SimpleNamespace:
    """The task as the grader reads it: the fields of ``dsgym.task.Task`` it uses, hidden files beside this script."""
    spec = json.loads(path.read_text(encoding="utf-8"))
    prediction = spec.get("prediction")
    if prediction is not None:
        for key in ("labels_file", "leaderboard_file"):
            if prediction.get(key):
                prediction[key] = HERE / prediction[key]
        prediction = SimpleNamespace(**prediction)
    return SimpleNamespace(**{**spec, "prediction": prediction, "data_root": Path(spec["data_root"])})


def regular_file(path: Path) -> bool | None:
    """True for a regular file, False for anything else there (a link, a folder), None when nothing is there."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except FileNotFoundError:
        return None


def grade_answer(task: SimpleNamespace, workdir: Path) -> Score:
    path = workdir / ANSWER_FILE
    kind = regular_file(path)
    if kind is None:
        return Score(0.0, {"reason": f"no answer: {path} was not written"})
    if not kind:
        return Score(0.0, {"reason": f"no answer: {path} is not a regular file"})
    with open(path, "rb") as handle:
        data = handle.read(4 * MAX_ANSWER_CHARS + 4)  # past the metric's own limit, whatever the encoding
    return grade(task, data.decode("utf-8", errors="replace").strip())


def grade_submission(task: SimpleNamespace, workdir: Path) -> Score:
    path = workdir / task.prediction.submission_file
    kind = regular_file(path)
    if kind is False:
        return invalid(task, "not_a_file", f"{path} is not a regular file")
    return grade(task, submission=path if kind else None)


def rewards(task: SimpleNamespace, score: Score) -> dict[str, float]:
    """Harbor's reward.json: numbers only, ``reward`` first."""
    out = {"reward": float(score.value)}
    if task.kind == "prediction":
        breakdown = score.breakdown
        out["valid"] = float(bool(breakdown.get("valid")))
        out["above_median"] = float(bool(breakdown.get("above_median")))
        out["medal"] = float(MEDALS.get(breakdown.get("medal"), 0))
    return {key: value for key, value in out.items() if math.isfinite(value)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--task", type=Path, default=HERE / "task.json")
    parser.add_argument("--workdir", type=Path, default=Path("/workspace"))
    parser.add_argument("--out", type=Path, default=Path("/logs/verifier"))
    args = parser.parse_args(argv)
    task = load_task(args.task)
    try:
        score = grade_submission(task, args.workdir) if task.kind == "prediction" else grade_answer(task, args.workdir)
    except GradingError as exc:
        print(f"dsgym: task {task.env_id} cannot be graded here: {exc}", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    details: dict[str, Any] = {"task": task.env_id, "score": score.value, "breakdown": score.breakdown}
    (args.out / "grading.json").write_text(json.dumps(details, indent=1, default=str) + "\n", encoding="utf-8")
    (args.out / "reward.json").write_text(json.dumps(rewards(task, score)) + "\n", encoding="utf-8")
    print(f"dsgym: {task.env_id} scored {score.value:g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
