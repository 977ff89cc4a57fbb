"""The bwrap sandbox kind: a real bubblewrap sandbox over the image's tree, its limits, its lifecycle,
and the clear errors when it cannot run.  The threats themselves are in tests/security (both kinds)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import pytest

from dsgym.sandbox import Limits, SandboxSpec
from dsgym.sandbox.base import SandboxError
from dsgym.sandbox.bwrap import PREFIX, BwrapSandbox

pytestmark = [pytest.mark.docker, pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap not installed")]
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def sandbox(docker_image):
    # 1g: RLIMIT_AS (no cgroup) counts address space, and a kernel's threads reserve a few hundred MB of it
    box = SandboxSpec("bwrap", docker_image, Limits(memory="1g", pids=64)).factory()()
    box.start()
    yield box
    box.close()


def run(box, code: str, timeout: float = 30) -> str:
    result = box.execute(textwrap.dedent(code), timeout)
    assert result.error is None, result.error
    return str(result.stdout).strip()


def host_uid(pid: int) -> int:
    line = next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("Uid:"))
    return int(line.split()[1])


def test_a_sandbox_runs_the_image_as_its_agent_user_behind_a_read_only_root(sandbox, tmp_path):
    (tmp_path / "numbers.csv").write_text("x\n1\n2\n")
    sandbox.put_data({"numbers.csv": tmp_path / "numbers.csv"})
    out = run(sandbox, """
        import os, getpass, pandas
        print(os.getuid(), getpass.getuser(), os.getpid() > 1, sorted(l.split(':')[0].strip() for l in open('/proc/net/dev').readlines()[2:]))
        print(pandas.read_csv('/data/numbers.csv').x.sum())
        for path in ('/data/numbers.csv', '/usr/x', '/x'):
            try:
                open(path, 'a').close(); print('wrote', path)
            except OSError as exc:
                print('refused', exc.errno)
        open('/workspace/out.txt', 'w').write('hello')
    """)
    assert out.splitlines()[0] == "1000 agent True ['lo']"
    assert out.splitlines()[1] == "3"
    assert "wrote" not in out
    if os.geteuid() == 0:  # root's sandboxes run as a uid no account has, never as root
        assert host_uid(sandbox.pid) not in (0, os.geteuid())
    sandbox.freeze()
    assert sandbox.copy_out("/workspace/out.txt", tmp_path / "out.txt", max_bytes=100) == 5
    assert (tmp_path / "out.txt").read_text() == "hello"


def test_the_limits_held_are_recorded_with_how(sandbox):
    enforced = sandbox.enforced
    assert set(enforced) >= {"memory", "pids", "cpus", "cell_time", "workspace", "tmp", "freeze"}
    writable_cgroup = os.access("/sys/fs/cgroup/memory", os.W_OK) or os.access("/sys/fs/cgroup", os.W_OK)
    assert enforced["memory"].startswith("cgroup") == writable_cgroup, enforced
    # and they hold: more than 1g of memory is refused (cgroup: the kernel is killed and replaced)
    result = sandbox.execute("x = bytearray(1500 << 20)\nprint('allocated')", 60)
    assert "allocated" not in str(result.stdout)
    assert result.kernel_died or (result.error is not None and result.error.ename == "MemoryError"), result


def test_closing_removes_every_process_folder_and_cgroup(docker_image):
    box = SandboxSpec("bwrap", docker_image).factory()()
    box.start()
    run(box, "import subprocess; subprocess.Popen(['sleep', '600'], start_new_session=True)")
    pid, root, folders = box.pid, box.root, list(box.cgroup.folders.values())
    box.close()
    assert not os.path.exists(f"/proc/{pid}") and not root.exists()
    assert not any(folder.exists() for folder in folders)


def test_a_sandbox_started_by_a_thread_outlives_that_thread(docker_image):
    """bwrap's parent-death signal follows the thread that started it: dsgym starts it from one
    long-lived thread, so a pool's filler thread ending takes no sandbox with it."""
    boxes = []

    def start():
        box = BwrapSandbox(docker_image)
        box.start()
        boxes.append(box)

    thread = threading.Thread(target=start)
    thread.start()
    thread.join()
    try:
        time.sleep(0.5)
        assert run(boxes[0], "print(6 * 7)") == "42"
    finally:
        boxes[0].close()


def test_a_sigkilled_owner_takes_its_sandboxes_with_it(docker_image, tmp_path):
    script = tmp_path / "owner.py"
    script.write_text(textwrap.dedent(f"""
        import sys, time
        from dsgym.sandbox.bwrap import BwrapSandbox
        box = BwrapSandbox({docker_image!r}); box.start()
        box.execute("import subprocess; subprocess.Popen(['sleep', '600'], start_new_session=True)", 30)
        print(box.pid, box.proc.pid, flush=True)
        time.sleep(600)
    """))
    owner = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True, cwd=REPO)
    try:
        pids = [int(p) for p in owner.stdout.readline().split()]
        assert len(pids) == 2 and all(os.path.exists(f"/proc/{p}") for p in pids)
    finally:
        owner.send_signal(signal.SIGKILL)
        owner.wait()
    deadline = time.monotonic() + 10
    while any(os.path.exists(f"/proc/{p}") for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(os.path.exists(f"/proc/{p}") for p in pids), "the sandbox outlived its SIGKILLed owner"


def test_no_user_namespaces_gives_a_clear_error_naming_the_apparmor_switch(tmp_path):
    """A real refusal: a user namespace where no further user namespace may be made (the limit is 0)."""
    if shutil.which("unshare") is None:
        pytest.skip("util-linux unshare is not installed")
    code = ("from dsgym.sandbox.bwrap import check_bwrap\n"
            "from dsgym.sandbox.base import SandboxError\n"
            "try:\n    check_bwrap()\nexcept SandboxError as exc:\n    print(exc)\n")
    shell = f"echo 0 > /proc/sys/user/max_user_namespaces && exec {sys.executable} -c \"$0\""
    out = subprocess.run(["unshare", "--user", "--map-root-user", "sh", "-c", shell, code],
                         capture_output=True, text=True, cwd=REPO, timeout=60)
    assert "could not create a user namespace" in out.stdout, (out.stdout, out.stderr)
    assert "kernel.apparmor_restrict_unprivileged_userns" in out.stdout
    assert "max_user_namespaces" in out.stdout


def test_a_missing_tree_without_docker_says_how_to_get_it(docker_image, tmp_path, monkeypatch):
    """Without Docker only dsgym's own images' trees can be built (tests/test_bwrap_tree.py): another tag's cannot."""
    monkeypatch.setenv("DSGYM_ROOTFS_DIR", str(tmp_path / "trees"))
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-daemon.sock")
    box = BwrapSandbox("dsgym-sandbox:not-defined-here")
    with pytest.raises(SandboxError, match="no Docker daemon is there to export it; without Docker only dsgym's own"):
        box.start()
    assert box.root is None or not box.root.exists()
    assert not list(Path(os.environ.get("DSGYM_TMPDIR") or "/tmp").glob(f"{PREFIX}*/never"))


ORACLE_TASKS = ["dsgym-tasks-lite/anes96-dole-clinton-paired-t", "dsgym-tasks-lite/iris-kmeans-ari",
                "dsgym-tasks-lite/anes96-random-forest-test-auc", "dsbio-lite/bulk-deseq2-largest-effect",
                "dsbio-lite/bulk-deseq2-top5-pvalue"]


@pytest.fixture(scope="module")
def shared_trees(docker_image):
    """The default and bio images' trees in a folder every user can read: hard links to this user's
    cached trees (exported while Docker is up), so the test costs no second copy on disk."""
    from dsgym.sandbox import rootfs
    from dsgym.sandbox.images import image_tag

    folder = Path(tempfile.mkdtemp(prefix="dsgym-trees-"))
    folder.chmod(0o755)
    try:
        for name in ("default", "bio"):
            tree = rootfs.tree(image_tag(name))
            link = subprocess.run(["cp", "-al", str(tree.root), str(folder / tree.root.name)], capture_output=True)
            if link.returncode:  # /tmp on another file system than the cache
                shutil.rmtree(folder / tree.root.name, ignore_errors=True)
                subprocess.run(["cp", "-a", str(tree.root), str(folder / tree.root.name)], check=True)
            shutil.copy2(tree.root.with_name(f"{tree.root.name}.json"), folder)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def ordinary_users() -> list[str]:
    """Who runs the oracle: this user, and, for root, also an ordinary account (nobody)."""
    return ["self", "nobody"] if os.geteuid() == 0 else ["self"]


@pytest.mark.parametrize("user", ordinary_users())
def test_the_oracle_scores_1_with_bwrap_and_no_docker_daemon(shared_trees, user):
    """`dsgym eval ... --agent oracle` with DSGYM_SANDBOX=bwrap while any use of Docker fails."""
    home = Path(tempfile.mkdtemp(prefix="dsgym-oracle-home-"))
    env = {**os.environ, "DSGYM_SANDBOX": "bwrap", "DOCKER_HOST": f"unix://{home}/no-docker.sock",
           "DSGYM_ROOTFS_DIR": str(shared_trees), "HOME": str(home), "DSGYM_CACHE_DIR": str(home / "cache")}
    switch: dict = {}
    if user == "nobody":
        import pwd

        account = pwd.getpwnam("nobody")
        os.chown(home, account.pw_uid, account.pw_gid)
        switch = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
        env.update(USER="nobody", LOGNAME="nobody")
    try:
        done = subprocess.run([str(Path(sys.executable).parent / "dsgym"), "eval", *ORACLE_TASKS, "--agent", "oracle",
                               "-j", "2", "--out", str(home / "run")], env=env, cwd=home, capture_output=True,
                              text=True, timeout=1200, **switch)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        records = [json.loads(line) for line in (home / "run" / "episodes.jsonl").read_text().splitlines()]
        assert sorted(f"{r['suite']}/{r['task_id']}" for r in records) == sorted(ORACLE_TASKS)
        assert all(r["score"] == 1.0 for r in records), [(r["task_id"], r["score"], r.get("error")) for r in records]
    finally:
        shutil.rmtree(home, ignore_errors=True)
