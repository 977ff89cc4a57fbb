"""``dsgym serve`` under the OpenEnv contract: real server process on loopback, openenv's own clients."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest

from tests.support.integrations import require

require("openenv")  # runs in .venv-openenv (tests/test_integrations.py)

from openenv.core.generic_client import GenericEnvClient  # noqa: E402

import dsgym
from dsgym.rl.openenv_client import DSGymAction, DSGymClient
from tests.support.helpers import owned_containers

pytestmark = pytest.mark.docker
SUITE, TASK = "dsgym-tasks-lite", "iris-kmeans-ari"
MARK = "@@answer@@"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    url: str
    token: str | None  # the one the server printed (or was given); None with --no-token
    process: subprocess.Popen

    @property
    def pid(self) -> int:
        return self.process.pid

    def client(self) -> DSGymClient:
        return DSGymClient(self.url, token=self.token or "")


@contextmanager
def serve(*args: str, token: str | None = None) -> Iterator[Server]:
    """``dsgym serve`` as a subprocess on a free loopback port; stopped (SIGTERM) afterwards.

    Without ``token`` the server makes one and prints it, which is read back here.
    """
    port = free_port()
    env = {**os.environ, "DSGYM_SERVE_TOKEN": token or ""}
    process = subprocess.Popen([sys.executable, "-m", "dsgym.cli", "serve", SUITE, "--port", str(port), *args],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        if token is None and "--no-token" not in args:
            token = printed_token(process)
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/health", timeout=1)
                break
            except (urllib.error.URLError, ConnectionError):
                assert process.poll() is None, process.stdout.read()
                assert time.monotonic() < deadline, "server did not come up"
                time.sleep(0.2)
        yield Server(url, token, process)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    wait_for(lambda: not owned_containers(process.pid), "the stopped server left containers")


def printed_token(process: subprocess.Popen) -> str:
    """The token ``dsgym serve`` printed at start (the line ``token: <token>``)."""
    seen = []
    for line in process.stdout:
        seen.append(line)
        if line.startswith("token: "):
            return line.split()[1]
    raise AssertionError("dsgym serve printed no token:\n" + "".join(seen))


def wait_for(condition, message: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, message
        time.sleep(0.2)


def oracle_code() -> str:
    task = dsgym.get_task(SUITE, TASK)
    return f"{task.solution}\nprint('{MARK}' + str(answer))"


def test_a_client_plays_a_full_episode_and_a_second_one_gets_its_own_sandbox(docker_image):
    with serve("--pool-size", "2") as server:
        with server.client().sync() as first, server.client().sync() as second:
            opened = first.reset(task_id=TASK)
            assert not opened.done and opened.observation.task_id == TASK
            assert "Question:" in opened.observation.text and "run_python" in opened.observation.text
            second.reset(task_id=TASK)

            first.step(DSGymAction(tool="run_python", code="marker = 'first'\n"
                                                           "open('/workspace/mine.txt', 'w').write('first')"))
            seen = second.step(DSGymAction(tool="run_python", code=(
                "import os, socket\nprint('marker' in globals(), os.listdir('/workspace'), socket.gethostname())")))
            assert seen.observation.text.startswith("False []"), seen.observation.text
            mine = first.step(DSGymAction(tool="run_python", code="import socket\nprint(socket.gethostname())"))
            assert mine.observation.text.strip() != seen.observation.text.split()[-1]

            ran = first.step(DSGymAction(tool="run_python", code=oracle_code()))
            answer = ran.observation.text.split(MARK)[1].strip()
            result = first.step(DSGymAction(tool="submit_answer", answer=answer))
            assert result.done and result.reward == 1.0
            assert result.observation.score == 1.0 and result.observation.termination == "answer"
            wrong = second.step(DSGymAction(tool="submit_answer", answer="-1"))
            assert wrong.done and wrong.reward == 0.0
            assert first.state().done and first.state().task_id == TASK

            with pytest.raises(RuntimeError, match="over"):  # the episode is over: an error, not a crash
                first.step(DSGymAction(tool="run_python", code="1"))
            again = first.reset(task_id=TASK)  # the same session plays on
            assert not again.done


def test_a_bad_action_is_refused_with_a_reason(docker_image):
    with serve("--pool-size", "0", "--no-token") as server:  # openenv's own client sends no token
        with GenericEnvClient(server.url).sync() as client:
            client.reset(task_id=TASK)
            with pytest.raises(RuntimeError, match="code"):
                client.step({"tool": "run_python"})
            with pytest.raises(RuntimeError, match="Invalid message|tool"):
                client.step({"tool": "rm -rf"})


def test_with_a_token_unauthenticated_requests_are_refused(docker_image):
    token = "s3cret-token"
    with serve("--pool-size", "0", token=token) as server:
        url = server.url
        with pytest.raises(ConnectionError):
            GenericEnvClient(url).sync().connect()
        with pytest.raises(ConnectionError):
            DSGymClient(url, token="wrong").sync().connect()
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{url}/schema", timeout=5)
        assert refused.value.code == 401
        request = urllib.request.Request(f"{url}/schema", headers={"Authorization": f"Bearer {token}"})
        assert urllib.request.urlopen(request, timeout=5).status == 200
        with DSGymClient(url, token=token).sync() as client:
            assert client.reset(task_id=TASK).observation.task_id == TASK


def test_a_vanished_client_loses_its_sandbox_after_the_idle_timeout(docker_image):
    with serve("--pool-size", "0", "--idle-timeout", "1") as server:
        quiet = server.client().sync()
        quiet.connect()
        quiet.reset(task_id=TASK)
        assert len(owned_containers(server.pid)) == 1
        wait_for(lambda: not owned_containers(server.pid), "the idle session kept its sandbox", timeout=20)

        with server.client().sync() as leaving:  # a client that closes its connection frees it at once
            leaving.reset(task_id=TASK)
            assert len(owned_containers(server.pid)) == 1
        wait_for(lambda: not owned_containers(server.pid), "a closed session kept its sandbox", timeout=10)


def test_a_token_is_made_and_required_by_default(docker_image):
    with serve("--pool-size", "0") as server:
        assert server.token and len(server.token) >= 24
        with pytest.raises(ConnectionError, match="no token given"):
            DSGymClient(server.url, token="").sync().connect()
        with server.client().sync() as client:
            assert client.reset(task_id=TASK).observation.task_id == TASK


def test_serve_refuses_a_public_address_without_a_token():
    result = subprocess.run([sys.executable, "-m", "dsgym.cli", "serve", SUITE, "--host", "0.0.0.0", "--no-token"],
                            capture_output=True, text=True, env={**os.environ, "DSGYM_SERVE_TOKEN": ""})
    assert result.returncode == 2 and "without a token" in result.stderr


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_stop_signal_ends_dsgym_serve_and_removes_its_sandboxes(docker_image, sig):
    """uvicorn shuts down on SIGTERM by itself and swallows the interrupt; the exit code still says why."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "dsgym.cli", "serve", SUITE, "--port", str(port),
                             "--pool-size", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def serving() -> bool:  # the server answers and its warm pool holds a sandbox
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
        except (urllib.error.URLError, ConnectionError):
            return False
        return bool(owned_containers(proc.pid))

    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and not serving() and proc.poll() is None:
        time.sleep(0.1)
    assert serving(), "the server did not come up with a warm sandbox: nothing proved"
    proc.send_signal(sig)
    deadline = time.monotonic() + 5
    while owned_containers(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = owned_containers(proc.pid)
    for container in left:  # do not leak them into later tests
        container.remove(force=True)
    _, stderr = proc.communicate(timeout=30)
    assert left == [], f"{len(left)} sandbox(es) left 5 s after {sig.name}\n{stderr}"
    assert proc.returncode == 128 + sig, stderr
    assert f"stopped by {sig.name}" in stderr, stderr
