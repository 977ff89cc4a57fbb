"""An image's file tree built without Docker, by an ordinary user (the ``bwrap`` kind's root).

Where no Docker daemon is there to export the image (``rootfs``), the tree is made the way
``docker build`` would make the image, from the same inputs:

1. the base: ``mmdebstrap --variant=minbase`` of the host's Debian or Ubuntu release with
   ``BASE_PACKAGES`` (and the image's own Debian packages), in ``--mode=unshare`` without root;
   its tarball is kept in the user's cache (``<cache>/rootfs-base``) and reused;
2. the wheelhouse: binary wheels for the base's Python, downloaded on the host into the same
   cached folder ``dsgym sandbox build`` uses (``images.build_wheelhouse``);
3. the image's Dockerfile, read instruction by instruction (``FROM`` the base, ``ARG``, ``ENV``,
   ``COPY`` from the build context or an earlier stage, ``RUN``, ``WORKDIR``, ``USER``): each
   ``RUN`` and ``COPY`` runs inside the tree under bwrap, with no network, a new PID namespace
   and the build context bound read-only.  The Dockerfile is the one definition of the image,
   so a tree and an image of the same tag hold the same packages, launcher and environment.

Without root, the steps run as root of a user namespace whose other ids are the user's
subordinate ids (``userns``: ranges in ``/etc/subuid`` and ``/etc/subgid``, mapped by
``newuidmap``), so that ``chown`` and ``useradd`` work as in Docker; once built, the whole tree is handed back to the user (the tree is only ever bound
read-only, like a tree exported from Docker, whose files belong to whoever exported it).
The tree is built beside its final place and renamed into it only when every step passed.
"""

from __future__ import annotations

import io
import json
import os
import pwd
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dockerfile_parse import DockerfileParser

from dsgym.sandbox import images, userns
from dsgym.sandbox.base import link_or_copy
from dsgym.sandbox.images import ImageBuildError

Log = Callable[[str], None]
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"  # what Docker gives a RUN
CONTEXT = "/mnt/context"  # where a COPY step sees the build context (a tmpfs over /mnt, only for COPY)
SOURCE_STAGE = "/mnt/stage"  # where a COPY --from step sees the earlier stage's tree
USERNS_FIX = (
    "unprivileged user namespaces must be allowed: `cat /proc/sys/user/max_user_namespaces` must be above 0; "
    "on Debian before 11, `sysctl kernel.unprivileged_userns_clone` must be 1; on Ubuntu 23.10 and later "
    "AppArmor blocks them unless `sysctl kernel.apparmor_restrict_unprivileged_userns=0` (or an AppArmor "
    "profile allows unshare, mmdebstrap and bwrap)")


class TreeBuildError(ImageBuildError):
    """The tree could not be built; the message says which step failed and how to fix it."""


# -- what an ordinary user needs -------------------------------------------------------------------


def check_user() -> None:
    """Raise ``TreeBuildError`` naming the fix when this user cannot build a tree."""
    missing = [tool for tool in ("bwrap", "unshare", "tar") if shutil.which(tool) is None]
    if missing:
        raise TreeBuildError(f"building a tree needs {', '.join(missing)}: install "
                             "them (apt-get install bubblewrap util-linux tar)")
    if os.geteuid() == 0:
        return
    for tool in ("newuidmap", "newgidmap"):
        if shutil.which(tool) is None:
            raise TreeBuildError(f"{tool} is missing: building a tree without root maps subordinate ids "
                                 "with it (apt-get install uidmap)")
    user = pwd.getpwuid(os.geteuid()).pw_name
    for file in ("/etc/subuid", "/etc/subgid"):
        if userns.subordinate_range(Path(file), user, os.geteuid()) is None:
            raise TreeBuildError(
                f"{file} gives {user} no range of {userns.MAPPED} subordinate ids; building a tree without root "
                f"needs one. As root: usermod --add-subuids 100000-165535 --add-subgids 100000-165535 {user} "
                "(pick a range no other user has)")
    probe = subprocess.run(["unshare", "--user", "--map-root-user", "true"], check=False, capture_output=True,
                           text=True)
    if probe.returncode != 0:
        raise TreeBuildError(f"cannot create a user namespace ({probe.stderr.strip()}): {USERNS_FIX}")
    probe = subprocess.run([*_userns(), "true"], check=False, capture_output=True, text=True)
    if probe.returncode != 0:
        raise TreeBuildError(f"cannot map {user}'s subordinate ids into a user namespace ({probe.stderr.strip()}); "
                             "check /etc/subuid and /etc/subgid, and that newuidmap and newgidmap are set-user-ID root")


def _userns() -> list[str]:
    """The prefix that runs a command as root of a user namespace mapping the user's subordinate ids (not for root)."""
    return [] if os.geteuid() == 0 else [sys.executable, "-m", "dsgym.sandbox.userns", "--"]


def remove(path: Path) -> None:
    """Remove a (partial) tree, whatever ids its files carry (a build may have chowned them to subordinate ids)."""
    if not os.path.lexists(path):
        return
    if os.geteuid() != 0:
        subprocess.run([*_userns(), "rm", "-rf", "--", str(path)], check=False, capture_output=True)
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        os.unlink(path)


# -- the base --------------------------------------------------------------------------------------


def base_tarball(name: str, log: Log) -> Path:
    """The cached tarball of image ``name``'s base (``BASE_PACKAGES`` and its own Debian packages), made once."""
    source = images.debian_source()
    extra = images.debian_packages(name)
    tag = images.base_image_tag(source.suite, extra)
    folder = images.cache_dir() / "rootfs-base"
    folder.mkdir(parents=True, exist_ok=True)
    tarball = folder / f"{tag.rpartition(':')[2]}.tar"
    if tarball.is_file():
        log(f"reusing the base {tarball}")
        return tarball
    if shutil.which("mmdebstrap") is None:
        raise TreeBuildError("mmdebstrap is not installed: it makes the tree's base without root "
                             "(apt-get install mmdebstrap uidmap)")
    mode = "root" if os.geteuid() == 0 else "unshare"
    partial = tarball.with_name(f".{tarball.name}.{os.getpid()}")
    cmd = ["mmdebstrap", f"--mode={mode}", "--variant=minbase",
           f"--include={','.join([*images.BASE_PACKAGES, *extra])}",
           f"--components={','.join(source.components)}", "--format=tar",
           "--customize-hook=rm -rf $1/var/cache/apt/archives/* $1/var/lib/apt/lists/*",
           source.suite, str(partial), source.uri]
    log(f"mmdebstrap --mode={mode} {source.suite} from {source.uri} (about a minute, once)")
    try:
        run = subprocess.run(cmd, check=False, capture_output=True, text=True)
        if run.returncode != 0:
            raise TreeBuildError(f"making the base with mmdebstrap failed (exit {run.returncode}):\n"
                                 f"{run.stderr[-3000:]}" + (f"\nif it could not unshare: {USERNS_FIX}"
                                                           if mode == "unshare" else ""))
        os.replace(partial, tarball)
    finally:
        partial.unlink(missing_ok=True)
    return tarball


def _unpack(tarball: Path, dest: Path) -> None:
    dest.mkdir(mode=0o755)
    run = subprocess.run(["tar", "-x", "-C", str(dest), "--no-same-owner", "--no-same-permissions",
                          "--exclude=./dev/*", "-f", str(tarball)], check=False, capture_output=True, text=True,
                         umask=0o022)
    if run.returncode != 0:
        raise TreeBuildError(f"unpacking the base {tarball} failed: {run.stderr[-2000:]}")


# -- the Dockerfile ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    line: int
    keyword: str
    args: str

    def __str__(self) -> str:
        text = " ".join(f"{self.keyword} {self.args}".split())  # continued lines leave runs of blanks
        return text if len(text) < 160 else text[:157] + "..."


def instructions(text: str) -> list[Instruction]:
    """The Dockerfile's instructions as dockerfile-parse reads them (comments dropped, continued lines joined);
    variables are left for the builder, which knows each stage's ARG and ENV values."""
    parser = DockerfileParser(fileobj=io.BytesIO(text.encode()), env_replace=False)
    return [Instruction(part["startline"] + 1, part["instruction"], part["value"])
            for part in parser.structure if part["instruction"] != "COMMENT"]


_VARIABLE = re.compile(r"\$\{(\w+)(?::-([^}]*))?\}|\$(\w+)")


def expand(text: str, values: dict[str, str]) -> str:
    """Docker's ``$NAME`` / ``${NAME}`` / ``${NAME:-default}`` in instructions other than RUN."""
    return _VARIABLE.sub(lambda m: values.get(m.group(1) or m.group(3)) or m.group(2) or "", text)


@dataclass
class Stage:
    root: Path
    name: str | None
    args: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    workdir: str = "/"
    user: str = ""


class Builder:
    """Carries out a Dockerfile's instructions on trees unpacked from the base tarball."""

    def __init__(self, work: Path, context: Path, base: Path, build_args: dict[str, str], log: Log):
        self.work, self.context, self.base, self.build_args, self.log = work, context, base, build_args, log
        self.stages: list[Stage] = []

    def run(self, dockerfile: str) -> Stage:
        steps = instructions(dockerfile)
        global_args: dict[str, str] = {}
        for number, step in enumerate(steps, 1):
            self.log(f"Step {number}/{len(steps)} : {step}")
            try:
                self._do(step, global_args)
            except TreeBuildError as exc:
                raise TreeBuildError(f"step {number}/{len(steps)} (Dockerfile line {step.line}: {step}) failed: "
                                     f"{exc}") from None
        if not self.stages:
            raise TreeBuildError("the Dockerfile has no FROM")
        return self.stages[-1]

    def _do(self, step: Instruction, global_args: dict[str, str]) -> None:
        keyword, args = step.keyword, step.args
        if keyword == "ARG":
            name, has_default, default = args.partition("=")
            scope = self.stages[-1].args if self.stages else global_args
            values = {**global_args, **(self.stages[-1].args if self.stages else {})}
            scope[name] = self.build_args.get(name, expand(default, values) if has_default else values.get(name, ""))
            return
        if keyword == "FROM":
            words = expand(args, global_args).split()
            if words[0] != self.build_args.get("BASE_IMAGE"):
                raise TreeBuildError(f"a tree is built only FROM the base image, not {words[0]}")
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            root = self.work / f"stage-{len(self.stages)}"
            _unpack(self.base, root)
            self.stages.append(Stage(root, name))
            return
        if not self.stages:
            raise TreeBuildError(f"{keyword} before FROM")
        stage = self.stages[-1]
        values = {**stage.args, **stage.env}
        if keyword == "ENV":
            words = shlex.split(args)
            if words and "=" not in words[0]:  # the old form: ENV NAME value
                stage.env[words[0]] = expand(" ".join(words[1:]), values)
                return
            for word in words:
                name, _, value = word.partition("=")
                stage.env[name] = expand(value, {**stage.args, **stage.env})
        elif keyword == "WORKDIR":
            stage.workdir = os.path.join(stage.workdir, expand(args, values))
            self._sh(stage, f"mkdir -p {shlex.quote(stage.workdir)}", as_root=True)
        elif keyword == "USER":
            stage.user = expand(args, values)
        elif keyword == "COPY":
            self._copy(stage, expand(args, values))
        elif keyword == "RUN":
            if args.startswith("["):
                command = " ".join(shlex.quote(word) for word in json.loads(args))
            else:
                command = args
            self._sh(stage, command)
        elif keyword in ("CMD", "ENTRYPOINT", "LABEL", "EXPOSE", "STOPSIGNAL"):
            return  # metadata a sandbox does not use: it starts its own command
        else:
            raise TreeBuildError(f"the tree builder does not know the {keyword} instruction")

    def _copy(self, stage: Stage, args: str) -> None:
        words = shlex.split(args)
        source_root, source_mount = self.context, CONTEXT
        while words and words[0].startswith("--"):
            flag, _, value = words.pop(0).partition("=")
            if flag != "--from":
                raise TreeBuildError(f"COPY {flag} is not supported by the tree builder")
            found = [s for s in self.stages[:-1] if s.name == value or str(self.stages.index(s)) == value]
            if not found:
                raise TreeBuildError(f"COPY --from={value}: no earlier stage has that name")
            source_root, source_mount = found[-1].root, SOURCE_STAGE
        if len(words) < 2:
            raise TreeBuildError("COPY needs a source and a destination")
        *sources, dest = words
        dest = os.path.join(stage.workdir, dest)
        if dest == "/mnt" or dest.startswith("/mnt/"):
            raise TreeBuildError("the tree builder cannot COPY into /mnt (it binds the build context there)")
        into_folder = dest.endswith("/") or len(sources) > 1
        commands = []
        for source in sources:
            if any(c in source for c in "*?["):
                raise TreeBuildError(f"COPY of a pattern ({source}) is not supported by the tree builder")
            relative = os.path.normpath(source.lstrip("/"))
            on_host = source_root / relative
            if relative.startswith("..") or not os.path.lexists(on_host):
                raise TreeBuildError(f"COPY: {source} is not in the "
                                     f"{'build context' if source_mount == CONTEXT else 'source stage'}")
            inside = shlex.quote(f"{source_mount}/{relative}")
            target = shlex.quote(dest.rstrip("/") or "/")
            if on_host.is_dir() and not on_host.is_symlink():
                commands.append(f"mkdir -p {target} && cp -R -P --preserve=mode,timestamps {inside}/. {target}/")
            elif into_folder:
                commands.append(f"mkdir -p {target} && cp -P --preserve=mode,timestamps {inside} {target}/")
            else:
                commands.append(f"mkdir -p \"$(dirname {target})\" && cp -P --preserve=mode,timestamps "
                                f"{inside} {target}")
        binds = ["--tmpfs", "/mnt", "--ro-bind", str(source_root), source_mount]
        self._sh(stage, " && ".join(commands), as_root=True, binds=binds)

    def _sh(self, stage: Stage, command: str, as_root: bool = False, binds: list[str] | None = None) -> None:
        env = {"PATH": DEFAULT_PATH, "HOME": "/root", "HOSTNAME": "build", **stage.args, **stage.env}
        argv = ["sh", "-c", command]
        if stage.user and not as_root:
            uid, _, gid = stage.user.partition(":")
            argv = ["setpriv", f"--reuid={uid}", f"--regid={gid or uid}", "--clear-groups", *argv]
        run = subprocess.run(in_tree(stage.root, argv, env, workdir=stage.workdir, binds=binds or []),
                             check=False, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
        for line in run.stdout.splitlines():
            if line.startswith(("warm ", "withheld ")):
                self.log(line)
        if run.returncode != 0:
            raise TreeBuildError(f"exit {run.returncode}:\n{run.stdout[-3000:]}")


def in_tree(root: Path, argv: list[str], env: dict[str, str], workdir: str = "/",
            binds: Sequence[str] = (), writable: bool = True) -> list[str]:
    """The command line that runs ``argv`` as root inside ``root`` (no network, a new PID namespace)."""
    bind = "--bind" if writable else "--ro-bind"
    command = [*_userns(), "bwrap", bind, str(root), "/", "--proc", "/proc", "--dev", "/dev",
               "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--hostname", "build",
               "--die-with-parent", "--cap-add", "ALL", *binds, "--chdir", workdir, "--clearenv"]
    for name, value in env.items():
        command += ["--setenv", name, value]
    return [*command, *argv]


# -- the whole build -------------------------------------------------------------------------------


def probe_python(base: Path, work: Path) -> images.PythonTarget:
    """The base's Python version, libc and machine (what its wheels must fit), asked inside an unpacked base."""
    probe = work / "probe"
    _unpack(base, probe)
    code = ("import json,platform,sys;print(json.dumps([f'{sys.version_info[0]}.{sys.version_info[1]}',"
            "platform.libc_ver()[1],platform.machine()]))")
    run = subprocess.run(in_tree(probe, ["python3", "-c", code], {"PATH": DEFAULT_PATH}, writable=False),
                         check=False, capture_output=True, text=True)
    remove(probe)
    if run.returncode != 0:
        raise TreeBuildError(f"the base's python3 would not run: {run.stderr[-2000:]}")
    version, libc, machine = json.loads(run.stdout.strip().splitlines()[-1])
    major, minor = (int(x) for x in libc.split(".")[:2])
    return images.PythonTarget(version, (major, minor), machine)


def build(name: str, root: Path, meta: Path, finish: Callable[[Path], None], log: Log = print) -> None:
    """Build image ``name``'s tree into ``root`` and its environment into ``meta``, without Docker.

    The caller holds the image's lock (``rootfs.tree``): any earlier build's leftovers beside
    ``root`` are a killed build's, and are removed.  ``root`` appears only once complete,
    after ``finish`` (``rootfs.finish_tree``: what every tree gets, however it was made).
    """
    check_user()
    files = images.sandbox_files(name)
    for stale in root.parent.glob(f".{root.name}.build-*"):
        remove(stale)
    remove(root)  # a tree without its JSON is a killed build's or export's
    work = root.parent / f".{root.name}.build-{os.getpid()}"
    work.mkdir()
    try:
        base = base_tarball(name, log)
        context = work / "context"
        for path, data in files.items():
            (context / path).parent.mkdir(parents=True, exist_ok=True)
            (context / path).write_bytes(data)
        target = probe_python(base, work)
        log(f"base: Python {target.version}, glibc {target.glibc[0]}.{target.glibc[1]}, {target.machine}")
        requirements = f"sandboxes/{name}/requirements.txt"
        try:
            wheels = images.build_wheelhouse(name, context / requirements, target, log)
        except ImageBuildError as exc:
            if not images.listed(name, images.SOURCE_BUILDS):
                raise
            raise TreeBuildError(f"{exc}\nthe tree builder compiles nothing: build the {name} image once where "
                                 f"Docker runs and copy the wheels of its wheelhouse (dsgym's cache, wheelhouse/) "
                                 f"into {images.cache_dir() / 'wheelhouse'} here") from exc
        shutil.copytree(wheels, context / "wheelhouse", copy_function=link_or_copy)
        build_args = {"BASE_IMAGE": images.base_image_tag(images.debian_source().suite, images.debian_packages(name)),
                      "REQUIREMENTS": requirements, "WITHHELD": images.withheld_list(name)}
        final = Builder(work, context, base, build_args, log).run(files["Dockerfile"].decode())
        # the tree goes back to the user (ids a step chowned to are subordinate ids it could not remove)
        run = subprocess.run([*_userns(), "chown", "-R", "-h", "0:0", str(final.root)], check=False,
                             capture_output=True, text=True)
        if run.returncode != 0:
            raise TreeBuildError(f"handing the tree back to the user failed: {run.stderr[-2000:]}")
        finish(final.root)
        env = final.env if "PATH" in final.env else {"PATH": DEFAULT_PATH, **final.env}
        os.rename(final.root, root)
        written = meta.with_name(f".{meta.name}.{os.getpid()}")
        written.write_text(json.dumps({"image": images.image_tag(name), "env": [f"{k}={v}" for k, v in env.items()],
                                       "workdir": final.workdir, "built": "without Docker (treebuild)"}))
        os.replace(written, meta)
    finally:
        remove(work)
