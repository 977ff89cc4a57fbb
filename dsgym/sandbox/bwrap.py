"""One bubblewrap sandbox per episode: Docker's isolation without a daemon or root.

Where there is no Docker daemon and no root (a Slurm cluster, a CI runner) but unprivileged
user namespaces are allowed, ``bwrap`` gives each episode new user, mount, PID, IPC, UTS and
network namespaces in a few milliseconds.  Inside:

* the root is the same image's file tree (``rootfs.tree``: exported from Docker once, kept in
  the cache), bound read-only; the task's files at ``/data`` (read-only), a size-capped tmpfs
  ``/workspace`` and ``/tmp``, a fresh ``/proc`` and a minimal ``/dev``, and nothing else of the host;
* loopback only (a new network namespace), no capabilities, ``no_new_privs`` (bwrap always
  sets it), uid 1000 ("agent", the image's user) mapped to the host uid that runs bwrap:
  the caller's own, or, for root, ``SANDBOX_UID`` (a uid no account has, as with Docker);
* the kernel launcher is the namespace's PID 1 (``--as-pid-1``: code inside cannot kill it,
  it reaps orphans), and ``--die-with-parent`` ends the sandbox when its owner dies, even by
  SIGKILL.  bwrap is always started from one long-lived thread, because a process's
  "parent" for that purpose is the thread that started it;
* the kernel's sockets live in a tmpfs of the sandbox (``/run/dsgym``) reached through
  ``/proc/<launcher pid>/root`` and opened without following links, as for Docker
  (``kernel.KernelSession``); the connection file is written into it by bwrap from a pipe,
  so the key never touches the host's disk.

Limits: cell and episode time as everywhere (the kernel protocol).  Memory (with swap),
processes, CPU and the freezer go through a cgroup where one is writable (cgroup v1
controllers, or a cgroup v2 folder the user owns); otherwise memory and processes fall back
to rlimits (``RLIMIT_AS`` per process, ``RLIMIT_NPROC`` per sandbox user namespace), CPU is
not limited, and ``freeze`` stops the processes with SIGSTOP.  ``enforced`` says which.
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import weakref
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING

from dsgym.sandbox import cpu, rootfs
from dsgym.sandbox.base import Limits, SandboxBroken, SandboxError
from dsgym.sandbox.docker import _parse_bytes, owner, pid_namespace, sandbox_ids
from dsgym.sandbox.images import default_image
from dsgym.sandbox.kernel import KernelSession, write_connection_file
from dsgym.sandbox.kernel_sandbox import KernelSandbox

if TYPE_CHECKING:
    from dsgym.sandbox.spec import SandboxSpec

INSIDE_CONN = "/run/dsgym"
INSIDE_UID = 1000  # the image's "agent" account
CONN_SIZE = 1 << 20
SHM_SIZE = 64 << 20  # Docker's default /dev/shm
PREFIX = "dsgym-bw-"
LAUNCHER_LOG = "/tmp/dsgym-launcher.log"  # inside the sandbox
CGROUP_ROOT = Path("/sys/fs/cgroup")
V1_CONTROLLERS = ("memory", "pids", "cpu", "cpuacct", "freezer")
USERNS_HELP = (
    "bwrap could not create a user namespace ({detail}). The bwrap sandbox needs unprivileged user "
    "namespaces: check `cat /proc/sys/user/max_user_namespaces` (must be above 0) and, on Debian before 11, "
    "`sysctl kernel.unprivileged_userns_clone` (must be 1). On Ubuntu 23.10 and later AppArmor blocks them "
    "unless `sysctl kernel.apparmor_restrict_unprivileged_userns` is 0 (or an AppArmor profile allows bwrap). "
    "Ask your administrator, or use the docker sandbox (DSGYM_SANDBOX=docker)")

_live: weakref.WeakSet[BwrapSandbox] = weakref.WeakSet()
_spawner: queue.SimpleQueue | None = None  # requests to the spawner thread
_spawner_lock = threading.Lock()
_checked: str | None = None  # the bwrap that passed the user-namespace check
_swept = False


def _forget_parent() -> None:
    """In a forked child, the parent's spawner thread and sandboxes are not this process's."""
    global _spawner, _spawner_lock, _swept
    _spawner, _spawner_lock, _swept = None, threading.Lock(), False
    _live.clear()


os.register_at_fork(after_in_child=_forget_parent)


def _spawn(argv: list[str], **popen: object) -> subprocess.Popen:
    """``Popen`` from the process's one spawner thread, which lives as long as the process.

    ``--die-with-parent`` sets bwrap's parent-death signal, which fires when the *thread*
    that started it ends: a pool's filler thread would take its sandboxes with it.
    """
    global _spawner
    with _spawner_lock:
        if _spawner is None:
            _spawner = queue.SimpleQueue()
            threading.Thread(target=_spawn_forever, args=(_spawner,), name="dsgym-bwrap-spawner", daemon=True).start()
    done: Future[subprocess.Popen] = Future()
    _spawner.put((argv, popen, done))
    return done.result()


def _spawn_forever(requests: queue.SimpleQueue) -> None:
    while True:
        argv, popen, done = requests.get()
        try:
            done.set_result(subprocess.Popen(argv, **popen))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            done.set_exception(exc)


def check_bwrap() -> str:
    """The ``bwrap`` binary, once it has shown it can make the namespaces a sandbox needs; else SandboxError."""
    global _checked
    if _checked:
        return _checked
    binary = shutil.which("bwrap")
    if binary is None:
        raise SandboxError("the bwrap sandbox needs bubblewrap: install it (`apt-get install bubblewrap`, "
                           "`dnf install bubblewrap`) or use the docker sandbox (DSGYM_SANDBOX=docker)")
    probe = subprocess.run([binary, "--unshare-all", "--unshare-user", "--die-with-parent", "--ro-bind", "/", "/",
                            "true"], capture_output=True, text=True, timeout=30, **_drop_root())
    if probe.returncode != 0:
        raise SandboxError(USERNS_HELP.format(detail=probe.stderr.strip() or f"exit {probe.returncode}"))
    _checked = binary
    return binary


def host_ids() -> tuple[int, int]:
    """The host uid and gid sandboxes run as: the caller's, or, for the host's real root, ``sandbox_ids()``
    (root of a user namespace cannot take another uid: its sandboxes run as itself, without capabilities)."""
    try:
        real_root = Path("/proc/self/uid_map").read_text().split() == ["0", "0", "4294967295"]
    except OSError:
        real_root = False
    return sandbox_ids() if os.geteuid() == 0 and real_root else (os.geteuid(), os.getegid())


def _drop_root() -> dict:
    """Popen options that run a child as the sandbox uid when that is not ours (we are root)."""
    uid, gid = host_ids()
    return {} if uid == os.geteuid() else {"user": uid, "group": gid, "extra_groups": []}


class Cgroup:
    """One sandbox's cgroup folders (one per v1 controller, or one v2 folder), made where writable.

    Made by the host before the sandbox starts; its ``cgroup.procs`` files are handed to
    the sandbox uid, so the sandbox's first process moves itself in before it runs bwrap.
    """

    def __init__(self, name: str, limits: Limits, uid: int):
        self.folders: dict[str, Path] = {}
        self.enforced: dict[str, str] = {}
        memory = _parse_bytes(limits.memory)
        if (CGROUP_ROOT / "cgroup.controllers").is_file():
            self._v2(name, limits, memory, uid)
        else:
            self._v1(name, limits, memory, uid)

    def _v1(self, name: str, limits: Limits, memory: int, uid: int) -> None:
        for controller in V1_CONTROLLERS:
            parent = CGROUP_ROOT / controller
            if not os.access(parent, os.W_OK) or not (parent / "cgroup.procs").is_file():
                continue
            folder = parent / name
            try:
                folder.mkdir()
                settings = {"memory": {"memory.limit_in_bytes": memory, "memory.memsw.limit_in_bytes": memory},
                            "pids": {"pids.max": limits.pids},
                            "cpu": {"cpu.cfs_period_us": 100_000, "cpu.cfs_quota_us": int(limits.cpus * 100_000)},
                            }.get(controller, {})
                for file, value in settings.items():
                    if (folder / file).exists():
                        (folder / file).write_text(str(value))
                        self.enforced[file] = f"cgroup v1 {file}={value}"
                for file in ("cgroup.procs", "tasks"):
                    os.chown(folder / file, uid, -1)
            except OSError:
                _rmdir(folder)
                continue
            self.folders[controller] = folder

    def _v2(self, name: str, limits: Limits, memory: int, uid: int) -> None:
        try:
            own = Path("/proc/self/cgroup").read_text().split("0::", 1)[1].split("\n", 1)[0]
        except (OSError, IndexError):
            return
        parent = CGROUP_ROOT / own.lstrip("/")
        if not os.access(parent, os.W_OK):
            return
        folder = parent / name
        try:
            folder.mkdir()
            for file, value in (("memory.max", memory), ("memory.swap.max", 0), ("pids.max", limits.pids),
                                ("cpu.max", f"{int(limits.cpus * 100_000)} 100000")):
                if (folder / file).exists():
                    (folder / file).write_text(str(value))
                    self.enforced[file] = f"cgroup v2 {file}={value}"
            os.chown(folder / "cgroup.procs", uid, -1)
        except OSError:
            _rmdir(folder)
            return
        self.folders["unified"] = folder

    def has(self, what: str) -> bool:
        return any(file.startswith(what) for file in self.enforced)

    def procs_files(self) -> list[str]:
        return [str(folder / "cgroup.procs") for folder in self.folders.values()]

    def freeze(self) -> bool:
        """Freeze every process of the cgroup at once; False when no freezer is there."""
        if "freezer" in self.folders:
            state = self.folders["freezer"] / "freezer.state"
            state.write_text("FROZEN")
            deadline = time.monotonic() + 5
            while state.read_text().strip() != "FROZEN" and time.monotonic() < deadline:
                time.sleep(0.01)
            return True
        if "unified" in self.folders and (self.folders["unified"] / "cgroup.freeze").exists():
            (self.folders["unified"] / "cgroup.freeze").write_text("1")
            return True
        return False

    def thaw(self) -> None:
        try:
            if "freezer" in self.folders:
                (self.folders["freezer"] / "freezer.state").write_text("THAWED")
            elif "unified" in self.folders and (self.folders["unified"] / "cgroup.freeze").exists():
                (self.folders["unified"] / "cgroup.freeze").write_text("0")
        except OSError:
            pass

    def remove(self) -> None:
        for folder in self.folders.values():
            _rmdir(folder)


def _rmdir(folder: Path) -> None:
    """Remove a cgroup folder, waiting briefly for its last processes to be gone (they were killed)."""
    for _ in range(50):
        try:
            folder.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.02)


class BwrapSandbox(KernelSandbox):
    """A bubblewrap sandbox over the image's file tree, with a live kernel."""

    isolated = True
    data_dir = "/data"
    workdir = "/workspace"

    def __init__(self, image: str | None = None, limits: Limits | None = None):
        self.image = image or default_image()
        self.limits = limits or Limits()
        if self.limits.gpus:
            raise SandboxError("GPUs (--gpus) reach only docker sandboxes (through Docker's device requests); "
                               "the bwrap kind cannot pass them")
        self.proc: subprocess.Popen | None = None
        self.pid = 0  # the launcher (the sandbox's PID 1) as the host sees it
        self.kernel: KernelSession | None = None
        self.root: Path | None = None
        self.cgroup: Cgroup | None = None
        self.enforced: dict[str, str] = {}
        self._nproc = self.limits.pids  # RLIMIT_NPROC when no cgroup limits pids
        self._closed = False
        self._frozen = False
        self._lock = threading.Lock()

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self, timeout: float = 60.0) -> None:
        binary = check_bwrap()
        tree = rootfs.tree(self.image)
        _install_exit_handler()
        _sweep()
        uid, _ = host_ids()
        self.root = Path(tempfile.mkdtemp(prefix=PREFIX, dir=os.environ.get("DSGYM_TMPDIR")))
        self.root.chmod(0o755)
        (self.root / "data").mkdir(mode=0o755)
        (self.root / "owner.json").write_text(json.dumps({"owner": owner(), "pidns": pid_namespace()}))
        _live.add(self)
        try:
            self.cgroup = Cgroup(f"{PREFIX}{os.getpid()}-{self.root.name[len(PREFIX):]}", self.limits, uid)
            # RLIMIT_NPROC caps the sandbox's own tasks and also all tasks of the host uid: allow the pids
            # limit on top of what that uid runs already (this process's threads, other sandboxes)
            self._nproc = self.limits.pids + (0 if self.cgroup.has("pids") else _tasks_of(uid))
            self.enforced = self._limits_enforced()
            self._launch(binary, tree, timeout)
        except BaseException:
            self.close()
            raise

    def _launch(self, binary: str, tree: rootfs.Tree, timeout: float) -> None:
        seed = self.root / "seed"
        seed.mkdir(mode=0o700)
        connection = write_connection_file(seed, INSIDE_CONN)
        key_r, key_w = os.pipe()
        info_r, info_w = os.pipe()
        try:
            with open(seed / "kernel.json", "rb") as handle:
                os.write(key_w, handle.read())  # a few hundred bytes: fits the pipe
            os.close(key_w)
            key_w = -1
            shutil.rmtree(seed)
            argv = self._argv(binary, tree, key_r, info_w)
            with open(self.root / "bwrap.log", "wb") as log:
                with self._lock:
                    if self._closed:
                        raise SandboxError("the sandbox was closed while starting")
                    self.proc = _spawn(argv, pass_fds=(key_r, info_w), stdin=subprocess.DEVNULL, stdout=log,
                                       stderr=subprocess.STDOUT, start_new_session=True, **_drop_root())
        finally:
            for fd in (key_r, info_w, key_w):
                if fd >= 0:
                    os.close(fd)
        try:
            with os.fdopen(info_r, "rb") as info:  # closed by bwrap once the child runs (or on failure)
                self.pid = int(json.loads(info.read() or b"{}").get("child-pid", 0))
        except ValueError:
            self.pid = 0
        if not self.pid:
            self.proc.wait(timeout=10)
            raise SandboxError(f"bwrap would not start the sandbox: {self._log()}")
        conn = Path(f"/proc/{self.pid}/root{INSIDE_CONN}")
        connection["ip"] = str(conn / "k")
        self.kernel = KernelSession(conn, connection, self._is_up, self._kill_kernel, pins_parent=self.root)
        try:
            self.kernel.wait_ready(timeout)
        except SandboxError as exc:
            raise SandboxError(f"{exc}\n--- sandbox log ---\n{self._log()}") from exc

    def _argv(self, binary: str, tree: rootfs.Tree, key_fd: int, info_fd: int) -> list[str]:
        limits = self.limits
        env = dict(line.split("=", 1) for line in tree.env if "=" in line)
        env.update(USER="agent", LOGNAME="agent")
        argv = [binary, "--unshare-all", "--unshare-user", "--disable-userns", "--uid", str(INSIDE_UID), "--gid", str(INSIDE_UID),
                "--die-with-parent", "--as-pid-1", "--new-session", "--hostname", "sandbox",
                "--ro-bind", str(tree.root), "/", "--proc", "/proc", "--dev", "/dev",
                "--size", str(SHM_SIZE), "--perms", "1777", "--tmpfs", "/dev/shm",
                "--size", str(_parse_bytes(limits.tmp_size)), "--perms", "1777", "--tmpfs", "/tmp",
                "--size", str(_parse_bytes(limits.workspace_size)), "--perms", "0755", "--tmpfs", self.workdir,
                "--size", str(CONN_SIZE), "--perms", "0700", "--tmpfs", INSIDE_CONN,
                "--perms", "0400", "--file", str(key_fd), f"{INSIDE_CONN}/kernel.json",
                "--ro-bind", str(self.root / "data"), self.data_dir,
                "--info-fd", str(info_fd), "--chdir", self.workdir, "--clearenv"]
        for name, value in env.items():
            argv += ["--setenv", name, value]
        # the launcher's output goes to the sandbox's own /tmp: a file on the host's disk (bwrap's log)
        # would be a disk the sandbox could fill through /proc/1/fd/1
        argv += ["sh", "-c", f"exec python /opt/dsgym/kernel_launcher.py {INSIDE_CONN} {self.workdir} "
                             f">{LAUNCHER_LOG} 2>&1"]
        # the first process joins the cgroup (or takes the rlimits) and then becomes bwrap
        join = 'while [ "$1" != -- ]; do echo $$ > "$1" || exit 125; shift; done; shift; '
        rlimits = ""
        if not self.cgroup.has("memory"):
            rlimits += f"ulimit -v {_parse_bytes(limits.memory) // 1024} && "
        if not self.cgroup.has("pids"):
            rlimits += f"ulimit -p {self._nproc} && "
        return ["sh", "-c", join + rlimits + 'exec "$@"', "sh", *self.cgroup.procs_files(), "--", *argv]

    def _limits_enforced(self) -> dict[str, str]:
        """Which limits hold and how, for the run's records (``info['sandbox_limits']``)."""
        limits, cgroup = self.limits, self.cgroup
        found = {"cell_time": "kernel interrupt, then restart (host side)",
                 "workspace": f"tmpfs size={limits.workspace_size}", "tmp": f"tmpfs size={limits.tmp_size}"}
        memory = [text for file, text in cgroup.enforced.items() if file.startswith("memory")]
        found["memory"] = "; ".join(memory) if memory else f"RLIMIT_AS={limits.memory} per process (no cgroup)"
        pids = [text for file, text in cgroup.enforced.items() if file.startswith("pids")]
        found["pids"] = pids[0] if pids else (
            f"RLIMIT_NPROC={self._nproc}: {limits.pids} tasks on top of the {self._nproc - limits.pids} the host "
            "user ran at start (the kernel counts all of that user's tasks, every sandbox's included)")
        cpus = [text for file, text in cgroup.enforced.items() if file.startswith("cpu")]
        found["cpus"] = "; ".join(cpus) if cpus else "not limited (no writable cgroup)"
        frozen = "freezer" in cgroup.folders or cgroup.has("cgroup.freeze")
        found["freeze"] = "cgroup freezer" if frozen else "SIGSTOP to each process of the sandbox"
        return found

    def _cpu_sample(self) -> cpu.CpuSample | None:
        # only the sandbox's own cgroup counts only its CPU; without one, the counters would be the host's
        if not ("cpuacct" in self.cgroup.folders or "unified" in self.cgroup.folders):
            return None
        return super()._cpu_sample()

    def _blame(self, exc: SandboxError) -> SandboxError:
        """``SandboxBroken`` when the sandbox's own processes are to blame, else ``exc``.

        Nothing outside the sandbox but its owner signals the bwrap process; the launcher is
        the namespace's PID 1, which code inside cannot kill.  So: bwrap ended by a signal,
        or closed by us, is outside; bwrap that exited by itself (its PID 1 returned, say on a
        SIGTERM from inside, or was OOM-killed in its own cgroup) or a kernel that stopped
        answering in a live sandbox is inside.
        """
        if self._closed or self.proc is None:
            return exc
        status = self.proc.poll()
        if status is not None and status < 0:
            return exc
        how = (f"its PID 1 exited ({status})" if status is not None
               else "the kernel stopped answering while the sandbox runs")
        return SandboxBroken(f"the sandbox's own processes broke it: {how} ({exc})")

    def freeze(self) -> None:
        """Stop every process in the sandbox: the cgroup freezer where there is one, else SIGSTOP
        to each process of its PID namespace until no running one is left (a fork in flight is
        caught by the next pass; a stopped process forks no more)."""
        if self.proc is None or not self.pid:
            raise SandboxError("the sandbox is not started")
        self._frozen = True
        try:
            if self.cgroup is not None and self.cgroup.freeze():
                return
            namespace = os.readlink(f"/proc/{self.pid}/ns/pid")
        except OSError as exc:
            raise SandboxError(f"cannot freeze the sandbox: {exc}") from exc
        for _ in range(1000):
            if not self._stop_running(namespace):
                return
        raise SandboxError("cannot freeze the sandbox: its processes kept multiplying")

    @staticmethod
    def _stop_running(namespace: str) -> bool:
        """SIGSTOP each running process of the PID namespace; whether any was found."""
        found = False
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                if os.readlink(f"/proc/{entry.name}/ns/pid") != namespace:
                    continue
                state = Path(f"/proc/{entry.name}/stat").read_text().rsplit(")", 1)[1].split()[0]
                if state not in ("T", "t", "Z", "X"):
                    os.kill(int(entry.name), signal.SIGSTOP)
                    found = True
            except (OSError, IndexError):
                continue
        return found

    def _still_running(self) -> str | None:
        return None if self.proc is not None and self.proc.poll() is None else "the sandbox is no longer running"

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        if self.kernel is not None:
            self.kernel.close()
        if self.proc is not None and self.proc.poll() is None:
            # The sandbox's PID 1 first: its end ends every process of its namespace, and bwrap, which
            # reaps it, exits then (a pid bwrap has not reaped yet cannot name another process).
            if self.pid:
                try:
                    os.kill(self.pid, signal.SIGKILL)
                except OSError:
                    pass
            if self.cgroup is not None:
                self.cgroup.thaw()  # a frozen process takes its SIGKILL only once thawed
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.cgroup is not None:
            self.cgroup.remove()
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
        _live.discard(self)

    # -- internals -------------------------------------------------------------------------------

    def _is_up(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _kill_kernel(self) -> None:
        # the launcher (PID 1) kills the kernel's process group and starts a new kernel
        try:
            os.kill(self.pid, signal.SIGUSR1)
        except OSError:
            pass

    def _log(self) -> str:
        try:
            return (self.root / "bwrap.log").read_text(errors="replace")[-4000:] or "(empty log)"
        except (OSError, TypeError):
            return "(no log)"


def close_all() -> None:
    """Close every bwrap sandbox this process holds."""
    for sandbox in list(_live):
        try:
            sandbox.close()
        except Exception:  # noqa: BLE001 - best effort, keep closing the others
            pass


_exit_registered = False


def _install_exit_handler() -> None:
    global _exit_registered
    if not _exit_registered:
        _exit_registered = True
        atexit.register(close_all)


def _sweep() -> None:
    """Once per process: remove sandbox folders and cgroups whose owning process is gone (it was SIGKILLed;
    its sandboxes died with it, ``--die-with-parent``)."""
    global _swept
    if _swept:
        return
    _swept = True
    base = Path(os.environ.get("DSGYM_TMPDIR") or tempfile.gettempdir())
    for marker in base.glob(f"{PREFIX}*/owner.json"):
        try:
            info = json.loads(marker.read_text())
            host, _, pid = str(info.get("owner", "")).rpartition(":")
        except (OSError, ValueError, AttributeError):
            continue
        if host == socket.gethostname() and info.get("pidns") == pid_namespace() and not _alive(int(pid or 0)):
            shutil.rmtree(marker.parent, ignore_errors=True)
    stale = [folder for parent in [CGROUP_ROOT / c for c in V1_CONTROLLERS] + [CGROUP_ROOT]
             for folder in parent.glob(f"{PREFIX}*-*")
             if folder.name[len(PREFIX):].split("-", 1)[0].isdigit()
             and not _alive(int(folder.name[len(PREFIX):].split("-", 1)[0]))]
    for folder in stale:  # a frozen sandbox takes the SIGKILL its owner's death sent it only once thawed
        for name, value in (("freezer.state", "THAWED"), ("cgroup.freeze", "0")):
            try:
                (folder / name).write_text(value)
            except OSError:
                pass
        try:
            for pid in (folder / "cgroup.procs").read_text().split():
                os.kill(int(pid), signal.SIGKILL)
        except (OSError, ValueError):
            pass
    for folder in stale:
        _rmdir(folder)


def _tasks_of(uid: int) -> int:
    """How many tasks (threads) processes of ``uid`` have on this host."""
    total = 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid:
                    total += len(os.listdir(f"/proc/{entry.name}/task"))
            except OSError:
                continue
    return total


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def build(spec: SandboxSpec) -> Callable[[], BwrapSandbox]:
    """The ``bwrap`` sandbox kind (``dsgym.sandbox.spec``): one bubblewrap sandbox per episode."""
    from dsgym.sandbox import spec as kinds

    check_bwrap()  # a clear error now, not in every episode
    _install_exit_handler()
    kinds.on_close_all("bwrap", close_all)
    return functools.partial(BwrapSandbox, image=spec.image, limits=spec.limits)
