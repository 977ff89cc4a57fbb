"""Threat: code in the sandbox reaches a network (TCP, UDP, raw sockets, DNS).

Nothing here sends a packet towards an address outside this machine: every target is a
server the test itself starts on the host's loopback or on the host's own docker0
address, and every probe first checks the sandbox has no interface but ``lo``.
"""

from __future__ import annotations

import socket
import struct
import threading

import pytest

from tests.security.probe import assert_offline, cell_json, host_addresses, host_servers

pytestmark = pytest.mark.docker


def test_tcp_to_servers_on_the_host_is_refused(make_env):
    env = make_env("secret-test/sum-y", cell_timeout=30)
    env.reset(seed=0)
    assert_offline(env)
    with host_servers(socket.SOCK_STREAM) as servers:
        targets = [server.getsockname() for server in servers]
        for server, target in zip(servers, targets):  # the servers work: the host can connect
            with socket.create_connection(target, timeout=2):
                pass
            accepted, _ = server.accept()
            accepted.close()
            server.setblocking(False)

        code = (
            "import socket, time\n"
            "results = []\n"
            f"for host, port in {[tuple(t) for t in targets]!r}:\n"
            "    t0 = time.monotonic()\n"
            "    try:\n"
            "        socket.create_connection((host, port), timeout=5).close()\n"
            "        outcome = 'connected'\n"
            "    except OSError as exc:\n"
            "        outcome = f'{type(exc).__name__}: {exc}'\n"
            "    results.append([host, port, outcome, time.monotonic() - t0])\n"
            "emit(results)\n"
        )
        results, obs, _ = cell_json(env, code)
        assert len(results) == len(targets), obs
        for host, port, outcome, elapsed in results:
            assert outcome != "connected", f"{host}:{port} was reachable from inside the sandbox"
            assert "Error" in outcome, outcome
            assert elapsed < 2.0, f"{host}:{port} took {elapsed:.1f} s to fail ({outcome}): not a fast refusal"
        for server in servers:  # and nothing got through to the host's servers
            with pytest.raises(BlockingIOError):
                server.accept()


def test_udp_to_servers_on_the_host_never_arrives(make_env):
    env = make_env("secret-test/sum-y", cell_timeout=30)
    env.reset(seed=0)
    assert_offline(env)
    with host_servers(socket.SOCK_DGRAM) as servers:
        targets = [server.getsockname() for server in servers]
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:  # the servers work
            for server, target in zip(servers, targets):
                sender.sendto(b"host-check", target)
                server.settimeout(2)
                assert server.recvfrom(100)[0] == b"host-check"
        code = (
            "import socket\n"
            "results = []\n"
            f"for host, port in {[tuple(t) for t in targets]!r}:\n"
            "    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:\n"
            "        try:\n"
            "            for _ in range(5):\n"
            "                sock.sendto(b'from-the-sandbox', (host, port))\n"
            "            outcome = 'sent'\n"
            "        except OSError as exc:\n"
            "            outcome = f'{type(exc).__name__}: {exc}'\n"
            "    results.append([host, outcome])\n"
            "emit(results)\n"
        )
        results, _obs, _ = cell_json(env, code)
        outcomes = dict(results)
        for address, outcome in outcomes.items():
            if address != "127.0.0.1":  # no route at all to the host's bridge address
                assert "Network is unreachable" in outcome, outcome
            # (127.0.0.1 is the sandbox's own loopback: the send "works" and lands nowhere.)
        for server in servers:  # what matters: nothing reached the host
            server.settimeout(0.5)
            with pytest.raises(socket.timeout):
                server.recvfrom(100)


def test_raw_and_packet_sockets_are_refused(make_env):
    env = make_env("secret-test/sum-y", cell_timeout=30)
    env.reset(seed=0)
    code = (
        "import socket, shutil\n"
        "out = {}\n"
        "for label, args in [('raw_icmp', (socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)),\n"
        "                    ('raw_udp', (socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_UDP)),\n"
        "                    ('packet', (socket.AF_PACKET, socket.SOCK_RAW, 0x0300)),\n"
        "                    ('icmp_dgram', (socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP))]:\n"
        "    try:\n"
        "        socket.socket(*args).close()\n"
        "        out[label] = 'created'\n"
        "    except OSError as exc:\n"
        "        out[label] = f'{type(exc).__name__}: {exc}'\n"
        "out['ping'] = shutil.which('ping')\n"
        "emit(out)\n"
    )
    out, _obs, _ = cell_json(env, code)
    for label in ("raw_icmp", "raw_udp", "packet"):
        assert out[label].startswith("PermissionError"), f"{label}: {out[label]}"
    # Unprivileged ICMP datagram sockets depend on a sysctl; with no interface they reach nothing anyway.
    assert out["ping"] is None


class DnsResponder:
    """A tiny UDP "DNS server" on a host address: answers any query with a fixed A record."""

    def __init__(self, address: str):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((address, 0))
        self.sock.settimeout(0.1)
        self.queries: list[bytes] = []
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def address(self) -> tuple[str, int]:
        return self.sock.getsockname()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                query, peer = self.sock.recvfrom(512)
            except (TimeoutError, OSError):
                continue
            self.queries.append(query)
            header = query[:2] + b"\x81\x80" + b"\x00\x01\x00\x01\x00\x00\x00\x00"
            answer = b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04" + socket.inet_aton("10.9.8.7")
            self.sock.sendto(header + query[12:] + answer, peer)

    def close(self) -> None:
        self._stop.set()
        self.thread.join()
        self.sock.close()


def dns_query(name: str) -> bytes:
    labels = b"".join(bytes([len(part)]) + part.encode() for part in name.split("."))
    return struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0) + labels + b"\x00\x00\x01\x00\x01"


def test_dns_reaches_no_resolver(make_env):
    env = make_env("secret-test/sum-y", cell_timeout=30)
    env.reset(seed=0)
    assert_offline(env)
    responders = [DnsResponder(address) for address in host_addresses()]
    try:
        name = "dsgym-probe.invalid"
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:  # the responders work
            client.settimeout(2)
            for responder in responders:
                client.sendto(dns_query(name), responder.address)
                assert client.recvfrom(512)[0].endswith(socket.inet_aton("10.9.8.7"))
        seen_by_host = sum(len(r.queries) for r in responders)
        code = (
            "import socket, time\n"
            "out = {}\n"
            "t0 = time.monotonic()\n"
            "try:\n"
            f"    out['getaddrinfo'] = repr(socket.getaddrinfo({name!r}, 80))\n"
            "except OSError as exc:\n"
            "    out['getaddrinfo'] = f'{type(exc).__name__}: {exc}'\n"
            "out['elapsed'] = time.monotonic() - t0\n"
            "out['direct'] = []\n"
            f"for host, port in {[tuple(r.address) for r in responders]!r}:\n"
            "    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:\n"
            "        sock.settimeout(1)\n"
            "        try:\n"
            f"            sock.sendto({dns_query(name)!r}, (host, port))\n"
            "            out['direct'].append([host, 'answered: ' + repr(sock.recvfrom(512)[0])])\n"
            "        except OSError as exc:\n"
            "            out['direct'].append([host, f'{type(exc).__name__}: {exc}'])\n"
            "emit(out)\n"
        )
        out, _obs, _ = cell_json(env, code)
        assert out["getaddrinfo"].startswith("gaierror"), out
        assert out["elapsed"] < 5, f"name resolution took {out['elapsed']:.1f} s to fail"
        for host, outcome in out["direct"]:
            assert not outcome.startswith("answered"), f"the DNS responder on {host} answered the sandbox"
        assert sum(len(r.queries) for r in responders) == seen_by_host, "a query from the sandbox reached the host"
    finally:
        for responder in responders:
            responder.close()
