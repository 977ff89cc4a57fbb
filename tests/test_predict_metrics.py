"""DSPredict metrics: hand-computed cases, scikit-learn cross-checks, directions, aliases and bad inputs."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as sk

from dsgym.predict.metrics import (METRICS, Metric, MetricParamError, PredictionError, UnknownMetricError, compute,
                                   get_metric, label, metric_from_text)


def col(*values, name: str = "y") -> pd.DataFrame:
    return pd.DataFrame({name: list(values)})


def frame(**columns) -> pd.DataFrame:
    return pd.DataFrame(columns)


# ----- registry, directions, aliases --------------------------------------------------------------

@pytest.mark.parametrize("name, higher, output", [
    ("accuracy", True, "label"), ("balanced_accuracy", True, "label"), ("f1", True, "label"),
    ("f1_macro", True, "label"), ("roc_auc", True, "probability"), ("log_loss", False, "probability"),
    ("rmse", False, "value"), ("rmsle", False, "value"), ("mae", False, "value"), ("r2", True, "value"),
    ("map_at_k", True, "ranking"), ("quadratic_weighted_kappa", True, "label"),
])
def test_every_metric_has_its_direction_and_output(name, higher, output):
    metric = get_metric(name)
    assert (metric.name, metric.higher_is_better, metric.output) == (name, higher, output)
    assert isinstance(metric, Metric) and name in METRICS


def test_the_registry_holds_exactly_the_required_metrics():
    assert set(METRICS) == {"accuracy", "balanced_accuracy", "f1", "f1_macro", "roc_auc", "log_loss", "rmse",
                            "rmsle", "mae", "r2", "map_at_k", "quadratic_weighted_kappa"}


@pytest.mark.parametrize("alias, name, params", [
    ("auc", "roc_auc", {}), ("ROC_AUC", "roc_auc", {}), ("roc-auc", "roc_auc", {}),
    ("logloss", "log_loss", {}), ("Log Loss", "log_loss", {}),
    ("qwk", "quadratic_weighted_kappa", {}), ("Quadratic Weighted Kappa", "quadratic_weighted_kappa", {}),
    ("map@5", "map_at_k", {"k": 5}), ("MAP@12", "map_at_k", {"k": 12}), ("map_at_3", "map_at_k", {"k": 3}),
    ("map@k", "map_at_k", {}), ("f1_macro", "f1_macro", {}), ("macro-f1", "f1_macro", {}),
    ("mcrmse", "rmse", {"multi_target": True}), ("MCRMSE", "rmse", {"multi_target": True}),
    ("mean column-wise roc auc", "roc_auc", {"multi_target": True}),
    ("acc", "accuracy", {}), ("r2_score", "r2", {}), ("mean_absolute_error", "mae", {}),
])
def test_aliases_are_case_insensitive_and_may_fix_params(alias, name, params):
    metric = get_metric(alias)
    assert metric.name == name and dict(metric.params) == params


@pytest.mark.parametrize("text, name, params", [
    ("rmse", "rmse", {}), ("map@5", "map_at_k", {"k": 5}),  # registry names and aliases first
    ("Root Mean Squared Logarithmic Error", "rmsle", {}), ("Root Mean Squared Error", "rmse", {}),
    ("Mean Columnwise Root Mean Squared Error", "rmse", {"multi_target": True}),
    ("Mean Columnwise AUC", "roc_auc", {"multi_target": True}), ("Area Under ROC Curve", "roc_auc", {}),
    ("Multi-class Logarithmic Loss", "log_loss", {}), ("Quadratic Weighted Kappa", "quadratic_weighted_kappa", {}),
    ("Mean Average Precision @ 7", "map_at_k", {"k": 7}), ("MAP@3", "map_at_k", {"k": 3}),
    ("Macro F1 Score", "f1_macro", {}), ("F1 Score", "f1", {}), ("Balanced Accuracy Score", "balanced_accuracy", {}),
    ("Categorization Accuracy", "accuracy", {}), ("Mean Absolute Error", "mae", {}), ("R Squared", "r2", {}),
])
def test_free_text_metric_names_map_onto_the_registry(text, name, params):
    metric = metric_from_text(text)
    assert metric is not None and (metric.name, dict(metric.params)) == (name, params)


@pytest.mark.parametrize("text", ["Mean Absolute Percentage Error", "SMAPE", "Matthews Correlation Coefficient",
                                  "kaggle", "", None])
def test_free_text_names_dsgym_does_not_implement_are_none_not_a_near_miss(text):
    assert metric_from_text(text) is None  # "mean absolute percentage error" is no MAE


def test_an_unknown_metric_names_the_close_matches():
    with pytest.raises(UnknownMetricError) as caught:
        get_metric("rmsel")
    message = str(caught.value)
    assert isinstance(caught.value, KeyError)
    assert "did you mean" in message and "rmsle" in message and "accuracy" in message  # close matches, then all
    with pytest.raises(UnknownMetricError):
        get_metric("map@0")


def test_label_normalisation():
    assert label(1) == label(1.0) == label("1") == label(" 1.0 ") == label(np.int64(1)) == "1"
    assert label("007") == "7" and label("0.50") == "0.5" and label(True) == "True"
    assert label("Cat ") == "Cat" and label("cat") != label("Cat")  # text is kept, case-sensitive
    assert label("") is None and label(float("nan")) is None and label("NaN") is None


# ----- label metrics -----------------------------------------------------------------------------

def test_accuracy_by_hand_and_against_sklearn():
    truth, pred = [1, 0, 1, 1], [1, 1, 1, 0]
    # rows 1 and 3 match: 2 / 4
    assert compute("accuracy", col(*truth), col(*pred)) == 0.5
    assert compute("accuracy", col(*truth), col(*pred)) == pytest.approx(sk.accuracy_score(truth, pred))


def test_labels_compare_as_normalised_text():
    # 1 == "1.0", "2" == 2.0, " cat" == "cat": all three rows match
    assert compute("accuracy", col("1", 2, "cat"), col(1.0, "2.0", " cat")) == 1.0
    assert compute("accuracy", col("Cat"), col("cat")) == 0.0


def test_balanced_accuracy_by_hand_and_against_sklearn():
    truth, pred = ["a", "a", "a", "b"], ["a", "a", "b", "b"]
    # recall(a) = 2/3, recall(b) = 1/1 -> (2/3 + 1) / 2 = 5/6
    assert compute("balanced_accuracy", col(*truth), col(*pred)) == pytest.approx(5 / 6)
    assert compute("balanced_accuracy", col(*truth), col(*pred)) == pytest.approx(
        sk.balanced_accuracy_score(truth, pred))
    # a predicted class the truth never holds ("c") has no recall to average
    assert compute("balanced_accuracy", col("a", "b"), col("a", "c")) == pytest.approx(0.5)


def test_f1_binary_by_hand_and_against_sklearn():
    truth, pred = [1, 1, 0, 0, 1], [1, 0, 1, 0, 1]
    # positive 1: tp = 2 (rows 1, 5), fp = 1 (row 3), fn = 1 (row 2) -> 2*2 / (2*2 + 1 + 1) = 2/3
    assert compute("f1", col(*truth), col(*pred)) == pytest.approx(2 / 3)
    assert compute("f1", col(*truth), col(*pred)) == pytest.approx(sk.f1_score(truth, pred))
    # positive 0: tp = 1 (row 4), fp = 1 (row 2), fn = 1 (row 3) -> 2 / 4
    assert compute("f1", col(*truth), col(*pred), {"pos_label": 0}) == pytest.approx(0.5)
    assert compute("f1", col(*truth), col(*pred), {"pos_label": 0}) == pytest.approx(
        sk.f1_score(truth, pred, pos_label=0))


def test_f1_string_labels_take_the_larger_label_as_positive():
    truth, pred = ["yes", "no", "yes"], ["yes", "yes", "no"]
    # positive "yes": tp = 1, fp = 1, fn = 1 -> 2 / 4
    assert compute("f1", col(*truth), col(*pred)) == pytest.approx(0.5)
    assert compute("f1", col(*truth), col(*pred)) == pytest.approx(sk.f1_score(truth, pred, pos_label="yes"))
    # "True"/"False" written as booleans on one side and text on the other are the same labels
    assert compute("f1", col(True, False, True), col("True", "False", "False")) == pytest.approx(2 / 3)
    # no positive anywhere: 0, as scikit-learn does
    assert compute("f1", col(0, 0), col(0, 0)) == 0.0


def test_f1_rejects_more_than_two_classes_and_a_foreign_pos_label():
    with pytest.raises(ValueError, match=r"f1 is binary, but the truth holds 3 labels \('a', 'b', 'c'\)"):
        compute("f1", col("a", "b", "c"), col("a", "b", "c"))
    with pytest.raises(ValueError, match="pos_label 'z' is neither"):
        compute("f1", col("a", "b"), col("a", "b"), {"pos_label": "z"})


def test_f1_macro_by_hand_and_against_sklearn():
    truth, pred = ["a", "b", "c", "a"], ["a", "c", "c", "b"]
    # a: tp1 fp0 fn1 -> 2/3;  b: tp0 fp1 fn1 -> 0;  c: tp1 fp1 fn0 -> 2/3;  mean = 4/9
    assert compute("f1_macro", col(*truth), col(*pred)) == pytest.approx(4 / 9)
    assert compute("f1_macro", col(*truth), col(*pred)) == pytest.approx(sk.f1_score(truth, pred, average="macro"))


def test_qwk_by_hand_and_against_sklearn():
    truth, pred = [1, 2, 3, 4], [1, 2, 4, 4]
    # O has one miss (3 -> 4) with weight 1/9; E = outer(hist_t=[1,1,1,1], hist_p=[1,1,0,2]) / 4;
    # sum(wE) = (1/4)(1/9) * sum_i [ (i-1)^2 + (i-2)^2 + 2(i-4)^2 ] over i = 1..4 = (1/36)(14 + 6 + 2*14) = 48/36
    # kappa = 1 - (1/9) / (48/36) = 1 - 1/12 = 11/12
    assert compute("qwk", col(*truth), col(*pred)) == pytest.approx(11 / 12)
    assert compute("qwk", col(*truth), col(*pred)) == pytest.approx(
        sk.cohen_kappa_score(truth, pred, weights="quadratic"))
    # reversed ratings: full disagreement -> -1
    assert compute("qwk", col(1, 2, 3), col(3, 2, 1)) == pytest.approx(-1.0)


def test_qwk_integer_scale_spans_the_gaps_as_kaggle_does():
    truth, pred = [1, 2, 5, 5], [1, 5, 5, 2]
    # the scale is 1..5 with 3 and 4 unused (so 2 -> 5 is 3 steps, not 1): scikit-learn, which weighs by
    # position among the labels it sees, matches only when told the full range
    ours = compute("quadratic_weighted_kappa", col(*truth), col(*pred))
    assert ours == pytest.approx(sk.cohen_kappa_score(truth, pred, weights="quadratic", labels=[1, 2, 3, 4, 5]))
    assert ours != pytest.approx(sk.cohen_kappa_score(truth, pred, weights="quadratic"))
    # "2.0" is rating 2
    assert compute("qwk", col(*truth), col("1", "5.0", 5, "2.0")) == pytest.approx(ours)


def test_qwk_ordered_categories_need_their_order():
    truth, pred = ["low", "mid", "high"], ["low", "high", "high"]
    ordered = compute("qwk", col(*truth), col(*pred), {"labels": ["low", "mid", "high"]})
    assert ordered == pytest.approx(compute("qwk", col(0, 1, 2), col(0, 2, 2)))
    with pytest.raises(ValueError, match="pass params.labels"):
        compute("qwk", col(*truth), col(*pred))
    with pytest.raises(PredictionError, match="outside the scale"):
        compute("qwk", col(*truth), col("low", "huge", "high"), {"labels": ["low", "mid", "high"]})
    with pytest.raises(MetricParamError, match="distinct"):
        compute("qwk", col(*truth), col(*pred), {"labels": ["low", "low", "high"]})


def test_qwk_rejects_unrounded_predictions_and_agrees_on_a_constant():
    with pytest.raises(PredictionError, match="round predictions"):
        compute("qwk", col(1, 2, 3), col(1.0, 2.5, 3.7))
    assert compute("qwk", col(2, 2), col(2, 2)) == 1.0  # both sides all on one rating: perfect agreement


# ----- probability metrics ------------------------------------------------------------------------

def test_roc_auc_binary_by_hand_and_against_sklearn():
    truth, pred = [0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]
    # pairs (positive, negative) ranked right: (0.35 > 0.1), (0.8 > 0.1), (0.8 > 0.4) -> 3 of 4
    assert compute("roc_auc", col(*truth), col(*pred)) == pytest.approx(0.75)
    assert compute("roc_auc", col(*truth), col(*pred)) == pytest.approx(sk.roc_auc_score(truth, pred))
    assert compute("auc", col(0, 1), col(0.5, 0.5)) == pytest.approx(0.5)  # a tie counts half
    # string labels: the larger label ("yes") is positive; scores may be text
    assert compute("auc", col("no", "no", "yes", "yes"), col("0.1", "0.4", "0.35", "0.8")) == pytest.approx(0.75)


def test_roc_auc_multiclass_is_one_vs_rest_macro():
    classes = ["a", "b", "c"]
    labels = ["a", "b", "c", "a", "b", "c"]
    scores = np.array([[0.7, 0.2, 0.1], [0.3, 0.4, 0.3], [0.2, 0.5, 0.3],
                       [0.4, 0.4, 0.2], [0.1, 0.6, 0.3], [0.2, 0.2, 0.6]])
    truth = pd.DataFrame([[int(lab == c) for c in classes] for lab in labels], columns=classes)
    pred = pd.DataFrame(scores, columns=classes)
    # a: positives .7,.4 vs negatives .3,.2,.1,.2 -> 8/8;  b: positives .4,.6 vs .2,.5,.4,.2 -> (2.5 + 4)/8;
    # c: positives .3,.6 vs .1,.3,.2,.3 -> (1 + .5 + 1 + .5 + 4)/8 = 7/8;  mean = (1 + 6.5/8 + 7/8) / 3
    expected = (1 + 6.5 / 8 + 7 / 8) / 3
    assert compute("roc_auc", truth, pred) == pytest.approx(expected)
    assert compute("roc_auc", truth, pred) == pytest.approx(
        sk.roc_auc_score(labels, scores, multi_class="ovr", average="macro"))


def test_roc_auc_needs_both_classes_and_one_hot_truth():
    with pytest.raises(ValueError, match="one class only"):
        compute("roc_auc", col(1, 1, 1), col(0.2, 0.5, 0.9))
    with pytest.raises(ValueError, match="one-hot"):
        compute("roc_auc", frame(a=[1, 1], b=[0, 1]), frame(a=[0.5, 0.5], b=[0.5, 0.5]))
    with pytest.raises(MetricParamError, match="pos_label"):
        compute("roc_auc", frame(a=[1, 0], b=[0, 1]), frame(a=[0.5, 0.5], b=[0.5, 0.5]), {"pos_label": 1})


def test_log_loss_binary_by_hand_and_against_sklearn():
    truth, pred = [1, 0], [0.8, 0.4]
    # -(ln 0.8 + ln(1 - 0.4)) / 2
    expected = -(math.log(0.8) + math.log(0.6)) / 2
    assert compute("log_loss", col(*truth), col(*pred)) == pytest.approx(expected)
    assert compute("logloss", col(*truth), col(*pred)) == pytest.approx(sk.log_loss(truth, pred))


def test_log_loss_clips_at_1e_15():
    # a confident miss costs -ln(1e-15) ~ 34.54, not infinity
    assert compute("log_loss", col(1), col(0.0)) == pytest.approx(-math.log(1e-15))
    assert compute("log_loss", col(0), col(1.0)) == pytest.approx(-math.log(1e-15), rel=1e-3)


def test_log_loss_multiclass_by_hand_renormalised_and_against_sklearn():
    classes = ["a", "b", "c"]
    labels = ["a", "b", "c"]
    probs = np.array([[0.5, 0.25, 0.25], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6]])
    truth = pd.DataFrame(np.eye(3, dtype=int), columns=classes)
    # -(ln .5 + ln .8 + ln .6) / 3
    expected = -(math.log(0.5) + math.log(0.8) + math.log(0.6)) / 3
    assert compute("log_loss", truth, pd.DataFrame(probs, columns=classes)) == pytest.approx(expected)
    assert expected == pytest.approx(sk.log_loss(labels, probs, labels=classes))
    # rows need not sum to one: each is divided by its sum first ([.25, .125, .125] -> [.5, .25, .25])
    scaled = pd.DataFrame(probs * [[0.5], [1.0], [0.25]], columns=classes)
    assert compute("log_loss", truth, scaled) == pytest.approx(expected)
    # clipping comes first, as on Kaggle: [2, 1, 1] -> [1, 1, 1] (up to 1e-15) -> a third each
    assert compute("log_loss", truth.iloc[:1], pd.DataFrame([[2, 1, 1]], columns=classes)) == pytest.approx(
        math.log(3))


# ----- value metrics ------------------------------------------------------------------------------

def test_rmse_mae_r2_by_hand_and_against_sklearn():
    truth, pred = [1.0, 2.0, 3.0], [1.0, 2.0, 2.0]
    # errors 0, 0, 1: RMSE = sqrt(1/3), MAE = 1/3, R2 = 1 - 1 / ((1-2)^2 + 0 + (3-2)^2) = 0.5
    assert compute("rmse", col(*truth), col(*pred)) == pytest.approx(math.sqrt(1 / 3))
    assert compute("mae", col(*truth), col(*pred)) == pytest.approx(1 / 3)
    assert compute("r2", col(*truth), col(*pred)) == pytest.approx(0.5)
    assert compute("rmse", col(*truth), col(*pred)) == pytest.approx(math.sqrt(sk.mean_squared_error(truth, pred)))
    assert compute("mae", col(*truth), col(*pred)) == pytest.approx(sk.mean_absolute_error(truth, pred))
    assert compute("r2", col(*truth), col(*pred)) == pytest.approx(sk.r2_score(truth, pred))


def test_r2_of_a_constant_truth_follows_sklearn():
    assert compute("r2", col(2, 2), col(2, 2)) == 1.0 == sk.r2_score([2, 2], [2, 2])
    assert compute("r2", col(2, 2), col(2, 3)) == 0.0 == sk.r2_score([2, 2], [2, 3])


def test_rmsle_by_hand_and_against_sklearn():
    e1 = math.e - 1
    # log1p: truth (0, 1), prediction (1, 1) -> sqrt((1 - 0)^2 / 2) = sqrt(0.5)
    assert compute("rmsle", col(0.0, e1), col(e1, e1)) == pytest.approx(math.sqrt(0.5))
    truth, pred = [3.0, 5.0, 2.5, 7.0], [2.5, 5.0, 4.0, 8.0]
    assert compute("rmsle", col(*truth), col(*pred)) == pytest.approx(
        math.sqrt(sk.mean_squared_log_error(truth, pred)))


def test_rmsle_rejects_negative_predictions_as_an_invalid_submission():
    with pytest.raises(PredictionError, match=r"rmsle.*>= 0.*1 negative values \(-0.5\)"):
        compute("rmsle", col(1.0, 2.0), col(-0.5, 2.0))
    with pytest.raises(ValueError, match="the truth has 1 negative") as caught:
        compute("rmsle", col(-1.0, 2.0), col(1.0, 2.0))
    assert not isinstance(caught.value, PredictionError)


def test_value_metrics_against_sklearn_on_random_data():
    rng = np.random.default_rng(7)
    truth, pred = rng.gamma(2.0, 3.0, 200), rng.gamma(2.0, 3.0, 200)
    assert compute("rmse", col(*truth), col(*pred)) == pytest.approx(math.sqrt(sk.mean_squared_error(truth, pred)))
    assert compute("rmsle", col(*truth), col(*pred)) == pytest.approx(
        math.sqrt(sk.mean_squared_log_error(truth, pred)))
    assert compute("mae", col(*truth), col(*pred)) == pytest.approx(sk.mean_absolute_error(truth, pred))
    assert compute("r2", col(*truth), col(*pred)) == pytest.approx(sk.r2_score(truth, pred))


def test_label_and_probability_metrics_against_sklearn_on_random_data():
    rng = np.random.default_rng(11)
    truth = rng.integers(0, 2, 300)
    prob = np.clip(truth * 0.3 + rng.random(300) * 0.7, 0.01, 0.99)
    guess = (prob > 0.5).astype(int)
    assert compute("auc", col(*truth), col(*prob)) == pytest.approx(sk.roc_auc_score(truth, prob))
    assert compute("log_loss", col(*truth), col(*prob)) == pytest.approx(sk.log_loss(truth, prob))
    assert compute("f1", col(*truth), col(*guess)) == pytest.approx(sk.f1_score(truth, guess))
    assert compute("balanced_accuracy", col(*truth), col(*guess)) == pytest.approx(
        sk.balanced_accuracy_score(truth, guess))
    ratings, guessed = rng.integers(0, 6, 300), rng.integers(0, 6, 300)
    assert compute("qwk", col(*ratings), col(*guessed)) == pytest.approx(
        sk.cohen_kappa_score(ratings, guessed, weights="quadratic", labels=list(range(6))))
    assert compute("f1_macro", col(*ratings), col(*guessed)) == pytest.approx(
        sk.f1_score(ratings, guessed, average="macro"))


# ----- ranking metrics ----------------------------------------------------------------------------

def test_map_at_k_by_hand():
    truth = col("a", "b", "c", "d")
    pred = col("a b c", "x b b", "x y c", "")
    # AP@3 per row: a first -> 1;  b second -> 1/2;  c third -> 1/3;  blank -> 0;  mean = (1 + 1/2 + 1/3) / 4
    assert compute("map@3", truth, pred) == pytest.approx((1 + 1 / 2 + 1 / 3) / 4)
    assert compute("map_at_k", truth, pred) == compute("map@3", truth, pred)  # k defaults to 3


def test_map_at_k_counts_a_repeated_label_once_and_truncates_at_k():
    # "b b a": the repeat still takes a place, so a is hit at position 3 -> 1/3 (not 1/2, and b is no second hit)
    assert compute("map@3", col("a"), col("b b a")) == pytest.approx(1 / 3)
    assert compute("map@3", col("a"), col("a a a")) == pytest.approx(1.0)
    # fewer than k guesses are fine; guesses past k do not count
    assert compute("map@5", col("a"), col("a")) == 1.0
    assert compute("map@3", col("a"), col("x y z a")) == 0.0
    assert compute("map_at_k", col("a"), col("x y z a"), {"k": 4}) == pytest.approx(1 / 4)


def test_map_at_k_with_several_relevant_labels_and_numeric_labels():
    # relevant {a, b}: hits at 1 (1/1) and 3 (2/3); divide by min(2, k=3) -> (1 + 2/3) / 2 = 5/6
    assert compute("map@3", col("a b"), col("a x b")) == pytest.approx(5 / 6)
    # numeric labels normalise: 7 == "7.0"; a missing prediction cell is no guesses
    assert compute("map@3", col(7, 8), col("7.0 1", None)) == pytest.approx(0.5)


def test_map_at_k_params():
    with pytest.raises(MetricParamError, match="k=5"):
        compute("map@5", col("a"), col("a"), {"k": 3})
    with pytest.raises(MetricParamError, match="positive integer"):
        compute("map_at_k", col("a"), col("a"), {"k": 0})


# ----- multi-target -------------------------------------------------------------------------------

def test_mean_column_wise_rmse():
    truth, pred = frame(a=[1.0, 2.0], b=[0.0, 0.0]), frame(a=[1.0, 4.0], b=[1.0, 1.0])
    # a: sqrt((0 + 4) / 2) = sqrt(2);  b: sqrt((1 + 1) / 2) = 1;  mean = (sqrt(2) + 1) / 2
    expected = (math.sqrt(2) + 1) / 2
    assert compute("mcrmse", truth, pred) == pytest.approx(expected)
    assert compute("rmse", truth, pred, {"multi_target": True}) == pytest.approx(expected)
    with pytest.raises(ValueError, match="one target column, got 2.*multi_target"):
        compute("rmse", truth, pred)
    with pytest.raises(MetricParamError, match="multi_target=True"):
        compute("mcrmse", truth, pred, {"multi_target": False})


def test_mean_column_wise_roc_auc():
    truth = frame(toxic=[0, 1, 1, 0], insult=[1, 0, 1, 0])
    pred = frame(toxic=[0.1, 0.9, 0.8, 0.3], insult=[0.6, 0.5, 0.4, 0.3])
    # toxic: perfectly ranked -> 1;  insult: positives .6, .4 vs .5, .3 -> (2 + 1) / 4 = 0.75;  mean 0.875
    assert compute("roc_auc", truth, pred, {"multi_target": True}) == pytest.approx(0.875)
    assert compute("mean_column_wise_roc_auc", truth, pred) == pytest.approx(
        np.mean([sk.roc_auc_score(truth[c], pred[c]) for c in truth.columns]))


# ----- bad inputs ---------------------------------------------------------------------------------

def test_non_numeric_and_missing_predictions_are_invalid_submissions():
    with pytest.raises(PredictionError, match=r"needs numbers.*1 non-numeric values \('abc'\)"):
        compute("rmse", col(1.0, 2.0), col("abc", 2.0))
    with pytest.raises(PredictionError, match="1 missing values"):
        compute("mae", col(1.0, 2.0), col(np.nan, 2.0))
    with pytest.raises(PredictionError, match="1 missing values"):
        compute("accuracy", col("a", "b"), col("a", ""))
    with pytest.raises(PredictionError, match="infinite"):
        compute("rmse", col(1.0, 2.0), col(np.inf, 2.0))
    with pytest.raises(PredictionError, match="needs numbers"):
        compute("auc", col(0, 1), col("high", "low"))


def test_truth_and_shape_problems_are_plain_value_errors():
    for call in (lambda: compute("rmse", col(np.nan, 1.0), col(1.0, 1.0)),
                 lambda: compute("rmse", col(1.0, 2.0), col(1.0))):
        with pytest.raises(ValueError) as caught:
            call()
        assert not isinstance(caught.value, PredictionError)
    with pytest.raises(ValueError, match="columns.*differ"):
        compute("rmse", col(1.0, name="a"), col(1.0, name="b"))
    with pytest.raises(ValueError, match="nothing to score"):
        compute("rmse", col(), col())


def test_unknown_params_are_configuration_errors():
    with pytest.raises(MetricParamError, match="no param 'alpha'.*multi_target") as caught:
        compute("rmse", col(1.0), col(1.0), {"alpha": 1})
    assert isinstance(caught.value, TypeError)
    with pytest.raises(MetricParamError, match="true or false"):
        compute("rmse", col(1.0), col(1.0), {"multi_target": "yes"})
    assert get_metric("f1").accepted_params() == {"pos_label": None, "multi_target": False}


def test_scores_the_text_frames_that_submission_reading_and_alignment_produce():
    from dsgym.predict.submission import align, read_table

    labels = read_table(b"id,Survived\n0892,0\n0893,1\n0894,1\n")
    submission = read_table(b"id,Survived\n0894,1.0\n0892,1\n0893,1\n")
    got, want = align(submission, labels, "id")
    assert compute("accuracy", want, got) == pytest.approx(2 / 3)  # 0892 is wrong; "1.0" counts as 1
    assert compute("rmse", want, got) == pytest.approx(math.sqrt(1 / 3))


def test_compute_returns_a_plain_float():
    assert type(compute("accuracy", col(1), col(1))) is float
    assert type(compute("mcrmse", col(1.0), col(2.0))) is float
