"""Admission control (how many episodes at once, each sandbox's CPUs) and how runs show the load they ran under."""

from __future__ import annotations

import json

import pytest

import dsgym
from dsgym import admission, leaderboard, report, runner
from dsgym.admission import Capacity, Needs
from dsgym.episodes import _Queues
from dsgym.task import Task

TWO_CORES = Capacity(cores=2.0, memory=24 << 30)


def test_within_capacity_no_warning_no_limit():
    plan = admission.plan(2, [Needs()], TWO_CORES)
    assert (plan.fits, plan.heavy_limit, plan.cpus, plan.warnings) == (2, None, 1.0, [])


def test_heavy_suites_are_held_to_the_cores_unless_overcommit():
    plan = admission.plan(16, [Needs(), Needs(1.0, "3g", True)], TWO_CORES)
    assert plan.heavy_limit == 2 and plan.concurrency == 16
    assert "--concurrency 16 is more than this machine runs at once (2: 2 cores / 1 CPU per sandbox)" in plan.warnings[0]
    assert "--overcommit" in plan.warnings[0]
    forced = admission.plan(16, [Needs(1.0, "3g", True)], TWO_CORES, overcommit=True)
    assert forced.heavy_limit is None and "load_suspect" in forced.warnings[0]
    assert forced.conditions() == {"concurrency": 16, "host_cpus": 2.0, "sandbox_cpus": 1.0, "heavy_limit": None,
                                   "overcommit": True}


def test_light_suites_warn_but_run_at_the_asked_concurrency():
    plan = admission.plan(16, [Needs()], TWO_CORES)
    assert plan.heavy_limit is None and len(plan.warnings) == 1


def test_memory_and_cpus_bound_what_fits():
    small = Capacity(cores=8.0, memory=8 << 30)  # 8 GiB x 0.8 / 3g -> 2
    assert admission.plan(4, [Needs(1.0, "3g", True)], small).heavy_limit == 2
    assert admission.plan(4, [Needs()], TWO_CORES, cpus=0.5).fits == 4
    assert admission.plan(1, [Needs(4.0)], TWO_CORES).cpus == 2.0  # never more than the host has
    with pytest.raises(ValueError, match="--cpus"):
        admission.plan(1, [Needs()], TWO_CORES, cpus=0)


def test_suite_needs_from_manifest_and_image(tmp_path):
    assert admission.suite_needs(dsgym.get_suite("dsbio-lite")).cpu_heavy
    assert not admission.suite_needs(dsgym.get_suite("dsgym-tasks-lite")).cpu_heavy
    root = tmp_path / "suite"
    root.mkdir()
    manifest = {"suite": "needs-test", "resources": {"cpus": 2, "memory": "4g", "cpu_heavy": True},
                "tasks": [{"id": "t", "question": "?", "metric": "exact_match", "answer": "a"}]}
    (root / "manifest.json").write_text(json.dumps(manifest))
    assert admission.suite_needs(dsgym.register_suite(root)) == Needs(2.0, "4g", True)
    manifest.update(suite="needs-bad", resources={"cpus": "many"})
    (root / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="resources.cpus must be a positive number"):
        admission.suite_needs(dsgym.register_suite(root))


def _job(suite: str, task_id: str) -> runner.Job:
    return runner.Job(suite, task_id, task=Task(id=task_id, suite=suite, question="?", data_root="."), image="default")


def _items(heavy: int, light: int) -> list[tuple[str, int, runner.Job]]:
    jobs = [_job("bio", f"h{i}") for i in range(heavy)] + [_job("lite", f"l{i}") for i in range(light)]
    return [("run", index, job) for index, job in enumerate(jobs)]


def test_queues_hold_heavy_episodes_and_start_retries_last_at_half_the_slots():
    queues = _Queues(_items(3, 2), {"bio"}, slots=4, heavy_limit=1)
    started = []
    for _ in range(4):  # 4 slots, at most 1 heavy
        taken = queues.take(started)
        if taken:
            started.append(taken)
    assert [job.task_id for _, _, job in started] == ["h0", "l0", "l1"]
    queues.retries.append(started[0])  # h0 ended load_suspect: played again after the others
    assert queues.take([])[2].task_id == "h1"  # waiting episodes go first
    assert queues.take([])[2].task_id == "h2"
    assert queues.take(started[1:3]) is None  # retries wait for half the slots (2) to be free
    _, index, job = queues.take(started[1:2])
    assert (index, job.task_id) == (0, "h0") and not queues


def test_summary_and_leaderboard_show_the_conditions():
    conditions = {"concurrency": 16, "host_cpus": 2.0, "sandbox_cpus": 1.0, "heavy_limit": None, "overcommit": True}
    records = [{"suite": "s", "task_id": f"t{i}", "env_id": f"s/t{i}", "status": "ok", "score": 1.0,
                "conditions": conditions, "retried": []} for i in range(3)]
    records[0]["retried"] = [{"error_type": "load_suspect"}]
    summary = report.summarize(records, name="run")
    assert summary.conditions == "-j 16 on 2 cores, 1 CPU per sandbox, overcommit"
    assert summary.load_retries == 1
    assert any("played again at lower concurrency" in line for line in report.summary_footer(summary))
    head, body, _, _ = leaderboard.rows([summary])
    assert body[0][head.index("ran at")] == summary.conditions
    assert "-j 16 on 2 cores" in leaderboard.html_page([summary])
    old = report.summarize([{**r, "conditions": {}} for r in records], name="old")
    assert old.conditions == "-"
