"""Per-task check results persisted as they complete, so an interrupted run resumes.

``<out>/filter-state.jsonl`` holds one JSON line per finished part of a task
(``probe``: the blind samples; ``sandbox``: the reference runs, the load check and
the perturbed runs), tagged with a key: a hash of everything the part's result
depends on (the task's content and data, the settings of that part).  A rerun
reuses the newest complete line with a matching key
(so switching settings back and forth recomputes nothing) and recomputes the rest.
Lines are written with one ``write`` on an ``O_APPEND`` descriptor and flushed
to disk; a line cut short by a crash is cut off by the next ``load``, so the
next append starts on a line of its own.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Any

STATE_FILE = "filter-state.jsonl"


def digest(material: Any) -> str:
    blob = json.dumps(material, sort_keys=True, default=repr, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


class StateStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def load(self) -> dict[tuple[str, str, str], dict[str, Any]]:
        """The newest complete record per (task, part, key); a torn last line is removed from the file."""
        found: dict[tuple[str, str, str], dict[str, Any]] = {}
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return found
        end = data.rfind(b"\n") + 1
        if end < len(data):  # an append cut short by a crash: drop it, or the next line would be glued to it
            with self._lock, open(self.path, "r+b") as handle:
                handle.truncate(end)
                os.fsync(handle.fileno())
        for line in data[:end].decode("utf-8", "replace").splitlines():
            try:
                record = json.loads(line)
                key = (record["task"], record["part"], record["key"])
            except (ValueError, KeyError, TypeError):
                continue  # a torn last line, or a foreign one
            if record.get("complete"):
                found[key] = record
        return found

    def append(self, record: dict[str, Any]) -> None:
        data = (json.dumps(record, sort_keys=True, ensure_ascii=False, default=repr) + "\n").encode()
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
