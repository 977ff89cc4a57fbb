"""The ``dsgym`` command, run as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import dsgym

DSGYM = str(Path(sys.executable).with_name("dsgym"))


def dsgym_cli(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([DSGYM, *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, **env})


def test_tasks_list_json_has_one_object_per_task():
    out = dsgym_cli("tasks", "list", "dsgym-tasks-lite", "--json")
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert {r["id"] for r in rows} == set(dsgym.get_suite("dsgym-tasks-lite").tasks)
    assert all({"id", "suite", "question", "metric"} <= set(r) for r in rows)


def test_tasks_list_shows_suites():
    out = dsgym_cli("tasks", "list")
    assert out.returncode == 0 and "dsgym-tasks-lite" in out.stdout


def test_unknown_ids_fail_with_a_hint():
    out = dsgym_cli("run", "dsgym-tasks-lite/iris-weakest-anova")
    assert out.returncode == 2 and "did you mean: iris-weakest-anova-feature" in out.stderr
    out = dsgym_cli("tasks", "list", "dsbio-lyte")
    assert out.returncode == 2 and "unknown suite" in out.stderr


@pytest.mark.docker
def test_run_plays_the_oracle_and_prints_transcript_and_score(docker_image):
    out = dsgym_cli("run", "dsgym-tasks-lite/iris-weakest-anova-feature", "--agent", "oracle")
    assert out.returncode == 0, out.stderr
    assert "Question:" in out.stdout and "<answer>" in out.stdout
    assert "=== score 1.000 (answer; metric " in out.stdout and ", scoring dsgym) ===" in out.stdout


@pytest.mark.docker
def test_run_grades_under_the_scoring_profile_it_is_given(docker_image):
    """The episode is graded under the profile asked for, and the transcript names it and the metric it used."""
    out = dsgym_cli("run", "dsgym-tasks-lite/iris-weakest-anova-feature", "--agent", "oracle", "--scoring", "official")
    assert out.returncode == 0, out.stderr
    assert "=== score 1.000 (answer; metric " in out.stdout and ", scoring official) ===" in out.stdout
    out = dsgym_cli("run", "dsgym-tasks-lite/iris-weakest-anova-feature", "--scoring", "offical")
    assert out.returncode == 2 and "unknown scoring profile 'offical'; known: dsgym, official" in out.stderr


@pytest.mark.docker
def test_eval_prints_a_score_table(docker_image, tmp_path):
    out = dsgym_cli("eval", "dsgym-tasks-lite/longley-vif-gnp", "dsgym-tasks-lite/iris-kmeans-ari",
                    "--concurrency", "2", "--out", str(tmp_path / "run"))
    assert out.returncode == 0, out.stderr
    assert "longley-vif-gnp" in out.stdout and "mean" in out.stdout and "1.000" in out.stdout


@pytest.mark.docker
def test_sandbox_status_reports_the_image(docker_image):
    out = dsgym_cli("sandbox", "status")
    assert out.returncode == 0 and f"{docker_image} built" in out.stdout


def test_tasks_show_hides_the_answer_unless_asked():
    task = dsgym.get_task("dsgym-tasks-lite", "iris-kmeans-ari")
    plain = dsgym_cli("tasks", "show", task.env_id)
    assert plain.returncode == 0 and "question:" in plain.stdout
    assert "answer:" not in plain.stdout
    shown = dsgym_cli("tasks", "show", task.env_id, "--answer", "--solution")
    assert f"answer: {task.answer}" in shown.stdout and "KMeans" in shown.stdout


def test_tasks_validate_reports_each_problem(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.csv").write_text("x\n1\n")
    (tmp_path / "manifest.json").write_text(json.dumps({"suite": "broken", "tasks": [
        {"id": "ok", "question": "q", "data_files": ["a.csv"], "answer": 1, "metric": "numeric"},
        {"id": "gone", "question": "q", "data_files": ["b.csv"], "answer": 1},
        {"id": "metric", "question": "q", "answer": 1, "metric": "bleu"},
        {"id": "params", "question": "q", "answer": 1, "metric": "numeric", "metric_params": {"tol": 1}},
        {"id": "bad", "question": ""},
    ]}))
    out = dsgym_cli("tasks", "validate", "broken", DSGYM_SUITES=str(tmp_path))
    assert out.returncode == 1
    assert "broken/gone: data file(s) missing: b.csv" in out.stdout
    assert "broken/metric: unknown metric 'bleu'" in out.stdout
    assert "broken/params: metric numeric does not take: tol" in out.stdout
    assert "task bad: question" in out.stdout
    assert "4 problem(s); broken: 4 tasks" in out.stdout
    assert dsgym_cli("tasks", "validate", "dsgym-tasks-lite").returncode == 0


# -- issue 24: the command line without rough edges ---------------------------------------------


def test_tasks_list_piped_prints_whole_env_ids():
    suite = dsgym.get_suite("dsgym-tasks-lite")
    out = dsgym_cli("tasks", "list", suite.name)  # stdout is a pipe here, as with `| less`
    assert out.returncode == 0, out.stderr
    assert "…" not in out.stdout
    listed = [line.split("\t")[0] for line in out.stdout.splitlines()[1:]]
    assert listed == [task.env_id for task in suite.tasks.values()]


def test_version_prints_dsgyms_version():
    out = dsgym_cli("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"dsgym {dsgym.__version__}"


def _help_paths(command, path=()):
    """Every command path of the dsgym command tree, lazy commands loaded."""
    from typer.core import TyperGroup

    yield path, command
    if isinstance(command, TyperGroup):
        ctx = type(command).context_class(command)
        for name in command.list_commands(ctx):
            yield from _help_paths(command.get_command(ctx, name), (*path, name))


def test_help_texts_keep_their_square_brackets():
    import re

    import typer
    from typer.testing import CliRunner

    from dsgym.cli import app

    runner = CliRunner()
    checked = 0
    for path, command in _help_paths(typer.main.get_command(app)):
        bracketed = {token for param in command.params for token in re.findall(r"\[[^\]\s]+\]", param.help or "")
                     if getattr(param, "help", None)}
        if not bracketed:
            continue
        shown = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "300"}, terminal_width=300)
        assert shown.exit_code == 0, shown.output
        for token in bracketed:
            assert token in shown.output, f"dsgym {' '.join(path)} --help lost {token}"
            checked += 1
    assert checked >= 2  # eval's and synth's 'dsgym[ray]' at least


def test_tasks_validate_concurrency_has_help():
    out = dsgym_cli("tasks", "validate", "--help", COLUMNS="200")
    line = next(line for line in out.stdout.splitlines() if "--concurrency" in line)
    assert "replayed at once" in line


def test_unknown_agent_says_did_you_mean_without_stray_quotes(tmp_path):
    for args in (("run", "dsgym-tasks-lite/iris-kmeans-ari"), ("eval", "dsgym-tasks-lite/iris-kmeans-ari",
                                                               "--out", str(tmp_path / "run"))):
        out = dsgym_cli(*args, "--agent", "reactt")
        assert out.returncode == 2
        message = " ".join(out.stderr.split())
        assert message.startswith("error: unknown agent 'reactt'; did you mean: react"), message
        assert '"' not in message


def test_run_with_the_daemon_unreachable_says_so_once():
    out = dsgym_cli("run", "dsgym-tasks-lite/iris-kmeans-ari", DOCKER_HOST="unix:///nonexistent/docker.sock")
    assert out.returncode == 2
    assert (out.stdout + out.stderr).count("cannot reach the Docker daemon") == 1, out.stdout + out.stderr


def test_run_passes_an_agent_that_does_not_take_model_a_clear_error():
    out = dsgym_cli("run", "dsgym-tasks-lite/iris-kmeans-ari", "--model", "m")
    assert out.returncode == 2 and "agent 'oracle' does not accept --model" in out.stderr


@pytest.mark.docker
def test_run_talks_to_the_model_given_by_model_base_url_and_api_key(docker_image):
    from tests.support.fake_openai import FakeOpenAI

    task = dsgym.get_task("dsgym-tasks-lite", "iris-kmeans-ari")
    with FakeOpenAI(f"<answer>{task.answer}</answer>", model="m1", api_key="sk-run-secret") as server:
        out = dsgym_cli("run", task.env_id, "--agent", "react", "--model", "m1", "--base-url", server.base_url,
                        "--api-key", "sk-run-secret", DSGYM_LLM_CACHE="0")
    assert out.returncode == 0, out.stderr
    assert "=== score 1.000 (answer; metric " in out.stdout and ", scoring dsgym) ===" in out.stdout
    assert server.requests and all(r["model"] == "m1" for r in server.requests)


@pytest.mark.docker
def test_eval_api_key_reaches_the_endpoint_and_no_run_file(docker_image, tmp_path):
    from tests.support.fake_openai import FakeOpenAI

    task = dsgym.get_task("dsgym-tasks-lite", "iris-kmeans-ari")
    run = tmp_path / "run"
    with FakeOpenAI(f"<answer>{task.answer}</answer>", model="m1", api_key="sk-eval-secret") as server:
        refused = dsgym_cli("eval", task.env_id, "--agent", "react", "--model", "m1", "--base-url", server.base_url,
                            "--api-key", "wrong", "--out", str(tmp_path / "refused"))
        out = dsgym_cli("eval", task.env_id, "--agent", "react", "--model", "m1", "--base-url", server.base_url,
                        "--api-key", "sk-eval-secret", "--out", str(run))
    assert refused.returncode == 2 and "pass --api-key" in " ".join(refused.stderr.split())
    assert out.returncode == 0, out.stderr
    assert not [p for p in run.rglob("*") if p.is_file() and b"sk-eval-secret" in p.read_bytes()]


def test_help_and_tasks_list_import_nothing_heavy():
    for args in (["--help"], ["tasks", "list"], ["tasks", "list", "dsgym-tasks-lite"]):
        out = subprocess.run([sys.executable, "-X", "importtime", "-m", "dsgym.cli", *args], capture_output=True,
                             text=True, timeout=120)
        assert out.returncode == 0, out.stderr[-2000:]
        imported = {line.split("|")[-1].strip() for line in out.stderr.splitlines() if line.startswith("import time")}
        heavy = {name for name in imported if name.split(".")[0] in ("openai", "pandas", "sklearn", "scipy", "ray")}
        assert not heavy, f"dsgym {' '.join(args)} imported {sorted(heavy)[:10]}"
