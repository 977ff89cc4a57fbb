"""A suite as Harbor task folders (``dsgym export harbor``), runnable by any harness that reads them.

One folder per task (docs/harbor.md):

- ``instruction.md``: the env's own task text (``env.task_brief``) and how to answer here: an
  answer file in the working directory, or the submission file;
- ``environment/``: a Dockerfile FROM the suite's local sandbox image and the task's data, put
  at the same ``/data`` paths, owned by root and read-only for the agent's user;
- ``tests/``: ``test.sh``, the grader (``harbor_grade.py``), dsgym's grading modules copied as
  they are, and what the agent must not see: the task with its answer, hidden labels and the
  task's leaderboard entry;
- ``solution/``: ``solve.sh`` plays the reference solution (``harbor_solve.py``) and writes the
  answer file as an agent must;
- ``task.toml``: Harbor's schema; no network, the suite's CPUs and memory, the episode budget
  as the agent's timeout, and ``[metadata.dsgym]`` (suite, version, task digest, image).
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from dsgym import registry
from dsgym.admission import parse_bytes, suite_needs
from dsgym.config import DEFAULTS
from dsgym.env import task_brief
from dsgym.predict import standing
from dsgym.run_folder import task_digest
from dsgym.sandbox.images import image_tag
from dsgym.task import Suite, Task

DATA_DIR = "/data"  # where the env mounts a task's data (DockerSandbox.data_dir)
WORKDIR = "/workspace"
PYTHON = "/opt/dsgym/venv/bin/python"  # the sandbox images' Python (sandboxes/Dockerfile)
ANSWER_FILE = "answer.txt"  # read by harbor_grade.py
SCHEMA_VERSION = "1.4"  # Harbor's task.toml schema this writes
VERIFIER_TIMEOUT = 300.0
# dsgym's grading code, copied into tests/dsgym/ (standard library, numpy and pandas only)
GRADING_MODULES = ("grading.py", "scoring", "predict")
# what the dsgym kernel launcher does at start (sandboxes/kernel_launcher.py): warm caches into /tmp
SEED_CACHES = "\"import sys; sys.path.insert(0, '/opt/dsgym'); import kernel_launcher; kernel_launcher.seed_caches()\""
UNGRADABLE_METRICS = {"llm_judge": "needs a judge model, and the verifier has no network",
                      "pending": "has no reference answer yet"}


class ExportError(ValueError):
    """The suite (or one of its tasks) cannot be written as Harbor tasks; the message says why."""


@dataclass
class Exported:
    root: Path
    tasks: list[str] = field(default_factory=list)


def export_suite(suite: str | Suite, out: str | Path, *, task_ids: list[str] | None = None,
                 force: bool = False) -> Exported:
    """Write ``out/<task id>/`` for every task of ``suite`` (or those of ``task_ids``).

    Every task is checked first, so a suite with one task that cannot be exported writes
    nothing; each folder is written beside its final place and moved in whole.  An existing
    task folder is an error unless ``force`` (then it is replaced).
    """
    suite = suite if isinstance(suite, Suite) else registry.get_suite(suite)
    tasks = [registry.task_in(suite, t) for t in task_ids] if task_ids else [suite.tasks[t] for t in sorted(suite.tasks)]
    problems = [p for task in tasks for p in _problems(task)]
    if problems:
        raise ExportError("cannot export: " + "; ".join(problems))
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    existing = [t.id for t in tasks if (root / t.id).exists()]
    if existing and not force:
        raise ExportError(f"{root} already holds {', '.join(existing[:5])}"
                          + (f" and {len(existing) - 5} more" if len(existing) > 5 else "")
                          + " (--force replaces them)")
    image = image_tag(suite.image)
    done = Exported(root)
    for task in tasks:
        with tempfile.TemporaryDirectory(dir=root, prefix=f".{task.id}-") as staging:
            folder = Path(staging) / task.id
            write_task(task, suite, image, folder)
            target = root / task.id
            if target.exists():
                shutil.rmtree(target)
            folder.rename(target)
        done.tasks.append(task.id)
    return done


def _problems(task: Task) -> list[str]:
    problems = []
    if task.kind == "answer" and task.metric in UNGRADABLE_METRICS:
        problems.append(f"task {task.env_id}: metric {task.metric} {UNGRADABLE_METRICS[task.metric]}")
    if task.prediction is not None and task.prediction.labels_file is None:
        problems.append(f"task {task.env_id} has no hidden labels (graded by Kaggle), so no offline verifier")
    elif task.prediction is not None and not Path(task.prediction.labels_file).is_file():
        problems.append(f"task {task.env_id}: hidden labels {task.prediction.labels_file} are missing")
    if missing := task.missing_data():
        problems.append(f"task {task.env_id}: data missing on this machine: {', '.join(missing)}")
    if not task.solution:
        problems.append(f"task {task.env_id} has no reference solution")
    return problems


def write_task(task: Task, suite: Suite, image: str, folder: Path) -> None:
    """One Harbor task folder for ``task`` at ``folder`` (which must not exist)."""
    (folder / "environment" / "data").mkdir(parents=True)
    (folder / "tests").mkdir()
    (folder / "solution").mkdir()
    for name, path in task.data_paths().items():
        _copy(path, folder / "environment" / "data" / name)
    (folder / "environment" / "Dockerfile").write_text(dockerfile(task, image), encoding="utf-8")
    (folder / "instruction.md").write_text(instruction(task), encoding="utf-8")
    (folder / "task.toml").write_text(task_toml(task, suite, image), encoding="utf-8")
    _write_tests(task, folder / "tests")
    _write_solution(task, folder / "solution")


def instruction(task: Task) -> str:
    """What the agent sees: the env's text for the task, then how to answer in a shell."""
    lines = task_brief(task, DATA_DIR, WORKDIR, "by running `check-submission` in the shell")
    lines.append("")
    if task.prediction is not None:
        lines.append(f"When you are done, leave the submission at {WORKDIR}/{task.prediction.submission_file}: "
                     "it is graded after you finish (no <answer> reply is needed here).")
    else:
        lines.append(f"Write your final answer, in the answer format above and nothing else, to "
                     f"{WORKDIR}/{ANSWER_FILE} (instead of an <answer> reply). It is graded after you finish; "
                     "only that file counts.")
    lines.append(f"You work in a shell in the task's sandbox: Python 3 with the data-science stack at `python`, "
                 f"no network, {DEFAULTS.episode_budget:g} s in all.")
    return "\n".join(lines) + "\n"


def dockerfile(task: Task, image: str) -> str:
    return "\n".join([
        f"# dsgym task {task.env_id}: the suite's sandbox image, built locally by `dsgym sandbox build`",
        "# (nothing is pulled), with the task's data at the paths the env uses, read-only for the agent.",
        f"FROM {image}",
        "USER root",
        f"COPY data/ {DATA_DIR}/",
        f"RUN chown -R root:root {DATA_DIR} && chmod -R a+rX,go-w {DATA_DIR}",
        "USER 1000:1000",
        "# the image's warm numba and matplotlib caches into /tmp, as the dsgym kernel launcher does at start",
        f"RUN {PYTHON} -c {SEED_CACHES}",
        f"WORKDIR {WORKDIR}",
        "",
    ])


def task_toml(task: Task, suite: Suite, image: str) -> str:
    needs = suite_needs(suite)
    metadata = {k: task.metadata[k] for k in ("category", "difficulty") if isinstance(task.metadata.get(k), str)}
    dsgym = {"suite": suite.name, "suite_version": suite.version, "task_id": task.id,
             "task_digest": f"sha256:{task_digest(task)}", "image": image, "kind": task.kind, "metric": task.metric}
    sections: list[tuple[str, dict[str, Any]]] = [
        ("task", {"name": f"dsgym/{suite.name}.{task.id}", "description": _first_line(task.question),
                  "keywords": ["dsgym", suite.name, *metadata.values()]}),
        ("metadata", metadata),
        ("metadata.dsgym", dsgym),
        ("agent", {"timeout_sec": float(DEFAULTS.episode_budget)}),
        ("verifier", {"timeout_sec": VERIFIER_TIMEOUT, "user": "root"}),
        ("environment", {"network_mode": "no-network", "cpus": needs.cpus,
                         "memory_mb": parse_bytes(needs.memory) >> 20, "build_timeout_sec": 600.0}),
    ]
    lines = [f"# dsgym {task.env_id} as a Harbor task: written by `dsgym export harbor`", "",
             f"schema_version = {_toml(SCHEMA_VERSION)}"]
    for name, table in sections:
        lines += ["", f"[{name}]"] + [f"{key} = {_toml(value)}" for key, value in table.items()]
    return "\n".join(lines) + "\n"


def _write_tests(task: Task, tests: Path) -> None:
    source = resources.files("dsgym")
    for name in GRADING_MODULES:
        _copy_sources(source / name, tests / "dsgym" / name)
    (tests / "dsgym" / "__init__.py").write_text(
        '"""dsgym\'s grading modules, copied as they are by `dsgym export harbor` for tests/grade.py."""\n',
        encoding="utf-8")
    (tests / "grade.py").write_bytes((resources.files("dsgym.export") / "harbor_grade.py").read_bytes())
    definition: dict[str, Any] = {
        "id": task.id, "suite": task.suite, "env_id": task.env_id, "kind": task.kind, "question": task.question,
        "metric": task.metric, "metric_params": task.metric_params, "answer": task.answer,
        "metadata": task.metadata, "data_root": DATA_DIR, "prediction": None}
    if (spec := task.prediction) is not None:
        hidden = tests / "hidden"
        hidden.mkdir()
        labels = Path(spec.labels_file)
        shutil.copyfile(labels, hidden / labels.name)
        prediction = spec.model_dump(mode="json")
        prediction["labels_file"] = f"hidden/{labels.name}"
        if spec.leaderboard_file is not None:
            key = spec.leaderboard_key or task.id
            boards = standing.load_leaderboards(Path(spec.leaderboard_file))
            if key not in boards:
                raise ExportError(f"task {task.env_id}: leaderboard {spec.leaderboard_file} has no entry {key!r}")
            (hidden / "leaderboard.json").write_text(json.dumps({key: boards[key]}), encoding="utf-8")
            prediction.update(leaderboard_file="hidden/leaderboard.json", leaderboard_key=key)
        definition["prediction"] = prediction
    (tests / "task.json").write_text(json.dumps(definition, indent=1, default=str) + "\n", encoding="utf-8")
    _script(tests / "test.sh", [
        f"# Harbor's verifier for dsgym {task.env_id}: dsgym's own grader (grade.py) on what the agent left",
        f"# in {WORKDIR}; writes /logs/verifier/reward.json and grading.json.",
        "chmod -R go-rwx /tests 2>/dev/null || true  # the answer and labels: not for the agent's user",
        f"exec {PYTHON} /tests/grade.py --task /tests/task.json --workdir {WORKDIR} --out /logs/verifier",
    ])


def _write_solution(task: Task, solution: Path) -> None:
    assert task.solution is not None
    (solution / "solution.py").write_text(task.solution, encoding="utf-8")
    (solution / "run_solution.py").write_bytes((resources.files("dsgym.export") / "harbor_solve.py").read_bytes())
    answer = "" if task.prediction is not None else f" --answer-file {ANSWER_FILE}"
    _script(solution / "solve.sh", [
        f"# The reference solution of dsgym {task.env_id}, run as one kernel cell; it leaves its answer",
        f"# the way an agent must ({WORKDIR}/{task.prediction.submission_file if task.prediction else ANSWER_FILE}).",
        f"exec {PYTHON} /solution/run_solution.py /solution/solution.py --workdir {WORKDIR}{answer}",
    ])


def _script(path: Path, body: list[str]) -> None:
    path.write_text("\n".join(["#!/bin/sh", "set -eu", *body, ""]), encoding="utf-8")
    path.chmod(0o755)


def _copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, target)
    else:
        shutil.copyfile(source, target)


def _copy_sources(source: Any, target: Path) -> None:
    """A module or package of dsgym, its .py files only."""
    if source.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(source.read_bytes())
        return
    for entry in source.iterdir():
        if entry.is_file() and entry.name.endswith(".py"):
            _copy_sources(entry, target / entry.name)


def _first_line(text: str, limit: int = 200) -> str:
    line = re.split(r"(?<=[.?!])\s", text.strip(), maxsplit=1)[0]
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _toml(value: Any) -> str:
    """A TOML value: JSON's string escapes are TOML's too."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)
