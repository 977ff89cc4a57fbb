"""The Ray backend on a local Ray (2 CPUs): same results as the local backend, and a killed worker is retried."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from dsgym import runner
from dsgym.ray_backend import RayBackend

pytestmark = [pytest.mark.docker, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[1]
DSGYM = str(Path(sys.executable).with_name("dsgym"))
TASKS = ["dsgym-tasks-lite/iris-kmeans-ari", "dsgym-tasks-lite/iris-weakest-anova-feature",
         "dsgym-tasks-lite/longley-vif-gnp", "dsgym-tasks-lite/titanic-women-men-survival-gap",
         "dsgym-tasks-lite/cps-zero-earnings-share", "dsgym-tasks-lite/wine-strongest-spearman-pair"]


@pytest.fixture(scope="module")
def ray_session():
    import ray

    with pytest.MonkeyPatch.context() as patch:  # restored after: later tests' subprocesses must not see it
        patch.setenv("PYTHONPATH", str(REPO))  # the workers import what the driver imports
        backend = RayBackend(local_cpus=2)
        backend.init()
        yield backend
        ray.shutdown()


@pytest.fixture(scope="module")
def targets():
    import dsgym

    suite = dsgym.registry.get_suite("dsgym-tasks-lite")
    chosen = [t for t in TASKS if t.split("/")[1] in suite.tasks]
    assert len(chosen) >= 4, "the chosen tasks are gone from dsgym-tasks-lite"
    return chosen


def outcome(records: list[dict]) -> dict:
    return {(r["task_id"], r["sample"]): (r["status"], r["score"], r["answer"]) for r in records}


def test_the_ray_backend_gives_the_local_backend_s_results(docker_image, ray_session, targets, tmp_path):
    settings = runner.EvalSettings(targets=targets, agent="oracle", samples=2, episode_timeout=300)
    local = runner.evaluate(settings, tmp_path / "local", concurrency=2)
    distributed = runner.evaluate(settings, tmp_path / "ray", backend=ray_session)
    assert len(local.records) == len(distributed.records) == 2 * len(targets)
    assert outcome(distributed.records) == outcome(local.records)
    assert all(r["status"] == "ok" and r["score"] == 1.0 for r in distributed.records)
    manifest = json.loads((tmp_path / "ray" / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["invocations"][-1]["options"]["backend"] == "ray"
    # resuming with the other backend plays nothing again: the log is the same format
    again = runner.evaluate(settings, tmp_path / "ray", concurrency=2)
    assert again.ran == 0 and again.skipped == 2 * len(targets)


def ray_task_pids() -> list[int]:
    """Host pids of Ray worker processes running a work item (their title is ``ray::run_item``)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if b"ray::run_item" in (entry / "cmdline").read_bytes():
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def test_a_killed_worker_is_retried_and_every_episode_is_recorded_once(docker_image, ray_session, targets,
                                                                       tmp_path):
    settings = runner.EvalSettings(targets=targets, agent="oracle", samples=2, episode_timeout=300)
    killed: list[int] = []

    def kill_one() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not killed:
            pids = ray_task_pids()
            if pids:
                os.kill(pids[0], signal.SIGKILL)
                killed.append(pids[0])
            time.sleep(0.05)

    killer = threading.Thread(target=kill_one)
    killer.start()
    result = runner.evaluate(settings, tmp_path / "run", backend=ray_session)
    killer.join()
    assert killed, "no Ray worker was seen running an episode"
    records = [json.loads(line) for line in (tmp_path / "run" / "episodes.jsonl").read_text().splitlines()]
    keys = [(r["task_id"], r["sample"]) for r in records]
    assert len(keys) == len(set(keys)) == 2 * len(targets) == len(result.records)
    assert all(r["status"] == "ok" and r["score"] == 1.0 for r in records)
    subprocess.run([DSGYM, "sandbox", "prune"], capture_output=True, check=True)  # the killed worker's container


def test_the_command_line_runs_on_ray_and_refuses_an_address_without_it(docker_image, targets, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run([DSGYM, "eval", *targets[:2], "--backend", "ray", "--out", str(tmp_path / "run")],
                            capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    records = [json.loads(line) for line in (tmp_path / "run" / "episodes.jsonl").read_text().splitlines()]
    assert len(records) == 2 and all(r["score"] == 1.0 for r in records)
    wrong = subprocess.run([DSGYM, "eval", targets[0], "--address", "auto", "--out", str(tmp_path / "x")],
                           capture_output=True, text=True, env=env, timeout=60)
    assert wrong.returncode == 2 and "--address needs --backend ray" in wrong.stderr


def test_synth_on_ray_keeps_what_the_local_backend_keeps(docker_image, ray_session, tmp_path):
    from dsgym.synth import synthesize
    from tests.support.fake_openai import FakeOpenAI
    from tests.support.synth_model import ScriptedAnalyst, expected_kept
    from tests.test_synth import SEED, settings, write_data

    data = write_data(tmp_path / "data")
    (data / "people.csv").unlink()

    def rows(path: Path) -> list[dict]:
        return [json.loads(line) for line in path.read_text().splitlines()]

    with FakeOpenAI(replies=ScriptedAnalyst(seed_base=SEED, questions_per_dataset=3)) as fake:
        local = synthesize(settings(data, fake.base_url, tmp_path / "cache-local", questions=3), tmp_path / "local")
        on_ray = synthesize(settings(data, fake.base_url, tmp_path / "cache-ray", questions=3, backend="ray"),
                            tmp_path / "ray")
    assert local.complete and on_ray.complete and on_ray.examples == local.examples == 4
    kept = {(r["task_id"], r["sample"], r["answer"]) for r in rows(tmp_path / "ray" / "sft" / "train.jsonl")}
    assert kept == {(r["task_id"], r["sample"], r["answer"]) for r in rows(tmp_path / "local" / "sft" / "train.jsonl")}
    assert {(t, s) for t, s, _ in kept} == expected_kept(rows(tmp_path / "ray" / "tasks.jsonl"))
    for stage in ("profile", "rollout", "verify", "consensus", "shortcut", "difficulty"):
        assert (on_ray.stages[stage].output, on_ray.stages[stage].dropped) == (
            local.stages[stage].output, local.stages[stage].dropped), stage
