"""benchmarks/blind_audit.py: prompts are the probe's own, recorded blind answers are counted as the probe grades them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import dsgym
from dsgym.filter.probe import probe_prompt

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "blind_audit.py"


def audit(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True, timeout=120)


def lines(path, rows):
    path.write_text("".join(r if isinstance(r, str) else json.dumps(r) + "\n" for r in rows))
    return path


def test_prompts_are_the_probe_prompts_without_answers(tmp_path):
    out = tmp_path / "prompts.jsonl"
    assert audit("prompts", "dsgym-tasks-lite", "--out", out).returncode == 0
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    suite = dsgym.get_suite("dsgym-tasks-lite")
    assert [r["task"] for r in rows] == list(suite.tasks)
    for row in rows:
        task = suite.tasks[row["task"]]
        assert set(row) == {"task", "prompt"} and row["prompt"] == probe_prompt(task)


def test_grading_counts_right_tasks_and_lists_the_unprobed(tmp_path):
    tasks = list(dsgym.get_suite("dsgym-tasks-lite").tasks.values())
    right, wrong, tagged = tasks[0], tasks[1], tasks[2]
    answers = lines(tmp_path / "a.jsonl", [
        {"task": right.id, "sample": 0, "answer": repr(right.answer), "model": "m"},
        {"task": wrong.id, "sample": 0, "answer": repr(wrong.metadata["published_data_value"]), "model": "m"},
        {"task": tagged.id, "sample": 0, "answer": f"I recall it.\n<answer>{tagged.answer!r}</answer>", "model": "m"},
        {"task": tagged.id, "sample": 1, "answer": "no tags and no number", "model": "m"},
    ])
    result = audit("grade", "dsgym-tasks-lite", answers, "--json", tmp_path / "report.json")
    assert result.returncode == 0, result.stderr
    assert f"answered right blind: 2 of 3 probed tasks (2 of 4 answers); suite has {len(tasks)}" in result.stdout
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["right_tasks"] == sorted([right.id, tagged.id])
    assert len(report["not_probed"]) == len(tasks) - 3 and wrong.id not in report["not_probed"]


def test_bad_lines_are_errors_naming_the_line(tmp_path):
    task = next(iter(dsgym.get_suite("dsgym-tasks-lite").tasks))
    good = {"task": task, "sample": 0, "answer": "1", "model": "m"}
    for bad, message in [("{not json\n", "not JSON"),
                         ({"task": "no-such-task", "sample": 0, "answer": "1", "model": "m"}, "task 'no-such-task' is not in suite"),
                         ({"sample": 0, "answer": "1", "model": "m"}, "missing field(s) task")]:
        result = audit("grade", "dsgym-tasks-lite", lines(tmp_path / "bad.jsonl", [good, bad]))
        assert result.returncode == 2 and f"bad.jsonl:2: {message}" in result.stderr, result.stderr
