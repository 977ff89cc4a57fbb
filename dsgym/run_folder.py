"""Run folders: what ``dsgym eval`` writes, how a run is recognised, resumed and loaded.

A run folder holds ``manifest.json`` (what was run and how: settings, suites' fingerprints,
the prompts' hash, every invocation), ``episodes.jsonl`` (the run log, one episode per line;
``dsgym.runlog``), ``artifacts/`` (figures and submissions) and ``llm-cache/`` (the model
replies this run saw).  The format is documented in docs/run-folder.md.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dsgym import registry
from dsgym.config import EnvConfig
from dsgym.scoring.profiles import DEFAULT_PROFILE
from dsgym.episode import episode_key, variant_seed
from dsgym.llm import RUN_CACHE
from dsgym import runlog
from dsgym.runlog import LogContents, RunDirError, RunLog, atomic_write, fsync_dir

EPISODES = "episodes.jsonl"
ARTIFACTS = "artifacts"  # figures and submission files of the run's episodes
MANIFEST = "manifest.json"
MANIFEST_FORMAT = 1
SUMMARY = "summary.json"  # what the summary table shows, machine-readable (report.Summary.to_dict())


def record_key(record: dict[str, Any]) -> str:
    """The episode a run-log line is about: ``suite/task#sample``."""
    return episode_key(record.get("suite", ""), record.get("task_id", ""), int(record.get("sample", 0)),
                       variant_seed(record.get("variant")))


def episode_log(out: str | os.PathLike[str]) -> RunLog:
    return RunLog(Path(out) / EPISODES, key=record_key)


def latest(records: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The last record of each episode key (a retried episode supersedes its errored line)."""
    return runlog.latest(records, record_key)  # type: ignore[return-value]


@dataclass
class EvalSettings:
    """What decides an eval's results; a run folder holds episodes of one setting only."""

    targets: list[str]
    agent: str = "oracle"
    agent_kwargs: dict[str, Any] = field(default_factory=dict)
    samples: int = 1
    env_options: dict[str, Any] = field(default_factory=dict)
    episode_timeout: float | None = None
    variants: int = 0  # seeded variants per task played beside the originals (dsgym.variants)

    def to_dict(self) -> dict[str, Any]:
        env_options = {k: v for k, v in self.env_options.items()  # no profile recorded means dsgym's,
                       if not (k == "scoring" and v == DEFAULT_PROFILE)}  # so runs from before profiles resume
        data = {"targets": list(self.targets), "agent": self.agent, "agent_kwargs": dict(self.agent_kwargs),
                "samples": self.samples, "env_options": env_options,
                "episode_timeout": self.episode_timeout}
        if self.variants:  # absent when 0, so runs from before variants existed still resume
            data["variants"] = self.variants
        return data

    @property
    def scoring(self) -> str:
        """The run's scoring profile (``dsgym.scoring.profiles``)."""
        return str(self.env_options.get("scoring") or DEFAULT_PROFILE)

    def env(self) -> EnvConfig:
        """The env options as an ``EnvConfig``: unknown names and bad values are errors (``ValueError``)."""
        return EnvConfig.from_options(self.env_options)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EvalSettings:
        return cls(**{k: data[k] for k in ("targets", "agent", "agent_kwargs", "samples", "env_options",
                                           "episode_timeout", "variants") if k in data})


FINGERPRINT_FORMAT = 2  # 1 (no "hash_format"): one JSON document of all tasks; 2: each task's JSON in turn


def suite_fingerprint(suite: registry.Suite) -> dict[str, Any]:
    """Version, task count and a SHA-256 of every task definition of a suite.

    Each task is serialised by pydantic (compiled, about five times faster than ``json``
    with sorted keys), so a 100,000-task suite is fingerprinted in about a second.
    """
    digest = hashlib.sha256()
    for _, task in sorted(suite.tasks.items()):
        digest.update(_task_blob(task) + b"\n")
    return {"version": suite.version, "tasks": len(suite.tasks), "hash": digest.hexdigest(),
            "hash_format": FINGERPRINT_FORMAT}


def task_digest(task: Any) -> str:
    """SHA-256 of one task's definition, as the suite fingerprint reads it (host paths left out)."""
    return hashlib.sha256(_task_blob(task)).hexdigest()


def _task_blob(task: Any) -> bytes:
    try:
        blob = task.model_dump_json(exclude=_HOST_PATHS, fallback=str)
    except ValueError:  # text pydantic will not encode (lone surrogates): the slow, lenient path
        blob = json.dumps(_task_definition(task), sort_keys=True, ensure_ascii=False, default=str)
    return blob.encode("utf-8", "surrogatepass")


def prompt_hash(jobs: Iterable[Any]) -> str:
    """A hash of what the agent sees of the run's tasks (grading excluded: ``rescore`` handles that)."""
    seen = {(j.suite, j.task_id): j.task for j in jobs}
    parts = []
    for key in sorted(seen):
        task = seen[key]
        parts.append({"env_id": task.env_id, "context": task.context, "question": task.question,
                      "guideline": task.guideline, "data_files": task.data_files, "kind": task.kind,
                      "submission": task.prediction.submission_file if task.prediction else None})
    return _hash(parts)


_HOST_PATHS = {"prediction": {"labels_file", "leaderboard_file"}}  # differ between machines; content is the task's


def _task_definition(task: Any) -> dict[str, Any]:
    data = task.model_dump(mode="json")
    if data.get("prediction"):
        for name in _HOST_PATHS["prediction"]:
            data["prediction"].pop(name, None)
    return data


def _hash(value: Any) -> str:
    blob = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8", "surrogatepass")).hexdigest()


def read_manifest(out: str | os.PathLike[str]) -> dict[str, Any] | None:
    path = Path(out) / MANIFEST
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except ValueError as exc:
        raise RunDirError(f"{path} is not valid JSON ({exc}); is {out} a dsgym run folder?") from exc


def write_manifest(out: str | os.PathLike[str], manifest: dict[str, Any]) -> None:
    atomic_write(Path(out) / MANIFEST, (json.dumps(manifest, indent=2, ensure_ascii=False, default=str)
                                        + "\n").encode())


def write_summary(out: str | os.PathLike[str], summary: Any) -> None:
    """``summary.json``: a ``report.Summary`` as JSON, rewritten whenever the run's scores change."""
    atomic_write(Path(out) / SUMMARY, (json.dumps(summary.to_dict(), indent=2, ensure_ascii=False, default=str)
                                       + "\n").encode())


def run_scoring(manifest: dict[str, Any] | None) -> str:
    """The scoring profile a run folder's manifest records (none recorded: dsgym's)."""
    settings = (manifest or {}).get("settings")
    options = settings.get("env_options") if isinstance(settings, dict) else None
    return str(options.get("scoring") or DEFAULT_PROFILE) if isinstance(options, dict) else DEFAULT_PROFILE


def settings_differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Human-readable differences between two settings dicts (JSON-normalised)."""
    old, new = json.loads(json.dumps(old, default=str)), json.loads(json.dumps(new, default=str))
    diffs = []
    was, now = run_scoring({"settings": old}), run_scoring({"settings": new})
    if was != now:
        diffs.append(f"scoring profile: {was} (in the run) vs {now} (now); a run folder holds one profile: "
                     f"`dsgym rescore <run> --scoring {now}` re-grades its answers into a new folder")
    for key in sorted(set(old) | set(new)):
        if old.get(key) != new.get(key):
            diffs.append(f"{key}: {json.dumps(old.get(key))} (in the run) vs {json.dumps(new.get(key))} (now)")
    return diffs


def set_aside(out: Path) -> None:
    """``--force``: move the previous run's files into ``out/replaced-<time>/``, never delete them."""
    target = out / f"replaced-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:4]}"
    moved = False
    for name in (EPISODES, MANIFEST, SUMMARY, RUN_CACHE):  # a new run starts with no replies of the old one
        if (out / name).exists():
            target.mkdir(exist_ok=True)
            shutil.move(str(out / name), str(target / name))
            moved = True
    if moved:
        fsync_dir(out)


def load_run(path: str | os.PathLike[str]) -> tuple[dict[str, Any], list[dict[str, Any]], LogContents]:
    """A run folder's manifest and the latest record of each of its episodes."""
    path = Path(path)
    manifest = read_manifest(path)
    if manifest is None:
        raise RunDirError(f"{path} is not a dsgym run folder (no {MANIFEST})")
    contents = episode_log(path).read()
    return manifest, list(latest(contents.records).values()), contents
