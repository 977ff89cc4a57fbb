"""Threat: a suite folder from elsewhere (downloaded, generated, shared) names host files: an absolute
``data_dir``, links out of its data folder, ``../`` or absolute ``solution_file``/``labels_file``/
``leaderboard_file``/``sample_submission``, a link to ``/dev/zero`` or a FIFO.  Nothing outside the suite
folder reaches the sandbox, the filter's copy or the host's memory; each bad task is a listed error.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

import dsgym
from dsgym.filter.output import FilterError, manifest_tasks
from dsgym.suite_files import UnsafePathError
from dsgym.validation import validate_suite
from tests.support.helpers import REPO
from tests.security.probe import cell_json

DSGYM = str(Path(sys.executable).with_name("dsgym"))


@pytest.fixture
def host_secret(tmp_path):
    """A host 'credentials' file outside every suite folder, on another filesystem where there is one."""
    shm = Path("/dev/shm")
    folder = (shm if shm.is_dir() else tmp_path) / f"creds-{uuid.uuid4().hex}"
    folder.mkdir()
    secret = folder / "credentials"
    token = f"host-secret-{uuid.uuid4().hex}"
    secret.write_text(f"API_KEY={token}\n")
    yield secret, token
    secret.unlink()
    folder.rmdir()


def write_suite(folder: Path, name: str, tasks: list[dict], **extra) -> Path:
    (folder / "data").mkdir(parents=True, exist_ok=True)
    (folder / "data" / "ok.csv").write_text("x\n1\n2\n")
    (folder / "manifest.json").write_text(json.dumps({"suite": name, "data_dir": "data", "tasks": tasks, **extra}))
    return folder


def linked_data_suite(folder: Path, secret: Path) -> dsgym.registry.Suite:
    """A data folder holding a link to a host file, a link to a host folder, and a folder with a link inside."""
    name = f"links-{uuid.uuid4().hex[:8]}"
    write_suite(folder, name, [
        {"id": "ok", "question": "q", "data_files": ["ok.csv"], "answer": 3},
        {"id": "file-link", "question": "q", "data_files": ["creds.csv"], "answer": 0},
        {"id": "folder-link", "question": "q", "data_files": ["linked"], "answer": 0},
        {"id": "link-in-folder", "question": "q", "data_files": ["folder"], "answer": 0},
    ])
    data = folder / "data"
    (data / "creds.csv").symlink_to(secret)
    (data / "linked").symlink_to(secret.parent, target_is_directory=True)
    (data / "folder").mkdir()
    (data / "folder" / "plain.csv").write_text("y\n1\n")
    (data / "folder" / "inner.csv").symlink_to(secret)
    return dsgym.register_suite(folder)


def test_an_absolute_or_escaping_data_dir_loads_no_task_and_is_listed(tmp_path, host_secret):
    secret, _ = host_secret
    for data_dir in (str(secret.parent), "../../../../../../" + str(secret.parent).lstrip("/")):
        name = f"datadir-{uuid.uuid4().hex[:8]}"
        folder = write_suite(tmp_path / name, name, [{"id": "t", "question": "q", "data_files": ["credentials"]}],
                             data_dir=data_dir)
        suite = dsgym.register_suite(folder)
        assert suite.tasks == {}, f"data_dir {data_dir!r} loaded tasks"
        assert any("data_dir" in e and "outside" in e for e in suite.errors), suite.errors
        shown = subprocess.run([DSGYM, "tasks", "validate", name], capture_output=True, text=True, timeout=120,
                               env={**os.environ, "DSGYM_SUITES": str(folder)})
        assert shown.returncode == 1 and "outside" in shown.stdout + shown.stderr, shown


@pytest.mark.docker
def test_links_out_of_the_data_folder_never_reach_the_sandbox(tmp_path, host_secret, make_env):
    secret, token = host_secret
    suite = linked_data_suite(tmp_path / "suite", secret)
    problems = {p.task: p.message for p in validate_suite(suite)}
    assert set(problems) >= {"file-link", "folder-link", "link-in-folder"} and "ok" not in problems, problems
    for task in ("file-link", "folder-link", "link-in-folder"):
        env = make_env(f"{suite.name}/{task}", cell_timeout=30)
        with pytest.raises(UnsafePathError, match="outside"):
            env.reset(seed=0)
        assert env.unwrapped.sandbox is None
    env = make_env(f"{suite.name}/ok", cell_timeout=30)
    env.reset(seed=0)
    seen, _, _ = cell_json(env, "import os, subprocess\n"
                           "found = subprocess.run(['grep', '-rl', " + repr(token) + ", '/data'], capture_output=True, "
                           "text=True)\nemit({'files': sorted(os.listdir('/data')), 'grep': found.stdout})")
    assert seen == {"files": ["ok.csv"], "grep": ""}, seen


def test_filter_copy_data_copies_nothing_from_outside_the_suite(tmp_path, host_secret):
    secret, token = host_secret
    suite = linked_data_suite(tmp_path / "suite", secret)
    for task in ("file-link", "folder-link", "link-in-folder"):
        out = tmp_path / f"out-{task}"
        with pytest.raises(FilterError, match="outside"):
            manifest_tasks(suite, [suite.tasks[task]], out, copy_data=True)
        copied = [p for p in out.rglob("*") if p.is_file()] if out.exists() else []
        assert not any(token in p.read_text(errors="replace") for p in copied), copied
    _, entries = manifest_tasks(suite, [suite.tasks["ok"]], tmp_path / "out-ok", copy_data=True)
    assert (tmp_path / "out-ok" / "data" / "ok.csv").is_file() and entries[0]["id"] == "ok"


def test_host_files_a_task_names_stay_inside_the_suite_folder(tmp_path, host_secret):
    secret, token = host_secret
    name = f"hostfiles-{uuid.uuid4().hex[:8]}"
    folder = tmp_path / name
    up = os.path.relpath(secret, folder)
    spec = {"target_columns": ["y"]}
    write_suite(folder, name, [
        {"id": "good", "question": "q", "answer": 1, "solution_file": "solutions/good.py"},
        {"id": "solution-up", "question": "q", "answer": 1, "solution_file": up},
        {"id": "solution-absolute", "question": "q", "answer": 1, "solution_file": str(secret)},
        {"id": "solution-link", "question": "q", "answer": 1, "solution_file": "solutions/link.py"},
        {"id": "labels-absolute", "question": "q", "kind": "prediction", "metric": "accuracy",
         "prediction": {**spec, "labels_file": str(secret)}},
        {"id": "leaderboard-up", "question": "q", "kind": "prediction", "metric": "accuracy",
         "prediction": {**spec, "leaderboard_file": up}},
        {"id": "sample-up", "question": "q", "kind": "prediction", "metric": "accuracy",
         "prediction": {**spec, "sample_submission": "../" + up}},
        {"id": "sample-link", "question": "q", "kind": "prediction", "metric": "accuracy",
         "prediction": {**spec, "sample_submission": "sample.csv"}},
    ])
    (folder / "solutions").mkdir()
    (folder / "solutions" / "good.py").write_text("answer = 1\n")
    (folder / "solutions" / "link.py").symlink_to(secret)
    (folder / "data" / "sample.csv").symlink_to(secret)
    suite = dsgym.register_suite(folder)
    assert list(suite.tasks) == ["good"], list(suite.tasks)
    errors = "\n".join(suite.errors)
    for task, field in [("solution-up", "solution_file"), ("solution-absolute", "solution_file"),
                        ("solution-link", "solution_file"), ("labels-absolute", "labels_file"),
                        ("leaderboard-up", "leaderboard_file"), ("sample-up", "sample_submission"),
                        ("sample-link", "sample_submission")]:
        assert any(f"task {task}:" in e and field in e for e in suite.errors), (task, errors)
    assert token not in repr(suite.tasks)


def test_a_link_to_dev_zero_or_a_fifo_is_a_listed_error_not_a_broken_registry(tmp_path):
    """On the code before the fix this raised MemoryError (or hung on the FIFO) in every registry load."""
    name = f"devices-{uuid.uuid4().hex[:8]}"
    folder = tmp_path / name
    write_suite(folder, name, [
        {"id": "good", "question": "q", "answer": 1},
        {"id": "zero-solution", "question": "q", "answer": 1, "solution_file": "zero.py"},
        {"id": "fifo-solution", "question": "q", "answer": 1, "solution_file": "fifo.py"},
        {"id": "zero-labels", "question": "q", "kind": "prediction", "metric": "accuracy",
         "prediction": {"target_columns": ["y"], "labels_file": "zero.csv"}},
        {"id": "zero-data", "question": "q", "answer": 1, "data_files": ["zero.csv"]},
    ])
    (folder / "zero.py").symlink_to("/dev/zero")
    (folder / "zero.csv").symlink_to("/dev/zero")
    (folder / "data" / "zero.csv").symlink_to("/dev/zero")
    os.mkfifo(folder / "fifo.py")
    code = ("import json, dsgym\n"
            f"suite = dsgym.get_suite({name!r})\n"
            "print(json.dumps({'tasks': sorted(suite.tasks), 'errors': suite.errors, "
            "'others': 'dsgym-tasks-lite' in dsgym.suites()}))\n")

    def limit_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))

    env = {**os.environ, "DSGYM_SUITES": str(folder)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env,
                          cwd=REPO, preexec_fn=limit_memory)
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["tasks"] == ["good", "zero-data"] and seen["others"], seen
    errors = "\n".join(seen["errors"])
    for task in ("zero-solution", "fifo-solution", "zero-labels"):
        assert f"task {task}:" in errors and "not a regular file" in errors, (task, errors)
    shown = subprocess.run([DSGYM, "tasks", "validate", name], capture_output=True, text=True, timeout=120,
                           env=env, preexec_fn=limit_memory)
    listed = shown.stdout + shown.stderr
    assert shown.returncode == 1, listed
    for task in ("zero-solution", "fifo-solution", "zero-labels", "zero-data"):
        assert task in listed, (task, listed)


def test_a_filtered_suite_may_use_its_registered_source_folder_and_nothing_else(tmp_path, host_secret):
    secret, _ = host_secret
    source = f"source-{uuid.uuid4().hex[:8]}"
    write_suite(tmp_path / source, source, [{"id": "t", "question": "q", "data_files": ["ok.csv"], "answer": 3,
                                             "solution_file": "solutions/t.py"}])
    (tmp_path / source / "solutions").mkdir()
    (tmp_path / source / "solutions" / "t.py").write_text("answer = 3\n")
    referenced = {"id": "t", "question": "q", "data_files": ["ok.csv"], "answer": 3,
                  "solution_file": f"../{source}/solutions/t.py"}

    def filtered(label: str, source_name: str, data_dir: str) -> dsgym.registry.Suite:
        name = f"{label}-{uuid.uuid4().hex[:8]}"
        folder = tmp_path / name
        folder.mkdir()
        (folder / "manifest.json").write_text(json.dumps({
            "suite": name, "data_dir": data_dir, "tasks": [referenced],
            "filter": {"data": "referenced", "source": {"suite": source_name}}}))
        return dsgym.register_suite(folder)

    unregistered = filtered("early", source, f"../{source}/data")
    assert unregistered.tasks == {} and f"register suite {source!r} first" in unregistered.errors[0]
    dsgym.register_suite(tmp_path / source)
    good = filtered("filtered", source, f"../{source}/data")
    assert list(good.tasks) == ["t"] and good.tasks["t"].solution == "answer = 3\n", good.errors
    claims = filtered("claims", source, str(secret.parent))
    assert claims.tasks == {} and "outside" in claims.errors[0]
