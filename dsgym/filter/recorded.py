"""Recorded blind answers: the blind probe graded from a file of answers collected elsewhere.

Researchers often have model outputs from a batch API or another cluster.  The file
is JSON Lines, one answer per line::

    {"task": "<task id>", "sample": 0, "answer": "<answer>3.14</answer>", "model": "<model name>"}

``answer`` is the model's reply or just its answer (the content of an ``<answer>`` tag is
taken when there is one, as the live probe does; ``null`` is no answer, a miss);
``prompt_sha256`` (optional, as written by :func:`write_prompts`) must match the probe's
current prompt for the task, so answers to an older wording are refused.  Every line is
checked before anything is graded, and each problem is reported with its line number.
The answers are graded with the task's own metric and the threshold of the live probe;
``k`` for a task is the number of samples the file holds for it.  A task the file has no
line for is not probed, and the report says so.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dsgym.filter.output import FilterError, dumps, write_text
from dsgym.filter.probe import ANSWER, SYSTEM, extract_answer, grade_sample, probe_prompt, prompt_digest
from dsgym.task import Suite, Task

ANSWERS_FILE = "blind-answers.jsonl"  # the copy a filtered suite's folder keeps
FIELDS = ("task", "sample", "answer", "model")
MAX_PROBLEMS = 20  # problems listed in one error message


@dataclass(frozen=True)
class RecordedAnswer:
    task: str
    sample: int
    answer: str | None
    model: str
    line: int
    prompt_checked: bool = False  # the line carried the sha256 of the probe prompt it answered, and it matched


@dataclass
class RecordedAnswers:
    """A checked answers file: its answers per task (by sample), and what identifies it."""

    path: Path
    sha256: str
    by_task: dict[str, list[RecordedAnswer]] = field(default_factory=dict)
    note: str | None = None

    @property
    def count(self) -> int:
        return sum(len(answers) for answers in self.by_task.values())

    @property
    def models(self) -> list[str]:
        return sorted({a.model for answers in self.by_task.values() for a in answers})

    def provenance(self, not_probed: list[str], threshold: float) -> dict[str, Any]:
        """The manifest's ``blind_probe`` block for a probe graded from this file."""
        checked = sum(a.prompt_checked for answers in self.by_task.values() for a in answers)
        return {"answers": ANSWERS_FILE, "sha256": self.sha256, "count": self.count,
                "tasks": len(self.by_task), "models": self.models, "note": self.note, "threshold": threshold,
                "samples": "as recorded per task", "prompt_checked": checked, "not_probed": not_probed}


def load_answers(path: str | os.PathLike[str], suite: Suite, note: str | None = None) -> RecordedAnswers:
    """Read and check ``path`` against ``suite``; raise ``FilterError`` listing every bad line."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise FilterError(f"cannot read the blind answers {path}: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FilterError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    recorded = RecordedAnswers(path, hashlib.sha256(data).hexdigest(), note=note)
    problems: list[str] = []
    first_line: dict[tuple[str, int], int] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            answer = _parse(line, number, suite)
        except ValueError as exc:
            problems.append(f"{path}:{number}: {exc}")
            continue
        key = (answer.task, answer.sample)
        if key in first_line:
            problems.append(f"{path}:{number}: a second answer for task {answer.task!r} sample {answer.sample} "
                            f"(the first is on line {first_line[key]})")
            continue
        first_line[key] = number
        recorded.by_task.setdefault(answer.task, []).append(answer)
    if problems:
        more = f"\n... and {len(problems) - MAX_PROBLEMS} more" if len(problems) > MAX_PROBLEMS else ""
        raise FilterError(f"{len(problems)} bad line(s) in the blind answers (nothing was graded):\n"
                          + "\n".join(problems[:MAX_PROBLEMS]) + more)
    if not recorded.by_task:
        raise FilterError(f"{path} holds no answers")
    for answers in recorded.by_task.values():
        answers.sort(key=lambda a: a.sample)
    return recorded


def _parse(line: str, number: int, suite: Suite) -> RecordedAnswer:
    try:
        item = json.loads(line)
    except ValueError as exc:
        raise ValueError(f"not JSON ({exc})") from None
    if not isinstance(item, dict):
        raise ValueError(f"not a JSON object but {type(item).__name__}")
    if missing := [name for name in FIELDS if name not in item]:
        raise ValueError(f"missing field(s) {', '.join(missing)} (each line needs {', '.join(FIELDS)})")
    task_id, sample, answer, model = (item[name] for name in FIELDS)
    if not isinstance(task_id, str) or not task_id:
        raise ValueError(f"task must be a task id, not {task_id!r}")
    if not isinstance(sample, int) or isinstance(sample, bool) or sample < 0:
        raise ValueError(f"sample must be an integer >= 0, not {sample!r}")
    if answer is not None and not isinstance(answer, str):
        raise ValueError(f"answer must be text or null, not {type(answer).__name__}")
    if not isinstance(model, str) or not model.strip():
        raise ValueError(f"model must name the model that answered, not {model!r}")
    task = suite.tasks.get(task_id)
    if task is None:
        raise ValueError(f"task {task_id!r} is not in suite {suite.name!r}")
    if task.kind != "answer":
        raise ValueError(f"task {task_id!r} is a prediction task: it has no answer to guess")
    recorded_for = item.get("prompt_sha256")
    if recorded_for is not None and recorded_for != prompt_digest(task):
        raise ValueError(f"task {task_id!r} was answered from a different prompt (prompt_sha256 does not match "
                         "the task's probe prompt now): record it again")
    return RecordedAnswer(task_id, sample, answer, model.strip(), number, recorded_for is not None)


def recorded_text(answer: str | None) -> str | None:
    """The answer to grade: an ``<answer>`` tag's content if the text has one, else the text itself."""
    if answer is None:
        return None
    if ANSWER.search(answer):
        return extract_answer(answer)
    return answer.strip() or None


def grade(task: Task, answers: list[RecordedAnswer]) -> list[dict[str, Any]]:
    """The probe's samples for ``task``, graded exactly as live ones (``probe.grade_sample``)."""
    samples = []
    for answer in answers:
        sample = {"index": answer.sample, "passed": False, "model": answer.model, "line": answer.line}
        samples.append(grade_sample(task, sample, recorded_text(answer.answer), "no answer recorded"))
    return samples


def keep_copy(recorded: RecordedAnswers, out_dir: Path) -> Path:
    """Copy the answers file into ``out_dir`` byte for byte (its sha256 is in the manifest)."""
    target = out_dir / ANSWERS_FILE
    out_dir.mkdir(parents=True, exist_ok=True)
    if target.exists() and os.path.samefile(target, recorded.path):
        return target
    tmp = out_dir / f".{ANSWERS_FILE}.tmp"
    shutil.copyfile(recorded.path, tmp)
    os.chmod(tmp, 0o644)
    os.replace(tmp, target)
    return target


def write_prompts(suite: Suite, path: str | os.PathLike[str]) -> int:
    """Write what the probe shows a model, one line per answer task, for collecting answers elsewhere.

    Each line: ``task``, ``system``, ``prompt`` (the user message) and ``prompt_sha256``;
    copy ``task`` and ``prompt_sha256`` into each answer line.  Returns the number of lines.
    """
    tasks = [task for task in suite.tasks.values() if task.kind == "answer"]
    write_text(Path(path), "".join(dumps({"task": task.id, "system": SYSTEM, "prompt": probe_prompt(task),
                                          "prompt_sha256": prompt_digest(task)}) + "\n" for task in tasks))
    return len(tasks)
