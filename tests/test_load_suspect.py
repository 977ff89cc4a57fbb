"""Honest time limits: a cell that runs out of time because the host starved it of CPU is not the agent's failure.

Real containers, real load: the host is made busy with spinning containers (started and
stopped by these tests), and the sandbox's cgroup accounting decides.
"""

from __future__ import annotations

import json
import os
import time

import docker.errors
import pytest

import dsgym
from dsgym import runner
from dsgym.agents import OracleAgent
from dsgym.sandbox import Limits
from dsgym.sandbox.docker import client

pytestmark = pytest.mark.docker
SPIN = "import time\nstart = time.time()\nwhile time.time() - start < 60:\n    pass\nanswer = 1\n"
SLEEP = "import time\ntime.sleep(60)\nanswer = 1\n"


@pytest.fixture(scope="module")
def load_suite(tmp_path_factory):
    root = tmp_path_factory.mktemp("load-suite")
    tasks = [{"id": "spin", "question": "Spin.", "metric": "exact_match", "answer": "1", "solution": SPIN},
             {"id": "sleep", "question": "Sleep.", "metric": "exact_match", "answer": "1", "solution": SLEEP}]
    (root / "manifest.json").write_text(json.dumps({"suite": "load-test", "version": "1", "tasks": tasks}))
    return dsgym.register_suite(root)


@pytest.fixture
def busy_host(docker_image):
    """Spinning containers, four per core, so a sandbox gets well under one CPU.

    Containers, not host processes: the daemon gives its cgroup a share of its own, so
    spinners outside it would leave a sandbox its whole CPU on a machine that is otherwise idle.
    """
    spinners = [client().containers.run(docker_image, ["python3", "-c", "while True: pass"], detach=True,
                                        network_mode="none", auto_remove=True, labels={"dsgym.test": "spinner"})
                for _ in range(4 * (os.cpu_count() or 1))]
    time.sleep(1.0)
    yield
    for spinner in spinners:
        try:
            spinner.remove(force=True)
        except docker.errors.NotFound:
            pass


def _play(job: str, **options) -> runner.EpisodeRecord:
    (record,) = runner.run(runner.expand([f"load-test/{job}"]), OracleAgent, retries=0,
                           env_options={"cell_timeout": 4.0, **options})
    return record


def test_a_starved_cell_is_load_suspect_excluded_and_retried_once(docker_image, load_suite, busy_host):
    record = _play("spin")
    assert record.status == "error" and record.error_type == "load_suspect", (record.error_type, record.error)
    first = record.turns[0]
    assert first.timed_out and first.load_suspect
    assert first.cpu["cpu_share"] < 0.5 * first.cpu["cpu_promised"] and first.cpu["cpu_waited"] > 1.0
    assert record.score is None and record.score_breakdown["score_under_load"] == 0.0
    # played a second time, after the others and at lower concurrency; the first attempt is kept
    assert record.conditions["load_retry"] is True and record.conditions["host_cpus"] >= 1
    assert [a["error_type"] for a in record.retried] == ["load_suspect"]
    assert record.retried[0]["conditions"]["load_retry"] is False


def test_a_sleeping_cell_under_load_is_the_agents_timeout(docker_image, load_suite, busy_host):
    record = _play("sleep")
    assert record.status == "ok" and record.score == 0.0
    assert record.turns[0].timed_out and not record.turns[0].load_suspect
    assert record.turns[0].cpu["cpu_share"] < 0.1


def test_a_cell_that_used_its_whole_cpu_share_is_the_agents_timeout(docker_image, load_suite):
    """Capped by its own --cpus (0.1, which even a busy CI host grants), the cell waits but was not starved."""
    record = _play("spin", limits=Limits(cpus=0.1))
    assert record.status == "ok" and record.score == 0.0 and not record.retried
    cell = record.turns[0]
    assert cell.timed_out and not cell.load_suspect
    assert cell.cpu["cpu_share"] >= 0.05 and cell.cpu["cpu_promised"] == record.conditions["sandbox_cpus"] == 0.1
    assert record.conditions["concurrency"] == 1 and record.conditions["in_flight"] == 1
