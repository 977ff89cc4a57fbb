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


def leaderboard(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([DSGYM, "leaderboard", *args], capture_output=True, text=True, timeout=120)


def board_rows(stdout: str) -> dict[str, list[str]]:
    """The rows of the first (runs) table: the block of table lines after its header."""
    from itertools import takewhile

    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| run |"))
    block = list(takewhile(lambda line: line.startswith("|"), lines[start:]))
    return {cells[0]: cells for cells in ([c.strip() for c in line.strip("|").split("|")] for line in block[2:])}


def test_runs_over_different_tasks_are_ranked_on_the_tasks_they_share(tmp_path):
    t1, t2, t3 = (("dsgym-tasks-lite", name, "regression") for name in ("t1", "t2", "t3"))
    # alone, `narrow` (one task, mean .5) would rank above `wide` (.333 over three); on t1 wide scores 1
    narrow = make_run(tmp_path / "narrow", "narrow", "m", {t1: [1.0, 0.0]}, tokens=10)
    wide = make_run(tmp_path / "wide", "wide", "m", {t1: [1.0], t2: [0.0], t3: [0.0]}, tokens=10)
    html = tmp_path / "board.html"
    out = leaderboard(str(narrow), str(wide), "--html", str(html))
    assert out.returncode == 0, out.stderr
    rows = board_rows(out.stdout)
    assert list(rows) == ["wide", "narrow"]
    assert rows["wide"][4].startswith("1.000") and rows["narrow"][4].startswith("0.500")
    assert "the runs cover different tasks" in out.stdout and "the 1 task(s) all runs share" in out.stdout
    assert "cover different tasks" in " ".join(out.stderr.split())
    assert '<p class="coverage">the runs cover different tasks' in html.read_text()

    other = make_run(tmp_path / "other", "other", "m", {t2: [1.0]}, tokens=10)
    disjoint = leaderboard(str(narrow), str(other))
    assert disjoint.returncode == 0 and "WARNING: the runs share no task" in disjoint.stdout


def test_html_whisker_sits_on_a_track_below_the_score_text(tmp_path):
    from dsgym import leaderboard as board
    from dsgym.report import summarize_run

    tasks = {("dsgym-tasks-lite", f"t{i}", "regression"): [float(i % 2)] for i in range(6)}
    summary = summarize_run(make_run(tmp_path / "run", "run", "m", tasks, tokens=10))
    page = board.html_page([summary])
    cell = re.search(r'<td class="bar"[^>]*>(.*?)</td>', page).group(1)
    text, track = re.fullmatch(r'<div class="v">(.*?)</div><div class="track">(.*)</div>', cell).groups()
    assert text.startswith("0.500 [") and '<span class="ci"' in track and '<span class="fill"' in track
    assert re.search(r"\.bar \.track\{position:relative;height:[^}]*margin-top", page)  # its own line


def test_png_legend_is_outside_the_bars_and_missing_values_are_marked(tmp_path):
    from dsgym import leaderboard as board
    from dsgym.report import summarize_run

    both = make_run(tmp_path / "both", "both", "m", {("dsgym-tasks-lite", "t1", "regression"): [0.0],
                                                     ("dsbio-lite", "b1", "clustering"): [1.0]}, tokens=10)
    one = make_run(tmp_path / "one", "one", "m", {("dsgym-tasks-lite", "t1", "regression"): [1.0]}, tokens=10)
    fig = board.chart([summarize_run(both), summarize_run(one)])
    fig.canvas.draw()
    ax = fig.axes[0]
    assert ax.get_legend().get_window_extent().x0 >= ax.get_window_extent().x1  # right of the plot area
    marks = [t for t in ax.texts if t.get_text() == "n/a"]
    assert len(marks) == 2  # `one` has neither the dsbio-lite suite nor the clustering category
