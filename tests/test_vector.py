"""Vector envs over dsgym: a group of episodes of one task stepped together, oracle actions, no leftovers."""

from __future__ import annotations

import re

import pytest

import dsgym
from tests.support.helpers import owned_containers

pytestmark = pytest.mark.docker
TASK = "iris-kmeans-ari"
MARK = re.compile(r"@@answer@@(.*?)@@/answer@@", re.DOTALL)


def solve(envs, num_envs: int) -> tuple:
    task = dsgym.get_task("dsgym-tasks-lite", TASK)
    code = f"<python>\n{task.solution}\nprint('@@answer@@' + str(answer) + '@@/answer@@')\n</python>"
    obs, rewards, terminated, truncated, info = envs.step((code,) * num_envs)
    assert not terminated.any() and not truncated.any(), obs
    answers = [MARK.search(o).group(1) for o in obs]
    return envs.step(tuple(f"<answer>{a}</answer>" for a in answers))


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_group_of_four_episodes_of_one_task_each_reaches_full_score(docker_image, mode):
    envs = dsgym.make_vec("dsgym-tasks-lite", num_envs=4, vectorization_mode=mode)
    try:
        obs, info = envs.reset(seed=0, options={"task_id": TASK})
        assert len(obs) == 4 and all("Question:" in o for o in obs)
        assert list(info["task_id"]) == [TASK] * 4
        _, rewards, terminated, _, info = solve(envs, 4)
        assert list(rewards) == [1.0] * 4 and terminated.all()
    finally:
        envs.close()
    assert not owned_containers()  # sync: the shared pool's warm ones too; async: in the workers' processes


def test_make_vec_refuses_bad_arguments():
    with pytest.raises(ValueError, match="num_envs"):
        dsgym.make_vec("dsgym-tasks-lite", num_envs=0)
    with pytest.raises(ValueError, match="vectorization_mode"):
        dsgym.make_vec("dsgym-tasks-lite", num_envs=2, vectorization_mode="threads")
    with pytest.raises(dsgym.UnknownEnvError):
        dsgym.make_vec("no-such-suite", num_envs=2)
