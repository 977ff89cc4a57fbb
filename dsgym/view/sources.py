"""What ``dsgym view`` can open: run folders and filter output folders, read without ever failing on bad lines.

Every folder kind is recognised in ``detect`` alone, so a new kind (say, a JSONL of
synthesised task candidates) is one more branch there plus its loader.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dsgym.filter.output import MANIFEST as FILTER_MANIFEST
from dsgym.filter.output import REPORT_JSONL
from dsgym.run_folder import EPISODES, MANIFEST, latest, read_manifest


class ViewError(RuntimeError):
    """A folder the viewer cannot open; the message says why."""


@dataclass
class BadLine:
    """A line of a JSONL file that is not a JSON object (corrupt, or torn by a killed writer)."""

    number: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.number}: unreadable ({self.reason})"


@dataclass
class Run:
    path: Path
    name: str
    manifest: dict[str, Any]
    records: list[dict[str, Any]]  # the latest record of each episode, in log order
    bad: list[BadLine] = field(default_factory=list)


@dataclass
class FilterReport:
    path: Path
    name: str
    manifest: dict[str, Any]
    reports: list[dict[str, Any]]
    bad: list[BadLine] = field(default_factory=list)


Source = Run | FilterReport


def read_jsonl(path: Path) -> tuple[list[dict[str, Any]], list[BadLine]]:
    """The JSON objects of a JSONL file, and the lines that are not (with the parser's reason)."""
    records: list[dict[str, Any]] = []
    bad: list[BadLine] = []
    data = path.read_bytes()
    lines = data.split(b"\n")
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        last = number == len(lines)  # no newline after it: an interrupted write
        try:
            record = json.loads(line)
        except ValueError as exc:
            reason = f"incomplete last line, {len(line)} bytes" if last else f"{type(exc).__name__}: {exc}"
            bad.append(BadLine(number, reason[:200]))
            continue
        if isinstance(record, dict):
            records.append(record)
        else:
            bad.append(BadLine(number, f"a JSON {type(record).__name__}, not an object"))
    return records, bad


def detect(path: str | Path) -> Source:
    """Load ``path`` as whichever kind of folder it is (a filter output folder also holds a manifest)."""
    path = Path(path)
    if (path / REPORT_JSONL).is_file():
        return load_filter(path)
    if (path / MANIFEST).is_file():
        return load_run(path)
    raise ViewError(f"{path} is neither a run folder ({MANIFEST} + {EPISODES}) nor a filter output folder "
                    f"({REPORT_JSONL})")


def load_run(path: Path) -> Run:
    manifest = read_manifest(path)
    manifest = manifest if isinstance(manifest, dict) else {}  # a run folder from elsewhere: trust no field's type
    log = path / EPISODES
    records, bad = read_jsonl(log) if log.is_file() else ([], [])
    name = str(manifest.get("name") or path.resolve().name)
    return Run(path, name, manifest, list(latest(records).values()), bad)


def load_filter(path: Path) -> FilterReport:
    try:
        manifest = json.loads((path / FILTER_MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        manifest = {}
    reports, bad = read_jsonl(path / REPORT_JSONL)
    name = manifest.get("suite") if isinstance(manifest, dict) else None
    return FilterReport(path, name or path.resolve().name, manifest if isinstance(manifest, dict) else {},
                        reports, bad)
