"""`dsgym export harbor`: the task folders, their grader run in the sandbox image, and Harbor itself running them.

The last two tests run the real Harbor (``.venv-harbor``, made by .ci/setup.sh) with its
oracle agent (reward 1.0 on answer tasks; on prediction tasks dsgym's score of the reference
solution, whose metric is exactly its named leaderboard entry) and its do-nothing agent
(reward 0) on exported tasks of every embedded suite.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dsgym import registry
from dsgym.cli import app
from dsgym.export.harbor_export import ExportError, export_suite
from dsgym.grading import grade
from dsgym.run_folder import task_digest
from dsgym.sandbox.images import image_tag

ROOT = Path(__file__).resolve().parents[1]
HARBOR = ROOT / ".venv-harbor" / "bin" / "harbor"
# a few quick tasks of each embedded suite
PICKS = {"dsgym-tasks-lite": ["macrodata-steepest-gdp-drop", "iris-weakest-anova-feature"],
         "dsbio-lite": ["pbmc-qc-filter-pass-pct"],
         "dspredict-lite": ["breast-cancer-diagnosis"]}


def _picks(suite: str) -> list[str]:
    known = registry.get_suite(suite).tasks
    chosen = [t for t in PICKS[suite] if t in known]
    return chosen or sorted(known)[:1]


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("harbor")
    for suite in PICKS:
        export_suite(suite, out, task_ids=_picks(suite))
    return out


def _all_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


def test_every_task_folder_has_harbors_layout_and_dsgyms_provenance(exported):
    for suite in PICKS:
        for task_id in _picks(suite):
            task = registry.get_suite(suite).tasks[task_id]
            folder = exported / task_id
            for name in ("task.toml", "instruction.md", "environment/Dockerfile", "tests/test.sh", "tests/grade.py",
                         "tests/task.json", "solution/solve.sh", "solution/solution.py"):
                assert (folder / name).is_file(), f"{task_id}: {name} missing"
            assert os.access(folder / "tests/test.sh", os.X_OK) and os.access(folder / "solution/solve.sh", os.X_OK)
            config = tomllib.loads((folder / "task.toml").read_text())
            assert config["environment"]["network_mode"] == "no-network"
            assert config["metadata"]["dsgym"] == {
                "suite": suite, "suite_version": registry.get_suite(suite).version, "task_id": task_id,
                "task_digest": f"sha256:{task_digest(task)}", "image": image_tag(registry.get_suite(suite).image),
                "kind": task.kind, "metric": task.metric}
            assert config["agent"]["timeout_sec"] > 0 and config["environment"]["memory_mb"] > 0
            dockerfile = (folder / "environment/Dockerfile").read_text()
            assert f"FROM {image_tag(registry.get_suite(suite).image)}\n" in dockerfile
            # the data at the env's /data paths, byte for byte
            for name, path in task.data_paths().items():
                copies = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
                for source in copies:
                    inside = folder / "environment/data" / name / source.relative_to(path) if path.is_dir() \
                        else folder / "environment/data" / name
                    assert inside.read_bytes() == source.read_bytes()
            instruction = (folder / "instruction.md").read_text()
            assert task.question.strip() in instruction and "/data/" in instruction
            assert ("/workspace/submission.csv" if task.prediction else "/workspace/answer.txt") in instruction


def test_hidden_answers_labels_and_leaderboards_are_only_in_tests(exported):
    for suite in PICKS:
        for task_id in _picks(suite):
            task = registry.get_suite(suite).tasks[task_id]
            folder = exported / task_id
            seen = b"\n".join(p.read_bytes() for p in _all_files(folder / "environment"))
            seen += (folder / "instruction.md").read_bytes()
            if task.prediction is None:
                assert json.loads((folder / "tests/task.json").read_text())["answer"] == task.answer
                assert repr(task.answer).encode() not in (folder / "instruction.md").read_bytes()
            else:
                labels = Path(task.prediction.labels_file)
                assert (folder / "tests/hidden" / labels.name).read_bytes() == labels.read_bytes()
                assert (folder / "tests/hidden/leaderboard.json").is_file()
                assert labels.read_bytes() not in seen
                assert not any(p.name in (labels.name, "leaderboard.json", "leaderboard_stats.json")
                               for p in _all_files(folder / "environment"))
            assert not any("hidden" in p.parts or p.name == "task.json" for p in _all_files(folder / "environment"))


def test_export_refuses_to_overwrite_and_names_what_it_cannot_export(exported, tmp_path):
    with pytest.raises(ExportError, match="already holds macrodata-steepest-gdp-drop"):
        export_suite("dsgym-tasks-lite", exported, task_ids=["macrodata-steepest-gdp-drop"])
    before = (exported / "macrodata-steepest-gdp-drop" / "task.toml").read_text()
    export_suite("dsgym-tasks-lite", exported, task_ids=["macrodata-steepest-gdp-drop"], force=True)
    assert (exported / "macrodata-steepest-gdp-drop" / "task.toml").read_text() == before
    assert not [p for p in exported.iterdir() if p.name.startswith(".")]  # no staging folder left behind
    result = CliRunner().invoke(app, ["export", "harbor", "no-such-suite", "--out", str(tmp_path / "x")])
    assert result.exit_code == 2 and "unknown suite" in result.output
    result = CliRunner().invoke(app, ["export", "harbor", "dsgym-tasks-lite", "--out", str(tmp_path / "y"),
                                      "--task", "macrodata-steepest-gdp-drop"])
    assert result.exit_code == 0, result.output
    assert [p.name for p in (tmp_path / "y").iterdir()] == ["macrodata-steepest-gdp-drop"]


def _grade_in_container(folder: Path, image: str, workspace: Path, out: Path) -> dict:
    """tests/grade.py run by the image's Python, as Harbor's verifier runs it: no network, files as mounted."""
    out.mkdir(exist_ok=True)
    subprocess.run(["docker", "run", "--rm", "--network", "none", "--user", "0",
                    "-v", f"{folder / 'tests'}:/tests:ro", "-v", f"{workspace}:/workspace:ro", "-v", f"{out}:/out",
                    image, "/opt/dsgym/venv/bin/python", "/tests/grade.py", "--out", "/out"],
                   check=True, capture_output=True, timeout=120)
    return {"reward": json.loads((out / "reward.json").read_text()),
            "grading": json.loads((out / "grading.json").read_text())}


@pytest.mark.docker
def test_the_shipped_grader_scores_as_dsgym_does_in_the_sandbox_image(exported, tmp_path, docker_image):
    lite = registry.get_suite("dsgym-tasks-lite").tasks["macrodata-steepest-gdp-drop"]
    folder, image = exported / lite.id, image_tag("default")
    for answer, expected in ((str(lite.answer), 1.0), ("-0.5", 0.0), (None, 0.0)):
        work = tmp_path / f"work-{expected}-{answer is None}"
        work.mkdir()
        if answer is not None:
            (work / "answer.txt").write_text(answer + "\n")
        got = _grade_in_container(folder, image, work, work.with_name(work.name + "-out"))
        assert got["reward"] == {"reward": expected}, got
        assert expected == grade(lite, answer).value

    predict = registry.get_suite("dspredict-lite").tasks["breast-cancer-diagnosis"]
    folder, image = exported / predict.id, image_tag("predict")
    perfect = tmp_path / "perfect"
    perfect.mkdir()
    (perfect / "submission.csv").write_bytes(Path(predict.prediction.labels_file).read_bytes())
    got = _grade_in_container(folder, image, perfect, tmp_path / "perfect-out")
    host = grade(predict, submission=perfect / "submission.csv")
    assert got["reward"]["reward"] == pytest.approx(host.value) and got["reward"]["valid"] == 1.0
    assert got["grading"]["breakdown"]["metric_value"] == pytest.approx(host.breakdown["metric_value"])
    empty = tmp_path / "empty"
    empty.mkdir()
    got = _grade_in_container(folder, image, empty, tmp_path / "empty-out")
    assert got["reward"] == {"reward": 0.0, "valid": 0.0, "above_median": 0.0, "medal": 0.0}
    assert got["grading"]["breakdown"]["reason"] == "missing_file"


def _harbor(dataset: Path, agent: str, jobs: Path, name: str) -> dict[str, dict]:
    """Run Harbor's CLI on a folder of task folders; each trial's rewards (or exception) by dsgym task id."""
    env = {**os.environ, "HARBOR_TELEMETRY": "0", "PYTHONPATH": str(ROOT / "dsgym" / "export")}
    done = subprocess.run([str(HARBOR), "run", "-p", str(dataset), "-a", agent, "-n", "2", "-o", str(jobs),
                           "--job-name", name, "-y", "-q",
                           "-e", "harbor_offline_docker:OfflineDockerEnvironment"],
                          env=env, capture_output=True, text=True, timeout=400, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    trials = {}
    for result in (jobs / name).glob("*/result.json"):
        data = json.loads(result.read_text())
        verifier = data.get("verifier_result") or {}
        trials[data["task_name"].split(".", 1)[-1]] = {"rewards": verifier.get("rewards"), "error": data.get("exception_info"),
                                     "dir": result.parent}
    return trials


def _needs_harbor():
    if not HARBOR.exists():
        pytest.skip(f"{HARBOR} missing: .ci/setup.sh makes it where a Python 3.12+ is available")
    if subprocess.run(["docker", "compose", "version"], capture_output=True, check=False).returncode != 0:
        pytest.fail("Harbor needs the Docker Compose v2 plugin: run .ci/setup.sh")


@pytest.mark.docker
@pytest.mark.slow
def test_harbors_oracle_scores_the_reference_solutions_of_every_embedded_suite(exported, tmp_path, docker_image):
    _needs_harbor()
    trials = _harbor(exported, "oracle", tmp_path, "oracle")
    assert len(trials) == sum(len(_picks(s)) for s in PICKS)
    for name, trial in trials.items():
        assert trial["error"] is None, (name, trial["error"])
        task = next(registry.get_suite(s).tasks[name] for s in PICKS if name in registry.get_suite(s).tasks)
        rewards = trial["rewards"]
        if task.prediction is None:
            assert rewards == {"reward": 1.0}, (name, rewards)
            continue
        # the reference reproduces one named leaderboard entry: its metric is that entry's score
        entry = re.search(r'leaderboard entry "([^"]+)"', task.solution).group(1)
        board = json.loads((trial["dir"] / "verifier" / "grading.json").read_text())["breakdown"]
        stats = json.loads(Path(task.prediction.leaderboard_file).read_text())[task.id]
        score = next(e["score"] for e in stats["entries"] if e["name"] == entry)
        assert board["metric_value"] == pytest.approx(score, rel=1e-9), (name, board)
        assert rewards["valid"] == 1.0 and rewards["reward"] == pytest.approx(board["percentile"] / 100)


@pytest.mark.docker
@pytest.mark.slow
def test_harbors_do_nothing_agent_scores_zero(exported, tmp_path, docker_image):
    _needs_harbor()
    dataset = tmp_path / "one-per-suite"
    dataset.mkdir()
    for suite in PICKS:
        (dataset / _picks(suite)[0]).symlink_to(exported / _picks(suite)[0])
    trials = _harbor(dataset, "nop", tmp_path / "jobs", "nop")
    assert len(trials) == len(PICKS)
    for name, trial in trials.items():
        assert trial["error"] is None, (name, trial["error"])
        assert trial["rewards"]["reward"] == 0.0, (name, trial["rewards"])
