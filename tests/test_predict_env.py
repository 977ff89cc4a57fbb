"""Prediction episodes in real containers: the submission is copied out and graded host-side."""

from __future__ import annotations

import json

import pytest

import dsgym
from dsgym import runner
from dsgym.agents import OracleAgent
from dsgym.episode import play
from tests.support.helpers import python

pytestmark = pytest.mark.docker

WRITE_PERFECT = ("import pandas as pd\n"
                 "t = pd.read_csv('/data/toy/test.csv')\n"
                 "t.assign(y=(t.x1 + t.x2 > 0).astype(int))[['id', 'y']].to_csv('/workspace/submission.csv', index=False)")


@pytest.fixture
def env(docker_image, predict_suite, tmp_path):
    made = dsgym.make("predict-env/toy", artifacts_dir=tmp_path / "artifacts", max_turns=4)
    yield made
    made.close()


def test_the_prompt_names_the_submission_and_the_format_check(env):
    prompt, _ = env.reset()
    assert "/workspace/submission.csv" in prompt and "columns id, y" in prompt
    assert "/data/toy/sample_submission.csv" in prompt and "check-submission" in prompt


def test_an_answered_episode_is_graded_from_the_submission_file(env, tmp_path):
    env.reset()
    observation, reward, *_ = env.step(python(WRITE_PERFECT))
    assert "[error]" not in observation
    observation, reward, terminated, truncated, info = env.step("<answer>submitted</answer>")
    assert terminated and not truncated and info["termination"] == "answer"
    assert info["score_breakdown"]["valid"] and info["score_breakdown"]["metric_value"] == 1.0
    assert reward == pytest.approx(0.95) and info["score_breakdown"]["medal"] == "gold"
    kept = tmp_path / "artifacts" / f"toy-{info['episode_id']}-submission.csv"
    assert info["submission"] == str(kept) and kept.read_text().startswith("id,y\n")


def test_hitting_the_turn_limit_still_grades_what_was_written(env):
    env.reset()
    env.step(python(WRITE_PERFECT))
    for _ in range(2):
        *_, truncated, info = env.step(python("1 + 1"))
        assert not truncated
    _, reward, terminated, truncated, info = env.step(python("2 + 2"))
    assert truncated and not terminated and info["termination"] == "max_turns"
    assert info["score_breakdown"]["valid"] and reward == pytest.approx(0.95)


def test_no_submission_is_an_invalid_one_with_a_reason(env):
    env.reset()
    _, reward, terminated, _, info = env.step("<answer>submitted</answer>")
    assert terminated and reward == 0.0
    assert info["score_breakdown"]["reason"] == "missing_file" and "error" not in info


def test_the_format_check_runs_inside_the_sandbox_without_revealing_a_score(env):
    env.reset()
    bad = "import pandas as pd\npd.DataFrame({'id': ['r150', 'r150'], 'y': [1, 0]}).to_csv('/workspace/submission.csv', index=False)"
    env.step(python(bad))
    observation, *_ = env.step(python("!check-submission"))
    assert "duplicate" in observation.lower() and "missing" in observation.lower()
    env.step(python(WRITE_PERFECT))
    observation, *_ = env.step(python("!check-submission"))
    assert "OK" in observation and "50 rows" in observation
    assert "accuracy" not in observation.lower() and "percentile" not in observation.lower()


def test_hidden_labels_never_enter_the_container(env, predict_suite):
    env.reset()
    search = ("import subprocess\n"
              "def files_with(text):\n"
              "    r = subprocess.run(['grep', '-rIls', '--exclude-dir=proc', '--exclude-dir=sys', '-e', text, '/'],"
              " capture_output=True, text=True)\n"
              "    return sorted(r.stdout.split())\n"
              f"print('secret:', files_with({predict_suite['marker']!r}))\n"
              "print('control:', files_with('r150,'))")  # a test id: proves the search reaches the data
    observation, *_ = env.step(python(search))
    assert "secret: []" in observation, observation
    assert "control: ['/data/toy/sample_submission.csv', '/data/toy/test.csv']" in observation, observation
    observation, *_ = env.step(python("import os\nprint(sorted(os.listdir('/data/toy')))"))
    assert "['sample_submission.csv', 'test.csv', 'train.csv']" in observation


def test_an_eval_keeps_submissions_in_the_run_and_rescore_regrades_them(docker_image, predict_suite, tmp_path):
    out = tmp_path / "run"
    settings = runner.EvalSettings(targets=["predict-env/toy", "predict-env/toy-no-board"], agent="oracle")
    runner.evaluate(settings, out, agent_factory=OracleAgent, concurrency=2)
    records = {json.loads(line)["task_id"]: json.loads(line) for line in (out / runner.EPISODES).read_text().splitlines()}
    assert records["toy"]["score"] == pytest.approx(0.95) and records["toy-no-board"]["score"] == 1.0
    kept = out / records["toy"]["submission"]
    assert kept.is_file() and kept.parent.name == runner.ARTIFACTS

    kept.write_text(kept.read_text().replace(",1\n", ",0\n"))  # a worse file: rescore must read the kept copy
    result = runner.rescore(out)
    assert result.regraded == 2
    after = {json.loads(line)["task_id"]: json.loads(line) for line in (out / runner.EPISODES).read_text().splitlines()}
    assert after["toy"]["score"] < 0.95 and after["toy"]["previous_score"] == pytest.approx(0.95)


def test_oracle_play_through_the_gymnasium_api(docker_image, predict_suite):
    env = dsgym.make("predict-env/toy")
    try:
        record = play(env.unwrapped, OracleAgent())
    finally:
        env.close()
    assert record.status == "ok" and record.score_breakdown["valid"] and record.answer == "submitted"
