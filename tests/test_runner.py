"""The runner and `dsgym eval` / `dsgym rescore`: records, manifest, resume, SIGKILL, typed errors,
retries, --max-errors, the hard episode timeout, Ctrl-C.  Real sandboxes; small agents defined here."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import dsgym
from dsgym import runner
from dsgym.agents import OracleAgent
from dsgym.agents.base import Agent
from dsgym.llm import LLMClient
from dsgym.report import summarize
from tests.support.fake_openai import FakeOpenAI
from tests.support.helpers import REPO, owned_containers

DSGYM = str(Path(sys.executable).with_name("dsgym"))
BOGUS_IMAGE = "dsgym-no-such-image:0"


# -- agents used by these tests (also loaded by `dsgym eval --agent tests.test_runner:Name`) ------


class FlakyOracle(OracleAgent):
    """The oracle, except that it raises on the task ids listed in $DSGYM_TEST_FAIL."""

    name = "flaky-oracle"

    def start(self, task, prompt):
        super().start(task, prompt)
        if task.id in os.environ.get("DSGYM_TEST_FAIL", "").split(","):
            raise RuntimeError(f"flaky agent fails on {task.id}")


class CellSleeper(Agent):
    """Runs a long cell, so its container is busy when the test interrupts the run."""

    name = "cell-sleeper"

    def start(self, task, prompt):
        self.reset_usage()

    def act(self, observation):
        return "<python>\nimport time\ntime.sleep(60)\n</python>"


class Stuck(Agent):
    """An agent stuck in a (simulated) slow model call."""

    name = "stuck"

    def start(self, task, prompt):
        self.reset_usage()

    def act(self, observation):
        time.sleep(60)
        return "<answer>late</answer>"


class ContainerKiller(OracleAgent):
    """The oracle, but the first time it plays, its container is removed under it mid-episode."""

    name = "container-killer"
    kills = 0

    def act(self, observation):
        action = super().act(observation)
        if self.stage == 2 and ContainerKiller.kills == 0:
            ContainerKiller.kills += 1
            for container in owned_containers():
                container.remove(force=True)
        return action


class Answerer(Agent):
    """Submits a fixed answer per task id at once."""

    name = "answerer"

    def __init__(self, answers: dict[str, str]):
        super().__init__()
        self.answers = answers

    def start(self, task, prompt):
        self.reset_usage()
        self.task = task

    def act(self, observation):
        return f"<answer>{self.answers.get(self.task.id, '')}</answer>"


class Mixed(Agent):
    """Per task: raise (sum-y), ask a model (no-data), or answer (everything else)."""

    name = "mixed"

    def __init__(self, base_url: str):
        super().__init__()
        self.client = LLMClient("fake-model", base_url=base_url, max_retries=0, cache=False)

    def config(self):
        return {"agent": self.name, "model": self.client.model, "base_url": self.client.base_url}

    def start(self, task, prompt):
        self.reset_usage()
        self.task = task

    def act(self, observation):
        if self.task.id == "sum-y":
            raise ZeroDivisionError("the agent has a bug")
        if self.task.id == "no-data":
            reply = self.client.chat(f"Answer: {self.task.question}")  # the fake server fails: LLMError
            self.usage["total_tokens"] += reply.usage.total_tokens
            return reply.text
        return "<answer>1</answer>"


# -- helpers ---------------------------------------------------------------------------------------


def cli(*args: str, timeout: float = 300, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([DSGYM, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PYTHONPATH": str(REPO), **env})


def lines(path: Path) -> list[dict]:
    raw = (path / "episodes.jsonl").read_bytes()
    assert raw.endswith(b"\n")
    return [json.loads(line) for line in raw.decode().splitlines()]


def keys(records: list[dict]) -> list[str]:
    return [f"{r['suite']}/{r['task_id']}#{r['sample']}" for r in records]


def write_suite(root: Path, name: str, tasks: list[dict]) -> Path:
    (root / "data").mkdir(parents=True, exist_ok=True)
    (root / "manifest.json").write_text(json.dumps({"suite": name, "version": "1", "data_dir": "data",
                                                    "tasks": tasks}))
    return root


# -- no sandbox needed -----------------------------------------------------------------------------


def test_expand_puts_sample_zero_of_every_task_first_and_dedups():
    jobs = runner.expand(["dsgym-tasks-lite/iris-kmeans-ari", "dsgym-tasks-lite/longley-vif-gnp",
                          "dsgym-tasks-lite/iris-kmeans-ari"], samples=2)
    assert [j.key for j in jobs] == ["dsgym-tasks-lite/iris-kmeans-ari#0", "dsgym-tasks-lite/longley-vif-gnp#0",
                                     "dsgym-tasks-lite/iris-kmeans-ari#1", "dsgym-tasks-lite/longley-vif-gnp#1"]
    assert [j.seed for j in jobs] == [0, 0, 1, 1]


def test_log_reports_and_cuts_a_torn_last_line(tmp_path):
    log = runner.episode_log(tmp_path)
    log.open()
    log.append({"suite": "s", "task_id": "a", "sample": 0, "note": "héllo"})
    log.append({"suite": "s", "task_id": "b", "sample": 0})
    log.close()
    with open(log.path, "ab") as handle:  # what a write cut by SIGKILL leaves
        handle.write(b'{"suite": "s", "task_id": "c", "sam')
    contents = log.read()
    assert [r["task_id"] for r in contents.records] == ["a", "b"] and contents.torn_bytes == 35
    assert log.open().torn_bytes == 35  # reported once more, then cut off
    log.append({"suite": "s", "task_id": "c", "sample": 0})
    log.close()
    assert [r["task_id"] for r in lines(tmp_path)] == ["a", "b", "c"]
    assert log.read().torn_bytes == 0


def test_latest_record_of_a_key_wins():
    records = [{"suite": "s", "task_id": "a", "sample": 0, "status": "error"},
               {"suite": "s", "task_id": "b", "sample": 0, "status": "ok"},
               {"suite": "s", "task_id": "a", "sample": 0, "status": "ok"}]
    merged = runner.latest(records)
    assert list(merged) == ["s/b#0", "s/a#0"] and merged["s/a#0"]["status"] == "ok"


class StubEnv:
    """Just enough of an env for ``play`` (reset, step, info): every step ends the episode as ``ending`` says."""

    def __init__(self, ending: dict):
        self.task = dsgym.get_task("dsgym-tasks-lite", "iris-kmeans-ari")
        self.ending = ending

    def reset(self, seed=None, options=None):
        return "prompt", {"reset_time": 0.1, "task": self.task, "task_id": self.task.id, "suite": self.task.suite,
                          "env_id": self.task.env_id, "episode_id": "x"}

    def step(self, action):
        return "obs", 0.0, False, True, {"step_time": 0.01, "action_kind": "code", **self.ending}


@pytest.mark.parametrize(("ending", "status", "error_type", "retryable"), [
    ({"termination": "sandbox_error", "error": "the sandbox stopped"}, "error", "sandbox", True),
    ({"termination": "answer", "error": "scoring failed: unknown metric", "answer": "1"}, "error", "scoring", False),
    ({"termination": "max_turns", "score_breakdown": {"reason": "no answer"}}, "ok", None, False),
])
def test_play_types_how_the_env_ended_the_episode(ending, status, error_type, retryable):
    from dsgym.episode import play

    record = play(StubEnv(ending), OracleAgent())
    assert (record.status, record.error_type, record.retryable) == (status, error_type, retryable)
    assert record.score == (0.0 if status == "ok" else None) and record.termination == ending["termination"]


def test_a_run_folder_has_one_writer_at_a_time(tmp_path):
    with runner.locked(tmp_path):
        with pytest.raises(runner.RunDirError, match=f"in use by pid {os.getpid()}"):
            with runner.locked(tmp_path):
                pass
    with runner.locked(tmp_path):  # released
        pass


def test_bad_env_options_fail_before_the_run_folder_is_touched(tmp_path):
    for options, message in (({"max_turns": 0}, "must be positive"), ({"max_turn": 5}, "unknown env option")):
        settings = runner.EvalSettings(targets=["dsgym-tasks-lite/iris-kmeans-ari"], env_options=options)
        with pytest.raises(ValueError, match=message):
            runner.evaluate(settings, tmp_path / "run")
        assert not (tmp_path / "run").exists()


def test_max_errors_takes_a_count_or_a_fraction():
    assert runner.parse_max_errors("5") == 5 and runner.parse_max_errors("0.1") == 0.1
    assert runner.parse_max_errors("10%") == pytest.approx(0.1) and runner.parse_max_errors(None) is None
    assert runner.error_limit(5, 100) == 5 and runner.error_limit(0.1, 50) == pytest.approx(5)
    for bad in ("many", "-1", "2.5"):
        with pytest.raises(ValueError):
            runner.parse_max_errors(bad)


# -- real sandboxes --------------------------------------------------------------------------------

docker = pytest.mark.docker


@docker
def test_eval_writes_one_record_per_episode_a_manifest_and_resumes(docker_image, secret_suite, tmp_path):
    env = {"DSGYM_SUITES": str(secret_suite.root)}
    out = tmp_path / "run"
    command = ["eval", "secret-test/sum-y", "dsgym-tasks-lite/iris-kmeans-ari", "--samples", "2",
               "--concurrency", "2", "--out", str(out)]
    first = cli(*command, **env)
    assert first.returncode == 0, first.stderr
    records = lines(out)
    assert sorted(keys(records)) == ["dsgym-tasks-lite/iris-kmeans-ari#0", "dsgym-tasks-lite/iris-kmeans-ari#1",
                                     "secret-test/sum-y#0", "secret-test/sum-y#1"]
    manifest = json.loads((out / "manifest.json").read_text())
    for record in records:
        assert record["status"] == "ok" and record["score"] == 1.0 and record["termination"] == "answer"
        assert record["run_id"] == manifest["run_id"] and record["episode_id"] and record["error"] is None
        assert record["agent"] == "oracle" and record["agent_config"] == {"agent": "oracle"}
        assert record["seed"] == record["sample"] and record["attempts"] == 1 and record["retried"] == []
        assert record["limits"] == {"max_turns": 20, "cell_timeout": 120.0, "episode_budget": 1800.0}
        assert record["variant"] is None
        assert set(record["tokens"]) == {"prompt_tokens", "completion_tokens", "total_tokens"}
        assert "Question:" in record["prompt"] and record["answer"] and record["score_breakdown"]
        assert len(record["turns"]) == 3 and record["wall_time"] > record["reset_time"] > 0
        turn = record["turns"][0]
        assert turn["action"].startswith("<python>") and turn["step_time"] > 0 and "agent_time" in turn
        assert record["started_at"] < record["ended_at"]
    assert {r["category"] for r in records} == {"multi-step", None}
    assert manifest["dsgym_version"] == dsgym.__version__ and manifest["status"] == "complete"
    assert manifest["agent_config"] == {"agent": "oracle"} and manifest["episodes"] == 4
    assert manifest["settings"]["samples"] == 2 and manifest["settings"]["env_options"]["max_turns"] == 20
    assert set(manifest["suites"]) == {"secret-test", "dsgym-tasks-lite"}
    assert len(manifest["suites"]["secret-test"]["hash"]) == 64 and manifest["suites"]["dsgym-tasks-lite"]["version"]
    assert manifest["command"][1:] == command and manifest["started_at"] <= manifest["ended_at"]
    assert "mean" in first.stdout and "pass@2" in first.stdout

    before = (out / "episodes.jsonl").read_bytes()
    again = cli(*command, **env)
    assert again.returncode == 0, again.stderr
    assert "skipping 4 episode(s) already recorded" in again.stderr
    assert (out / "episodes.jsonl").read_bytes() == before
    assert len(json.loads((out / "manifest.json").read_text())["invocations"]) == 2

    changed = cli(*command, "--max-turns", "5", **env)
    assert changed.returncode == 2 and "other settings" in changed.stderr and "max_turns" in changed.stderr
    assert (out / "episodes.jsonl").read_bytes() == before

    forced = cli("eval", "secret-test/sum-y", "dsgym-tasks-lite/iris-kmeans-ari", "-j", "2", "--out", str(out),
                 "--max-turns", "5", "--force", **env)  # one sample each now
    assert forced.returncode == 0, forced.stderr
    assert len(lines(out)) == 2 and json.loads((out / "manifest.json").read_text())["settings"]["samples"] == 1
    (aside,) = out.glob("replaced-*")
    assert (aside / "episodes.jsonl").read_bytes() == before

    resumed = cli("eval", "--out", str(out), **env)  # no targets: the run's own settings
    assert resumed.returncode == 0 and "skipping 2 episode(s)" in resumed.stderr


@docker
def test_sigkill_mid_run_then_rerun_plays_every_episode_exactly_once(docker_image, secret_suite, tmp_path):
    from dsgym.sandbox.docker import prune

    out = tmp_path / "run"
    command = [DSGYM, "eval", "secret-test/sum-y", "--samples", "8", "--concurrency", "2", "--out", str(out)]
    env = {**os.environ, "DSGYM_SUITES": str(secret_suite.root)}
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    log = out / "episodes.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (not log.exists() or log.read_bytes().count(b"\n") < 2):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    done = log.read_bytes().count(b"\n")
    assert 2 <= done < 8, "the kill should land mid-run"
    prune()  # the killed process's containers
    with open(log, "ab") as handle:  # and, as if the kill had cut a write short, a torn last line
        handle.write(b'{"suite": "secret-test", "task_id": "sum-y", "sample": 7, "status": "o')

    rerun = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert rerun.returncode == 0, rerun.stderr
    assert "torn line" in rerun.stderr and f"skipping {done} episode(s)" in rerun.stderr
    records = lines(out)  # every line parses and the file ends in a newline
    assert sorted(keys(records)) == sorted(f"secret-test/sum-y#{i}" for i in range(8))
    assert all(r["status"] == "ok" and r["score"] == 1.0 for r in records)
    manifest = json.loads((out / "manifest.json").read_text())
    assert [i["status"] for i in manifest["invocations"]] == ["running", "completed"]
    assert manifest["status"] == "complete"


@docker
def test_retry_errors_reruns_only_the_errored_episodes(docker_image, secret_suite, tmp_path):
    out = tmp_path / "run"
    command = ["eval", "secret-test/sum-y", "dsgym-tasks-lite/iris-kmeans-ari", "--agent",
               "tests.test_runner:FlakyOracle", "-j", "2", "--out", str(out)]
    env = {"DSGYM_SUITES": str(secret_suite.root)}
    first = cli(*command, DSGYM_TEST_FAIL="sum-y", **env)
    assert first.returncode == 1 and "error (agent) secret-test/sum-y#0" in first.stderr
    by_key = dict(zip(keys(lines(out)), lines(out)))
    failed, fine = by_key["secret-test/sum-y#0"], by_key["dsgym-tasks-lite/iris-kmeans-ari#0"]
    assert failed["status"] == "error" and failed["error_type"] == "agent" and failed["score"] is None
    assert "flaky agent fails on sum-y" in failed["error"] and failed["attempts"] == 1  # agent bugs: no retry
    assert fine["status"] == "ok" and fine["score"] == 1.0
    assert "1 of 2 episode(s) errored (agent 1)" in first.stdout

    plain = cli(*command, **env)  # a plain resume keeps the recorded error
    assert plain.returncode == 1 and "skipping 2 episode(s)" in plain.stderr

    retried = cli(*command, "--retry-errors", **env)
    assert retried.returncode == 0, retried.stderr
    assert "skipping 1 episode(s)" in retried.stderr
    records = lines(out)
    assert sorted(keys(records)) == ["dsgym-tasks-lite/iris-kmeans-ari#0", "secret-test/sum-y#0"]
    now = dict(zip(keys(records), records))
    assert now["dsgym-tasks-lite/iris-kmeans-ari#0"] == fine  # untouched
    fixed = now["secret-test/sum-y#0"]
    assert fixed["status"] == "ok" and fixed["score"] == 1.0
    assert [r["error_type"] for r in fixed["retried"]] == ["agent"]


@docker
def test_errors_are_typed_by_where_they_happened(docker_image, secret_suite, tmp_path):
    scoring = dsgym.register_suite(write_suite(tmp_path / "scoring", "scoring-test", [
        {"id": "bad-metric", "question": "Say 1.", "metric": "bleu", "answer": "1"}]))
    assert "bad-metric" in scoring.tasks
    jobs = [runner.Job("secret-test", "sum-y"), runner.Job("secret-test", "no-data"),
            runner.Job("scoring-test", "bad-metric")]
    with FakeOpenAI("<answer>hi</answer>") as fake:
        fake.fail_next(100, status=500)
        records = runner.run(jobs, lambda: Mixed(fake.base_url), concurrency=2, retries=2, backoff=0.05)
        calls, base_url = fake.calls, fake.base_url
    agent, model, score = records
    assert (agent.status, agent.error_type, agent.attempts) == ("error", "agent", 1)
    assert "ZeroDivisionError: the agent has a bug" in agent.error and agent.score is None
    assert (model.status, model.error_type, model.attempts) == ("error", "model", 3)
    assert "HTTP 500" in model.error and calls == 3 and len(model.retried) == 2
    assert model.model == "fake-model" and model.agent_config["base_url"] == base_url
    assert (score.status, score.error_type, score.attempts) == ("error", "scoring", 1)
    assert score.error.startswith("scoring failed") and score.answer == "1" and score.termination == "answer"

    (sandbox,) = runner.run([runner.Job("secret-test", "sum-y")], OracleAgent, retries=1, backoff=0.05,
                            env_options={"image": BOGUS_IMAGE})
    assert (sandbox.status, sandbox.error_type, sandbox.attempts) == ("error", "sandbox", 2)
    assert BOGUS_IMAGE in sandbox.error and sandbox.score is None and sandbox.retried[0]["error_type"] == "sandbox"

    summary = summarize([r.to_dict() for r in [*records, sandbox]])
    assert summary.errors == 4 and summary.errors_by_type == {"agent": 1, "model": 1, "sandbox": 1, "scoring": 1}
    assert summary.overall.mean.value is None  # nothing scored, nothing averaged as 0


@docker
def test_a_sandbox_removed_mid_episode_is_a_sandbox_error_retried_in_a_fresh_one(docker_image, secret_suite):
    ContainerKiller.kills = 0
    t0 = time.monotonic()
    (record,) = runner.run([runner.Job("secret-test", "sum-y")], ContainerKiller, episode_timeout=30,
                           env_options={"cell_timeout": 2}, backoff=0.1)
    assert ContainerKiller.kills == 1 and time.monotonic() - t0 < 25
    assert (record.status, record.error_type, record.attempts) == ("ok", None, 2)
    assert record.retried and record.retried[0]["error_type"] == "sandbox"


def unrunnable_image() -> str:
    """An image that exists but cannot host a sandbox (the bare base root filesystem has no command)."""
    from dsgym.sandbox.docker import client

    found = [tag for image in client().images.list(name="dsgym-base") for tag in image.tags]
    assert found, "no dsgym-base image: run `dsgym sandbox build`"
    return found[0]


@docker
def test_max_errors_aborts_a_run_with_broken_infrastructure(docker_image, secret_suite, tmp_path):
    out = tmp_path / "run"
    result = cli("eval", "secret-test", "--samples", "3", "--image", unrunnable_image(), "--retries", "0",
                 "--max-errors", "1", "--out", str(out), DSGYM_SUITES=str(secret_suite.root))
    assert result.returncode == 3, result.stderr
    assert "aborted: 2 of 2 finished episode(s) failed" in result.stderr
    records = lines(out)
    assert len(records) == 2 and all(r["error_type"] == "sandbox" for r in records)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "aborted" and manifest["episodes"] == 9


@docker
def test_hard_episode_timeout_gives_up_on_an_agent_stuck_in_a_model_call(docker_image, secret_suite):
    t0 = time.monotonic()
    seen = []
    # 8 s: room for the reset on a loaded host, so the deadline finds the agent stuck in its model call
    (record,) = runner.run([runner.Job("secret-test", "sum-y")], Stuck, episode_timeout=8, on_result=seen.append)
    elapsed = time.monotonic() - t0
    assert 8 <= elapsed < 14 and seen == [record]
    assert (record.status, record.error_type, record.termination) == ("error", "timeout", "timeout")
    assert "hard budget of 8 s" in record.error and record.agent == "stuck" and "Question:" in record.prompt
    assert not owned_containers()  # its sandbox was closed at the deadline


@docker
def test_ctrl_c_stops_the_run_and_removes_its_containers(docker_image, secret_suite, tmp_path):
    out = tmp_path / "run"
    proc = subprocess.Popen([DSGYM, "eval", "secret-test/sum-y", "--samples", "4", "-j", "2", "--agent",
                             "tests.test_runner:CellSleeper", "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO), "DSGYM_SUITES": str(secret_suite.root)})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(owned_containers(proc.pid)) < 2:
        time.sleep(0.1)
    assert len(owned_containers(proc.pid)) == 2
    time.sleep(1)  # the cells are running
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr and "Rerun the same command to resume" in stderr
    assert not owned_containers(proc.pid)
    assert json.loads((out / "manifest.json").read_text())["invocations"][0]["status"] == "interrupted"


@docker
def test_rescore_regrades_stored_answers_without_models_or_sandboxes(docker_image, tmp_path):
    root = write_suite(tmp_path / "suite", "rescore-test", [
        {"id": "near", "question": "About 10?", "metric": "numeric", "answer": 10.0,
         "metric_params": {"rel_tol": 1e-6}, "metadata": {"category": "estimation"}},
        {"id": "misgraded", "question": "Say yes.", "metric": "bleu", "answer": "yes"},
        {"id": "exact", "question": "Say 3.", "metric": "numeric", "answer": 3}])
    dsgym.register_suite(root)
    out = tmp_path / "run"
    settings = runner.EvalSettings(targets=["rescore-test"], agent="answerer")
    answers = {"near": "10.05", "misgraded": "yes", "exact": "3"}
    runner.evaluate(settings, out, agent_factory=lambda: Answerer(answers), concurrency=2)
    before = {r["task_id"]: r for r in lines(out)}
    assert before["near"]["score"] == 0.0 and before["exact"]["score"] == 1.0
    assert before["misgraded"]["status"] == "error" and before["misgraded"]["error_type"] == "scoring"

    manifest = json.loads((root / "manifest.json").read_text())  # fix the metrics after the run
    manifest["tasks"][0]["metric_params"] = {"rel_tol": 0.01}
    manifest["tasks"][1]["metric"] = "exact_match"
    (root / "manifest.json").write_text(json.dumps(manifest))
    result = cli("rescore", str(out), DSGYM_SUITES=str(root), DOCKER_HOST="unix:///nonexistent/docker.sock",
                 OPENAI_BASE_URL="http://127.0.0.1:9/v1")
    assert result.returncode == 0, result.stderr
    assert "re-graded 3 answer(s), 2 changed" in result.stdout
    after = {r["task_id"]: r for r in lines(out)}
    assert after["near"]["score"] == 1.0 and after["near"]["previous_score"] == 0.0
    assert after["misgraded"]["status"] == "ok" and after["misgraded"]["score"] == 1.0
    assert after["misgraded"]["previous_status"] == "error" and after["misgraded"]["error"] is None
    assert after["exact"]["score"] == 1.0 and after["exact"]["previous_score"] == 1.0
    assert after["near"]["turns"] == before["near"]["turns"] and after["near"]["rescored_at"]
    assert not list(out.glob(".episodes.jsonl-*"))  # no temp file left behind


@docker
def test_evaluate_writes_summary_json_of_what_the_table_shows(docker_image, secret_suite, tmp_path):
    from dsgym.report import summarize_run

    settings = runner.EvalSettings(targets=["secret-test/sum-y", "dsgym-tasks-lite/iris-kmeans-ari"], agent="oracle",
                                   env_options={"sandbox": "docker"})
    out = tmp_path / "run"
    outcome = runner.evaluate(settings, out, concurrency=2, seed=3)
    written = json.loads((out / runner.SUMMARY).read_text())
    assert written == json.loads(json.dumps(outcome.summary.to_dict()))
    assert written["episodes"] == 2 and written["errors"] == 0 and written["agent"] == "oracle"
    overall = written["groups"][0]
    assert overall["name"] == "all" and overall["tasks"] == 2 and overall["mean"]["value"] == 1.0
    assert {g["name"] for g in written["groups"] if g["kind"] == "suite"} == {"secret-test", "dsgym-tasks-lite"}
    assert written["groups"] == summarize_run(out, seed=3).to_dict()["groups"]  # the same as `dsgym rescore` shows
