"""verifiers 0.4 on dsgym: ``vf-eval dsgym`` against a loopback fake model, scored by dsgym's own metrics.

Runs in ``.venv-verifiers`` (made by ``.ci/setup.sh`` with ``.ci/constraints/verifiers.txt``);
``tests/test_integrations.py`` runs it there from the main test session.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.integrations import require

require("verifiers")

import verifiers.v1 as vf  # noqa: E402 - only where verifiers 0.4 is installed
from pydantic import ValidationError  # noqa: E402

import dsgym
from dsgym.rl.verifiers_env import (DSGymChatHarness, DSGymTaskset, DSGymTasksetConfig, DSGymVerifiersEnv,
                                    load_environment)
from dsgym.sandbox.docker import orphaned
from tests.support.fake_openai import FakeOpenAI, message_text
from tests.support.helpers import REPO, labelled_containers, owned_containers

SUITE = "dsgym-tasks-lite"
RIGHT = ["anes96-dole-clinton-paired-t", "anes96-independents-dole-share"]
WRONG = "anes96-logit-selflr-odds-ratio"
VF_EVAL = Path(sys.executable).with_name("vf-eval")


def oracle(wrong: set[str]) -> Callable[[dict[str, Any]], str]:
    """A model that looks at the data in one cell, then submits the reference answer (a wrong one for ``wrong``)."""
    tasks = dsgym.get_suite(SUITE).tasks

    def reply(request: dict[str, Any]) -> str:
        messages = request["messages"]
        prompt = message_text(next(m for m in messages if m["role"] == "user"))
        task = next(t for t in tasks.values() if t.question in prompt)
        if not any(m["role"] == "assistant" for m in messages):
            data = re.search(r"(/\S+\.csv)", prompt).group(1)
            return f"<python>\nimport pandas as pd\nprint('rows:', len(pd.read_csv({data!r})))\n</python>"
        assert "rows:" in message_text(messages[-1]), "the cell's output comes back as the next user turn"
        return f"<answer>{'-12345' if task.id in wrong else task.answer}</answer>"

    return reply


def test_the_dsgym_plugin_is_a_taskset_of_dsgym_tasks_with_its_own_env_and_harness():
    assert {"DSGymTaskset", "DSGymVerifiersEnv", "DSGymChatHarness"} <= set(dsgym.__all__)
    assert vf.environment_class("dsgym") is DSGymVerifiersEnv  # what vf-eval dsgym resolves
    assert vf.default_harness_id("dsgym") == "dsgym" and vf.taskset_config_type("dsgym") is DSGymTasksetConfig
    assert vf.harness_config_type("dsgym")().id == "dsgym"

    env = load_environment(SUITE)
    assert isinstance(env.taskset, DSGymTaskset) and isinstance(env._harnesses["agent"], DSGymChatHarness)
    tasks = list(env.taskset)
    assert [t.data.task_id for t in tasks] == sorted(dsgym.get_suite(SUITE).tasks)
    assert all(t.data.prompt is None and t.key == f"{SUITE}/{t.data.task_id}" for t in tasks)  # dsgym opens
    assert env.pool is None  # no sandbox is started before the env serves

    env = load_environment(SUITE, task_ids=RIGHT, max_turns=3)
    assert [t.data.id for t in env.taskset] == RIGHT and env.settings.env_options()["max_turns"] == 3
    assert [t.data.task_id for t in load_environment(f"{SUITE}/{WRONG}").taskset] == [WRONG]
    with pytest.raises(ValidationError, match="no-such-task"):
        load_environment(SUITE, task_ids=["no-such-task"])
    with pytest.raises(ValidationError, match="no-such-suite"):
        load_environment("no-such-suite")
    with pytest.raises(ValidationError, match="positive"):
        load_environment(SUITE, options={"cell_timeout": 0})
    with pytest.raises(ValidationError, match="format_penalty"):
        load_environment(SUITE, format_penalty=-1)


def vf_eval(base_url: str, out: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(VF_EVAL), "dsgym", "--env.taskset.suite", SUITE, "-m", "fake-model", "--client.base-url", base_url,
         "--client.api-key-var", "FAKE_OPENAI_KEY", "--no-push", "--no-rich", "-o", str(out), *args],
        cwd=REPO, env={**os.environ, "FAKE_OPENAI_KEY": "test"}, capture_output=True, text=True, timeout=600,
        check=False)


@pytest.mark.docker
@pytest.mark.slow
def test_vf_eval_cli_reports_dsgyms_scores(docker_image, tmp_path):
    before = {c.id for c in labelled_containers()}
    with FakeOpenAI(oracle({WRONG})) as fake:
        proc = vf_eval(fake.base_url, tmp_path, "--env.taskset.task-ids", json.dumps([*RIGHT, WRONG]),
                       "--env.taskset.max-turns", "4", "--env.taskset.pool-size", "2", "-n", "3", "-r", "1", "-c", "3")
        requests = fake.requests
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    [traces] = tmp_path.glob("dsgym--fake-model--*/traces.jsonl")
    episodes = [json.loads(line) for line in traces.read_text().splitlines()]
    assert all(episode["ok"] and not episode["errors"] for episode in episodes)
    runs = {episode["task"]["data"]["task_id"]: episode["traces"] for episode in episodes}
    scores = {task_id: (trace["rewards"], trace["metrics"]["dsgym_score"]) for task_id, [trace] in runs.items()}
    right, wrong = {"dsgym_reward": {"score": 1.0, "weight": 1.0}}, {"dsgym_reward": {"score": 0.0, "weight": 1.0}}
    assert scores == {RIGHT[0]: (right, 1.0), RIGHT[1]: (right, 1.0), WRONG: (wrong, 0.0)}  # dsgym's reward only
    assert {trace["info"]["dsgym_termination"] for [trace] in runs.values()} == {"answer"}
    assert len(requests) == 6  # a cell and an answer per rollout, against the loopback fake only
    assert all("rows:" in message_text(r["messages"][-1]) for r in requests if len(r["messages"]) > 1)

    leaked = [c for c in labelled_containers() if c.id not in before and orphaned(c)]  # vf-eval has exited
    assert not leaked, f"vf-eval left dsgym containers behind: {[c.name for c in leaked]}"


@pytest.mark.docker
@pytest.mark.slow
def test_vf_eval_refuses_a_bad_taskset_config_before_any_rollout(docker_image, tmp_path):
    with FakeOpenAI("<answer>1</answer>") as fake:
        proc = vf_eval(fake.base_url, tmp_path, "--env.taskset.task-ids", '["no-such-task"]')
        assert not fake.requests
    assert proc.returncode != 0 and "no-such-task" in proc.stdout + proc.stderr


@pytest.mark.docker
@pytest.mark.slow
def test_rollouts_release_their_sandboxes_also_when_cancelled(docker_image, monkeypatch):
    monkeypatch.setenv("FAKE_OPENAI_KEY", "test")
    env = load_environment(SUITE, task_ids=RIGHT, max_turns=4, pool_size=1)
    tasks = list(env.taskset)
    asked, answer = threading.Event(), threading.Event()

    def stalled(request: dict[str, Any]) -> str:
        asked.set()
        answer.wait(60)
        return "<answer>too late</answer>"

    def context(base_url: str) -> vf.ModelContext:
        return vf.ModelContext(model="fake-model", client=vf.EvalClientConfig(base_url=base_url,
                                                                              api_key_var="FAKE_OPENAI_KEY"))

    async def held_besides_the_warm_spare() -> int:
        while env.pool.ready() < 1:  # wait for the pool to refill
            await asyncio.sleep(0.2)
        return len(owned_containers()) - 1

    async def run() -> None:
        async with env.serving():
            with FakeOpenAI(oracle(set())) as fake:
                episodes = await asyncio.gather(*(env.run_episode(task, context(fake.base_url)) for task in tasks))
            assert [[t.reward for t in e.traces] for e in episodes] == [[1.0], [1.0]]
            assert await asyncio.wait_for(held_besides_the_warm_spare(), 120) == 0

            with FakeOpenAI(stalled) as slow:  # the rollout is cancelled while the model is thinking
                rollout = asyncio.create_task(env.run_episode(tasks[0], context(slow.base_url)))
                await asyncio.to_thread(asked.wait, 60)
                assert await asyncio.wait_for(held_besides_the_warm_spare(), 120) == 1  # the rollout's
                rollout.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await rollout
                answer.set()
            assert await asyncio.wait_for(held_besides_the_warm_spare(), 120) == 0
        assert env.pool is None  # serving ended: the warm spare is stopped too

    asyncio.run(run())
    assert not owned_containers()


@pytest.mark.docker
def test_a_sandbox_that_cannot_start_is_the_episodes_error_not_a_zero_reward(docker_image, monkeypatch):
    monkeypatch.setenv("FAKE_OPENAI_KEY", "test")
    env = load_environment(SUITE, task_ids=[WRONG], pool_size=0, options={"image": "dsgym-no-such-image:0"})

    async def run() -> vf.Episode:
        async with env.serving():
            with FakeOpenAI("<answer>1</answer>") as fake:
                context = vf.ModelContext(model="fake-model", client=vf.EvalClientConfig(
                    base_url=fake.base_url, api_key_var="FAKE_OPENAI_KEY"))
                episode = await env.run_episode(next(iter(env.taskset)), context)
                assert not fake.requests  # the model is never asked
                return episode

    episode = asyncio.run(run())
    assert not episode.ok and not episode.traces  # no rollout, so no reward to learn from
    [error] = episode.errors
    assert error.type == "SandboxError" and "dsgym-no-such-image:0" in error.message
