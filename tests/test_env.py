"""The Gymnasium contract and the episode mechanics, against real containers."""

from __future__ import annotations

import gymnasium
import pytest
from gymnasium.utils.env_checker import check_env

import dsgym
from tests.support.helpers import python

pytestmark = pytest.mark.docker


def test_check_env_passes(make_env):
    env = make_env("secret-test/sum-y")
    check_env(env.unwrapped, skip_render_check=True)


def test_gymnasium_make_runs_an_episode(docker_image, secret_suite):
    env = gymnasium.make("secret-test/sum-y", max_turns=3)
    try:
        obs, info = env.reset(seed=1)
        assert "Sum of y?" in obs and info["task_id"] == "sum-y"
        obs, reward, terminated, truncated, info = env.step(python("1 + 1"))
        assert "[result]\n2" in obs and not terminated
    finally:
        env.close()


def test_prompt_lists_question_guideline_and_files(make_env):
    env = make_env("secret-test/sum-y")
    obs, info = env.reset()
    assert "Question: Sum of y?" in obs
    assert "/data/numbers.csv  (" in obs and "B)" in obs
    assert "<python>" in obs and "<answer>" in obs
    assert info["turn"] == 0 and info["isolated"] is True and info["reset_time"] > 0


def test_seeded_reset_draws_the_same_task_and_steps_reproduce(make_env):
    env = make_env("secret-test")
    firsts = []
    for _ in range(2):
        obs, info = env.reset(seed=7)
        step = env.step(python("print(sum(range(10)))"))
        firsts.append((obs, info["task_id"], step[0], step[1]))
    assert firsts[0] == firsts[1]
    drawn = {env.reset(seed=seed)[1]["task_id"] for seed in range(12)}
    assert drawn == set(env.unwrapped.suite.tasks)  # every task is reachable


def test_reset_can_pin_a_task(make_env):
    env = make_env("secret-test")
    _, info = env.reset(options={"task_id": "no-data"})
    assert info["task_id"] == "no-data"


def test_code_answer_and_invalid_actions(make_env):
    env = make_env("secret-test/sum-y", max_turns=10)
    env.reset()
    obs, reward, terminated, truncated, info = env.step(python(
        "import pandas as pd\ndf = pd.read_csv('/data/numbers.csv')\nprint(len(df))\ndf['y'].sum()"))
    assert obs.startswith("100\n") and "[result]" in obs
    assert info["code"].startswith("import pandas") and info["step_time"] > 0 and info["turn"] == 1
    obs, reward, terminated, truncated, info = env.step("I am not sure what to do")
    assert "[format error]" in obs and info["turn"] == 2 and not (terminated or truncated)
    obs, reward, terminated, truncated, info = env.step(python("1/0"))
    assert "ZeroDivisionError" in obs and info["error"] == "ZeroDivisionError"
    obs, reward, terminated, truncated, info = env.step("<answer>297</answer>")
    assert terminated and not truncated and reward == 1.0
    assert info["score_breakdown"]["parsed"] == 297.0 and info["termination"] == "answer"
    with pytest.raises(gymnasium.error.ResetNeeded):
        env.step(python("1"))


def test_wrong_answer_scores_zero(make_env):
    env = make_env("secret-test/sum-y")
    env.reset()
    _, reward, terminated, _, info = env.step("<answer>296</answer>")
    assert terminated and reward == 0.0 and info["score"] == 0.0


def test_max_turns_truncates(make_env):
    env = make_env("secret-test/sum-y", max_turns=2)
    env.reset()
    assert env.step(python("1"))[3] is False
    obs, reward, terminated, truncated, info = env.step(python("2"))
    assert truncated and not terminated and reward == 0.0
    assert info["termination"] == "max_turns" and "turn limit" in obs
    assert info["score_breakdown"] == {"reason": "no answer (max_turns)"}


def test_episode_budget_truncates(make_env):
    env = make_env("secret-test/sum-y", cell_timeout=30, episode_budget=2)
    env.reset()
    obs, reward, terminated, truncated, info = env.step(python("import time; time.sleep(10)"))
    assert truncated and info["termination"] == "episode_budget"
    assert "episode budget spent" in obs and info["step_time"] < 8


def test_output_is_truncated_with_a_marker(make_env):
    env = make_env("secret-test/sum-y", max_output_chars=500)
    env.reset()
    obs, *_ = env.step(python("print('x' * 100_000)\nprint('END')"))
    assert "[output truncated:" in obs and obs.rstrip().endswith("END") and len(obs) < 800


def test_dataframes_render_compactly_and_figures_are_saved(make_env, tmp_path):
    env = make_env("secret-test/sum-y", artifacts_dir=tmp_path)
    env.reset()
    obs, *_ , info = env.step(python("import pandas as pd\npd.DataFrame({'a': range(1000), 'b': 1.5})"))
    assert "[1000 rows x 2 columns]" in obs and len(obs.splitlines()) < 30
    obs, *_, info = env.step(python(
        "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.title('t')\nplt.show()"))
    assert len(info["figures"]) == 1
    figure = info["figures"][0]
    png = open(figure["path"], "rb").read()
    assert png.startswith(b"\x89PNG") and figure["bytes"] == len(png) and figure["width"] > 100
    assert f"PNG saved as {figure['path']}" in obs and str(tmp_path) in figure["path"]


def test_answer_ends_episode_and_frees_the_sandbox(make_env):
    env = make_env("secret-test/no-data")
    env.reset()
    assert "(none)" in env.unwrapped.render_prompt()
    _, reward, terminated, _, _ = env.step("<answer>Hi</answer>")
    assert terminated and reward == 1.0 and env.unwrapped.sandbox is None


def test_render_ansi_shows_the_transcript(make_env):
    env = make_env("secret-test/sum-y", render_mode="ansi")
    env.reset()
    env.step(python("print('hello')"))
    assert "Sum of y?" in env.render() and "hello" in env.render()


def test_make_rejects_bad_options(secret_suite):
    with pytest.raises(ValueError, match="must be positive"):
        dsgym.make("secret-test/sum-y", cell_timeout=0)
    with pytest.raises(ValueError, match="unknown sandbox kind"):
        dsgym.make("secret-test/sum-y", sandbox="vm")


def test_a_cell_that_prints_without_pause_still_times_out(make_env):
    env = make_env("secret-test/sum-y", cell_timeout=2, max_output_chars=300)
    env.reset()
    obs, *_, info = env.step(python("x = 1\nwhile True:\n    print('flood' * 20)"))
    assert info["timed_out"] and "[timeout]" in obs and "[output truncated:" in obs
    assert info["step_time"] < 10
    obs, *_ = env.step(python("print('after', x)"))
    assert obs.startswith("after 1")
