"""Official-format suites end to end: registered from a release-shaped folder, played in a sandbox."""

from __future__ import annotations

import pytest

import dsgym
from dsgym.env import MissingDataError
from dsgym.loaders import gold_submission
from tests.support.helpers import REPO, python

FIXTURES = REPO / "tests" / "fixtures" / "official"
SHARED = REPO.parent / "shared" / "fixtures" / "official" / "data"


@pytest.fixture(scope="module")
def official():
    return {suite.name: suite for suite in dsgym.register_official(FIXTURES)}


def test_official_suites_are_listed_under_their_names(official):
    assert {"daeval", "qrdata", "dabstep", "discoverybench", "dsbio", "dspredict-easy",
            "dsgym-tasks"} <= set(official)
    assert official["dsbio"].image == "official-bio"
    assert "daeval-7" in dsgym.get_suite("dsgym-tasks").tasks


@pytest.mark.docker
@pytest.mark.parametrize("env_id", ["daeval/7", "dsgym-tasks/daeval-7", "qrdata/2"])
def test_official_task_resets_with_its_data_at_the_official_path_and_scores_gold(official, docker_image, env_id):
    env = dsgym.make(env_id)
    try:
        obs, info = env.reset()
        task = env.unwrapped.task
        first = task.data_files[0]
        assert f"/data/{first}" in obs
        obs, *_ = env.step(python(f"import os\nprint(os.path.getsize('/data/{first}'))"))
        assert obs.strip() == str((task.data_root / first).stat().st_size)
        _, reward, terminated, _, info = env.step(f"<answer>{gold_submission(task)}</answer>")
        assert terminated and reward == 1.0, info["score_breakdown"]
    finally:
        env.close()


def test_a_task_whose_data_is_absent_says_so_at_reset(official):
    env = dsgym.make("daeval/12")
    with pytest.raises(MissingDataError, match="daeval/not_shipped.csv"):
        env.reset()
    env.close()


@pytest.mark.docker
@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/fixtures/official is absent")
def test_shared_release_samples_reset_and_score_their_gold_answer(docker_image):
    played = 0
    for suite in dsgym.register_official(SHARED):
        if suite.name == "dsgym-tasks" or suite.image != "official-analysis":
            continue
        for task in suite.tasks.values():
            if task.missing_data() or task.answer is None or task.metric == "llm_judge":
                continue
            env = dsgym.make(task.env_id)
            try:
                env.reset()
                _, reward, terminated, _, info = env.step(f"<answer>{gold_submission(task)}</answer>")
                assert terminated and reward == 1.0, (task.env_id, info["score_breakdown"])
                played += 1
            finally:
                env.close()
    assert played >= 4
