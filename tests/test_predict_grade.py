"""Host-side grading of prediction tasks: invalid submissions with their reasons, placement, errors."""

from __future__ import annotations

import pandas as pd
import pytest

from dsgym.predict.grade import GradingError, grade
from dsgym.task import load_manifest
from dsgym.validation import validate_suite
from tests.support.predict_suite import write_prediction_suite


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    facts = write_prediction_suite(tmp_path_factory.mktemp("predict"))
    return load_manifest(facts["root"]), facts


def truth(facts) -> pd.DataFrame:
    return facts["test"][["id", "y"]].reset_index(drop=True)


def csv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


def test_manifest_paths_resolve_against_the_suite_folder(suite):
    loaded, facts = suite
    spec = loaded.tasks["toy"].prediction
    assert spec.labels_file == facts["root"] / "hidden" / "toy.csv"
    assert spec.leaderboard_file == facts["root"] / "leaderboard_stats.json"
    problems = [str(p) for p in validate_suite(loaded)]
    assert problems == [f"predict-test/toy-lost-labels: task predict-test/toy-lost-labels: hidden labels "
                        f"{facts['root'] / 'hidden' / 'nowhere.csv'} are missing on this machine"]


def test_a_perfect_submission_tops_the_leaderboard_and_rows_may_come_in_any_order(suite):
    loaded, facts = suite
    shuffled = truth(facts).sample(frac=1.0, random_state=1)
    score = grade(loaded.tasks["toy"], csv(shuffled))
    b = score.breakdown
    assert b["valid"] and b["metric"] == "accuracy" and b["metric_value"] == 1.0 and b["higher_is_better"]
    # leaderboard 1.0, .98, .96, .9, .9, .8, .7, .6, .5, .5: one tie at the top -> (9 + 0.5) / 10
    assert b["percentile"] == pytest.approx(95.0) and b["rank"] == 1 and b["teams"] == 10
    assert b["medal"] == "gold" and score.value == pytest.approx(0.95)


def test_a_middling_submission_gets_its_percentile_and_no_medal(suite):
    loaded, facts = suite
    wrong = truth(facts)
    wrong.loc[:19, "y"] = 1 - wrong.loc[:19, "y"]  # 20 of 50 wrong -> accuracy 0.6
    b = grade(loaded.tasks["toy"], csv(wrong)).breakdown
    assert b["metric_value"] == pytest.approx(0.6)
    assert b["percentile"] == pytest.approx(25.0)  # beats the two 0.5s, ties the 0.6: (2 + 0.5) / 10
    assert b["rank"] == 8 and b["medal"] == "none"


def test_without_a_leaderboard_a_valid_submission_scores_one(suite):
    loaded, facts = suite
    score = grade(loaded.tasks["toy-no-board"], csv(truth(facts)))
    assert score.value == 1.0 and score.breakdown["leaderboard"] is None


@pytest.mark.parametrize("make, reason", [
    (lambda t: None, "missing_file"),
    (lambda t: b"", "unreadable"),
    (lambda t: csv(t.rename(columns={"id": "row"})), "missing_id_column"),
    (lambda t: csv(t.rename(columns={"y": "label"})), "missing_columns"),
    (lambda t: csv(pd.concat([t, t.iloc[:1]])), "duplicate_ids"),
    (lambda t: csv(t.iloc[:-3]), "missing_ids"),
    (lambda t: csv(t.assign(id=t["id"].str.replace("r", "q"))), "unknown_ids"),
    (lambda t: csv(t.assign(y=t["y"].astype(float).where(t.index > 0))), "missing_values"),
])
def test_invalid_submissions_score_the_invalid_value_with_the_reason(suite, make, reason):
    loaded, facts = suite
    data = make(truth(facts))
    score = grade(loaded.tasks["toy"], data)
    assert score.value == 0.0 and score.breakdown["valid"] is False
    found = {score.breakdown["reason"]} | {p["reason"] for p in score.breakdown.get("problems", [])}
    assert reason in found, score.breakdown
    assert score.breakdown["message"]


def test_a_task_whose_labels_are_gone_cannot_be_graded_here(suite):
    loaded, facts = suite
    with pytest.raises(GradingError, match="hidden labels .* missing on this machine"):
        grade(loaded.tasks["toy-lost-labels"], csv(truth(facts)))


def test_without_labels_the_format_is_checked_locally_and_kaggle_submission_is_opt_in(suite, monkeypatch):
    loaded, facts = suite
    official = loaded.tasks["toy"].model_copy(update={"prediction": loaded.tasks["toy"].prediction.model_copy(
        update={"labels_file": None})})
    bad = grade(official, csv(truth(facts).iloc[:-1]))  # checked against the public sample: a row is missing
    assert bad.breakdown["valid"] is False and bad.breakdown["reason"] in ("row_count", "missing_ids")
    monkeypatch.delenv("DSGYM_KAGGLE_SUBMIT", raising=False)
    with pytest.raises(GradingError, match="DSGYM_KAGGLE_SUBMIT=1"):
        grade(official, csv(truth(facts)))
