"""`dsgym sandbox prune --outdated`: images and trees of older definitions go, current ones and others' stay.

The images here are made by the test (a label-only build on top of the default image, no container
run) under tags no definition names; only those are passed to the removal, so the test never
touches another checkout's images on a shared daemon.  The CLI is run without a daemon.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import docker
import pytest

from dsgym.sandbox import images, outdated, rootfs

pytestmark = [pytest.mark.docker]

OLD = f"{images.IMAGE_REPO}-testonly:{'a' * 12}"  # an older definition's tag (12 hex digits, like image_tag's)
ALIAS = f"{images.IMAGE_REPO}:{'0' * 12}"  # an outdated name on an image that also has a current one
MINE = f"{images.IMAGE_REPO}-mine:v1"  # a user's own tag (`dsgym sandbox build --tag`): never dsgym's to remove


def build(client: docker.DockerClient, parent: str, tag: str, value: str) -> str:
    dockerfile = f"FROM {parent}\nLABEL dsgym.image={tag}\nENV DSGYM_TEST_BUILD={value}\n"
    image, _ = client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=tag, rm=True)
    return image.id


@pytest.fixture
def made(docker_image):
    client = docker.from_env()
    first = build(client, docker_image, OLD, "1")
    second = build(client, docker_image, OLD, "2")  # the first is now untagged but keeps dsgym's label
    client.images.get(docker_image).tag(ALIAS)
    client.images.get(docker_image).tag(MINE)
    yield client, first, second
    for name in (OLD, ALIAS, MINE, first, second):
        try:
            client.images.remove(name, force=True)
        except docker.errors.ImageNotFound:
            pass


def test_outdated_images_are_found_and_removed_but_current_ones_and_used_ones_stay(made, docker_image):
    client, first, second = made
    found = outdated.outdated_images(client)
    current = outdated.current_images()
    assert not [tags for _, tags in found if set(tags) & current], "a current tag was called outdated"
    assert not [tags for _, tags in found if MINE in tags], "a user's own tag was called outdated"
    ours = [(image, tags) for image, tags in found if image.id in (first, second) or ALIAS in tags]
    assert {image.id: tuple(tags) for image, tags in ours} == {
        first: (), second: (OLD,), client.images.get(docker_image).id: (ALIAS,)}

    container = client.containers.create(OLD, command=["true"])
    try:
        swept = outdated.remove(client, ours, [])
        assert swept.kept and OLD in swept.kept[0], swept  # Docker refuses: a container still uses it
        assert client.images.get(OLD).id == second
    finally:
        container.remove(force=True)
    with pytest.raises(docker.errors.ImageNotFound):
        client.images.get(first)
    with pytest.raises(docker.errors.ImageNotFound):
        client.images.get(ALIAS)
    assert client.images.get(docker_image).tags, "the current image went with its outdated alias"

    swept = outdated.remove(client, [(client.images.get(OLD), [OLD])], [])
    assert swept.images == [OLD] and not swept.kept and swept.freed > 0
    with pytest.raises(docker.errors.ImageNotFound):
        client.images.get(second)


def test_the_cli_sweeps_outdated_trees_without_a_daemon_and_keeps_current_and_foreign_ones(tmp_path):
    trees = tmp_path / "trees"
    current = rootfs.folder_name(images.image_tag("bio"))
    old = rootfs.folder_name(OLD)
    for name in (current, old, "someone-elses-tree"):
        (trees / name / "usr").mkdir(parents=True)
        (trees / name / "usr" / "file").write_bytes(b"x" * 4096)
        (trees / f"{name}.json").write_text(json.dumps({"env": [], "workdir": "/"}))
    env = {**os.environ, rootfs.ROOTFS_ENV: str(trees), "DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock"}
    done = subprocess.run([str(Path(sys.executable).with_name("dsgym")), "sandbox", "prune", "--outdated"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "only file trees are swept" in done.stderr
    assert "1 tree(s)" in done.stdout and str(trees / old) in done.stdout, done.stdout
    assert sorted(p.name for p in trees.iterdir() if not p.name.startswith(".")) == sorted(
        [current, f"{current}.json", "someone-elses-tree", "someone-elses-tree.json"])

    plain = subprocess.run([str(Path(sys.executable).with_name("dsgym")), "sandbox", "prune"],
                           env=env, capture_output=True, text=True, timeout=120)
    assert plain.returncode == 2 and "cannot reach" in plain.stderr, plain.stderr  # no daemon: an error
