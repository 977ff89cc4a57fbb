"""The automl baseline: its plan of cells, its fallbacks, and its in-sandbox code on small local data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dsgym.agents import automl_sandbox as sandbox_code
from dsgym.agents.automl import AutoMLAgent, sandbox_source
from dsgym.env import MAX_ACTION_CHARS
from dsgym.predict import metrics, submission
from dsgym.task import PredictionSpec, Task

PROMPT = "Limits: 20 turns, 120 s per code cell, 1800 s for the whole episode."
INFO = {"limits": {"max_turns": 20, "cell_timeout": 120.0, "episode_budget": 1800.0}}  # reset's info


def prediction_task(tmp_path: Path, metric: str = "rmse", **spec) -> Task:
    spec = {"id_column": "id", "sample_submission": "toy/sample_submission.csv", **spec}
    return Task(id="toy", suite="t", question="predict", data_files=["toy"], metric=metric, kind="prediction",
                data_root=tmp_path, prediction=PredictionSpec(**spec))


def code(action: str) -> str:
    assert action.startswith("<python>") and action.endswith("</python>"), action[:80]
    return action[len("<python>"):-len("</python>")]


def test_plan_profile_fit_check_answer(tmp_path):
    agent = AutoMLAgent(folds=3, seed=7)
    assert agent.config() == {"agent": "automl", "folds": 3, "seed": 7}
    agent.start(prediction_task(tmp_path, "RMSLE"), PROMPT, INFO)
    first = agent.act(None)
    assert sandbox_source().strip() in first and "problem = profile_task(HINTS)" in first
    assert "'metric': 'rmsle'" in first and "'sample_submission': 'toy/sample_submission.csv'" in first
    assert len(first) < MAX_ACTION_CHARS
    fit = agent.act("task folder: /data/toy\nAUTOML_PROFILED")
    assert "fit_and_submit(problem, folds=3, seed=7)" in fit  # no wall-clock budget
    result = {"targets": {"y": {"model": "gbm", "cv": 0.25, "metric": "rmsle", "folds": 3}}}
    check = agent.act("wrote ...\nAUTOML_RESULT " + json.dumps(result))
    assert code(check).strip() == "!check-submission /workspace/submission.csv --sample /data/toy/sample_submission.csv"
    answer = agent.act("OK: 10 rows, columns id, y")
    assert answer.startswith("<answer>submitted") and "3-fold CV rmsle 0.2500" in answer


def test_what_the_work_budget_cut_reaches_the_answer_and_the_record(tmp_path):
    agent = AutoMLAgent(folds=3)
    agent.start(prediction_task(tmp_path), PROMPT, INFO)
    agent.act(None)
    agent.act("AUTOML_PROFILED")
    result = {"targets": {"y": {"model": "gbm", "cv": 0.5, "metric": "rmse", "folds": 2}},
              "degraded": ["smiles: fingerprints only, no RDKit descriptors"]}
    agent.act("AUTOML_RESULT " + json.dumps(result))
    answer = agent.act("OK: 10 rows")
    assert "degraded: smiles: fingerprints only" in answer
    assert agent.degraded == ["smiles: fingerprints only, no RDKit descriptors"]


def test_a_failed_model_cell_falls_back_to_priors(tmp_path):
    agent = AutoMLAgent()
    agent.start(prediction_task(tmp_path), PROMPT)
    agent.act(None)
    agent.act("AUTOML_PROFILED")
    fallback = agent.act("[error]\nValueError: boom")
    assert "fallback_submission(HINTS)" in fallback and "def profile_task" not in fallback  # kernel still has it
    check = agent.act("wrote fallback ...\nAUTOML_FALLBACK_WRITTEN")
    assert "!check-submission" in check
    assert agent.act("OK: 10 rows").startswith("<answer>submitted: automl baseline, fallback")


def test_a_traceback_quoting_the_marker_is_not_success(tmp_path):
    agent = AutoMLAgent()
    agent.start(prediction_task(tmp_path), PROMPT)
    first = agent.act(None)
    assert "AUTOML_PROFILED" not in first  # the cell never spells the marker out
    traceback = "[error]\nImportError: no anndata\n   1017 problem = profile_task(HINTS)\n-> 1018 AUTOML_PROFILED"
    assert "fallback_submission(HINTS)" in agent.act(traceback)


def test_a_dead_kernel_gets_the_module_again(tmp_path):
    agent = AutoMLAgent()
    agent.start(prediction_task(tmp_path), PROMPT)
    agent.act(None)
    agent.act("AUTOML_PROFILED")
    fallback = agent.act("[kernel died] The Python kernel died (it ran out of memory or was killed).")
    assert "def fallback_submission" in fallback


def test_problems_found_by_the_check_lead_to_the_fallback_once(tmp_path):
    agent = AutoMLAgent()
    agent.start(prediction_task(tmp_path), PROMPT)
    agent.act(None)
    agent.act("AUTOML_PROFILED")
    agent.act('AUTOML_RESULT {"targets": {}}')
    assert "fallback_submission" in agent.act("missing_ids: 3 test ids have no row\n1 problem(s)")
    agent.act("AUTOML_FALLBACK_WRITTEN")
    assert agent.act("missing_ids: still wrong").startswith("<answer>")


def test_answer_tasks_are_declined(tmp_path):
    agent = AutoMLAgent()
    agent.start(Task(id="q", suite="t", question="What?", data_root=tmp_path), PROMPT)
    assert agent.act(None).startswith("<answer>")


def test_hints_name_the_metric_as_dsgym_grades_it(tmp_path):
    from dsgym.agents.automl import task_hints

    assert task_hints(prediction_task(tmp_path, "QWK"))["metric"] == "quadratic_weighted_kappa"
    hints = task_hints(prediction_task(tmp_path, "map@5"))
    assert (hints["metric"], hints["metric_params"]) == ("map_at_k", {"k": 5})
    kaggle = Task(id="c", suite="t", question="predict", metric="kaggle", kind="prediction", data_root=tmp_path,
                  metric_params={"competition_metric": "Mean Columnwise Root Mean Squared Error"},
                  prediction=PredictionSpec(id_column="id"))
    hints = task_hints(kaggle)  # a metric only Kaggle computes: its name says which of dsgym's to optimise
    assert (hints["metric"], hints["metric_params"]) == ("rmse", {"multi_target": True})


def test_the_sandbox_module_keeps_no_metric_of_its_own():
    source = sandbox_source()
    assert "from sklearn import metrics" not in source and "roc_auc_score" not in source
    assert not hasattr(sandbox_code, "score") and not hasattr(sandbox_code, "canonical_metric")
    assert "import dsgym_metrics" in source  # the image's copy of dsgym/predict/metrics.py


@pytest.mark.parametrize("metric, params", [("f1", {"pos_label": "lo"}), ("balanced_accuracy", {}),
                                            ("roc_auc", {}), ("log_loss", {})])
def test_validation_folds_score_as_the_grader_does_binary(metric, params):
    """The out-of-fold score is dsgym's metric, with the task's params, on the submission's column."""
    rng = np.random.default_rng(1)
    y = rng.choice(["hi", "lo"], 200)
    proba = np.clip(np.where(y == "lo", 0.7, 0.35)[:, None] + rng.normal(0, 0.2, (200, 1)), 0.01, 0.99)
    pred = np.column_stack([1 - proba[:, 0], proba[:, 0]])  # columns in target.classes order: hi, lo
    target = sandbox_code.Target("y", "y", "binary", "label", metric, params, classes=np.array(["hi", "lo"]),
                                 positive="lo")
    if metric in ("roc_auc", "log_loss"):
        target.output = "proba"
        submitted = pred[:, 1]
    else:
        submitted = np.where(pred[:, 1] >= 0.5, "lo", "hi")
    expected = metrics.compute(metric, pd.DataFrame({"y": y}), pd.DataFrame({"y": submitted}), params)
    assert sandbox_code.validation_score(y, pred, target) == pytest.approx(expected)


def test_validation_folds_score_as_the_grader_does_ranking_ordinal_and_class_columns():
    rng = np.random.default_rng(2)
    classes = np.array([3, 5, 7, 9])
    y = rng.choice(classes, 150)
    proba = rng.dirichlet(np.ones(4), 150)
    top = sandbox_code.Target("y", "y", "multiclass", "top_k", "map_at_k", {"k": 2}, classes=classes, k=2)
    ranked = [" ".join(str(c) for c in classes[np.argsort(-row)[:2]]) for row in proba]
    expected = metrics.compute("map@2", pd.DataFrame({"y": y}), pd.DataFrame({"y": ranked}))
    assert sandbox_code.validation_score(y, proba, top) == pytest.approx(expected)

    ordinal = sandbox_code.Target("y", "y", "multiclass", "label", "quadratic_weighted_kappa", {},
                                  classes=classes, round_labels=True)
    values = y + rng.normal(0, 1.5, 150)
    rounded = np.clip(np.rint(values), 3, 9).astype(int)
    expected = metrics.compute("qwk", pd.DataFrame({"y": y}), pd.DataFrame({"y": rounded}))
    assert sandbox_code.validation_score(y, values, ordinal) == pytest.approx(expected)

    wide = sandbox_code.Target("3", "label", "multiclass", "wide_proba", "log_loss", {},
                               classes=np.array(["3", "5", "7", "9"]), columns=["3", "5", "7", "9"])
    labels = y.astype(str)
    truth = pd.DataFrame({c: (labels == c).astype(int) for c in wide.columns})
    expected = metrics.compute("log_loss", truth, pd.DataFrame(proba, columns=wide.columns))
    assert sandbox_code.validation_score(labels, proba, wide) == pytest.approx(expected)


def write_toy(root: Path, kind: str) -> None:
    rng = np.random.default_rng(0)
    folder = root / "toy"
    folder.mkdir(parents=True)
    n = 400
    ids = [f"{i:05d}" for i in range(n)]  # leading zeros must survive
    frame = pd.DataFrame({"id": ids, "x": rng.normal(size=n), "g": rng.choice(["a", "b", "c"], n)})
    if kind == "regression":
        frame["y"] = 3 * frame["x"] + (frame["g"] == "b") + rng.normal(0, 0.1, n)
        sample = pd.DataFrame({"id": frame["id"][300:], "y": 0.0})
    else:
        frame["label"] = np.where(frame["x"] > 0.5, "hi", np.where(frame["x"] < -0.5, "lo", "mid"))
        sample = pd.DataFrame({"id": frame["id"][300:][::-1], "lo": 1 / 3, "mid": 1 / 3, "hi": 1 / 3})
    frame[:300].to_csv(folder / "train.csv", index=False)
    frame[300:].drop(columns=[c for c in ("y", "label") if c in frame]).to_csv(folder / "test.csv", index=False)
    sample.to_csv(folder / "sample_submission.csv", index=False)


@pytest.mark.parametrize("kind", ["regression", "wide_proba"])
def test_the_sandbox_code_writes_a_valid_submission(tmp_path, monkeypatch, kind):
    """The in-sandbox module, run here (scikit-learn's gradient boosting where LightGBM is missing)."""
    write_toy(tmp_path / "data", kind)
    (tmp_path / "work").mkdir()
    monkeypatch.setattr(sandbox_code, "DATA", tmp_path / "data")
    monkeypatch.setattr(sandbox_code, "WORK", tmp_path / "work")
    hints = {"metric": "rmse" if kind == "regression" else "log_loss", "id_column": "id",
             "sample_submission": "toy/sample_submission.csv"}
    problem = sandbox_code.profile_task(hints)
    result = sandbox_code.fit_and_submit(problem, folds=3)
    sample = submission.read_table(tmp_path / "data/toy/sample_submission.csv")
    written = submission.read_table(tmp_path / "work/submission.csv")
    assert submission.check(written, sample, "id") == []
    assert list(written["id"]) == list(sample["id"])  # the sample's own order
    report = next(iter(result["targets"].values()))
    assert (report["cv"] < 0.5) if kind == "regression" else (report["cv"] < 0.3)
    sandbox_code.fallback_submission(hints)
    assert submission.check(submission.read_table(tmp_path / "work/submission.csv"), sample, "id") == []


@pytest.mark.docker
@pytest.mark.slow
def test_automl_plays_a_dspredict_lite_task_end_to_end(docker_image):
    import dsgym
    from dsgym.episode import play

    env = dsgym.make("dspredict-lite/breast-cancer-diagnosis")
    try:
        record = play(env.unwrapped, AutoMLAgent())
    finally:
        env.close()
    assert record.error is None
    assert record.score > 0  # a valid submission, placed on the task's leaderboard
    assert "fallback" not in record.answer and "CV roc_auc" in record.answer  # scored by the image's dsgym_metrics
    assert "check-submission" in record.transcript() and "OK:" in record.transcript()


def test_the_sandbox_code_does_the_same_work_however_busy_the_machine(tmp_path, monkeypatch):
    """No decision reads the clock: a clock racing 1,000 s per call gives the same models and predictions."""
    write_toy(tmp_path / "data", "regression")
    (tmp_path / "work").mkdir()
    monkeypatch.setattr(sandbox_code, "DATA", tmp_path / "data")
    monkeypatch.setattr(sandbox_code, "WORK", tmp_path / "work")
    hints = {"metric": "rmse", "id_column": "id", "sample_submission": "toy/sample_submission.csv"}

    def fit() -> tuple[dict, bytes]:
        result = sandbox_code.fit_and_submit(sandbox_code.profile_task(hints), folds=3)
        return result, (tmp_path / "work/submission.csv").read_bytes()

    calm, calm_file = fit()
    ticks = iter(range(0, 10**9, 1000))
    monkeypatch.setattr(sandbox_code.time, "time", lambda: float(next(ticks)))
    busy, busy_file = fit()
    assert busy_file == calm_file
    assert busy["targets"] == calm["targets"] and busy["degraded"] == calm["degraded"] == []
    assert set(calm["targets"]["y"]["candidates"]) == {"linear", "gbm"} and calm["targets"]["y"]["folds"] == 3


def test_the_work_budget_cuts_folds_and_says_so(tmp_path, monkeypatch):
    write_toy(tmp_path / "data", "regression")
    (tmp_path / "work").mkdir()
    monkeypatch.setattr(sandbox_code, "DATA", tmp_path / "data")
    monkeypatch.setattr(sandbox_code, "WORK", tmp_path / "work")
    monkeypatch.setattr(sandbox_code, "FOLD_CELLS", 1500)  # 300 rows x 2 features x 3 folds is over it
    hints = {"metric": "rmse", "id_column": "id", "sample_submission": "toy/sample_submission.csv"}
    result = sandbox_code.fit_and_submit(sandbox_code.profile_task(hints), folds=3)
    assert result["targets"]["y"]["folds"] == 2
    assert result["degraded"] == ["y: 2 folds instead of 3 (600 train cells)"]
