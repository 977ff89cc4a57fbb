"""One locked-down Docker container per episode, with a kernel reached over unix sockets.

Defaults: no network, memory = memory+swap, CPU and pids limits, read-only root,
size-capped tmpfs ``/workspace`` and ``/tmp``, all capabilities dropped,
``no-new-privileges``, an unprivileged user, and an init process so an OOM kill
of the kernel is not the end of the container.

The kernel's sockets and state live in a small tmpfs inside the container
(``/run/dsgym``), which the host reaches through ``/proc/<container pid>/root``:
nothing the sandbox writes lands on the host's disk.  The connection file the host
writes is mounted read-only and copied in when the container starts.  Every container carries labels
so ``prune`` can find the ones a killed process left behind.

No sandbox outlives its owner.  A signal or a normal exit removes the owner's containers
(``close_all``).  For SIGKILL, crashes and vanished nodes each container holds a lease: a
thread of the owning process touches a file in a folder mounted read-only into the
sandbox every quarter of the lease (``DSGYM_LEASE_SECONDS``, default 60), and the
launcher, which is the container's PID 1, exits when it sees no renewal for a whole
lease; the container was created with auto-remove, so the daemon then deletes it.
"""

from __future__ import annotations

import atexit
import functools
import json
import logging
import os
import pwd
import shutil
import signal
import socket
import tempfile
import threading
import time
import uuid
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import docker
import requests
import docker.errors
import docker.types

from dsgym.sandbox import gpus
from dsgym.sandbox.base import Limits, SandboxBroken, SandboxError
from dsgym.sandbox.images import default_image
from dsgym.sandbox.kernel import KernelSession, write_connection_file
from dsgym.sandbox.kernel_sandbox import KernelSandbox

if TYPE_CHECKING:
    from dsgym.sandbox.spec import SandboxSpec

LABEL = "dsgym.sandbox"
INSIDE_CONN = "/run/dsgym"  # tmpfs: the kernel's sockets, state.json, startup.py
INSIDE_SEED = "/run/dsgym-seed"  # read-only bind mount of the host's kernel.json
CONN_SIZE = "1m"
INSIDE_LEASE = "/run/dsgym-lease"  # read-only bind mount: the lease file the owner touches
LAUNCH = (f"cp {INSIDE_SEED}/kernel.json {INSIDE_CONN}/kernel.json && "
          f"exec python /opt/dsgym/kernel_launcher.py {INSIDE_CONN} /workspace {INSIDE_LEASE}/lease")
LEASE_ENV = "DSGYM_LEASE_SECONDS"
DEFAULT_LEASE = 60.0
MIN_LEASE = 2.0
# The uid:gid sandboxes run as when the host runs as root: one no host account has (the
# image's user 1000 is a real person on many hosts, who could then ptrace the sandbox and
# read its kernel key).  Past sssd's default ID-mapping range, below 2**31.
SANDBOX_UID = 2_100_000_000
UID_ENV = "DSGYM_SANDBOX_UID"
# Daemon events that mean someone outside ended or froze the container (a kill with SIGUSR1 is
# dsgym's own kernel restart, see _kill_kernel); "die" without one of these came from inside.
OUTSIDE_EVENTS = ("kill", "stop", "pause")
EVENT_WAIT = 0.5  # seconds to keep listening for the daemon's record of a kill after the container died

_live: weakref.WeakSet[DockerSandbox] = weakref.WeakSet()
_exiting = threading.Event()  # set at process exit: sandboxes still starting remove themselves
_client: docker.DockerClient | None = None
_client_lock = threading.Lock()
_renewer: threading.Thread | None = None
_renewer_lock = threading.Lock()
_reaped = False
_process_id = uuid.uuid4().hex[:16]  # tells this process's containers apart from any other's
log = logging.getLogger(__name__)


def _forget_parent() -> None:
    """In a forked child: the parent's client (its open connections), sandboxes, lease thread and
    process id are not this process's."""
    global _client, _client_lock, _process_id, _renewer, _renewer_lock, _reaped
    _client, _client_lock = None, threading.Lock()
    _process_id, _renewer, _renewer_lock, _reaped = uuid.uuid4().hex[:16], None, threading.Lock(), False
    _live.clear()


os.register_at_fork(after_in_child=_forget_parent)


def client() -> docker.DockerClient:
    """A shared Docker client (one connection pool per process)."""
    global _client
    with _client_lock:
        if _client is None:
            try:
                _client = docker.from_env(timeout=120)
                _client.ping()
            except docker.errors.DockerException as exc:
                _client = None
                raise SandboxError(
                    f"cannot reach the Docker daemon ({exc}); start it, or on a machine without Docker use "
                    "the bwrap sandbox (DSGYM_SANDBOX=bwrap: isolated, needs user namespaces) or the local "
                    "one (DSGYM_SANDBOX=local: no isolation)"
                ) from exc
        return _client


def require_images(tags: dict[str, str]) -> None:
    """Fail now, with the command that fixes it, if the daemon is down or an image is missing.

    ``tags`` maps an image name (``default``, ``bio``, ...; None for a tag given by hand) to its tag.
    """
    from dsgym.sandbox.images import image_exists

    docker_client = client()
    missing = {name: tag for name, tag in tags.items() if not image_exists(docker_client, tag)}
    if missing:
        fixes = sorted({f"dsgym sandbox build --image {name}" if name else "dsgym sandbox build"
                        for name in missing})
        raise SandboxError(f"sandbox image(s) {', '.join(sorted(missing.values()))} not built; run "
                           + " and ".join(f"`{fix}`" for fix in fixes))


def _parse_bytes(size: str) -> int:
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    size = size.strip().lower().rstrip("b")
    return int(float(size[:-1]) * units[size[-1]]) if size[-1] in units else int(size)


class DockerSandbox(KernelSandbox):
    """A fresh container with the default (or a given) image and a live kernel."""

    isolated = True
    data_dir = "/data"
    workdir = "/workspace"

    def __init__(self, image: str | None = None, limits: Limits | None = None,
                 labels: dict[str, str] | None = None):
        self.image = image or default_image()
        self.limits = limits or Limits()
        self.extra_labels = labels or {}
        self.container = None
        self.pid = 0  # the container's init process on the host, once started
        self.kernel: KernelSession | None = None
        self.root: Path | None = None
        self._closed = False
        self._frozen = False
        self._started = 0.0
        self.lease_seconds = lease_seconds()
        self.lease_file: Path | None = None
        self._lock = threading.Lock()

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self, timeout: float = 60.0) -> None:
        docker_client = client()
        install_exit_handlers()
        try:
            reap_orphans()
        except (SandboxError, docker.errors.APIError) as exc:  # never a reason not to start
            log.warning("could not remove orphaned sandboxes: %s", exc)
        uid, gid = sandbox_ids()
        self.root = Path(tempfile.mkdtemp(prefix="dsgym-", dir=os.environ.get("DSGYM_TMPDIR")))
        seed, data = self.root / "seed", self.root / "data"
        seed.mkdir()
        data.mkdir()
        self.root.chmod(0o755)
        connection = write_connection_file(seed, INSIDE_CONN)  # 0600: the key is for the sandbox's uid only
        for path, mode in ((seed / "kernel.json", 0o400), (seed, 0o700)):
            os.chown(path, uid, gid)
            path.chmod(mode)
        (self.root / "owner.json").write_text(json.dumps({"owner": owner(), "pidns": pid_namespace()}))
        lease = self.root / "lease"
        lease.mkdir(mode=0o755)
        lease.chmod(0o755)
        self.lease_file = lease / "lease"
        self.lease_file.write_text(f"{self.lease_seconds:g}\n")  # its length; the mtime is the renewal
        self.lease_file.chmod(0o644)
        limits = self.limits
        labels = {LABEL: "1", "dsgym.owner": owner(), "dsgym.pidns": pid_namespace(),
                  "dsgym.process": _process_id, "dsgym.lease": f"{self.lease_seconds:g}",
                  "dsgym.root": str(self.root), "dsgym.created": f"{time.time():.0f}",
                  **self.extra_labels}
        memory = _parse_bytes(limits.memory)
        self._started = time.time()
        _live.add(self)
        _ensure_renewer()
        try:
            # create + start, not run: run would try to pull a missing image from a registry
            created = docker_client.containers.create(
                self.image,
                init=False,  # the launcher is PID 1: it reaps orphans and holds the lease
                auto_remove=True,  # a container that stops (its lease lapsed) is deleted by the daemon
                user=f"{uid}:{gid}",
                network_mode="none",
                mem_limit=memory,
                memswap_limit=memory,
                nano_cpus=int(limits.cpus * 1e9),
                pids_limit=limits.pids,
                device_requests=gpus.device_requests(limits.gpus),
                read_only=True,
                tmpfs={
                    "/workspace": f"size={limits.workspace_size},uid={uid},gid={gid},mode=0755",
                    "/tmp": f"size={limits.tmp_size},mode=1777",
                    INSIDE_CONN: f"size={CONN_SIZE},uid={uid},gid={gid},mode=0700",
                },
                command=["sh", "-c", LAUNCH],
                cap_drop=["ALL"],
                security_opt=["no-new-privileges"],
                volumes={str(seed): {"bind": INSIDE_SEED, "mode": "ro"},
                         str(lease): {"bind": INSIDE_LEASE, "mode": "ro"},
                         str(data): {"bind": self.data_dir, "mode": "ro"}},
                labels=labels,
                working_dir=self.workdir,
                environment={"USER": "agent", "LOGNAME": "agent"},  # the uid has no passwd entry (getpass)
                # Every process in the container runs as the same user, so sandbox code can write
                # to the init's stdout (/proc/1/fd/1) and so to the daemon's log file on the host
                # disk; an uncapped json-file log let a cell fill the host disk.  Keep the last
                # 1 MB (enough for the start-up diagnostics read by _logs()).
                log_config=docker.types.LogConfig(type="json-file",
                                                  config={"max-size": "1m", "max-file": "1"}),
            )
            with self._lock:
                if self._closed or _exiting.is_set():  # closed while being created (e.g. at exit)
                    created.remove(force=True)
                    raise SandboxError("the sandbox was closed while starting")
                self.container = created
            self.container.start()
        except docker.errors.ImageNotFound as exc:
            self.close()
            raise SandboxError(
                f"sandbox image {self.image} is not built; run `dsgym sandbox build`"
            ) from exc
        except docker.errors.APIError as exc:
            self.close()
            why = exc.explanation or str(exc)
            if limits.gpus and "device driver" in why:  # docker: could not select device driver "" ... [[gpu]]
                why += (f" (the sandbox asked for GPUs {limits.gpus}: the Docker daemon needs the NVIDIA Container "
                        "Toolkit for that)")
            raise SandboxError(f"the sandbox container would not start: {why}") from exc
        try:
            self.container.reload()
            pid = int(self.container.attrs["State"]["Pid"])
            if pid <= 0:
                raise ValueError("no process")
        except (docker.errors.APIError, KeyError, TypeError, ValueError) as exc:
            self.close()
            raise SandboxError(f"the sandbox container stopped at once: {self._logs()}") from exc
        # the container's own /run/dsgym, seen from the host (sockets are reached by path)
        self.pid = pid
        conn = Path(f"/proc/{pid}/root{INSIDE_CONN}")
        connection["ip"] = str(conn / "k")
        self.kernel = KernelSession(conn, connection, self._is_up, self._kill_kernel, pins_parent=self.root)
        try:
            self.kernel.wait_ready(timeout)
        except SandboxError as exc:
            logs = self._logs()
            self.close()
            raise SandboxError(f"{exc}\n--- container log ---\n{logs}") from exc

    def _blame(self, exc: SandboxError) -> SandboxError:
        cause = self._broken_from_inside()
        return SandboxBroken(f"{cause} ({exc})") if cause is not None else exc

    def _broken_from_inside(self) -> str | None:
        """Why the sandbox failed, if what ran in it is to blame; None if the failure came from outside.

        The daemon's event log decides: a kill, stop or pause it recorded (other than dsgym's
        own SIGUSR1 kernel restarts), a lease that may have lapsed, or no answer from the
        daemon means outside (someone, the daemon, the host).  A container that died with none
        of those (its PID 1 or the kernel's supervisor ended by a signal from inside, an OOM
        kill under its own memory limit), or that still runs with a kernel that no longer
        answers, was broken by its own processes.
        """
        if self._closed or self.container is None:
            return None
        ours = str(int(signal.SIGUSR1))
        died: dict | None = None
        try:
            events = client().api.events(since=int(self._started) - 1, until=time.time() + EVENT_WAIT,
                                         filters={"container": self.container.id, "type": "container"},
                                         decode=True)
            try:
                for event in events:
                    action = event.get("Action")
                    attributes = (event.get("Actor") or {}).get("Attributes") or {}
                    if action in OUTSIDE_EVENTS and attributes.get("signal") != ours:
                        return None
                    if action == "die":
                        died = attributes
            finally:
                events.close()  # the stream's connection, also when an outside kill ends the loop early
            running = died is None and self._state().get("Running") is True
        except (docker.errors.DockerException, OSError, ValueError):  # the daemon failed: outside
            return None
        if self._closed or self._lease_stalled():
            return None
        if running:
            return "the kernel stopped answering while its container runs (broken from inside the sandbox)"
        if died is None:  # gone without a recorded death: nothing says it was the sandbox
            return None
        return (f"the sandbox's own processes ended its container (exit code {died.get('exitCode')}; "
                "no kill, stop or pause came from outside)")

    def _lease_stalled(self) -> bool:
        """Whether a renewal of this sandbox's lease was missed (so the launcher may have let it lapse)."""
        if self.lease_file is None:
            return False
        try:
            age = time.time() - self.lease_file.stat().st_mtime
        except OSError:
            return True
        return age > self.lease_seconds / 2

    def _state(self) -> dict:
        try:
            self.container.reload()
        except docker.errors.NotFound:
            return {}
        return self.container.attrs.get("State") or {}

    def freeze(self) -> None:
        """Pause the container (the cgroup freezer stops every process in it at once, forks included).

        Nothing runs inside while files are copied out, and no copy goes through a process in
        the sandbox: a ``docker exec`` reader could be stopped, or fed more bytes, by the agent's
        background processes.  A paused container can still be removed.
        """
        if self.container is None:
            raise SandboxError("the sandbox is not started")
        self._frozen = True
        try:
            self.container.pause()
        except (docker.errors.DockerException, requests.RequestException) as exc:  # a timeout is a RequestException
            raise SandboxError(f"cannot freeze the sandbox: {getattr(exc, 'explanation', None) or exc}") from exc

    def _still_running(self) -> str | None:
        try:
            self.container.reload()
            same = self.container.attrs["State"]["Pid"] == self.pid
        except (AttributeError, docker.errors.DockerException, requests.RequestException, KeyError, TypeError) as exc:
            return f"the sandbox is gone: {exc}"
        return None if same else "the sandbox's container is no longer running"

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        if self.kernel is not None:
            self.kernel.close()
        if self.container is not None:
            try:
                self.container.remove(force=True)
            except docker.errors.NotFound:
                pass
            except docker.errors.APIError as exc:
                if "already in progress" not in str(exc):
                    raise
                self._await_removal()  # auto-remove got there first: "closed" means gone, so wait for it
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
        _live.discard(self)

    # -- internals -------------------------------------------------------------------------------

    def _await_removal(self, timeout: float = 10.0) -> None:
        try:
            self.container.wait(condition="removed", timeout=timeout)
        except (docker.errors.NotFound, docker.errors.APIError, requests.RequestException):
            pass  # already gone, or the daemon is slow: prune and the lease still remove it

    def _is_up(self) -> bool:
        if self.pid and not os.path.exists(f"/proc/{self.pid}"):  # gone before Docker says so
            return False
        try:
            self.container.reload()
        except docker.errors.NotFound:
            return False
        return self.container.status == "running"

    def _kill_kernel(self) -> None:
        # The launcher (PID 1) kills the kernel's process group and starts a new kernel.
        try:
            self.container.kill(signal="SIGUSR1")
        except docker.errors.APIError:
            pass

    def _logs(self) -> str:
        try:
            return self.container.logs(tail=40).decode(errors="replace")
        except (docker.errors.APIError, AttributeError):
            return "(no log)"


def sandbox_ids() -> tuple[int, int]:
    """The uid and gid sandboxes run as: the caller's own, or, for root, ``SANDBOX_UID`` (``$DSGYM_SANDBOX_UID``).

    The host reaches the kernel through ``/proc/<pid>/root``, which needs the container's
    uid or root; as root, a uid that a host account has is refused.
    """
    if os.geteuid() != 0:
        return os.geteuid(), os.getegid()
    try:
        uid = int(os.environ.get(UID_ENV) or SANDBOX_UID)
    except ValueError:
        raise SandboxError(f"${UID_ENV} must be a number, not {os.environ[UID_ENV]!r}") from None
    try:
        account = pwd.getpwuid(uid)
    except KeyError:
        if uid <= 0:
            raise SandboxError(f"${UID_ENV} must be a positive uid, not {uid}") from None
        return uid, uid
    raise SandboxError(f"sandboxes would run as uid {uid}, which the host account {account.pw_name!r} has "
                       f"(it could ptrace them); set ${UID_ENV} to a uid no account on this host has")


def prune(everything: bool = False) -> list[str]:
    """Remove labelled containers whose owning process on this host is gone; return their ids.

    Containers owned by other hosts sharing the daemon are left alone unless ``everything``.
    Sandbox folders whose owner is gone and whose container already removed itself (its
    lease lapsed) are deleted too.
    """
    removed = []
    for container in list_containers():
        if not everything and not orphaned(container):
            continue
        try:
            container.remove(force=True)
        except docker.errors.NotFound:
            continue
        except docker.errors.APIError as exc:
            if "already in progress" not in str(exc):
                raise
        _remove_root(container.labels.get("dsgym.root"))
        removed.append(container.short_id)
    _sweep_roots()
    return removed


def reap_orphans() -> list[str]:
    """Once per process, before its first sandbox: ``prune`` this host's orphans; return their ids."""
    global _reaped
    with _renewer_lock:
        if _reaped:
            return []
        _reaped = True
    return prune()


def remove_own() -> None:
    """Remove every container this process created, by label (no locks: safe on a forced exit)."""
    try:
        containers = client().containers.list(
            all=True, filters={"label": [LABEL, f"dsgym.process={_process_id}"]}, ignore_removed=True)
    except (SandboxError, docker.errors.APIError):
        return
    for container in containers:
        try:
            container.remove(force=True)
        except docker.errors.APIError:
            pass
        _remove_root(container.labels.get("dsgym.root"))


def orphaned(container: docker.models.containers.Container) -> bool:
    """Whether ``container`` was started by a process of this host that has exited."""
    return _owner_gone(container.labels.get("dsgym.owner", ""), container.labels.get("dsgym.pidns"))


def _owner_gone(owner_label: str, pidns: str | None) -> bool:
    """Whether the process named by an owner label ran where our pids mean the same, and has exited.

    Two hosts (or two containers sharing the host's daemon) can have the same hostname;
    ``pidns`` (the kernel's boot id and the pid namespace) tells them apart, so a pid is
    only looked up where it means that process.  Labels without it (older dsgym) fall
    back to the hostname.
    """
    owner_host, _, pid = owner_label.rpartition(":")
    if owner_host != socket.gethostname() or not pid.isdigit():
        return False
    if pidns is not None and pidns != pid_namespace():
        return False
    return not _alive(int(pid))


def owner(pid: int | None = None) -> str:
    """The ``dsgym.owner`` label of the containers a process (default: this one) starts."""
    return f"{socket.gethostname()}:{os.getpid() if pid is None else pid}"


def pid_namespace() -> str:
    """``<boot id>/<pid namespace>``: where a pid names the same process as it does for us."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        boot = "unknown"
    try:
        namespace = os.readlink("/proc/self/ns/pid").removeprefix("pid:").strip("[]")
    except OSError:
        namespace = "unknown"
    return f"{boot}/{namespace}"


def lease_seconds() -> float:
    """The lease of new sandboxes: ``$DSGYM_LEASE_SECONDS`` or 60."""
    text = os.environ.get(LEASE_ENV, "").strip()
    if not text:
        return DEFAULT_LEASE
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value >= MIN_LEASE:  # also NaN
        raise SandboxError(f"{LEASE_ENV} must be a number of seconds, at least {MIN_LEASE:g}, not {text!r}")
    return value


def lease_age(container: docker.models.containers.Container) -> float | None:
    """Seconds since the container's lease was last renewed (None: not on this host or no lease)."""
    root = container.labels.get("dsgym.root")
    if not root:
        return None
    try:
        return max(0.0, time.time() - (Path(root) / "lease" / "lease").stat().st_mtime)
    except OSError:
        return None


def _ensure_renewer() -> None:
    global _renewer
    with _renewer_lock:
        if _renewer is None or not _renewer.is_alive():
            _renewer = threading.Thread(target=_renew_leases, name="dsgym-lease", daemon=True)
            _renewer.start()
    _renew_now.set()  # a new sandbox may hold a shorter lease than the renewer is sleeping for


_renew_now = threading.Event()


def _renew_leases() -> None:
    """Touch the lease file of every live sandbox, four times per lease.

    A thread of its own, so a long busy cell (or a slow model call) never lets a lease lapse;
    it dies with the process, which is the point.
    """
    while True:
        interval = DEFAULT_LEASE / 4
        for sandbox in list(_live):
            if sandbox.lease_file is not None:
                try:
                    os.utime(sandbox.lease_file)
                except OSError:
                    pass  # closed meanwhile
            interval = min(interval, sandbox.lease_seconds / 4)
        _renew_now.wait(interval)
        _renew_now.clear()


def _remove_root(root: str | None) -> None:
    if root and Path(root).name.startswith("dsgym-"):
        shutil.rmtree(root, ignore_errors=True)


def _sweep_roots() -> None:
    """Delete sandbox folders in the temp dir whose owner is gone (their container removed itself)."""
    base = Path(os.environ.get("DSGYM_TMPDIR") or tempfile.gettempdir())
    try:
        candidates = list(base.glob("dsgym-*/owner.json"))
    except OSError:
        return
    for marker in candidates:
        try:
            info = json.loads(marker.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(info, dict) and _owner_gone(str(info.get("owner", "")), info.get("pidns")):
            _remove_root(str(marker.parent))


def list_containers(owned_by: int | None = None) -> list:
    """Labelled containers (of one process, with ``owned_by``), running or not."""
    labels = [LABEL] if owned_by is None else [LABEL, f"dsgym.owner={owner(owned_by)}"]
    # ignore_removed: a container removed between the listing and its inspection is simply gone
    return client().containers.list(all=True, filters={"label": labels}, ignore_removed=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def close_all(exiting: bool = False) -> None:
    """Remove every container this process still holds (and, at exit, any still being created)."""
    if exiting:
        _exiting.set()
    for sandbox in list(_live):
        try:
            sandbox.close()
        except Exception:  # noqa: BLE001 - best effort, keep closing the others
            pass


_atexit_registered = False
_signals_installed = False


def install_exit_handlers() -> None:
    """Remove our containers on normal exit and on SIGTERM/SIGHUP (SIGKILL needs ``prune``).

    Signal handlers can only be set from the main thread, so a call from a worker
    thread (a pool filler) registers atexit only and a later main-thread call adds them.
    """
    global _atexit_registered, _signals_installed
    if not _atexit_registered:
        _atexit_registered = True
        atexit.register(close_all, exiting=True)
    if _signals_installed or threading.current_thread() is not threading.main_thread():
        return
    _signals_installed = True
    for sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) in (signal.SIG_DFL, None):
            signal.signal(sig, _exit_on_signal)


def _exit_on_signal(signum, frame) -> None:
    close_all(exiting=True)
    raise SystemExit(128 + signum)


def build(spec: SandboxSpec) -> Callable[[], DockerSandbox]:
    """The ``docker`` sandbox kind (``dsgym.sandbox.spec``): one locked-down container per sandbox."""
    from dsgym.sandbox import spec as kinds

    install_exit_handlers()  # from the caller's (usually the main) thread, for SIGTERM
    kinds.on_close_all("docker", close_all, forced=remove_own)
    return functools.partial(DockerSandbox, image=spec.image, limits=spec.limits)
