"""Every embedded task's reference solution reproduces its stored answer in a real sandbox."""

from __future__ import annotations

import contextlib

import pytest

import dsgym
from dsgym import runner
from dsgym.agents import OracleAgent

pytestmark = pytest.mark.docker
SUITES = ["dsgym-tasks-lite", "dsbio-lite"]


@pytest.mark.parametrize("suite", SUITES)
def test_oracle_scores_one_on_every_task(docker_image, suite):
    """At --concurrency 16 on a small machine: admission control warns and keeps the scores whole."""
    jobs = runner.expand([suite])
    assert len(jobs) == len(dsgym.get_suite(suite).tasks) >= 5
    plan = runner.admit(jobs, 16)
    with pytest.warns(runner.OvercommitWarning, match="--concurrency 16 is more than") if plan.warnings \
            else contextlib.nullcontext():
        records = runner.run(jobs, OracleAgent, concurrency=16, env_options={"cell_timeout": 120})
    failures = {r.env_id: (r.error, r.answer, r.score_breakdown) for r in records if r.score != 1.0}
    assert not failures, failures
    assert all(r.termination == "answer" and len(r.turns) == 3 for r in records)
    assert {(r.conditions["concurrency"], r.conditions["sandbox_cpus"]) for r in records} == {(16, plan.cpus)}
    if plan.heavy_limit is not None:  # CPU-heavy (bio) episodes were held to what the cores fit
        assert max(r.conditions["in_flight"] for r in records) <= plan.heavy_limit
