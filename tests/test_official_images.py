"""The official suites' images (sandboxes/official-*): which suite runs where, what each holds, and
that every official package imports in a real sandbox of its suite, isolated as every sandbox is."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import tarfile
import tempfile
import zipfile
from pathlib import Path

import docker
import pytest

import dsgym
from dsgym.loaders import mlebench, official
from dsgym.sandbox import images
from tests.security.probe import assert_offline, cell_json
from tests.support.helpers import REPO, canonical, pins

FIXTURES = REPO / "tests" / "fixtures" / "official"
OFFICIAL_IMAGES = ("official-analysis", "official-bio", "official-kaggle")
# every official suite and the image it runs in
SUITE_IMAGES = {**{name: "official-analysis" for name in (*official.ANALYSIS_SUITES, official.UNION, "dabstep-test")},
                "dsbio": "official-bio", "dspredict-easy": "official-kaggle", "dspredict-hard": "official-kaggle"}
# one task of each, whose data the release-shaped copy made below holds
PLAYED = {"daeval": "7", "qrdata": "0", "dabstep": "1", "discoverybench": "0", "scienceagentbench": "4",
          "dsgym-tasks": "daeval-7", "dsbio": "0", "dspredict-easy": "toy-regression",
          "dspredict-hard": "toy-segmentation"}
# the dsgym image each official one extends, and the pins it changes (its requirements.txt says why)
FAMILY_STACK = {"official-analysis": "default", "official-bio": "bio", "official-kaggle": "predict"}
STACK_CHANGES = {"official-analysis": {"pandas": "2.3.3"}}
# the security settings every sandbox container gets, whatever its image
ISOLATION = ("NetworkMode", "ReadonlyRootfs", "CapDrop", "SecurityOpt", "Memory", "MemorySwap", "PidsLimit",
             "Privileged", "Init", "Tmpfs")


def imports(image: str) -> dict[str, str]:
    """``sandboxes/<image>/imports.txt``: distribution -> module."""
    lines = (REPO / "sandboxes" / image / "imports.txt").read_text().splitlines()
    pairs = (line.split("#")[0].split() for line in lines)
    return {pair[0]: pair[1] for pair in pairs if pair}


def added(image: str) -> list[str]:
    """The distributions imports.txt lists under "added for the official suites"."""
    text = (REPO / "sandboxes" / image / "imports.txt").read_text()
    return [line.split()[0] for line in text.split("# added for the official suites", 1)[1].splitlines()
            if line.strip() and not line.startswith("#")]


# ----- definitions (no Docker) ---------------------------------------------------------------------


def test_each_official_suite_runs_in_its_familys_image_and_the_embedded_suites_keep_theirs():
    assert {name: fmt.image for name, fmt in official.FORMATS.items()} == {
        name: image for name, image in SUITE_IMAGES.items() if name != official.UNION}
    assert official.union([official.FORMATS["daeval"].load(FIXTURES)]).image == "official-analysis"
    assert {suite.name: suite.image for suite in dsgym.register_official(FIXTURES)} == SUITE_IMAGES
    assert mlebench.IMAGE == "official-kaggle"  # MLE-bench's competitions are Kaggle's
    embedded = {name: dsgym.get_suite(name).image for name in ("dsgym-tasks-lite", "dsbio-lite", "dspredict-lite")}
    assert embedded == {"dsgym-tasks-lite": "default", "dsbio-lite": "bio", "dspredict-lite": "predict"}


def test_the_official_images_are_built_when_a_suite_first_needs_them():
    assert set(OFFICIAL_IMAGES) <= set(images.image_names()) and set(OFFICIAL_IMAGES) <= set(images.ON_DEMAND)
    assert images.default_build() == ["default", "bio"]
    assert images.build_on_demand({"official-bio": "someone/else:1"}, print) == []  # a tag given by hand: never


@pytest.mark.parametrize("image", OFFICIAL_IMAGES)
def test_every_official_package_is_pinned_and_documented(image):
    pinned, listed = pins(image), imports(image)
    assert [d for d in listed if canonical(d) not in pinned] == []
    base = pins(FAMILY_STACK[image])  # dsgym's own stack, so its tooling works and computes as there
    assert {k: v for k, v in pinned.items() if k in base} == {**base, **STACK_CHANGES.get(image, {})}
    assert pinned.get("torch", "+cpu").endswith("+cpu")  # where torch is, it is the CPU build
    docs = (REPO / "docs" / "images.md").read_text()
    assert f"`{image}`" in docs
    assert [d for d in added(image) if f"`{d}`" not in docs] == [], "docs/images.md must name every package added"
    for pin in images.source_builds(image)[0]:
        package, _, version = pin.partition("==")
        assert pinned[canonical(package)] == version, f"{image}: source build {pin} differs from requirements.txt"


def test_an_images_debian_packages_make_a_base_of_its_own_and_are_part_of_its_tag(monkeypatch):
    assert images.debian_packages("official-bio") == ["bedtools"]
    assert images.debian_packages("default") == []
    shared = images.base_image_tag("bookworm")
    assert images.base_image_tag("bookworm", ["bedtools"]) != shared
    assert images.base_image_tag("bookworm", images.BUILD_PACKAGES) not in (shared, images.base_image_tag(
        "bookworm", ["bedtools"]))
    files = images.sandbox_files("official-bio")
    assert {"sandboxes/official-bio/debian-packages.txt", "sandboxes/official-bio/source-builds.txt"} <= set(files)
    assert not any(path.endswith((images.DEBIAN_PACKAGES, images.SOURCE_BUILDS))
                   for path in images.sandbox_files("default"))


def sdist(folder: Path, name: str, pyproject: str | None) -> Path:
    path = folder / f"{name}-1.0.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        members = {f"{name}-1.0/setup.py": "from setuptools import setup\nsetup()\n"}
        if pyproject is not None:
            members[f"{name}-1.0/pyproject.toml"] = pyproject
        for member, text in members.items():
            info = tarfile.TarInfo(member)
            info.size = len(text.encode())
            archive.addfile(info, io.BytesIO(text.encode()))
    return path


def test_a_source_builds_requirements_come_from_its_pyproject_else_setuptools(tmp_path):
    declared = sdist(tmp_path, "declared", '[build-system]\nrequires = ["setuptools>=61", "cython<3"]\n')
    assert images.build_requires(declared) == ["setuptools>=61", "cython<3", "wheel"]
    assert images.build_requires(sdist(tmp_path, "legacy", None)) == ["setuptools>=40.8.0", "wheel"]
    assert images.build_requires(sdist(tmp_path, "tool-only", "[tool.black]\n")) == ["setuptools>=40.8.0", "wheel"]


TOY_BACKEND = """
# A PEP 517 backend that compiles one C extension with the system's compiler and Python's headers.
import os, subprocess, sys, sysconfig, zipfile

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    native = "toy_native" + sysconfig.get_config_var("EXT_SUFFIX")
    subprocess.run(["cc", "-shared", "-fPIC", "-I", sysconfig.get_paths()["include"], "toy.c", "-o", native],
                   check=True)
    python = f"cp{sys.version_info[0]}{sys.version_info[1]}"
    tag = f"{python}-{python}-" + sysconfig.get_platform().replace("-", "_").replace(".", "_")
    info = "toy-1.0.dist-info"
    files = {native: open(native, "rb").read(),
             f"{info}/METADATA": b"Metadata-Version: 2.1\\nName: toy\\nVersion: 1.0\\n",
             f"{info}/WHEEL": f"Wheel-Version: 1.0\\nRoot-Is-Purelib: false\\nTag: {tag}\\n".encode()}
    files[f"{info}/RECORD"] = "".join(f"{name},,\\n" for name in [*files, f"{info}/RECORD"]).encode()
    name = f"toy-1.0-{tag}.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    return name
"""
TOY_C = """#include <Python.h>
static struct PyModuleDef toy = {PyModuleDef_HEAD_INIT, "toy_native", NULL, -1, NULL};
PyMODINIT_FUNC PyInit_toy_native(void) { return PyModule_Create(&toy); }
"""


@pytest.mark.docker
def test_a_source_build_is_compiled_without_network_in_the_builder_container(tmp_path, monkeypatch, docker_image):
    sources = tmp_path / "sources"
    sources.mkdir()
    pyproject = '[build-system]\nrequires = []\nbuild-backend = "toy_backend"\nbackend-path = ["."]\n'
    archive = sdist(sources, "toy", pyproject)
    with tarfile.open(archive, "r:gz") as old:
        members = {m.name: old.extractfile(m).read() for m in old.getmembers()}
    members.update({"toy-1.0/toy_backend.py": TOY_BACKEND.encode(), "toy-1.0/toy.c": TOY_C.encode(),
                    "toy-1.0/PKG-INFO": b"Metadata-Version: 2.1\nName: toy\nVersion: 1.0\n"})
    with tarfile.open(archive, "w:gz") as new:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            new.addfile(info, io.BytesIO(data))
    monkeypatch.setenv("PIP_NO_INDEX", "1")  # the host's pip finds the archive here, and nowhere else
    monkeypatch.setenv("PIP_FIND_LINKS", str(sources))
    builder = images.base_image_tag(images.debian_source().suite, images.BUILD_PACKAGES)
    client = docker.from_env()
    assert images.image_exists(client, builder), f"{builder} is made by the first official-bio build"
    target = images.probe_python(client, builder)
    dest = tmp_path / "wheelhouse"
    dest.mkdir()
    images.build_from_source(["toy==1.0"], dest, target, builder, print)
    [wheel] = dest.glob("toy-1.0-*.whl")
    assert wheel.name.endswith(f"-linux_{target.machine}.whl")
    with zipfile.ZipFile(wheel) as built:
        assert any(name.startswith("toy_native.") and name.endswith(".so") for name in built.namelist())


# ----- in real sandboxes ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    """tests/fixtures/official with the data files its records name and it leaves out, registered."""
    root = tmp_path_factory.mktemp("release") / "data"
    shutil.copytree(FIXTURES, root)
    for suite in official.discover(root):
        for task in suite.tasks.values():
            for missing in task.missing_data():
                path = task.data_root / missing
                if missing.endswith(("toy-segmentation", "toy-classify")):  # a competition's folder
                    path.mkdir(parents=True, exist_ok=True)
                    (path / "train.csv").write_text("id,y\n1,0\n")
                else:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_text("placeholder\n")
    for suite in dsgym.register_official(root):
        assert not [t for t in suite.tasks.values() if t.id == PLAYED.get(suite.name) and t.missing_data()]
    return root


IMPORT_ALL = """
import importlib, time
failed, took = {}, {}
for module in MODULES:
    start = time.perf_counter()
    try:
        importlib.import_module(module)
    except Exception as exc:
        failed[module] = f"{type(exc).__name__}: {exc}"
    took[module] = round(time.perf_counter() - start, 1)
emit({"failed": failed, "took": took})
"""


def container_settings(sandbox) -> dict:
    sandbox.container.reload()
    host = sandbox.container.attrs["HostConfig"]
    mounts = {m["Destination"]: m["RW"] for m in sandbox.container.attrs["Mounts"]}
    return {**{key: host.get(key) for key in ISOLATION}, "data_writable": mounts.get("/data"),
            "user": sandbox.container.attrs["Config"]["User"]}


@pytest.fixture(scope="module")
def reference(docker_image) -> dict:
    """The isolation settings of a sandbox of the default image, the one the security tests attack."""
    env = dsgym.make("dsgym-tasks-lite", sandbox="docker")
    try:
        env.reset(seed=0)
        return container_settings(env.unwrapped.sandbox)
    finally:
        env.close()


@pytest.mark.docker
@pytest.mark.parametrize("suite", list(PLAYED))
def test_each_official_suite_resets_in_its_own_image_isolated_like_every_sandbox(release, reference, suite):
    image = SUITE_IMAGES[suite]
    env = dsgym.make(f"{suite}/{PLAYED[suite]}", sandbox="docker", cell_timeout=300)
    try:
        env.reset(seed=0)
        sandbox = env.unwrapped.sandbox
        assert images.image_tag(image) in sandbox.container.image.tags
        assert container_settings(sandbox) == reference
        assert_offline(env)
        if suite in ("daeval", "dsbio", "dspredict-easy"):  # one suite per image: all its official packages
            modules = list(imports(image).values())
            outcome, obs, _ = cell_json(env, f"MODULES = {json.dumps(modules)}\n" + IMPORT_ALL)
            assert outcome["failed"] == {}, obs
            assert set(outcome["took"]) == set(modules)
    finally:
        env.close()


@pytest.mark.docker
@pytest.mark.parametrize("kind", ["docker", "bwrap"])
def test_pybedtools_runs_debians_bedtools_in_the_official_bio_image_of_either_kind(release, docker_image, kind):
    """bedtools comes from the image's own base (debian-packages.txt); the bwrap kind runs the same image's tree."""
    env = dsgym.make("dsbio/0", sandbox=kind, cell_timeout=300)
    try:
        env.reset(seed=0)
        assert env.unwrapped.sandbox.image == images.image_tag("official-bio")
        code = ("import pybedtools, scrublet, squidpy\n"
                "a = pybedtools.BedTool('chr1 10 50\\nchr1 100 200\\n', from_string=True)\n"
                "b = pybedtools.BedTool('chr1 40 120\\n', from_string=True)\n"
                "emit([str(i).split() for i in a.intersect(b)])\n")
        overlaps, obs, _ = cell_json(env, code)
        assert overlaps == [["chr1", "40", "50"], ["chr1", "100", "120"]], obs
    finally:
        env.close()


@pytest.mark.docker
@pytest.mark.parametrize("kind, name, env_id", [("docker", "official-analysis", "qrdata/0"),
                                                ("bwrap", "official-bio", "dsbio/0")])
def test_a_missing_official_image_is_built_when_a_suite_first_needs_it(release, docker_image, capfd, monkeypatch,
                                                                       kind, name, env_id):
    """Either kind: the bwrap kind on a Docker host builds the image, then unpacks its tree (a fresh tree folder,
    in /tmp: the sandbox's own uid must reach it)."""
    from dsgym import preflight
    from dsgym.sandbox import rootfs

    tag = images.image_tag(name)
    client = docker.from_env()
    trees = Path(tempfile.mkdtemp(prefix="dsgym-trees-"))
    trees.chmod(0o755)
    monkeypatch.setenv(rootfs.ROOTFS_ENV, str(trees))
    before = client.images.get(tag).id
    client.images.remove(tag, noprune=True)  # its layers stay, so the build reuses them
    try:
        if kind == "bwrap":  # what eval and run check before any episode: the tree, so first the image
            preflight.check({name: tag}, sandbox=kind)
        env = dsgym.make(env_id, sandbox=kind)
        try:
            env.reset(seed=0)
            if kind == "docker":
                assert tag in env.unwrapped.sandbox.container.image.tags
            else:
                assert (trees / f"{rootfs.folder_name(tag)}.json").is_file()
                assert cell_json(env, "emit(__import__('gseapy').__name__)")[0] == "gseapy"
        finally:
            env.close()
        assert f"building the {name} sandbox image {tag}" in capfd.readouterr().err
        assert images.image_exists(client, tag)
    finally:
        if not images.image_exists(client, tag):
            images.build(name)
        shutil.rmtree(trees, ignore_errors=True)
        with contextlib.suppress(docker.errors.ImageNotFound, docker.errors.APIError):
            if client.images.get(tag).id != before and not client.images.get(before).tags:
                client.images.remove(before)  # the image the rebuild replaced: no leftover on the host
