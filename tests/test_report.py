"""Summaries: the pass@k estimator, seeded bootstrap intervals, grouping by suite and category."""

from __future__ import annotations

import math

import pytest
from rich.console import Console

from dsgym import report


def rec(suite: str, task: str, sample: int, score: float | None, *, category: str | None = None,
        error: str | None = None, tokens: int = 0) -> dict:
    return {"suite": suite, "task_id": task, "env_id": f"{suite}/{task}", "sample": sample, "category": category,
            "status": "error" if error else "ok", "error_type": error, "score": None if error else score,
            "agent": "a", "model": "m", "wall_time": 1.0,
            "tokens": {"prompt_tokens": tokens, "completion_tokens": 0, "total_tokens": tokens}}


def test_pass_at_k_matches_hand_computed_values():
    # n=5 samples, c=2 correct: pass@1 = 2/5; pass@2 = 1 - C(3,2)/C(5,2) = 1 - 3/10; pass@3 = 1 - 1/10
    assert report.pass_at_k(5, 2, 1) == pytest.approx(0.4)
    assert report.pass_at_k(5, 2, 2) == pytest.approx(0.7)
    assert report.pass_at_k(5, 2, 3) == pytest.approx(0.9)
    assert report.pass_at_k(5, 2, 4) == 1.0 and report.pass_at_k(5, 0, 3) == 0.0 and report.pass_at_k(5, 5, 1) == 1.0
    # n=10, c=3, k=5: 1 - C(7,5)/C(10,5) = 1 - 21/252
    assert report.pass_at_k(10, 3, 5) == pytest.approx(1 - 21 / 252)
    for n, c, k in ((3, 1, 4), (3, 4, 1), (3, 1, 0)):
        with pytest.raises(ValueError):
            report.pass_at_k(n, c, k)


def test_bootstrap_interval_is_deterministic_given_a_seed():
    values = [0.0, 0.2, 0.5, 0.9, 1.0, 1.0, 0.3, 0.7]
    first = report.bootstrap_ci(values, seed=7)
    assert first == report.bootstrap_ci(values, seed=7)
    assert first != report.bootstrap_ci(values, seed=8)
    low, high = first
    assert 0.0 <= low < sum(values) / len(values) < high <= 1.0
    wider = report.bootstrap_ci(values, seed=7, confidence=0.99)
    assert wider[0] <= low and wider[1] >= high
    assert report.bootstrap_ci([0.5, 0.5, 0.5]) == (0.5, 0.5)
    assert all(math.isnan(x) for x in report.bootstrap_ci([]))


def test_summary_per_suite_and_category_with_errors_excluded_but_counted():
    records = [
        # task a: 3 samples, 2 pass;  task b: 3 samples, 0 pass (one 0.5);  task c: 2 scored + 1 errored
        rec("s1", "a", 0, 1.0, category="x", tokens=10), rec("s1", "a", 1, 1.0, category="x", tokens=10),
        rec("s1", "a", 2, 0.0, category="x", tokens=10),
        rec("s1", "b", 0, 0.0, category="y"), rec("s1", "b", 1, 0.5, category="y"),
        rec("s1", "b", 2, 0.0, category="y"),
        rec("s2", "c", 0, 1.0, category="x"), rec("s2", "c", 1, 0.0, category="x"),
        rec("s2", "c", 2, None, category="x", error="sandbox", tokens=5),
    ]
    summary = report.summarize(records, k=2, seed=3)
    assert [(g.kind, g.name) for g in summary.groups] == [("all", "all"), ("suite", "s1"), ("suite", "s2"),
                                                         ("category", "x"), ("category", "y")]
    overall = summary.overall
    assert (overall.tasks, overall.episodes, overall.errors) == (3, 9, 1)
    assert overall.mean.value == pytest.approx((2 / 3 + 0.5 / 3 + 0.5) / 3)  # the errored sample is not a 0
    assert overall.pass1.value == pytest.approx((2 / 3 + 0 + 1 / 2) / 3)
    # pass@2 per task: a: 1 - C(1,2)/C(3,2) = 1; b: 0; c (n=2, c=1): 1 - C(1,2)/C(2,2) = 1
    assert overall.passk.value == pytest.approx(2 / 3)
    by = {(g.kind, g.name): g for g in summary.groups}
    assert by[("suite", "s2")].mean.value == pytest.approx(0.5) and by[("suite", "s2")].errors == 1
    assert by[("suite", "s2")].excluded == overall.excluded == {"sandbox": 1} and by[("suite", "s1")].excluded == {}
    assert report.excluded_text(overall.excluded) == "1 (sandbox 1)" and report.excluded_text({}) == "0"
    assert by[("category", "x")].tasks == 2 and by[("category", "y")].pass1.value == 0.0
    assert summary.errors_by_type == {"sandbox": 1} and summary.tokens["total_tokens"] == 35
    assert overall.mean.low <= overall.mean.value <= overall.mean.high
    assert report.summarize(records, k=2, seed=3).to_dict() == summary.to_dict()  # seeded: same intervals

    summary3 = report.summarize(records)  # k defaults to the most samples of a task: 3
    assert summary3.k == 3 and summary3.overall.passk.tasks == 2
    assert any("pass@3 leaves out 1 task" in note for note in summary3.notes)


def test_pass_threshold_decides_what_passes():
    records = [rec("s", "a", 0, 0.9), rec("s", "a", 1, 0.4)]
    assert report.summarize(records).overall.pass1.value == 0.0
    assert report.summarize(records, pass_threshold=0.8).overall.pass1.value == 0.5


def test_summary_table_renders():
    summary = report.summarize([rec("s", "a", 0, 1.0, category="x"), rec("s", "b", 0, None, error="model")])
    console = Console(record=True, width=160)
    console.print(report.summary_table(summary))
    text = console.export_text()
    assert "mean [95% CI]" in text and "category: x" in text and "suite: s" in text
    header = next(line for line in text.splitlines() if "mean [95% CI]" in line)
    assert header.index("mean [95% CI]") < header.index("excluded (why)") < header.index("pass@1")
    assert "1 (model 1)" in text  # how many episodes the mean leaves out, and why, beside it
    footer = "\n".join(report.summary_footer(summary))
    assert "1 of 2 episode(s) errored (model 1)" in footer and "tokens: 0" in footer


def test_the_viewer_and_the_leaderboard_show_what_the_mean_leaves_out_beside_it():
    from dsgym import leaderboard
    from dsgym.view import pages

    summary = report.summarize([rec("s", "a", 0, 1.0), rec("s", "b", 0, None, error="sandbox"),
                                rec("s", "c", 0, None, error="model"), rec("s", "c", 1, 0.0)], name="r")
    page = pages.summary_html(summary)
    assert "left out of the mean (why)" in page and "2 (model 1, sandbox 1)" in page
    head, body, _, _ = leaderboard.rows([summary])
    assert head[head.index("excluded (why)") - 1].startswith("mean score") and body[0][5] == "2 (model 1, sandbox 1)"


def test_variants_are_summarised_apart_from_the_originals_with_their_gap():
    from dsgym import leaderboard
    from dsgym.view.pages import summary_html

    def record(task: str, score: float, variant: int | None = None) -> dict:
        return {"suite": "s", "task_id": task, "env_id": f"s/{task}", "status": "ok", "score": score,
                "variant": None if variant is None else {"seed": variant, "used_seed": variant, "family": "rows"}}

    # a memoriser: right on both originals, wrong on every variant of task a, half right on b's
    records = [record("a", 1.0), record("b", 1.0), record("a", 0.0, 1), record("a", 0.0, 2),
               record("b", 1.0, 1), record("b", 0.0, 2)]
    summary = report.summarize(records, name="run")
    assert summary.overall.mean.value == 1.0 and summary.overall.episodes == 2  # originals only, never mixed
    assert summary.variants.mean.value == pytest.approx(0.25) and summary.variants.episodes == 4
    assert summary.variant_gap.value == pytest.approx(0.75)  # mean over tasks of (1 - 0) and (1 - 0.5)
    assert any("contamination indicator" in note for note in summary.notes)
    head, body, _, _ = leaderboard.rows([summary])
    assert body[0][head.index("on variants (mean score)")].startswith("0.250")
    assert body[0][head.index("gap: originals - variants")].startswith("0.750")
    assert "mean score on variants" in summary_html(summary) and "originals" in summary_html(summary)
    plain = report.summarize([r for r in records if r["variant"] is None], name="plain")
    assert plain.variants is None and plain.variant_gap is None
    assert "gap: originals - variants" not in leaderboard.rows([plain])[0]


def test_variant_jobs_follow_the_originals_and_have_keys_of_their_own():
    from dsgym import runner
    from dsgym.run_folder import record_key

    jobs = runner.expand(["dsgym-tasks-lite/iris-kmeans-ari", "dsgym-tasks-lite/longley-vif-gnp"], variants=2)
    assert [j.key for j in jobs] == [
        "dsgym-tasks-lite/iris-kmeans-ari#0", "dsgym-tasks-lite/longley-vif-gnp#0",
        "dsgym-tasks-lite/iris-kmeans-ari~v1#0", "dsgym-tasks-lite/longley-vif-gnp~v1#0",
        "dsgym-tasks-lite/iris-kmeans-ari~v2#0", "dsgym-tasks-lite/longley-vif-gnp~v2#0"]
    record = {"suite": "dsgym-tasks-lite", "task_id": "iris-kmeans-ari", "sample": 0, "variant": {"seed": 2}}
    assert record_key(record) == jobs[4].key and record_key({**record, "variant": None}) == jobs[0].key
    settings = runner.EvalSettings(targets=["dsgym-tasks-lite"])
    assert "variants" not in settings.to_dict()  # a run from before variants existed resumes unchanged
    assert runner.EvalSettings.from_dict({**settings.to_dict(), "variants": 3}).variants == 3
