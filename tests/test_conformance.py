"""dsgym under the clients users bring, built their way with their defaults.

Every case looks at what the agent would see (the task's question in the first
observation, a cell's printed ``42``) and at the reward a right and a wrong answer
earn, not just at shapes: Gymnasium's ``AsyncVectorEnv`` once handed back blank
strings of the right type and length (Gymnasium issue #1164), and nothing failed.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import pickle

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from gymnasium.vector import AsyncVectorEnv, AutoresetMode, SyncVectorEnv
from gymnasium.wrappers import OrderEnforcing, PassiveEnvChecker, RecordEpisodeStatistics, TimeLimit

import dsgym
from tests.support.helpers import owned_containers

pytestmark = pytest.mark.docker
SUITE = "conformance"
CODE = "<python>\nprint(20 + 22)\n</python>"
QUESTIONS = {"sum-y": "What is the sum of the column y of numbers.csv?",
             "rows": "How many rows does numbers.csv have?"}
ANSWERS = {"sum-y": sum(i * 3 % 7 for i in range(100)), "rows": 100}


@pytest.fixture(scope="module", autouse=True)
def suite(tmp_path_factory, docker_image):
    """A two-task suite on ``DSGYM_SUITES``, so spawned workers find it as a user's own suite."""
    root = tmp_path_factory.mktemp("conformance-suite")
    (root / "data").mkdir()
    (root / "data" / "numbers.csv").write_text("x,y\n" + "".join(f"{i},{i * 3 % 7}\n" for i in range(100)))
    tasks = [{"id": task_id, "question": question, "data_files": ["numbers.csv"], "metric": "numeric",
              "answer": ANSWERS[task_id]} for task_id, question in QUESTIONS.items()]
    (root / "manifest.json").write_text(json.dumps({"suite": SUITE, "version": "1", "data_dir": "data",
                                                    "tasks": tasks}))
    earlier = {container.id for container in owned_containers()}  # other modules' leftovers are theirs to answer for
    before = os.environ.get("DSGYM_SUITES")
    os.environ["DSGYM_SUITES"] = os.pathsep.join(filter(None, [before, str(root)]))
    dsgym.register_suite(root)
    yield root
    if before is None:
        os.environ.pop("DSGYM_SUITES", None)
    else:
        os.environ["DSGYM_SUITES"] = before
    left = [container.name for container in owned_containers() if container.id not in earlier]
    assert not left, f"a conformance case left a sandbox behind: {left}"


def task_of(observation: str) -> str:
    """Which task an observation's prompt is about (and that it shows the question at all)."""
    found = [task_id for task_id, question in QUESTIONS.items() if question in observation]
    assert len(found) == 1, f"the prompt shows no task question: {observation[:300]!r}"
    return found[0]


def play_vector(envs, num_envs: int = 2) -> None:
    """Reset, run a cell, answer (env 0 right, the last wrong): the contents each step must carry."""
    observations, info = envs.reset(seed=list(range(1, num_envs + 1)))
    tasks = [task_of(obs) for obs in observations]
    assert list(info["task_id"]) == tasks
    outputs, rewards, terminated, truncated, _ = envs.step((CODE,) * num_envs)
    assert all(out.strip() == "42" for out in outputs), outputs
    assert list(rewards) == [0.0] * num_envs and not terminated.any() and not truncated.any()
    replies = tuple(f"<answer>{-1 if index == num_envs - 1 else ANSWERS[task]}</answer>"
                    for index, task in enumerate(tasks))
    outputs, rewards, terminated, truncated, _ = envs.step(replies)
    assert list(rewards) == [1.0] * (num_envs - 1) + [0.0] and terminated.all()
    assert all(out.startswith("[answer submitted]") for out in outputs), outputs


def test_gymnasium_make_applies_its_default_wrappers_and_check_env_passes():
    env = gymnasium.make(f"{SUITE}/sum-y")
    try:
        assert isinstance(env, OrderEnforcing) and isinstance(env.env, PassiveEnvChecker)
        with pytest.raises(gymnasium.error.ResetNeeded):
            env.step(CODE)
        check_env(env.unwrapped)
        observation, _ = env.reset(seed=0)
        assert task_of(observation) == "sum-y" and env.observation_space.contains(observation)
        observation, reward, terminated, truncated, _ = env.step(CODE)
        assert observation.strip() == "42" and (reward, terminated, truncated) == (0.0, False, False)
        _, reward, terminated, _, info = env.step(f"<answer>{ANSWERS['sum-y']}</answer>")
        assert reward == 1.0 and terminated and info["score"] == 1.0
    finally:
        env.close()


@pytest.mark.parametrize("mode", ["sync", "async", "vector_entry_point"])
def test_gymnasium_make_vec_in_every_mode(mode):
    envs = gymnasium.make_vec(f"dsgym/{SUITE}", num_envs=2, vectorization_mode=mode)
    try:
        play_vector(envs)
    finally:
        envs.close()


@pytest.mark.parametrize("shared_memory", [True, False], ids=["shared", "pickled"])
@pytest.mark.parametrize("context", ["spawn", "fork"])
def test_a_hand_built_async_vector_env(shared_memory, context):
    envs = AsyncVectorEnv([lambda: dsgym.make(SUITE)] * 2, shared_memory=shared_memory, context=context)
    try:
        play_vector(envs)
    finally:
        envs.close()


def test_an_async_vector_env_without_copies_gives_live_views():
    """``copy=False`` hands out the shared buffer itself: it must read the current strings each time."""
    envs = AsyncVectorEnv([lambda: dsgym.make(SUITE)] * 2, copy=False)
    try:
        observations, _ = envs.reset(seed=[3, 4])
        assert isinstance(observations, tuple) and len(observations) == 2
        [task_of(obs) for obs in observations]
        outputs, *_ = envs.step((CODE,) * 2)
        assert [out.strip() for out in outputs] == ["42", "42"] and envs.observation_space.contains(outputs)
        copied = pickle.loads(pickle.dumps(outputs))
        assert type(copied) is tuple and [out.strip() for out in copied] == ["42", "42"]
    finally:
        envs.close()


def test_a_hand_built_sync_vector_env():
    envs = SyncVectorEnv([lambda: dsgym.make(SUITE)] * 2)
    try:
        play_vector(envs)
    finally:
        envs.close()


def vector_env(kind: str, mode: AutoresetMode):
    fns = [lambda: dsgym.make(SUITE)] * 2
    if kind == "sync":
        return SyncVectorEnv(fns, autoreset_mode=mode)
    return AsyncVectorEnv(fns, autoreset_mode=mode)


@pytest.mark.parametrize("kind", ["sync", "async"])
@pytest.mark.parametrize("mode", list(AutoresetMode), ids=lambda mode: mode.value)
def test_each_autoreset_mode(kind, mode):
    envs = vector_env(kind, mode)
    try:
        observations, _ = envs.reset(seed=[5, 6])
        tasks = [task_of(obs) for obs in observations]
        replies = tuple(f"<answer>{ANSWERS[task]}</answer>" for task in tasks)
        observations, rewards, terminated, _, info = envs.step(replies)
        assert list(rewards) == [1.0, 1.0] and terminated.all()
        if mode == AutoresetMode.SAME_STEP:  # reset in the same step: new prompts now, the old ones in info
            [task_of(obs) for obs in observations]
            assert all(obs.startswith("[answer submitted]") for obs in info["final_obs"])
            assert list(info["final_info"]["score"]) == [1.0, 1.0]
        else:
            assert all(obs.startswith("[answer submitted]") for obs in observations)
        if mode == AutoresetMode.NEXT_STEP:  # the next step resets: the action is ignored, the prompt comes back
            observations, rewards, terminated, _, _ = envs.step((CODE,) * 2)
            [task_of(obs) for obs in observations]
            assert list(rewards) == [0.0, 0.0] and not terminated.any()
        elif mode == AutoresetMode.DISABLED:  # the user resets the finished envs themselves
            observations, _ = envs.reset(options={"reset_mask": np.array([True, True])})
            [task_of(obs) for obs in observations]
        outputs, *_ = envs.step((CODE,) * 2)
        assert [out.strip() for out in outputs] == ["42", "42"]
    finally:
        envs.close()


def test_common_wrappers():
    env = RecordEpisodeStatistics(TimeLimit(PassiveEnvChecker(dsgym.make(f"{SUITE}/rows")), max_episode_steps=2))
    try:
        observation, _ = env.reset(seed=0)
        assert task_of(observation) == "rows"
        _, _, _, _, info = env.step(CODE)
        _, reward, terminated, truncated, info = env.step("<answer>100</answer>")
        assert reward == 1.0 and terminated and info["episode"]["r"] == 1.0 and info["episode"]["l"] == 2
        env.reset(seed=1)
        env.step(CODE)
        _, reward, terminated, truncated, info = env.step(CODE)  # the second step hits the TimeLimit
        assert truncated and not terminated and reward == 0.0 and info["episode"]["l"] == 2
    finally:
        env.close()


def _make_from_pickles(spec_bytes: bytes, space_bytes: bytes) -> tuple[str, bool, bool]:
    """In a spawned process: rebuild the env from its pickled spec and play one cell."""
    spec, space = pickle.loads(spec_bytes), pickle.loads(space_bytes)
    env = gymnasium.make(spec)
    try:
        observation, _ = env.reset(seed=0)
        output, *_ = env.step(CODE)
        return observation, space.contains(observation), output.strip() == "42"
    finally:
        env.close()


def test_an_env_spec_and_its_space_pickle_across_a_spawned_process():
    env = gymnasium.make(f"{SUITE}/rows")
    spec, space = env.spec, env.observation_space
    env.close()
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        observation, contained, printed = pool.apply(_make_from_pickles, (pickle.dumps(spec), pickle.dumps(space)))
    assert task_of(observation) == "rows" and contained and printed


def test_the_observation_space_declares_the_cap_the_env_enforces():
    env = dsgym.make(f"{SUITE}/rows", max_observation_chars=2000, max_output_chars=50_000)
    try:
        assert env.observation_space.max_length == 2000
        env.reset(seed=0)
        flood = "<python>\nfor i in range(200):\n    display('x' * 1000)\nprint('y' * 50_000)\n</python>"
        observation, *_ = env.step(flood)
        assert len(observation) <= 2000 and "[output truncated:" in observation
        assert env.observation_space.contains(observation)
    finally:
        env.close()


def test_trl_environment_factory_with_its_defaults():
    pytest.importorskip("trl")  # dsgym[trl]
    from dsgym.rl.trl import DSGymEnvironments

    with DSGymEnvironments(f"{SUITE}/sum-y", pool_size=1) as factory:
        tool_env = factory()
        observation = tool_env.reset()
        assert task_of(observation) == "sum-y"
        assert tool_env.run_python("print(20 + 22)").strip() == "42"
        tool_env.submit_answer(str(ANSWERS["sum-y"]))
        assert tool_env.get_reward() == 1.0
