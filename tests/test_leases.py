"""No sandbox outlives its owner, even one killed with SIGKILL: leases, automatic reaping, status.

Real containers throughout, with a short lease (``DSGYM_LEASE_SECONDS``) so a lapse is
seen in seconds.  Nothing here runs a dsgym command to clean up after a kill: the
containers must go by themselves.  Other processes may run dsgym containers at the
same time, so every check names the containers of one process.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import docker.errors
import pytest

from dsgym.sandbox.docker import DockerSandbox, client, list_containers, pid_namespace, prune
from tests.support.helpers import REPO, owned_containers, python

pytestmark = pytest.mark.docker

DSGYM = str(Path(sys.executable).with_name("dsgym"))
LEASE = 5.0
GRACE = 15.0  # the bound: gone within the lease plus this, with no dsgym command run

HOLDER = textwrap.dedent("""
    import json, sys, time
    import dsgym
    options, code = json.loads(sys.argv[1]), sys.argv[2]
    env = dsgym.make("secret-test/sum-y", **options)
    pool = env.unwrapped.pool
    env.reset(seed=0)
    end = time.monotonic() + 60
    while pool is not None and pool.ready() < 1 and time.monotonic() < end:
        time.sleep(0.05)  # the pool's spare is running too
    if code:
        obs, *_ = env.step("<python>\\n" + code + "\\n</python>")
        print(json.dumps(obs), file=sys.stderr, flush=True)
    print(env.unwrapped.sandbox.container.id, flush=True)
    time.sleep(600)
""")


def start_holder(suite_root: Path, tmp_path: Path, lease: float, code: str = "",
                 **options) -> tuple[subprocess.Popen, str]:
    """A plain ``dsgym.make`` user in its own process, holding one episode's sandbox."""
    env = {**os.environ, "DSGYM_SUITES": str(suite_root), "DSGYM_LEASE_SECONDS": f"{lease:g}"}
    stderr = (tmp_path / "holder.err").open("w")
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, json.dumps(options), code], stdout=subprocess.PIPE,
                            stderr=stderr, text=True, env=env, cwd=REPO)
    line: list[str] = []
    reader = threading.Thread(target=lambda: line.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(90)
    if not line or not line[0].strip():
        proc.kill()
        proc.wait()
        pytest.fail(f"the holder printed no container id:\n{(tmp_path / 'holder.err').read_text()}")
    return proc, line[0].strip()


def wait_gone(pid: int, within: float) -> tuple[float, list]:
    """Seconds until process ``pid`` has no container left (or ``within`` passed), and what is left."""
    start = time.monotonic()
    while time.monotonic() - start < within:
        left = owned_containers(pid)
        if not left:
            return time.monotonic() - start, []
        time.sleep(0.5)
    return time.monotonic() - start, owned_containers(pid)


def remove(containers: list) -> None:
    for container in containers:
        try:
            container.remove(force=True)
        except docker.errors.APIError:
            pass


def exists(container_id: str) -> bool:
    try:
        client().containers.get(container_id)
    except docker.errors.NotFound:
        return False
    return True


@pytest.mark.parametrize("options", [{}, {"pool_size": 1}], ids=["plain", "warm-pool"])
def test_sigkill_of_a_dsgym_make_user_leaves_no_sandbox_after_the_lease(secret_suite, docker_image, tmp_path,
                                                                        options):
    proc, container_id = start_holder(secret_suite.root, tmp_path, LEASE, **options)
    held = owned_containers(proc.pid)
    assert container_id in {c.id for c in held}
    assert len(held) == (2 if options else 1), held  # a pool keeps a spare, which holds a lease too
    time.sleep(LEASE + 1)  # a live owner keeps renewing: nothing lapses
    assert {c.id for c in owned_containers(proc.pid)} == {c.id for c in held}, "a live owner lost a sandbox"
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    took, left = wait_gone(proc.pid, LEASE + GRACE)
    remove(left)
    assert not left, f"{len(left)} sandbox(es) outlived their SIGKILLed owner by {took:.0f} s"


def test_the_agent_cannot_keep_its_sandbox_alive(secret_suite, docker_image, tmp_path):
    """Stopping or killing PID 1, or touching the lease file, from inside: the lease still lapses."""
    code = ("import os, signal\n"
            "for sig in (signal.SIGSTOP, signal.SIGKILL):\n"
            "    os.kill(1, sig)\n"
            "try:\n"
            "    os.utime('/run/dsgym-lease/lease')\n"
            "    print('lease touched')\n"
            "except OSError as exc:\n"
            "    print('refused:', exc.strerror)\n"
            "print('pid1 state', open('/proc/1/stat').read().split()[2])")
    proc, container_id = start_holder(secret_suite.root, tmp_path, LEASE, code=code)
    observation = (tmp_path / "holder.err").read_text()
    assert "refused: Read-only file system" in observation, observation
    assert "pid1 state S" in observation, observation  # still running (sleeping), not stopped (T)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    took, left = wait_gone(proc.pid, LEASE + GRACE)
    remove(left)
    assert not left, f"the sandbox outlived its owner by {took:.0f} s"


def test_sigkill_of_an_eval_leaves_no_sandbox_after_the_lease(secret_suite, docker_image, tmp_path):
    proc = subprocess.Popen([DSGYM, "eval", "secret-test/sum-y", "--samples", "4", "-j", "2", "--agent",
                             "tests.test_runner:CellSleeper", "--out", str(tmp_path / "run")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "PYTHONPATH": str(REPO), "DSGYM_SUITES": str(secret_suite.root),
                                 "DSGYM_LEASE_SECONDS": f"{LEASE:g}"})
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and len(owned_containers(proc.pid)) < 2:
        time.sleep(0.1)
    assert len(owned_containers(proc.pid)) == 2
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    took, left = wait_gone(proc.pid, LEASE + GRACE)
    remove(left)
    assert not left, f"{len(left)} sandbox(es) outlived the SIGKILLed eval by {took:.0f} s"


def test_a_cell_busy_for_longer_than_the_lease_is_not_killed(make_env, monkeypatch):
    monkeypatch.setenv("DSGYM_LEASE_SECONDS", "3")
    env = make_env("secret-test/sum-y", cell_timeout=60)
    env.reset(seed=0)
    sandbox = env.unwrapped.sandbox
    assert sandbox.container.labels["dsgym.lease"] == "3"
    obs, *_ = env.step(python("import time\nsum(range(10**7))\ntime.sleep(10)\nprint('still here')"))
    assert obs.strip() == "still here", obs
    obs, *_ = env.step(python("print(2 + 2)"))
    assert obs.strip() == "4", obs
    assert sandbox.kernel_restarts == 0
    sandbox.container.reload()
    assert sandbox.container.status == "running"


def test_a_dead_owners_sandboxes_are_reaped_by_the_next_eval(secret_suite, docker_image, tmp_path):
    proc, orphan_id = start_holder(secret_suite.root, tmp_path, 600)  # a lease that will not lapse here
    orphan = client().containers.get(orphan_id)
    root = Path(orphan.labels["dsgym.root"])
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    assert exists(orphan_id) and root.is_dir()
    result = subprocess.run([DSGYM, "eval", "secret-test/sum-y", "--out", str(tmp_path / "run")],
                            capture_output=True, text=True, timeout=300,
                            env={**os.environ, "DSGYM_SUITES": str(secret_suite.root)})
    if exists(orphan_id):
        remove([orphan])
        pytest.fail(f"the next eval left the dead owner's sandbox running:\n{result.stderr}")
    assert result.returncode == 0, result.stderr
    # This eval removed it and said so (unless another dsgym process of this host reaped it first).
    said = [line for line in result.stderr.splitlines() if orphan.short_id in line]
    assert all("left behind by dsgym processes of this host that are gone" in line for line in said), said
    assert not root.exists(), f"the dead owner's sandbox folder {root} was left"


def test_prune_leaves_a_same_named_hosts_sandboxes_alone(docker_image):
    """Two hosts (or containers sharing the host's daemon) with one hostname: a pid of theirs is not ours."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    owner = f"{socket.gethostname()}:{dead.pid}"
    elsewhere = DockerSandbox(labels={"dsgym.owner": owner, "dsgym.pidns": "another-boot/4026531836"})
    here = client().containers.run(docker_image, ["sleep", "600"], detach=True, network_mode="none",
                                   auto_remove=True, labels={"dsgym.sandbox": "1", "dsgym.owner": owner,
                                                             "dsgym.pidns": pid_namespace()})
    try:
        elsewhere.start()
        removed = prune()
        # (another dsgym process of this host may have reaped the orphan first: either way it is gone)
        assert here.short_id in removed or not exists(here.id), "an orphan of this host was not pruned"
        assert elsewhere.container.short_id not in removed, "prune removed another host's sandbox"
        assert exists(elsewhere.container.id)
        assert str(elsewhere.execute("print('alive')", 30).stdout).strip() == "alive"
    finally:
        elsewhere.close()
        remove([here])


def test_status_lists_owner_age_and_lease(make_env):
    env = make_env("secret-test/sum-y")
    env.reset(seed=0)
    container = env.unwrapped.sandbox.container
    time.sleep(1)
    result = subprocess.run([DSGYM, "sandbox", "status"], capture_output=True, text=True, timeout=120)
    (line,) = [row for row in result.stdout.splitlines() if row.strip().startswith(container.short_id)]
    assert f"owner={socket.gethostname()}:{os.getpid()} " in line, line
    assert " age=" in line and " lease=60 s, renewed " in line, line
    assert container.id in {c.id for c in list_containers(owned_by=os.getpid())}
