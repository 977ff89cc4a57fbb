"""An image's file tree on disk, for sandboxes that bind it as their root (``bwrap``).

The tree is the Docker image's own filesystem, kept in the user's cache beside a small JSON
file with the image's environment and working folder.  Where a Docker daemon answers, the
image is exported once (``docker create`` + ``docker export``, streamed into ``tar``); where
none does, the tree is built without Docker, by an ordinary user, from the same Dockerfile
(``treebuild``: an mmdebstrap base, the host-built wheelhouse, the Dockerfile's steps run in
the tree under bwrap).  ``dsgym sandbox build --kind bwrap`` builds it on purpose.  The image
tag names a hash of the files that define it (``images.image_tag``), so a tree never goes
stale: a changed image has a new tag and so a new folder.

Trees are made one at a time per image (a lock file beside them), beside their final folder,
renamed into it when complete; the JSON is written last, and a tree without it is never used.
The tree's files belong to whoever made it, without device nodes or set-user-ID bits: it is
only ever bound read-only.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from dsgym.sandbox import images
from dsgym.sandbox.base import SandboxError, waiting_lock
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
    """The unpacked tree of ``image``, made first if it is not there yet (and ``export``): exported from
    Docker where a daemon answers, else built without Docker (``treebuild``)."""
    home = base()
    root, meta = home / folder_name(image), home / f"{folder_name(image)}.json"
    if not meta.is_file():
        if not export:
            raise SandboxError(f"the file tree of {image} is not unpacked in {home}")
        with _locked(home, image):
            if not meta.is_file():
                if docker_answers():
                    _export(image, root, meta)
                else:
                    _build(image, root, meta)
    info = json.loads(meta.read_text())
    return Tree(root, tuple(info["env"]), info["workdir"] or "/")


def build_tree(name: str, force: bool = False, log: Callable[[str], None] = print) -> Path:
    """Build image ``name``'s tree without Docker (``dsgym sandbox build --kind bwrap``); returns its folder."""
    from dsgym.sandbox import treebuild

    image = images.image_tag(name)
    home = base()
    root, meta = home / folder_name(image), home / f"{folder_name(image)}.json"
    with _locked(home, image):
        if meta.is_file() and not force:
            log(f"the tree of {image} is up to date ({root})")
            return root
        meta.unlink(missing_ok=True)
        treebuild.build(name, root, meta, finish_tree, log)
    return root


def lock_file(home: Path, folder: str) -> Path:
    """The lock beside tree ``folder`` that its maker (and a sweep removing it) holds."""
    return home / f".{folder}.lock"


def _locked(home: Path, image: str) -> contextlib.AbstractContextManager[None]:
    """One maker of ``image``'s tree at a time, across processes (other images' trees are made meanwhile)."""
    return waiting_lock(lock_file(home, folder_name(image)), f"making the file tree of {image} in {home}",
                        lambda line: print(line, file=sys.stderr, flush=True))


def docker_answers() -> bool:
    """Whether a Docker daemon answers here (``DOCKER_HOST`` or the default socket)."""
    import docker

    try:
        return bool(docker.from_env(timeout=10).ping())
    except Exception:  # noqa: BLE001 - no daemon, no permission on its socket, a bad DOCKER_HOST: all "no"
        return False


def _build(image: str, root: Path, meta: Path) -> None:
    """No Docker daemon: build the tree of ``image`` (one of dsgym's images as defined here) without it."""
    from dsgym.sandbox import treebuild

    name = images.image_name(image)
    if name is None:
        raise SandboxError(
            f"the file tree of {image} is not in {root.parent}, and no Docker daemon is there to export it; "
            f"without Docker only dsgym's own images can be built (their tags: "
            f"{', '.join(images.image_tag(n) for n in images.image_names())}). Export it where Docker runs and "
            f"copy {root.name} and {root.name}.json into ${ROOTFS_ENV} here")
    def say(line: str) -> None:
        print(f"[tree {name}] {line}", file=sys.stderr, flush=True)

    say(f"no Docker daemon answers: building the file tree of {image} without it (a few minutes, once; "
        f"`dsgym sandbox build --kind bwrap` builds it ahead of time)")
    try:
        treebuild.build(name, root, meta, finish_tree, say)
    except images.ImageBuildError as exc:
        raise SandboxError(f"building the file tree of {image} without Docker failed: {exc}") from exc


def _export(image: str, root: Path, meta: Path) -> None:
    """Stream ``docker export`` of a created (never started) container of ``image`` into ``root``."""
    import docker
    import docker.errors

    name = images.image_name(image)
    try:  # an on-demand image (predict, official-*) is built first, as the docker kind would
        images.build_on_demand({name: image}, lambda line: print(line, file=sys.stderr, flush=True))
    except (images.ImageBuildError, docker.errors.DockerException) as exc:
        raise SandboxError(f"building sandbox image {image} to unpack its tree failed: {exc}") from exc
    try:
        client = docker.from_env(timeout=600)
        config = client.images.get(image).attrs.get("Config") or {}
    except docker.errors.ImageNotFound:
        raise SandboxError(f"sandbox image {image} is not built; run `dsgym sandbox build` (the bwrap sandbox "
                           "unpacks the same image once), or `dsgym sandbox build --kind bwrap` to build only "
                           "its file tree, without Docker") from None
    except docker.errors.DockerException as exc:
        raise SandboxError(
            f"the file tree of sandbox image {image} is not in {root.parent}, and no Docker daemon is there "
            f"to export it ({exc}). Export it once on a machine with Docker (any dsgym run with "
            f"--sandbox bwrap does) and copy {root.name} and {root.name}.json into ${ROOTFS_ENV} here"
        ) from exc
    for left in root.parent.glob(f"{root.name}.partial-*"):  # a killed export's (we hold the tree's lock)
        shutil.rmtree(left, ignore_errors=True)
    partial = root.with_name(f"{root.name}.partial-{os.getpid()}")
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
    finish_tree(partial)
    os.rename(partial, root)
    written = meta.with_name(f".{meta.name}.{os.getpid()}")
    written.write_text(json.dumps({"image": image, "env": config.get("Env") or [],
                                   "workdir": config.get("WorkingDir") or "/", "exported": time.time()}))
    os.replace(written, meta)


def finish_tree(root: Path) -> None:
    """What every tree gets before it is used, exported or built: mount points, no set-ID bits."""
    strip_setid(root)
    for name in MOUNT_POINTS:
        (root / name).mkdir(parents=True, exist_ok=True)


def strip_setid(root: Path) -> None:
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
