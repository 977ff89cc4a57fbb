"""Threat: output that crashes or swamps the host: a 1 GB stdout flood, binary and invalid UTF-8
output, a huge result repr.  The host must survive, stay bounded in memory, and go on.
"""

from __future__ import annotations

import time

import pytest

from tests.support.helpers import python
from tests.security.probe import RssWatch

pytestmark = pytest.mark.docker


def test_a_1gb_stdout_flood(make_env):
    env = make_env("secret-test/sum-y", cell_timeout=120, max_output_chars=4000)
    env.reset(seed=0)
    start = time.monotonic()
    with RssWatch() as rss:
        obs, _, terminated, truncated, _info = env.step(python(
            "line = 'x' * (1 << 20)\nfor _ in range(1024):\n    print(line)\nprint('flood over')"))
    assert time.monotonic() - start < 120
    assert not (terminated or truncated), obs[:500]
    assert rss.growth < 1024, f"the host's memory grew by {rss.growth} MB during a 1 GB flood"
    assert len(obs) < 3 * 4000 + 2000, f"the observation holds {len(obs)} characters"
    # The kernel keeps all printed output (IPython history + ipykernel buffers), so 1 GB may
    # OOM-kill it inside its own memory limit: reported, and the episode goes on.
    assert "[output truncated:" in obs or "[kernel died]" in obs, obs[:500]
    obs, *_ = env.step(python("print('after the flood')"))
    assert obs.strip() == "after the flood", obs


def test_a_large_flood_is_truncated_with_a_marker_and_the_kernel_survives(make_env):
    env = make_env("secret-test/sum-y", cell_timeout=120, max_output_chars=4000)
    env.reset(seed=0)
    with RssWatch() as rss:
        obs, _, _, _, info = env.step(python(
            "kept = 1\nline = 'x' * (1 << 20)\nfor _ in range(64):\n    print(line)\nprint('flood over')"))
    assert "[output truncated:" in obs and "characters omitted" in obs, obs[:500]
    assert obs.rstrip().endswith("flood over"), obs[-200:]
    assert info["kernel_restarted"] is False
    assert rss.growth < 512, f"the host's memory grew by {rss.growth} MB"
    obs, *_ = env.step(python("print(kept)"))
    assert obs.strip() == "1", obs


def test_binary_and_invalid_utf8_output(make_env):
    env = make_env("secret-test/sum-y", cell_timeout=30)
    env.reset(seed=0)
    code = (
        "import os, sys, time\n"
        "print('before')\n"
        "sys.stdout.flush()\n"
        "os.write(1, bytes(range(256)) + b'\\n')\n"
        "os.write(2, b'\\xff\\xfe\\xc3(\\xed\\xa0\\x80 invalid utf-8\\n')\n"
        "print('lone surrogate: \\udcff, nul: \\0, escape: \\x1b[31mred\\x1b[0m')\n"
        "time.sleep(0.3)\n"
        "b'\\xff\\x00' * 8\n"
    )
    obs, _, terminated, truncated, info = env.step(python(code))
    assert not (terminated or truncated), obs
    assert isinstance(obs, str) and "before" in obs and "invalid utf-8" in obs, obs
    assert "[result]" in obs, obs
    assert info["kernel_restarted"] is False
    obs.encode("utf-8", "surrogatepass")  # a str the caller can always store
    obs, *_ = env.step(python("print('fine')"))
    assert obs.strip() == "fine", obs


def test_a_huge_result_repr(make_env):
    env = make_env("secret-test/sum-y", cell_timeout=60, max_output_chars=4000)
    env.reset(seed=0)
    with RssWatch() as rss:
        obs, _, terminated, truncated, _info = env.step(python(
            "class Huge:\n    def __repr__(self):\n        return 'r' * (200 << 20)\nHuge()"))
    assert not (terminated or truncated), obs[:300]
    assert "[result]" in obs and "[output truncated:" in obs, obs[:300]
    assert len(obs) < 3 * 4000 + 2000
    # One 200 MB message is decoded whole by jupyter_client: bounded by the kernel's own memory
    # limit, never kept: a generous bound.
    assert rss.growth < 2048, f"the host's memory grew by {rss.growth} MB"
    obs, *_ = env.step(python("print('fine')"))
    assert obs.strip() == "fine", obs
