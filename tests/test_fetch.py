"""Official suites fetched on demand: a real Git repository in the release's layout, fetched through file://."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dsgym import fetching
from dsgym.fetching import FetchError, fetch
from tests.support.helpers import REPO

FIXTURES = REPO / "tests" / "fixtures" / "official"
DSGYM = Path(sys.executable).with_name("dsgym")


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.email=ci@dsgym", "-c", "user.name=ci", *args], cwd=cwd,
                          check=True, capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> str:
    """A Git repository laid out like the official one (``data/task``, ``data/data``, leaderboards)."""
    root = tmp_path_factory.mktemp("release")
    shutil.copytree(FIXTURES, root / "data")
    (root / "README.md").write_text("a release-shaped repository for tests\n")
    git(root, "init", "-q")
    git(root, "config", "uploadpack.allowFilter", "true")  # as a hosted forge: blob-filtered clones
    git(root, "add", "-A")
    git(root, "commit", "-qm", "release")
    return root.as_uri()


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("DSGYM_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("DSGYM_DATA_DIR", raising=False)
    monkeypatch.delenv("DSGYM_OFFICIAL_URL", raising=False)
    return tmp_path / "home" / "official"


def files_under(path: Path) -> set[str]:
    return {str(p.relative_to(path)) for p in path.rglob("*") if p.is_file() and ".git" not in p.parts}


def test_fetching_one_suite_brings_only_its_task_file_and_data(release, cache):
    done = fetch("qrdata", source=release, progress=False)
    assert done.new == ["qrdata"] and len(done.commit) == 40
    assert files_under(cache / "release") == {"data/task/QRData/qrdata.json", "data/data/qrdata/data/coins.csv"}
    state = json.loads((cache / "fetched.json").read_text())
    assert state["source"] == release and list(state["suites"]) == ["qrdata"]
    suites = {suite.name: suite for suite in fetching.fetched_suites()}
    assert list(suites) == ["qrdata"] and len(suites["qrdata"].tasks) == 4  # the fixture also holds bad records

    again = fetch("qrdata", source=release, progress=False)
    assert again.new == [] and again.commit == done.commit  # a no-op


def test_dabsteps_test_set_is_a_suite_of_its_own_graded_as_dabstep(release, cache):
    from dsgym.grading import metric_used

    done = fetch("dabstep-test", source=release, progress=False)
    assert done.new == ["dabstep-test"]
    assert "data/task/DABStep/all.jsonl" in files_under(cache / "release")
    (suite,) = fetching.fetched_suites()
    assert suite.name == "dabstep-test" and suite.image == "official-analysis" and suite.tasks
    task = next(iter(suite.tasks.values()))
    assert task.answer is None and task.metadata["source_suite"] == "dabstep"
    assert metric_used(task, "official").metric == "official_dabstep"


def test_dsgym_tasks_means_the_five_analysis_suites_and_dspredict_brings_leaderboards(release, cache):
    done = fetch("dsgym-tasks", "dspredict-easy", source=release, progress=False)
    assert set(done.new) == {"daeval", "qrdata", "dabstep", "discoverybench", "scienceagentbench",
                             "dspredict-easy"}
    names = {suite.name for suite in fetching.fetched_suites()}
    assert {"dsgym-tasks", "dspredict-easy", "daeval"} <= names and "dsbio" not in names
    files = files_under(cache / "release")
    assert "data/DSPredict_Offline_Leaderboard/easy_leaderboard_stats_2025-01-01.json" in files
    assert not any(f.startswith("data/task/dsbio") or "hard.json" in f for f in files)
    assert any("kaggle competitions download" in note for note in done.notes)  # which competitions need data


@pytest.mark.parametrize("names, source, message", [
    (["dsbioo"], None, "not an official suite.*did you mean: dsbio"),
    (["dsbio"], "file:///nonexistent/release", "could not fetch from file:///nonexistent/release"),
])
def test_a_bad_name_or_an_unreachable_source_is_a_clear_error_and_leaves_no_cache(release, cache, names,
                                                                                   source, message):
    with pytest.raises(FetchError, match=message):
        fetch(*names, source=source or release, progress=False)
    assert not cache.exists()


def test_a_source_that_is_not_a_release_or_has_a_corrupt_task_file_changes_nothing(release, cache, tmp_path):
    fetch("qrdata", source=release, progress=False)
    before = (files_under(cache / "release"), (cache / "fetched.json").read_text())

    other = tmp_path / "not-a-release"
    other.mkdir()
    (other / "README.md").write_text("hello\n")
    git(other, "init", "-q"), git(other, "add", "-A"), git(other, "commit", "-qm", "x")
    with pytest.raises(FetchError, match="not a DSGym release"):
        fetch("dsbio", source=other.as_uri(), dest=tmp_path / "elsewhere", progress=False)
    assert not (tmp_path / "elsewhere").exists()

    corrupt = tmp_path / "corrupt"
    shutil.copytree(FIXTURES, corrupt / "data")
    (corrupt / "data" / "task" / "dsbio" / "dsbio.json").write_text("{ not json")
    git(corrupt, "init", "-q"), git(corrupt, "add", "-A"), git(corrupt, "commit", "-qm", "x")
    with pytest.raises(FetchError, match="task file for dsbio is corrupt"):
        fetch("dsbio", source=corrupt.as_uri(), dest=tmp_path / "c", progress=False)
    with pytest.raises(FetchError, match="holds suites from"):  # one cache, one source
        fetch("dsbio", source=corrupt.as_uri(), progress=False)
    assert (files_under(cache / "release"), (cache / "fetched.json").read_text()) == before


def test_an_interrupted_fetch_leaves_nothing_that_loads_and_the_next_one_finishes(release, cache, monkeypatch):
    fetch("qrdata", source=release, progress=False)
    real = fetching._data_patterns

    def interrupted(name, suite):
        raise KeyboardInterrupt  # Ctrl-C after the task file came, before the data did

    monkeypatch.setattr(fetching, "_data_patterns", interrupted)
    with pytest.raises(KeyboardInterrupt):
        fetch("daeval", source=release, progress=False)
    assert [suite.name for suite in fetching.fetched_suites()] == ["qrdata"]
    assert not any("daeval" in f for f in files_under(cache / "release"))

    monkeypatch.setattr(fetching, "_data_patterns", real)
    assert fetch("daeval", source=release, progress=False).new == ["daeval"]
    assert {"data/task/daeval/daeval.json", "data/data/daeval/people.csv"} <= files_under(cache / "release")


def test_the_cli_fetches_lists_and_refuses(release, cache):
    env = {**os.environ, "DSGYM_OFFICIAL_URL": release}
    done = subprocess.run([str(DSGYM), "fetch", "qrdata"], env=env, capture_output=True, text=True)
    assert done.returncode == 0 and "fetched qrdata at commit" in done.stderr, done.stderr
    listed = subprocess.run([str(DSGYM), "tasks", "list"], env=env, capture_output=True, text=True)
    rows = {line.split("│")[1].strip(): line for line in listed.stdout.splitlines() if line.count("│") > 3}
    commit = json.loads((cache / "fetched.json").read_text())["commit"]
    assert "qrdata" in rows and f"official@{commit[:12]}" in rows["qrdata"]
    assert "not fetched" in rows["dsbio"]
    bad = subprocess.run([str(DSGYM), "fetch", "nosuch"], env=env, capture_output=True, text=True)
    assert bad.returncode == 2 and "not an official suite" in bad.stderr


def run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], env={**os.environ, **env}, capture_output=True, text=True,
                          timeout=300)


@pytest.mark.docker
def test_make_fetches_an_official_suite_on_first_use_and_the_next_process_finds_it(release, cache, docker_image):
    first = run_python("import dsgym\nenv = dsgym.make('qrdata/2')\nobs, _ = env.reset(seed=0)\n"
                       "print('/data/qrdata/data/coins.csv' in obs)\nenv.close()", DSGYM_OFFICIAL_URL=release)
    assert first.returncode == 0 and first.stdout.strip() == "True", first.stderr
    assert "fetching qrdata" in first.stderr  # progress is shown
    second = run_python("import dsgym\nsuite = dsgym.get_suite('qrdata')\nprint(suite.root, suite.version)",
                        DSGYM_OFFICIAL_URL="file:///nonexistent")  # no second fetch: the source is not used
    assert second.returncode == 0 and str(cache / "release" / "data") in second.stdout, second.stderr
    assert "official@" in second.stdout
    with_data_dir = run_python("import dsgym\nprint(dsgym.get_suite('qrdata').root)", DSGYM_DATA_DIR=str(FIXTURES))
    assert with_data_dir.stdout.strip() == str(FIXTURES)  # DSGYM_DATA_DIR wins where both have the suite


@pytest.mark.parametrize("env, why", [
    ({"DSGYM_OFFLINE": "1"}, "offline mode is on"),
    ({"HF_HUB_OFFLINE": "1"}, "offline mode is on"),
    ({"DSGYM_OFFICIAL_URL": "file:///nonexistent/release"}, "fetching it failed: could not fetch from"),
])
def test_an_official_suite_that_cannot_be_fetched_says_why_and_both_ways_out(cache, env, why):
    done = run_python("import dsgym\ntry:\n    dsgym.make('dsbio/0')\nexcept dsgym.UnknownEnvError as exc:\n"
                      "    print(exc)", **env)
    message = done.stdout
    assert "'dsbio' is an official DSGym suite" in message and why in message, done.stderr
    assert "dsgym fetch dsbio" in message and "DSGYM_DATA_DIR" in message and "dsbio-lite" not in message
    assert not cache.exists()
