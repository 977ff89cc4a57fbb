"""Where variants are kept and what they run in: content keys, the cache folder, per-key locks, the image's sandbox.

Every key is a SHA-256 of what a variant depends on (the task's model and file contents, the
family and its params, the seed, the image id), so a cached variant is found by a digest and
a JSON read, and an edited task or a rebuilt image gets new variants.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dsgym.task import Task

VARIANT_VERSION = 1  # part of every cache key: bump when a family's output changes
REPLAY_TIMEOUT = 600.0  # seconds for one reference run (a DESeq2 fit on a busy machine takes a while)
# counted in this process: tests prove a cached reset replays nothing
stats: Counter[str] = Counter()
_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()
_image_ids: dict[str, str] = {}


class VariantError(Exception):
    """The task cannot give this variant: no family declared, ``none``, or no valid seed (the message says why)."""


def cache_root() -> Path:
    """Where variants are kept: ``<dsgym home>/variants`` (``$DSGYM_HOME``, else the user cache)."""
    from dsgym.fetching import home

    return home() / "variants"


def digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:32]


_file_digests: dict[tuple[str, int, int], str] = {}


def file_digest(path: Path) -> str:
    """sha256 of a file (or of a folder's files and names), remembered by path, size and mtime."""
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _file_digests:
        digest = hashlib.sha256()
        paths = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for p in paths:
            digest.update(str(p.relative_to(path) if path.is_dir() else "").encode() + b"\0")
            with p.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
        _file_digests[key] = digest.hexdigest()
    return _file_digests[key]


def task_digest(task: Task) -> str:
    """The task as posed (question, solution, answer, files' contents, labels): what its variants depend on."""
    files = {rel: file_digest(path) for rel, path in task.data_paths().items()}
    labels = task.prediction.labels_file if task.prediction else None
    return digest({"task": task.model_dump(mode="json"), "files": files,
                   "labels": file_digest(Path(labels)) if labels else None})


def lock(key: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(key, threading.Lock())


def suite_image(task: Task) -> str:
    from dsgym import registry
    from dsgym.sandbox.images import image_tag

    try:
        name = registry.get_suite(task.suite).image
    except (KeyError, ValueError, LookupError):
        name = "default"
    return image_tag(name)


def image_id(tag: str) -> str:
    """The image's content id (so a rebuilt image gives new golds); the tag itself for non-Docker sandboxes."""
    if tag not in _image_ids:
        kind = os.environ.get("DSGYM_SANDBOX") or "docker"
        if kind != "docker":
            _image_ids[tag] = f"{kind}:{tag}"
        else:
            import docker

            try:
                _image_ids[tag] = docker.from_env().images.get(tag).id
            except docker.errors.ImageNotFound as exc:
                raise VariantError(f"sandbox image {tag} is not built: run dsgym sandbox build") from exc
            except docker.errors.DockerException as exc:
                raise VariantError(f"cannot reach Docker to look up image {tag}: {exc}") from exc
    return _image_ids[tag]


_factories: dict[str, Callable[[], Any]] = {}


def sandbox_runner(image: str):
    """A runner of fresh sandboxes of ``image`` (the sandbox kind of ``$DSGYM_SANDBOX``, else Docker)."""
    from dsgym.filter.execution import SandboxRunner
    from dsgym.sandbox.spec import SandboxSpec

    if image not in _factories:
        _factories[image] = SandboxSpec(None, image).factory()
    return SandboxRunner(_factories[image], REPLAY_TIMEOUT)
