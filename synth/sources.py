"""Where synthesis finds datasets: folders of data files, single files, or the data of a registered suite.

A *dataset* is the set of files one generated question may use: a file at the top
of a source folder, a subfolder (all its data files together), or, for a suite,
each distinct set of data files its tasks use.  Every dataset knows its sandbox
image: a suite's own, else ``bio`` when it holds ``.h5ad`` files, else ``default``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

from dsgym import registry
from dsgym.task import Task, VariantSpec

DATA_SUFFIXES = (".csv", ".tsv", ".txt", ".parquet", ".pq", ".h5ad", ".json", ".jsonl", ".xlsx")
MAX_FILES = 200  # per dataset: a folder of thousands of images is described, not profiled file by file


class SourceError(ValueError):
    """A source is neither a readable path nor a known suite, or holds no data files."""


@dataclass(frozen=True)
class Dataset:
    """Files (relative to ``root``) that questions are asked about together."""

    name: str
    source: str
    root: Path
    files: tuple[str, ...]
    image: str = "default"
    variant: VariantSpec | None = None  # the family its suite declares for tasks on these files (``--variants``)

    def paths(self) -> dict[str, Path]:
        return {rel: self.root / rel for rel in self.files}


def slug(text: str) -> str:
    """A task-id-safe name: letters, digits, dots, dashes, underscores."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-._")
    return cleaned[:60] or "data"


def _is_data(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in DATA_SUFFIXES and not path.name.startswith(".")


def _image_for(files: list[Path], image: str | None) -> str:
    if image:
        return image
    return "bio" if any(p.suffix.lower() == ".h5ad" for p in files) else "default"


def from_path(path: Path, image: str | None = None) -> list[Dataset]:
    """A data file is one dataset; a folder gives one per top-level data file and one per subfolder."""
    path = path.resolve()
    label = str(path)
    if path.is_file():
        if not _is_data(path):
            raise SourceError(f"{path}: not a data file (known: {', '.join(DATA_SUFFIXES)})")
        return [Dataset(slug(path.stem), label, path.parent, (path.name,), _image_for([path], image))]
    if not path.is_dir():
        raise SourceError(f"{path}: no such file or folder")
    found: list[Dataset] = []
    for entry in sorted(path.iterdir()):
        if _is_data(entry):
            found.append(Dataset(slug(entry.stem), label, path, (entry.name,), _image_for([entry], image)))
        elif entry.is_dir() and not entry.name.startswith("."):
            files = sorted(p for p in entry.rglob("*") if _is_data(p))[:MAX_FILES]
            if files:
                found.append(Dataset(slug(entry.name), label, path,
                                     tuple(p.relative_to(path).as_posix() for p in files), _image_for(files, image)))
    if not found:
        raise SourceError(f"{path}: holds no data files (known: {', '.join(DATA_SUFFIXES)})")
    return found


def from_suite(name: str) -> list[Dataset]:
    """Each distinct set of data files among the suite's tasks (hidden labels never count)."""
    suite = registry.get_suite(name)
    seen: dict[tuple[str, ...], Path] = {}
    users: dict[tuple[str, ...], list[Task]] = {}
    for task in suite.tasks.values():
        files = tuple(task.data_files)
        users.setdefault(files, []).append(task)
        if files and files not in seen and not task.missing_data():
            seen[files] = task.data_root
    if not seen:
        raise SourceError(f"suite {name!r} has no tasks with data files on this machine")
    return [Dataset(slug("+".join(Path(f).stem for f in files)), f"suite:{suite.name}", root, files, suite.image,
                    _declared(users[files])) for files, root in sorted(seen.items())]


def _declared(tasks: list[Task]) -> VariantSpec | None:
    """The first family declared for these tasks that serves questions with an answer (not ``none``, not a
    prediction task's ``split-redraw``): it keeps questions over these files true, so generated ones too."""
    from dsgym.variants import FAMILIES

    for task in tasks:
        spec = task.variant
        if spec is not None and spec.family in FAMILIES and "answer" in FAMILIES[spec.family].kinds:
            return spec
    return None


def discover(specs: list[str], image: str | None = None) -> list[Dataset]:
    """Datasets of every source, in order; names made unique within the run (``name``, ``name-2``, ...).

    A source is a path (file or folder) if one exists, else ``suite:<name>`` or a suite name.
    """
    datasets: list[Dataset] = []
    for spec in specs:
        path = Path(spec).expanduser()
        if spec.startswith("suite:"):
            datasets += from_suite(spec.removeprefix("suite:"))
        elif path.exists():
            datasets += from_path(path, image)
        else:
            try:
                datasets += from_suite(spec)
            except registry.UnknownEnvError as exc:
                raise SourceError(f"{spec}: no such file or folder, and {exc}") from None
    taken: dict[str, int] = {}
    unique = []
    for ds in datasets:
        count = taken.get(ds.name, 0) + 1
        taken[ds.name] = count
        unique.append(ds if count == 1 else replace(ds, name=f"{ds.name}-{count}"))
    return unique
