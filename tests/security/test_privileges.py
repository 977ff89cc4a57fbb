"""Threat: code in the sandbox escalates privileges (root, capabilities, setuid, mounts)."""

from __future__ import annotations

import pytest

from tests.security.probe import cell_json, is_docker, kind_cannot

pytestmark = pytest.mark.docker


def test_the_container_is_configured_without_privileges(make_env):
    env = make_env("secret-test/sum-y", cell_timeout=30)
    env.reset(seed=0)
    sandbox = env.unwrapped.sandbox
    if not is_docker(sandbox):  # bwrap: its PID 1 as the host sees it
        status = dict(line.split(":", 1) for line in open(f"/proc/{sandbox.pid}/status") if ":" in line)
        assert all(int(status[cap], 16) == 0 for cap in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")), status
        assert status["NoNewPrivs"].strip() == "1"
        assert int(status["Uid"].split()[0]) != 0, status["Uid"]
        return
    container = sandbox.container
    container.reload()
    host = container.attrs["HostConfig"]
    assert host["Privileged"] is False
    assert host["CapDrop"] == ["ALL"] and not host.get("CapAdd")
    assert "no-new-privileges" in host["SecurityOpt"]
    user = container.attrs["Config"]["User"]
    assert user and not user.startswith(("0:", "root")) and user != "0", user


def test_no_root_no_capabilities_no_new_privileges(make_env, sandbox_kind):
    env = make_env("secret-test/sum-y", cell_timeout=30)
    env.reset(seed=0)
    code = (
        "import os\n"
        "status = dict(line.split(':', 1) for line in open('/proc/self/status') if ':' in line)\n"
        "emit({'uid': os.getuid(), 'euid': os.geteuid(), 'gid': os.getgid(), 'groups': os.getgroups(),\n"
        "      'status': {k: v.strip() for k, v in status.items()\n"
        "                 if k.startswith('Cap') or k in ('NoNewPrivs', 'Seccomp', 'Uid', 'Gid')}})\n"
    )
    out, _obs, _ = cell_json(env, code)
    assert out["uid"] != 0 and out["euid"] != 0 and out["gid"] != 0 and 0 not in out["groups"], out
    status = out["status"]
    for cap in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert int(status[cap], 16) == 0, f"{cap} = {status[cap]}"
    assert status["NoNewPrivs"] == "1"
    kind_cannot(sandbox_kind, ("bwrap",), "bwrap applies no seccomp filter of its own (dsgym gives it none); "
                "it does refuse new user namespaces inside (--disable-userns), the main surface Docker's filter closes")
    assert status["Seccomp"] == "2", "the default seccomp filter is not applied"


def test_setuid_binaries_do_not_elevate(make_env, sandbox_kind):
    env = make_env("secret-test/sum-y", cell_timeout=30)
    env.reset(seed=0)
    code = (
        "import os, shutil, subprocess, time\n"
        "out = {'sudo': shutil.which('sudo'), 'su': shutil.which('su')}\n"
        "setuid = subprocess.run(['find', '/usr', '/bin', '/sbin', '-xdev', '-perm', '-4000', '-type', 'f'],\n"
        "                        capture_output=True, text=True).stdout.split()\n"
        "out['setuid_files'] = setuid\n"
        "# su is setuid root: while it waits for a password, its real/effective/saved uids show\n"
        "# whether the setuid bit took effect.\n"
        "proc = subprocess.Popen(['su', '-c', 'id -u', 'root'], stdin=subprocess.PIPE,\n"
        "                        stdout=subprocess.PIPE, stderr=subprocess.PIPE)\n"
        "time.sleep(0.5)\n"
        "try:\n"
        "    uids = [line for line in open(f'/proc/{proc.pid}/status') if line.startswith('Uid:')][0]\n"
        "    out['su_uids'] = uids.split()[1:]\n"
        "except (OSError, IndexError):\n"
        "    out['su_uids'] = None\n"
        "stdout, stderr = proc.communicate(b'wrong-password\\n', timeout=20)\n"
        "out['su'] = [proc.returncode, stdout.decode(), stderr.decode()]\n"
        "emit(out)\n"
    )
    out, _obs, _ = cell_json(env, code)
    assert out["sudo"] is None
    if sandbox_kind == "bwrap":  # its tree was unpacked without set-user-ID bits: su cannot even try
        assert out["setuid_files"] == [], out["setuid_files"]
    else:
        assert "/usr/bin/su" in out["setuid_files"], "the probe needs a setuid-root binary to be meaningful"
    if out["su_uids"] is not None:  # su was still waiting: no uid became 0
        assert "0" not in out["su_uids"], f"setuid su ran with uids {out['su_uids']}"
    returncode, stdout, _stderr = out["su"]
    assert returncode != 0 and stdout.strip() != "0", out["su"]


def test_mount_chown_setuid_and_namespaces_are_refused(make_env, sandbox_kind):
    env = make_env("secret-test/sum-y", cell_timeout=30)
    env.reset(seed=0)
    code = (
        "import os, subprocess\n"
        "out = {}\n"
        "open('/workspace/mine', 'w').write('x')\n"
        "os.mkdir('/workspace/mnt')\n"
        "def attempt(label, call):\n"
        "    try:\n"
        "        call()\n"
        "        out[label] = 'allowed'\n"
        "    except OSError as exc:\n"
        "        out[label] = type(exc).__name__\n"
        "attempt('setuid0', lambda: os.setuid(0))\n"
        "attempt('setgid0', lambda: os.setgid(0))\n"
        "attempt('chown_root', lambda: os.chown('/workspace/mine', 0, 0))\n"
        "attempt('chmod_setuid', lambda: (os.chmod('/workspace/mine', 0o4755),\n"
        "                                 None if os.stat('/workspace/mine').st_mode & 0o4000 else 1/0))\n"
        "attempt('mknod', lambda: os.mknod('/workspace/dev', 0o600 | 0o060000, os.makedev(8, 0)))\n"
        "def run(args):\n"
        "    done = subprocess.run(args, capture_output=True, text=True, timeout=20)\n"
        "    return [done.returncode, (done.stdout + done.stderr).strip()[-200:]]\n"
        "out['mount'] = run(['mount', '-t', 'tmpfs', 'none', '/workspace/mnt'])\n"
        "out['unshare_user'] = run(['unshare', '--user', '--map-root-user', 'id', '-u'])\n"
        "out['unshare_mount'] = run(['unshare', '--mount', 'true'])\n"
        "emit(out)\n"
    )
    out, _obs, _ = cell_json(env, code)
    for label in ("setuid0", "setgid0", "chown_root", "mknod"):
        # in bwrap's user namespace uid/gid 0 are not mapped at all: EINVAL (OSError), not EPERM
        refused = ("PermissionError", "OSError") if sandbox_kind == "bwrap" and label != "mknod" else ("PermissionError",)
        assert out[label] in refused, f"{label}: {out[label]}"
    # chmod u+s on one's own file is allowed, but the tmpfs is nosuid... and NoNewPrivs makes it moot.
    for label in ("mount", "unshare_user", "unshare_mount"):
        returncode, text = out[label]
        assert returncode != 0, f"{label} succeeded: {text}"
