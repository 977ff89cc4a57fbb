"""An image's file tree on disk, for sandboxes that bind it as their root (``bwrap``).

The tree is the Docker image's own filesystem, exported once (``docker create`` +
``docker export``, streamed into ``tar``) into the user's cache, beside a small JSON file
with the image's environment and working folder.  The image tag names a hash of the files
that define it (``images.image_tag``), so a tree never goes stale: a changed image has a new
tag and so a new folder.  Once exported, the tree is used without any Docker daemon; on a
machine that never had one, copy the cache folder over (or export it where Docker runs).

The tree is unpacked without the image's owners (files belong to whoever exported it),
without device nodes, and without set-user-ID bits: it is only ever bound read-only.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from dsgym.sandbox.base import SandboxError
from dsgym.sandbox.images import cache_dir

ROOTFS_ENV = "DSGYM_ROOTFS_DIR"
# folders every sandbox mounts over; made in the tree so a read-only root still has their mount points
MOUNT_POINTS = ("data", "workspace", "tmp", "run/dsgym", "proc", "dev")


@dataclass(frozen=True)
class Tree:
    """An unpacked image: its root folder, environment (``NAME=value``) and working folder."""

    root: Path
    env: tuple[str, ...]
    workdir: str


def base() -> Path:
    """Where trees are kept: ``$DSGYM_ROOTFS_DIR``, else ``<dsgym cache>/rootfs``."""
    path = Path(os.environ.get(ROOTFS_ENV) or cache_dir() / "rootfs")
    path.mkdir(parents=True, exist_ok=True)
    return path


def folder_name(image: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", image)


def tree(image: str, export: bool = True) -> Tree:
    """The unpacked tree of ``image``, exported from Docker first if it is not there yet (and ``export``)."""
    home = base()
    root, meta = home / folder_name(image), home / f"{folder_name(image)}.json"
    if not meta.is_file():
        if not export:
            raise SandboxError(f"the file tree of {image} is not unpacked in {home}")
        with open(home / ".lock", "w") as lock:  # one export per image at a time, across processes
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not meta.is_file():
                _export(image, root, meta)
    info = json.loads(meta.read_text())
    return Tree(root, tuple(info["env"]), info["workdir"] or "/")


def _export(image: str, root: Path, meta: Path) -> None:
    """Stream ``docker export`` of a created (never started) container of ``image`` into ``root``."""
    import docker
    import docker.errors

    try:
        client = docker.from_env(timeout=600)
        config = client.images.get(image).attrs.get("Config") or {}
    except docker.errors.ImageNotFound:
        raise SandboxError(f"sandbox image {image} is not built; run `dsgym sandbox build` "
                           "(the bwrap sandbox unpacks the same image once)") from None
    except docker.errors.DockerException as exc:
        raise SandboxError(
            f"the file tree of sandbox image {image} is not in {root.parent}, and no Docker daemon is there "
            f"to export it ({exc}). Export it once on a machine with Docker (any dsgym run with "
            f"--sandbox bwrap does) and copy {root.name} and {root.name}.json into ${ROOTFS_ENV} here"
        ) from exc
    partial = root.with_name(f"{root.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    shutil.rmtree(root, ignore_errors=True)
    partial.mkdir(mode=0o755)
    container = client.containers.create(image, command=["true"], labels={"dsgym.export": "1"})
    try:
        tar = subprocess.Popen(["tar", "-x", "-C", str(partial), "--no-same-owner", "--no-same-permissions",
                                "--exclude=./dev/*", "--exclude=dev/*"],
                               stdin=subprocess.PIPE, stderr=subprocess.PIPE)
        assert tar.stdin is not None
        try:
            for chunk in container.export():
                tar.stdin.write(chunk)
        finally:
            tar.stdin.close()
            error = tar.stderr.read().decode(errors="replace") if tar.stderr else ""
            status = tar.wait()
        if status != 0:
            raise SandboxError(f"unpacking {image} failed: {error.strip()[-2000:]}")
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    finally:
        container.remove(force=True)
    _strip_setid(partial)
    for name in MOUNT_POINTS:
        (partial / name).mkdir(parents=True, exist_ok=True)
    os.rename(partial, root)
    meta.write_text(json.dumps({"image": image, "env": config.get("Env") or [],
                                "workdir": config.get("WorkingDir") or "/", "exported": time.time()}))


def _strip_setid(root: Path) -> None:
    """Clear set-user/group-ID bits (``--no-same-permissions`` keeps them for root)."""
    for folder, _, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            try:
                mode = os.lstat(path).st_mode
                if mode & 0o6000 and not os.path.islink(path):
                    os.chmod(path, mode & 0o1777)
            except OSError:
                pass
