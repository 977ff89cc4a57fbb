"""The synthesis pipeline's pieces without a sandbox: parsing, evidence, consensus, dedup, sources, budgets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dsgym.synth import Budget, BudgetExhausted, SourceError, discover
from dsgym.synth import filters, generate, verify
from dsgym.synth.budget import BudgetedClient
from dsgym.synth.sources import Dataset
from tests.support.fake_openai import FakeOpenAI

DATASET = Dataset("farms", "/tmp/x", Path("/tmp/x"), ("farms.csv",))


def candidate(kind: str, decimals: int = 2) -> object:
    question = {"question": "q?", "answer_type": kind, "guideline": ""}
    if kind == "number":
        question["decimals"] = decimals
    return generate.candidate(DATASET, "synth-test", 1, question)


# -- question parsing ---------------------------------------------------------------------------------

def test_questions_are_read_from_tags_fences_or_a_bare_array_and_bad_entries_are_reported():
    good = {"question": "Mean of x?", "answer_type": "number", "decimals": 3}
    for reply in (f"<questions>{json.dumps([good])}</questions>", f"```json\n{json.dumps([good])}\n```",
                  f"Sure! {json.dumps([good])} Hope this helps."):
        questions, problems = generate.parse(reply)
        assert questions == [{"question": "Mean of x?", "answer_type": "number", "guideline": "", "decimals": 3}]
        assert problems == []
    bad = [good, {"question": "", "answer_type": "text"}, {"question": "Plot it", "answer_type": "chart"},
           {"question": "Round?", "answer_type": "number", "decimals": "two"}, "just text"]
    questions, problems = generate.parse(f"<questions>{json.dumps(bad)}</questions>")
    assert len(questions) == 1
    assert [p.split(":")[0] for p in problems] == ["question 2", "question 3", "question 4", "question 5"]
    assert generate.parse("no questions here")[1] == ["reply: no JSON array of questions in the reply"]
    assert generate.parse("<questions>[{oops</questions>")[0] == []


def test_answer_types_choose_the_metric_and_the_task_waits_for_a_reference():
    task = candidate("number", 2)
    assert task.metric == "pending" and task.answer is None
    assert task.metadata["final_metric"] == "numeric"
    assert task.metadata["final_metric_params"]["abs_tol"] == pytest.approx(0.005, rel=1e-6)
    assert "2 decimal" in task.guideline
    assert candidate("list").metadata["final_metric"] == "list_match"
    assert candidate("text").metadata["final_metric"] == "exact_match"
    assert candidate("text").id != generate.candidate(DATASET, "synth-test", 1, {
        "question": "another?", "answer_type": "text", "guideline": ""}).id


# -- evidence from a re-run -------------------------------------------------------------------------

def test_a_rounded_answer_is_evidenced_by_the_computed_number():
    task = candidate("number", 2)
    assert verify.evidence(task, "5.84", ["x = df.a.mean()\nprint(x)"], ["5.843333"])[0]
    assert not verify.evidence(task, "5.85", ["print(df.a.mean())"], ["5.843333"])[0]
    found, why = verify.evidence(task, "123.45", ["print(df.shape)"], ["(200, 3)"])
    assert not found and "not in the re-run's output" in why


def test_output_of_a_cell_that_types_the_answer_in_is_not_evidence():
    task = candidate("number", 2)
    found, why = verify.evidence(task, "42.17", ["print(42.17)"], ["42.17"])
    assert not found and "literal" in why
    # computed in one cell, printed again literally in another: the computing cell is the evidence
    assert verify.evidence(task, "42.17", ["print(df.a.sum())", "print(42.17)"], ["42.17", "42.17"])[0]
    # a small literal (round(x, 2)) is not a typed answer
    assert verify.evidence(candidate("number", 0), "2", ["print(round(len(df) / 100))"], ["2"])[0]


def test_text_and_list_answers_need_every_item_as_whole_words():
    text = candidate("text")
    assert verify.evidence(text, "Gentoo", ["print(df.groupby('species').mass.mean().idxmax())"], ["Gentoo"])[0]
    assert not verify.evidence(text, "Gent", ["print(x)"], ["Gentoo"])[0]
    assert not verify.evidence(text, "Gentoo", ["print(df[df.species == 'Gentoo'].species.iloc[0])"], ["Gentoo"])[0]
    listing = candidate("list")
    assert verify.evidence(listing, "b, a", ["print(sorted(s))"], ["['a', 'b', 'c']"])[0]
    assert not verify.evidence(listing, "a, d", ["print(sorted(s))"], ["['a', 'b', 'c']"])[0]


def test_the_code_of_a_rollout_is_its_code_actions_in_order():
    record = {"turns": [{"action": "thinking\n<python>\nx = 1\n</python>", "action_kind": "code"},
                        {"action": "no action", "action_kind": "invalid"},
                        {"action": "<python>print(x)</python>", "action_kind": "code"},
                        {"action": "<answer>1</answer>", "action_kind": "answer"}]}
    assert verify.cells(record) == ["x = 1", "print(x)"]


# -- consensus --------------------------------------------------------------------------------------

def verdict(sample: int, answer: str, status: str = verify.VERIFIED) -> dict:
    return {"sample": sample, "answer": answer, "status": status, "cells": 2}


def test_a_strict_majority_of_the_k_rollouts_sets_the_reference():
    task = candidate("number", 2)
    agreed = verify.consensus(task, [verdict(0, "5.84"), verdict(1, "5.843"), verdict(2, "7.1")], 3, 0.5)
    assert agreed["agreed"] and agreed["samples"] == [0, 1] and agreed["answer"] in (5.84, 5.843)
    split = verify.consensus(task, [verdict(0, "5.84"), verdict(1, "7.1"), verdict(2, "5.84", verify.NOT_REPRODUCED)],
                             3, 0.5)
    assert not split["agreed"] and split["groups"] == [1, 1]
    lonely = verify.consensus(task, [verdict(0, "5.84"), verdict(1, "", verify.NO_ANSWER),
                                     verdict(2, "", verify.NO_ANSWER)], 3, 0.5)
    assert not lonely["agreed"]
    text = candidate("text")
    assert verify.consensus(text, [verdict(0, "Gentoo"), verdict(1, "gentoo "), verdict(2, "Adelie")], 3, 0.5)[
        "samples"] == [0, 1]


def test_trivial_means_every_rollout_agreed_within_the_cell_limit():
    quick = [verdict(i, "3") | {"cells": 1} for i in range(3)]
    assert filters.trivial(quick, {"samples": [0, 1, 2]}, 3, 1)
    assert not filters.trivial(quick, {"samples": [0, 1]}, 3, 1)
    assert not filters.trivial([v | {"cells": 2} for v in quick], {"samples": [0, 1, 2]}, 3, 1)


# -- near duplicates --------------------------------------------------------------------------------

def test_near_duplicate_questions_point_at_the_first_one():
    texts = ["What is the mean of column 'rain' where 'yield' is above its median?",
             "Which site has the highest mean yield?",
             "What is the mean of column 'rain' where 'yield' is above its median value?",
             "How many rows have rain above the mean?"]
    found = filters.near_duplicates(texts, 0.8)
    assert list(found) == [2] and found[2][0] == 0 and found[2][1] >= 0.8
    assert filters.near_duplicates(texts, 0.999) == {}
    assert filters.near_duplicates(["a", "b"], 0.5) == {}  # no words at all: nothing to compare
    many = [f"question number {i} about column c{i}" for i in range(5000)] + ["question number 7 about column c7"]
    assert filters.near_duplicates(many, 0.95) == {5000: (7, 1.0)}


# -- sources ----------------------------------------------------------------------------------------

def test_sources_are_files_folders_and_suites(tmp_path):
    (tmp_path / "a.csv").write_text("x\n1\n")
    (tmp_path / "notes.md").write_text("not data")
    (tmp_path / "cells").mkdir()
    (tmp_path / "cells" / "c.h5ad").write_bytes(b"")
    (tmp_path / "cells" / "meta.tsv").write_text("k\tv\n")
    found = discover([str(tmp_path), "dsbio-lite"])
    by_name = {ds.name: ds for ds in found}
    assert by_name["a"].files == ("a.csv",) and by_name["a"].image == "default"
    assert by_name["cells"].files == ("cells/c.h5ad", "cells/meta.tsv") and by_name["cells"].image == "bio"
    bio = [ds for ds in found if ds.source == "suite:dsbio-lite"]
    assert len(bio) == 3 and all(ds.image == "bio" for ds in bio)
    assert all(path.exists() for ds in bio for path in ds.paths().values())
    twice = discover([str(tmp_path / "a.csv"), str(tmp_path / "a.csv")])
    assert [ds.name for ds in twice] == ["a", "a-2"]
    with pytest.raises(SourceError, match="did you mean"):
        discover(["dsbio-lyte"])
    with pytest.raises(SourceError, match="not a data file"):
        discover([str(tmp_path / "notes.md")])
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceError, match="no data files"):
        discover([str(tmp_path / "empty")])


# -- budgets ----------------------------------------------------------------------------------------

def test_the_model_call_budget_is_never_exceeded_and_cached_replies_are_free(tmp_path):
    budget = Budget(max_model_calls=2)
    with FakeOpenAI(replies=lambda request: "ok") as fake:
        client = BudgetedClient("fake", fake.base_url, budget=budget, cache_dir=tmp_path)
        client.chat("one")
        client.chat("two")
        client.chat("one")  # from the cache
        with pytest.raises(BudgetExhausted) as caught:
            client.chat("three")
        assert fake.calls == 2
    assert budget.model_calls == 2 and not caught.value.retryable
    assert budget.spent() == "model calls (2)"
    clock = Budget(max_sandbox_seconds=10)
    clock.add_sandbox(6)
    assert clock.sandbox_left
    clock.add_sandbox(6)
    assert not clock.sandbox_left and clock.spent() == "sandbox time (10 s)"
    with pytest.raises(ValueError):
        Budget(max_model_calls=-1)


def test_a_torn_state_line_is_cut_so_the_next_append_stands_alone(tmp_path):
    from dsgym.synth import SynthSettings
    from dsgym.synth.run import STATE, Run

    settings, out = SynthSettings(sources=["x"], model="m"), tmp_path / "out"
    first = Run(settings, out, None)
    first.save("a", "verify", "k", {"status": "verified"})
    first.state.append({"task": "a", "part": "verify", "key": "k", "complete": False, "result": {}})
    first.close()
    path = out / STATE
    with open(path, "ab") as handle:  # a crash in the middle of the next append
        handle.write(b'{"task": "b", "part": "ver')
    second = Run(settings, out, None)
    assert second.cached("a", "verify", "k") == {"status": "verified"}  # an incomplete line never supersedes
    assert second.cached("b", "verify", "k") is None
    assert path.read_bytes().endswith(b"}\n")
    second.save("b", "verify", "k", {})
    second.close()
    third = Run(settings, out, None)
    assert sorted(third.stored) == [("a", "verify", "k"), ("b", "verify", "k")]
    assert third.cached("b", "verify", "k") == {}


def test_the_endpoint_check_tells_unreachable_and_refused_from_reachable(tmp_path):
    import socket

    from dsgym.llm import LLMClient, LLMError

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(LLMError, match="unreachable"):
        LLMClient("m", f"http://127.0.0.1:{port}/v1", max_retries=0).check_reachable(timeout=5)
    with FakeOpenAI(replies="ok") as fake:
        LLMClient("m", fake.base_url).check_reachable()
        LLMClient("m", fake.base_url.removesuffix("/v1") + "/elsewhere").check_reachable()  # 404 counts as there
    with FakeOpenAI(replies="ok", api_key="right") as fake:
        LLMClient("m", fake.base_url, api_key="right").check_reachable()
        with pytest.raises(LLMError, match="refused the API key"):
            LLMClient("m", fake.base_url, api_key="wrong").check_reachable()


def test_model_replies_are_cached_in_the_output_folder_unless_shared_on_purpose(tmp_path, monkeypatch):
    from dsgym.synth import SynthSettings
    from dsgym.synth.run import Run
    from dsgym.synth.stages import rollout_agent

    monkeypatch.delenv("DSGYM_LLM_CACHE_DIR", raising=False)
    own = Run(SynthSettings(sources=["x"], model="m"), tmp_path / "out", None)
    clients = (own.generator, own.actor, own.prober, rollout_agent(own)().client)
    assert {c.cache_dir for c in clients} == {(tmp_path / "out" / "llm-cache").resolve()}
    shared = Run(SynthSettings(sources=["x"], model="m", cache_dir=str(tmp_path / "shared")), tmp_path / "b", None)
    assert {c.cache_dir for c in (shared.generator, shared.actor, shared.prober)} == {tmp_path / "shared"}
