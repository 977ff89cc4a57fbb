"""The quick start as a non-root user in the docker group, with no base image: it builds one and plays.

Docker Hub is unreachable here, so the base comes by the mirror path: mmdebstrap --mode=unshare
from the host's own apt archive, streamed into `docker import`, no root anywhere. The test names
its own base repository (DSGYM_BASE_REPO) and image tag, removed at the end, so the shared base and
sandbox images stay as they are. Run as root, it plays the user `u` (created, in the docker group,
when missing); run as a non-root user, it plays that user.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

from dsgym.sandbox import images

pytestmark = [pytest.mark.docker, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
DSGYM = str(Path(sys.executable).with_name("dsgym"))
USER = "u"
TASKS = ["dsgym-tasks-lite/iris-kmeans-ari", "dsgym-tasks-lite/longley-vif-gnp",
         "dsgym-tasks-lite/anes96-dole-clinton-paired-t"]  # the default image's suite


def ensure_user() -> str:
    """The non-root user to build as: this process's own, or (as root) `u`, created in the docker group."""
    if os.geteuid() != 0:
        return pwd.getpwuid(os.geteuid()).pw_name
    try:
        pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(["useradd", "-m", "-G", "docker", USER], check=True)
    subprocess.run(["usermod", "-aG", "docker", USER], check=True)
    return USER


def as_user(user: str, args: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess:
    if os.geteuid() != 0:
        return subprocess.run(args, env={**os.environ, **env}, capture_output=True, text=True, timeout=timeout)
    exports = " ".join(f"{key}={value}" for key, value in env.items())
    command = f"cd {home(user)} && env {exports} " + " ".join(args)
    return subprocess.run(["su", user, "-s", "/bin/bash", "-c", command], capture_output=True, text=True,
                          timeout=timeout)


def home(user: str) -> str:
    return pwd.getpwnam(user).pw_dir


def docker_rmi(tag: str) -> None:
    subprocess.run(["docker", "rmi", "-f", tag], capture_output=True)


@pytest.fixture
def throwaway():
    """A user, a folder and cache of its own (wheels seeded from this machine's cache), its own base and image tag."""
    user = ensure_user()
    run_id = uuid.uuid4().hex[:8]
    work = Path(tempfile.mkdtemp(prefix="dsgym-nonroot-"))  # in /tmp: pytest's own temp folder is private
    cache = work / "cache"
    cache.mkdir()
    seed = images.cache_dir() / "wheelhouse"
    if seed.is_dir():  # the wheels are not under test: the base and the build are
        same_disk = os.stat(seed).st_dev == os.stat(cache).st_dev
        shutil.copytree(seed, cache / "wheelhouse", copy_function=os.link if same_disk else shutil.copy2)
    if os.geteuid() == 0:
        subprocess.run(["chown", "-R", user, str(work)], check=True)
    env = {"DSGYM_CACHE_DIR": str(cache), "DSGYM_BASE_REPO": f"dsgym-base-nonroot-{run_id}"}
    base = f"{env['DSGYM_BASE_REPO']}:{images.base_image_tag(images.debian_source().suite).split(':', 1)[1]}"
    tag = f"dsgym-sandbox-nonroot:{run_id}"
    docker_rmi(base)  # the base image removed: the build must make it
    try:
        yield user, env, work, base, tag
    finally:
        docker_rmi(tag)
        docker_rmi(base)
        shutil.rmtree(work, ignore_errors=True)


def test_a_non_root_user_builds_a_base_and_an_image_and_plays_the_oracle(throwaway):
    user, env, work, base, tag = throwaway
    assert pwd.getpwnam(user).pw_uid != 0
    build = as_user(user, [DSGYM, "sandbox", "build", "--image", "default", "--tag", tag], env, timeout=3600)
    assert build.returncode == 0, build.stderr[-4000:]
    assert "mmdebstrap --mode=unshare" in build.stderr, build.stderr[-4000:]  # the mirror path, without root
    assert tag in build.stdout
    inspected = json.loads(subprocess.run(["docker", "image", "inspect", base], capture_output=True, text=True,
                                          check=True).stdout)
    assert inspected  # the base was made, under the test's own name

    out = work / "run"
    played = as_user(user, [DSGYM, "eval", *TASKS, "--agent", "oracle", "--image", tag, "-j", "2", "--out",
                            str(out)], env, timeout=1800)
    assert played.returncode == 0, played.stderr[-4000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["episodes"] == len(TASKS) and summary["errors"] == 0
    assert summary["groups"][0]["mean"]["value"] == 1.0
