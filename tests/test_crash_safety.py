"""SIGKILL of ``dsgym eval`` and ``dsgym synth`` at random points, then resume: nothing lost, doubled or corrupt.

Each test kills the command several times at random moments (seeded), checks after
every kill that each file holds only whole JSON lines (a torn last line at most, which
the next writer cuts off) and that the JSON documents parse, then lets a final run
finish and compares it with what an uninterrupted run must give.  Containers the
killed processes left behind are removed by ``dsgym sandbox prune``, as a user would.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.fake_openai import FakeOpenAI
from tests.support.synth_model import ScriptedAnalyst, expected_kept
from tests.test_synth import SEED, write_data

pytestmark = [pytest.mark.docker, pytest.mark.slow]
DSGYM = str(Path(sys.executable).with_name("dsgym"))
REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(REPO)}
KILLS = 3


def kill_after(command: list[str], seconds: float) -> int | None:
    """Start ``command``, SIGKILL it after ``seconds`` (if still running); its exit status if it ended first."""
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    try:
        return proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        return None


def whole_lines(path: Path) -> list[dict]:
    """The complete lines of a JSONL file, each of which must parse (a torn last line is allowed)."""
    if not path.exists():
        return []
    raw = path.read_bytes()
    body = raw[:raw.rfind(b"\n") + 1]
    return [json.loads(line) for line in body.decode().splitlines() if line.strip()]


def json_document(path: Path) -> None:
    if path.exists():
        json.loads(path.read_text())


def prune() -> None:
    subprocess.run([DSGYM, "sandbox", "prune"], env=ENV, capture_output=True, check=True)


def test_sigkill_of_eval_then_resume_gives_every_episode_once(docker_image, tmp_path):
    rng = random.Random(11)
    out = tmp_path / "run"
    tasks = sorted(json.loads((REPO / "tasks/dsgym-tasks-lite/manifest.json").read_text())["tasks"],
                   key=lambda t: t["id"])[:10]
    command = [DSGYM, "eval", *[f"dsgym-tasks-lite/{t['id']}" for t in tasks], "--agent", "oracle", "-j", "2",
               "--samples", "2", "--out", str(out)]
    for _ in range(KILLS):
        kill_after(command, rng.uniform(2.0, 10.0))
        json_document(out / "manifest.json")
        keys = [(r["task_id"], r["sample"]) for r in whole_lines(out / "episodes.jsonl")]
        assert len(keys) == len(set(keys))
    prune()
    final = subprocess.run(command, capture_output=True, text=True, env=ENV, timeout=900)
    assert final.returncode == 0, final.stderr[-2000:]
    raw = (out / "episodes.jsonl").read_bytes()
    assert raw.endswith(b"\n")
    records = [json.loads(line) for line in raw.decode().splitlines()]
    assert sorted((r["task_id"], r["sample"]) for r in records) == sorted(
        (t["id"], s) for t in tasks for s in range(2))
    assert all(r["status"] == "ok" and r["score"] == 1.0 for r in records)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete" and len(manifest["invocations"]) >= 2


def test_sigkill_of_synth_then_resume_keeps_exactly_the_verified_trajectories(docker_image, tmp_path):
    rng = random.Random(5)
    data = write_data(tmp_path / "data")
    out = tmp_path / "synth"
    with FakeOpenAI(replies=ScriptedAnalyst(seed_base=SEED)) as fake:
        command = [DSGYM, "synth", str(data), "--out", str(out), "--model", "fake-analyst", "--base-url",
                   fake.base_url, "--rollouts", "3", "--max-turns", "4", "--questions", "8", "--agent-arg",
                   f"seed={SEED}", "--cache-dir", str(tmp_path / "cache"), "-j", "2", "--cell-timeout", "60"]
        for _ in range(KILLS):
            started = time.monotonic()
            status = kill_after(command, rng.uniform(3.0, 25.0))
            assert status in (None, 0), f"exit {status} after {time.monotonic() - started:.1f} s"
            whole_lines(out / "synth-state.jsonl")
            rollouts = [(r["task_id"], r["sample"]) for r in whole_lines(out / "rollouts" / "episodes.jsonl")]
            assert len(rollouts) == len(set(rollouts))
            for name in ("synth-report.json", "rollouts/manifest.json"):
                json_document(out / name)
        prune()
        final = subprocess.run(command, capture_output=True, text=True, env=ENV, timeout=900)
    assert final.returncode == 0, final.stderr[-2000:]
    tasks = whole_lines(out / "tasks.jsonl")
    kept = [(r["task_id"], r["sample"]) for r in whole_lines(out / "sft" / "train.jsonl")]
    assert len(kept) == len(set(kept)) and set(kept) == expected_kept(tasks) and len(kept) == 8
    state = (out / "synth-state.jsonl").read_bytes()
    assert state.endswith(b"\n") and all(json.loads(line) for line in state.decode().splitlines())
    rollouts = whole_lines(out / "rollouts" / "episodes.jsonl")
    assert len({(r["task_id"], r["sample"]) for r in rollouts}) == len(rollouts) == 36
