"""ToolSession, the tool-call episode every RL integration uses, in real containers."""

from __future__ import annotations

import gymnasium
import pytest

import dsgym
from dsgym.rl import SessionError, ToolSession, suite_pool
from dsgym.vector import PooledSyncVectorEnv
from tests.support.predict_suite import write_prediction_suite

pytestmark = pytest.mark.docker
SUM_Y = sum(i * 3 % 7 for i in range(100))


@pytest.fixture
def session(docker_image, secret_suite):
    made = ToolSession("secret-test", format_penalty=0.25, max_turns=4)
    yield made
    made.close()


def test_a_right_answer_scores_one_and_frees_the_sandbox_at_once(session):
    prompt = session.start("sum-y")
    assert "run_python" in prompt and "submit_answer" in prompt and "<python>" not in prompt
    observation = session.run_python("import pandas as pd\nprint(int(pd.read_csv('/data/numbers.csv')['y'].sum()))")
    assert observation.strip() == str(SUM_Y)
    session.submit_answer(str(SUM_Y))
    assert session.done and session.env.sandbox is None
    assert session.score == 1.0 and session.reward == 1.0 and session.task_id == "sum-y"


def test_a_wrong_answer_scores_zero_without_penalty_and_tools_then_refuse(session):
    session.start("sum-y")
    session.submit_answer("-1")
    assert session.reward == 0.0
    with pytest.raises(SessionError, match="over"):
        session.run_python("1")


def test_a_rollout_that_stops_without_an_answer_pays_the_format_penalty(session):
    with pytest.raises(SessionError, match="start"):
        session.run_python("1")
    session.start("sum-y")
    session.run_python("x = 1")
    session.end()
    assert session.done and session.env.sandbox is None
    assert session.score == 0.0 and session.reward == -0.25
    assert session.last_info["termination"] == "rollout_ended"


def test_the_turn_limit_ends_the_episode_like_in_eval(session):
    session.start("sum-y")
    for _ in range(4):
        observation = session.run_python("1 + 1")
    assert session.done and "turn limit" in observation and session.reward == -0.25


def test_sessions_reuse_one_warm_pool_and_each_episode_gets_a_fresh_kernel(docker_image, secret_suite):
    pool = suite_pool("secret-test", size=2)
    try:
        session = ToolSession("secret-test", pool=pool)
        session.start("sum-y")
        session.run_python("marker = 41")
        session.end()
        session.start("sum-y")
        assert "NameError" in session.run_python("print(marker)")
        session.close()
    finally:
        pool.close()


def test_a_prediction_rollout_is_graded_from_its_file_when_it_ends(docker_image, tmp_path):
    facts = write_prediction_suite(tmp_path, name="rl-predict")
    dsgym.register_suite(facts["root"])
    session = ToolSession("rl-predict/toy", artifacts_dir=tmp_path / "artifacts")
    try:
        session.start()
        session.run_python("import pandas as pd\nt = pd.read_csv('/data/toy/test.csv')\n"
                           "t.assign(y=(t.x1 + t.x2 > 0).astype(int))[['id', 'y']]"
                           ".to_csv('/workspace/submission.csv', index=False)")
        session.end()
        assert session.last_info["score_breakdown"]["valid"] and session.reward == pytest.approx(0.95)
    finally:
        session.close()


def test_gymnasium_make_vec_builds_the_pooled_vector_env(docker_image, secret_suite):
    envs = gymnasium.make_vec("dsgym/secret-test", num_envs=2, max_turns=3)
    try:
        assert isinstance(envs, PooledSyncVectorEnv) and envs.envs[0].max_turns == 3
        assert envs.observation_space == gymnasium.spaces.Tuple([envs.single_observation_space] * 2)
        obs, info = envs.reset(seed=0, options={"task_id": "sum-y"})
        assert list(info["task_id"]) == ["sum-y", "sum-y"] and all("Sum of y?" in o for o in obs)
        _, rewards, terminated, _, _ = envs.step((f"<answer>{SUM_Y}</answer>", "<answer>0</answer>"))
        assert list(rewards) == [1.0, 0.0] and terminated.all()
    finally:
        envs.close()


def test_a_session_draws_a_fresh_task_variant_at_every_start(docker_image):
    """The RL pools (TRL, OpenEnv, verifiers) all play through ToolSession: variant="fresh" reaches each reset."""
    made = ToolSession("dsgym-tasks-lite/longley-vif-gnp", variant="fresh", max_turns=3)
    try:
        seen = []
        for seed in (0, 1):
            made.start(seed=seed)
            seen.append(made.variant)
            made.end()
        assert all(v is not None and v["family"] for v in seen)
        assert seen[0]["seed"] != seen[1]["seed"]
        made.start(seed=0)  # a seeded start repeats its variant
        assert made.variant == seen[0]
        made.end()
    finally:
        made.close()
