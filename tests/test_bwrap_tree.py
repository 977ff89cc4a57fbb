"""The bwrap kind's root built without Docker, by an ordinary user who cannot reach any Docker daemon.

Run as root (as CI is), the user is ``nodocker``: made when missing, never in the docker group,
with subordinate ids; run as an ordinary user, it is that user, with ``DOCKER_HOST`` naming a
socket that does not exist either way.  Nothing here skips: a machine without mmdebstrap, uidmap,
bubblewrap or unprivileged user namespaces fails with the builder's own error, which says what
to install or allow.  The user keeps its caches between runs (the mmdebstrap base in
``~/.cache/dsgym/rootfs-base``, the wheelhouse); its wheelhouse is seeded from this machine's
(the wheels are not under test).  The tree itself is built anew in a temporary folder each run.
"""

from __future__ import annotations

import contextlib
import grp
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path

import pytest

from dsgym import registry
from dsgym.sandbox import images, rootfs, treebuild, userns

pytestmark = [pytest.mark.slow]

USER = "nodocker"
DSGYM = str(Path(sys.executable).with_name("dsgym"))
REPO = Path(__file__).resolve().parents[1]
SUITES = ["dsgym-tasks-lite", "dsbio-lite"]


def test_the_tree_builder_knows_every_instruction_of_the_dockerfile():
    """The Dockerfile is the one definition of an image: the tree builder must be able to carry it out."""
    steps = treebuild.instructions((resources.files("dsgym.sandboxes") / "Dockerfile").read_text())
    assert [s.keyword for s in steps if s.keyword == "FROM"], steps
    assert {s.keyword for s in steps} <= {"ARG", "FROM", "ENV", "COPY", "RUN", "WORKDIR", "USER", "CMD", "LABEL"}
    assert not [s for s in steps if "\n" in s.args or "#" in s.keyword]  # continued lines joined, comments dropped
    assert treebuild.expand("${A}/$B/${C:-c}", {"A": "a", "B": "b"}) == "a/b/c"


def ensure_user() -> pwd.struct_passwd:
    """The builder: this user, or (as root) ``nodocker``, made with subordinate ids and outside the docker group."""
    if os.geteuid() != 0:
        return pwd.getpwuid(os.geteuid())
    try:
        account = pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(["useradd", "-m", "-s", "/bin/sh", USER], check=True)
        account = pwd.getpwnam(USER)
    for file, flag in (("/etc/subuid", "--add-subuids"), ("/etc/subgid", "--add-subgids")):
        if userns.subordinate_range(Path(file), USER, account.pw_uid) is None:
            start = 1_000_000 + account.pw_uid * 65536  # clear of useradd's own ranges (from 100000)
            subprocess.run(["usermod", flag, f"{start}-{start + 65535}", USER], check=True)
    try:
        assert USER not in grp.getgrnam("docker").gr_mem, "the no-Docker builder must not be in the docker group"
    except KeyError:
        pass
    return account


def as_user(account: pwd.struct_passwd, args: list[str], env: dict[str, str], **options) -> subprocess.Popen:
    """Start ``args`` as ``account`` with a login-like environment plus ``env`` (no Docker daemon reachable)."""
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": account.pw_dir, "USER": account.pw_name,
            "LOGNAME": account.pw_name, "DOCKER_HOST": f"unix://{account.pw_dir}/no-docker-here.sock"}
    switch = {} if account.pw_uid == os.geteuid() else {"user": account.pw_uid, "group": account.pw_gid,
                                                         "extra_groups": []}
    return subprocess.Popen(args, env={**base, **env}, cwd=account.pw_dir, start_new_session=True,
                            **switch, **options)


def seed_wheelhouse(account: pwd.struct_passwd) -> None:
    """Link this machine's downloaded wheels into the user's cache (read-only to it, still valid for pip)."""
    source = images.cache_dir() / "wheelhouse"
    cache = Path(account.pw_dir) / ".cache" / "dsgym" / "wheelhouse"
    if account.pw_uid == os.geteuid() or not source.is_dir():
        return
    for folder in [cache.parent.parent, cache.parent, cache, *(cache / f.name for f in source.iterdir())]:
        folder.mkdir(exist_ok=True)
        os.chown(folder, account.pw_uid, account.pw_gid)
    for wheel in source.glob("*/*"):
        target = cache / wheel.parent.name / wheel.name
        if not target.exists():
            try:
                os.link(wheel, target)
            except OSError:
                shutil.copy2(wheel, target)


@pytest.fixture(scope="module")
def builder():
    """The user, and a tree folder of its own (removed afterwards)."""
    account = ensure_user()
    seed_wheelhouse(account)
    trees = Path(tempfile.mkdtemp(prefix="dsgym-trees-"))  # in /tmp: pytest's own folder is private to root
    os.chown(trees, account.pw_uid, account.pw_gid)
    yield account, trees
    shutil.rmtree(trees, ignore_errors=True)


def test_killed_and_concurrent_builds_then_the_oracle_scores_1_on_trees_built_without_docker(builder):
    account, trees = builder
    env = {"DSGYM_ROOTFS_DIR": str(trees)}
    image = images.image_tag("default")
    # a build killed halfway (while pip installs the wheelhouse in the tree) leaves no tree and no JSON
    with tempfile.TemporaryFile() as log:
        build = as_user(account, [DSGYM, "sandbox", "build", "--kind", "bwrap", "--image", "default"],
                        env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline and build.poll() is None:
            log.seek(0)
            if b"RUN python3 -m venv" in log.read():
                break
            time.sleep(0.5)
        time.sleep(3)
        assert build.poll() is None, (log.seek(0), log.read().decode(errors="replace")[-3000:])
        os.killpg(build.pid, signal.SIGKILL)
        build.wait()
    assert not (trees / rootfs.folder_name(image)).exists()
    assert not (trees / f"{rootfs.folder_name(image)}.json").exists()
    assert list(trees.glob(".*.build-*")), "the killed build's work folder should still be there to sweep"

    # two builders at once: one builds (sweeping the killed build's leftovers), the other waits and finds it built
    outputs = []
    with contextlib.ExitStack() as stack:
        logs = [stack.enter_context(tempfile.TemporaryFile()) for _ in range(2)]
        builds = [as_user(account, [DSGYM, "sandbox", "build", "--kind", "bwrap", "--image", "default"], env,
                          stdout=log, stderr=subprocess.STDOUT) for log in logs]
        for build, log in zip(builds, logs):
            status = build.wait(timeout=1800)
            log.seek(0)
            outputs.append(log.read().decode(errors="replace"))
            assert status == 0, outputs[-1][-3000:]
    assert sorted("is up to date" in out for out in outputs) == [False, True], [o[-500:] for o in outputs]
    waited = next(out for out in outputs if "is up to date" in out)
    assert "waiting for another process making the file tree" in waited, waited[-500:]
    assert sum("Step 1/" in out for out in outputs) == 1
    assert not list(trees.glob(".*.build-*")), "the killed build's leftovers were not swept"

    # the oracle on every task of the suites; the bio tree is built before the first episode, without Docker
    run = trees / "run"
    started = time.monotonic()
    with tempfile.TemporaryFile() as out:
        played = as_user(account, [DSGYM, "eval", *SUITES, "--agent", "oracle", "-j", "2", "--out", str(run)],
                         {**env, "DSGYM_SANDBOX": "bwrap"}, stdout=out, stderr=subprocess.STDOUT)
        status = played.wait(timeout=3600)
        out.seek(0)
        text = out.read().decode(errors="replace")
    print(f"built the bio tree and played {SUITES} in {time.monotonic() - started:.0f} s")
    assert status == 0, text[-5000:]
    assert "no Docker daemon answers: building the file tree" in text, text[-3000:]
    records = [json.loads(line) for line in (run / "episodes.jsonl").read_text().splitlines()]
    expected = sorted(f"{s}/{task}" for s in SUITES for task in registry.get_suite(s).tasks)
    assert sorted(f"{r['suite']}/{r['task_id']}" for r in records) == expected
    assert all(r["score"] == 1.0 for r in records), [(r["task_id"], r["score"], r.get("error")) for r in records
                                                     if r["score"] != 1.0]
    for name in ("default", "bio"):
        meta = json.loads((trees / f"{rootfs.folder_name(images.image_tag(name))}.json").read_text())
        assert meta["image"] == images.image_tag(name) and "without Docker" in meta["built"]


@pytest.mark.docker
def test_the_built_tree_has_the_images_packages_and_environment(builder):
    """The tree built without Docker holds what the image holds (Docker, up for this test only, shows the image;
    the tree is the one the test before built)."""
    import docker

    account, trees = builder
    image = images.image_tag("default")
    tree = trees / rootfs.folder_name(image)
    if not tree.is_dir():
        pytest.fail("the default tree was not built (the test before this one failed)")
    config = docker.from_env().images.get(image).attrs["Config"]
    meta = json.loads((trees / f"{rootfs.folder_name(image)}.json").read_text())
    assert (meta["env"], meta["workdir"]) == (config["Env"], config["WorkingDir"])
    site = "opt/dsgym/venv/lib/python3.11/site-packages"
    in_image = docker.from_env().containers.run(image, ["ls", f"/{site}"], remove=True, network_mode="none")
    assert sorted(p.name for p in (tree / site).iterdir() if p.name.endswith(".dist-info")) == \
        sorted(n for n in in_image.decode().split() if n.endswith(".dist-info"))
    for path in ("opt/dsgym/kernel_launcher.py", "opt/dsgym/venv/bin/check-submission"):
        assert (tree / path).read_bytes() == docker.from_env().containers.run(
            image, ["cat", f"/{path}"], remove=True, network_mode="none")
    assert not [p for p in tree.rglob("*") if p.is_file() and not p.is_symlink() and p.lstat().st_mode & 0o6000]
    assert {p.lstat().st_uid for p in (tree / "workspace", tree / "etc" / "shadow", tree)} == {account.pw_uid}


def test_a_failed_step_is_named_and_runs_had_no_network(builder):
    """A Dockerfile step that fails is named with its line; RUN steps see loopback only."""
    account, trees = builder
    code = f"""
import json, tempfile
from pathlib import Path
from dsgym.sandbox import images, treebuild
base = treebuild.base_tarball("default", print)
work = Path(tempfile.mkdtemp(dir={str(trees)!r}))
args = {{"BASE_IMAGE": "the-base"}}
dockerfile = "ARG BASE_IMAGE\\nFROM ${{BASE_IMAGE}}\\n# a comment\\nRUN cat /proc/net/dev > /nets\\nRUN echo failing \\\\\\n && exit 3\\n"
try:
    treebuild.Builder(work, work, base, args, print).run(dockerfile)
except treebuild.TreeBuildError as exc:
    print("ERROR", exc)
print("NETS", sorted(l.split(":")[0].strip() for l in (work / "stage-0" / "nets").read_text().splitlines()[2:]))
treebuild.remove(work)
"""
    done = as_user(account, [sys.executable, "-c", code], {}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = done.communicate(timeout=900)[0].decode(errors="replace")
    assert "ERROR step 4/4 (Dockerfile line 5: RUN echo failing && exit 3) failed: exit 3" in out, out[-3000:]
    assert "failing" in out.split("ERROR", 1)[1]
    assert "NETS ['lo']" in out, out[-3000:]


def test_no_user_namespaces_or_subordinate_ids_give_errors_naming_the_fix(builder):
    account, _ = builder
    check = "from dsgym.sandbox import treebuild\ntry:\n    treebuild.check_user()\nexcept Exception as exc:\n" \
            "    print(exc)\nelse:\n    print('PASSED')\n"
    # the user itself passes
    done = as_user(account, [sys.executable, "-c", check], {}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert done.communicate(timeout=120)[0].decode().strip() == "PASSED"
    # a namespace where no further user namespace may be made (bwrap --disable-userns): the AppArmor switch is named
    refused = subprocess.run(["bwrap", "--unshare-user", "--disable-userns", "--uid", str(account.pw_uid), "--gid",
                              str(account.pw_gid), "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
                              "--setenv", "HOME", account.pw_dir, sys.executable, "-c", check],
                             check=False, capture_output=True, text=True, timeout=120, cwd="/")
    assert "cannot create a user namespace" in refused.stdout, refused.stdout + refused.stderr
    assert "kernel.apparmor_restrict_unprivileged_userns" in refused.stdout
    assert "max_user_namespaces" in refused.stdout
    if os.geteuid() == 0:  # an account without subordinate ids (nobody has none) is told to add them
        nobody = pwd.getpwnam("nobody")
        lacking = subprocess.run([sys.executable, "-c", check], check=False, capture_output=True, text=True,
                                 timeout=120, cwd="/", user=nobody.pw_uid, group=nobody.pw_gid, extra_groups=[])
        assert "subordinate ids" in lacking.stdout and "usermod --add-subuids" in lacking.stdout, lacking.stdout


def test_the_build_namespace_maps_the_user_to_root_and_its_subordinate_ids_above(builder):
    """What the steps run in: the user is root there, ids 1..65535 are its subordinate ids (chown to them works)."""
    account, trees = builder
    if account.pw_uid == 0:
        pytest.fail("the builder must be an ordinary user")
    start = userns.subordinate_range(Path("/etc/subuid"), account.pw_name, account.pw_uid)[0]
    script = f"cat /proc/self/uid_map; touch {trees}/owned; chown 1000:1000 {trees}/owned; exit 7"
    done = as_user(account, [sys.executable, "-m", "dsgym.sandbox.userns", "--", "sh", "-c", script], {},
                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = done.communicate(timeout=60)[0].decode()
    assert done.returncode == 7, out
    assert [line.split() for line in out.splitlines()] == [["0", str(account.pw_uid), "1"],
                                                           ["1", str(start), "65535"]], out
    assert (trees / "owned").stat().st_uid == start + 999
    (trees / "owned").unlink()


def test_a_sigkilled_builder_takes_the_step_it_was_running_with_it(builder):
    """Only the builder dies (no process group kill): the namespace helper and its command go too, so no step
    keeps writing into a tree the next builder (now holding the lock) sweeps."""
    account, _ = builder
    script = ("import subprocess, sys, time\n"
              "step = subprocess.Popen([sys.executable, '-m', 'dsgym.sandbox.userns', '--', 'sleep', '300'])\n"
              "print(step.pid, flush=True)\n"
              "time.sleep(300)\n")
    owner = as_user(account, [sys.executable, "-c", script], {}, stdout=subprocess.PIPE)
    try:
        helper = int(owner.stdout.readline())
        step = None
        for _ in range(100):  # the helper forks the command once its ids are mapped
            children = Path(f"/proc/{helper}/task/{helper}/children").read_text().split()
            if children:
                step = int(children[0])
                break
            time.sleep(0.05)
        assert step is not None and "sleep" in Path(f"/proc/{step}/cmdline").read_bytes().decode(errors="replace")
        os.kill(owner.pid, signal.SIGKILL)
        owner.wait(timeout=30)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(alive(pid) for pid in (helper, step)):
            time.sleep(0.05)
        assert not alive(helper) and not alive(step), "the builder's step outlived it"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(owner.pid, signal.SIGKILL)


def alive(pid: int) -> bool:
    """Running, not a zombie waiting for its reaper."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False
