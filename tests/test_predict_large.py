"""Grading from a file on disk: numbers parsed by the CSV reader, ids matched by hash, same results as before."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from dsgym.predict import submission
from dsgym.predict.grade import grade
from dsgym.task import PredictionSpec, Task


@pytest.fixture
def task(tmp_path):
    rng = np.random.default_rng(0)
    truth = pd.DataFrame({"id": np.arange(1, 401), "target": rng.integers(0, 2, 400)})
    truth.to_csv(tmp_path / "labels.csv", index=False)
    (tmp_path / "board.json").write_text(json.dumps({"t": {"public_scores": [0.9, 0.8, 0.7, 0.6],
                                                           "private_scores": []}}))
    spec = PredictionSpec(id_column="id", target_columns=["target"], labels_file=tmp_path / "labels.csv",
                          leaderboard_file=tmp_path / "board.json")
    made = Task(id="t", suite="large", question="predict", metric="roc_auc", kind="prediction",
                prediction=spec, data_root=tmp_path)
    guess = truth.assign(target=(truth.target * 0.4 + rng.uniform(0, 0.6, 400)).round(4))
    return made, guess.sample(frac=1.0, random_state=1).reset_index(drop=True)


def write(frame: pd.DataFrame, path) -> str:
    frame.to_csv(path, index=False)
    return path


def test_a_file_is_graded_like_its_bytes_and_the_breakdown_records_size_and_time(task, tmp_path):
    made, guess = task
    path = write(guess, tmp_path / "submission.csv")
    from_file, from_bytes = grade(made, path), grade(made, path.read_bytes())
    assert from_file.breakdown["valid"] and from_file.value == from_bytes.value
    assert from_file.breakdown["metric_value"] == pytest.approx(from_bytes.breakdown["metric_value"])
    assert from_file.breakdown["submission_bytes"] == path.stat().st_size
    assert 0 <= from_file.breakdown["grading_seconds"] < 30


def test_numeric_columns_come_out_as_floats_only_when_every_cell_is_a_number(tmp_path):
    clean = tmp_path / "clean.csv"
    clean.write_text("id,target\n1,0.5\n2,nan\n3,\n")
    frame = submission.read_table(clean, numeric=["target"])
    assert frame["target"].dtype == np.float64 and frame["id"].tolist() == ["1", "2", "3"]
    spaced = tmp_path / "spaced.csv"
    spaced.write_text("id,target\n1, 0.5\n2,abc\n")
    frame = submission.read_table(spaced, numeric=["target"])
    assert frame["target"].tolist() == [" 0.5", "abc"]  # as text, so the checks can name the bad cell


@pytest.mark.parametrize("cell, reason", [("abc", "non_numeric"), ("NaN", "missing_values"),
                                          ("inf", "non_finite"), (" 0.25 ", None)])
def test_odd_cells_in_a_file_get_the_same_reasons_as_ever(task, tmp_path, cell, reason):
    made, guess = task
    path = write(guess, tmp_path / "submission.csv")
    text = path.read_text().splitlines()
    first_id = text[1].split(",")[0]
    text[1] = f"{first_id},{cell}"
    path.write_text("\n".join(text) + "\n")
    breakdown = grade(made, path).breakdown
    if reason is None:
        assert breakdown["valid"], breakdown
    else:
        assert not breakdown["valid"] and breakdown["reason"] == reason, breakdown


def test_ids_that_need_normalizing_or_repeat_take_the_full_checks(task, tmp_path):
    made, guess = task
    index = submission.IdIndex(submission.normalize_ids(pd.Series([str(i) for i in range(1, 401)])))
    exact = submission.read_table(write(guess, tmp_path / "exact.csv"), numeric=["target"])
    positions = index.match(exact, "id")
    assert positions is not None and (exact["id"].to_numpy(dtype=object)[positions] == index.ids.to_numpy(dtype=object)).all()

    decimal = guess.assign(id=guess["id"].astype(float))  # "12.0": the same id, written through a float
    as_decimal = write(decimal, tmp_path / "decimal.csv")
    assert index.match(submission.read_table(as_decimal, numeric=["target"]), "id") is None
    assert grade(made, as_decimal).breakdown["valid"]

    repeated = guess.copy()
    repeated.loc[0, "id"] = repeated.loc[1, "id"]
    breakdown = grade(made, write(repeated, tmp_path / "repeated.csv")).breakdown
    assert not breakdown["valid"] and breakdown["reason"] == "duplicate_ids"
