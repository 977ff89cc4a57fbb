"""Model replies belong to their run: a new run never replays another's (issue 21, part 3), and every record
keeps each whole reply, shown by the viewer and exported as SFT data (part 4).  Real sandboxes, the real
`dsgym eval` command, and a local fake OpenAI server whose replies change between runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dsgym import registry, report
from dsgym.agents import ReActAgent
from dsgym.synth import export
from dsgym.view import build_site
from tests.support.fake_openai import FakeOpenAI, message_text
from tests.test_runner import cli, lines
from tests.test_view import body, browser, not_pwned, shoot  # noqa: F401 - browser is a fixture

pytestmark = pytest.mark.docker
TASK = "secret-test/no-data"  # "Say hi.": one code turn, then the answer


class Checkpoint:
    """A model served under one name whose weights change: its reasoning and answer name its version."""

    def __init__(self, version: str, answer: str):
        self.version, self.answer = version, answer

    def __call__(self, request: dict) -> str:
        if len(request["messages"]) == 2:  # system prompt and task prompt: the first turn
            return f"Checkpoint {self.version} thinks: first look at the numbers.\n<python>\nprint(6 * 7)\n</python>"
        seen = message_text(request["messages"][-1])
        return f"Checkpoint {self.version} saw {'42' if '42' in seen else 'nothing'}.\n<answer>{self.answer}</answer>"


@pytest.fixture
def model() -> Checkpoint:
    return Checkpoint("v1", "bye")


@pytest.fixture
def fake(model):
    with FakeOpenAI(replies=model) as server:
        yield server


def evaluate(fake: FakeOpenAI, out: Path, *extra: str, **env: str):
    result = cli("eval", TASK, "--agent", "react", "--model", "fake-model", "--base-url", fake.base_url,
                 "--out", str(out), *extra, **env)
    assert result.returncode == 0, result.stderr
    return result


def test_a_new_run_asks_the_model_and_a_resumed_run_replays_only_its_own_replies(docker_image, secret_suite,
                                                                                  fake, model, tmp_path):
    env = {"DSGYM_SUITES": str(secret_suite.root), "DSGYM_CACHE_DIR": str(tmp_path / "user-cache"),
           "DSGYM_LLM_CACHE_DIR": ""}
    evaluate(fake, tmp_path / "a", **env)
    (a,) = lines(tmp_path / "a")
    assert (a["answer"], a["score"], fake.calls) == ("bye", 0.0, 2)
    assert [t["cached"] for t in a["turns"]] == [False, False] and a["tokens"]["total_tokens"] > 0
    assert len(list((tmp_path / "a" / "llm-cache").glob("*.json"))) == 2  # the run's own cache

    model.version, model.answer = "v2", "hi"  # a new checkpoint served under the same model name
    result = evaluate(fake, tmp_path / "b", **env)
    (b,) = lines(tmp_path / "b")
    assert fake.calls == 4, "run b must ask the model, not replay run a"
    assert (b["answer"], b["score"]) == ("hi", 1.0) and "Checkpoint v2" in b["turns"][0]["reply"]
    assert [t["cached"] for t in b["turns"]] == [False, False] and b["tokens"]["total_tokens"] > 0
    assert "model replies: 2, 0 replayed from a cache (0%" in result.stdout
    assert not (tmp_path / "user-cache").exists()  # nothing shared behind the user's back

    # run a was killed after its episode's model calls, before the record was written: resume it
    (tmp_path / "a" / "episodes.jsonl").write_text("")
    result = evaluate(fake, tmp_path / "a", **env)
    (again,) = lines(tmp_path / "a")
    assert fake.calls == 4, "resuming run a must not call the model"
    assert [t["reply"] for t in again["turns"]] == [t["reply"] for t in a["turns"]]  # what run a saw: v1
    assert again["answer"] == "bye" and [t["cached"] for t in again["turns"]] == [True, True]
    assert again["tokens"]["total_tokens"] == 0 and again["turns"][0]["usage"] == a["turns"][0]["usage"]
    assert "model replies: 2, 2 replayed from a cache (100%" in result.stdout
    summary = report.summarize_run(tmp_path / "a")
    assert (summary.replies, summary.cached_replies) == (2, 2)
    from dsgym import leaderboard

    head, rows, _, _ = leaderboard.rows([summary, report.summarize_run(tmp_path / "b")])
    assert [row[head.index("cached replies")] for row in rows] == ["100%", "0%"]

    # --force starts a new run in a (other settings, same prompts): run a's replies are set aside with its log
    evaluate(fake, tmp_path / "a", "--episode-timeout", "500", "--force", **env)
    (fresh,) = lines(tmp_path / "a")
    assert fake.calls == 6 and fresh["answer"] == "hi" and not any(t["cached"] for t in fresh["turns"])
    (aside,) = (tmp_path / "a").glob("replaced-*")
    assert len(list((aside / "llm-cache").glob("*.json"))) == 2


def test_a_cache_shared_across_runs_is_opt_in(docker_image, secret_suite, fake, tmp_path):
    env = {"DSGYM_SUITES": str(secret_suite.root), "DSGYM_LLM_CACHE_DIR": ""}
    shared = tmp_path / "shared-cache"
    evaluate(fake, tmp_path / "c1", "--llm-cache", str(shared), **env)
    evaluate(fake, tmp_path / "c2", **{**env, "DSGYM_LLM_CACHE_DIR": str(shared)})  # the same, by environment
    assert fake.calls == 2 and not (tmp_path / "c1" / "llm-cache").exists()
    (first,), (second,) = lines(tmp_path / "c1"), lines(tmp_path / "c2")
    assert [t["cached"] for t in first["turns"]] == [False, False]
    assert [t["cached"] for t in second["turns"]] == [True, True] and second["answer"] == first["answer"]
    manifest = json.loads((tmp_path / "c2" / "manifest.json").read_text())
    assert manifest["invocations"][-1]["options"]["llm_cache"] == str(shared)


def test_the_whole_reply_is_kept_shown_and_exported(docker_image, secret_suite, fake, browser, tmp_path):  # noqa: F811
    from selenium.webdriver.common.by import By

    out = tmp_path / "run"
    evaluate(fake, out, DSGYM_SUITES=str(secret_suite.root), DSGYM_LLM_CACHE_DIR="")
    (record,) = lines(out)
    first, last = record["turns"]
    reasoning = "Checkpoint v1 thinks: first look at the numbers."
    assert first["reply"] == f"{reasoning}\n<python>\nprint(6 * 7)\n</python>"
    assert first["action"] == "<python>\nprint(6 * 7)\n</python>" and "42" in first["observation"]
    assert last["reply"] == "Checkpoint v1 saw 42.\n<answer>bye</answer>"
    assert first["finish_reason"] == "stop" and first["usage"]["completion_tokens"] == len(first["reply"].split())

    site = build_site([out], tmp_path / "site")
    browser.get((site.root / "run" / "index.html").as_uri())
    assert "0% of 2\nreplies from a cache" in body(browser)
    browser.get((site.root / "run" / "episodes" / "0.html").as_uri())
    turn = browser.find_element(By.ID, "turn-1")
    shown = turn.find_element(By.CSS_SELECTOR, "pre.reasoning")
    code = turn.find_element(By.CSS_SELECTOR, "pre.code")
    assert shown.text == reasoning and "print(6 * 7)" in code.text
    assert shown.location["y"] < code.location["y"]  # the reasoning above the code
    assert "Checkpoint v1 saw 42." in browser.find_element(By.ID, "turn-2").text
    not_pwned(browser)
    shoot(browser, "reasoning", tmp_path / "screens")

    # the SFT row is rebuilt from the same record, and is exactly the chat the model was sent
    task = registry.get_task("secret-test", "no-data")
    agent = ReActAgent(model="fake-model", base_url=fake.base_url)
    row = export.sft_row(task, record, task.answer, agent)
    sent = fake.requests[-1]["messages"]  # the second request: system, task, reply 1, observation 1
    assert row["messages"][:len(sent)] == [{"role": m["role"], "content": m["content"]} for m in sent]
    assert row["messages"][2] == {"role": "assistant", "content": first["reply"]}
    assert row["messages"][-1] == {"role": "assistant", "content": last["reply"]} and len(row["messages"]) == 5
    assert reasoning in body(browser)
