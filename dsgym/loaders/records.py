"""Official task files in, suites out: the parsing every official format shares.

An official format is a list of JSON records (a ``.json`` array or a ``.jsonl``
file) in the release's ``data/task/<suite folder>/`` or a ``datasets.Dataset``
with the same columns.  Each format module supplies two functions: the task id
of a record, and the ``Task`` a record becomes.  ``OfficialFormat`` does the
rest the same way for every source: a record that cannot become a task is
reported in ``Suite.errors`` with its file, task and field, and the others
still load.  Data files are never opened here.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from dsgym.task import TASK_ID_PATTERN, Suite, Task, TaskFileError

#: Where the DSGym-format suites are looked for on the Hugging Face hub when no
#: ``repo_id`` is given: a dataset repo laid out like the release's ``data/``
#: folder.  The official README links only the ``DSGym`` organization and names
#: no dataset, so this is an assumption; override it with ``repo_id=`` or the
#: ``DSGYM_HUB_REPO`` environment variable.
DEFAULT_HUB_REPO = "DSGym/DSGym"

#: The image the official analysis suites run in (sandboxes/official-analysis: dsgym's default stack plus the
#: official analysis image's packages, docs/images.md); the other families' formats name theirs.
ANALYSIS_IMAGE = "official-analysis"

_ID = re.compile(TASK_ID_PATTERN)
_NOT_ID_CHARS = re.compile(r"[^A-Za-z0-9_.-]+")
_UNSET: Any = object()


class RecordError(ValueError):
    """A record field that cannot be read; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass
class Context:
    """What a format's builder needs besides the record itself."""

    suite: str
    root: Path  # the folder laid out like the release's data/
    data_root: Path  # host folder that appears as /data in the sandbox
    extra: dict[str, Any] = field(default_factory=dict)


Builder = Callable[[Mapping[str, Any], int, str, Context], Task]
IdOf = Callable[[Mapping[str, Any], int], str]
Prepare = Callable[[Path], tuple[dict[str, Any], list[str]]]


@dataclass(frozen=True)
class OfficialFormat:
    """One official task file: where it lives, how its records become tasks, where it is on the hub."""

    suite: str
    task_file: str  # relative to the release's data/ folder
    task_id: IdOf
    build: Builder
    description: str
    benchmark: str
    image: str = ANALYSIS_IMAGE
    data_subdir: str = "data"  # the data root, relative to the release's data/ folder
    prepare: Prepare | None = None  # suite-wide side files (e.g. a leaderboard) read once
    hub_repo: str | None = None  # None: DEFAULT_HUB_REPO with data_files=task_file
    hub_name: str | None = None
    hub_split: str = "train"

    # -- sources --------------------------------------------------------------------------------

    def load(self, root: str | os.PathLike[str], task_file: str | os.PathLike[str] | None = None) -> Suite:
        """Build the suite from a folder laid out like the release's ``data/``.

        ``task_file`` overrides the file read (default ``<root>/<task_file>``); a missing
        or unreadable file raises ``TaskFileError``, a bad record becomes an error entry.
        """
        root = Path(root)
        path = Path(task_file) if task_file is not None else root / self.task_file
        return self.from_records(read_records(path), root, source=str(path))

    def from_dataset(self, dataset: Iterable[Mapping[str, Any]], root: str | os.PathLike[str],
                     source: str = "dataset") -> Suite:
        """Build the suite from a ``datasets.Dataset`` (or any iterable of records)."""
        return self.from_records(((i, row, None) for i, row in enumerate(dataset)), Path(root), source)

    def from_hub(self, root: str | os.PathLike[str] | None = None, *, repo_id: str | None = None,
                 name: str | None = _UNSET, split: str | None = None, data_files: Any = _UNSET,
                 **load_kwargs: Any) -> Suite:
        """Build the suite from ``datasets.load_dataset`` (needs the ``datasets`` package).

        Defaults: the format's own hub dataset where it has one (DABStep), else
        ``DEFAULT_HUB_REPO`` with ``data_files`` set to the release path of the task
        file.  ``root`` is where the data files are on this machine (default
        ``$DSGYM_DATA_DIR`` or the current folder); tasks whose data is not there
        still load and say so through ``Task.missing_data()``.
        """
        import datasets  # optional dependency: pip install 'dsgym[hub]'

        own_repo = self.hub_repo is not None
        repo = repo_id or (self.hub_repo if own_repo else os.environ.get("DSGYM_HUB_REPO", DEFAULT_HUB_REPO))
        if name is _UNSET:
            name = self.hub_name if own_repo and repo == self.hub_repo else None
        if data_files is _UNSET:
            data_files = None if own_repo and repo == self.hub_repo else self.task_file
        split = split or self.hub_split
        dataset = datasets.load_dataset(repo, name, data_files=data_files, split=split, **load_kwargs)
        where = f"{repo}" + (f"/{name}" if name else "") + (f":{data_files}" if isinstance(data_files, str) else "")
        root = Path(root) if root is not None else Path(os.environ.get("DSGYM_DATA_DIR", "."))
        return self.from_dataset(dataset, root, source=f"hub {where}[{split}]")

    # -- shared parsing -------------------------------------------------------------------------

    def from_records(self, records: Iterable[tuple[int, Any, str | None]], root: Path, source: str) -> Suite:
        """``(index, record, problem)`` triples -> suite; ``problem`` is a parse error for that record."""
        suite = Suite(name=self.suite, root=root, version="official", description=self.description,
                      image=self.image, sources=[{"dataset": self.benchmark, "path": self.task_file,
                                                  "origin": "fannie1208/DSGym data/"}])
        ctx = Context(suite=self.suite, root=root, data_root=root / self.data_subdir)
        if self.prepare is not None:
            ctx.extra, problems = self.prepare(root)
            suite.errors.extend(f"{source}: {problem}" for problem in problems)
        for index, record, problem in records:
            label = f"record #{index}"
            try:
                if problem:
                    raise RecordError("record", problem)
                if not isinstance(record, Mapping):
                    raise RecordError("record", f"expected a JSON object, got {type(record).__name__}")
                task_id = self.task_id(record, index)
                label = f"task {task_id} (record #{index})"
                task = self.build(record, index, task_id, ctx)
            except RecordError as exc:
                suite.errors.append(f"{source}: {label}: {exc.field}: {exc}")
                continue
            except ValidationError as exc:
                suite.errors.append(f"{source}: {label}: {describe(exc)}")
                continue
            except (TypeError, ValueError, KeyError, AttributeError) as exc:
                suite.errors.append(f"{source}: {label}: record: {type(exc).__name__}: {exc}")
                continue
            if task.id in suite.tasks:
                suite.errors.append(f"{source}: {label}: id: duplicate task id {task.id!r}")
                continue
            suite.tasks[task.id] = task
        return suite


# -- reading files --------------------------------------------------------------------------------


def read_records(path: Path) -> Iterator[tuple[int, Any, str | None]]:
    """The records of a ``.json`` array or a ``.jsonl`` file as ``(index, record, problem)``.

    A file that is missing or not valid JSON raises ``TaskFileError`` (at once, not
    lazily); in a ``.jsonl`` file only the bad line is reported.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise TaskFileError(f"{path}: no such task file") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise TaskFileError(f"{path}: cannot read: {exc}") from exc
    if path.suffix == ".jsonl":
        return iter(list(_jsonl(text)))
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TaskFileError(f"{path}: not valid JSON: {exc}") from exc
    if not isinstance(raw, list):
        raise TaskFileError(f"{path}: expected a JSON array of task records, got {type(raw).__name__}")
    return ((index, record, None) for index, record in enumerate(raw))


def _jsonl(text: str) -> Iterator[tuple[int, Any, str | None]]:
    index = 0
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            yield index, json.loads(line), None
        except json.JSONDecodeError as exc:
            yield index, None, f"line {number}: not valid JSON: {exc.msg}"
        index += 1


# -- reading fields -------------------------------------------------------------------------------


def text(record: Mapping[str, Any], key: str, *, required: bool = True) -> str:
    """A string field; ``required`` ones must be present and not blank."""
    value = record.get(key)
    if value is None:
        if required:
            raise RecordError(key, "missing")
        return ""
    if not isinstance(value, str):
        raise RecordError(key, f"expected a string, got {type(value).__name__}")
    if required and not value.strip():
        raise RecordError(key, "empty")
    return value


def question(record: Mapping[str, Any], key: str = "question") -> str:
    """The question: a string, or a list of strings (one DSBio record has its question as a one-item list)."""
    value = record.get(key)
    if isinstance(value, (list, tuple)) and value and all(isinstance(part, str) for part in value):
        value = "\n".join(part.strip() for part in value)
        if value.strip():
            return value
    return text(record, key)


def mapping(record: Mapping[str, Any], key: str) -> dict[str, Any]:
    """An object field (absent or null reads as empty)."""
    value = record.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise RecordError(key, f"expected an object, got {type(value).__name__}")
    return dict(value)


def strings(record: Mapping[str, Any], key: str, *, required: bool = True) -> list[str]:
    """A list-of-strings field."""
    value = record.get(key)
    if value is None:
        if required:
            raise RecordError(key, "missing")
        return []
    if not isinstance(value, (list, tuple)) or not all(isinstance(item, str) for item in value):
        raise RecordError(key, "expected a list of strings")
    return list(value)


def data_file(path: str, key: str = "data") -> str:
    """An official sandbox path (``/data/daeval/x.csv``) as a path relative to the data root.

    The release refers to data by its absolute path in the official container, whose
    ``/data`` is the release's ``data/data`` folder; dsgym mounts the data root at
    ``/data`` too, so stripping the prefix keeps every path the same inside the sandbox.
    """
    raw = path.strip()
    if raw.startswith("/data/"):
        raw = raw[len("/data/"):]
    elif raw.startswith("/"):
        raise RecordError(key, f"{path!r} is outside /data")
    rel = posixpath.normpath(raw)
    if rel in ("", ".") or rel == ".." or rel.startswith("../"):
        raise RecordError(key, f"{path!r} does not name a file under /data")
    return rel


def data_files(record: Mapping[str, Any], key: str = "data") -> list[str]:
    return [data_file(path, key) for path in strings(record, key)]


def official_id(value: Any, key: str) -> str:
    """An official id (int or string) as a task id: ``^[A-Za-z0-9][A-Za-z0-9_.-]*$``."""
    if isinstance(value, bool) or value is None:
        raise RecordError(key, "missing" if value is None else "expected an id, got a boolean")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, (int, str)):
        raise RecordError(key, f"expected an id, got {type(value).__name__}")
    task_id = _NOT_ID_CHARS.sub("-", str(value).strip()).strip("-._")
    if not _ID.match(task_id):
        raise RecordError(key, f"{value!r} cannot be made into a task id")
    return task_id


def index_id(record: Mapping[str, Any], index: int) -> str:
    """For formats without ids: the record's position in the official file."""
    return str(index)


def describe(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, err['loc'])) or 'task'}: {err['msg']}" for err in exc.errors())


def number(value: Any) -> float | None:
    """A plain number written as a number or as a string (``'0.25'``, ``-3``), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and re.fullmatch(r"\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*", value):
        return float(value)
    return None
