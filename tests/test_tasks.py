import json

import gymnasium
import pytest

import dsgym
from dsgym.scoring import score_answer
from dsgym.task import TaskFileError, load_manifest


def write_manifest(folder, tasks, **extra):
    (folder / "data").mkdir(exist_ok=True)
    (folder / "data" / "a.csv").write_text("x\n1\n")
    (folder / "manifest.json").write_text(json.dumps({"suite": "t", "tasks": tasks, **extra}))
    return folder


def test_bad_tasks_are_reported_by_file_task_and_field_and_the_rest_load(tmp_path):
    suite = load_manifest(write_manifest(tmp_path, [
        {"id": "good", "question": "q", "data_files": ["a.csv"]},
        {"id": "no-question", "data_files": ["a.csv"]},
        {"id": "typo", "question": "q", "metrik": "numeric"},
        {"id": "missing-file", "question": "q", "data_files": ["b.csv"]},
        {"id": "escape", "question": "q", "data_files": ["../secret"]},
        {"id": "good", "question": "again"},
        "not an object",
    ]))
    assert list(suite.tasks) == ["good", "missing-file"]
    assert suite.tasks["missing-file"].missing_data() == ["b.csv"] and suite.tasks["good"].missing_data() == []
    errors = "\n".join(suite.errors)
    assert str(tmp_path / "manifest.json") in errors
    assert "task no-question: question: Field required" in errors
    assert "task typo: metrik: Extra inputs are not permitted" in errors
    assert "task escape: data_files" in errors
    assert "task good: duplicate id" in errors
    assert "task #6" in errors


def test_corrupt_manifest_is_a_clear_error(tmp_path):
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(TaskFileError, match="not valid JSON"):
        load_manifest(tmp_path)
    with pytest.raises(TaskFileError, match="no such suite manifest"):
        load_manifest(tmp_path / "nowhere")


def test_embedded_suite_is_complete():
    suite = dsgym.get_suite("dsgym-tasks-lite")
    assert len(suite.tasks) >= 5 and not suite.errors
    for task in suite.tasks.values():
        assert task.solution and "answer" in task.solution
        assert task.answer is not None
        assert all(path.is_file() for path in task.data_paths().values())


def test_unknown_ids_list_close_matches():
    with pytest.raises(dsgym.UnknownEnvError, match="did you mean: dsgym-tasks-lite"):
        dsgym.make("dsgym-task-lite")
    task = sorted(dsgym.get_suite("dsgym-tasks-lite").tasks)[0]
    with pytest.raises(dsgym.UnknownEnvError, match=f"did you mean: {task}"):
        dsgym.make(f"dsgym-tasks-lite/{task}x")


def test_gymnasium_ids_are_registered():
    suite = dsgym.get_suite("dsgym-tasks-lite")
    task = sorted(suite.tasks)[0]
    assert f"dsgym-tasks-lite/{task}" in gymnasium.registry
    assert "dsgym/dsgym-tasks-lite" in gymnasium.registry
    spec = gymnasium.spec(f"dsgym-tasks-lite/{task}")
    assert spec.kwargs == {"suite": "dsgym-tasks-lite", "task_id": task}


# ----- dsgym-tasks-lite cannot be answered from memory ---------------------------------------------


def lite_tasks():
    return list(dsgym.get_suite("dsgym-tasks-lite").tasks.values())


def passes(task, value):
    return score_answer(task.metric, repr(value), task.answer, task.metric_params).value >= 1.0


def test_lite_keeps_sixty_tasks_in_seven_categories():
    tasks = lite_tasks()
    categories = {task.metadata["category"] for task in tasks}
    assert len(tasks) >= 60 and categories == {
        "summary-statistics", "data-cleaning", "hypothesis-test", "regression", "time-series",
        "causal-inference", "multi-step"}


@pytest.mark.parametrize("task", lite_tasks(), ids=lambda task: task.id)
def test_no_lite_answer_is_the_figure_of_the_published_data(task):
    """The reference solution run on the files as published (make_data.py --unmodified, stored by
    compute_answers.py) must fail the metric: the answer is not a figure a model can remember."""
    published = task.metadata["published_data_value"]
    assert isinstance(published, float), published
    assert not passes(task, published), (task.id, published, task.answer)
    # nor the published figure scaled for a subsample of 80% (sums and chi-squares, t and z statistics)
    assert not any(passes(task, published * factor) for factor in (0.8, 0.8 ** 0.5)), task.id


@pytest.mark.parametrize("task", lite_tasks(), ids=lambda task: task.id)
def test_lite_tolerances_reject_the_plausible_wrong_methods(task):
    for label, value in task.metadata.get("wrong_method_values", {}).items():
        assert not passes(task, value), (task.id, label, value, task.answer)


def test_the_public_view_of_a_task_holds_nothing_of_its_answer():
    """reset's info["task"] and agents get this view: an agent cannot read the gold off the task object."""
    import dsgym

    task = dsgym.get_task("dsgym-tasks-lite", "iris-kmeans-ari")
    assert task.answer is not None and task.solution and "published_data_value" in task.metadata
    public = task.public()
    assert public.answer is None and public.solution is None
    assert "published_data_value" not in public.metadata and public.metadata["category"] == task.metadata["category"]
    assert public.question == task.question and public.data_files == task.data_files
    predict = next(t for t in dsgym.get_suite("dspredict-lite").tasks.values() if t.prediction)
    assert predict.prediction.labels_file is not None
    assert predict.public().prediction.labels_file is None and predict.public().prediction.leaderboard_file is None
    assert task.answer is not None  # the host's task is untouched
