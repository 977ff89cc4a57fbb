"""verifiers on dsgym: ``vf-eval dsgym`` against a loopback fake model, scored by dsgym's own metrics."""

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

vf = pytest.importorskip("verifiers")

import dsgym
from dsgym.rl.verifiers_env import DSGymVerifiersEnv, load_environment
from tests.support.fake_openai import FakeOpenAI, message_text
from dsgym.sandbox.docker import orphaned
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


def test_load_environment_has_one_row_per_task_and_dsgyms_metric_as_rubric():
    env = load_environment(SUITE)
    assert isinstance(env, vf.MultiTurnEnv) and isinstance(env, DSGymVerifiersEnv)
    dataset = env.get_eval_dataset()
    assert len(dataset) == len(dsgym.get_suite(SUITE).tasks) == len(env.get_dataset())
    assert env.pool is None  # no sandbox is started before the first rollout

    env = load_environment(SUITE, task_ids=RIGHT, max_turns=3, system_prompt="Be brief.")
    rows = env.get_eval_dataset()
    assert [row["info"]["task_id"] for row in rows] == RIGHT
    assert rows[0]["prompt"][0] == {"role": "system", "content": "Be brief."}
    assert env.max_turns == 4 and env.env_options["max_turns"] == 3
    weights = dict(zip(env.rubric._get_reward_func_names(), env.rubric._get_reward_weights()))
    assert weights["dsgym_reward"] == 1.0 and weights["dsgym_score"] == 0.0
    assert sum(weights.values()) == 1.0  # the reward is dsgym's, nothing else
    assert len(load_environment(f"{SUITE}/{WRONG}").get_eval_dataset()) == 1
    assert vf.load_environment("dsgym", task_ids=[WRONG]).get_eval_dataset()[0]["info"]["task_id"] == WRONG
    with pytest.raises(ValueError, match="no-such-task"):
        load_environment(SUITE, task_ids=["no-such-task"])
    with pytest.raises(dsgym.UnknownEnvError):
        load_environment("no-such-suite")
    with pytest.raises(ValueError, match="positive"):
        load_environment(SUITE, cell_timeout=0)
    with pytest.raises(ValueError, match="format_penalty"):
        load_environment(SUITE, format_penalty=-1)


@pytest.mark.docker
@pytest.mark.slow
def test_vf_eval_cli_reports_dsgyms_scores(docker_image, tmp_path):
    before = {c.id for c in labelled_containers()}
    args = {"suite": SUITE, "task_ids": [*RIGHT, WRONG], "max_turns": 4, "pool_size": 2}
    with FakeOpenAI(oracle({WRONG})) as fake:
        proc = subprocess.run(
            [str(VF_EVAL), "dsgym", "-a", json.dumps(args), "-m", "fake-model", "-b", fake.base_url,
             "-k", "FAKE_OPENAI_KEY", "-n", "3", "-r", "1", "-c", "3", "-C", "dsgym_termination", "-s", "-d", "-A", "-o", str(tmp_path)],
            cwd=REPO, env={**os.environ, "FAKE_OPENAI_KEY": "test"}, capture_output=True, text=True, timeout=600,
            check=False)
        requests = fake.requests
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    [results] = tmp_path.glob("evals/dsgym--fake-model/*/results.jsonl")
    rows = [json.loads(line) for line in results.read_text().splitlines()]
    scores = {row["info"]["task_id"]: (row["reward"], row["metrics"]["dsgym_score"]) for row in rows}
    assert scores == {RIGHT[0]: (1.0, 1.0), RIGHT[1]: (1.0, 1.0), WRONG: (0.0, 0.0)}
    assert all(row["stop_condition"] == "has_final_env_response" and not row["error"] for row in rows)
    assert {row["dsgym_termination"] for row in rows} == {"answer"}
    setups = [row["timing"]["setup"] for row in rows]  # sandbox starts run in threads, side by side
    assert max(t["start"] for t in setups) < min(t["end"] for t in setups)
    assert all("[answer submitted]" in message_text(row["completion"][-1]) for row in rows)
    metadata = json.loads((results.parent / "metadata.json").read_text())
    assert metadata["avg_reward"] == pytest.approx(2 / 3)
    assert len(requests) == 6  # a cell and an answer per rollout, against the loopback fake only

    leaked = [c for c in labelled_containers() if c.id not in before and orphaned(c)]  # vf-eval and its workers have exited
    assert not leaked, f"vf-eval left dsgym containers behind: {[c.name for c in leaked]}"


@pytest.mark.docker
@pytest.mark.slow
def test_rollouts_release_their_sandboxes_also_when_cancelled(docker_image, monkeypatch):
    monkeypatch.setenv("FAKE_OPENAI_KEY", "test")
    env = load_environment(SUITE, task_ids=RIGHT, max_turns=4, pool_size=1)
    asked, answer = threading.Event(), threading.Event()

    def stalled(request: dict[str, Any]) -> str:
        asked.set()
        answer.wait(60)
        return "<answer>too late</answer>"

    async def held_besides_the_warm_spare() -> int:
        while env.pool.ready() < 1:  # wait for the pool to refill
            await asyncio.sleep(0.2)
        return len(owned_containers()) - 1

    async def run() -> None:
        with FakeOpenAI(oracle(set())) as fake:
            client = vf.ClientConfig(api_base_url=fake.base_url, api_key_var="FAKE_OPENAI_KEY")
            outputs = await env.evaluate(client=client, model="fake-model", num_examples=2, max_concurrent=2)
        assert [o["reward"] for o in outputs["outputs"]] == [1.0, 1.0]
        assert await asyncio.wait_for(held_besides_the_warm_spare(), 120) == 0

        with FakeOpenAI(stalled) as slow:  # the rollout is cancelled while the model is thinking
            client = vf.ClientConfig(api_base_url=slow.base_url, api_key_var="FAKE_OPENAI_KEY")
            rollout = asyncio.create_task(env.run_rollout(env.get_eval_dataset()[0], client, "fake-model", {}))
            await asyncio.to_thread(asked.wait, 60)
            assert await asyncio.wait_for(held_besides_the_warm_spare(), 120) == 1  # the rollout's
            rollout.cancel()
            with pytest.raises(asyncio.CancelledError):
                await rollout
            answer.set()
        assert await asyncio.wait_for(held_besides_the_warm_spare(), 120) == 0
        await env._teardown()

    asyncio.run(run())
    assert not owned_containers()
