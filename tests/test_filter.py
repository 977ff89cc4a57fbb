"""The shortcut-solvability filter: blind probe (fake OpenAI server), data grounding and quality checks
(real sandboxes), resume, byte-identical reruns, the filtered suites that ship with dsgym."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

import dsgym
from dsgym.filter import CHECKS, PERTURBATIONS, FilterError, filter_suite
from dsgym.filter.command import filter_command
from dsgym.filter.perturb import NotPerturbable, perturb_file
from dsgym.filter.probe import extract_answer
from dsgym.llm import LLMClient
from dsgym.scoring import score_answer
from dsgym.task import Suite
from tests.support.fake_openai import FakeOpenAI, message_text

REPO = Path(__file__).resolve().parent.parent
SECRET = "zq-secret-7781"  # sits in the data; must never reach the model
STATIC = ["well_formed", "duplicate"]  # checks that need no sandbox


# ----- suites written for the tests -----------------------------------------------------------


def write_suite(root: Path, name: str, tasks: list[dict], files: dict[str, str]) -> Path:
    (root / "data").mkdir(parents=True, exist_ok=True)
    for rel, text in files.items():
        (root / "data" / rel).write_text(text)
    (root / "manifest.json").write_text(json.dumps({"suite": name, "version": "1", "data_dir": "data",
                                                    "tasks": tasks}, indent=1))
    return root


def numbers_csv() -> tuple[str, pd.DataFrame]:
    rng = np.random.default_rng(7)
    rows = [f"{rng.normal(10, 2):.4f},{rng.normal(0, 1):.4f},{'abc'[i % 3]},{SECRET if i == 0 else 'x'}"
            for i in range(60)]
    text = "x,y,g,note\n" + "\n".join(rows) + "\n"
    from io import StringIO

    return text, pd.read_csv(StringIO(text))


# The blind-probe suite: the fake model answers each question correctly in CORRECT[id] of K samples.
K = 4
CORRECT = {"always": 4, "half": 2, "once": 1, "never": 0}
PROBE_ANSWERS = {"always": ("3.0", "9.0"), "half": ("42", "41"), "once": ("Paris", "Lyon"), "never": ("7", "8")}


@pytest.fixture
def probe_suite(tmp_path) -> Path:
    text, _ = numbers_csv()
    tasks = [{"id": tid, "question": f"Question {tid}: what is the value?", "data_files": ["nums.csv"],
              "context": "nums.csv: sixty rows of x, y, g.", "guideline": "One value.",
              "metric": "exact_match" if tid == "once" else "numeric", "answer": PROBE_ANSWERS[tid][0]}
             for tid in CORRECT]
    return write_suite(tmp_path / "probe-suite", "probe-t", tasks, {"nums.csv": text})


class ScriptedModel:
    """Replies to a task's prompt correctly the first CORRECT[id] times, wrongly after (thread-safe)."""

    def __init__(self, reply=lambda answer: f"I think so.\n<answer>{answer}</answer>"):
        self.counts: dict[str, int] = {}
        self.lock = threading.Lock()
        self.reply = reply

    def __call__(self, request: dict) -> str:
        prompt = message_text(request["messages"][-1])
        tid = next(t for t in CORRECT if f"Question {t}:" in prompt)
        with self.lock:
            seen = self.counts[tid] = self.counts.get(tid, 0) + 1
        right, wrong = PROBE_ANSWERS[tid]
        return self.reply(right if seen <= CORRECT[tid] else wrong)


def client_for(fake: FakeOpenAI, tmp_path: Path, **options) -> LLMClient:
    options = {"max_retries": 3, "backoff": 0.01, "max_backoff": 0.05, **options}
    return LLMClient("fake-model", base_url=fake.base_url, api_key="test", cache_dir=tmp_path / "llm-cache",
                     **options)


def dropped_by(result, check: str) -> set[str]:
    return {r.task for r in result.reports if r.checks[check].status == "fail"}


# ----- blind probe (no sandbox) ------------------------------------------------------------------


def test_blind_probe_drops_exactly_the_tasks_answered_without_data(tmp_path, probe_suite):
    with FakeOpenAI(replies=ScriptedModel()) as fake:
        client = client_for(fake, tmp_path)
        out = tmp_path / "out"
        result = filter_suite(probe_suite, out, client=client, samples=K, threshold=0.5,
                              checks=["blind_probe", *STATIC], register=False)
        assert fake.calls == len(CORRECT) * K
        assert set(result.dropped) == dropped_by(result, "blind_probe") == {"always", "half"}
        probe = {r.task: r.checks["blind_probe"] for r in result.reports}
        assert [probe[t].evidence["passes"] for t in CORRECT] == [4, 2, 1, 0]
        assert "2/4 samples" in probe["half"].reason

        # the model saw context, question, format and file names - never the data - and was told so
        for request in fake.requests:
            text = " ".join(message_text(m) for m in request["messages"])
            assert SECRET not in text and "x,y,g" not in text
            assert "nums.csv" in text and "withheld" in text and "no access to the data" in text
            assert request["temperature"] == 0.7

        # other thresholds: decided from the stored samples, no new request
        for threshold, expected in [(0.75, {"always"}), (0.25, {"always", "half", "once"}), (1.0, {"always"})]:
            again = filter_suite(probe_suite, out, client=client, samples=K, threshold=threshold,
                                 checks=["blind_probe", *STATIC], register=False)
            assert set(again.dropped) == expected, threshold
            assert again.computed == [] and len(again.reused) == len(CORRECT)
        # a fresh output folder with the same model cache: the rerun costs no request either
        fresh = filter_suite(probe_suite, tmp_path / "out2", client=client_for(fake, tmp_path), samples=K,
                             threshold=0.5, checks=["blind_probe", *STATIC], register=False)
        assert set(fresh.dropped) == {"always", "half"}
        assert fake.calls == len(CORRECT) * K
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["filter"]["blind_probe"] == {"model": "fake-model", "samples": K, "threshold": 1.0,
                                                 "temperature": 0.7}


def test_without_a_model_the_probe_is_skipped_and_the_report_says_so(tmp_path, probe_suite):
    result = filter_suite(probe_suite, tmp_path / "out", checks=["blind_probe", *STATIC], register=False)
    assert result.dropped == []
    assert all(r.checks["blind_probe"].status == "skip" for r in result.reports)
    assert "no model given" in result.reports[0].checks["blind_probe"].reason
    assert "not run: no model given" in (tmp_path / "out" / "filter-report.md").read_text()
    assert "The blind probe did not run" in (tmp_path / "out" / "README.md").read_text()


def test_probe_requests_fill_but_never_pass_llm_concurrency(tmp_path, probe_suite):
    model, lock, busy, peak = ScriptedModel(), threading.Lock(), [0], [0]

    def slow(request):
        with lock:
            busy[0] += 1
            peak[0] = max(peak[0], busy[0])
        time.sleep(0.15)
        with lock:
            busy[0] -= 1
        return model(request)

    progress = []
    with FakeOpenAI(replies=slow) as fake:
        result = filter_suite(probe_suite, tmp_path / "out", client=client_for(fake, tmp_path), samples=K,
                              llm_concurrency=3, checks=["blind_probe", *STATIC], register=False,
                              progress=progress.append)
        assert fake.calls == len(CORRECT) * K
    assert peak[0] == 3
    assert set(result.dropped) == {"always", "half"}
    assert sorted(e["task"] for e in progress) == sorted(CORRECT) and [e["done"] for e in progress] == [1, 2, 3, 4]
    assert all(e["part"] == "probe" and e["total"] == len(CORRECT) for e in progress)


def test_server_errors_are_retried_and_never_count_as_passes(tmp_path, probe_suite):
    with FakeOpenAI(replies=ScriptedModel()) as fake:
        fake.fail_next(5, status=500)
        fake.fail_next(2, status=429, retry_after=0)
        result = filter_suite(probe_suite, tmp_path / "out", client=client_for(fake, tmp_path, max_retries=8),
                              samples=K, threshold=0.5, checks=["blind_probe"], register=False)
        assert fake.calls == len(CORRECT) * K + 7
    assert set(result.dropped) == {"always", "half"} and result.errors == []


@pytest.mark.parametrize("garbage", [
    "", "no tags at all, the answer is 3.0", "<answer></answer>", "<answer>3.0", "<ANSWER>\u0000\ufffd</ANSWER>",
])
def test_garbage_replies_are_misses(tmp_path, probe_suite, garbage):
    with FakeOpenAI(replies=garbage) as fake:
        result = filter_suite(probe_suite, tmp_path / "out", client=client_for(fake, tmp_path), samples=2,
                              threshold=0.5, checks=["blind_probe"], register=False)
    assert result.dropped == [] and result.errors == []
    samples = result.reports[0].checks["blind_probe"].evidence["samples"]
    assert all(not s["passed"] for s in samples)


def test_timeouts_and_non_json_replies_are_reported_never_crash_and_are_retried_on_rerun(tmp_path, probe_suite):
    # a server slower than the client's timeout: every sample fails after its retries
    with FakeOpenAI(replies=ScriptedModel(), delay=0.6) as slow:
        result = filter_suite(probe_suite, tmp_path / "slow", samples=2, threshold=0.5, checks=["blind_probe"],
                              client=client_for(slow, tmp_path, timeout=0.2, max_retries=1), register=False)
    assert result.dropped == [] and sorted(result.errors) == sorted(CORRECT)
    check = result.reports[0].checks["blind_probe"]
    assert check.status == "error" and check.evidence["passes"] == 0 and check.evidence["errors"] == 2
    assert "after 2 attempts" in check.evidence["samples"][0]["error"]

    # a server answering 200 with a body that is not JSON
    class Garbage(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = b"<html>not json</html>"
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Garbage)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        broken = LLMClient("fake-model", base_url=f"http://127.0.0.1:{server.server_address[1]}/v1",
                           cache_dir=tmp_path / "llm-cache", max_retries=1, backoff=0.01)
        result = filter_suite(probe_suite, tmp_path / "garbage", samples=2, threshold=0.5, checks=["blind_probe"],
                              client=broken, register=False)
    finally:
        server.shutdown()
        server.server_close()
    assert result.dropped == [] and len(result.errors) == len(CORRECT)
    assert all(s["passed"] is False for r in result.reports for s in r.checks["blind_probe"].evidence["samples"])

    # errored samples are not final: once the endpoint recovers, a rerun redoes them and decides
    with FakeOpenAI(replies=ScriptedModel()) as fake:
        fake.fail_next(len(CORRECT) * 2, status=503)
        client = client_for(fake, tmp_path, max_retries=0)
        first = filter_suite(probe_suite, tmp_path / "out", samples=2, threshold=0.5, checks=["blind_probe"],
                             client=client, register=False)
        assert first.dropped == [] and len(first.errors) == len(CORRECT)
        second = filter_suite(probe_suite, tmp_path / "out", samples=2, threshold=0.5, checks=["blind_probe"],
                              client=client, register=False)
        assert second.reused == [] and len(second.computed) == len(CORRECT)
        assert fake.calls == len(CORRECT) * 2 * 2
    assert second.errors == [] and set(second.dropped) == {"always", "half", "once"}  # k=2: 1/2 >= 0.5


def test_an_inconclusive_probe_is_an_error_not_a_pass(tmp_path, probe_suite):
    """One pass and one failed request out of k=2 at threshold 1: the failure decides, so: error."""
    calls = {"n": 0}
    lock = threading.Lock()

    def reply(request):
        with lock:
            calls["n"] += 1
            if calls["n"] % 2 == 0:
                raise RuntimeError("boom")  # the fake answers HTTP 500
        return ScriptedModel()(request)

    with FakeOpenAI(replies=reply) as fake:
        result = filter_suite(probe_suite, tmp_path / "out", samples=2, threshold=1.0, checks=["blind_probe"],
                              client=client_for(fake, tmp_path, max_retries=0), llm_concurrency=1,
                              register=False)
    statuses = {r.task: r.checks["blind_probe"].status for r in result.reports}
    assert statuses["always"] == "error" and "always" not in result.dropped


def test_extract_answer():
    assert extract_answer("x <answer> 42 </answer> <answer>7</answer>") == "42"
    assert extract_answer("<Answer>a\nb</Answer>") == "a\nb"
    assert extract_answer("<answer></answer>") is None and extract_answer(None) is None


# ----- recorded blind answers (--blind-answers) ------------------------------------------------------


def answers_file(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def recorded_rows(model: str = "frontier-x") -> list[dict]:
    """always: 4 of 4 right; half: 2 of 4 (one a whole reply with the tag); once: 1 of 4; never: no line at all."""
    rows = []
    for tid in ("always", "half", "once"):
        right, wrong = PROBE_ANSWERS[tid]
        for sample in range(K):
            answer = right if sample < CORRECT[tid] else wrong
            if tid == "half" and sample == 1:
                answer = f"Without the data I would guess...\n<answer>{answer}</answer>"
            rows.append({"task": tid, "sample": sample, "answer": answer, "model": model})
    rows[-1]["answer"] = None  # once, sample 3: the model gave no answer (a miss, as in the live probe)
    return rows


def test_recorded_answers_drop_exactly_the_tasks_that_pass_at_the_threshold(tmp_path, probe_suite):
    source = answers_file(tmp_path / "answers.jsonl", recorded_rows())
    out = tmp_path / "out"
    result = filter_suite(probe_suite, out, blind_answers=source, blind_answers_note="frontier-x, batch API, T=1",
                          threshold=0.5, checks=["blind_probe", *STATIC], register=False)
    assert set(result.dropped) == dropped_by(result, "blind_probe") == {"always", "half"}
    probe = {r.task: r.checks["blind_probe"] for r in result.reports}
    assert [probe[t].evidence.get("passes") for t in ("always", "half", "once")] == [4, 2, 1]
    assert probe["once"].evidence["samples"][3]["miss"] == "no answer recorded"
    assert probe["half"].evidence["samples"][1]["answer"] == "42"  # the tag's content, as the live probe reads it
    # a task with no recorded answer is not probed: never counted as passing the probe
    assert probe["never"].status == "skip" and probe["never"].reason.startswith("not probed")
    assert "never" in result.kept and "passes" not in probe["never"].evidence

    block = json.loads((out / "manifest.json").read_text())["filter"]["blind_probe"]
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    assert block == {"answers": "blind-answers.jsonl", "sha256": digest, "count": 12,
                     "tasks": 3, "models": ["frontier-x"], "note": "frontier-x, batch API, T=1", "threshold": 0.5,
                     "samples": "as recorded per task", "prompt_checked": 0, "not_probed": ["never"]}
    assert (out / "blind-answers.jsonl").read_bytes() == source.read_bytes()  # the suite carries its answers
    readme, report = (out / "README.md").read_text(), (out / "filter-report.md").read_text()
    assert digest in readme and "frontier-x, batch API, T=1" in readme and "1 answer task(s) were not probed" in readme
    assert "--blind-answers '<this folder>/blind-answers.jsonl'" in readme or \
        "--blind-answers <this folder>/blind-answers.jsonl" in readme
    assert "## Not probed" in report and "- `never`" in report and "recorded answers `blind-answers.jsonl`" in report

    # other thresholds, as for the live probe; rerunning from the kept copy gives the same bytes
    for threshold, expected in [(0.25, {"always", "half", "once"}), (1.0, {"always"})]:
        again = filter_suite(probe_suite, tmp_path / f"t{threshold}", blind_answers=source, threshold=threshold,
                             checks=["blind_probe", *STATIC], register=False)
        assert set(again.dropped) == expected, threshold
    before = {name: (out / name).read_bytes() for name in ("manifest.json", "filter-report.jsonl", "README.md")}
    filter_suite(probe_suite, out, blind_answers=out / "blind-answers.jsonl",
                 blind_answers_note="frontier-x, batch API, T=1", threshold=0.5, checks=["blind_probe", *STATIC],
                 register=False)
    assert before == {name: (out / name).read_bytes() for name in before}


def test_recorded_answers_are_graded_exactly_as_the_live_probe(tmp_path, probe_suite):
    with FakeOpenAI(replies=ScriptedModel()) as fake:
        live = filter_suite(probe_suite, tmp_path / "live", client=client_for(fake, tmp_path), samples=K,
                            threshold=0.5, checks=["blind_probe"], register=False)
    rows = [{"task": r.task, "sample": s["index"], "answer": s["reply"], "model": "fake-model"}
            for r in live.reports for s in r.checks["blind_probe"].evidence["samples"]]
    recorded = filter_suite(probe_suite, tmp_path / "recorded", blind_answers=answers_file(tmp_path / "a.jsonl", rows),
                            threshold=0.5, checks=["blind_probe"], register=False)
    for a, b in zip(live.reports, recorded.reports):
        assert (a.task, a.keep, a.checks["blind_probe"].status) == (b.task, b.keep, b.checks["blind_probe"].status)
        assert [s["score"] for s in a.checks["blind_probe"].evidence["samples"]] == \
            [s["score"] for s in b.checks["blind_probe"].evidence["samples"]]


def test_bad_answer_files_are_refused_line_by_line_before_any_work(tmp_path, probe_suite):
    good = {"task": "always", "sample": 0, "answer": "3.0", "model": "m"}
    lines = [json.dumps(good), "not json at all", "[1, 2]", json.dumps({"task": "always", "sample": 1, "answer": "3"}),
             json.dumps({**good, "sample": -1}), json.dumps({**good, "sample": True}), json.dumps({**good, "answer": 3}),
             json.dumps({**good, "task": "no-such-task"}), json.dumps(good), "",
             json.dumps({**good, "sample": 2, "prompt_sha256": "0" * 64})]
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    with pytest.raises(FilterError) as caught:
        filter_suite(probe_suite, out, blind_answers=path, checks=["blind_probe", *STATIC], register=False)
    message = str(caught.value)
    for number, what in [(2, "not JSON"), (3, "not a JSON object"), (4, "missing field(s) model"),
                         (5, "sample must be an integer >= 0"), (6, "sample must be an integer >= 0"),
                         (7, "answer must be text or null"), (8, "task 'no-such-task' is not in suite 'probe-t'"),
                         (9, "a second answer for task 'always' sample 0 (the first is on line 1)"),
                         (11, "task 'always' was answered from a different prompt")]:
        assert f"{path}:{number}: {what}" in message, (number, message)
    assert "9 bad line(s)" in message and f"{path}:1:" not in message and f"{path}:10:" not in message
    assert not out.exists()  # nothing was graded or written

    with pytest.raises(FilterError, match="not both"):
        filter_suite(probe_suite, out, model="m", blind_answers=answers_file(tmp_path / "ok.jsonl", [good]))
    with pytest.raises(FilterError, match="cannot read the blind answers"):
        filter_suite(probe_suite, out, blind_answers=tmp_path / "missing.jsonl")


def test_command_writes_prompts_and_filters_with_recorded_answers(tmp_path, probe_suite):
    app = typer.Typer()
    app.command("filter")(filter_command)
    app.command("noop")(lambda: None)
    prompts = tmp_path / "prompts.jsonl"
    run = CliRunner().invoke(app, ["filter", str(probe_suite), "--write-blind-prompts", str(prompts)])
    assert run.exit_code == 0, run.output
    lines = [json.loads(x) for x in prompts.read_text().splitlines()]
    assert [x["task"] for x in lines] == list(CORRECT) and SECRET not in prompts.read_text()
    assert "withheld" in lines[0]["prompt"] and "no access to the data" in lines[0]["system"]
    # answers that carry the prompt's hash are checked against the prompt the probe shows now
    rows = recorded_rows()
    for row in rows:
        row["prompt_sha256"] = next(x["prompt_sha256"] for x in lines if x["task"] == row["task"])
    answers = answers_file(tmp_path / "answers.jsonl", rows)
    out = tmp_path / "cli-out"
    run = CliRunner().invoke(app, ["filter", str(probe_suite), "--out", str(out), "--blind-answers", str(answers),
                                   "--blind-answers-note", "frontier-x", "--checks", "blind_probe,well_formed"])
    assert run.exit_code == 0, run.output
    assert "kept 2 of 4" in run.output and "1 answer task(s) not probed: never" in run.output
    block = json.loads((out / "manifest.json").read_text())["filter"]["blind_probe"]
    assert block["prompt_checked"] == 12 and block["note"] == "frontier-x"

    both = CliRunner().invoke(app, ["filter", str(probe_suite), "--out", str(out), "--blind-answers", str(answers),
                                    "--model", "m"])
    assert both.exit_code == 2 and "not both" in both.output
    answers_file(answers, [{"task": "ghost", "sample": 0, "answer": "1", "model": "m"}])
    unknown = CliRunner().invoke(app, ["filter", str(probe_suite), "--out", str(out), "--blind-answers", str(answers)])
    assert unknown.exit_code == 2 and f"{answers}:1: task 'ghost' is not in suite 'probe-t'" in unknown.output


# ----- the command ------------------------------------------------------------------------------


def test_command_runs_the_probe_and_writes_a_loadable_suite(tmp_path, probe_suite):
    app = typer.Typer()
    app.command("filter")(filter_command)
    app.command("noop")(lambda: None)  # two commands: typer keeps "filter" as a subcommand
    out = tmp_path / "cli-out"
    with FakeOpenAI(replies=ScriptedModel()) as fake:
        run = CliRunner().invoke(app, ["filter", str(probe_suite), "--out", str(out), "--model", "fake-model",
                                       "--base-url", fake.base_url, "--samples", str(K), "--threshold", "0.5",
                                       "--checks", "blind_probe,well_formed"])
        calls = fake.calls
    assert run.exit_code == 0, run.output
    assert len(list((out / "llm-cache").glob("*.json"))) == calls == 4 * K  # the output folder's own cache
    assert "kept 2 of 4" in run.output and "| blind_probe | 2 | 2 |" in run.output
    dsgym.register_suite(probe_suite)  # the filtered suite references its source's files: they load once it is registered
    suite = dsgym.register_suite(out)
    assert suite.name == "probe-t-filtered" and sorted(suite.tasks) == ["never", "once"]
    assert suite.tasks["never"].data_paths()["nums.csv"].is_file()
    lines = [json.loads(x) for x in (out / "filter-report.jsonl").read_text().splitlines()]
    assert [x["task"] for x in lines] == list(CORRECT) and [x["keep"] for x in lines] == [False, False, True, True]
    assert set(lines[0]["checks"]) == set(CHECKS)

    bad = CliRunner().invoke(app, ["filter", "no-such-suite", "--out", str(out)])
    assert bad.exit_code == 2 and "unknown suite" in bad.output
    bad = CliRunner().invoke(app, ["filter", str(probe_suite), "--out", str(out), "--checks", "vibes"])
    assert bad.exit_code == 2 and "unknown check" in bad.output


def test_copy_data_makes_a_self_contained_suite(tmp_path, probe_suite):
    out = tmp_path / "copied"
    filter_suite(probe_suite, out, checks=STATIC, copy_data=True, register=False, name="probe-copy")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["data_dir"] == "data" and (out / "data" / "nums.csv").is_file()
    suite = dsgym.register_suite(out)
    assert suite.name == "probe-copy" and len(suite.tasks) == 4 and not suite.errors
    assert dsgym.registry.get_task("probe-copy", "half").data_paths()["nums.csv"].is_file()
    with pytest.raises(FilterError, match="must not be the source"):
        filter_suite(probe_suite, probe_suite, checks=STATIC)


# ----- perturbations (host side) ---------------------------------------------------------------


def test_perturbations_change_tables_keep_their_shape_and_are_reproducible(tmp_path):
    src = REPO / "tasks" / "dsgym-tasks-lite" / "data" / "penguins.csv"
    original = pd.read_csv(src)
    for name in PERTURBATIONS:
        a, b = tmp_path / f"{name}-a.csv", tmp_path / f"{name}-b.csv"
        perturb_file(src, a, name, 0, "penguins.csv")
        perturb_file(src, b, name, 0, "penguins.csv")
        assert a.read_bytes() == b.read_bytes() != src.read_bytes(), name
        changed = pd.read_csv(a)
        assert list(changed.columns) == list(original.columns)
        assert dict(changed.dtypes.astype(str)) == dict(original.dtypes.astype(str)), name
        assert len(changed) == (round(len(original) * 0.75) if name == "rows-subsample" else len(original))
    relabelled = pd.read_csv(tmp_path / "labels-permute-a.csv")
    assert set(relabelled.species) == set(original.species)
    assert (relabelled.species != original.species).all() and relabelled.bill_length_mm.equals(original.bill_length_mm)
    other_seed = tmp_path / "seed1.csv"
    perturb_file(src, other_seed, "rows-bootstrap", 1, "penguins.csv")
    assert other_seed.read_bytes() != (tmp_path / "rows-bootstrap-a.csv").read_bytes()


def test_whitespace_tables_keep_comments_and_alignment(tmp_path):
    src = tmp_path / "t.txt"
    src.write_text("# it  a      b\n" + "".join(f"{i:4d} {i * 0.5:6.2f} {i % 3:6.2f}\n" for i in range(8)))
    dst = tmp_path / "out.txt"
    perturb_file(src, dst, "numeric-affine", 0, "t.txt")
    lines = dst.read_text().splitlines()
    assert lines[0] == "# it  a      b" and len(lines) == 9
    assert [float(x) for x in lines[2].split()][1] == pytest.approx(0.5 * 1.1 + 0.25 * np.std([i * .5 for i in range(8)]))
    (tmp_path / "blob.bin").write_bytes(b"\0\1")
    with pytest.raises(NotPerturbable):
        perturb_file(tmp_path / "blob.bin", tmp_path / "x.bin", "rows-bootstrap", 0, "blob.bin")


# ----- grounding and quality checks in real sandboxes ------------------------------------------

PANDAS = "import pandas as pd\ndf = pd.read_csv('/data/nums.csv')\n"


@pytest.fixture(scope="module")
def sandbox_suite(tmp_path_factory) -> Path:
    text, frame = numbers_csv()
    mean_x = float(frame.x.mean())
    top = str(frame.groupby("g").y.mean().idxmax())
    tasks = [
        {"id": "mean-x", "question": "What is the mean of x?", "metric": "numeric", "answer": mean_x,
         "solution": PANDAS + "answer = float(df.x.mean())\n"},
        {"id": "top-group", "question": "Which group g has the largest mean y?", "metric": "exact_match",
         "answer": top, "solution": PANDAS + "answer = df.groupby('g').y.mean().idxmax()\n"},
        # built to fail grounding: a constant, and an answer stated in the question
        {"id": "constant", "question": "How many legs does a spider have?", "metric": "numeric", "answer": 8,
         "solution": PANDAS + "answer = 8\n"},
        {"id": "in-question", "question": "The table has a threshold of 17.5; what is the threshold?",
         "metric": "numeric", "answer": 17.5, "solution": PANDAS + "answer = 17.5 if len(df) else None\n"},
        # quality
        {"id": "nondeterministic", "question": "Mean of x over a random half of the rows?", "metric": "numeric",
         "answer": mean_x, "solution": PANDAS + "answer = float(df.x.sample(frac=0.5).mean())\n"},
        {"id": "wrong-answer", "question": "What is the mean of x, to three decimals?", "metric": "numeric",
         "answer": 123.456, "solution": PANDAS + "answer = round(float(df.x.mean()), 3)\n"},
        {"id": "duplicate", "question": "what is the MEAN of x", "metric": "numeric", "answer": mean_x,
         "solution": PANDAS + "answer = float(df.x.mean())\n"},
        {"id": "missing-file", "question": "Mean of z?", "metric": "numeric", "answer": 1.0,
         "data_files": ["gone.csv"], "solution": "import pandas as pd\nanswer = pd.read_csv('/data/gone.csv').z.mean()\n"},
        {"id": "malformed", "question": "What is the median of y?", "metric": "numeric", "answer": "about half",
         "solution": PANDAS + "answer = 'about half'\n"},
    ]
    for task in tasks:
        task.setdefault("data_files", ["nums.csv"])
    return write_suite(tmp_path_factory.mktemp("sandbox-suite"), "sandbox-t", tasks, {"nums.csv": text})


EXPECTED_DROPS = {
    "constant": {"grounding"},
    "in-question": {"grounding"},
    "nondeterministic": {"reproduces", "deterministic"},
    "wrong-answer": {"reproduces"},
    "duplicate": {"duplicate"},
    "missing-file": {"reproduces", "data_files"},
    "malformed": {"well_formed", "grounding"},  # reproduces: same text, though the metric cannot read it
}


@pytest.fixture(scope="module")
def sandbox_runs(docker_image, sandbox_suite, tmp_path_factory):
    """An interrupted run (stopped after 3 tasks), its resumption, and a full rerun."""
    out = tmp_path_factory.mktemp("filtered") / "out"
    seen = []

    class Stop(Exception):
        pass

    def stop_after_three(event):
        seen.append(event["task"])
        if len(seen) == 3:
            raise Stop("test: stop here")

    started = time.monotonic()
    with pytest.raises(Stop):
        filter_suite(sandbox_suite, out, concurrency=2, progress=stop_after_three, register=False)
    interrupted = time.monotonic() - started
    assert not (out / "manifest.json").exists()
    resumed = filter_suite(sandbox_suite, out, concurrency=2, register=False)
    manifest = (out / "manifest.json").read_bytes()
    report = (out / "filter-report.jsonl").read_bytes()
    rerun = filter_suite(sandbox_suite, out, concurrency=2)
    return {"out": out, "seen": seen, "resumed": resumed, "rerun": rerun, "manifest": manifest, "report": report,
            "interrupted": interrupted}


@pytest.mark.docker
def test_grounding_and_quality_checks_drop_exactly_the_broken_tasks(sandbox_runs):
    result = sandbox_runs["resumed"]
    drops = {r.task: {c for c, res in r.checks.items() if res.status == "fail"} for r in result.reports}
    assert {t: d for t, d in drops.items() if d} == EXPECTED_DROPS
    assert set(result.kept) == {"mean-x", "top-group"} and result.errors == []
    reasons = {r.task: " ".join(r.reasons) for r in result.reports}
    assert "did not move under 5 perturbation(s)" in reasons["constant"]
    assert "different answers" in reasons["nondeterministic"]
    assert "same question and data as task mean-x" in reasons["duplicate"]
    assert "data file(s) missing: gone.csv" in reasons["missing-file"]
    assert "the stored answer is '123.456'" in reasons["wrong-answer"]
    assert "the reference is not a number" in reasons["malformed"]
    grounding = {r.task: r.checks["grounding"] for r in result.reports}
    assert grounding["mean-x"].status == "pass" and grounding["mean-x"].evidence["runs"][0]["moved"]
    assert grounding["top-group"].status == "pass"


@pytest.mark.docker
def test_an_interrupted_run_resumes_without_redoing_finished_tasks(sandbox_runs):
    finished = set(sandbox_runs["seen"])
    resumed = sandbox_runs["resumed"]
    assert len(finished) == 3
    assert {x.split(":")[0] for x in resumed.reused} == finished
    assert not finished & {x.split(":")[0] for x in resumed.computed}
    assert len(resumed.computed) + len(resumed.reused) == 9


@pytest.mark.docker
def test_a_rerun_writes_byte_identical_output_and_the_oracle_plays_the_filtered_suite(sandbox_runs):
    rerun, out = sandbox_runs["rerun"], sandbox_runs["out"]
    assert rerun.computed == [] and len(rerun.reused) == 9
    assert (out / "manifest.json").read_bytes() == sandbox_runs["manifest"]
    assert (out / "filter-report.jsonl").read_bytes() == sandbox_runs["report"]
    manifest = json.loads(sandbox_runs["manifest"])
    assert manifest["data_dir"].startswith("../") and manifest["filter"]["blind_probe"] == "not run: no model given"
    assert [t["id"] for t in manifest["tasks"]] == ["mean-x", "top-group"]

    suite = dsgym.register_suite(out)
    assert suite.name == "sandbox-t-filtered"
    for task_id in suite.tasks:
        assert play_oracle(f"sandbox-t-filtered/{task_id}") == 1.0, task_id


def play_oracle(env_id: str) -> float:
    from dsgym.agents import OracleAgent

    env = dsgym.make(env_id)
    try:
        agent = OracleAgent()
        observation, _ = env.reset(seed=0)
        agent.start(env.unwrapped.task, observation)
        reward, done = 0.0, False
        while not done:
            observation, reward, terminated, truncated, _ = env.step(agent.act(observation))
            done = terminated or truncated
        return float(reward)
    finally:
        env.close()


@pytest.mark.docker
def test_anndata_files_are_perturbed_in_the_bio_image(docker_image, tmp_path):
    source = dsgym.get_suite("dsbio-lite")
    task = source.tasks["pbmc-qc-filter-pass-pct"]
    one = Suite(name="bio-one", root=source.root, version=source.version, image=source.image,
                tasks={task.id: task})
    result = filter_suite(one, tmp_path / "out", checks=["grounding"], perturbations=["labels-permute",
                                                                                      "rows-subsample"],
                          register=False)
    check = result.reports[0].checks["grounding"]
    assert check.status == "pass", check.reason
    runs = check.evidence["runs"]
    # QC thresholds on numeric obs columns do not care about relabelled cell types; dropping cells does
    assert runs[0]["perturbation"] == "labels-permute" and runs[0]["moved"] is False
    assert "bulk_labels" in runs[0]["files"]["pbmc68k_reduced.h5ad"]
    assert runs[1]["perturbation"] == "rows-subsample" and runs[1]["moved"] is True


# ----- the filtered suites that ship with dsgym -------------------------------------------------


@pytest.mark.parametrize("source", ["dsgym-tasks-lite", "dsbio-lite"])
def test_shipped_filtered_suites_load_and_resolve_their_data(source):
    suite = dsgym.get_suite(f"{source}-filtered")
    original = dsgym.get_suite(source)
    assert not suite.errors and suite.image == original.image
    assert set(suite.tasks) <= set(original.tasks) and len(suite.tasks) >= len(original.tasks) // 2
    for task in suite.tasks.values():
        assert task.solution == original.tasks[task.id].solution and task.answer == original.tasks[task.id].answer
        assert all(path.is_file() for path in task.data_paths().values())
    folder = REPO / "tasks" / f"{source}-filtered"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["data_dir"] == f"../{source}/data"
    assert all(t["solution_file"].startswith(f"../{source}/solutions/") for t in manifest["tasks"])
    probe = manifest["filter"]["blind_probe"]
    # made with a blind probe: the recorded answers ship beside the suite, byte for byte, one per answer task
    answers = folder / probe["answers"]
    assert hashlib.sha256(answers.read_bytes()).hexdigest() == probe["sha256"]
    lines = [json.loads(x) for x in answers.read_text().splitlines() if x.strip()]
    assert len(lines) == probe["count"] and {line["task"] for line in lines} == set(original.tasks)
    assert probe["models"] and probe["note"] and probe["sha256"] in (folder / "README.md").read_text()
    report = [json.loads(x) for x in (folder / "filter-report.jsonl").read_text().splitlines()]
    assert [r["task"] for r in report if r["keep"]] == [t["id"] for t in manifest["tasks"]]
    assert len(report) == len(original.tasks)
    # the probe dropped exactly the tasks whose recorded answer passes under the task's own metric
    blind_right = {line["task"] for line in lines
                   if score_answer(original.tasks[line["task"]].metric, str(line["answer"]),
                                   original.tasks[line["task"]].answer, original.tasks[line["task"]].metric_params,
                                   question=original.tasks[line["task"]].question).value >= 1.0}
    assert {r["task"] for r in report if r["checks"]["blind_probe"]["status"] == "fail"} == blind_right
    assert len(blind_right) <= 2  # dsgym's bar for an embedded suite: at most 2 tasks answerable blind


@pytest.mark.docker
@pytest.mark.parametrize("source", ["dsgym-tasks-lite", "dsbio-lite"])
def test_the_oracle_plays_the_shipped_filtered_suites(docker_image, source):
    suite = dsgym.get_suite(f"{source}-filtered")
    first = next(iter(suite.tasks))
    assert play_oracle(f"{source}-filtered/{first}") == 1.0
