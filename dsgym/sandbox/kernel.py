"""Talking to a sandboxed ipykernel over the Jupyter wire protocol.

The kernel listens on ``ipc`` (unix socket) endpoints in a directory shared with
the host, so the container needs no network at all.  ``kernel_launcher.py``
restarts a kernel that dies and records each start in ``state.json``; this
module reads that file to tell a dead kernel from a slow one.

The host never follows a link the sandbox planted: the kernel folder is opened
component by component without following symbolic links past the container's root
(``open_folder``), and each socket is opened as it is (``O_PATH | O_NOFOLLOW``),
checked to be a socket, and connected to through that descriptor (a private host
folder of links to ``/proc/<host pid>/fd/<n>``), so a symlink to a host-only socket
(``/var/run/docker.sock``, say) is refused, and a socket swapped in after the check
is never used.

Everything the host reads from the sandbox may be forged by the agent's code: it
runs in the kernel process that owns the sockets, and the connection key is
readable inside.  So a message that does not deserialise, fails its signature or
lacks a field the host reads is skipped (and counted in the cell's stderr), and
``state.json`` is only believed when it has the launcher's exact shape: nothing
the sandbox sends can raise on the host.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import secrets
import shutil
import socket
import stat
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from queue import Empty

import zmq
from jupyter_client import BlockingKernelClient

from dsgym.sandbox.base import CappedText, ExecutionResult, ImageSink, KernelError, SandboxBroken, SandboxError

IPC_PORTS = {"shell_port": 1, "iopub_port": 2, "stdin_port": 3, "control_port": 4, "hb_port": 5}
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
INTERRUPT_GRACE = 3.0  # seconds a cell gets to stop after an interrupt before the kernel is killed
POLL = 0.05
STATE_MAX_BYTES = 64 << 10  # state.json is a few dozen bytes; anything bigger is not ours
KEPT_IMAGES = 10  # PNGs kept in a result when no image sink takes them as they arrive


def write_connection_file(conn_dir: Path, inside_dir: str) -> dict:
    """Write ``kernel.json`` as the kernel sees it (readable by its owner only); return the same
    endpoints as the host sees them."""
    key = secrets.token_hex(32)
    common = {**IPC_PORTS, "transport": "ipc", "signature_scheme": "hmac-sha256", "key": key}
    fd = os.open(conn_dir / "kernel.json", os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(json.dumps({**common, "ip": f"{inside_dir}/k"}))
    return {**common, "ip": str(conn_dir / "k")}


def open_folder(path: Path) -> int:
    """An ``O_PATH`` descriptor of the folder ``path``, never following a link inside a container.

    In ``/proc/<pid>/root/...`` the magic ``root`` link is the container's root (that is
    the point); every component after it is opened with ``O_NOFOLLOW``: an absolute
    link there would resolve against the host's root, not the container's.
    """
    parts = path.parts
    inside = len(parts) > 4 and parts[:2] == ("/", "proc") and parts[3] == "root"
    fd = os.open(Path(*parts[:4]) if inside else path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    for name in parts[4:] if inside else ():
        try:
            inner = os.open(name, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
        finally:
            os.close(fd)
        fd = inner
    return fd


@dataclass
class SentCell:
    """A cell sent to the kernel, and what ``KernelSession.collect`` needs to wait for its end."""

    client: BlockingKernelClient
    msg_id: str
    result: ExecutionResult
    start: float
    deadline: float
    output_cap: int
    on_image: ImageSink | None
    ignored_before: int


MAX_PINS_PARENT = 70  # + "/dsgym-k-XXXXXXXX/<ip name>-<port>" stays under the 107-byte unix socket path limit


class KernelSession:
    """One host-side client of the kernel in a sandbox.

    ``is_up`` says whether the sandbox itself (container or launcher process) is
    still there; ``kill_kernel`` makes the launcher kill the kernel so that it
    starts a fresh one.
    """

    def __init__(self, conn_dir: Path, connection: dict, is_up: Callable[[], bool],
                 kill_kernel: Callable[[], None], pins_parent: Path | None = None):
        self.conn_dir = conn_dir
        self.connection = connection
        self.is_up = is_up
        self.kill_kernel = kill_kernel
        self.generation = 0
        self.restarts = 0
        self.ignored = 0  # malformed messages skipped (see _read)
        self.client: BlockingKernelClient | None = None
        self._pins: Path | None = None  # host folder (0700) of links to the pinned socket descriptors
        self._pins_parent = pins_parent  # the sandbox's own host folder, so its removal (or prune) takes them
        self._pinned: dict[str, int] = {}  # socket file name -> O_PATH descriptor

    # -- lifecycle -------------------------------------------------------------------------------

    def state(self) -> dict:
        """The launcher's ``state.json``, read defensively.

        The connection directory is writable from inside the sandbox, so the file may have
        been replaced by a symlink (to ``/dev/zero``, a host file), a FIFO or a huge file:
        never follow links, never block, read a bounded amount, accept only a JSON object.
        """
        try:
            folder = open_folder(self.conn_dir)
        except OSError:
            return {}
        try:
            fd = os.open("state.json", os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=folder)
        except OSError:
            return {}
        finally:
            os.close(folder)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return {}
            data = os.read(fd, STATE_MAX_BYTES + 1)
        except OSError:
            return {}
        finally:
            os.close(fd)
        if len(data) > STATE_MAX_BYTES:
            return {}
        try:
            state = json.loads(data)
        except ValueError:
            return {}
        return state if well_formed_state(state) else {}

    def _connect(self, deadline: float) -> BlockingKernelClient:
        if self.client is not None:
            self.client.stop_channels()
            self.client = None
        # The process's shared context: a client with its own context destroys it when garbage-collected,
        # and that term() can block forever in whichever thread the collector happens to run.
        client = BlockingKernelClient(context=zmq.Context.instance())
        client.load_connection_info(self._pin_sockets(deadline))
        client.start_channels()
        self.client = client
        return client

    def _pin_sockets(self, deadline: float) -> dict:
        """The connection with each endpoint pinned: the kernel's socket files, opened without
        following links and checked to be sockets, reached through this process's descriptors.

        Waits (until ``deadline``) for a starting kernel to create its sockets; anything else
        at their place (a symlink, a file) was put there by code in the sandbox.
        """
        self._unpin()
        names = {port: f"{Path(self.connection['ip']).name}-{self.connection[port]}" for port in IPC_PORTS}
        while True:
            try:
                folder = open_folder(self.conn_dir)
            except OSError as exc:
                raise SandboxError(f"the kernel folder cannot be opened: {exc.strerror}") from exc
            try:
                missing = [name for name in names.values() if not self._pin(folder, name)]
            finally:
                os.close(folder)
            if not missing:
                break
            self._unpin()
            self._check_deadline(deadline, f"the kernel did not create its socket(s) {', '.join(missing)}")
            time.sleep(POLL)
        parent = self._pins_parent
        if parent is not None and len(str(parent)) > MAX_PINS_PARENT:
            parent = None  # a unix socket path holds at most 107 bytes: fall back to the (short) temp folder
        self._pins = Path(tempfile.mkdtemp(prefix="dsgym-k-", dir=parent))
        for name, fd in self._pinned.items():
            (self._pins / name).symlink_to(f"/proc/{os.getpid()}/fd/{fd}")
        return {**self.connection, "ip": str(self._pins / Path(self.connection["ip"]).name)}

    def _pin(self, folder: int, name: str) -> bool:
        """Pin the socket file ``name``; False while it is absent or a dead kernel's (not listening)."""
        try:
            fd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=folder)
        except FileNotFoundError:
            return False
        self._pinned[name] = fd
        mode = os.fstat(fd).st_mode
        if not stat.S_ISSOCK(mode):
            what = "a symbolic link" if stat.S_ISLNK(mode) else "not a socket"
            raise SandboxBroken(f"the kernel socket {name} is {what}: code in the sandbox replaced it")
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            try:
                probe.connect(f"/proc/{os.getpid()}/fd/{fd}")
            except ConnectionRefusedError:  # left behind by a kernel that died; its successor is starting
                return False
            except OSError:
                pass  # a socket of another type: let the kernel client find out
        return True

    def _pins_stale(self) -> bool:
        """Whether a socket file now at a pinned name is another one than the pinned descriptor holds."""
        try:
            folder = open_folder(self.conn_dir)
        except OSError:
            return False
        try:
            for name, fd in self._pinned.items():
                try:
                    now = os.stat(name, dir_fd=folder, follow_symlinks=False)
                except FileNotFoundError:
                    continue
                pinned = os.fstat(fd)
                if (now.st_dev, now.st_ino) != (pinned.st_dev, pinned.st_ino):
                    return True
            return False
        finally:
            os.close(folder)

    def _unpin(self) -> None:
        for fd in self._pinned.values():
            os.close(fd)
        self._pinned = {}
        if self._pins is not None:
            shutil.rmtree(self._pins, ignore_errors=True)
            self._pins = None

    def wait_ready(self, timeout: float) -> None:
        """Block until a live kernel answers on shell and iopub (or raise SandboxError)."""
        deadline = time.monotonic() + timeout
        while True:
            state = self.state()
            if state.get("alive"):
                break
            self._check_deadline(deadline, "the kernel did not start")
            time.sleep(0.01)
        client = self._connect(deadline)
        self.generation = state["generation"]
        while True:
            msg_id = client.kernel_info()
            reply = self._await_reply(client, msg_id, min(1.0, max(deadline - time.monotonic(), 0.05)))
            if reply is not None and self._iopub_connected(client):
                return
            self._check_deadline(deadline, "the kernel did not answer")
            if self.state().get("generation") != self.generation or not self.state().get("alive"):
                return self.wait_ready(max(deadline - time.monotonic(), 0.1))
            if self._pins_stale():  # pinned a dead kernel's socket files before the new one replaced them
                client = self._connect(deadline)

    def _check_deadline(self, deadline: float, what: str) -> None:
        if not self.is_up():
            raise SandboxError(f"the sandbox stopped while starting: {what}")
        if time.monotonic() > deadline:
            raise SandboxError(f"{what} in time; see the sandbox logs")

    def _await_reply(self, client: BlockingKernelClient, msg_id: str, timeout: float) -> dict | None:
        end = time.monotonic() + timeout
        while (left := end - time.monotonic()) > 0:
            msg = self._read(client.shell_channel.get_msg, left)
            if msg is not None and msg["parent_header"].get("msg_id") == msg_id:
                return msg
        return None

    def _read(self, get: Callable[..., dict], timeout: float) -> dict | None:
        """The next well-formed message from ``get`` (a channel's own ``get_msg``: the client's ``get_*_msg``
        wrappers run an asyncio loop per call, a third of a vector step's host time) within ``timeout``, else None.

        Frames that do not deserialise or verify, and messages without the dict-shaped
        header, parent header and content the host reads, are skipped and counted in
        ``ignored``: they come from the sandbox and must never raise here.
        """
        end = time.monotonic() + timeout
        while True:
            try:
                msg = get(timeout=max(end - time.monotonic(), 0))
            except Empty:
                return None
            except zmq.ZMQError:
                raise  # the host's own socket failed: not the sandbox's doing
            except Exception:  # noqa: BLE001 - bad signature, bad JSON, missing header fields ...
                msg = None
            if well_formed_message(msg):
                return msg
            self.ignored += 1
            if time.monotonic() >= end:
                return None

    def _iopub_connected(self, client: BlockingKernelClient) -> bool:
        # kernel_info makes the kernel publish busy/idle; seeing any iopub message proves the
        # subscription is live, so no output of the first cell can be lost.
        if self._read(client.iopub_channel.get_msg, 0.5) is None:
            return False
        deadline = time.monotonic() + 5.0  # a kernel that floods iopub must not keep us here
        while self._read(client.iopub_channel.get_msg, 0.01) is not None and time.monotonic() < deadline:
            pass
        return True

    def close(self) -> None:
        if self.client is not None:
            self.client.stop_channels()
            self.client = None
        self._unpin()

    # -- execution -------------------------------------------------------------------------------

    def execute(self, code: str, timeout: float, output_cap: int = 1_000_000,
                on_image: ImageSink | None = None) -> ExecutionResult:
        """Run one cell.  Timeouts interrupt the kernel; a dead kernel is replaced, not raised.

        Text output is capped at ``output_cap`` characters per stream (displays together);
        each PNG goes to ``on_image`` as it arrives, else up to ``KEPT_IMAGES`` are kept.
        """
        return self.collect(self.send(code, timeout, output_cap, on_image))

    def send(self, code: str, timeout: float, output_cap: int = 1_000_000,
             on_image: ImageSink | None = None) -> SentCell:
        """Send one cell to the kernel and return at once; ``collect`` waits for its end.  Its time
        limit counts from now, so cells sent to several kernels one after another run together."""
        if self.client is None:
            raise SandboxError("the kernel is not started")
        client = self.client
        result = ExecutionResult(stdout=CappedText(output_cap), stderr=CappedText(output_cap))
        start = time.monotonic()
        msg_id = client.execute(code, store_history=True, allow_stdin=False, stop_on_error=False)
        return SentCell(client, msg_id, result, start, start + timeout, output_cap, on_image, self.ignored)

    def collect(self, cell: SentCell) -> ExecutionResult:
        """Wait for the end of a cell ``send`` sent: its output, within its time limit."""
        client, msg_id, result, start, deadline = cell.client, cell.msg_id, cell.result, cell.start, cell.deadline
        output_cap, on_image, ignored_before = cell.output_cap, cell.on_image, cell.ignored_before
        interrupted_at: float | None = None
        last_check = start
        while True:
            # Limits are checked on every message, not only when the kernel is quiet:
            # a cell that prints without pause must still time out.
            now = time.monotonic()
            if interrupted_at is None and now > deadline:
                result.timed_out = True
                interrupted_at = now
                client.control_channel.send(client.session.msg("interrupt_request", {}))
            elif interrupted_at is not None and now > interrupted_at + INTERRUPT_GRACE:
                self.kill_kernel()
                interrupted_at = float("inf")  # now wait for the launcher to replace it
            if now - last_check > 0.25:
                last_check = now
                if self._kernel_gone(result):
                    break
            msg = self._read(client.iopub_channel.get_msg, POLL)
            if msg is None:
                continue
            if msg["parent_header"].get("msg_id") == msg_id and self._handle(msg, result, output_cap, on_image):
                break
        self._drain_shell(client)
        if result.kernel_died:
            self._recover(result)
        if skipped := self.ignored - ignored_before:
            result.stderr.add(f"\n[dsgym] {skipped} malformed kernel message(s) ignored\n")
        result.duration = time.monotonic() - start
        return result

    def _kernel_gone(self, result: ExecutionResult) -> bool:
        # The container first: one removed from outside never updates state.json.
        if not self.is_up():
            raise SandboxError("the sandbox stopped while running a cell (killed from outside?)")
        state = self.state()
        if not state:  # unreadable (sandbox code may forge it): no evidence that the kernel died
            return False
        if state.get("generation") == self.generation and state.get("alive"):
            return False
        result.kernel_died = True
        result.exit_code = state.get("last_exit")
        return True

    def _recover(self, result: ExecutionResult) -> None:
        self.restarts += 1
        result.kernel_restarted = True
        self.wait_ready(timeout=60)

    def _handle(self, msg: dict, result: ExecutionResult, output_cap: int, on_image: ImageSink | None) -> bool:
        """Fold one iopub message into ``result``; True when the cell is over.  Fields of the wrong
        type make the message ignored (counted), never an exception."""
        kind, content = msg["msg_type"], msg["content"]
        if kind == "stream":
            name, text = content.get("name"), content.get("text")
            if not isinstance(text, str):
                self.ignored += 1
                return False
            (result.stdout if name == "stdout" else result.stderr).add(text)
        elif kind in ("execute_result", "display_data"):
            data = content.get("data")
            data = data if isinstance(data, dict) else {}
            png, text = data.get("image/png"), data.get("text/plain")
            if png is not None:
                try:
                    image = base64.b64decode(png, validate=True)
                except (TypeError, ValueError, binascii.Error):
                    self.ignored += 1
                    return False
                if on_image is not None:  # streamed on (to disk), never collected here
                    on_image(image)
                elif len(result.images) < KEPT_IMAGES:
                    result.images.append(image)
                else:
                    result.images_dropped += 1
                text = None
            elif not isinstance(text, str):
                text = None
            if kind == "execute_result":
                result.result = None if text is None else text[:output_cap]
            elif text is not None:
                result.add_display(text, output_cap)
        elif kind == "error":
            trace = content.get("traceback")
            lines = [line for line in trace if isinstance(line, str)] if isinstance(trace, list) else []
            result.error = KernelError(_text(content.get("ename")), _text(content.get("evalue")),
                                       ANSI.sub("", "\n".join(lines)))
        elif kind == "status" and content.get("execution_state") == "idle":
            return True
        return False

    def _drain_shell(self, client: BlockingKernelClient) -> None:
        deadline = time.monotonic() + 1.0  # a flood on the shell socket must not keep us here
        while self._read(client.shell_channel.get_msg, 0) is not None and time.monotonic() < deadline:
            pass


def well_formed_message(msg: object) -> bool:
    """Whether ``msg`` has what the host reads: dict header, parent header and content, a text type."""
    return (isinstance(msg, dict) and isinstance(msg.get("msg_type"), str)
            and all(isinstance(msg.get(part), dict) for part in ("header", "parent_header", "content")))


def well_formed_state(state: object) -> bool:
    """Whether ``state`` has the shape ``kernel_launcher.write_state`` gives it."""
    return (isinstance(state, dict) and type(state.get("generation")) is int and type(state.get("alive")) is bool
            and (state.get("last_exit") is None or type(state.get("last_exit")) is int))


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""

