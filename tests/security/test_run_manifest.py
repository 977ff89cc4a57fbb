"""Threat: a run folder from elsewhere whose manifest fields have unexpected types (``settings.samples``
as a string, settings that are not an object, a manifest that is a list) crashes ``dsgym view`` or
``dsgym report`` instead of being shown with what can be read.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from dsgym import runner
from dsgym.report import summarize_run

DSGYM = str(Path(sys.executable).with_name("dsgym"))
RECORD = {"env_id": "s/t", "task_id": "t", "suite": "s", "sample": 0, "agent": "react", "status": "ok",
          "score": 1.0, "turns": [], "answer": "1", "termination": "answer"}


@pytest.mark.parametrize("manifest", [
    {"name": "r", "settings": {"targets": ["s", 3], "agent": "react", "samples": "3"}, "episodes": "many"},
    {"settings": "not an object"},
    {"settings": {"samples": "three", "agent_kwargs": ["m"], "targets": "s"}, "name": 5, "status": ["x"]},
    {"settings": {"samples": True}, "episodes": -2},
    [1, 2],
], ids=["samples-string", "settings-string", "odd-types", "bool-and-negative", "list"])
def test_a_run_manifest_of_odd_types_is_viewed_not_crashed(tmp_path, manifest):
    run = tmp_path / "run"
    run.mkdir()
    (run / runner.MANIFEST).write_text(json.dumps(manifest))
    (run / runner.EPISODES).write_text("".join(json.dumps({**RECORD, "sample": i}) + "\n" for i in range(3)))
    summary = summarize_run(run)
    assert summary.episodes == 3 and summary.overall.mean.value == 1.0
    done = subprocess.run([DSGYM, "view", str(run), "--out", str(tmp_path / "site")], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert any((tmp_path / "site").rglob("*.html"))
