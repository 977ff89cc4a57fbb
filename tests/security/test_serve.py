"""Threat: a web page drives a dsgym server on loopback.

Red team: any page the user opened could open a WebSocket to ``dsgym serve`` on
127.0.0.1 (``Origin: https://evil.example`` was accepted: run code in sandboxes, read
the data, use the score as an oracle), and two ``text/plain`` POSTs (a form needs no
CORS preflight) took every session slot.  With DNS rebinding a page can also read
the answers.  ``dsgym serve`` must require a token by default (made and printed at
start), refuse foreign ``Origin``/``Host`` and ``Sec-Fetch-Site: cross-site``, serve
only its documented endpoints, and ``dsgym view --serve`` must refuse the same pages.

Everything here talks to servers this test starts on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import threading

import pytest

from tests.support.integrations import require

require("openenv")  # runs in .venv-openenv (tests/test_integrations.py)

from websockets.asyncio.client import connect as ws_connect  # noqa: E402
from websockets.exceptions import InvalidStatus

from dsgym.rl.openenv_client import DSGymAction
from dsgym.view.serve import make_server
from tests.support.helpers import owned_containers
from tests.test_rl_openenv import TASK, serve

EVIL = "https://evil.example"
UPGRADE = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
           "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}  # a raw WebSocket handshake, its Host set by hand


def ws_status(url: str, headers: dict[str, str] | None = None, origin: str | None = None) -> int:
    """The HTTP status of a WebSocket handshake to ``/ws`` (101 when accepted), after one reset if accepted."""
    async def attempt() -> int:
        try:
            async with ws_connect(url.replace("http", "ws") + "/ws", additional_headers=headers,
                                  origin=origin, proxy=None, open_timeout=10) as ws:
                await ws.send(json.dumps({"type": "reset", "data": {"task_id": TASK}}))
                reply = json.loads(await asyncio.wait_for(ws.recv(), 60))
                assert reply.get("type") != "error", reply
                return 101
        except InvalidStatus as exc:
            return exc.response.status_code
    return asyncio.run(attempt())


def request(url: str, method: str, path: str, headers: dict[str, str], body: bytes | None = None) -> int:
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers)
        return conn.getresponse().status
    finally:
        conn.close()


@pytest.mark.docker
def test_web_pages_cannot_drive_dsgym_serve(docker_image):
    with serve("--pool-size", "0", "--max-sessions", "1") as server:
        url, auth = server.url, {"Authorization": f"Bearer {server.token}"}
        port = url.rsplit(":", 1)[1]
        # a page's WebSocket: it has no token, and even with one its Origin is refused
        assert ws_status(url, origin=EVIL) == 403
        assert ws_status(url, headers=auth, origin=EVIL) == 403
        assert ws_status(url, headers={**auth, "Sec-Fetch-Site": "cross-site"}) == 403
        # DNS rebinding: evil.example resolved to 127.0.0.1, so the browser sends its name as Host
        assert request(url, "GET", "/ws", {**auth, **UPGRADE, "Host": f"evil.example:{port}"}) == 403
        assert request(url, "GET", "/ws", {**auth, **UPGRADE}) == 101  # the same handshake from this machine
        assert request(url, "GET", "/schema", {**auth, "Host": f"evil.example:{port}"}) == 403
        # form POSTs (text/plain, no preflight) take no session slot: nothing is served by POST
        for path in ("/mcp", "/ws", "/reset", "/"):
            status = request(url, "POST", path, {"Content-Type": "text/plain", "Origin": EVIL},
                             b'{"jsonrpc": "2.0", "method": "tools/list", "id": 1}')
            assert status in (401, 403, 405), (path, status)
            assert request(url, "POST", path, {**auth, "Content-Type": "text/plain"}, b"{}") == 405
        assert not owned_containers(server.pid)
        # only the documented endpoints exist
        for path in ("/mcp", "/openapi.json", "/docs", "/reset", "/step", "/state"):
            assert request(url, "GET", path, auth) == 404, path
        assert request(url, "GET", "/health", {}) == 200  # open, says nothing
        assert request(url, "GET", "/schema", {}) == 401
        assert request(url, "GET", "/schema", auth) == 200
        assert request(url, "GET", "/schema", {**auth, "Origin": f"http://127.0.0.1:{port}"}) == 200
        # the trainer with the printed token still gets the one session slot
        with server.client().sync() as client:
            assert client.reset(task_id=TASK).observation.task_id == TASK
            ran = client.step(DSGymAction(tool="run_python", code="print(6 * 7)"))
            assert ran.observation.text.strip() == "42"


@pytest.mark.docker
def test_without_a_token_pages_are_still_refused(docker_image):
    with serve("--pool-size", "0", "--no-token") as server:
        assert ws_status(server.url, origin=EVIL) == 403
        assert ws_status(server.url, origin="null") == 403
        port = server.url.rsplit(":", 1)[1]
        assert request(server.url, "GET", "/schema", {"Host": f"rebound.example:{port}"}) == 403
        assert ws_status(server.url) == 101  # a program on this machine, as asked for


def test_dsgym_view_serve_refuses_rebinding_and_cross_site_requests(tmp_path):
    (tmp_path / "index.html").write_text("<p>run data</p>")
    server = make_server(tmp_path)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    port = server.server_address[1]
    try:
        assert request(url, "GET", "/index.html", {}) == 200
        assert request(url, "GET", "/index.html", {"Host": f"localhost:{port}"}) == 200
        assert request(url, "GET", "/index.html", {"Host": f"evil.example:{port}"}) == 403
        assert request(url, "GET", "/index.html", {"Origin": EVIL}) == 403
        assert request(url, "GET", "/index.html", {"Sec-Fetch-Site": "cross-site"}) == 403
        assert request(url, "HEAD", "/index.html", {"Host": f"evil.example:{port}"}) == 403
    finally:
        server.shutdown()
        server.server_close()
