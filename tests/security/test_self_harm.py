"""Threat: an agent that voids its own failures.  Killing the sandbox's PID 1 from inside, or
forging malformed kernel messages (signed with the kernel's own key), used to turn an episode
into a ``sandbox`` or ``env`` error: retried (a free re-roll) and left out of the mean.  What the
sandbox does to itself is the agent's outcome: scored 0 with the reason, never retried.
"""

from __future__ import annotations

import json
import time

import pytest

from dsgym import runner
from dsgym.agents.base import Agent
from dsgym.episode import play
from dsgym.report import summarize
from tests.security.probe import kill_from_outside, sandbox_gone
from tests.support.helpers import python

pytestmark = pytest.mark.docker

SUM_Y = sum(i * 3 % 7 for i in range(100))  # the answer of secret-test/sum-y

# Ways for code in the sandbox to end its own container.
SELF_KILLS = {
    "sigterm-pid-1": "import os, signal, time\nos.kill(1, signal.SIGTERM)\ntime.sleep(30)",
    "sigterm-kernel-supervisor": "import os, signal, time\nos.kill(os.getppid(), signal.SIGTERM)\ntime.sleep(30)",
}

# Malformed iopub messages for the running cell, signed with the kernel's key (the code runs in
# the kernel process), plus frames that fail to deserialise or verify.
FORGE = r'''
kernel = get_ipython().kernel
session, sock = kernel.session, kernel.iopub_socket
parent = kernel.get_parent("shell")
pack, header = session.pack, session.msg_header
def signed(frames):
    return [b"forged", b"<IDS|MSG>", session.sign(frames), *frames]
for kind, content in [
    ("stream", {"name": 5, "text": 7}),
    ("stream", {"name": "stdout"}),
    ("display_data", {"data": {"image/png": "not base64 !!"}, "metadata": {}}),
    ("display_data", {"data": ["a list"], "metadata": {}}),
    ("execute_result", {"data": {"text/plain": 42}, "metadata": {}, "execution_count": 1}),
    ("error", {"ename": 1, "evalue": None, "traceback": 5}),
    ("status", {"execution_state": ["idle"]}),
]:
    session.send(sock, kind, content=content, parent=parent)
session.send(sock, "stream", content=b'["not", "a", "dict"]', parent=parent)
no_type = {k: v for k, v in header("stream").items() if k != "msg_type"}
sock.send_multipart(signed([pack(no_type), pack(parent), b"{}", pack({"name": "stdout", "text": "x"})]))
sock.send_multipart(signed([pack(header("stream")), b"[1, 2]", b"{}", pack({"name": "stdout", "text": "x"})]))
sock.send_multipart(signed([pack(header("stream")), pack(parent), b"{}", b"\xff\xfe not json"]))
sock.send_multipart([b"<IDS|MSG>", b"0" * 64, pack(header("stream")), pack(parent), b"{}", b"{}"])
sock.send_multipart([b"no delimiter at all"])
sock.send_multipart(signed([pack(header("stream")), pack(parent), b"{}"]))
import time
time.sleep(0.5)
print("after the forgeries")
'''

# The launcher's state file with a shape it never writes (no generation).
FORGED_STATE = ("import json, os, time\n"
                "with open('/run/dsgym/state.json.x', 'w') as f:\n"
                "    json.dump({'alive': True, 'pid': 1}, f)\n"
                "os.replace('/run/dsgym/state.json.x', '/run/dsgym/state.json')\n"
                "time.sleep(1)\nprint('after the forged state')")


@pytest.mark.parametrize("how", sorted(SELF_KILLS))
def test_a_sandbox_killed_from_inside_ends_the_episode_with_score_0(make_env, how):
    env = make_env("secret-test/sum-y", cell_timeout=60)
    env.reset(seed=0)
    sandbox = env.unwrapped.sandbox
    start = time.monotonic()
    obs, reward, terminated, truncated, info = env.step(python(SELF_KILLS[how]))
    assert time.monotonic() - start < 20
    assert terminated and not truncated, (obs, info)
    assert reward == 0.0 and info["termination"] == "sandbox_broken", info
    assert "[sandbox broken]" in obs and "scores 0" in obs, obs
    assert "broken from inside" in info["score_breakdown"]["reason"], info
    assert sandbox_gone(sandbox), "the broken sandbox was not removed"


class SelfHarmer(Agent):
    """Solves sum-y; on the other tasks kills its own sandbox (secret) or forges kernel messages (no-data)."""

    name = "self-harmer"

    def start(self, task, prompt):
        self.reset_usage()
        self.task, self.turn = task, 0

    def act(self, observation):
        self.turn += 1
        if self.task.id == "sum-y":
            return f"<answer>{SUM_Y}</answer>"
        if self.task.id == "secret":
            return python(SELF_KILLS["sigterm-pid-1"])
        return python(FORGE) if self.turn == 1 else "<answer>a wrong answer</answer>"


def test_self_inflicted_failures_are_scored_not_retried_and_count_in_the_mean(docker_image, secret_suite):
    jobs = [runner.Job("secret-test", "sum-y"), runner.Job("secret-test", "secret"),
            runner.Job("secret-test", "no-data")]
    records = runner.run(jobs, SelfHarmer, retries=2, backoff=0.05, env_options={"cell_timeout": 60})
    solved, killed, forged = records
    assert (solved.status, solved.score) == ("ok", 1.0)
    assert (killed.status, killed.error_type, killed.score, killed.termination) == ("ok", None, 0.0, "sandbox_broken")
    assert killed.attempts == 1 and killed.retried == [], "a self-inflicted failure was re-rolled"
    assert "broken from inside" in killed.score_breakdown["reason"]
    assert (forged.status, forged.score, forged.termination, forged.attempts) == ("ok", 0.0, "answer", 1)
    assert "after the forgeries" in forged.turns[0].observation
    assert "malformed kernel message(s) ignored" in forged.turns[0].observation
    summary = summarize([r.to_dict() for r in records])
    assert summary.errors == 0
    assert summary.overall.mean.value == pytest.approx(1 / 3)  # not 1.0 over the one solved task


def test_forged_and_malformed_kernel_messages_never_raise_on_the_host(make_env):
    env = make_env("secret-test/sum-y", cell_timeout=60)
    env.reset(seed=0)
    obs, _, terminated, truncated, info = env.step(python(FORGE))
    assert not (terminated or truncated), obs
    assert "after the forgeries" in obs and "malformed kernel message(s) ignored" in obs, obs
    obs, *_ = env.step(python(FORGED_STATE))
    assert "after the forged state" in obs, obs
    obs, *_ = env.step(python("print(6 * 7)"))
    assert obs.strip() == "42", obs
    _, reward, terminated, _, info = env.step(f"<answer>{SUM_Y}</answer>")
    assert terminated and reward == 1.0 and info["termination"] == "answer"


def test_a_forging_episode_is_recorded_as_played(make_env):
    class Forger(SelfHarmer):
        def act(self, observation):
            self.turn += 1
            return python(FORGE) if self.turn == 1 else f"<answer>{SUM_Y}</answer>"

    record = play(make_env("secret-test/sum-y", cell_timeout=60), Forger())
    assert (record.status, record.error_type, record.score) == ("ok", None, 1.0), json.dumps(record.to_dict())[:2000]


def test_a_container_killed_through_the_daemon_is_still_an_infrastructure_error(make_env):
    env = make_env("secret-test/sum-y", cell_timeout=60)
    env.reset(seed=0)
    kill_from_outside(env.unwrapped.sandbox, "SIGTERM")
    obs, _, terminated, truncated, info = env.step(python("print(1)"))
    assert truncated and not terminated and info["termination"] == "sandbox_error", (obs, info)


def test_rl_rewards_score_a_broken_sandbox_and_flag_an_outside_failure(docker_image, secret_suite):
    from dsgym.rl import ToolSession

    session = ToolSession("secret-test/sum-y", format_penalty=0.1, cell_timeout=60)
    try:
        session.start()
        session.run_python(SELF_KILLS["sigterm-pid-1"])
        assert session.done and session.last_info["termination"] == "sandbox_broken"
        assert session.reward == pytest.approx(-0.1) and session.excluded is None  # the policy's own outcome

        session.start()
        kill_from_outside(session.env.sandbox)
        session.run_python("print(1)")
        assert session.done and session.last_info["termination"] == "sandbox_error"
        assert session.excluded and session.excluded.startswith("sandbox:")  # not the policy's doing
    finally:
        session.close()
