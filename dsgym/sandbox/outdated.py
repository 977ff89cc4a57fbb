"""Images and file trees of older image definitions, which nothing of this dsgym uses any more.

An image's tag is a hash of the files that define it (``images.image_tag``), so every dsgym
update that touches an image leaves the previous one behind in Docker (1-4 GB each) and, for
the bwrap kind, its unpacked tree in the cache.  ``dsgym sandbox prune --outdated`` removes
them; it never touches an image or tree of a current definition, nor anything not dsgym's.
An image still used by a container is kept (Docker refuses), and said so; a tree is not so
guarded (an older dsgym's bwrap sandbox may still have it as its root).  "Outdated" is relative
to the dsgym that asks: another version's images on a shared daemon are outdated to it, so
sweep from the newest version when no other one runs.
"""

from __future__ import annotations

import fcntl
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import docker
import docker.errors

from dsgym.sandbox import images, rootfs, treebuild


@dataclass
class Removed:
    """What a sweep removed (and what it had to keep), for the caller to report."""

    images: list[str] = field(default_factory=list)
    trees: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    freed: int = 0  # bytes: Docker's size of each removed image (shared layers may count twice) plus trees


def current_images() -> set[str]:
    return {images.image_tag(name) for name in images.image_names()}


def _outdated(tag: str, current: set[str]) -> bool:
    """Whether ``tag`` is one dsgym made (a hash as its version) and no current definition names it.

    A base (``dsgym-base:<suite>-<hash>``) is current when some image, or the builder of source
    packages, would be built on it for that Debian release."""
    repo, _, version = tag.rpartition(":")
    if repo == images.BASE_REPO and re.fullmatch(r"[\w.]+-[0-9a-f]{8}", version):
        suite = version.rsplit("-", 1)[0]
        lists = [images.debian_packages(name) for name in images.image_names()] + [images.BUILD_PACKAGES]
        return all(images.base_image_tag(suite, extra).rpartition(":")[2] != version for extra in lists)
    ours = repo == images.IMAGE_REPO or repo.startswith(f"{images.IMAGE_REPO}-")
    return ours and re.fullmatch(r"[0-9a-f]{12}", version) is not None and tag not in current  # not a --tag of yours


def outdated_images(client: docker.DockerClient) -> list[tuple[docker.models.images.Image, list[str]]]:
    """dsgym's images (each with its outdated tags) that no current definition needs: older sandbox tags,
    older bases, and untagged earlier builds of a tag since rebuilt (they keep dsgym's label)."""
    current = current_images()
    found = []
    for image in client.images.list():
        if not image.tags:
            if (image.labels or {}).get("dsgym.image"):
                found.append((image, []))
            continue
        tags = [t for t in image.tags if _outdated(t, current)]
        if tags:
            found.append((image, tags))
    return found


def outdated_trees(home: Path | None = None) -> list[Path]:
    """Trees (and their JSON) in the tree cache whose image tag no current definition names."""
    home = home or rootfs.base()
    current = {rootfs.folder_name(tag) for tag in current_images()}
    pattern = re.compile(rf"^{re.escape(images.IMAGE_REPO)}(-[A-Za-z0-9_.-]+)?_[0-9a-f]{{12}}$")
    return sorted(p for p in home.iterdir() if pattern.match(p.name) and p.name not in current)


def _size(path: Path) -> int:
    total = 0
    for folder, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(folder, name)).st_size
            except OSError:
                pass
    return total


def remove(client: docker.DockerClient | None, found: list[tuple[docker.models.images.Image, list[str]]],
           trees: list[Path]) -> Removed:
    """Remove what ``outdated_images`` and ``outdated_trees`` found: an image's outdated tags (the image
    goes with its last tag; another name keeps it), untagged images by id, newest first so a child goes
    before its parent; trees under their maker's lock, their JSON first."""
    done = Removed()
    for image, tags in sorted(found, key=lambda pair: pair[0].attrs.get("Created", ""), reverse=True):
        assert client is not None
        try:
            for name in tags or [image.id]:
                client.images.remove(name, noprune=False)
                done.images.append(name if tags else image.short_id)
        except docker.errors.ImageNotFound:
            continue
        except docker.errors.APIError as exc:
            done.kept.append(f"{', '.join(tags) or image.short_id}: {exc.explanation or exc}")
            continue
        if len(tags) == len(image.tags):
            done.freed += image.attrs.get("Size", 0)
    for tree in trees:
        home, name = tree.parent, tree.name
        with open(rootfs.lock_file(home, name), "w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                done.kept.append(f"{tree}: being made by another process")
                continue
            done.freed += _size(tree)
            (home / f"{name}.json").unlink(missing_ok=True)  # first: a tree without its JSON is never used
            treebuild.remove(tree)
        rootfs.lock_file(home, name).unlink(missing_ok=True)
        done.trees.append(str(tree))
    return done
