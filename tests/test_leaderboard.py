"""`dsgym leaderboard`: two runs side by side as Markdown, a self-contained HTML page and a PNG chart."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from dsgym import runner

DSGYM = str(Path(sys.executable).with_name("dsgym"))


def make_run(folder: Path, name: str, model: str, scores: dict[tuple[str, str, str], list[float | None]],
             tokens: int) -> Path:
    """A run folder as `dsgym eval` writes it (manifest + episodes.jsonl), without playing episodes."""
    folder.mkdir(parents=True)
    samples = max(len(v) for v in scores.values())
    manifest = {"format": 1, "name": name, "run_id": name, "settings": {
        "targets": sorted({s for s, _, _ in scores}), "agent": "react", "agent_kwargs": {"model": model},
        "samples": samples, "env_options": {}, "episode_timeout": None}, "episodes": samples * len(scores)}
    runner.write_manifest(folder, manifest)
    log = runner.episode_log(folder)
    log.open()
    for (suite, task, category), values in scores.items():
        for sample, score in enumerate(values):
            log.append({"suite": suite, "task_id": task, "env_id": f"{suite}/{task}", "sample": sample,
                        "category": category, "agent": "react", "model": model,
                        "status": "ok" if score is not None else "error",
                        "error_type": None if score is not None else "model", "score": score, "wall_time": 2.0,
                        "tokens": {"prompt_tokens": tokens, "completion_tokens": 10, "total_tokens": tokens + 10}})
    log.close()
    return folder


def test_leaderboard_renders_markdown_html_and_png(tmp_path):
    tasks = [("dsgym-tasks-lite", "t1", "regression"), ("dsgym-tasks-lite", "t2", "time-series"),
             ("dsbio-lite", "b1", "clustering"), ("dsbio-lite", "b2", "clustering")]
    strong = make_run(tmp_path / "runs" / "strong", "strong", "big-model",
                      dict(zip(tasks, [[1.0, 1.0], [1.0, 0.0], [1.0, 1.0], [0.0, None]])), tokens=1000)
    weak = make_run(tmp_path / "runs" / "weak", "weak", "small-model",
                    dict(zip(tasks, [[0.0, 1.0], [0.0, 0.0], [1.0, 0.0], [0.0, 0.0]])), tokens=200)
    (tmp_path / "runs" / "notes").mkdir()  # not a run: skipped with a warning
    html, png, md = tmp_path / "board.html", tmp_path / "board.png", tmp_path / "board.md"
    out = subprocess.run([DSGYM, "leaderboard", str(weak), str(strong), str(tmp_path / "runs" / "notes"),
                          "--html", str(html), "--png", str(png), "--md", str(md)],
                         capture_output=True, text=True, timeout=120, env={**os.environ, "MPLBACKEND": "TkAgg"})
    assert out.returncode == 0, out.stderr
    assert "skipping" in out.stderr and "notes" in out.stderr

    table = [line for line in out.stdout.splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in table[0].strip("|").split("|")]
    assert header[:7] == ["run", "agent", "model", "episodes", "mean score [95% CI]", "excluded (why)", "pass@1"]
    assert {"pass@2", "dsgym-tasks-lite", "dsbio-lite", "tokens", "tokens/episode"} <= set(header)
    rows = {cells[0]: cells for cells in ([c.strip() for c in line.strip("|").split("|")] for line in table[2:4])}
    assert list(rows) == ["strong", "weak"]  # best first
    # the errored episode is counted, with its type, next to the mean
    assert rows["strong"][2] == "big-model" and rows["strong"][5] == "1 (model 1)" and rows["weak"][5] == "0"
    # strong: task means 1, .5, 1, 0 (the errored sample is excluded, not a 0) -> .625
    assert rows["strong"][4].startswith("0.625 [") and rows["weak"][4].startswith("0.250 [")
    assert rows["strong"][header.index("dsbio-lite")] == "0.500"
    assert rows["strong"][header.index("tokens")] == "8,080"
    category_header = next(line for line in table if line.startswith("| run | clustering"))
    assert "regression" in category_header and "time-series" in category_header
    assert md.read_text().strip() == out.stdout.strip()

    page = html.read_text()
    assert page.startswith("<!DOCTYPE html>") and "<style>" in page and "strong" in page and "dsbio-lite" in page
    assert not re.search(r"https?://|<link|<script|src=|@import|url\(", page, re.IGNORECASE)

    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000


def test_leaderboard_without_runs_fails_clearly(tmp_path):
    out = subprocess.run([DSGYM, "leaderboard", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "no run folders" in out.stderr
