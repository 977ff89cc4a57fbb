"""The llm_judge metric against the local fake server (loopback only)."""

from __future__ import annotations

import pytest

from dsgym.scoring import JudgeConfigError, JudgeRequestError, ScoringError, score_answer
from dsgym.scoring.judge import SYSTEM_PROMPT, parse_verdict
from tests.support.fake_openai import FakeOpenAI

QUESTION = "How did urban land use affect the invasion of different types of introduced plants?"
REFERENCE = "Urban land use reduced invasion by gardening plants over unintentionally introduced ones."
ANSWER = "Gardening plants invaded less than accidental introductions where land use was urban."


@pytest.fixture(autouse=True)
def no_judge_env(monkeypatch, tmp_path):
    """No test may reach a judge configured on the developer's machine."""
    for name in ("DSGYM_JUDGE_MODEL", "DSGYM_JUDGE_BASE_URL", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DSGYM_CACHE_DIR", str(tmp_path / "cache"))


def judge(server: FakeOpenAI, prediction=ANSWER, reference=REFERENCE, **params):
    params = {"model": "judge-model", "base_url": server.base_url, "api_key": "k", "max_retries": 1, **params}
    return score_answer("llm_judge", prediction, reference, params, question=QUESTION)


@pytest.mark.parametrize("reply,verdict", [
    ('{"verdict": "correct"}', True),
    ('{"verdict": "incorrect"}', False),
    ('```json\n{"verdict": "incorrect", "reason": "reversed"}\n```', False),
    ('Sure! {"correct": true}', True),
    ('{"equivalent": false}', False),
    ('{"score": 1}', True),
    ("yes", True), ("No.", False), ("TRUE", True), ("false", False), ("Correct", True), ("**Incorrect**", False),
    ("1", True), ("0", False),
    ("Thoughts: both say the same.\n\n## The final answer is: True", True),
    ("Verdict: not equivalent, the direction differs", False),
    ("<think>is it correct? maybe</think>\nincorrect", False),
    ("The candidate is incorrect because it reverses the effect.", False),
    ("The candidate answer is correct.", True),
])
def test_verdicts_are_read_robustly(reply, verdict):
    got, how = parse_verdict(reply)
    assert got is verdict, how


@pytest.mark.parametrize("reply", ["", "   ", "I like turtles", "maybe?", '{"verdict": "unsure"}',
                                   "correct or incorrect, hard to say", "not incorrect"])
def test_unreadable_verdicts_are_none(reply):
    assert parse_verdict(reply)[0] is None


def test_judge_asks_once_with_a_rubric_and_scores_the_verdict(tmp_path):
    with FakeOpenAI(replies=['{"verdict": "correct"}']) as fake:
        score = judge(fake, cache_dir=tmp_path / "judge")
        assert score.value == 1.0
        assert score.breakdown["verdict"] == "correct" and score.breakdown["judge_model"] == "judge-model"
        assert not score.breakdown["cached"] and score.breakdown["usage"]["total_tokens"] > 0
        request = fake.requests[0]
        assert request["model"] == "judge-model" and request["temperature"] == 0.0
        system, user = request["messages"]
        assert system == {"role": "system", "content": SYSTEM_PROMPT}
        assert QUESTION in user["content"] and REFERENCE in user["content"] and ANSWER in user["content"]

        again = judge(fake, cache_dir=tmp_path / "judge")  # the queue is empty: only the cache can answer
        assert again.value == 1.0 and again.breakdown["cached"] and fake.calls == 1


def test_a_no_verdict_scores_zero(tmp_path):
    with FakeOpenAI(replies="No") as fake:
        score = judge(fake, cache_dir=tmp_path)
    assert score.value == 0.0 and score.breakdown["verdict"] == "incorrect"


def test_a_garbage_reply_scores_zero_with_the_reply_in_the_breakdown(tmp_path):
    with FakeOpenAI(replies="I like turtles") as fake:
        score = judge(fake, cache_dir=tmp_path)
    assert score.value == 0.0
    assert "could not read a verdict" in score.breakdown["reason"]
    assert score.breakdown["judge_reply"] == "I like turtles"


def test_the_cache_is_on_disk_and_keyed_by_model_and_prompt(tmp_path):
    with FakeOpenAI(replies="yes") as fake:
        judge(fake, cache_dir=tmp_path)
        judge(fake, cache_dir=tmp_path)
        assert fake.calls == 1
        judge(fake, prediction="A different answer.", cache_dir=tmp_path)
        judge(fake, model="another-judge", cache_dir=tmp_path)
        assert fake.calls == 3
        judge(fake, cache_dir=tmp_path, cache=False)
        assert fake.calls == 4


def test_missing_model_is_a_clear_error():
    with pytest.raises(JudgeConfigError, match="DSGYM_JUDGE_MODEL") as info:
        score_answer("llm_judge", ANSWER, REFERENCE, question=QUESTION)
    assert isinstance(info.value, ScoringError)
    with pytest.raises(JudgeConfigError):  # even an empty answer cannot hide a misconfigured suite
        score_answer("llm_judge", "", REFERENCE)


def test_configuration_from_the_environment(monkeypatch):
    with FakeOpenAI(replies="correct") as fake:
        monkeypatch.setenv("DSGYM_JUDGE_MODEL", "env-judge")
        monkeypatch.setenv("DSGYM_JUDGE_BASE_URL", fake.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "env-key")
        score = score_answer("llm_judge", ANSWER, REFERENCE, question=QUESTION)
        assert score.value == 1.0 and fake.requests[0]["model"] == "env-judge"
        assert fake.received[0].headers["authorization"] == "Bearer env-key"


def test_a_failing_endpoint_is_no_score_but_a_scoring_error_saying_so(tmp_path):
    """A 0 would read as a wrong answer (and, in the blind probe, as a model that failed)."""
    with FakeOpenAI(replies="yes") as fake:
        fake.fail_next(5, status=500, retry_after=0)
        with pytest.raises(JudgeRequestError, match="judge request failed"):
            judge(fake, cache_dir=tmp_path, max_retries=1)
        assert fake.calls == 2
        fake.fail_next(5, status=500, retry_after=0)
        with pytest.raises(JudgeRequestError, match="judge request failed"):
            score_answer("official_llm_score", ANSWER, REFERENCE, {"model": "m", "base_url": fake.base_url,
                                                                   "api_key": "k", "max_retries": 1,
                                                                   "cache_dir": str(tmp_path)}, question=QUESTION)


@pytest.mark.parametrize("prediction,reason", [(None, "no answer"), ("", "empty answer"), ("  \n", "empty answer"),
                                               ("x" * 10_000_000, "answer too long")])
def test_bad_answers_score_zero_without_asking(tmp_path, prediction, reason):
    with FakeOpenAI(replies="yes") as fake:
        score = judge(fake, prediction=prediction, cache_dir=tmp_path)
        assert score.value == 0.0 and reason in score.breakdown["reason"] and fake.calls == 0


def test_unicode_answers_reach_the_judge(tmp_path):
    with FakeOpenAI(replies="yes") as fake:
        score = judge(fake, prediction="Gärtnerpflanzen \u2212 weniger invasiv \ud800 🌱", cache_dir=tmp_path)
        assert score.value == 1.0
        assert "Gärtnerpflanzen" in fake.requests[0]["messages"][1]["content"]


def test_unknown_judge_params_are_a_type_error():
    with pytest.raises(TypeError, match="temperature"):
        score_answer("llm_judge", ANSWER, REFERENCE, {"model": "m", "temperature": 0.7})


def test_verdicts_are_cached_with_the_run_being_graded_and_nowhere_else(tmp_path, monkeypatch):
    from dsgym.llm import caching_in

    monkeypatch.delenv("DSGYM_LLM_CACHE_DIR", raising=False)
    with FakeOpenAI(replies="yes") as fake:
        judge(fake)
        judge(fake)
        assert fake.calls == 2 and not (tmp_path / "cache").exists()  # no run, no cache shared behind one's back
        for run in ("run-a", "run-b"):  # what the runner does around each episode of a run
            with caching_in(tmp_path / run / "llm-cache"):
                assert not judge(fake).breakdown["cached"]
                assert judge(fake).breakdown["cached"]
        assert fake.calls == 4  # run b asked again instead of replaying run a's verdict
        assert [len(list((tmp_path / run / "llm-cache").glob("*.json"))) for run in ("run-a", "run-b")] == [1, 1]
