"""``dsgym export dabstep``: a real eval's DABStep answers in the DABStep leaderboard's submission format."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from dsgym import registry, runner
from dsgym.agents import ReActAgent
from dsgym.cli import app
from dsgym.export.dabstep import DABStepExportError, export_run, official_id
from dsgym.loaders import dabstep, official
from tests.support.fake_openai import FakeOpenAI
from tests.support.scripted_model import Conversation, answer_marked, print_marked, python

# The hidden test set's shape: answers blank, ids as the leaderboard knows them.
TASKS = [
    {"task_id": "5", "question": "How many payments does payments.csv hold?", "answer": "",
     "guidelines": "Answer with a number.", "level": "easy"},
    {"task_id": "49", "question": "Which country appears most often in payments.csv?", "answer": "",
     "guidelines": "Answer with a country code.", "level": "hard"},
    {"task_id": "1712", "question": "A question this agent never gets to the end of.", "answer": "",
     "guidelines": "Answer with a number.", "level": "hard"},
]
CODE = {
    "5": "import pandas as pd\n" + print_marked("len(pd.read_csv('/data/dabstep/payments.csv'))"),
    "49": "import pandas as pd\n" + print_marked("pd.read_csv('/data/dabstep/payments.csv').country.mode()[0]"),
}


def model(request: dict) -> str:
    """Runs code for its task's question and answers with what the code printed; never answers task 1712."""
    convo = Conversation(request)
    task = next(t for t in TASKS if t["question"] in convo.task)
    if task["task_id"] not in CODE:
        return python("print('still thinking')", thought="Not sure yet.")
    if convo.marked() is None:
        return python(CODE[task["task_id"]], thought=f"Reading payments.csv for task {task['task_id']}.")
    return answer_marked(convo)


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    """A folder laid out like the release's data/: the DABStep tasks and tiny context files."""
    root = tmp_path_factory.mktemp("dabstep-release")
    (root / "task" / "DABStep").mkdir(parents=True)
    for name in ("all.jsonl", "dev.jsonl"):  # dev as well, so that the dsgym-tasks union holds these tasks
        (root / "task" / "DABStep" / name).write_text("".join(json.dumps(t) + "\n" for t in TASKS))
    context = root / "data" / "dabstep"
    context.mkdir(parents=True)
    for name in dabstep.DATA_FILES:
        (root / "data" / name).write_text("placeholder\n")
    (context / "payments.csv").write_text("psp_reference,country,eur_amount\n" + "".join(
        f"{i},{'NL' if i % 3 else 'BE'},{i}.5\n" for i in range(1, 8)))  # 7 payments, NL most often
    return root


@pytest.fixture
def suites(release):
    """The release's DABStep test tasks registered as dabstep-test and in the dsgym-tasks union; the old ones put
    back after."""
    before = {name: registry.suites().get(name) for name in (dabstep.TEST_SUITE, official.UNION)}
    suite = dabstep.load(release, subset="all")
    assert suite.name == dabstep.TEST_SUITE and suite.errors == []
    assert all(t.metadata.get("answer_hidden") for t in suite.tasks.values())
    registry.add_suite(suite)
    registry.add_suite(official.union([dabstep.load(release)]))
    yield
    for old in before.values():
        if old is not None:
            registry.add_suite(old)


def evaluate(out, targets: list[str]) -> None:
    with FakeOpenAI(replies=model) as fake:
        settings = runner.EvalSettings(targets=targets, agent="react", env_options={"max_turns": 3})
        runner.evaluate(settings, out, concurrency=1, agent_factory=lambda: ReActAgent(
            model="fake-model", base_url=fake.base_url, api_key="sk-test", cache_dir=out / "agent-llm",
            backoff=0.01))


def read(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.docker
def test_a_dabstep_run_exports_one_line_per_task_in_the_leaderboard_format(docker_image, suites, tmp_path):
    out = tmp_path / "run"
    evaluate(out, [dabstep.TEST_SUITE])
    done = export_run(out)
    assert done.path == out / "dabstep-submission.jsonl" and done.written == 3
    lines = read(done.path)
    assert [line["task_id"] for line in lines] == ["5", "49", "1712"]
    assert all(set(line) == {"task_id", "agent_answer", "reasoning_trace"} for line in lines)
    assert all(isinstance(value, str) for line in lines for value in line.values())  # the leaderboard reads strings
    by_id = {line["task_id"]: line for line in lines}
    assert by_id["5"]["agent_answer"] == "7" and by_id["49"]["agent_answer"] == "NL"  # what the sandbox computed
    trace = by_id["49"]["reasoning_trace"]
    assert "Reading payments.csv for task 49." in trace and "mode()" in trace  # the model's reply and its code
    assert "Output 1:\n@@scripted@@NL@@/scripted@@" in trace  # what running it printed
    assert by_id["1712"] == {"task_id": "1712", "agent_answer": "", "reasoning_trace": ""}
    assert done.unfinished == ["1712 (max_turns)"]
    # a hidden answer is never graded 0 (which would read as wrong): the record is a scoring error naming why
    answered = next(r for r in read(out / "episodes.jsonl") if r["task_id"] == "5")
    assert answered["status"] == "error" and answered["error_type"] == "scoring" and answered["score"] is None
    assert "hidden" in answered["error"] and "dsgym export dabstep" in answered["error"]


@pytest.mark.docker
def test_a_dsgym_tasks_run_maps_its_ids_back_to_dabstep_ids_and_the_cli_lists_unfinished_tasks(
        docker_image, suites, tmp_path):
    out = tmp_path / "run"
    evaluate(out, ["dsgym-tasks/dabstep-49", "dsgym-tasks/dabstep-1712"])
    target = tmp_path / "submission.jsonl"
    result = CliRunner().invoke(app, ["export", "dabstep", str(out), "--out", str(target)])
    assert result.exit_code == 0, result.output
    assert "1712 (max_turns)" in result.output and "wrote 2 DABStep answer(s)" in result.output
    lines = read(target)
    assert [(line["task_id"], line["agent_answer"]) for line in lines] == [("49", "NL"), ("1712", "")]


def test_a_folder_that_is_no_run_is_refused_with_a_clear_error(tmp_path):
    with pytest.raises(DABStepExportError, match="not a dsgym run folder"):
        export_run(tmp_path)
    result = CliRunner().invoke(app, ["export", "dabstep", str(tmp_path)])
    assert result.exit_code == 2 and "not a dsgym run folder" in result.output


def test_without_the_suite_registered_ids_map_back_by_the_union_prefix():
    assert official_id({"suite": "dabstep", "task_id": "17"}, None) == "17"
    assert official_id({"suite": "dsgym-tasks-filtered", "task_id": "dabstep-17"}, None) == "17"
    assert official_id({"suite": "dsgym-tasks", "task_id": "qrdata-17"}, None) is None
