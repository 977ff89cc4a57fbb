"""TRL's GRPOTrainer on a dsgym suite: two optimisation steps on CPU, every reward from a real sandbox."""

from __future__ import annotations

import os
import socket

import pytest

import dsgym
from dsgym.rl.trl import DSGymEnvironments, train_dataset
from tests.grpo_smoke import ENV_ID, RIGHT, TASK, train_two_steps
from tests.helpers import labelled_containers


def mine() -> list:
    owner = f"{socket.gethostname()}:{os.getpid()}"
    return [c for c in labelled_containers() if c.labels.get("dsgym.owner") == owner]


def test_the_dataset_has_one_row_per_task_and_an_empty_user_turn_for_reset_to_fill():
    dataset = train_dataset(ENV_ID, repeat=2, system_prompt="Be brief.")
    tasks = sorted(dsgym.get_suite(ENV_ID).tasks)
    assert dataset["task_id"] == tasks * 2
    assert dataset[0]["prompt"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": ""}]
    assert train_dataset(f"{ENV_ID}/{TASK}")["task_id"] == [TASK]
    with pytest.raises(ValueError, match="no-such-task"):
        train_dataset(ENV_ID, task_ids=["no-such-task"])
    with pytest.raises(dsgym.UnknownEnvError):
        DSGymEnvironments("no-such-suite")


@pytest.mark.docker
@pytest.mark.slow
def test_two_grpo_steps_learn_from_rewards_graded_in_real_sandboxes(docker_image, tmp_path):
    result = train_two_steps(tmp_path / "grpo", num_generations=6)

    assert result["steps"] == 2
    episodes = result["episodes"]
    assert len(episodes) == 12 and {e["task_id"] for e in episodes} == {TASK}
    # graded by the task's metric: only the reference answer scores, and both outcomes occur
    assert {e["score"] for e in episodes} == {0.0, 1.0}
    assert all((e["score"] == 1.0) == (e["answer"] == RIGHT) for e in episodes)
    # the rewards the trainer logged are the environment's, step by step
    for step, log in enumerate(result["logs"]):
        rewards = [e["reward"] for e in episodes[6 * step: 6 * step + 6]]
        assert log["rewards/DSGymToolEnv/mean"] == pytest.approx(sum(rewards) / 6, abs=1e-6)
    assert result["weights_changed"]
    assert result["sandboxes_held_after_rollouts"] == 0
    assert not mine()
