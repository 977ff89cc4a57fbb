"""Building the sandbox images, with or without Docker Hub, as root or not.

The base image, first of these that works (``base_builders``): a slim Python image
pulled from a registry (``SLIM_BASE``) when one is reachable; else a root filesystem
of the host's own distribution (Debian or Ubuntu, the archive and release read from the
host's apt sources) made by ``mmdebstrap --mode=unshare`` without root and streamed
into ``docker import``; else ``debootstrap`` as root.  Python packages
come from a wheelhouse downloaded on the host for the base image's exact Python
and libc, then installed in the build with ``--no-index``.  Every step is
cached: an existing base image, downloaded wheels and Docker's layer cache are
reused, and the final tag is a hash of the files that define the image, so a
changed Dockerfile can never be mistaken for a built one.  Likewise the base
image's tag carries a hash of its package list (``dsgym-base:bookworm-1a2b3c4d``),
so adding a system package builds a new base instead of reusing the old one.

An image may add to that (files in ``sandboxes/<name>/``, part of its tag when present):
``debian-packages.txt``, Debian packages its base gets on top of ``BASE_PACKAGES`` (a base of
its own, e.g. with ``bedtools``); and ``source-builds.txt``, pinned packages that PyPI has only
as source.  Those are downloaded on the host and compiled once, offline, in a throwaway
container of a builder base (``BUILD_PACKAGES``: compilers and Python's headers), into the
image's wheelhouse, where later builds find them.  A ``+cpu`` torch pin is found where pip is
configured to look, else on PyTorch's CPU wheel index (``$DSGYM_TORCH_INDEX`` names another).

Every image also gets ``check-submission`` on its PATH: dsgym's standalone
submission-format checker (``dsgym/predict/submission.py``), copied in through
the build context, so an agent can validate its submission.csv in the sandbox;
and dsgym's metrics (``dsgym/predict/metrics.py``) as the module ``dsgym_metrics``,
so code in the sandbox (the automl agent's validation) scores as the grader does.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import docker

from dsgym.sandbox.base import link_or_copy, waiting_lock

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

IMAGE_REPO = "dsgym-sandbox"
# The images ``dsgym sandbox build`` makes by default (the quick start's suites); the others are built
# by ``--image NAME`` or when a suite first needs them (``ensure_images``).
ON_DEMAND = ("predict", "official-analysis", "official-bio", "official-kaggle")
# A registry's slim Python image: the first choice of base where a registry is reachable.
SLIM_BASE = "python:3.11-slim"
# What debootstrap's minbase gets on top: Python, TLS roots, useradd, and the
# OpenMP runtime (libgomp.so.1) that LightGBM's wheel links against.
BASE_PACKAGES = ["python3", "python3-venv", "ca-certificates", "passwd", "libgomp1"]
BASE_REPO = "dsgym-base"  # $DSGYM_BASE_REPO names another (a test's throwaway base leaves the shared one)
# The submission checker's path in the build context (the Dockerfile COPYs it from there).
CHECK_SUBMISSION = "sandboxes/check_submission.py"
# dsgym's metrics, importable in the kernel as ``dsgym_metrics`` (the Dockerfile installs it from there).
METRICS_MODULE = "sandboxes/dsgym_metrics.py"
# Deletes bundled copies of graded data sets listed per image (sandboxes/<name>/withheld-data.txt).
WITHHOLD_SCRIPT = "sandboxes/withhold_data.py"
# Optional per-image files (see the module docstring).
DEBIAN_PACKAGES = "debian-packages.txt"
SOURCE_BUILDS = "source-builds.txt"
# What the throwaway builder of an image's source builds has on top of BASE_PACKAGES.
BUILD_PACKAGES = ["build-essential", "python3-dev"]
# Where a ``+cpu`` torch pin is looked for when pip's configured sources do not have it.
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
Log = Callable[[str], None]


class ImageBuildError(RuntimeError):
    """The sandbox image could not be built; the message says which step failed."""


def image_names() -> list[str]:
    """The images defined under ``sandboxes/<name>/requirements.txt`` (``default`` first)."""
    root = resources.files("dsgym.sandboxes")
    names = sorted(e.name for e in root.iterdir() if (e / "requirements.txt").is_file())
    return sorted(names, key=lambda n: n != "default")


def sandbox_files(name: str = "default") -> dict[str, bytes]:
    """The files that define image ``name``, keyed by their path in the build context.

    All images share the top-level Dockerfile, the kernel launcher, the cache warm-up
    (``warm_caches.py``, ``jit_cache.py``), the submission checker and the metrics; they differ in
    their requirements and in the bundled data sets they delete (``withheld-data.txt``,
    read by ``withhold_data.py``), and in the optional ``debian-packages.txt`` and ``source-builds.txt``.
    """
    root = resources.files("dsgym.sandboxes")
    requirements = root / name / "requirements.txt"
    if not requirements.is_file():
        raise ImageBuildError(f"unknown sandbox image {name!r}; defined: {', '.join(image_names())}")
    optional = {f"sandboxes/{name}/{file}": (root / name / file).read_bytes()
                for file in (DEBIAN_PACKAGES, SOURCE_BUILDS) if (root / name / file).is_file()}
    return {
        "Dockerfile": (root / "Dockerfile").read_bytes(),
        "sandboxes/kernel_launcher.py": (root / "kernel_launcher.py").read_bytes(),
        "sandboxes/jit_cache.py": (root / "jit_cache.py").read_bytes(),
        "sandboxes/warm_caches.py": (root / "warm_caches.py").read_bytes(),
        CHECK_SUBMISSION: _submission_checker(),
        METRICS_MODULE: _metrics_module(),
        f"sandboxes/{name}/requirements.txt": requirements.read_bytes(),
        WITHHOLD_SCRIPT: (root / "withhold_data.py").read_bytes(),
        withheld_list(name): (root / name / "withheld-data.txt").read_bytes(),
        **optional,
    }


def listed(name: str, file: str) -> list[str]:
    """The entries of ``sandboxes/<name>/<file>`` (one a line, ``#`` comments), none if it is absent."""
    path = resources.files("dsgym.sandboxes") / name / file
    if not path.is_file():
        return []
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line]


def debian_packages(name: str) -> list[str]:
    """The Debian packages image ``name`` adds to ``BASE_PACKAGES`` (its ``debian-packages.txt``)."""
    return listed(name, DEBIAN_PACKAGES)


def withheld_list(name: str) -> str:
    """The build-context path of image ``name``'s list of bundled data to delete."""
    return f"sandboxes/{name}/withheld-data.txt"


def _submission_checker() -> bytes:
    """The source of ``dsgym.predict.submission``, installed in the image as ``check-submission``."""
    try:
        checker = resources.files("dsgym.predict") / "submission.py"
        return checker.read_bytes()
    except (ModuleNotFoundError, FileNotFoundError) as exc:
        raise ImageBuildError(f"dsgym/predict/submission.py (the in-sandbox check-submission) "
                              f"is missing from this installation: {exc}") from exc


def _metrics_module() -> bytes:
    """The source of ``dsgym.predict.metrics`` (numpy and pandas only), installed as ``dsgym_metrics``."""
    try:
        return (resources.files("dsgym.predict") / "metrics.py").read_bytes()
    except (ModuleNotFoundError, FileNotFoundError) as exc:
        raise ImageBuildError(f"dsgym/predict/metrics.py (the in-sandbox dsgym_metrics) "
                              f"is missing from this installation: {exc}") from exc


def base_image_tag(suite: str, extra: Sequence[str] = ()) -> str:
    """``dsgym-base:<suite>-<hash of BASE_PACKAGES + extra>``: a changed package list names a new base."""
    digest = hashlib.sha256("\n".join([*BASE_PACKAGES, *extra]).encode()).hexdigest()[:8]
    return f"{os.environ.get('DSGYM_BASE_REPO') or BASE_REPO}:{suite}-{digest}"


def default_build() -> list[str]:
    """The images ``dsgym sandbox build`` makes without ``--image``: all but the on-demand ones."""
    return [name for name in image_names() if name not in ON_DEMAND]


def image_tag(name: str = "default") -> str:
    """The tag the runtime expects: ``dsgym-sandbox[-name]:<hash of the defining files>``."""
    digest = hashlib.sha256()
    for path, data in sorted(sandbox_files(name).items()):
        digest.update(path.encode() + b"\0" + data + b"\0")
    repo = IMAGE_REPO if name == "default" else f"{IMAGE_REPO}-{name}"
    return f"{repo}:{digest.hexdigest()[:12]}"


def image_name(tag: str) -> str | None:
    """The name of the dsgym image whose current definition is tagged ``tag`` (None: not one of dsgym's)."""
    return next((name for name in image_names() if image_tag(name) == tag), None)


def default_image() -> str:
    return image_tag("default")


def cache_dir() -> Path:
    path = Path(os.environ.get("DSGYM_CACHE_DIR", Path.home() / ".cache" / "dsgym"))
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass(frozen=True)
class AptSource:
    uri: str
    suite: str
    components: tuple[str, ...] = ("main",)


def debian_source(sources_dir: Path = Path("/etc/apt")) -> AptSource:
    """The host's Debian or Ubuntu archive and release (not security, updates, backports or third-party
    repositories), from ``sources.list`` (one-line form) and ``sources.list.d/*.sources`` (deb822)."""
    entries: list[tuple[str, str, tuple[str, ...]]] = []
    files = [sources_dir / "sources.list", *sorted((sources_dir / "sources.list.d").glob("*"))]
    for file in files:
        if not file.is_file():
            continue
        text = file.read_text(errors="replace")
        if file.suffix == ".sources":
            for stanza in re.split(r"\n\s*\n", text):
                fields = {}
                for line in stanza.splitlines():
                    key, _, value = line.partition(":")
                    if not line.startswith("#") and value.strip():
                        fields[key.strip().lower()] = value.strip()
                enabled = fields.get("enabled", "yes").lower() != "no"
                if "deb" in fields.get("types", "").split() and enabled:
                    components = tuple(fields.get("components", "main").split())
                    for uri in fields.get("uris", "").split():
                        for suite in fields.get("suites", "").split():
                            entries.append((uri, suite, components))
        elif file.suffix == ".list":
            for line in text.splitlines():
                parts = re.sub(r"\[[^]]*\]", "", line).split()
                if len(parts) >= 3 and parts[0] == "deb":
                    entries.append((parts[1], parts[2], tuple(parts[3:]) or ("main",)))
    for uri, suite, components in entries:  # a release itself (bookworm, noble), not bookworm-updates
        if re.search(r"/(debian|ubuntu|ubuntu-ports)$", uri.rstrip("/")) and re.fullmatch(r"[a-z]+", suite):
            return AptSource(uri.rstrip("/"), suite, components)
    raise ImageBuildError(
        f"no Debian or Ubuntu archive found in {sources_dir}/sources.list*; pass --mirror and --debian-suite "
        "(or --base-image IMAGE)"
    )


def _import(client: docker.DockerClient, tag: str, tar_stream, log: Log) -> None:
    repo, _, version = tag.partition(":")
    log(f"docker import -> {tag}")
    client.api.import_image_from_stream(tar_stream, repository=repo, tag=version or "latest")


def pull_slim(client: docker.DockerClient, tag: str, log: Log, extra: Sequence[str] = ()) -> None:
    """The registry's slim Python image plus the OpenMP runtime LightGBM needs and ``extra`` Debian packages
    (fails fast without a registry)."""
    log(f"pulling {SLIM_BASE}")
    try:
        client.images.pull(SLIM_BASE)
    except docker.errors.APIError as exc:
        raise ImageBuildError(f"cannot pull {SLIM_BASE}: {exc.explanation or exc}") from exc
    packages = " ".join(["libgomp1", *extra])
    dockerfile = (f"FROM {SLIM_BASE}\nRUN apt-get update && apt-get install -y --no-install-recommends {packages} "
                  "&& rm -rf /var/lib/apt/lists/*\n")
    log(f"docker build -> {tag} (FROM {SLIM_BASE}, with {packages})")
    for chunk in client.api.build(fileobj=io.BytesIO(dockerfile.encode()), tag=tag, rm=True, decode=True):
        if "error" in chunk:
            raise ImageBuildError(f"building the base on {SLIM_BASE} failed: {chunk['error'].strip()}")


def mmdebstrap_base(client: docker.DockerClient, tag: str, source: AptSource, log: Log,
                    extra: Sequence[str] = ()) -> None:
    """A root filesystem of the host's distribution, made without root, streamed into ``docker import``."""
    if not shutil.which("mmdebstrap"):
        raise ImageBuildError("mmdebstrap is not installed (apt-get install mmdebstrap uidmap)")
    mode = "root" if os.geteuid() == 0 else "unshare"
    cmd = ["mmdebstrap", f"--mode={mode}", "--variant=minbase", f"--include={','.join([*BASE_PACKAGES, *extra])}",
           f"--components={','.join(source.components)}", "--format=tar",
           "--customize-hook=rm -rf $1/var/cache/apt/archives/* $1/var/lib/apt/lists/*",
           source.suite, "-", source.uri]
    log(f"mmdebstrap --mode={mode} {source.suite} from {source.uri} (a minute or two)")
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=errors)
        try:
            _import(client, tag, proc.stdout, log)
        finally:
            proc.stdout.close()
            code = proc.wait()
        if code != 0:
            errors.seek(0)
            with contextlib.suppress(docker.errors.APIError):  # a half-streamed rootfs is no base
                client.images.remove(tag, force=True)
            raise ImageBuildError(f"mmdebstrap failed (exit {code}):\n{errors.read().decode(errors='replace')[-3000:]}"
                                  + ("\nunprivileged user namespaces may be off: see "
                                     "/proc/sys/kernel/unprivileged_userns_clone and /etc/subuid" if mode == "unshare"
                                     else ""))


def debootstrap_base(client: docker.DockerClient, tag: str, source: AptSource, log: Log,
                     extra: Sequence[str] = ()) -> None:
    """debootstrap a minimal system with ``BASE_PACKAGES`` and ``extra`` and import it as ``tag`` (root only)."""
    if os.geteuid() != 0:
        raise ImageBuildError("debootstrap needs root")
    if not shutil.which("debootstrap"):
        raise ImageBuildError("debootstrap is not installed (apt-get install -y debootstrap)")
    with tempfile.TemporaryDirectory(prefix="dsgym-rootfs-", dir=cache_dir()) as tmp:
        rootfs = Path(tmp) / "rootfs"
        log(f"debootstrap {source.suite} from {source.uri} (about a minute)")
        cmd = ["debootstrap", "--variant=minbase", f"--include={','.join([*BASE_PACKAGES, *extra])}",
               f"--components={','.join(source.components)}", source.suite, str(rootfs), source.uri]
        run = subprocess.run(cmd, capture_output=True, text=True)
        if run.returncode != 0:
            raise ImageBuildError(f"debootstrap failed:\n{run.stdout[-3000:]}{run.stderr[-3000:]}")
        for junk in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for item in (rootfs / junk).glob("*"):
                if item.is_file():
                    item.unlink()
        tarball = Path(tmp) / "rootfs.tar"
        subprocess.run(["tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(tarball), "."],
                       check=True)
        with open(tarball, "rb") as stream:
            _import(client, tag, stream, log)


def base_builders(source: AptSource | None, extra: Sequence[str] = ()) -> list[tuple[str, Callable[..., None]]]:
    """The ways to make a base, in the order tried: registry, mmdebstrap (no root), debootstrap (root)."""
    ways: list[tuple[str, Callable[..., None]]] = [("registry", lambda c, t, log: pull_slim(c, t, log, extra))]
    if source is not None:
        ways += [("mmdebstrap", lambda c, t, log: mmdebstrap_base(c, t, source, log, extra)),
                 ("debootstrap", lambda c, t, log: debootstrap_base(c, t, source, log, extra))]
    return ways


def build_base(client: docker.DockerClient, tag: str, source: AptSource | None, log: Log,
               extra: Sequence[str] = ()) -> None:
    """Make base ``tag`` (``BASE_PACKAGES`` and ``extra``) the first way that works."""
    failures = []
    for way, make in base_builders(source, extra):
        try:
            make(client, tag, log)
            return
        except ImageBuildError as exc:
            log(f"base by {way}: {exc}".splitlines()[0])
            failures.append(f"{way}: {exc}")
    raise ImageBuildError("no way to make a base image worked:\n  " + "\n  ".join(failures)
                          + "\nfix one of them, or pass --base-image IMAGE")


@dataclass(frozen=True)
class PythonTarget:
    """What a wheel must fit: the base image's interpreter, libc and machine."""

    version: str  # "3.11"
    glibc: tuple[int, int]
    machine: str

    def platforms(self) -> list[str]:
        major, minor = self.glibc
        tags = [f"manylinux_{major}_{m}_{self.machine}" for m in range(minor, 4, -1)]
        legacy = {(2, 17): "manylinux2014", (2, 12): "manylinux2010", (2, 5): "manylinux1"}
        tags += [f"{name}_{self.machine}" for v, name in legacy.items() if v <= self.glibc]
        return tags


def probe_python(client: docker.DockerClient, image: str) -> PythonTarget:
    code = ("import json,platform,sys;print(json.dumps([f'{sys.version_info[0]}.{sys.version_info[1]}',"
            "platform.libc_ver()[1],platform.machine()]))")
    out = client.containers.run(image, ["python3", "-c", code], remove=True, network_mode="none")
    version, libc, machine = json.loads(out.decode().strip().splitlines()[-1])
    major, minor = (int(x) for x in libc.split(".")[:2])
    return PythonTarget(version, (major, minor), machine)


def _binary_download(target: PythonTarget, dest: Path, args: list[str]) -> list[str]:
    """``pip download`` of binary wheels for ``target`` (``args``: what to get) into ``dest``."""
    abi = f"cp{target.version.replace('.', '')}"
    cmd = [sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "-q",
           "--only-binary=:all:", "--python-version", target.version, "--implementation", "cp",
           "--abi", abi, "-d", str(dest), *args]
    for plat in target.platforms():
        cmd += ["--platform", plat]
    return cmd


def build_wheelhouse(name: str, requirements: Path, target: PythonTarget, log: Log,
                     builder: Callable[[], str] | None = None) -> Path:
    """Download binary wheels for ``target`` into a cached folder (reused on rebuilds).

    The image's source builds (``source-builds.txt``) missing from the folder are first compiled
    there in a container of ``builder()``, the builder base's tag (made only when needed).
    """
    dest = cache_dir() / "wheelhouse" / f"{name}-cp{target.version.replace('.', '')}-{target.machine}"
    dest.mkdir(parents=True, exist_ok=True)
    pins, needs = source_builds(name)
    if missing := [pin for pin in pins if not _has_wheel(dest, pin)]:
        if builder is None:
            raise ImageBuildError(f"the {name} image needs {', '.join(missing)} compiled from source, which "
                                  f"takes Docker: run `dsgym sandbox build --image {name}` where Docker runs once "
                                  f"(or copy its wheels into {dest})")
        build_from_source(missing, dest, target, builder(), log, needs)
    # the folder itself is a source: the wheels compiled above are found there (tagged linux_<machine>)
    cmd = _binary_download(target, dest, ["--find-links", str(dest), "--platform", f"linux_{target.machine}",
                                          "-r", str(requirements)])
    log(f"pip download -> {dest}")
    run = subprocess.run(cmd, capture_output=True, text=True)
    if run.returncode != 0 and re.search(r"^torch==\S+\+cpu", requirements.read_text(), re.MULTILINE):
        index = os.environ.get("DSGYM_TORCH_INDEX") or TORCH_CPU_INDEX
        log(f"pip's sources lack torch's CPU build (or another pin): trying again with {index}")
        run = subprocess.run(cmd + ["--extra-index-url", index], capture_output=True, text=True)
    if run.returncode != 0:
        raise ImageBuildError(f"pip download failed:\n{run.stderr[-3000:]}")
    return dest


def source_builds(name: str) -> tuple[list[str], list[str]]:
    """Image ``name``'s ``source-builds.txt``: the pins to compile, and the ``build <requirement>`` lines
    (what building them needs that their archives do not declare, e.g. a ``setup_requires``)."""
    lines = listed(name, SOURCE_BUILDS)
    needs = [line.split(None, 1)[1] for line in lines if line.startswith("build ")]
    return [line for line in lines if not line.startswith("build ")], needs


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _has_wheel(folder: Path, pin: str) -> bool:
    """Whether ``folder`` has a wheel of ``pin`` (``name==version``)."""
    name, _, version = pin.partition("==")
    for wheel in folder.glob("*.whl"):
        wheel_name, wheel_version = wheel.name.split("-")[:2]
        if _canonical(wheel_name) == _canonical(name) and wheel_version == version.strip():
            return True
    return False


def build_requires(sdist: Path) -> list[str]:
    """What building ``sdist`` needs installed: its pyproject's ``build-system.requires``, else setuptools."""
    default = ["setuptools>=40.8.0"]
    with contextlib.ExitStack() as stack:
        if sdist.suffix == ".zip":
            archive = stack.enter_context(zipfile.ZipFile(sdist))
            names, read = archive.namelist(), archive.read
        else:
            archive = stack.enter_context(tarfile.open(sdist))
            names, read = archive.getnames(), lambda member: archive.extractfile(member).read()
        top = [n for n in names if n.count("/") == 1 and n.endswith("/pyproject.toml")]
        table = tomllib.loads(read(top[0]).decode()).get("build-system", {}) if top else {}
    requires = list(table.get("requires", default))
    # setuptools before 70.1 builds wheels with the wheel package, and older sdists do not say so
    return requires + ["wheel"] if any(_canonical(r).startswith("setuptools") for r in requires) else requires


def build_from_source(pins: list[str], dest: Path, target: PythonTarget, builder: str, log: Log,
                      needs: Sequence[str] = ()) -> None:
    """Compile ``pins`` into wheels in ``dest``, in a throwaway container of ``builder`` without network.

    The source archives and their build requirements (declared, plus ``needs``) are downloaded on the
    host first, the requirements as wheels for ``target``; in the container pip (and setuptools'
    own ``setup_requires`` fetching, through pip's environment variables) finds them only there.
    """
    client = docker.from_env()
    found = probe_python(client, builder)
    if (found.version, found.machine) != (target.version, target.machine):
        raise ImageBuildError(f"the builder {builder} has Python {found.version} on {found.machine}, the image "
                              f"{target.version} on {target.machine}: its wheels would not fit")
    with tempfile.TemporaryDirectory(prefix="dsgym-source-", dir=cache_dir()) as tmp:
        work = Path(tmp)
        sdists, requires, out = work / "sdists", work / "requires", work / "out"
        for folder in (sdists, requires, out):
            folder.mkdir()
        log(f"pip download (source) {' '.join(pins)}")
        run = subprocess.run([sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "-q",
                              "--no-binary=:all:", "--no-deps", "-d", str(sdists), *pins],
                             capture_output=True, text=True)
        if run.returncode != 0:
            raise ImageBuildError(f"pip download of the source builds failed:\n{run.stderr[-3000:]}")
        needs = sorted({*needs, *(req for sdist in sdists.iterdir() for req in build_requires(sdist))})
        run = subprocess.run(_binary_download(target, requires, needs), capture_output=True, text=True) if needs \
            else None
        if run is not None and run.returncode != 0:
            raise ImageBuildError(f"pip download of the build requirements ({', '.join(needs)}) failed:\n"
                                  f"{run.stderr[-3000:]}")
        log(f"compiling {len(pins)} wheel(s) in a throwaway {builder} container (no network)")
        script = ("python3 -m venv /tmp/venv && /tmp/venv/bin/pip wheel --disable-pip-version-check -q --no-deps "
                  "--use-pep517 --no-index --find-links /work/requires -w /work/out /work/sdists/*")
        try:
            client.containers.run(builder, ["sh", "-c", script], remove=True, network_mode="none",
                                  user=f"{os.getuid()}:{os.getgid()}",
                                  environment={"HOME": "/tmp", "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": "/work/requires"},
                                  volumes={str(work): {"bind": "/work", "mode": "rw"}})
        except docker.errors.ContainerError as exc:
            raise ImageBuildError(f"compiling {', '.join(pins)} failed:\n"
                                  f"{(exc.stderr or b'').decode(errors='replace')[-3000:]}") from exc
        for wheel in out.glob("*.whl"):
            shutil.move(str(wheel), dest / wheel.name)
    if still := [pin for pin in pins if not _has_wheel(dest, pin)]:
        raise ImageBuildError(f"compiling gave no wheel for {', '.join(still)}")


def build_on_demand(tags: dict[str | None, str], log: Log) -> list[str]:
    """Build the on-demand images (``ON_DEMAND``) among ``tags`` that a suite needs and are missing, saying so.

    ``tags`` maps image names to the tags a command will use; a tag given by hand is never built.
    Returns the tags built.
    """
    wanted = {name: tag for name, tag in tags.items() if name in ON_DEMAND and tag == image_tag(name)}
    if not wanted:
        return []
    try:
        client = docker.from_env()
    except docker.errors.DockerException as exc:
        raise ImageBuildError(f"cannot reach the Docker daemon ({exc}) to build the {', '.join(wanted)} image") from exc
    built = []
    for name, tag in wanted.items():
        if image_exists(client, tag):
            continue
        locks = cache_dir() / "locks"
        locks.mkdir(exist_ok=True)
        # envs of one vector env, or several runs, needing it at once build it once
        with waiting_lock(locks / f"build-{re.sub(r'[^A-Za-z0-9_.-]', '_', tag)}.lock", f"building {tag}", log):
            if image_exists(client, tag):
                continue
            log(f"building the {name} sandbox image {tag}: a suite needs it and it is built on first use (several "
                f"minutes, once; `dsgym sandbox build --image {name}` builds it ahead of time)")
            built.append(build(name, log=log))
    return built


def ensure_base(client: docker.DockerClient, tag: str, source: AptSource | None, log: Log,
                extra: Sequence[str] = (), force: bool = False) -> str:
    """Base ``tag`` (``BASE_PACKAGES`` and ``extra``), made unless it exists (or ``force``); returns it."""
    if force or not image_exists(client, tag):
        build_base(client, tag, source, log, extra)
    else:
        log(f"reusing base image {tag}")
    return tag


def image_exists(client: docker.DockerClient, tag: str) -> bool:
    try:
        client.images.get(tag)
        return True
    except docker.errors.ImageNotFound:
        return False


def build(
    name: str = "default",
    *,
    base_image: str | None = None,
    source: AptSource | None = None,
    tag: str | None = None,
    force: bool = False,
    cache: bool = True,
    log: Log = print,
) -> str:
    """Build (or reuse) sandbox image ``name`` and return its tag.

    Without ``base_image``, the base is ``dsgym-base:<release>-<hash>`` made by ``build_base``
    (with the image's own Debian packages, if it lists any).  ``cache=False`` rebuilds every
    Docker step (the wheelhouse and the base are reused).
    """
    client = docker.from_env()
    files = sandbox_files(name)
    tag = tag or image_tag(name)
    if image_exists(client, tag) and not force:
        log(f"{tag} is up to date")
        return tag
    extra = debian_packages(name)
    if base_image is None or listed(name, SOURCE_BUILDS):
        if source is None:
            try:
                source = debian_source()
            except ImageBuildError as exc:  # not Debian or Ubuntu: a registry may still serve a base
                log(str(exc))
    suite = source.suite if source else "slim"
    if base_image is None:
        base_image = base_image_tag(suite, extra)
        ensure_base(client, base_image, source, log, extra, force=force)
    else:
        if extra:
            log(f"the {name} image needs Debian's {', '.join(extra)}: {base_image} must have them")
        if not image_exists(client, base_image):
            log(f"pulling {base_image}")
            client.images.pull(base_image)
    target = probe_python(client, base_image)
    log(f"base {base_image}: Python {target.version}, glibc {target.glibc[0]}.{target.glibc[1]}, {target.machine}")
    requirements = f"sandboxes/{name}/requirements.txt"
    with tempfile.TemporaryDirectory(prefix="dsgym-build-") as ctx:
        ctx_path = Path(ctx)
        for path, data in files.items():
            (ctx_path / path).parent.mkdir(parents=True, exist_ok=True)
            (ctx_path / path).write_bytes(data)
        builder = base_image_tag(suite, BUILD_PACKAGES)
        wheels = build_wheelhouse(name, ctx_path / requirements, target, log,
                                  builder=lambda: ensure_base(client, builder, source, log, BUILD_PACKAGES))
        shutil.copytree(wheels, ctx_path / "wheelhouse", copy_function=link_or_copy)
        log(f"docker build -> {tag}")
        stream = client.api.build(path=ctx, tag=tag, rm=True, forcerm=True, decode=True, nocache=not cache,
                                  buildargs={"BASE_IMAGE": base_image, "REQUIREMENTS": requirements,
                                             "WITHHELD": withheld_list(name)},
                                  labels={"dsgym.image": tag})
        for chunk in stream:
            if "error" in chunk:
                raise ImageBuildError(f"docker build failed: {chunk['error'].strip()}")
            line = chunk.get("stream", "").rstrip()
            if line.startswith(("Step ", "warm ", "withheld ")) or "Successfully" in line:
                log(line)
    return tag
