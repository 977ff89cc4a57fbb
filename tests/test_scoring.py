"""Answer metrics: every metric's rules, borders and bad inputs; official-format samples where present."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from dsgym.scoring import (METRICS, MetricParamError, Score, UnknownMetricError, metric_params,
                           score_answer)
from dsgym.scoring.lists import parse_list
from dsgym.scoring.numbers import parse_number
from dsgym.scoring.choice import options_in_text
from dsgym.scoring.numbers import choose_number

OFFICIAL = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "official" / "data" / "task"


def official(relative: str):
    path = OFFICIAL / relative
    if not path.is_file():
        pytest.skip(f"official fixture {path} is absent")
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return json.loads(path.read_text())


def graded(metric, prediction, reference, params=None, **kw) -> Score:
    score = score_answer(metric, prediction, reference, params, **kw)
    json.dumps(score.breakdown)  # every breakdown must fit in a JSON episode log
    return score


def value(metric, prediction, reference, params=None, **kw) -> float:
    return graded(metric, prediction, reference, params, **kw).value


# ----- the registry ---------------------------------------------------------------------------

def test_registry_holds_the_metric_contract():
    assert set(METRICS) == {"exact_match", "numeric", "list_match", "daeval", "dabstep", "choice", "llm_judge",
                            "pending", "official_exact_match", "official_list_match", "official_dabstep",
                            "official_llm_score", "official_hms", "official_equivalence"}  # official profiles'
    assert metric_params("numeric") == {"rel_tol": 1e-6, "abs_tol": 0.0, "percent_ok": False}
    assert metric_params("list_match") == {"ordered": False, "case_sensitive": False, "partial": False,
                                           "rel_tol": 1e-6, "abs_tol": 0.0}


def test_pending_scores_zero_until_a_reference_exists():
    score = score_answer("pending", "42", None)
    assert score.value == 0.0 and "no reference answer yet" in score.breakdown["reason"]
    assert score.breakdown["answer"] == "42"


def test_unknown_metric_is_a_clear_error():
    with pytest.raises(UnknownMetricError, match="unknown metric 'bleu'; known: .*exact_match"):
        score_answer("bleu", "a", "a")


def test_unknown_params_are_a_type_error_naming_the_known_ones():
    with pytest.raises(TypeError, match="rel_tolerance.*its params: rel_tol, abs_tol, percent_ok"):
        score_answer("numeric", "1", 1, {"rel_tolerance": 0.1})
    with pytest.raises(TypeError, match="question"):
        score_answer("choice", "A", "A", {"question": "from params"})


@pytest.mark.parametrize("metric,params", [
    ("numeric", {"rel_tol": -1}), ("numeric", {"abs_tol": "0.1"}), ("numeric", {"percent_ok": "yes"}),
    ("list_match", {"partial": 1}), ("daeval", {"abs_tol": float("nan")}), ("dabstep", {"rel_tol": -0.5}),
    ("exact_match", {"case_sensitive": None}), ("choice", {"options": 42}),
])
def test_invalid_param_values_raise(metric, params):
    with pytest.raises(MetricParamError):
        score_answer(metric, "1", "1", params)


# ----- bad inputs never raise -------------------------------------------------------------------

GOOD_REFERENCES = {
    "exact_match": "setosa", "numeric": 5.84, "list_match": ["a", "b"], "choice": "B",
    "daeval": "[['mean', '1.50'], ['name', 'x']]", "dabstep": "384, 394",
}
HUGE = "9" * 10_000_000


@pytest.mark.parametrize("metric", sorted(GOOD_REFERENCES))
@pytest.mark.parametrize("prediction,reason", [
    (None, "no answer"), ("", "empty answer"), ("  \n\t", "empty answer"), (HUGE, "answer too long"),
])
def test_unreadable_answers_score_zero_with_a_reason(metric, prediction, reason):
    started = time.monotonic()
    score = score_answer(metric, prediction, GOOD_REFERENCES[metric])
    assert score.value == 0.0 and reason in score.breakdown["reason"]
    assert time.monotonic() - started < 1.0
    assert len(json.dumps(score.breakdown)) < 10_000  # a huge answer never lands in the log


@pytest.mark.parametrize("metric", sorted(GOOD_REFERENCES))
@pytest.mark.parametrize("prediction", [
    "[[[", "@mean[", "]]]@@[[", "{'a': ", "🙂\x00\ud800 ∑∞ 𝔁", "\u202e\u200b", "1e999999", "-" * 1000,
    "[" * 5000 + "]" * 5000, "a,;\n" * 10_000, "@x[" * 5000, 12345, b"\xff\xfe bytes",
])
def test_malformed_answers_score_zero_without_raising(metric, prediction):
    score = graded(metric, prediction, GOOD_REFERENCES[metric])
    assert isinstance(score, Score) and score.value == 0.0


@pytest.mark.parametrize("metric", sorted(GOOD_REFERENCES))
@pytest.mark.parametrize("reference", [None, "[[malformed", {"no": object()}])
def test_broken_references_never_raise(metric, reference):
    score = graded(metric, "B", reference)
    assert isinstance(score, Score) and 0.0 <= score.value <= 1.0


# ----- exact_match ----------------------------------------------------------------------------

def test_exact_match_normalises_case_space_and_quotes():
    assert value("exact_match", "  'Iris-Setosa'. ", "iris-setosa") == 1.0
    assert value("exact_match", "setosa", "versicolor") == 0.0


@pytest.mark.parametrize("prediction", ["Setosa", "SETOSA!", "\u201cSetosa\u201d", "**setosa**", "`setosa`",
                                        "ｓｅｔｏｓａ", "  set\u00adosa  ".replace("\u00ad", ""), '"setosa."'])
def test_exact_match_variants(prediction):
    assert value("exact_match", prediction, "setosa") == 1.0


def test_exact_match_case_sensitive_and_inner_space():
    assert value("exact_match", "Enterocyte", "Enterocyte", {"case_sensitive": True}) == 1.0
    assert value("exact_match", "enterocyte", "Enterocyte", {"case_sensitive": True}) == 0.0
    assert value("exact_match", "iris   setosa", "iris setosa") == 1.0
    assert value("exact_match", "iris-setosa", "iris setosa") == 0.0
    assert value("exact_match", "42", 42) == 1.0


# ----- numbers and numeric --------------------------------------------------------------------

@pytest.mark.parametrize("text,number", [
    ("42", 42.0), ("The mean is -3.5 cm", -3.5), ("1,234,567.25", 1234567.25),
    ("1.5e-3", 0.0015), ("45%", 0.45), (".5", 0.5), ("no number", None),
    ("\u22123.5", -3.5), ("+7", 7.0), ("2.5E+3", 2500.0), ("1.5 × 10^-3", 0.0015), ("$1,200", 1200.0),
    ("x2 = 5", 5.0), ("COVID-19 cases: 12", 12.0), ("range 10-20", 10.0), ("nan", None), ("1e999", None),
])
def test_parse_number(text, number):
    from dsgym.scoring.text import clean

    assert parse_number(clean(text)) == number


def test_numeric_tolerances():
    assert value("numeric", "5.843", 5.8433, {"abs_tol": 5e-4}) == 1.0
    assert value("numeric", "5.85", 5.8433, {"abs_tol": 5e-4}) == 0.0
    assert value("numeric", "101", 100, {"rel_tol": 0.02}) == 1.0
    assert value("numeric", "50", 0.5, {"percent_ok": True}) == 1.0
    zero = score_answer("numeric", "unknown", 1.0)
    assert zero.value == 0.0 and zero.breakdown["reason"] == "no number in the answer"


@pytest.mark.parametrize("prediction,reference,params,expected", [
    ("0.4", 0.3, {"abs_tol": 0.1}, 1.0),        # the border is inclusive, float noise included
    ("0.4000001", 0.3, {"abs_tol": 0.1}, 0.0),
    ("101", 100, {"rel_tol": 0.01}, 1.0),        # relative to the reference
    ("101.0001", 100, {"rel_tol": 0.01}, 0.0),
    ("99", 100, {"rel_tol": 0.01}, 1.0),
    ("0.30000000000000004", 0.3, {}, 1.0),       # default: equal up to rounding noise
    ("5.8433", 5.84, {}, 0.0),
    ("0", 0, {}, 1.0), ("1e-9", 0, {}, 0.0), ("1e-9", 0, {"abs_tol": 1e-8}, 1.0),
])
def test_numeric_borders(prediction, reference, params, expected):
    assert value("numeric", prediction, reference, params) == expected


@pytest.mark.parametrize("prediction,reference,params,expected", [
    ("45%", 0.45, {}, 1.0), ("45%", 45, {}, 1.0), ("45", 0.45, {}, 0.0), ("45", 0.45, {"percent_ok": True}, 1.0),
    ("0.478", 47.8, {"percent_ok": True}, 1.0), ("0.478", 47.8, {}, 0.0),
    ("\u2212 0.2", -0.2, {}, 0.0), ("\u22120.2", -0.2, {}, 1.0), ("−1,234.5", "-1234.5", {}, 1.0),
    ("The answer: 12", "12", {}, 1.0), ("about 1.2e3 rows", 1200, {}, 1.0), ("12", "45%", {}, 0.0),
    ("0.45", "45%", {}, 1.0), ("3", "n/a", {}, 0.0), ("3", True, {}, 0.0), ("３.５", 3.5, {}, 1.0),
])
def test_numeric_forms(prediction, reference, params, expected):
    assert value("numeric", prediction, reference, params) == expected


@pytest.mark.parametrize("text,question,chosen,rule", [
    ("5.84", "", 5.84, "the only number"),
    ("The mean is 5.84 cm over 150 rows", "", 5.84, "first number"),
    ("The mean is 5.84 (n = 150)", "", 5.84, "ignoring numbers in brackets"),
    ("(n = 150) mean 5.84", "", 5.84, "ignoring numbers in brackets"),
    ("Of 891 passengers, the answer is 516.", "", 516, "after 'answer'"),
    ("Using a threshold of 3, there are 42 rows", "How many rows have x above 3?", 42, "from the question"),
    ("In 2023 there were 17 stores", "How many stores were open in 2023?", 17, "from the question"),
])
def test_choosing_among_several_numbers(text, question, chosen, rule):
    number, how, _ = choose_number(text, question)
    assert number.value == chosen and rule in how


def test_numeric_uses_the_question_through_score_answer():
    question = "How many of the 150 rows have petal length above 1.5?"
    assert value("numeric", "There are 37 rows (out of 150) above 1.5", 37, question=question) == 1.0
    assert value("numeric", "150 rows checked, 37 above 1.5", 37, question=question) == 1.0
    assert value("numeric", "150 rows checked, 37 above 1.5", 37) == 0.0  # without the question: first number


# ----- list_match -----------------------------------------------------------------------------

def test_list_match_ordered_and_unordered():
    assert parse_list('["a", "B"]') == ["a", "b"]
    assert parse_list("x; y\nz") == ["x", "y", "z"]
    assert value("list_match", "b, a", ["a", "b"]) == 1.0
    assert value("list_match", "b, a", ["a", "b"], {"ordered": True}) == 0.0
    assert value("list_match", "['a', 'b']", ["a", "b"], {"ordered": True}) == 1.0


@pytest.mark.parametrize("text,items", [
    ('["TP53", "BRCA1"]', ["tp53", "brca1"]), ("('TP53', 'BRCA1')", ["tp53", "brca1"]),
    ("{'TP53', 'BRCA1'}", ["brca1", "tp53"]), ("TP53\nBRCA1", ["tp53", "brca1"]),
    ("- TP53\n- BRCA1\n", ["tp53", "brca1"]), ("1. TP53\n2. BRCA1", ["tp53", "brca1"]),
    ("TP53; BRCA1", ["tp53", "brca1"]), ("Answer: TP53, BRCA1, and EGFR", ["tp53", "brca1", "egfr"]),
    ("[TP53, BRCA1]", ["tp53", "brca1"]), ("1,234, 5,678", ["1,234", "5,678"]), ("1,2,3", ["1", "2", "3"]),
    ("", []), ("[]", []), ("TP53", ["tp53"]),
])
def test_parse_list_forms(text, items):
    assert parse_list(text) == items


@pytest.mark.parametrize("prediction,reference,params,expected", [
    ("a, b, c", ["a", "b", "d"], {"partial": True}, 2 / 3),
    ("a, b", ["a", "b", "c", "d"], {"partial": True}, 2 / 3),          # P=1, R=1/2
    ("a, a, b", ["a", "b"], {}, 0.0),                                    # multisets: duplicates count
    ("a, a, b", ["a", "b"], {"partial": True}, 0.8),
    ("a, b, c", ["a", "c", "b"], {"ordered": True, "partial": True}, 1 / 3),
    ("a, b", ["a", "b", "c"], {"ordered": True, "partial": True}, 2 / 3),
    ("A, b", ["a", "B"], {"case_sensitive": True}, 0.0),
    ("A, B", ["A", "B"], {"case_sensitive": True}, 1.0),
    ("1.0, 2.0, 3.5", [1, 2, 3], {"partial": True, "abs_tol": 0.01}, 2 / 3),
    ("2.001, 0.999", [1, 2], {"abs_tol": 0.01}, 1.0),
    ("2.001, 0.999", [1, 2], {}, 0.0),
    ("1.04, 1.0", [1.05, 0.96], {"abs_tol": 0.05}, 1.0),                 # tolerance pairing finds the matching
    ("[]", [], {}, 1.0), ("", "[]", {}, 1.0), ("x", [], {}, 0.0), ("x", [], {"partial": True}, 0.0),
    ("[1, 2]", "1, 2", {"ordered": True}, 1.0),
])
def test_list_match_scores(prediction, reference, params, expected):
    assert value("list_match", prediction, reference, params) == pytest.approx(expected)


def test_list_match_breakdown_names_missing_and_extra_items():
    score = score_answer("list_match", "TP53, EGFR", "TP53, BRCA1", {"partial": True})
    assert score.breakdown["missing"] == ["brca1"] and score.breakdown["extra"] == ["egfr"]
    assert score.breakdown["precision"] == score.breakdown["recall"] == 0.5


def test_list_match_big_lists_are_fast_and_capped():
    many = ", ".join(str(i) for i in range(9000))
    started = time.monotonic()
    assert value("list_match", many, list(range(9000))[::-1], {"abs_tol": 0.5}) == 1.0
    assert time.monotonic() - started < 2.0
    score = score_answer("list_match", ", ".join(["x"] * 20_000), ["x"])
    assert score.value == 0.0 and "too many items" in score.breakdown["reason"]


def test_list_match_dsbio_style_answers():
    for task in official("dsbio/dsbio.json"):
        assert value("list_match", task["answer"], task["answer"]) == 1.0


# ----- daeval ---------------------------------------------------------------------------------

def daeval_task(index: int = 0) -> dict:
    return official("daeval/daeval.json")[index]


def test_daeval_official_answer_full_credit_in_any_order_with_extra_text():
    task = daeval_task(0)
    answer = ("The analysis is done.\n@age_skewness[0.39]\n@age_kurtosis[0.17]\n@age_values_within_one_stdev[516]\n"
              "@fare_skewness[4.78] @fare_kurtosis[33.2]\n@fare_values_within_one_stdev[818]\nThanks!")
    score = score_answer("daeval", answer, task["answer"])
    assert score.value == 1.0 and score.breakdown["all_correct"] and score.breakdown["total"] == 6


def test_daeval_partial_credit_is_the_fraction_of_parts_right():
    task = daeval_task(0)
    answer = ("@fare_kurtosis[33.20] @age_values_within_one_stdev[515] @fare_skewness[4.7849]\n"
              "@fare_values_within_one_stdev[818] @age_skewness[zero point four]")  # age_kurtosis missing
    score = score_answer("daeval", answer, task["answer"])
    assert score.value == pytest.approx(3 / 6) and not score.breakdown["all_correct"]
    verdicts = {s["name"]: (s["correct"], s["how"]) for s in score.breakdown["sub_answers"]}
    assert verdicts["fare_kurtosis"][0] and verdicts["fare_skewness"][0] and verdicts["fare_values_within_one_stdev"][0]
    assert verdicts["age_values_within_one_stdev"] == (False, "numeric: 515 vs 516 (±0.5)")
    assert verdicts["age_skewness"] == (False, "no number in the answer")
    assert verdicts["age_kurtosis"] == (False, "missing")


@pytest.mark.parametrize("predicted,expected", [
    ("0.176", 1.0), ("0.1764", 1.0), ("0.1755", 1.0), ("0.1765", 1.0),   # rounds to the reference's 3 decimals
    ("0.1766", 0.0), ("0.18", 0.0), ("0.175", 0.0), ("1.76e-1", 1.0), ("+0.176", 1.0), ("-0.176", 0.0),
    ("0.176 (weak)", 1.0),
])
def test_daeval_numeric_tolerance_follows_the_reference_decimals(predicted, expected):
    reference = daeval_task(3)["answer"]  # [['correlation_coefficient', '0.176']]
    assert value("daeval", f"@correlation_coefficient[{predicted}]", reference) == expected


def test_daeval_tolerance_params():
    reference = [["r", "0.49"]]
    assert value("daeval", "@r[0.5]", reference) == 0.0
    assert value("daeval", "@r[0.5]", reference, {"abs_tol": 0.01}) == 1.0
    assert value("daeval", "@r[0.4901]", reference, {"abs_tol": 0.0}) == 0.0
    assert value("daeval", "@r[0.5]", reference, {"abs_tol": 0.0, "rel_tol": 0.05}) == 1.0


def test_daeval_text_parts_and_reference_shapes():
    reference = daeval_task(1)["answer"]  # [['country_name', 'Congo']]
    assert value("daeval", "@country_name[congo]", reference) == 1.0
    assert value("daeval", "@Country_Name[ 'Congo'. ]", reference) == 1.0
    assert value("daeval", "@country_name[Brazil]", reference) == 0.0
    assert value("daeval", "@mean[1.5] @name[x]", [("mean", "1.50"), ("name", "x")]) == 1.0
    assert value("daeval", "@mean[1.5] @name[x]", {"mean": 1.5, "@name": "x"}) == 1.0
    assert value("daeval", "@cols[['b', 'a']]", [["cols", "['a', 'b']"]]) == 1.0


def test_daeval_last_occurrence_wins_and_extra_parts_are_listed():
    reference = [["corr", "0.49"]]
    answer = "Format: @corr[corr_coeff]\nFinal answer: @corr[0.49] @note[unused]"
    score = score_answer("daeval", answer, reference)
    assert score.value == 1.0 and score.breakdown["extra_parts"] == ["note"]


def test_daeval_reads_an_answer_written_like_the_release():
    reference = daeval_task(0)["answer"]
    assert value("daeval", reference, reference) == 1.0


def test_daeval_every_official_sample_scores_itself():
    for task in official("daeval/daeval.json"):
        pairs = json.loads(task["answer"].replace("'", '"'))
        answer = "\n".join(f"@{name}[{val}]" for name, val in pairs)
        assert value("daeval", answer, task["answer"]) == 1.0


def test_daeval_bad_reference_and_no_parts():
    assert "not a list of [name, value] pairs" in score_answer("daeval", "@a[1]", "just text").breakdown["reason"]
    score = score_answer("daeval", "the correlation is 0.49", [["corr", "0.49"]])
    assert score.value == 0.0 and score.breakdown["reason"] == "no @name[value] parts in the answer"
    assert value("daeval", "@corr[0.49", [["corr", "0.49"]]) == 0.0  # unclosed bracket


# ----- dabstep --------------------------------------------------------------------------------

def test_dabstep_official_samples_score_themselves():
    for task in official("DABStep/dev.jsonl"):
        assert value("dabstep", task["answer"], task["answer"]) == 1.0
        assert value("dabstep", "Not Applicable", task["answer"]) == 0.0


def test_dabstep_fee_id_lists_are_sets():
    answer = official("DABStep/dev.jsonl")[2]["answer"]  # "741, 709, 454, ..."
    items = [i.strip() for i in answer.split(",")]
    assert value("dabstep", ", ".join(reversed(items)), answer) == 1.0
    assert value("dabstep", "[" + ",".join(items) + "]", answer) == 1.0
    assert value("dabstep", "; ".join(items), answer) == 1.0
    assert value("dabstep", ", ".join(items[:-1]), answer) == 0.0
    assert value("dabstep", ", ".join(items[:-1] + ["999"]), answer) == 0.0


@pytest.mark.parametrize("prediction,reference,expected", [
    ("-0.94", "-0.94000000000005", 1.0),       # below 1: isclose with 1e-4
    ("-0.9401", "-0.94000000000005", 1.0),
    ("-0.9402", "-0.94000000000005", 0.0),
    ("0.94", "-0.94000000000005", 0.0),        # the sign counts (the official code drops it)
    ("12.3", "12.34", 1.0),                    # equal at the fewer decimals written
    ("12.4", "12.34", 0.0),
    ("100005", "100000", 1.0), ("100020", "100000", 0.0),
    ("1,234.50", "1234.5", 1.0), ("$1,234.5", "1234.5", 1.0), ("45.2%", "45.2", 1.0),
    ("The total is 42 EUR", "42", 1.0), ("42", "43", 0.0),
    ("NL", "NL", 1.0), ("nl", "NL", 1.0), ("The country is NL", "NL", 1.0), ("BE", "NL", 0.0),
    ("Not Applicable", "Not Applicable", 1.0), ("not applicable.", "Not Applicable", 1.0),
    ("applicable", "Not Applicable", 0.0), ("NL", "Not Applicable", 0.0),
    ("", "", 1.0), ("[]", "", 1.0), ("1, 2", "", 0.0),
    ("GlobalCard, NexPay", "NexPay, GlobalCard", 1.0), ("9.99, 10.0", "10.0, 9.99", 1.0),
    ("A: 1.5, B: 2.5", "B: 2.5, A: 1.5", 1.0),
    ("crossfit hanna", "Crossfit_Hanna", 0.0), ("Crossfit_Hanna", "crossfit_hanna", 1.0),
    ("Rafa_AI merchant pays the most", "Rafa_AI merchant pays the most.", 1.0),
])
def test_dabstep_rules(prediction, reference, expected):
    assert value("dabstep", prediction, reference) == expected


def test_dabstep_breakdown_says_which_rule_decided():
    assert score_answer("dabstep", "12.3", "12.34").breakdown["rule"] == "numbers equal at 1 decimals"
    assert score_answer("dabstep", "b, a", "a, b").breakdown["rule"] == "lists equal as sets"


# ----- choice ---------------------------------------------------------------------------------

def qrdata(index: int) -> dict:
    return official("QRData/qrdata.json")[index]


def choice_score(prediction: str, task: dict) -> float:
    return value("choice", prediction, task["answer"], {"options": task["metadata"]["multiple_choices"]},
                 question=task["question"])


@pytest.mark.parametrize("prediction,expected", [
    ("C", 1.0), ("c", 1.0), ("(C)", 1.0), ("C.", 1.0), ("**C**", 1.0), ("Answer: C", 1.0),
    ("The answer is C.", 1.0), ("The answer is (c)", 1.0), ("Final answer: option C", 1.0),
    ("C. The causal relation is double sided between Residual_RH and Residual_cloud_water", 1.0),
    ("C) double sided", 1.0),
    ("The causal relation is double sided between Residual_RH and Residual_cloud_water", 1.0),
    ("B", 0.0), ("(A)", 0.0), ("Residual_cloud_water causes Residual_RH", 0.0), ("E", 0.0),
    ("A or B", 0.0), ("I cannot tell", 0.0),
])
def test_choice_qrdata_lettered_options(prediction, expected):
    assert choice_score(prediction, qrdata(2)) == expected


def test_choice_reads_options_from_the_question():
    assert options_in_text(qrdata(2)["question"]) == {
        "A": "Residual_RH causes Residual_cloud_water", "B": "Residual_cloud_water causes Residual_RH",
        "C": "The causal relation is double sided between Residual_RH and Residual_cloud_water",
        "D": "No causal relationship exists"}
    inline = options_in_text(qrdata(0)["question"])  # "A. ..., B. ..., D. Representative in both aspects. Please ..."
    assert list(inline) == ["A", "B", "C", "D"] and inline["D"] == "Representative in both aspects"
    assert choice_score("Representative in both aspects", qrdata(0)) == 1.0
    assert choice_score("Representative in neither aspect", qrdata(0)) == 0.0


@pytest.mark.parametrize("prediction,expected", [
    ("no difference", 1.0), ("No difference.", 1.0), ("There is no difference", 1.0), ("B", 1.0),
    ("there is difference", 0.0), ("A", 0.0), ("'there is difference'", 0.0),
])
def test_choice_qrdata_text_options(prediction, expected):
    assert choice_score(prediction, qrdata(1)) == expected


def test_choice_option_shapes_and_no_options():
    assert value("choice", "(B)", "beta", {"options": {"A": "alpha", "B": "beta"}}) == 1.0
    assert value("choice", "beta", "B", {"options": "A. alpha\nB. beta"}) == 1.0
    assert value("choice", "B", "B") == 1.0 and value("choice", "answer: (b)", "B") == 1.0
    assert value("choice", "A", "B") == 0.0
    assert value("choice", "no difference", "no difference") == 1.0  # free text, no options known
    assert value("choice", "a causal relation", "no difference") == 0.0
    both = score_answer("choice", "either yes or no", "yes", {"options": ["yes", "no"]})
    assert both.value == 0.0 and "ambiguous" in both.breakdown["reason"]


def test_choice_prefers_the_question_letters_over_list_order():
    question = "Which holds?\nA. beta\nB. alpha"
    assert value("choice", "A", "beta", {"options": ["alpha", "beta"]}, question=question) == 1.0
    assert value("choice", "A", "beta", {"options": ["alpha", "beta"]}) == 0.0  # unlettered: list order
