"""Threat: two concurrent episodes see or reach each other (files, processes, sockets)."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.security.probe import cell_json, hidden, sandbox_id

pytestmark = pytest.mark.docker

PORT = 45123


def plant(marker: str) -> str:
    """Code that leaves ``marker`` everywhere an episode can: files, argv, sockets, a listening port."""
    return (
        "import os, socket, subprocess, sys\n"
        f"marker = {hidden(marker)}\n"
        "for path in ['/workspace/marker.txt', '/tmp/marker.txt', '/dev/shm/marker.txt']:\n"
        "    open(path, 'w').write(marker)\n"
        "holder = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)', marker])\n"
        "abstract = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\n"
        "abstract.bind('\\0' + marker)\n"
        "abstract.listen(1)\n"
        "named = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\n"
        "named.bind('/tmp/' + marker + '.sock')\n"
        "named.listen(1)\n"
        "tcp = socket.socket()\n"
        "tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
        f"tcp.bind(('127.0.0.1', {PORT}))\n"
        "tcp.listen(1)\n"
        "emit('planted')\n"
    )


def search(marker: str, own: str) -> str:
    """Code that hunts for the other episode's ``marker`` and proves it finds its own ``own``."""
    return (
        "import glob, os, socket, subprocess\n"
        f"other, own = {hidden(marker)}, {hidden(own)}\n"
        "def grep(needle):\n"
        "    done = subprocess.run(['grep', '-rlF', needle, '/', '--exclude-dir=proc', '--exclude-dir=sys'],\n"
        "                          capture_output=True, text=True, timeout=100)\n"
        "    return done.stdout.split()\n"
        "def in_proc(needle):\n"
        "    hits = []\n"
        "    for path in glob.glob('/proc/[0-9]*/cmdline') + glob.glob('/proc/[0-9]*/environ'):\n"
        "        try:\n"
        "            if needle.encode() in open(path, 'rb').read():\n"
        "                hits.append(path)\n"
        "        except OSError:\n"
        "            pass\n"
        "    return hits\n"
        "def connect(family, address):\n"
        "    try:\n"
        "        with socket.socket(family, socket.SOCK_STREAM) as sock:\n"
        "            sock.settimeout(2)\n"
        "            sock.connect(address)\n"
        "        return 'connected'\n"
        "    except OSError as exc:\n"
        "        return type(exc).__name__\n"
        "unix_table = open('/proc/net/unix').read()\n"
        "emit({'files_other': grep(other), 'files_own': grep(own),\n"
        "      'proc_other': in_proc(other), 'proc_own': in_proc(own),\n"
        "      'abstract_other': connect(socket.AF_UNIX, '\\0' + other),\n"
        "      'abstract_own': connect(socket.AF_UNIX, '\\0' + own),\n"
        "      'named_other': connect(socket.AF_UNIX, '/tmp/' + other + '.sock'),\n"
        "      'unix_table_other': other in unix_table, 'unix_table_own': own in unix_table,\n"
        "      'processes': len([p for p in os.listdir('/proc') if p.isdigit()])})\n"
    )


def test_two_concurrent_episodes_cannot_see_each_other(make_env):
    markers = [f"dsgym-episode-a-{uuid.uuid4().hex}", f"dsgym-episode-b-{uuid.uuid4().hex}"]
    envs = [make_env("secret-test/sum-y", cell_timeout=120) for _ in markers]
    with ThreadPoolExecutor(2) as pool:  # both start at once and stay alive together
        list(pool.map(lambda env: env.reset(seed=0), envs))
        planted = list(pool.map(lambda pair: cell_json(pair[0], plant(pair[1]))[0], zip(envs, markers)))
    assert planted == ["planted", "planted"]  # each bound the same loopback port: separate stacks
    ids = {sandbox_id(env.unwrapped.sandbox) for env in envs}
    assert len(ids) == 2

    for env, own, other in ((envs[0], markers[0], markers[1]), (envs[1], markers[1], markers[0])):
        seen, _obs, _ = cell_json(env, search(other, own))
        # The search works: it finds this episode's own marker in files, processes and sockets ...
        assert {"/workspace/marker.txt", "/tmp/marker.txt", "/dev/shm/marker.txt"} <= set(seen["files_own"]), seen
        assert seen["proc_own"] and seen["abstract_own"] == "connected" and seen["unix_table_own"], seen
        # ... and nothing of the other episode's.
        assert seen["files_other"] == [], f"the other episode's files are visible: {seen['files_other']}"
        assert seen["proc_other"] == [], f"the other episode's processes are visible: {seen['proc_other']}"
        assert seen["abstract_other"] != "connected" and seen["named_other"] != "connected", seen
        assert seen["unix_table_other"] is False, seen
        # (The other episode listens on 127.0.0.1:PORT too; each sandbox has its own loopback,
        # which the successful double bind above already shows.)
