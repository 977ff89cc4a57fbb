"""Suites of many tasks: read on first use, not at import; registered with Gymnasium in linear time;
tasks from ``tasks.jsonl`` beside the manifest, streamed, with errors naming the line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import gymnasium
import pytest

import dsgym
from dsgym.task import TaskFileError, load_manifest
from tests.support.helpers import REPO

DSGYM = str(Path(sys.executable).with_name("dsgym"))


def write_jsonl_suite(folder: Path, name: str, size: int) -> Path:
    (folder / "data").mkdir(parents=True)
    (folder / "data" / "numbers.csv").write_text("x\n1\n2\n3\n")
    (folder / "manifest.json").write_text(json.dumps({"suite": name, "version": "1", "data_dir": "data"}))
    with open(folder / "tasks.jsonl", "w") as out:
        for i in range(size):
            out.write(json.dumps({"id": f"task-{i:05d}", "question": f"What is the sum of x plus {i}?",
                                  "data_files": ["numbers.csv"], "metric": "numeric", "answer": 6 + i}) + "\n")
    return folder


def test_a_20000_task_suite_is_not_read_at_import_and_its_last_task_makes_through_gymnasium(tmp_path):
    name = "big-suite"
    folder = write_jsonl_suite(tmp_path / name, name, 20_000)
    code = f"""
import json, os, sys
opened = []
sys.addaudithook(lambda event, args: event == "open" and isinstance(args[0], str)
                 and args[0].startswith({str(folder)!r}) and opened.append(args[0]))
import dsgym, gymnasium
at_import = list(opened)
env = gymnasium.make("{name}/task-19999")
task = env.unwrapped.fixed_task
listed = gymnasium.pprint_registry(disable_print=True)
prefixed = gymnasium.make("dsgym:{name}/task-00000").unwrapped.fixed_task.id
suite = gymnasium.make("dsgym/{name}").unwrapped
print(json.dumps({{"at_import": at_import, "read_later": sorted(set(opened)), "task": task.id, "answer": task.answer,
                  "spec": env.spec.id, "listed": "{name}/task-19999" in listed and "{name}/task-00000" in listed,
                  "prefixed": prefixed, "suite_tasks": len(suite.suite.tasks)}}))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=REPO,
                          env={**os.environ, "DSGYM_SUITES": str(folder)})
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["at_import"] == [], f"import dsgym read the suite: {seen['at_import']}"
    assert str(folder / "tasks.jsonl") in seen["read_later"]
    assert (seen["task"], seen["answer"], seen["spec"]) == ("task-19999", 6 + 19999, f"{name}/task-19999")
    assert seen["listed"] and seen["prefixed"] == "task-00000" and seen["suite_tasks"] == 20_000

    help_code = f"""
import sys
opened = []
sys.addaudithook(lambda event, args: event == "open" and isinstance(args[0], str)
                 and args[0].startswith({str(folder)!r}) and opened.append(args[0]))
sys.argv = ["dsgym", "--help"]
from dsgym.cli import app
try:
    app()
except SystemExit:
    pass
print(opened)
"""
    shown = subprocess.run([sys.executable, "-c", help_code], capture_output=True, text=True, timeout=300, cwd=REPO,
                           env={**os.environ, "DSGYM_SUITES": str(folder)})
    assert shown.returncode == 0 and "Usage" in shown.stdout, shown.stderr[-2000:]
    assert shown.stdout.strip().splitlines()[-1] == "[]", "dsgym --help read the suite"


def test_a_large_suite_lists_one_line_per_task(tmp_path):
    name = f"list-{uuid.uuid4().hex[:6]}"
    folder = write_jsonl_suite(tmp_path / name, name, 1500)
    env = {**os.environ, "DSGYM_SUITES": str(folder)}
    plain = subprocess.run([DSGYM, "tasks", "list", name], capture_output=True, text=True, timeout=120, env=env)
    lines = plain.stdout.splitlines()
    assert plain.returncode == 0 and len(lines) == 1501, plain.stderr[-2000:]
    assert lines[0].split("\t") == ["env id", "metric", "question"]
    assert lines[-1].split("\t") == [f"{name}/task-01499", "numeric", "What is the sum of x plus 1499?"]
    as_json = subprocess.run([DSGYM, "tasks", "list", name, "--json"], capture_output=True, text=True, timeout=120,
                             env=env)
    rows = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert len(rows) == 1500 and rows[-1]["id"] == "task-01499"


def test_tasks_jsonl_errors_name_the_line_and_the_good_lines_load(tmp_path):
    folder = write_jsonl_suite(tmp_path / "s", "lines", 3)
    with open(folder / "tasks.jsonl", "a") as out:
        out.write("\n{not json\n")
        out.write(json.dumps({"id": "no-question"}) + "\n")
        out.write(json.dumps({"id": "task-00001", "question": "again"}) + "\n")
        out.write("[1, 2]\n")
    suite = load_manifest(folder)
    assert list(suite.tasks) == ["task-00000", "task-00001", "task-00002"]
    path = folder / "tasks.jsonl"
    assert suite.errors[0].startswith(f"{path}:5: task #3: not valid JSON"), suite.errors
    assert suite.errors[1].startswith(f"{path}:6: task no-question: question: Field required"), suite.errors
    assert suite.errors[2] == f"{path}:7: task task-00001: duplicate id"
    assert suite.errors[3].startswith(f"{path}:8: task #6: a task must be a JSON object")


def test_tasks_in_both_the_manifest_and_tasks_jsonl_are_refused(tmp_path):
    folder = write_jsonl_suite(tmp_path / "s", "both", 1)
    (folder / "manifest.json").write_text(json.dumps({"suite": "both", "tasks": []}))
    with pytest.raises(TaskFileError, match="keep one"):
        load_manifest(folder)


def test_ids_gymnasium_would_confuse_are_refused_once_per_suite(tmp_path):
    folder = tmp_path / "versions"
    (folder / "data").mkdir(parents=True)
    (folder / "manifest.json").write_text(json.dumps({"suite": "versions", "tasks": [
        {"id": "model", "question": "q"}, {"id": "model-v2", "question": "q"}]}))
    with pytest.raises(TaskFileError, match="versions/model"):
        dsgym.register_suite(folder)
    assert "versions/model" not in gymnasium.registry and "versions/model-v2" not in gymnasium.registry


def test_registering_a_suite_again_replaces_all_its_ids(tmp_path):
    name = f"again-{uuid.uuid4().hex[:6]}"
    dsgym.register_suite(write_jsonl_suite(tmp_path / "first", name, 5))
    assert f"{name}/task-00004" in gymnasium.registry
    dsgym.register_suite(write_jsonl_suite(tmp_path / "second", name, 2))
    ids = sorted(i for i in gymnasium.registry if i.startswith(f"{name}/"))
    assert ids == [f"{name}/task-00000", f"{name}/task-00001"]
    assert gymnasium.spec(f"dsgym/{name}").kwargs == {"suite": name}


def test_a_tasks_jsonl_or_manifest_that_cannot_be_read_safely_is_a_clear_error(tmp_path):
    zero = write_jsonl_suite(tmp_path / "zero", "zero", 1)
    (zero / "tasks.jsonl").unlink()
    (zero / "tasks.jsonl").symlink_to("/dev/zero")  # outside the folder, and endless without a newline
    with pytest.raises(TaskFileError, match="tasks.jsonl: cannot read"):
        load_manifest(zero)
    fifo = write_jsonl_suite(tmp_path / "fifo", "fifo", 1)
    (fifo / "tasks.jsonl").unlink()
    os.mkfifo(fifo / "tasks.jsonl")
    with pytest.raises(TaskFileError, match="not a regular file"):
        load_manifest(fifo)
    bytes_ = write_jsonl_suite(tmp_path / "bytes", "bytes", 2)
    with open(bytes_ / "tasks.jsonl", "ab") as out:
        out.write(b'{"id": "latin", "question": "caf\xe9?"}\n')
    suite = load_manifest(bytes_)
    assert len(suite.tasks) == 2 and suite.errors == [f"{bytes_ / 'tasks.jsonl'}:3: task #2: not UTF-8 text"]
    typed = write_jsonl_suite(tmp_path / "typed", "typed", 1)
    (typed / "manifest.json").write_text(json.dumps({"suite": "typed", "data_dir": 5}))
    with pytest.raises(TaskFileError, match="wrong type for data_dir"):
        load_manifest(typed)
