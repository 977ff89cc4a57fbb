"""Threat: code in the sandbox reads the task's answer, hidden labels, host environment variables,
or host secrets through /proc and /sys.

Secrets travel into probe cells reversed (``hidden``) so the probe itself never plants them.
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid

import pytest

from tests.security.probe import cell_json, hidden

pytestmark = pytest.mark.docker


def test_answer_is_nowhere_in_the_container(make_env, secret_suite):
    secret = secret_suite.tasks["secret"].answer
    assert isinstance(secret, str) and secret.startswith("dsgym-secret-")
    env = make_env("secret-test/secret", cell_timeout=90)
    prompt, info = env.reset(seed=0)
    assert secret not in prompt and secret not in json.dumps(info, default=str)

    # The secret travels reversed so this very cell never puts it anywhere in plain text;
    # the control string is written to /workspace on purpose and must be found.
    control = f"dsgym-control-{os.getpid()}-{time.time_ns()}"
    code = (
        "import glob, os, subprocess\n"
        f"secret = {secret[::-1]!r}[::-1]\n"
        f"control = {control[::-1]!r}[::-1]\n"
        "with open('/workspace/control.txt', 'w') as handle:\n"
        "    handle.write('before ' + control + ' after')\n"
        "def grep(needle):\n"
        "    done = subprocess.run(['grep', '-rlF', needle, '/', '--exclude-dir=proc', '--exclude-dir=sys',\n"
        "                           '--exclude-dir=dev'], capture_output=True, text=True, timeout=75)\n"
        "    return {'code': done.returncode, 'out': done.stdout.splitlines(), 'err': done.stderr.splitlines()}\n"
        "environ = {}\n"
        "for path in glob.glob('/proc/[0-9]*/environ') + glob.glob('/proc/[0-9]*/cmdline'):\n"
        "    try:\n"
        "        with open(path, 'rb') as handle:\n"
        "            environ[path] = secret.encode() in handle.read()\n"
        "    except OSError:\n"
        "        pass\n"
        "emit({'secret': grep(secret), 'control': grep(control),\n"
        "      'in_os_environ': any(secret in k or secret in v for k, v in os.environ.items()),\n"
        "      'proc_files': environ, 'pid1_env_readable': '/proc/1/environ' in environ})\n"
    )
    found, _obs, _ = cell_json(env, code)
    hit, ctrl = found["secret"], found["control"]
    # grep really searched: the same command finds the planted control string.
    assert ctrl["code"] in (0, 2), f"grep did not run properly: {ctrl}"
    assert "/workspace/control.txt" in ctrl["out"], f"grep missed the control file: {ctrl}"
    # ... and did not find the secret (exit 1 = no match; 2 = unreadable files, then stdout decides).
    assert hit["code"] in (1, 2), f"grep failed or matched: {hit}"
    assert hit["out"] == [], f"the task's answer is in the container: {hit['out']}"
    # Exit 2 may only come from root-only files of the image, never from the places that matter.
    for line in hit["err"]:
        assert line.startswith("grep: ") and line.endswith(": Permission denied"), line
        assert not line.startswith(("grep: /data", "grep: /workspace", "grep: /tmp", "grep: /run/dsgym")), line
    assert hit["err"] == ctrl["err"], "the two greps did not search the same files"
    assert found["in_os_environ"] is False
    kernel_env = [p for p in found["proc_files"] if p.endswith("/environ")]
    assert kernel_env, "no process environment was readable: the check proved nothing"
    leaked = [path for path, has in found["proc_files"].items()
              if has and not path.endswith("/cmdline")]
    assert leaked == [], f"the answer is in process environments: {leaked}"
    # The secret is only in the argv of the grep we ran (a cmdline); nothing else may hold it.
    # (Our own grep is gone by the time the /proc scan runs, so any cmdline hit is a leak too.)
    assert not any(found["proc_files"].values()), found["proc_files"]


def test_host_environment_variables_are_not_visible(make_env, monkeypatch):
    secret = f"dsgym-host-env-{uuid.uuid4().hex}"
    monkeypatch.setenv("DSGYM_HOST_SECRET", secret)  # set in the host process before the env exists
    env = make_env("secret-test/sum-y", cell_timeout=30)
    env.reset(seed=0)
    sandbox = env.unwrapped.sandbox
    if hasattr(sandbox, "container"):
        sandbox.container.reload()
        assert not any(secret in item for item in sandbox.container.attrs["Config"]["Env"] or [])
    else:  # bwrap: the sandbox's PID 1 got the image's environment (--clearenv), as the host sees it
        assert secret.encode() not in open(f"/proc/{sandbox.pid}/environ", "rb").read()
    code = (
        "import glob, os\n"
        f"secret = {hidden(secret)}\n"
        "scanned, hits = [], []\n"
        "for path in glob.glob('/proc/[0-9]*/environ') + glob.glob('/proc/[0-9]*/cmdline'):\n"
        "    try:\n"
        "        blob = open(path, 'rb').read()\n"
        "    except OSError:\n"
        "        continue\n"
        "    scanned.append(path)\n"
        "    if secret.encode() in blob or b'DSGYM_HOST_SECRET' in blob:\n"
        "        hits.append(path)\n"
        "emit({'scanned': scanned, 'hits': hits, 'os_environ': 'DSGYM_HOST_SECRET' in os.environ\n"
        "      or any(secret in v for v in os.environ.values())})\n"
    )
    out, _obs, _ = cell_json(env, code)
    assert "/proc/1/environ" in out["scanned"], f"the scan read nothing useful: {out}"
    assert out["hits"] == [], f"the host's environment leaked into {out['hits']}"
    assert out["os_environ"] is False


def test_proc_and_sys_reveal_no_host_secrets(make_env):
    env = make_env("secret-test/sum-y", cell_timeout=30)
    env.reset(seed=0)
    code = (
        "import os, glob\n"
        "out = {'pids': sorted(int(p) for p in os.listdir('/proc') if p.isdigit())}\n"
        "out['cmdlines'] = {}\n"
        "for pid in out['pids']:\n"
        "    try:\n"
        "        out['cmdlines'][pid] = open(f'/proc/{pid}/cmdline', 'rb').read().replace(b'\\0', b' ').decode()\n"
        "    except OSError:\n"
        "        pass\n"
        "out['pid1_env'] = open('/proc/1/environ', 'rb').read().decode(errors='replace').split('\\0')\n"
        "out['hostname'] = open('/proc/sys/kernel/hostname').read().strip()\n"
        "writes = {}\n"
        "for path in ['/sys/fs/cgroup/memory/memory.limit_in_bytes', '/sys/fs/cgroup/pids/pids.max',\n"
        "             '/sys/fs/cgroup/cpu/cpu.cfs_quota_us', '/proc/sys/kernel/hostname', '/proc/sysrq-trigger',\n"
        "             '/sys/kernel/mm/transparent_hugepage/enabled']:\n"
        "    try:\n"
        "        with open(path, 'w') as handle:\n"
        "            handle.write('-1')\n"
        "        writes[path] = 'written'\n"
        "    except OSError as exc:\n"
        "        writes[path] = f'{type(exc).__name__}: {exc}'\n"
        "out['writes'] = writes\n"
        "reads = {}\n"
        "for path in ['/proc/kcore', '/proc/kmsg', '/proc/keys', '/proc/timer_list', '/sys/firmware']:\n"
        "    try:\n"
        "        if os.path.isdir(path):\n"
        "            reads[path] = 'dir: ' + repr(os.listdir(path))\n"
        "        else:\n"
        "            reads[path] = 'read %d bytes' % len(open(path, 'rb').read(4096))\n"
        "    except OSError as exc:\n"
        "        reads[path] = f'{type(exc).__name__}'\n"
        "out['reads'] = reads\n"
        "out['host_net'] = sorted(l.split(':')[0].strip() for l in open('/proc/net/dev').readlines()[2:])\n"
        "emit(out)\n"
    )
    out, _obs, _ = cell_json(env, code)
    # A private pid namespace: init (dsgym's kernel launcher, which holds the lease) is pid 1, only the
    # sandbox's own processes exist, and none of them is this host's test process.
    assert "kernel_launcher.py" in out["cmdlines"]["1"], out["cmdlines"]
    assert len(out["pids"]) < 20, f"host processes are visible: {out['cmdlines']}"
    assert not any("pytest" in cmd for cmd in out["cmdlines"].values()), out["cmdlines"]
    assert os.getpid() not in out["pids"] or "pytest" not in out["cmdlines"].get(str(os.getpid()), "")
    # pid 1's environment is the image's, nothing from the host.
    names = {item.split("=", 1)[0] for item in out["pid1_env"] if item}
    host_only = {name for name in os.environ if name not in names} - {"PATH", "HOME", "HOSTNAME"}
    assert names - {"PATH", "HOSTNAME", "HOME", "PWD"} <= {  # PWD: set by the container's sh, not the host
        "MPLCONFIGDIR", "NUMBA_CACHE_DIR", "IPYTHONDIR", "JUPYTER_RUNTIME_DIR", "PYTHONDONTWRITEBYTECODE",
        "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "USER", "LOGNAME", "DSGYM_WARM_CACHE"}, names
    # DSGYM_WARM_CACHE: the image's read-only warm-cache folder (docs/load.md), set by the Dockerfile
    # USER and LOGNAME come from dsgym (the sandbox's uid has no passwd entry), never from the host
    assert {item for item in out["pid1_env"] if item.startswith(("USER=", "LOGNAME="))} <= {"USER=agent",
                                                                                          "LOGNAME=agent"}
    assert host_only, "the host has environment variables the sandbox lacks (sanity)"
    assert out["hostname"] != socket.gethostname()
    for path, outcome in out["writes"].items():
        assert outcome != "written", f"{path} was writable from the sandbox"
    for path in ("/proc/kcore", "/proc/kmsg", "/proc/keys", "/proc/timer_list"):  # refused or masked (empty)
        assert out["reads"][path] in ("PermissionError", "FileNotFoundError", "read 0 bytes"), f"{path}: {out['reads'][path]}"
    # (bwrap mounts no /sys at all)
    assert out["reads"]["/sys/firmware"] in ("dir: []", "PermissionError", "FileNotFoundError"), out["reads"]
    assert out["host_net"] == ["lo"]
