"""The one task model every suite uses, and reading suite manifests.

A suite folder holds ``manifest.json``::

    {"suite": "dsgym-tasks-lite", "version": "1", "description": "...",
     "data_dir": "data", "image": "default",
     "sources": [{"dataset": "iris", "package": "scikit-learn==1.9.1",
                  "path": "sklearn/datasets/data/iris.csv", "license": "BSD-3-Clause"}],
     "tasks": [{"id": "...", "question": "...", "context": "...", "guideline": "...",
                "data_files": ["iris.csv"], "metric": "numeric",
                "metric_params": {"rel_tol": 1e-3}, "answer": 5.84,
                "solution_file": "solutions/iris-mean.py", "metadata": {...}}]}

The tasks may instead be in ``tasks.jsonl`` beside the manifest, one JSON object a
line (read as a stream; an error names the line), for suites too large to be one JSON
document.  Data files are relative to ``data_dir`` and appear under the same relative path
in the sandbox's data folder (``/data``).  Every path the manifest names must resolve
inside the suite folder (see ``dsgym.suite_files``).  A reference solution is Python that
leaves its result in a variable named ``answer``.  ``image`` names the sandbox
image the suite needs (``sandboxes/<image>/``; default ``default``); ``resources``, what one
episode needs of the machine (``{"cpus": 1, "memory": "3g", "cpu_heavy": true}``, read by
``dsgym.admission``; the image's defaults otherwise).  A task that
fails validation is reported with its file, id and field, and the other tasks
still load; a task whose data files are missing still loads (official releases
omit some data) and says so when it is reset.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from dsgym.suite_files import (HOST_FILE_LIMIT, SOLUTION_LIMIT, Resolver, UnsafePathError, check_regular, contained,
                               open_regular, read_text, real, walk_files)

TASK_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
HOST_FILES = ("labels_file", "leaderboard_file")  # prediction files a manifest names relative to its folder
TASKS_FILE = "tasks.jsonl"


class TaskFileError(ValueError):
    """A suite manifest or one of its tasks is malformed; the message names file, task and field."""


class PredictionSpec(BaseModel):
    """What a prediction task (the agent writes a submission file) needs for host-side grading.

    ``labels_file`` (id + target columns, like the sample submission) and
    ``leaderboard_file`` (offline leaderboard stats, keyed by ``leaderboard_key``,
    default the task id; or MLE-bench's ``leaderboard.csv`` of one competition,
    ranked by MLE-bench's medal rules) are host paths and never enter the sandbox; in a
    manifest they are relative to the suite folder.  ``sample_submission`` is
    relative to the data folder, so the agent sees it too.  An invalid
    submission scores ``invalid_score``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    submission_file: str = "submission.csv"
    id_column: str = "id"
    target_columns: list[str] = Field(default_factory=list)
    sample_submission: str | None = None
    labels_file: Path | None = None
    leaderboard_file: Path | None = None
    leaderboard_key: str | None = None
    higher_is_better: bool = True
    allow_nan: bool = False
    invalid_score: float = Field(default=0.0, ge=0.0, le=1.0)

    @field_validator("submission_file")
    @classmethod
    def _plain_name(cls, name: str) -> str:
        if Path(name).is_absolute() or ".." in Path(name).parts:
            raise ValueError(f"submission file must be a path inside the working directory: {name!r}")
        return name

    @field_validator("sample_submission")
    @classmethod
    def _data_path(cls, name: str | None) -> str | None:
        if name is not None and (Path(name).is_absolute() or ".." in Path(name).parts):
            raise ValueError(f"sample submission must be a path inside the data folder: {name!r}")
        return name


class VariantSpec(BaseModel):
    """Which seeded family of variants keeps a task's question true (``dsgym.variants``, docs/variants.md).

    ``family`` names one of ``dsgym.variants.FAMILIES`` with its ``params``, or is ``"none"``
    with the ``reason`` no family fits.  A manifest's ``variant`` is the suite's default; a
    task's own ``variant`` replaces it.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    family: str = Field(min_length=1)
    params: dict[str, Any] = Field(default_factory=dict)
    reason: str = ""

    @model_validator(mode="after")
    def _none_says_why(self) -> VariantSpec:
        if self.family == "none" and not self.reason.strip():
            raise ValueError("family 'none' needs a reason (why no seeded family keeps the question true)")
        return self


# metadata an agent may read: what the task is about, never what its answer is (e.g. not published_data_value)
PUBLIC_METADATA = frozenset({"category", "difficulty", "dataset", "source", "license", "answer_type", "variant",
                             "data_variant", "tags"})


class Task(BaseModel):
    """A question about data, with everything needed to pose it and to grade the answer.

    ``answer`` and ``solution`` stay on the host: the sandbox only ever sees ``data_files``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=TASK_ID_PATTERN)
    suite: str
    question: str = Field(min_length=1)
    context: str = ""
    guideline: str = ""
    data_files: list[str] = Field(default_factory=list)
    metric: str = "exact_match"
    metric_params: dict[str, Any] = Field(default_factory=dict)
    answer: Any = None
    solution: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    kind: Literal["answer", "prediction"] = "answer"
    prediction: PredictionSpec | None = None
    data_root: Path = Field(exclude=True)
    # the declared variant family; left out of dumps so run and filter fingerprints of originals stay as they were
    variant: VariantSpec | None = Field(default=None, exclude=True)

    @field_validator("data_files")
    @classmethod
    def _relative_paths(cls, files: list[str]) -> list[str]:
        for name in files:
            if name.startswith("/") or ".." in name.split("/"):
                raise ValueError(f"data file must be a path inside the suite's data folder: {name!r}")
        return files

    def public(self) -> Task:
        """The task as an agent may see it (reset's ``info["task"]``): no answer, no reference solution,
        no host paths of hidden labels, and only descriptive metadata."""
        spec = self.prediction.model_copy(update={"labels_file": None, "leaderboard_file": None}) \
            if self.prediction else None
        return self.model_copy(update={"answer": None, "solution": None, "prediction": spec,
                                       "metadata": {k: v for k, v in self.metadata.items() if k in PUBLIC_METADATA}})

    @property
    def env_id(self) -> str:
        return f"{self.suite}/{self.id}"

    def data_paths(self) -> dict[str, Path]:
        """Relative path inside the sandbox's data folder -> file on the host, symlinks resolved.

        Raises ``UnsafePathError`` for a file that resolves outside the data folder (a symlink
        out of it), so nothing outside it is staged into a sandbox or copied by the filter.
        """
        root = [real(self.data_root)]
        what = f"task {self.env_id}: data file"
        return {name: contained(self.data_root / name, root, what) for name in self.data_files}

    def unsafe_data(self) -> list[str]:
        """Why the task's data would be refused when staged (a link out of the data folder, in a data
        folder too, or something that is not a regular file); empty when all is well."""
        try:
            for path in self.data_paths().values():
                if path.is_dir():
                    for _ in walk_files(path):
                        pass
                elif path.exists():
                    check_regular(path, None, "data file")
        except (UnsafePathError, OSError) as exc:
            return [str(exc)]
        return []

    def statement(self) -> list[str]:
        """Context, question and answer format as prompt lines: what the env and the blind probe both show."""
        lines = []
        if self.context:
            lines += [self.context.strip(), ""]
        lines += [f"Question: {self.question.strip()}", ""]
        if self.guideline:
            lines += [f"Answer format: {self.guideline.strip()}", ""]
        return lines

    def missing_data(self) -> list[str]:
        return [name for name in self.data_files if not (self.data_root / name).exists()]


@dataclass
class Suite:
    name: str
    root: Path
    version: str = "0"
    description: str = ""
    image: str = "default"
    sources: list[dict[str, Any]] = field(default_factory=list)
    tasks: dict[str, Task] = field(default_factory=dict)
    # what one episode needs ({"cpus": 1, "memory": "3g", "cpu_heavy": true}; dsgym.admission)
    resources: dict[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    variant: VariantSpec | None = None  # the suite's default variant family (a task may override it)


def load_manifest(path: Path, sources: Mapping[str, Suite] | None = None) -> Suite:
    """Read a suite folder (or its manifest.json); bad tasks become ``errors``, not exceptions.

    ``sources`` are the suites already registered: a filtered suite that references its
    source suite's files (``filter.source.suite``) may name files in that suite's folder.
    """
    manifest = path / "manifest.json" if path.is_dir() else path
    root = manifest.parent
    try:
        raw = json.loads(read_text(manifest, str(real(manifest)), HOST_FILE_LIMIT, "suite manifest"))
    except FileNotFoundError as exc:
        raise TaskFileError(f"{manifest}: no such suite manifest") from exc
    except json.JSONDecodeError as exc:
        raise TaskFileError(f"{manifest}: not valid JSON: {exc}") from exc
    except (OSError, ValueError) as exc:  # not a regular file, too large, not UTF-8
        raise TaskFileError(f"{manifest}: cannot read: {exc}") from exc
    tasks_file = root / TASKS_FILE
    if not isinstance(raw, dict) or not isinstance(raw.get("suite"), str):
        raise TaskFileError(f"{manifest}: needs a string 'suite' and a list 'tasks' (or a {TASKS_FILE} beside it)")
    if wrong := [key for key, kind in _MANIFEST_FIELDS.items() if key in raw and not isinstance(raw[key], kind)]:
        raise TaskFileError(f"{manifest}: wrong type for {', '.join(wrong)}")
    if os.path.lexists(tasks_file):
        if "tasks" in raw:
            raise TaskFileError(f"{manifest}: tasks are both in the manifest and in {tasks_file}; keep one")
        entries = _jsonl_entries(tasks_file, real(root))
    elif isinstance(raw.get("tasks"), list):
        entries = ((f"{manifest}: task", index, entry) for index, entry in enumerate(raw["tasks"]))
    else:
        raise TaskFileError(f"{manifest}: needs a string 'suite' and a list 'tasks' (or a {TASKS_FILE} beside it)")
    suite = Suite(name=raw["suite"], root=root, version=str(raw.get("version", "0")),
                  description=raw.get("description", ""), image=raw.get("image", "default"),
                  sources=list(raw.get("sources", [])), resources=dict(raw.get("resources", {})))
    if "variant" in raw:
        try:
            suite.variant = VariantSpec(**raw["variant"])
        except (ValidationError, TypeError) as exc:
            raise TaskFileError(f"{manifest}: variant: {_describe(exc) if isinstance(exc, ValidationError) else exc}"
                                ) from exc
    roots, source = _allowed_roots(raw, root, sources or {})
    data_root = root / raw.get("data_dir", "data")
    try:
        contained(data_root, roots, "data_dir")
    except UnsafePathError as exc:
        hint = f" (a filtered suite may use its source's folder: register suite {source!r} first)" if source else ""
        suite.errors.append(f"{manifest}: {exc}; no task loaded{hint}")
        return suite
    files = _FileChecks(root, roots, data_root)
    for where, index, entry in entries:
        label = entry.get("id", f"#{index}") if isinstance(entry, dict) else f"#{index}"
        try:
            if isinstance(entry, _BadLine):
                raise TaskFileError(entry.problem)
            task = _task_from_entry(entry, suite.name, root, data_root, files, suite.variant)
        except (ValidationError, TaskFileError, OSError, TypeError, ValueError) as exc:
            suite.errors.append(f"{where} {label}: {_describe(exc)}")
            continue
        if task.id in suite.tasks:
            suite.errors.append(f"{where} {label}: duplicate id")
            continue
        suite.tasks[task.id] = task
    return suite


_MANIFEST_FIELDS = {"data_dir": str, "image": str, "description": str, "sources": list, "tasks": list,
                    "resources": dict, "variant": dict}


@dataclass(frozen=True)
class _BadLine:
    problem: str


def _jsonl_entries(path: Path, root: Path) -> Iterator[tuple[str, int, Any]]:
    """``tasks.jsonl`` one line at a time as (where, index, entry); a line that is not JSON is a ``_BadLine``.

    The file must be a regular file inside the suite folder, at most ``HOST_FILE_LIMIT`` bytes.
    """
    try:
        handle = open_regular(path, contained(path, [root], TASKS_FILE), HOST_FILE_LIMIT, TASKS_FILE)
    except (OSError, UnsafePathError) as exc:
        raise TaskFileError(f"{path}: cannot read: {exc}") from exc
    with handle:
        index = 0
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                entry: Any = json.loads(line.decode("utf-8"))
            except UnicodeDecodeError:
                entry = _BadLine("not UTF-8 text")
            except json.JSONDecodeError as exc:
                entry = _BadLine(f"not valid JSON: {exc.msg} (column {exc.colno})")
            yield f"{path}:{number}: task", index, entry
            index += 1


def _allowed_roots(raw: dict[str, Any], root: Path, sources: Mapping[str, Suite]) -> tuple[list[Path], str | None]:
    """The folders the suite may name files in, and the source suite it names but is not registered.

    A filtered suite written by ``dsgym filter`` without ``--copy-data`` references its
    source suite's data and solutions; that suite's folder is allowed when a suite of that
    name is registered (the user's own choice), never a folder the manifest itself names.
    """
    roots = [real(root)]
    source = raw.get("filter", {}).get("source", {}) if isinstance(raw.get("filter"), dict) else {}
    name = source.get("suite") if isinstance(source, dict) else None
    if not isinstance(name, str) or name == raw.get("suite"):
        return roots, None
    if name not in sources:
        return roots, name
    return [*roots, real(sources[name].root)], None


class _FileChecks:
    """Where a manifest's files may be (resolved folders), with the checks its tasks share.

    Solutions are cached by the name the manifest gives (a large generated suite often shares
    a few of them) and by real path.
    """

    def __init__(self, root: Path, roots: list[Path], data_root: Path) -> None:
        self.root = str(root)
        self.files = Resolver(roots)
        self.data = Resolver([real(data_root)])
        self._named: dict[str, str] = {}
        self._solutions: dict[str, str] = {}

    def solution(self, name: str) -> str:
        if (text := self._named.get(name)) is not None:
            return text
        path = os.path.join(self.root, name)
        resolved = self.files.contained(path, "solution_file")
        if (text := self._solutions.get(resolved)) is None:
            text = self._solutions[resolved] = read_text(Path(path), resolved, SOLUTION_LIMIT, "solution_file")
        self._named[name] = text
        return text

    def host_file(self, path: Path, what: str) -> Path:
        resolved = Path(self.files.contained(path, what))
        check_regular(resolved, HOST_FILE_LIMIT, what)
        return resolved

    def sample(self, path: Path) -> None:
        check_regular(Path(self.data.contained(path, "sample_submission")), HOST_FILE_LIMIT, "sample_submission")


def _task_from_entry(entry: Any, suite: str, root: Path, data_root: Path, files: _FileChecks,
                     default_variant: VariantSpec | None = None) -> Task:
    if not isinstance(entry, dict):
        raise TaskFileError("a task must be a JSON object")
    entry = dict(entry)
    if "variant" not in entry and default_variant is not None:
        entry["variant"] = default_variant
    if solution_file := entry.pop("solution_file", None):
        if not isinstance(solution_file, str):
            raise TaskFileError("solution_file: expected a path relative to the suite folder")
        entry["solution"] = files.solution(solution_file)
    if isinstance(spec := entry.get("prediction"), dict):
        spec = dict(spec)
        for key in HOST_FILES:
            if isinstance(spec.get(key), str):
                spec[key] = files.host_file(root / spec[key], key)
        if isinstance(sample := spec.get("sample_submission"), str) and not os.path.isabs(sample):
            files.sample(data_root / sample)
        entry["prediction"] = spec
    return Task(suite=suite, data_root=data_root, **entry)


def _describe(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(map(str, err['loc'])) or 'task'}: {err['msg']}" for err in exc.errors())
    return str(exc)
