"""Per-item results on a ``RunLog``, reused by content key so an interrupted run resumes (filter and synthesis).

``<out>/filter-state.jsonl`` (synthesis: ``synth-state.jsonl``) holds one JSON line
per finished part of an item, ``{"task", "part", "key", "complete", "result"}``
(filter parts: ``probe``, the blind samples; ``sandbox``, the reference runs, the
load check and the perturbed runs).  ``key`` is a ``digest`` of everything the
result depends on (the task's content and data, the settings of that part).  A
rerun reuses the newest complete line of a matching key (so switching settings
back and forth recomputes nothing) and recomputes the rest.  Appends, torn lines
and fsync are ``dsgym.runlog``'s.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from dsgym.runlog import RunLog

STATE_FILE = "filter-state.jsonl"
StateKey = tuple[str, str, str]  # (task or item, part, key)


def digest(material: Any) -> str:
    """The content key of ``material`` (any JSON-able value; stable across runs and Python versions)."""
    blob = json.dumps(material, sort_keys=True, default=repr, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


def state_log(path: Path) -> RunLog:
    return RunLog(path, key=lambda record: (record["task"], record["part"], record["key"]))


def open_state(path: Path) -> tuple[RunLog, dict[StateKey, dict[str, Any]]]:
    """The log at ``path`` and its newest complete line per key; a log already there is opened for appending
    (a torn last line cut off), a new one is made by the first append.  ``close`` it when done."""
    log = state_log(path)
    contents = log.open() if path.exists() else log.read()
    return log, log.latest(r for r in contents.records if r.get("complete"))
