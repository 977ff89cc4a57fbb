"""The synthesis pipeline end to end: real sandboxes, the real react agent, a scripted fake model server.

The scripted analyst (``tests.support.synth_model``) proposes questions, some malformed or
near-duplicate, and plays rollouts that compute right answers, wrong answers,
claim numbers their code never printed, solve trivially or never answer.  The
pipeline must keep exactly the verified majority trajectories.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import dsgym
from dsgym.cli import app
from dsgym.synth import SynthSettings, synthesize
from tests.support.fake_openai import FakeOpenAI
from tests.support.synth_model import KEPT, ScriptedAnalyst, expected_kept, template_of

pytestmark = [pytest.mark.docker, pytest.mark.slow]
SEED = 1000


def write_data(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    n = 200
    pd.DataFrame({"site": rng.choice(["north", "south", "east"], n), "rain": rng.gamma(2, 3, n).round(2),
                  "yield_t": rng.normal(50, 8, n).round(2)}).to_csv(folder / "farms.csv", index=False)
    pd.DataFrame({"age": rng.integers(18, 80, n), "income": rng.normal(3000, 600, n).round(1),
                  "group": rng.choice(["a1", "b2"], n)}).to_csv(folder / "people.csv", index=False)
    return folder


def settings(data: Path, base_url: str, cache: Path, **extra) -> SynthSettings:
    options = {"sources": [str(data)], "model": "fake-analyst", "base_url": base_url, "rollouts": 3, "max_turns": 4,
               "questions": 8, "agent_kwargs": {"seed": SEED}, "cache_dir": str(cache), "concurrency": 2,
               "export_suite": True, "cell_timeout": 60.0, **extra}
    return SynthSettings(**options)


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def synth_run(tmp_path_factory, docker_image):
    """One full run, then a rerun against the same server (which must cost nothing)."""
    root = tmp_path_factory.mktemp("synth")
    data = write_data(root / "data")
    analyst = ScriptedAnalyst(seed_base=SEED)
    with FakeOpenAI(replies=analyst) as fake:
        first = synthesize(settings(data, fake.base_url, root / "cache"), root / "out")
        calls = dict(analyst.calls)
        jsonl = (root / "out" / "sft" / "train.jsonl").read_text()
        second = synthesize(settings(data, fake.base_url, root / "cache"), root / "out")
        yield {"root": root, "data": data, "first": first, "second": second, "calls": calls,
               "calls_after": dict(analyst.calls), "jsonl": jsonl, "base_url": fake.base_url, "analyst": analyst}


def test_exactly_the_verified_majority_trajectories_are_kept(synth_run):
    out = synth_run["root"] / "out"
    tasks = rows(out / "tasks.jsonl")
    exported = rows(out / "sft" / "train.jsonl")
    kept = {(row["task_id"], row["sample"]) for row in exported}
    assert kept == expected_kept(tasks)
    assert len(kept) == 2 * len(KEPT) * 2  # two templates, two datasets, two rollouts each
    by_template = {}
    for row in tasks:
        by_template.setdefault(template_of(row["question"]), set()).add((row["status"], row["stage"]))
    assert by_template == {
        "conditional_mean": {("kept", "export")}, "count_above": {("kept", "export")},
        "top_group": {("dropped", "consensus")}, "spread": {("dropped", "consensus")},
        "near_duplicate": {("dropped", "dedup")}, "row_count": {("dropped", "difficulty")},
        "shortcut": {("dropped", "shortcut")}}
    claims = [v for row in tasks if template_of(row["question"]) == "count_above" for v in row["verdicts"]
              if v["sample"] == 1]
    assert claims and all(v["status"] == "not_reproduced" for v in claims)


def test_rollouts_play_their_candidates_without_registering_them(synth_run):
    played = {row["suite"] for row in rows(synth_run["root"] / "out" / "rollouts" / "episodes.jsonl")}
    assert played == {"synth-out-default"}  # the candidates' suite name keys the rollouts, as before
    assert not played & set(dsgym.registry.suites())


def test_stage_counts_add_up(synth_run):
    stages = synth_run["first"].stages
    assert stages["profile"].output == 2
    assert stages["generate"].dropped == {"malformed question": 2}
    assert stages["dedup"].dropped == {"near-duplicate": 2} and stages["dedup"].output == 12
    assert stages["rollout"].input == stages["rollout"].output == 36
    assert stages["verify"].dropped == {"not reproduced": 4, "no answer": 4}
    assert stages["consensus"].dropped == {"no majority": 4}
    assert stages["shortcut"].dropped == {"answerable without the data": 2}
    assert stages["difficulty"].dropped == {"trivial": 2}
    assert stages["export"].output == synth_run["first"].examples == 8
    assert synth_run["first"].complete
    report = json.loads((synth_run["root"] / "out" / "synth-report.json").read_text())
    assert [row["stage"] for row in report["stages"]] == list(stages)
    card = (synth_run["root"] / "out" / "sft" / "README.md").read_text()
    assert "near-duplicate: 2" in card and "trivial: 2" in card and str(synth_run["data"]) in card


def test_the_export_loads_with_datasets_and_holds_the_conversations(synth_run):
    import datasets

    dataset = datasets.load_from_disk(str(synth_run["root"] / "out" / "sft" / "dataset"))
    assert len(dataset) == 8
    for row in dataset:
        roles = [m["role"] for m in row["messages"]]
        assert roles[:2] == ["system", "user"] and roles[-1] == "assistant"
        assert roles[2:] == ["assistant", "user"] * ((len(roles) - 3) // 2) + ["assistant"]
        assert "<answer>" in row["messages"][-1]["content"]
        assert row["question"] in row["messages"][1]["content"]
        assert json.loads(row["reference"]) is not None
    parquet = pd.read_parquet(synth_run["root"] / "out" / "sft" / "train.parquet")
    assert len(parquet) == 8


def test_the_references_are_the_true_answers_and_the_suite_replays(synth_run):
    suite_dir = synth_run["root"] / "out" / "suite"
    suite = dsgym.register_suite(suite_dir)
    assert not suite.errors and len(suite.tasks) == 4
    frames = {name: pd.read_csv(synth_run["data"] / f"{name}.csv") for name in ("farms", "people")}
    for task in suite.tasks.values():
        df = frames[task.metadata["dataset"]]
        a = task.question.split("'")[1]
        if template_of(task.question) == "conditional_mean":
            b = task.question.split("'")[3]
            truth = round(float(df.loc[df[b] > df[b].median(), a].mean()), 3)
        else:
            truth = int((df[a] > df[a].mean()).sum())
        assert task.answer == pytest.approx(truth)
    # replay one kept trajectory's actions in the exported suite: the real env grades it 1.0
    row = rows(synth_run["root"] / "out" / "sft" / "train.jsonl")[0]
    actions = [m["content"] for m in row["messages"] if m["role"] == "assistant"]
    env = dsgym.make(f"{suite.name}/{row['task_id']}", max_turns=10)
    try:
        env.reset(seed=0)
        for action in actions:
            _, reward, terminated, truncated, _ = env.step(action)
        assert terminated and reward == 1.0
    finally:
        env.close()


def test_a_rerun_reuses_every_model_call_and_sandbox_result(synth_run):
    assert synth_run["calls_after"] == synth_run["calls"]
    second = synth_run["second"]
    assert second.stages["profile"].reused == 2 and second.stages["generate"].reused == 2
    assert second.stages["rollout"].reused == 36 and second.stages["verify"].reused == 36
    assert (synth_run["root"] / "out" / "sft" / "train.jsonl").read_text() == synth_run["jsonl"]
    assert second.stages["rollout"].seconds < 5


def test_budgets_stop_the_run_and_a_rerun_finishes_it(synth_run):
    root = synth_run["root"]
    analyst = ScriptedAnalyst(seed_base=SEED, questions_per_dataset=2)
    small = write_data(root / "small")
    (small / "people.csv").unlink()
    with FakeOpenAI(replies=analyst) as fake:
        limited = synthesize(settings(small, fake.base_url, root / "cache-small", max_model_calls=4, questions=2),
                             root / "budget")
        assert fake.calls == 4
        assert limited.stopped_by == "budget: model calls (4)" and not limited.complete and limited.pending > 0
        assert limited.examples == 0
        done = synthesize(settings(small, fake.base_url, root / "cache-small", questions=2), root / "budget")
    assert done.complete and done.examples == 4
    tasks = rows(root / "budget" / "tasks.jsonl")
    assert {(r["task_id"], r["sample"]) for r in rows(root / "budget" / "sft" / "train.jsonl")} == expected_kept(tasks)
    # the rollouts log holds each rollout once per key that counts
    episodes = rows(root / "budget" / "rollouts" / "episodes.jsonl")
    assert not [e for e in episodes if (e.get("error") or "").startswith("BudgetExhausted")]


def test_the_sft_smoke_finetune_trains_on_the_export(synth_run, tmp_path, monkeypatch):
    from tests.support.sft_smoke import train_two_steps

    for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.setenv(name, "1")
    monkeypatch.setenv("WANDB_DISABLED", "true")
    result = train_two_steps(synth_run["root"] / "out" / "sft" / "dataset", tmp_path, max_length=4096)
    assert result["steps"] == 2 and result["weights_changed"] and result["trained_tokens"] > 0
    assert all(np.isfinite(result["losses"]))


def test_the_command_line_reports_stages_and_refuses_bad_input(synth_run, tmp_path):
    runner = CliRunner()
    data = synth_run["data"]
    result = runner.invoke(app, ["synth", str(data), "--out", str(synth_run["root"] / "out"), "--model",
                                 "fake-analyst", "--base-url", synth_run["base_url"], "--rollouts", "3",
                                 "--max-turns", "4", "--questions", "8", "--agent-arg", f"seed={SEED}",
                                 "--cache-dir", str(synth_run["root"] / "cache"), "--export-suite",
                                 "--cell-timeout", "60"])
    assert result.exit_code == 0, result.output
    assert "| verify | rollouts | 36 | 28 |" in result.output and "SFT dataset:" in result.output
    missing = runner.invoke(app, ["synth", str(tmp_path / "nope"), "--out", str(tmp_path / "o"), "--model", "m"])
    assert missing.exit_code == 2 and "no such file or folder" in missing.output
    nomodel = runner.invoke(app, ["synth", str(data), "--out", str(tmp_path / "o")], env={"DSGYM_MODEL": ""})
    assert nomodel.exit_code == 2 and "needs a model" in nomodel.output


def test_variants_multiply_verified_trajectories_on_the_variant_data(docker_image, tmp_path, monkeypatch):
    """``--variants 1``: each question is also rolled out, verified and exported over a bootstrap of its data."""
    monkeypatch.setenv("DSGYM_HOME", str(tmp_path / "home"))  # the variant data's cache
    small = write_data(tmp_path / "data")
    (small / "people.csv").unlink()
    analyst = ScriptedAnalyst(seed_base=SEED, questions_per_dataset=2)  # conditional_mean, count_above: kept
    with FakeOpenAI(replies=analyst) as fake:
        first = synthesize(settings(small, fake.base_url, tmp_path / "cache", questions=2, variants=1),
                           tmp_path / "out")
        calls = dict(analyst.calls)
        second = synthesize(settings(small, fake.base_url, tmp_path / "cache", questions=2, variants=1),
                            tmp_path / "out")
    assert first.complete and first.stages["variants"].output == 2
    assert first.stages["rollout"].input == first.stages["rollout"].output == 12
    tasks = {row["id"]: row for row in rows(tmp_path / "out" / "tasks.jsonl")}
    variants = {tid: row for tid, row in tasks.items() if "variant" in row}
    assert sorted(variants) == sorted(f"{row['original']}.v1" for row in variants.values()) and len(variants) == 2
    assert all(row["status"] == "kept" for row in tasks.values())
    assert all(row["variant"]["family"] == "rows-bootstrap" for row in variants.values())
    # the exported suite holds each variant over its own data; its consensus is the truth on those rows
    suite = json.loads((tmp_path / "out" / "suite" / "manifest.json").read_text())
    original_bytes = (small / "farms.csv").read_bytes()
    for entry in suite["tasks"]:
        path = tmp_path / "out" / "suite" / "data" / entry["data_files"][0]
        df = pd.read_csv(path)
        a, b = entry["question"].split("'")[1], entry["question"].split("'")[3 if "median" in entry["question"] else 1]
        truth = (round(float(df.loc[df[b] > df[b].median(), a].mean()), 3) if "median" in entry["question"]
                 else int((df[a] > df[a].mean()).sum()))
        assert entry["answer"] == pytest.approx(truth)
        if entry["id"] in variants:
            assert path.read_bytes() != original_bytes and len(df) == 200
            original = next(e for e in suite["tasks"] if e["id"] == variants[entry["id"]]["original"])
            assert entry["answer"] != pytest.approx(original["answer"])
        else:
            assert path.read_bytes() == original_bytes
    assert not dsgym.register_suite(tmp_path / "out" / "suite").errors
    exported = rows(tmp_path / "out" / "sft" / "train.jsonl")
    assert {(r["task_id"], r["sample"]) for r in exported} == expected_kept(list(tasks.values()))
    assert sum(r["task_id"] in variants for r in exported) == 4 and len(exported) == 8
    report = json.loads((tmp_path / "out" / "synth-report.json").read_text())["variants"]
    assert report["candidates"] == {"originals": 2, "variants": 2}
    assert report["examples"] == {"originals": 4, "variants": 4} and report["datasets_without_variants"] == {}
    # a rerun redoes nothing: no model call, every rollout and verdict reused
    assert analyst.calls == calls and second.complete
    assert second.stages["rollout"].reused == 12 and second.stages["verify"].reused == 12


def test_data_variants_share_a_cache_and_refuse_data_they_cannot_change(tmp_path, monkeypatch, docker_image):
    from dsgym.task import Task, VariantSpec
    from dsgym.variants import VariantError, variant_data

    monkeypatch.setenv("DSGYM_HOME", str(tmp_path / "home"))
    data = write_data(tmp_path / "data")
    (data / "notes.json").write_text('{"a": 1}')
    spec = VariantSpec(family="rows-bootstrap")

    def task(question: str, files: list[str]) -> Task:
        return Task(id="t", suite="s", question=question, data_files=files, metric="exact_match", answer="x",
                    data_root=data, variant=spec)

    one = variant_data(task("first?", ["farms.csv"]), 3, image=docker_image)
    two = variant_data(task("second?", ["farms.csv"]), 3, image=docker_image)
    assert one.answer is None and one.data_root == two.data_root  # keyed by the data, not the question
    assert (one.data_root / "farms.csv").read_bytes() != (data / "farms.csv").read_bytes()
    assert one.metadata["variant"]["family"] == "rows-bootstrap"
    with pytest.raises(VariantError, match="changes none"):
        variant_data(task("third?", ["notes.json"]), 3, image=docker_image)
