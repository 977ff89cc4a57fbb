"""The mlebench suite: MLE-bench's prepared competitions, graded host-side and placed by MLE-bench's medal rules."""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

import dsgym
from dsgym import registry
from dsgym.loaders import mlebench
from dsgym.predict import standing
from dsgym.predict.grade import grade
from dsgym.task import TaskFileError
from tests.support.helpers import REPO, python

FIXTURE = REPO / "tests" / "fixtures" / "mlebench"
DATA, CHECKOUT = FIXTURE / "data", FIXTURE / "mle-bench"
COMPETITIONS = CHECKOUT / "mlebench" / "competitions"
IDS = ["toy-cactus", "toy-houses", "toy-spaceship"]


def rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def board(competition: str) -> list[float]:
    return [float(row["score"]) for row in rows(COMPETITIONS / competition / "leaderboard.csv")]


def mlebench_places(teams: int) -> list[int]:
    """The gold, silver and bronze positions as MLE-bench's grader writes them (float shares truncated, at least 1)."""
    if teams < 100:
        return [max(1, int(teams * share)) for share in (0.1, 0.2, 0.4)]
    if teams < 250:
        return [10, max(1, int(teams * 0.2)), max(1, int(teams * 0.4))]
    if teams < 1000:
        return [10 + int(teams * 0.002), 50, 100]
    return [10 + int(teams * 0.002), max(1, int(teams * 0.05)), max(1, int(teams * 0.1))]


def mlebench_medal(score: float, scores: list[float]) -> str:
    """The medal as MLE-bench's grader states its rule: the score at a team-count-dependent position
    of the leaderboard must be reached."""
    lower = scores[0] < scores[-1]
    for medal, place in zip(("gold", "silver", "bronze"), mlebench_places(len(scores))):
        threshold = scores[place - 1]
        if (score <= threshold) if lower else (score >= threshold):
            return medal
    return "none"


def csv_bytes(table: list[dict[str, str]], columns: list[str]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(table)
    return out.getvalue().encode()


def oracle(task) -> bytes:
    """The answers' id and target columns: the best submission there is."""
    spec = task.prediction
    return csv_bytes(rows(spec.labels_file), [spec.id_column, *spec.target_columns])


@pytest.fixture
def writable(tmp_path) -> tuple[Path, Path]:
    """A writable copy of the fixture: (data folder, mle-bench checkout)."""
    shutil.copytree(FIXTURE, tmp_path / "fixture")
    return tmp_path / "fixture" / "data", tmp_path / "fixture" / "mle-bench"


# ----- loading ------------------------------------------------------------------------------------


def test_the_loader_lists_every_prepared_competition_as_a_prediction_task():
    suite = mlebench.load(DATA, CHECKOUT)
    assert suite.errors == [] and sorted(suite.tasks) == IDS
    assert suite.name == "mlebench" and suite.image == mlebench.IMAGE == "official-kaggle"
    ship = suite.tasks["toy-spaceship"]
    public = DATA / "toy-spaceship" / "prepared" / "public"
    assert ship.kind == "prediction" and ship.metric == "accuracy" and ship.data_root == public
    assert ship.data_files == ["description.md", "sample_submission.csv", "test.csv", "train.csv"]
    assert ship.prediction.id_column == "PassengerId" and ship.prediction.target_columns == ["Transported"]
    assert ship.prediction.labels_file == DATA / "toy-spaceship" / "prepared" / "private" / "test.csv"
    assert ship.prediction.leaderboard_file == COMPETITIONS / "toy-spaceship" / "leaderboard.csv"
    assert ship.context == (public / "description.md").read_text()
    houses, cactus = suite.tasks["toy-houses"], suite.tasks["toy-cactus"]
    assert houses.metric == "rmse" and houses.prediction.higher_is_better is False
    assert cactus.metric == "roc_auc" and cactus.prediction.higher_is_better is True


def test_the_competitions_folder_comes_from_the_argument_the_environment_or_an_installed_mlebench(monkeypatch):
    monkeypatch.delenv(mlebench.COMPETITIONS_ENV, raising=False)
    assert mlebench.competitions_dir(CHECKOUT) == COMPETITIONS  # a checkout's root
    assert mlebench.competitions_dir(COMPETITIONS) == COMPETITIONS  # or its competitions folder
    monkeypatch.setenv(mlebench.COMPETITIONS_ENV, str(CHECKOUT))
    assert mlebench.competitions_dir() == COMPETITIONS
    assert sorted(mlebench.load(DATA).tasks) == IDS
    monkeypatch.delenv(mlebench.COMPETITIONS_ENV)
    monkeypatch.setattr(mlebench.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(TaskFileError, match=mlebench.COMPETITIONS_ENV):
        mlebench.load(DATA)


def test_the_public_view_of_a_task_names_nothing_private():
    task = mlebench.load(DATA, CHECKOUT).tasks["toy-spaceship"]
    shown = task.public().model_dump_json()
    assert "private" not in shown and "leaderboard.csv" not in shown and str(COMPETITIONS) not in shown


CORRUPTIONS = {
    "answers gone": (lambda data, comps: (data / "toy-cactus/prepared/private/test.csv").unlink(),
                     "toy-cactus", "answers"),
    "no public folder": (lambda data, comps: shutil.rmtree(data / "toy-cactus/prepared/public"),
                         "toy-cactus", "prepared/public"),
    "grader dsgym lacks": (lambda data, comps: _edit(comps / "toy-cactus/config.yaml", "auc-roc", "dice-hausdorff-combo"),
                           "toy-cactus", "grader 'dice-hausdorff-combo' has no dsgym metric"),
    "config not YAML": (lambda data, comps: (comps / "toy-cactus/config.yaml").write_text("grader: [unclosed\n"),
                        "toy-cactus", "config.yaml is unreadable"),
    "config missing": (lambda data, comps: (comps / "toy-cactus/config.yaml").unlink(), "toy-cactus",
                       "is the competitions folder"),
    "leaderboard an LFS pointer": (lambda data, comps: (comps / "toy-cactus/leaderboard.csv").write_text(
        "version https://git-lfs.github.com/spec/v1\noid sha256:00\nsize 1\n"), "toy-cactus", "git lfs pull"),
    "leaderboard backwards": (lambda data, comps: _edit(comps / "toy-houses/leaderboard.csv", "", "", reverse=True),
                              "toy-houses", "the metric says otherwise"),
    "sample submission gone": (lambda data, comps: (data / "toy-cactus/prepared/public/sample_submission.csv").unlink(),
                               "toy-cactus", "sample submission"),
    "answers lack the target": (lambda data, comps: _edit(data / "toy-cactus/prepared/private/test.csv",
                                                          "has_cactus", "label"),
                                "toy-cactus", "lack the sample submission's column(s) has_cactus"),
}


def _edit(path: Path, old: str, new: str, reverse: bool = False) -> None:
    lines = path.read_text().splitlines(keepends=True)
    path.write_text(lines[0] + "".join(reversed(lines[1:])) if reverse else "".join(lines).replace(old, new))


@pytest.mark.parametrize("corruption", sorted(CORRUPTIONS))
def test_a_corrupt_competition_loads_as_a_clear_error_and_the_others_still_load(writable, corruption):
    data, checkout = writable
    corrupt, broken, message = CORRUPTIONS[corruption]
    corrupt(data, checkout / "mlebench" / "competitions")
    suite = mlebench.load(data, checkout)
    assert sorted(suite.tasks) == [i for i in IDS if i != broken]
    assert len(suite.errors) == 1 and suite.errors[0].startswith(f"mlebench: competition {broken}: ")
    assert message in suite.errors[0], suite.errors[0]


def dsgym_cli(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "from dsgym.cli import app; app()", *args],
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=300)


def test_the_environment_registers_the_suite_for_every_command():
    listed = dsgym_cli("tasks", "list", "mlebench", "--json", DSGYM_MLEBENCH_DIR=str(DATA),
                       DSGYM_MLEBENCH_COMPETITIONS=str(CHECKOUT))
    assert listed.returncode == 0, listed.stderr
    assert [line.split('"id": "')[1].split('"')[0] for line in listed.stdout.splitlines()] == IDS


def test_a_wrong_data_folder_in_the_environment_is_a_warning_not_a_crash(tmp_path):
    listed = dsgym_cli("tasks", "list", DSGYM_MLEBENCH_DIR=str(tmp_path / "nowhere"),
                       DSGYM_MLEBENCH_COMPETITIONS=str(CHECKOUT))
    assert listed.returncode == 0, listed.stderr
    assert "skipping suite: mlebench: MLE-bench data folder" in listed.stderr and "mlebench prepare" in listed.stderr


def test_an_auc_roc_grader_over_several_columns_averages_them(writable):
    data, checkout = writable
    for path in (data / "toy-cactus/prepared/public/sample_submission.csv",
                 data / "toy-cactus/prepared/private/test.csv"):
        lines = path.read_text().splitlines()
        path.write_text("\n".join([lines[0] + ",has_flower",
                                   *(f"{line},{i % 2}" for i, line in enumerate(lines[1:]))]) + "\n")
    task = mlebench.load(data, checkout).tasks["toy-cactus"]
    assert task.prediction.target_columns == ["has_cactus", "has_flower"]
    assert task.metric == "roc_auc" and task.metric_params == {"multi_target": True}
    table = rows(task.prediction.labels_file)
    half = [dict(row, has_flower=str(1 - int(row["has_flower"]))) for row in table]  # cactus right, flower inverted
    assert grade(task, oracle(task)).breakdown["metric_value"] == pytest.approx(1.0)
    score = grade(task, csv_bytes(half, ["id", "has_cactus", "has_flower"]))
    assert score.breakdown["metric_value"] == pytest.approx(0.5)  # the mean of 1.0 and 0.0


def test_a_missing_data_folder_is_an_error_naming_mlebench_prepare(tmp_path):
    with pytest.raises(TaskFileError, match="mlebench prepare"):
        mlebench.load(tmp_path / "nowhere", CHECKOUT)


# ----- grading ------------------------------------------------------------------------------------


@pytest.mark.parametrize("competition", IDS)
def test_the_answers_themselves_score_best_and_take_gold(competition):
    task = mlebench.load(DATA, CHECKOUT).tasks[competition]
    score = grade(task, oracle(task))
    best = 0.0 if competition == "toy-houses" else 1.0
    assert score.breakdown["valid"] and score.breakdown["metric_value"] == pytest.approx(best)
    assert score.breakdown["medal"] == mlebench_medal(best, board(competition)) == "gold"
    assert score.breakdown["medal_rules"] == "mlebench" and score.breakdown["leaderboard"] == "leaderboard.csv"


def test_medals_follow_mlebench_rules_where_they_differ_from_the_kaggle_table():
    """25 teams: MLE-bench's gold is the top int(2.5) = 2, dsgym's own table rounds up to 3."""
    task = mlebench.load(DATA, CHECKOUT).tasks["toy-spaceship"]
    answers = rows(task.prediction.labels_file)
    flipped = [dict(row, Transported=str(row["Transported"] != "True")) if i < 2 else row
               for i, row in enumerate(answers)]  # 2 of 20 wrong: accuracy 0.9, third on the board
    score = grade(task, csv_bytes(flipped, ["PassengerId", "Transported"]))
    scores = board("toy-spaceship")
    assert len(scores) == 25 and score.breakdown["metric_value"] == pytest.approx(0.9)
    assert score.breakdown["rank"] == 3 and standing.medal_thresholds(25)["gold"] == 3
    assert score.breakdown["medal"] == mlebench_medal(0.9, scores) == "silver"
    assert score.breakdown["medal_thresholds"] == {"gold": 2, "silver": 5, "bronze": 10}


@pytest.mark.parametrize("error,medal", [(400.0, "bronze"), (1200.0, "bronze"), (1500.0, "none")])
def test_a_regression_submission_gets_the_medal_mlebench_gives_its_error(error, medal):
    """8 teams, lower is better: MLE-bench's silver is the top int(1.6) = 1 (dsgym's own table: 2), bronze the
    top 3; an error tied with third place still takes bronze."""
    task = mlebench.load(DATA, CHECKOUT).tasks["toy-houses"]
    answers = rows(task.prediction.labels_file)
    shifted = [dict(row, SalePrice=str(float(row["SalePrice"]) + error)) for row in answers]  # RMSE = error
    score = grade(task, csv_bytes(shifted, ["Id", "SalePrice"]))
    assert score.breakdown["metric_value"] == pytest.approx(error)
    assert score.breakdown["medal"] == mlebench_medal(error, board("toy-houses")) == medal


def test_an_invalid_submission_scores_zero_with_a_reason():
    task = mlebench.load(DATA, CHECKOUT).tasks["toy-spaceship"]
    score = grade(task, b"PassengerId,Transported\n0060_01,True\n")
    assert score.value == 0.0 and not score.breakdown["valid"] and score.breakdown["reason"]


@pytest.mark.parametrize("teams", [1, 4, 9, 10, 25, 30, 99, 100, 149, 249, 250, 499, 999, 1000, 1234, 4999, 12000])
def test_medal_ranks_match_mlebench_positions_for_every_team_count_range(teams):
    assert list(standing.mlebench_medal_thresholds(teams).values()) == mlebench_places(teams)


def test_mlebench_rounds_the_score_to_five_decimals_before_placing_it():
    board_ = standing.Leaderboard((0.9, 0.8, 0.7), True, "leaderboard.csv", rules="mlebench")
    assert board_.standing(0.899996).rank == 1  # 0.9 once rounded: tied with the best
    assert standing.Leaderboard((0.9, 0.8, 0.7), True, "private").standing(0.899996).rank == 2


# ----- the sandbox --------------------------------------------------------------------------------


@pytest.fixture
def registered(writable):
    """The fixture's copy registered as the suite mlebench, a unique marker in every private answers file."""
    data, checkout = writable
    marker = f"mlebench-private-{uuid.uuid4().hex}"
    for competition in IDS:
        answers = data / competition / "prepared" / "private" / "test.csv"
        lines = answers.read_text().splitlines()
        answers.write_text("\n".join([lines[0] + ",note", *(f"{line},{marker}" for line in lines[1:])]) + "\n")
    suite = registry.register_mlebench(data, checkout)
    assert suite.errors == [] and sorted(suite.tasks) == IDS
    return {"data": data, "marker": marker}


@pytest.mark.docker
def test_reset_shows_only_the_public_files_and_the_answers_are_unreachable(docker_image, registered):
    env = dsgym.make("mlebench/toy-spaceship", max_turns=4)
    try:
        prompt, info = env.reset()
        assert "/data/sample_submission.csv" in prompt and registered["marker"] not in prompt
        assert "private" not in str(info["task"])
        listing = ("import os\nprint(sorted(os.path.join(d, f)[len('/data/'):] for d, _, fs in os.walk('/data') "
                   "for f in fs))")
        observation, *_ = env.step(python(listing))
        assert "['description.md', 'sample_submission.csv', 'test.csv', 'train.csv']" in observation, observation
        search = ("import subprocess\n"
                  "def files_with(text):\n"
                  "    r = subprocess.run(['grep', '-rIls', '--exclude-dir=proc', '--exclude-dir=sys', '-e', text, '/'],"
                  " capture_output=True, text=True)\n"
                  "    return sorted(r.stdout.split())\n"
                  f"print('secret:', files_with({registered['marker']!r}))\n"
                  "print('control:', files_with('0060_01'))")  # a test id: proves the search reaches /data
        observation, *_ = env.step(python(search))
        assert "secret: []" in observation, observation
        assert "control: ['/data/sample_submission.csv', '/data/test.csv']" in observation, observation
    finally:
        env.close()


@pytest.mark.docker
def test_a_hand_written_solution_in_the_sandbox_is_graded_and_takes_gold(docker_image, registered):
    env = dsgym.make("mlebench/toy-spaceship", max_turns=4)
    solve = ("import pandas as pd\n"
             "test = pd.read_csv('/data/test.csv')\n"
             "test.assign(Transported=test.CryoSleep)[['PassengerId', 'Transported']]"
             ".to_csv('/workspace/submission.csv', index=False)")
    try:
        env.reset()
        observation, *_ = env.step(python(solve))
        assert "[error]" not in observation, observation
        _, reward, terminated, _, info = env.step("<answer>Transported is CryoSleep.</answer>")
    finally:
        env.close()
    breakdown = info["score_breakdown"]
    assert terminated and breakdown["valid"] and breakdown["metric_value"] == 1.0
    assert breakdown["medal"] == "gold" and breakdown["rank"] == 1 and breakdown["medal_rules"] == "mlebench"
    assert reward == pytest.approx(breakdown["percentile"] / 100) == pytest.approx(1 - 0.5 / 25)
