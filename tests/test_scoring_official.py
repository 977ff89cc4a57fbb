"""The official scoring profile: parity cases that separate it from dsgym's metrics, and the profile wherever a
number is shown (records, summary, rescore, leaderboard, view).  Judges are a local fake server (loopback)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import dsgym
from dsgym import registry
from dsgym.grading import grade, metric_used
from dsgym.run_folder import settings_differences
from dsgym.scoring import JudgeConfigError, JudgeRequestError, score_answer
from dsgym.scoring.judge import JudgeReplyError
from dsgym.scoring.profiles import UnknownProfileError
from tests.support.fake_openai import FakeOpenAI
from tests.support.helpers import REPO

FIXTURES = REPO / "tests" / "fixtures" / "official"
DSGYM = str(Path(sys.executable).with_name("dsgym"))


@pytest.fixture(scope="module")
def official():
    return {suite.name: suite for suite in dsgym.register_official(FIXTURES)}


@pytest.fixture(autouse=True)
def no_judge_env(monkeypatch, tmp_path):
    """No test may reach a judge configured on the developer's machine."""
    for name in ("DSGYM_JUDGE_MODEL", "DSGYM_JUDGE_BASE_URL", "OPENAI_BASE_URL", "DSGYM_LLM_CACHE_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DSGYM_CACHE_DIR", str(tmp_path / "cache"))


def both(task, answer):
    return grade(task, answer).value, grade(task, answer, scoring="official").value


# -- parity cases: answers the two profiles grade differently --------------------------------------------


def test_a_partly_right_daeval_answer_gets_partial_credit_from_dsgym_and_nothing_officially(official):
    task = registry.get_task("daeval", "7")  # [['mean_height', '1.70'], ['tallest', 'Ann']]
    assert both(task, "@mean_height[1.70]\n@tallest[Bob]") == (0.5, 0.0)
    assert both(task, "@mean_height[1.70]\n@tallest[Ann]") == (1.0, 1.0)
    assert metric_used(task, "official").metric == "official_list_match"


@pytest.mark.parametrize("answer,expected", [
    ("@mean_height[1.704]\n@tallest[Ann]", (1.0, 0.0)),  # rounds to the reference: dsgym yes, tolerance 0: no
    ("@mean_height[1.7]\n@tallest[Ann]", (1.0, 1.0)),  # the release compares numbers, so 1.7 is 1.70
    ("@mean_height[1.70]\n@tallest[ann]", (1.0, 0.0)),  # the release compares text values case-sensitively
    ("@mean_height[1.70]\n@tallest[Ann]\n@note[tall]", (1.0, 0.0)),  # an extra part: the counts differ
])
def test_daeval_rounding_and_text_variants(official, answer, expected):
    assert both(registry.get_task("daeval", "7"), answer) == expected


@pytest.mark.parametrize("task_id,answer,expected", [
    ("3", "55%", (1.0, 0.0)),  # reference "55.0%": not a plain float, so the release compares text only
    ("3", "0.55", (1.0, 0.0)),
    ("3", "55.0%", (1.0, 1.0)),
    ("2", "0.46", (1.0, 1.0)),  # reference 0.45: within the release's 3% (relative error, strictly below)
    ("2", "Answer: 0.45", (1.0, 0.0)),  # dsgym reads the number after a label; the release needs a plain float
    ("0", "A.", (1.0, 0.0)),  # multiple choice: the release compares the stripped, lower-cased text only
    ("0", "a", (1.0, 1.0)),
])
def test_qrdata_number_and_choice_variants(official, task_id, answer, expected):
    task = registry.get_task("qrdata", task_id)
    assert task.metadata["official_answer"] == {"0": "A", "2": "0.45", "3": "55.0%"}[task_id]
    assert both(task, answer) == expected


@pytest.mark.parametrize("task_id,answer,expected", [
    ("17", "0.50", (1.0, 0.0)),  # a number written with another precision: a string to the release
    ("305", "1, 2, 3", (1.0, 0.0)),  # the same ids in another order
    ("1", "  schemea ", (1.0, 1.0)),  # stripped and lower-cased under both
])
def test_dabstep_variants(official, task_id, answer, expected):
    assert both(registry.get_task("dabstep", task_id), answer) == expected


def test_dsbio_numbers_must_match_as_text_officially(official):
    task = next(t for t in registry.get_suite("dsbio").tasks.values() if t.metadata.get("official_answer") == "0.976")
    assert both(task, "0.9760") == (1.0, 0.0)  # numeric tolerance 0: the release's number test never passes
    assert both(task, "0.976") == (1.0, 1.0)
    genes = next(t for t in registry.get_suite("dsbio").tasks.values() if t.metric == "list_match")
    assert both(genes, "['geneb', 'GENEA']") == (1.0, 1.0)  # lists compare as sets of lower-cased items


def test_union_tasks_are_graded_by_their_source_suite(official):
    task = registry.get_task("dsgym-tasks", "daeval-7")
    assert metric_used(task, "official").metric == "official_list_match"
    assert both(task, "@mean_height[1.70]\n@tallest[Bob]") == (0.5, 0.0)


def test_suites_without_an_official_grader_keep_dsgyms_metric_and_say_why(official):
    lite = next(iter(registry.get_suite("dsgym-tasks-lite").tasks.values()))
    choice = metric_used(lite, "official")
    assert choice.metric == lite.metric and not choice.official and "not an official suite" in choice.note
    board = next(iter(registry.get_suite("dspredict-easy").tasks.values()))
    choice = metric_used(board, "official")
    assert choice.metric == "prediction" and "Kaggle" in choice.note
    with pytest.raises(UnknownProfileError, match="official"):
        metric_used(lite, "paper")


def test_profile_is_an_env_option_and_a_bad_one_is_refused(official):
    with pytest.raises(ValueError, match="unknown scoring profile 'paper'"):
        dsgym.make("daeval/7", scoring="paper")
    env = dsgym.make("daeval/7", scoring="official")
    try:
        assert env.unwrapped.config.scoring == "official"
    finally:
        env.close()


def test_a_resume_under_another_profile_is_refused_clearly():
    run = {"targets": ["daeval"], "env_options": {"sandbox": "docker"}}
    now = {"targets": ["daeval"], "env_options": {"sandbox": "docker", "scoring": "official"}}
    diffs = settings_differences(run, now)
    assert diffs[0].startswith("scoring profile: dsgym (in the run) vs official (now)")
    assert settings_differences(run, {**run, "env_options": {"sandbox": "docker"}}) == []


def test_summaries_name_the_profile_and_warn_about_mixed_or_unofficial_grading():
    from dsgym import report

    def record(task_id, suite, scoring, metric, score=1.0):
        return {"env_id": f"{suite}/{task_id}", "suite": suite, "task_id": task_id, "score": score,
                "scoring": scoring, "metric": metric}

    official = report.summarize([record("7", "daeval", "official", "official_list_match", 0.0),
                                 record("a", "dsgym-tasks-lite", "official", "numeric")], scoring="official")
    assert official.scoring == "official" and official.to_dict()["scoring"] == "official"
    assert official.metrics == {"numeric": 1, "official_list_match": 1}
    assert any("1 episode(s) have no official grader" in note and "dsgym-tasks-lite (1)" in note
               for note in official.notes)
    assert "scoring: official" in report.summary_table(official).title
    old = report.summarize([{"env_id": "daeval/7", "suite": "daeval", "task_id": "7", "score": 0.5}])
    assert old.scoring == "dsgym"  # a record from before profiles was graded by dsgym's metrics
    mixed = report.summarize([record("7", "daeval", "official", "official_list_match"),
                              record("8", "daeval", "dsgym", "daeval")])
    assert mixed.scoring.startswith("mixed") and any(note.startswith("WARNING") for note in mixed.notes)


# -- the official judge and HMS against a fake judge -----------------------------------------------------

QUESTION = "How does light colour affect growth?"
GOLD = "Plants under blue light grew taller than plants under red light."
PARAPHRASE = "Blue-lit plants ended up higher than the ones kept under red lamps."


def judge_params(server, **more):
    return {"model": "judge-model", "base_url": server.base_url, "api_key": "k", "max_retries": 1, **more}


def test_a_filtered_copy_of_an_official_suite_is_graded_by_its_source_suites_grader(official, tmp_path):
    from dsgym.filter import filter_suite

    filter_suite(official["daeval"], tmp_path / "once", checks=["well_formed"], register=True, name="daeval-once",
                 copy_data=True)
    filter_suite("daeval-once", tmp_path / "twice", checks=["well_formed"], register=True, name="daeval-twice")
    for name in ("daeval-once", "daeval-twice"):
        task = registry.get_task(name, "7")
        assert task.metadata["source_suite"] == "daeval"
        assert metric_used(task, "official").metric == "official_list_match"
        assert grade(task, "@mean_height[1.70] @tallest[Bob]", scoring="official").value == 0.0  # all or nothing


def test_the_official_judge_accepts_a_paraphrase_only_on_its_final_line(tmp_path):
    with FakeOpenAI(replies=["Thoughts: both say blue light gives taller plants.\n\n## The final answer is: True",
                             '{"verdict": "correct"}']) as fake:
        accepted = score_answer("official_llm_score", PARAPHRASE, GOLD, judge_params(fake), question=QUESTION)
        assert accepted.value == 1.0 and accepted.breakdown["verdict"] == "True"
        assert score_answer("exact_match", PARAPHRASE, GOLD).value == 0.0  # only a judge accepts the paraphrase
        prompt = fake.requests[0]["messages"][-1]["content"]
        assert QUESTION in prompt and GOLD in prompt and PARAPHRASE in prompt and "1% relative error" in prompt
        # the release reads nothing but its final-answer line: a verdict in another form scores 0
        unread = score_answer("official_llm_score", PARAPHRASE + " ", GOLD, judge_params(fake), question=QUESTION)
        assert unread.value == 0.0 and "final answer" in unread.breakdown["reason"]


def test_official_judge_grades_daeval_qrdata_dabstep_by_the_equivalence_judge(official, monkeypatch):
    """The release's evaluator defaults: equivalence_by_llm for DAEval, QRData and DABStep; the match stays beside."""
    task = registry.get_task("daeval", "7")  # [['mean_height', '1.70'], ['tallest', 'Ann']]
    choice = metric_used(task, "official-judge")
    assert choice.metric == "official_equivalence" and choice.judged and choice.official
    assert choice.params == {"match": "official_list_match", "match_params": {"numeric_tolerance": 0.0}}
    assert metric_used(registry.get_task("dsgym-tasks", "qrdata-2"), "official-judge").params["match"] == \
        "official_exact_match"
    assert metric_used(registry.get_task("dsbio", "0"), "official-judge").metric == "official_exact_match"
    answer = "Mean height is 1.70 m; the tallest is Ann."  # right, but not in the @name[value] form
    with FakeOpenAI(replies=["Thoughts: both values agree.\n## The final answer is: True"]) as fake:
        monkeypatch.setenv("DSGYM_JUDGE_MODEL", "judge-model")
        monkeypatch.setenv("DSGYM_JUDGE_BASE_URL", fake.base_url)
        judged = grade(task, answer, scoring="official-judge")
    assert (grade(task, answer).value, grade(task, answer, scoring="official").value, judged.value) == (0.0, 0.0, 1.0)
    assert judged.breakdown["match_metric"] == "official_list_match" and judged.breakdown["match_score"] == 0.0
    prompt = fake.requests[0]["messages"][-1]["content"]
    assert task.question in prompt and answer in prompt and "1% relative error" in prompt


def test_the_official_judge_needs_a_model():
    with pytest.raises(JudgeConfigError, match="official_hms metric has no model"):
        score_answer("official_hms", PARAPHRASE, GOLD, question=QUESTION)


def hms_judge(*, gold_parts, answer_parts, contexts_match, variables, relation, verdict="True"):
    """A fake judge that answers each HMS question by what the prompt asks."""
    def reply(body):
        text = "\n".join(m["content"] for m in body["messages"])
        if "Break a hypothesis" in text:
            return json.dumps({"sub_hypo": gold_parts if json.dumps(GOLD)[1:-1] in text else answer_parts})
        if "predicted context" in text:
            return json.dumps({"match": contexts_match})
        if "which variables" in text:
            return "```json\n" + json.dumps(variables) + "\n```"
        if "same relation" in text:
            return json.dumps({"answer": relation, "explanation": "fake"})
        return f"Thoughts: fake.\n## The final answer is: {verdict}"
    return reply


def test_hms_is_the_official_product_of_context_recall_variable_f1_and_relation(tmp_path):
    gold_parts = [{"text": "blue > red", "context": "all plants", "variables": ["light", "height"],
                   "relations": "taller"},
                  {"text": "blue grows faster", "context": "seedlings", "variables": ["light", "rate"],
                   "relations": "faster"}]
    answer_parts = [{"text": "blue-lit higher", "context": "all plants", "variables": ["lamp", "height"],
                     "relations": "higher"},
                    {"text": "red stays short", "context": "indoor pots", "variables": ["lamp"], "relations": "lower"}]
    fake_reply = hms_judge(gold_parts=gold_parts, answer_parts=answer_parts, contexts_match=False,
                           variables={"sizeA": 2, "sizeB": 3, "intersection": 2},
                           relation="B) similar but general than HypoA")
    with FakeOpenAI(replies=fake_reply) as fake:
        score = score_answer("official_hms", PARAPHRASE, GOLD, judge_params(fake), question=QUESTION)
    # P0 matches G0 by equal context (no call); P1 vs G1 asks the judge: no.  recall 1/2;
    # variables p = 2/3, r = 2/2, F1 = 0.8; relation 0.5; one pair of two answer parts: 0.4 / 2
    assert score.breakdown["matched"] == ["P0||G0"] and score.breakdown["recall_context"] == 0.5
    assert score.breakdown["variables"]["f1"] == pytest.approx(0.8) and score.breakdown["relation"] == 0.5
    assert score.value == pytest.approx(0.5 * 0.4 / 2)
    assert score.breakdown["llm_score"] == 1.0
    asked = [m["content"] for r in fake.requests for m in r["messages"] if m["role"] == "user"]
    assert sum("predicted context" in text for text in asked) == 1


def test_hms_of_a_paraphrase_a_judge_finds_equivalent_is_1(tmp_path):
    part = [{"text": GOLD, "context": "all plants", "variables": ["light", "height"], "relations": "taller"}]
    fake_reply = hms_judge(gold_parts=part, answer_parts=part, contexts_match=True,
                           variables={"sizeA": 2, "sizeB": 2, "intersection": 2}, relation="A) very similar")
    with FakeOpenAI(replies=fake_reply) as fake:
        assert score_answer("official_hms", PARAPHRASE, GOLD, judge_params(fake), question=QUESTION).value == 1.0


def test_hms_without_a_verdict_is_a_scoring_error_not_a_number(tmp_path):
    """The release multiplies an unreadable reply in as -1 (two of them: a perfect 1.0) and reads a failed
    context check as "no match" (a 0); here both are scoring errors that keep the answer for a rescore."""
    part = [{"text": GOLD, "context": "all plants", "variables": ["light", "height"], "relations": "taller"}]
    other = [{"text": PARAPHRASE, "context": "potted plants", "variables": ["lamp"], "relations": "higher"}]
    unreadable = hms_judge(gold_parts=part, answer_parts=part, contexts_match=True,
                           variables="I cannot count these.", relation="E) no idea")
    with FakeOpenAI(replies=unreadable) as fake:
        with pytest.raises(JudgeReplyError, match="variables and relation question was unreadable"):
            score_answer("official_hms", PARAPHRASE, GOLD, judge_params(fake, cache=False), question=QUESTION)
    readable = hms_judge(gold_parts=part, answer_parts=other, contexts_match=True,
                         variables={"sizeA": 2, "sizeB": 1, "intersection": 1}, relation="A) very similar")
    with FakeOpenAI(replies=readable) as fake:
        fake.fail_next(100, status=500)  # every request, retries included
        with pytest.raises(JudgeRequestError, match="failed after retries"):
            score_answer("official_hms", PARAPHRASE, GOLD, judge_params(fake, cache=False), question=QUESTION)


def test_discoverybench_is_graded_by_hms_under_the_official_profile(official, monkeypatch):
    task = next(iter(registry.get_suite("discoverybench").tasks.values()))
    part = [{"text": "t", "context": "c", "variables": ["light"], "relations": "r"}]
    fake_reply = hms_judge(gold_parts=part, answer_parts=part, contexts_match=True,
                           variables={"sizeA": 1, "sizeB": 1, "intersection": 1}, relation="C) different",
                           verdict="False")
    with FakeOpenAI(replies=fake_reply) as fake:
        monkeypatch.setenv("DSGYM_JUDGE_MODEL", "judge-model")
        monkeypatch.setenv("DSGYM_JUDGE_BASE_URL", fake.base_url)
        score = grade(task, "Red light makes plants taller.", scoring="official")
    assert metric_used(task, "official").metric == "official_hms"
    assert score.value == 0.0 and score.breakdown["relation"] == 0.0 and score.breakdown["llm_score"] == 0.0


def stored_run(folder: Path, suite: str, task_id: str, answer: str, score: float, metric: str) -> Path:
    """A run folder holding one answered episode scored under dsgym's profile (no sandbox needed to rescore it)."""
    from dsgym.run_folder import write_manifest

    run = folder / "run"
    run.mkdir()
    write_manifest(run, {"format": 1, "name": "run", "settings": {"targets": [f"{suite}/{task_id}"], "agent": "x",
                                                                   "env_options": {}}})
    record = {"env_id": f"{suite}/{task_id}", "suite": suite, "task_id": task_id, "sample": 0, "status": "ok",
              "termination": "answer", "answer": answer, "score": score, "scoring": "dsgym", "metric": metric}
    (run / "episodes.jsonl").write_text(json.dumps(record) + "\n")
    return run


def test_judged_tasks_rescored_without_a_judge_carry_no_score_of_the_other_profile(official, tmp_path, monkeypatch):
    from dsgym.rescore import rescore
    from dsgym.runlog import RunDirError

    run = stored_run(tmp_path, "discoverybench", "0", PARAPHRASE, 1.0, "llm_judge")
    result = rescore(run, scoring="official")
    copy = tmp_path / "run-official"
    assert result.out == copy and result.regraded == 0
    unscored = records_of(copy)["0"]
    assert unscored["score"] is None and unscored["error_type"] == "scoring" and unscored["previous_score"] == 1.0
    assert "needs a judge model" in unscored["error"] and records_of(run)["0"]["score"] == 1.0
    with pytest.raises(RunDirError, match="not empty"):
        rescore(run, scoring="official")
    part = [{"text": "t", "context": "c", "variables": ["light"], "relations": "r"}]
    with FakeOpenAI(replies=hms_judge(gold_parts=part, answer_parts=part, contexts_match=True,
                                      variables={"sizeA": 1, "sizeB": 1, "intersection": 1},
                                      relation="A) very similar")) as fake:
        monkeypatch.setenv("DSGYM_JUDGE_MODEL", "judge-model")
        monkeypatch.setenv("DSGYM_JUDGE_BASE_URL", fake.base_url)
        result = rescore(copy, allow_judge=True)  # the copy's own profile: in place
    graded = records_of(copy)["0"]
    assert result.out == copy and (graded["score"], graded["scoring"], graded["metric"]) == (1.0, "official",
                                                                                             "official_hms")
    assert (copy / "llm-cache").is_dir()  # the judge's replies stay with the run


def test_a_rescore_under_another_profile_interrupted_midway_can_be_run_again(official, tmp_path, monkeypatch):
    """Ctrl-C before the copy's manifest is written leaves an unfinished copy that the next rescore redoes."""
    import dsgym.rescore as rescoring

    run = stored_run(tmp_path, "daeval", "7", "@mean_height[1.70] @tallest[Bob]", 0.5, "list_match")
    (run / "artifacts").mkdir()
    (run / "artifacts" / "kept.txt").write_text("x")

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(rescoring, "write_manifest", interrupted)
    with pytest.raises(KeyboardInterrupt):
        rescoring.rescore(run, scoring="official")
    copy = tmp_path / "run-official"
    assert (copy / rescoring.UNFINISHED).is_file() and not (copy / "manifest.json").exists()
    monkeypatch.undo()
    result = rescoring.rescore(run, scoring="official")
    assert result.out == copy and not (copy / rescoring.UNFINISHED).exists()
    graded = records_of(copy)["7"]
    assert (graded["score"], graded["scoring"], graded["previous_score"]) == (0.0, "official", 0.5)
    assert (copy / "artifacts" / "kept.txt").read_text() == "x" and records_of(run)["7"]["score"] == 0.5
    with pytest.raises(rescoring.RunDirError, match="not empty"):  # a finished copy is never cleared
        rescoring.rescore(run, scoring="official")


# -- a real run: eval, rescore under the official profile, summary, leaderboard, view -------------------


def cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "DSGYM_DATA_DIR": str(FIXTURES)}
    return subprocess.run([DSGYM, *args], capture_output=True, text=True, timeout=600, env=env, check=False)


def records_of(run: Path) -> dict[str, dict]:
    lines = (run / "episodes.jsonl").read_text().splitlines()
    return {r["task_id"]: r for r in map(json.loads, lines)}


@pytest.mark.docker
def test_rescore_official_writes_a_new_run_and_every_view_names_the_profile(docker_image, tmp_path):
    run, agent = tmp_path / "run", "tests.support.fixed_answers:FixedAnswers"
    played = cli("eval", "daeval/7", "qrdata/2", "qrdata/3", "--agent", agent, "--image", docker_image,
                 "--out", str(run))
    assert played.returncode == 0, played.stderr
    assert "scoring: dsgym" in played.stdout
    before = records_of(run)
    assert {k: (r["score"], r["scoring"], r["metric"]) for k, r in before.items()} == {
        "7": (0.5, "dsgym", "daeval"), "2": (1.0, "dsgym", "numeric"), "3": (1.0, "dsgym", "numeric")}
    assert json.loads((run / "summary.json").read_text())["scoring"] == "dsgym"

    refused = cli("eval", "daeval/7", "qrdata/2", "qrdata/3", "--agent", agent, "--image", docker_image,
                  "--out", str(run), "--scoring", "official")
    assert refused.returncode == 2 and "scoring profile: dsgym (in the run) vs official (now)" in refused.stderr

    rescored = cli("rescore", str(run), "--scoring", "official")
    assert rescored.returncode == 0, rescored.stderr
    copy = tmp_path / "run-official"
    assert f"{run} -> {copy}" in rescored.stdout and "scoring: official" in rescored.stdout
    assert records_of(run) == before  # the original scores are kept as they were
    after = records_of(copy)
    assert {k: (r["score"], r["scoring"], r["metric"], r["previous_score"]) for k, r in after.items()} == {
        "7": (0.0, "official", "official_list_match", 0.5), "2": (1.0, "official", "official_exact_match", 1.0),
        "3": (0.0, "official", "official_exact_match", 1.0)}
    manifest = json.loads((copy / "manifest.json").read_text())
    assert manifest["settings"]["env_options"]["scoring"] == "official"
    assert manifest["rescored_from"]["scoring"] == "dsgym"
    assert json.loads((copy / "summary.json").read_text())["scoring"] == "official"

    # an eval played under the official profile grades as the rescore did
    direct = tmp_path / "direct"
    played = cli("eval", "daeval/7", "qrdata/2", "qrdata/3", "--agent", agent, "--image", docker_image,
                 "--out", str(direct), "--scoring", "official")
    assert played.returncode == 0, played.stderr
    assert {k: r["score"] for k, r in records_of(direct).items()} == {k: r["score"] for k, r in after.items()}
    resumed = cli("eval", "--out", str(direct))  # no targets: the run's own settings, its profile included
    assert resumed.returncode == 0 and "skipping 3 episode(s) already recorded" in resumed.stderr

    mixed = cli("leaderboard", str(run), str(copy))
    assert mixed.returncode == 2 and "different scoring profiles" in mixed.stderr
    board = cli("leaderboard", str(copy), str(direct))
    assert board.returncode == 0 and "Scoring profile: official" in board.stdout

    site = tmp_path / "site"
    viewed = cli("view", str(copy), "--out", str(site))
    assert viewed.returncode == 0, viewed.stderr
    pages = {p.name: p.read_text() for p in site.rglob("*.html")}
    assert any("scoring profile" in text and "official" in text for text in pages.values())
    assert any("scoring official: official_list_match" in text for text in pages.values())
