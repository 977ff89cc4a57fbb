"""A short soak (``benchmarks/soak.py``): faults injected at concurrency 4, every episode ends in one line."""

from __future__ import annotations

import pytest

from benchmarks.soak import soak

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def test_a_short_soak_with_faults_loses_nothing_and_leaks_no_container(docker_image, tmp_path):
    figures = soak(episodes=24, concurrency=4, seed=3, kill_every=5.0, out=tmp_path / "run")
    assert figures["result_lines"] == figures["unique"] == figures["episodes"] == 24
    assert figures["missing"] == 0 and figures["torn_bytes"] == 0 and not figures["bad_lines"]
    assert figures["containers_left"] == 0
    assert figures["container_kills"] > 0 and all(figures["faults"].get(f, 0) > 0 for f in ("kernel_kill", "slow_cell"))
    # a killed kernel or a slow cell never costs the answer; a killed container is retried, and only an
    # episode whose every attempt was killed may end as a (typed) sandbox error
    assert set(figures["statuses"]) <= {"ok", "error:sandbox"}
    assert figures["statuses"].get("ok", 0) >= 16
    assert figures["perfect"] >= figures["statuses"].get("ok", 0) - 1  # one slow solution may miss its cell time
    assert figures["rss_mb"]["after"] - figures["rss_mb"]["baseline"] < 300
