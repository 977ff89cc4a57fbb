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


SLEEP_CELL = "<python>\nimport time\nstarted = time.time()\ntime.sleep(1.5)\nprint(started, time.time())\n</python>"


@pytest.mark.parametrize("kind", ["docker", "bwrap"])
def test_a_sync_vector_step_runs_every_envs_cell_at_once(docker_image, kind):
    """The cells of one vector step run together: each env's cell starts before any other's ends."""
    envs = dsgym.make_vec("dsgym-tasks-lite", num_envs=3, sandbox=kind)
    try:
        envs.reset(seed=0, options={"task_id": TASK})
        obs, *_ = envs.step((SLEEP_CELL,) * 3)
    finally:
        envs.close()
    spans = [tuple(map(float, o.split()[:2])) for o in obs]
    assert max(start for start, _ in spans) < min(end for _, end in spans), f"the cells ran one after another: {spans}"


def comparable(result) -> list:
    """A vector step's outcome without what differs from run to run (timings, ids, folders)."""
    obs, rewards, terminated, truncated, info = result
    varying = {"step_time", "elapsed", "cell_time", "cell_cpu", "reset_time", "episode_id", "figures", "task",
               "load_suspect", "submission", "sandbox_limits", "final_info", "final_obs"}
    kept = {key: [str(v) for v in value] for key, value in info.items() if key not in varying and not key.startswith("_")}
    final = info.get("final_obs")
    return [list(obs), list(rewards), list(terminated), list(truncated), kept,
            None if final is None else [str(o) for o in final]]


@pytest.mark.parametrize("mode", ["NextStep", "SameStep"])
def test_parallel_steps_match_gymnasiums_sync_vector_env(docker_image, mode):
    """Same actions, same outcomes as Gymnasium's SyncVectorEnv over plain envs, autoreset included:
    env 0 answers at once (and is reset by the autoreset), env 1 runs cells, env 2 sends a malformed reply."""
    import gymnasium
    from gymnasium.vector import AutoresetMode

    task = dsgym.get_task("dsgym-tasks-lite", TASK)
    options = {"task_id": TASK}
    steps = [("<answer>0.5</answer>", "<python>\nx = 41\nprint(x + 1)\n</python>", "hello"),
             ("<python>\nprint('after')\n</python>", "<python>\nprint(x)\n</python>", "<python>\nprint(2)\n</python>"),
             ("<python>\nprint(3)\n</python>", f"<python>\n{task.solution}\nprint(answer)\n</python>", "<answer>1</answer>")]
    outcomes = []
    for make in (lambda: dsgym.make_vec("dsgym-tasks-lite", num_envs=3, autoreset_mode=mode),
                 lambda: gymnasium.vector.SyncVectorEnv([lambda: dsgym.make("dsgym-tasks-lite") for _ in range(3)],
                                                        autoreset_mode=AutoresetMode(mode))):
        envs = make()
        try:
            obs, _ = envs.reset(seed=0, options=options)
            run = [list(obs)]
            for actions in steps:
                run.append(comparable(envs.step(actions)))
        finally:
            envs.close()
        outcomes.append(run)
    ours, theirs = outcomes
    assert ours == theirs
    assert bool(ours[1][2][0])  # env 0 did end on the first step: the autoreset was exercised
