"""TRL's GRPOTrainer on a dsgym suite: two optimisation steps on CPU, every reward from a real sandbox."""

from __future__ import annotations

import itertools
import runpy

import pandas as pd
import pytest

import dsgym
from dsgym.rl.trl import EPISODE_OVER, DSGymEnvironments, train_dataset
from tests.support.grpo_smoke import ENV_ID, RIGHT, TASK, train_two_steps, warm_model
from tests.support.helpers import REPO, owned_containers

GENERATIONS = 6


def test_the_dataset_has_one_row_per_task_and_an_empty_user_turn_naming_the_task():
    dataset = train_dataset(ENV_ID, repeat=2, system_prompt="Be brief.")
    tasks = sorted(dsgym.get_suite(ENV_ID).tasks)
    assert dataset["task_id"] == tasks * 2
    assert dataset[0]["prompt"] == [{"role": "system", "content": "Be brief.", "task_id": None},
                                    {"role": "user", "content": "", "task_id": tasks[0]}]
    assert train_dataset(f"{ENV_ID}/{TASK}")["task_id"] == [TASK]
    with pytest.raises(ValueError, match="no-such-task"):
        train_dataset(ENV_ID, task_ids=["no-such-task"])
    with pytest.raises(dsgym.UnknownEnvError):
        DSGymEnvironments("no-such-suite")


@pytest.mark.docker
def test_tool_calls_after_the_episode_ended_get_a_message_and_the_reward_is_the_score(docker_image):
    with DSGymEnvironments(f"{ENV_ID}/{TASK}", pool_size=1) as environments:
        env = environments()
        assert "submit_answer" in env.reset(task_id=TASK)  # the prompt names the tools
        env.submit_answer(RIGHT)
        assert env.run_python("print(1)") == EPISODE_OVER
        assert env.submit_answer(RIGHT) == EPISODE_OVER
        assert env.get_reward() == 1.0
        assert environments.held_sandboxes() == 0
    assert not owned_containers()


def check_training(result: dict, reward_column: str) -> None:
    assert result["steps"] == 2
    episodes = result["episodes"]
    assert len(episodes) == 2 * GENERATIONS and {e["task_id"] for e in episodes} == {TASK}
    # graded by the task's metric: only the reference answer scores, and both outcomes occur
    assert {e["score"] for e in episodes} == {0.0, 1.0}
    for e in episodes:  # (the metric also finds the number in a noisy answer)
        assert e["score"] == 1.0 if e["answer"] == RIGHT else e["score"] == 0.0 or RIGHT in e["answer"]
    # the rewards the trainer logged are the environment's, step by step
    for step, log in enumerate(result["logs"]):
        rewards = [e["reward"] for e in episodes[GENERATIONS * step: GENERATIONS * (step + 1)]]
        assert log[reward_column] == pytest.approx(sum(rewards) / GENERATIONS, abs=1e-6)
    assert result["weights_changed"]
    assert result["sandboxes_held_after_rollouts"] == 0
    assert not owned_containers()


@pytest.mark.docker
@pytest.mark.slow
def test_two_grpo_steps_with_tools_learn_from_rewards_graded_in_real_sandboxes(docker_image, tmp_path):
    result = train_two_steps(tmp_path / "grpo", "tools", num_generations=GENERATIONS)
    assert result["interface"] == "tools"
    check_training(result, "rewards/DSGymToolEnv/mean")


@pytest.mark.docker
@pytest.mark.slow
def test_two_grpo_steps_with_the_text_rollout_for_a_template_trl_cannot_parse(docker_image, tmp_path):
    result = train_two_steps(tmp_path / "grpo", "text", num_generations=GENERATIONS)
    assert result["interface"] == "text"  # chosen because TRL has no tool-call parser for plain ChatML
    check_training(result, "rewards/dsgym_reward/mean")
    tokenizer = result["tokenizer"]
    rollouts = [(ids, mask) for out in result["rollouts"]
                for ids, mask in zip(out["completion_ids"], out["env_mask"], strict=True)]
    assert len(rollouts) == 2 * GENERATIONS
    fed_back = []
    for ids, mask in rollouts:
        assert len(ids) == len(mask) <= 160 and mask[0] == 1
        # each model turn (a run of mask 1) ends with its action's closing tag, unless the turn's token
        # budget (turn_tokens=64) or the completion's (160) cut it: the mask covers exactly the model's tokens
        runs = [list(group) for flag, group in itertools.groupby(zip(ids, mask), key=lambda pair: pair[1]) if flag]
        for index, run in enumerate(runs):
            text = tokenizer.decode([token for token, _ in run]).rstrip()
            cut = len(run) >= 64 or (index == len(runs) - 1 and len(ids) >= 160)
            assert cut or text.endswith(("</answer>", "</python>")), text
        fed_back.append(tokenizer.decode([t for t, m in zip(ids, mask) if not m]))
    # a reply that ran code got the real kernel's output back as a user turn, masked out of the loss
    multi_turn = [text for text in fed_back if "user" in text]
    shape = str(pd.read_csv(dsgym.get_task(ENV_ID, TASK).data_paths()["sunspots.csv"]).shape)
    assert multi_turn and all(shape in text for text in multi_turn), (shape, multi_turn)


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.parametrize("interface, chosen", [("tools", "tool calls"), ("text", "text protocol")])
def test_the_example_script_trains_a_locally_saved_model(docker_image, tmp_path, capsys, interface, chosen):
    with DSGymEnvironments(ENV_ID, pool_size=1) as environments:
        model, tokenizer = warm_model(environments, interface)
    model.save_pretrained(tmp_path / "tiny")
    tokenizer.save_pretrained(tmp_path / "tiny")
    example = runpy.run_path(str(REPO / "examples" / "grpo_trl.py"))  # not as __main__: main() is called below
    example["main"](["--model", str(tmp_path / "tiny"), "--cpu", "--suite", f"{ENV_ID}/{TASK}", "--repeat", "2",
                     "--num-generations", "2", "--per-device-batch-size", "2", "--max-steps", "2",
                     "--max-completion-length", "96", "--max-turns", "2", "--turn-tokens", "48",
                     "--report-to", "none", "--output-dir", str(tmp_path / "out")])
    out = capsys.readouterr().out
    assert f"dsgym: 2 rows, {chosen}, 2 warm sandboxes" in out  # the interface follows the chat template
    assert "dsgym: 4 episodes graded" in out
    assert (tmp_path / "out" / "model.safetensors").exists()
    assert not owned_containers()
