"""Helpers for the adversarial tests: run a probe cell and read back one JSON value, watch host RSS."""

from __future__ import annotations

import fcntl
import json
import socket
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from tests.support.helpers import python

MARK = "@@json "


def cell_json(env, code: str) -> tuple[object, str, dict]:
    """Run ``code`` (which must ``emit(...)`` one value) and return that value, the observation, info."""
    prelude = f"import json as _json\ndef emit(value):\n    print({MARK!r} + _json.dumps(value), flush=True)\n"
    obs, _reward, terminated, truncated, info = env.step(python(prelude + code))
    assert not (terminated or truncated), obs
    lines = [line[len(MARK):] for line in obs.splitlines() if line.startswith(MARK)]
    assert len(lines) == 1, f"the cell did not emit exactly one result:\n{obs}"
    return json.loads(lines[0]), obs, info


def hidden(text: str) -> str:
    """A Python expression that evaluates to ``text`` without holding it verbatim (it travels reversed)."""
    return f"{text[::-1]!r}[::-1]"


def interface_ipv4(name: str) -> str | None:
    """The IPv4 address of a host interface (SIOCGIFADDR), or None if there is none."""
    if name not in {iface for _, iface in socket.if_nameindex()}:
        return None
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            packed = fcntl.ioctl(probe.fileno(), 0x8915, struct.pack("256s", name.encode()[:15]))
        except OSError:
            return None
    return socket.inet_ntoa(packed[20:24])


def host_addresses() -> list[str]:
    """Addresses of this machine only: loopback and, if present, the docker0 bridge."""
    addresses = ["127.0.0.1"]
    bridge = interface_ipv4("docker0")
    if bridge:
        addresses.append(bridge)
    return addresses


@contextmanager
def host_servers(kind: int) -> Iterator[list[socket.socket]]:
    """One server socket of ``kind`` (SOCK_STREAM listens) on each host address, closed afterwards."""
    servers: list[socket.socket] = []
    try:
        for address in host_addresses():
            server = socket.socket(socket.AF_INET, kind)
            servers.append(server)
            server.bind((address, 0))
            if kind == socket.SOCK_STREAM:
                server.listen(16)
        yield servers
    finally:
        for server in servers:
            server.close()


def assert_offline(env) -> None:
    """Precondition for any probe that sends packets: the sandbox has no interface but loopback.

    Checked before every network probe so that, even if isolation regressed, no test ever
    sends a packet towards an address outside this machine.
    """
    sandbox = env.unwrapped.sandbox
    if is_docker(sandbox):
        sandbox.container.reload()
        assert sandbox.container.attrs["HostConfig"]["NetworkMode"] == "none"
    else:  # a network namespace of its own
        import os

        assert os.readlink(f"/proc/{sandbox.pid}/ns/net") != os.readlink("/proc/self/ns/net")
    interfaces, obs, _ = cell_json(env, "emit(sorted(l.split(':')[0].strip() for l in open('/proc/net/dev').readlines()[2:]))")
    assert interfaces == ["lo"], obs


def rss_mb() -> int:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) // 1024
    return 0


class RssWatch:
    """Samples this process's RSS in a thread; ``peak`` is the highest value seen, in MB."""

    def __init__(self, interval: float = 0.02):
        self.interval = interval
        self.start = rss_mb()
        self.peak = self.start
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mb())
            time.sleep(self.interval)

    def __enter__(self) -> RssWatch:  # noqa: PYI034
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mb())

    @property
    def growth(self) -> int:
        return self.peak - self.start


def is_docker(sandbox) -> bool:
    return hasattr(sandbox, "container")


def sandbox_id(sandbox) -> str:
    """What names one sandbox: its container's id, or its bwrap process's pid and folder."""
    return sandbox.container.id if is_docker(sandbox) else f"{sandbox.proc.pid}:{sandbox.root}"


def kill_from_outside(sandbox, signal: str = "SIGKILL") -> None:
    """Kill the sandbox the way its host could: through the daemon, or a signal to the bwrap process."""
    if is_docker(sandbox):
        sandbox.container.kill(signal=signal)
    else:
        import signal as signals

        sandbox.proc.send_signal(getattr(signals, signal))
        sandbox.proc.wait(timeout=10)  # like `docker kill`: over when the call returns


def sandbox_gone(sandbox) -> bool:
    """Whether nothing of the sandbox is left: container removed, or bwrap process, folder and cgroup gone."""
    if is_docker(sandbox):
        import docker.errors

        from dsgym.sandbox.docker import client

        try:
            client().containers.get(sandbox.container.id)
        except docker.errors.NotFound:
            return True
        return False
    import os

    # a sandbox killed from outside leaves its PID 1 to the host's init, which reaps it in its own time
    deadline = time.monotonic() + 10
    while os.path.exists(f"/proc/{sandbox.pid}") and time.monotonic() < deadline:
        time.sleep(0.05)
    return (sandbox.proc.poll() is not None and not os.path.exists(f"/proc/{sandbox.pid}")
            and not sandbox.root.exists() and not any(f.exists() for f in sandbox.cgroup.folders.values()))


def kind_cannot(kind: str, kinds: tuple[str, ...], reason: str) -> None:
    """Mark the running test an expected failure for ``kinds`` with why that kind cannot give the protection."""
    if kind in kinds:
        import pytest

        pytest.xfail(reason)
