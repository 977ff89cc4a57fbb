"""Official-format loaders: every format from files, from ``datasets``, ``discover`` and ``dsgym-tasks``.

``tests/fixtures/official/`` holds small invented records in each official format
(laid out like the release's ``data/`` folder), some malformed on purpose.  The
conformance tests at the end read real samples from ``<project>/../shared/fixtures/official``
and skip when that folder is absent.
"""

from __future__ import annotations

import builtins
import io
import json
import shutil
import time
from pathlib import Path

import pytest

from dsgym import scoring
from dsgym.loaders import (
    FORMATS, dabstep, daeval, discover, discoverybench, dsbio, dspredict, gold_submission, load_suite, qrdata,
    release_root, scienceagentbench, union,
)
from dsgym.loaders.records import RecordError, data_file, official_id, read_records
from dsgym.task import TaskFileError

FIXTURES = Path(__file__).parent / "fixtures" / "official"
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "official" / "data"
TEXT_METRICS_SKIPPED = {"llm_judge"}  # judged by a model: no offline check of the gold answer


def errors_of(suite) -> str:
    return "\n".join(suite.errors)


# -- one format at a time ---------------------------------------------------------------------------


def test_daeval_keeps_official_ids_guidelines_and_paths():
    suite = daeval.load(FIXTURES)
    assert list(suite.tasks) == ["7", "12"]
    task = suite.tasks["7"]
    assert task.metric == "daeval" and task.answer == "[['mean_height', '1.70'], ['tallest', 'Ann']]"
    assert "Round the mean to two decimals." in task.guideline and "@mean_height[mean]" in task.guideline
    assert task.data_files == ["daeval/people.csv"] and task.data_root == FIXTURES / "data"
    assert task.missing_data() == [] and task.metadata["original_id"] == 7
    assert suite.tasks["12"].missing_data() == ["daeval/not_shipped.csv"]  # absent data still loads
    assert gold_submission(task) == "@mean_height[1.70]\n@tallest[Ann]"
    errors = errors_of(suite)
    source = str(FIXTURES / "task/daeval/daeval.json")
    assert f"{source}: task 13 (record #2): answer: not a list of [name, value] pairs" in errors
    assert f"{source}: record #3: metadata.original_id: missing" in errors
    assert f"{source}: task 21 (record #4): data: expected a list of strings" in errors
    assert len(suite.errors) == 3


def test_qrdata_maps_choices_numbers_and_percentages():
    suite = qrdata.load(FIXTURES)
    assert list(suite.tasks) == ["0", "1", "2", "3"]
    letters, words, share, percent = (suite.tasks[i] for i in "0123")
    assert letters.metric == "choice" and letters.metric_params == {"options": ["A", "B", "C"]}
    assert letters.answer == "A" and "A, B, C" in letters.guideline
    assert words.metric_params == {"options": ["accept", "reject"]} and words.answer == "accept"
    assert share.metric == "numeric" and share.answer == pytest.approx(0.45)
    assert share.metric_params == {"rel_tol": 0.03, "abs_tol": 0.0, "percent_ok": False}
    assert percent.answer == pytest.approx(0.55) and percent.metric_params["percent_ok"] is True
    assert gold_submission(percent) == "55%" and gold_submission(share) == "0.45"
    assert share.data_files == ["qrdata/data/coins.csv"] and share.missing_data() == []
    errors = errors_of(suite)
    assert "task 4 (record #4): answer: numerical question whose answer 'about half' is not a number" in errors
    assert "task 5 (record #5): metadata.question_type: expected 'multiple_choice' or 'numerical'" in errors


def test_dabstep_uses_the_shared_context_files_and_hides_missing_answers():
    suite = dabstep.load(FIXTURES)
    assert list(suite.tasks) == ["1", "17", "305"]
    task = suite.tasks["305"]
    assert task.metric == "dabstep" and task.answer == "3, 1, 2" and task.guideline.startswith("Answer must be")
    assert task.data_files == dabstep.DATA_FILES and "manual.md" in task.context
    assert set(task.missing_data()) == set(dabstep.DATA_FILES) - {"dabstep/manual.md", "dabstep/payments-readme.md"}
    assert "task 400 (record #3): question: missing" in errors_of(suite)

    hidden = dabstep.load(FIXTURES, subset="all")
    assert hidden.name == "dabstep-test" and list(hidden.tasks) == ["1", "3"]
    assert {t.metadata["source_suite"] for t in hidden.tasks.values()} == {"dabstep"}  # graded as DABStep tasks
    assert all(t.answer is None and t.metadata["answer_hidden"] for t in hidden.tasks.values())
    assert gold_submission(hidden.tasks["1"]) is None
    assert "record #1: record: line 2: not valid JSON" in errors_of(hidden)


def test_discoverybench_is_model_judged_with_columns_in_the_context():
    suite = discoverybench.load(FIXTURES)
    assert list(suite.tasks) == ["0", "1"]
    task = suite.tasks["0"]
    assert task.metric == "llm_judge" and task.answer.startswith("Plants under blue light")
    assert "Columns:\n- light: colour" in task.context and "Domain knowledge:\nBlue light" in task.context
    assert "Domain knowledge" not in suite.tasks["1"].context  # empty sections are left out
    assert task.data_files == ["discoverybench/real/test/plants/plants.csv"] and not task.missing_data()
    assert suite.tasks["1"].missing_data() == ["discoverybench/real/test/plants/water.csv"]
    assert "task 2 (record #2): answer: missing" in errors_of(suite)


def test_scienceagentbench_points_at_its_evaluation_program():
    suite = scienceagentbench.load(FIXTURES)
    assert list(suite.tasks) == ["4"]
    task = suite.tasks["4"]
    assert task.metric == "scienceagentbench" and task.metric_params == {"output_file": "/submission/toy_pred.csv"}
    assert task.answer == "scienceagentbench/benchmark/eval_programs/toy_eval.py"
    assert task.answer not in task.data_files  # the grader never enters the sandbox
    assert "Dataset preview:" in task.context and gold_submission(task) is None
    assert "task 9 (record #1): metadata.output_fname: missing" in errors_of(suite)


def test_dsbio_picks_the_metric_from_the_answer_shape():
    suite = dsbio.load(FIXTURES)
    assert suite.image == "official-bio" and list(suite.tasks) == ["0", "1", "2", "3", "4", "5"]
    genes, count, entropy, name, option, listed = (suite.tasks[str(i)] for i in range(6))
    assert genes.metric == "list_match" and genes.answer == ["GENEA", "GENEB"]
    assert genes.metric_params == {"ordered": False, "case_sensitive": False}
    assert gold_submission(genes) == "['GENEA', 'GENEB']"
    assert count.metric == entropy.metric == "numeric" and count.answer == 1234 and entropy.answer == 0.976
    assert name.metric == option.metric == "exact_match" and option.answer == "60%"
    assert name.metric_params == {"case_sensitive": False} and "case-sensitive" in name.guideline
    assert listed.question == "How many doublets are flagged?"
    assert genes.metadata["data_link"] == ["https://example.org/toy"]
    assert genes.missing_data() == ["bio/toy_atlas.h5ad"]
    assert "task 6 (record #6): answer: expected a string, number or list" in errors_of(suite)


def test_dspredict_builds_prediction_tasks_with_direction_and_sample_submission():
    easy = dspredict.load(FIXTURES, subset="easy")
    assert easy.name == "dspredict-easy" and easy.image == "official-kaggle" and list(easy.tasks) == ["toy-regression",
                                                                                                 "toy-classify"]
    task = easy.tasks["toy-regression"]
    assert task.kind == "prediction" and task.answer is None and task.metric == "rmse"
    assert task.data_root == FIXTURES / "data" / "dspredict-easy" and task.data_files == ["toy-regression"]
    assert task.missing_data() == []  # the challenge folder, appearing as /data/toy-regression
    spec = task.prediction
    assert spec.sample_submission == "toy-regression/sample_submission.csv"
    assert spec.higher_is_better is False and task.metadata["higher_is_better_source"] == "leaderboard"
    assert spec.leaderboard_file == FIXTURES / "DSPredict_Offline_Leaderboard/easy_leaderboard_stats_2025-01-01.json"
    assert task.metric_params == {"competition_metric": "rmse"} and "RMSE" in task.context
    other = easy.tasks["toy-classify"]
    assert other.prediction.higher_is_better is True and other.metadata["higher_is_better_source"] == "metric name"
    assert other.prediction.leaderboard_file is None and other.prediction.sample_submission is None
    assert other.missing_data() == ["toy-classify"]
    assert "record #2: challenge_name: '!!!' cannot be made into a task id" in errors_of(easy)

    hard = dspredict.load(FIXTURES, subset="hard")
    seg = hard.tasks["toy-segmentation"]
    assert seg.prediction.higher_is_better is True and seg.prediction.leaderboard_file is None and not hard.errors
    assert dspredict.direction({"public_scores": [0.9, 0.5]}, "rmse") == (True, "leaderboard")
    assert dspredict.direction(None, "mape") == (False, "metric name")
    assert dspredict.direction(None, "custom") == (None, "unknown")


# -- shared parsing -----------------------------------------------------------------------------


def test_paths_and_ids_are_checked():
    assert data_file("/data/daeval/a b.csv") == "daeval/a b.csv"
    assert data_file("bio/x.h5ad") == "bio/x.h5ad"
    for bad in ("/etc/passwd", "/data/../secret", "/data/", "../x"):
        with pytest.raises(RecordError):
            data_file(bad)
    assert official_id(309, "id") == "309" and official_id(12.0, "id") == "12"
    assert official_id("task 5/b", "id") == "task-5-b"
    for bad in (None, True, "", "  ", ["x"]):
        with pytest.raises(RecordError):
            official_id(bad, "id")


def test_unreadable_files_raise_and_bad_records_do_not(tmp_path):
    with pytest.raises(TaskFileError, match="no such task file"):
        daeval.load(tmp_path)
    (tmp_path / "bad.json").write_text("{oops")
    with pytest.raises(TaskFileError, match="not valid JSON"):
        daeval.load(tmp_path, tmp_path / "bad.json")
    (tmp_path / "obj.json").write_text('{"tasks": []}')
    with pytest.raises(TaskFileError, match="expected a JSON array"):
        qrdata.load(tmp_path, tmp_path / "obj.json")
    (tmp_path / "mixed.json").write_text(json.dumps(["text", 3, {"metadata": {"original_id": 1}}]))
    suite = daeval.load(tmp_path, tmp_path / "mixed.json")
    assert not suite.tasks and len(suite.errors) == 3
    assert "record #0: record: expected a JSON object, got str" in suite.errors[0]
    assert "task 1 (record #2): answer: missing" in suite.errors[2]
    dup = [{"task_id": "5", "question": "q", "answer": "a"}, {"task_id": "5", "question": "again", "answer": "b"}]
    (tmp_path / "dup.jsonl").write_text("".join(json.dumps(r) + "\n" for r in dup))
    suite = dabstep.load(tmp_path, tmp_path / "dup.jsonl")
    assert list(suite.tasks) == ["5"] and "task 5 (record #1): id: duplicate task id '5'" in suite.errors[0]


def test_loading_is_fast_and_never_opens_data_files(tmp_path, monkeypatch):
    (tmp_path / "task" / "daeval").mkdir(parents=True)
    (tmp_path / "data" / "daeval").mkdir(parents=True)
    records = [{"context": "c", "question": f"q{i}", "answer": f"[['v', '{i}']]", "data": [f"/data/daeval/f{i}.csv"],
                "metadata": {"original_id": i, "constraints": "c", "format": "@v[x]", "level": "easy"}}
               for i in range(5000)]
    for i in range(0, 5000, 500):
        (tmp_path / "data" / "daeval" / f"f{i}.csv").write_text("x\n1\n")
    (tmp_path / daeval.TASK_FILE).write_text(json.dumps(records))
    opened: list[str] = []
    real_open, real_io_open = builtins.open, io.open

    def spy(file, *args, **kwargs):
        opened.append(str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", spy)
    monkeypatch.setattr(io, "open", lambda file, *a, **k: (opened.append(str(file)), real_io_open(file, *a, **k))[1])
    start = time.perf_counter()
    suite = daeval.load(tmp_path)
    elapsed = time.perf_counter() - start
    assert len(suite.tasks) == 5000 and not suite.errors
    assert elapsed < 1.0, f"loading 5000 tasks took {elapsed:.2f} s"
    assert any(name.endswith("daeval.json") for name in opened)  # the spy sees file reads
    assert not [name for name in opened if str(tmp_path / "data") in name]


# -- the datasets path ------------------------------------------------------------------------------

DATASET_CASES = [
    (daeval.FORMAT, daeval.TASK_FILE), (qrdata.FORMAT, qrdata.TASK_FILE), (dabstep.FORMAT, dabstep.TASK_FILES["dev"]),
    (discoverybench.FORMAT, discoverybench.TASK_FILE), (scienceagentbench.FORMAT, scienceagentbench.TASK_FILE),
    (dsbio.FORMAT, dsbio.TASK_FILE), (dspredict.EASY, "task/dspredict/easy.json"),
]


@pytest.mark.parametrize(("fmt", "path"), DATASET_CASES, ids=[fmt.suite for fmt, _ in DATASET_CASES])
def test_datasets_json_gives_the_same_tasks_as_the_files(fmt, path, tmp_path):
    datasets = pytest.importorskip("datasets")
    dataset = datasets.load_dataset("json", data_files=str(FIXTURES / path), split="train", cache_dir=str(tmp_path))
    from_files = fmt.load(FIXTURES)
    from_hub = fmt.from_dataset(dataset, FIXTURES, source="hub fixture")
    assert list(from_hub.tasks) == list(from_files.tasks)
    for task_id, task in from_files.tasks.items():
        other = from_hub.tasks[task_id]
        assert other.model_dump() == task.model_dump() and other.data_root == task.data_root
    assert len(from_hub.errors) == len(from_files.errors)
    assert all(error.startswith("hub fixture: ") for error in from_hub.errors)


def test_from_hub_calls_load_dataset(tmp_path):
    pytest.importorskip("datasets")
    suite = qrdata.from_hub(FIXTURES, repo_id="json", data_files=str(FIXTURES / qrdata.TASK_FILE), split="train",
                            cache_dir=str(tmp_path))
    assert list(suite.tasks) == ["0", "1", "2", "3"] and len(suite.errors) == 2
    assert suite.errors[0].startswith(f"hub json:{FIXTURES / qrdata.TASK_FILE}[train]: ")
    lines = tmp_path / "dev.jsonl"
    shutil.copy(FIXTURES / dabstep.TASK_FILES["dev"], lines)
    suite = dabstep.from_hub(FIXTURES, repo_id="json", data_files=str(lines), split="train", cache_dir=str(tmp_path))
    assert list(suite.tasks) == ["1", "17", "305"]


# -- discover and the dsgym-tasks union -------------------------------------------------------------


def test_discover_finds_every_suite_and_builds_the_union():
    suites = {suite.name: suite for suite in discover(FIXTURES)}
    assert list(suites) == [*FORMATS, "dsgym-tasks"]
    union_suite = suites["dsgym-tasks"]
    members = ["daeval", "qrdata", "dabstep", "discoverybench", "scienceagentbench"]
    assert sorted(union_suite.tasks) == sorted(f"{name}-{tid}" for name in members for tid in suites[name].tasks)
    task = union_suite.tasks["daeval-7"]
    original = suites["daeval"].tasks["7"]
    assert task.suite == "dsgym-tasks" and task.env_id == "dsgym-tasks/daeval-7"
    assert task.data_files == original.data_files and task.data_paths() == original.data_paths()
    assert task.metadata["source_suite"] == "daeval" and task.metadata["source_id"] == "7"
    assert task.answer == original.answer and task.metric == original.metric
    assert len(union_suite.errors) == sum(len(suites[name].errors) for name in members)
    assert not any(t.kind == "prediction" for t in union_suite.tasks.values())


def test_discover_tolerates_missing_and_broken_suites(tmp_path):
    assert discover(tmp_path) == []
    (tmp_path / "task" / "QRData").mkdir(parents=True)
    shutil.copy(FIXTURES / qrdata.TASK_FILE, tmp_path / qrdata.TASK_FILE)
    (tmp_path / "task" / "dsbio").mkdir(parents=True)
    (tmp_path / dsbio.TASK_FILE).write_text("[broken")
    suites = {suite.name: suite for suite in discover(tmp_path)}
    assert list(suites) == ["qrdata", "dsbio", "dsgym-tasks"]
    assert not suites["dsbio"].tasks and "not valid JSON" in suites["dsbio"].errors[0]
    assert sorted(suites["dsgym-tasks"].tasks) == [f"qrdata-{i}" for i in range(4)]
    checkout = tmp_path / "checkout"
    shutil.copytree(tmp_path / "task", checkout / "data" / "task")
    assert release_root(checkout) == checkout / "data"
    assert [s.name for s in discover(checkout)] == ["qrdata", "dsbio", "dsgym-tasks"]
    assert list(load_suite("dsgym-tasks", tmp_path).tasks) == list(suites["dsgym-tasks"].tasks)
    with pytest.raises(KeyError, match="unknown official suite"):
        load_suite("nope", tmp_path)
    assert union([]).tasks == {}


# -- gold answers score 1.0 -------------------------------------------------------------------------


def _gold_cases(suites):
    for suite in suites:
        for task in suite.tasks.values():
            text = gold_submission(task)
            if text is not None and task.metric not in TEXT_METRICS_SKIPPED:
                yield task, text


def _check_gold(cases):
    missing = sorted({task.metric for task, _ in cases if task.metric not in scoring.METRICS})
    checked = [(task, text) for task, text in cases if task.metric in scoring.METRICS]
    failures = []
    for task, text in checked:
        score = scoring.score_answer(task.metric, text, task.answer, task.metric_params, question=task.question)
        if score.value != 1.0:
            failures.append(f"{task.env_id} [{task.metric}] {text!r} vs {task.answer!r}: {score.breakdown}")
        wrong = scoring.score_answer(task.metric, "none of these", task.answer, task.metric_params,
                                     question=task.question)
        if wrong.value >= 1.0:  # the mapping must not make every answer right
            failures.append(f"{task.env_id} [{task.metric}] accepts a wrong answer: {wrong.breakdown}")
    assert not failures, "\n".join(failures)
    if missing:
        pytest.skip(f"metrics not in dsgym.scoring yet: {', '.join(missing)}")


def test_fixture_gold_answers_score_one():
    suites = [s for s in discover(FIXTURES) if s.name != "dsgym-tasks"]
    cases = list(_gold_cases(suites))
    assert {task.metric for task, _ in cases} == {"daeval", "choice", "numeric", "dabstep", "list_match",
                                                  "exact_match"}
    _check_gold(cases)


# -- conformance with real samples of the release -----------------------------------------------

needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason=f"no official samples at {SHARED}")


@needs_shared
def test_official_samples_load_without_errors():
    suites = discover(SHARED)
    names = {suite.name for suite in suites}
    assert {"daeval", "qrdata", "dabstep", "discoverybench", "dsbio", "dspredict-easy", "dspredict-hard",
            "dsgym-tasks"} <= names
    for suite in suites:
        assert suite.tasks and not suite.errors, (suite.name, suite.errors)
    daeval_suite = next(s for s in suites if s.name == "daeval")
    for task in daeval_suite.tasks.values():  # the release ships DAEval's data
        assert not task.missing_data(), (task.id, task.missing_data())


@needs_shared
def test_official_gold_answers_score_one():
    suites = [s for s in discover(SHARED) if s.name != "dsgym-tasks"]
    cases = list(_gold_cases(suites))
    # The official answer text itself, where it is what an agent would write (not DAEval's list literal).
    for name, fmt in FORMATS.items():
        path = SHARED / fmt.task_file
        suite = next((s for s in suites if s.name == name), None)
        if suite is None or not path.is_file() or fmt.suite == "daeval":
            continue
        for index, record, _ in read_records(path):
            task = suite.tasks.get(fmt.task_id(record, index))
            answer = record.get("answer")
            if task is None or task.kind != "answer" or answer in (None, "") or task.metric in TEXT_METRICS_SKIPPED:
                continue
            cases.append((task, repr(answer) if isinstance(answer, list) else str(answer)))
    assert cases
    _check_gold(cases)
