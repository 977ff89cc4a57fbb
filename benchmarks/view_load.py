"""What keeping whole model replies costs `dsgym view` on a 10,000-episode run.

    python benchmarks/view_load.py [--episodes 10000] [--rounds 2] [--no-browser] [--json]

Writes two synthetic run folders of ``--episodes`` episodes with the same three turns
each: records as dsgym wrote them before whole transcripts (the extracted action only)
and records with each turn's whole reply (about 400 characters of reasoning before the
action), its finish reason, usage and cache flag.  For each it reports the size of
``episodes.jsonl``, the best site build time (``dsgym.view.build_site``: reading the
log, the run page and one page per episode), the run page's size, and (with Chromium
and chromedriver installed) the time until the run page has rendered its first rows.
No Docker needed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

from dsgym import runner
from dsgym.view import build_site

REASONING = ("The describe() output shows y is skewed, so before comparing groups I will look at the group "
             "means and sizes; if the groups are unbalanced a plain mean of means would be misleading, and "
             "I should weight by group size. I also want to check for missing values in g, since rows "
             "dropped silently by groupby would change the answer. Let me compute both in one cell. ")


def record(i: int, whole: bool) -> dict:
    actions = [f"<python>\nimport pandas as pd\ndf = pd.read_csv('/data/t{i}.csv')\nprint(df.describe())\n</python>",
               "<python>\ndf.groupby('g').y.agg(['mean', 'size'])\n</python>", "<answer>1.5</answer>"]
    observations = ["          x       y\ncount  100.0  100.0\nmean   4.2    1.3\n" * 8,
                    "[result]\n   mean  size\ng\na 1.0  50\nb 2.0  50", "[answer submitted]"]
    turns = []
    for n, (action, observation) in enumerate(zip(actions, observations)):
        turn = {"action": action, "observation": observation, "reward": 0.0, "step_time": 0.2, "agent_time": 1.0,
                "action_kind": "answer" if n == 2 else "code", "tokens": 700, "at": 1.0 + n}
        if whole:
            reply = f"{REASONING}\n{action}"
            turn.update(reply=reply, finish_reason="stop", cached=False,
                        usage={"prompt_tokens": 600, "completion_tokens": len(reply) // 4,
                               "total_tokens": 600 + len(reply) // 4})
        turns.append(turn)
    return {"env_id": f"synth/task-{i % 500:03d}", "task_id": f"task-{i % 500:03d}", "agent": "react",
            "suite": "synth", "sample": i // 500, "category": ["eda", "stats", "ml"][i % 3], "model": "m",
            "status": "ok", "prompt": "Question: ...", "turns": turns, "answer": "1.5", "score": float(i % 3 == 0),
            "score_breakdown": {"metric": "numeric"}, "termination": "answer",
            "tokens": {"prompt_tokens": 1800, "completion_tokens": 300, "total_tokens": 2100}, "wall_time": 3.4,
            "reset_time": 0.8}


def write_run(path: Path, episodes: int, whole: bool) -> None:
    path.mkdir(parents=True)
    manifest = {"format": 1, "name": path.name, "episodes": episodes, "status": "complete",
                "settings": {"targets": ["synth"], "agent": "react", "agent_kwargs": {"model": "m"},
                             "samples": max(1, episodes // 500)}}
    (path / runner.MANIFEST).write_text(json.dumps(manifest))
    with open(path / runner.EPISODES, "w") as handle:
        handle.writelines(json.dumps(record(i, whole)) + "\n" for i in range(episodes))


def first_rows(page: Path) -> float | None:
    """Seconds until the run page has rendered its table, in headless Chromium; None without a browser."""
    chromium, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        return None
    if not (chromium and driver_path):
        return None
    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        options.add_argument(arg)
    options.binary_location = chromium
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        driver.get("about:blank")  # the browser's own start-up is not the page's
        started = time.monotonic()
        driver.get(page.as_uri())
        while driver.execute_script("return document.body.dataset.ready") != "1":
            time.sleep(0.01)
        return time.monotonic() - started
    finally:
        driver.quit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--episodes", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=2, help="builds per variant (the best counts)")
    parser.add_argument("--no-browser", action="store_true", help="skip the page-load timing")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    variants = {"action only": False, "whole replies": True}
    results = {}
    with tempfile.TemporaryDirectory(prefix="dsgym-view-bench-") as tmp:
        runs = {name: Path(tmp) / ("whole" if whole else "actions") for name, whole in variants.items()}
        for name, whole in variants.items():
            write_run(runs[name], args.episodes, whole)
        builds: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(args.rounds):  # interleaved, so a busy machine slows both alike
            for name, run in runs.items():
                started = time.monotonic()
                build_site([run], Path(tmp) / f"site-{run.name}")
                builds[name].append(time.monotonic() - started)
        for name, run in runs.items():
            page = Path(tmp) / f"site-{run.name}" / run.name / "index.html"
            load = None if args.no_browser else first_rows(page)
            results[name] = {"episodes_jsonl_mb": round((run / runner.EPISODES).stat().st_size / 1e6, 1),
                             "build_s": round(min(builds[name]), 2),
                             "run_page_mb": round(page.stat().st_size / 1e6, 2),
                             "first_rows_s": None if load is None else round(load, 2)}
    if args.json:
        print(json.dumps({"episodes": args.episodes, **results}, indent=2))
        return
    print(f"{args.episodes:,} episodes, 3 turns each (best of {args.rounds} builds)")
    for name, r in results.items():
        load = "-" if r["first_rows_s"] is None else f"{r['first_rows_s']:.2f} s"
        print(f"  {name:<14} episodes.jsonl {r['episodes_jsonl_mb']:5.1f} MB   build {r['build_s']:5.2f} s   "
              f"run page {r['run_page_mb']:.2f} MB, first rows in {load}")


if __name__ == "__main__":
    main()
