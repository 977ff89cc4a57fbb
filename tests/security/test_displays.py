"""Threat: the observation grows without bound through ``display()``.

Each displayed object used to be cut separately, so 2,000 ``display()`` calls gave an
8-million-character observation: past the env's cap and its observation space, 200 MB
of host memory, and the same in episodes.jsonl and the model's context.  One cell's
output parts together are capped at ``max_output_chars``, the whole observation at the
observation space's ``max_length``, and the host keeps a bounded amount while it reads.
"""

from __future__ import annotations

import pytest

from tests.support.helpers import python
from tests.security.probe import RssWatch

pytestmark = pytest.mark.docker


def test_thousands_of_displays_give_one_bounded_observation(make_env):
    env = make_env("secret-test/sum-y", cell_timeout=120, max_output_chars=4000)
    env.reset(seed=0)
    code = ("from IPython.display import display\nblock = 'y' * 100_000\n"
            "for i in range(1000):\n    display(block)\nfor i in range(2000):\n    display(i)\n"
            "print('stdout survives')")
    with RssWatch() as rss:
        obs, _, terminated, truncated, _ = env.step(python(code))
    assert not (terminated or truncated)
    assert obs in env.observation_space and len(obs) <= env.unwrapped.max_observation_chars
    assert len(obs) < 4000 + 1000, f"{len(obs):,} characters"
    assert "stdout survives" in obs and "[displays dropped]" in obs, obs[-600:]
    assert rss.growth < 60, f"the host's memory grew by {rss.growth} MB reading 100 MB of displays"


def test_every_part_shares_one_budget(make_env):
    env = make_env("secret-test/sum-y", cell_timeout=60, max_output_chars=3000)
    env.reset(seed=0)
    code = ("import sys\nfrom IPython.display import display\nprint('o' * 50_000)\n"
            "sys.stderr.write('e' * 50_000)\ndisplay('d' * 50_000)\nraise ValueError('the end ' + 'v' * 50_000)")
    obs, *_ = env.step(python(code))
    assert len(obs) <= 3000 + 200, f"{len(obs):,} characters"
    for label in ("[stderr]", "[error]", "ValueError"):
        assert label in obs, (label, obs)
    assert obs.count("[output truncated:") == 4
