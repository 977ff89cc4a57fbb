"""The warm pool hands out fresh, started sandboxes, each exactly once."""

from __future__ import annotations

import time

import pytest

import dsgym
from dsgym.sandbox import SandboxPool, sandbox_factory
from tests.support.helpers import python

pytestmark = pytest.mark.docker


def wait_ready(pool: SandboxPool, count: int, timeout: float = 30) -> None:
    end = time.monotonic() + timeout
    while pool.ready() < count:
        assert time.monotonic() < end, f"pool did not fill: {pool.last_error}"
        time.sleep(0.05)


def test_pool_never_reuses_a_container(docker_image, secret_suite):
    with SandboxPool(sandbox_factory("docker"), size=2) as pool:
        env = dsgym.make("secret-test/sum-y", pool=pool)
        seen = set()
        try:
            for _ in range(3):
                wait_ready(pool, 2)
                obs, info = env.reset()
                assert info["reset_time"] < 1.0  # handed over, not started
                container = env.unwrapped.sandbox.container.id
                assert container not in seen
                seen.add(container)
                obs, *_ = env.step(python("print(sorted(k for k in globals() if k.startswith('mark')))\nmarker = 1"))
                assert obs.startswith("[]")
                obs, *_ = env.step(python("import os; print(os.listdir('/data'), os.listdir('/workspace'))"))
                assert "['numbers.csv'] []" in obs
        finally:
            env.close()
    from tests.support.helpers import labelled_containers

    assert not seen & {c.id for c in labelled_containers()}


def test_env_owned_pool_is_closed_with_the_env(docker_image, secret_suite):
    env = dsgym.make("secret-test/sum-y", pool_size=1)
    pool = env.unwrapped.pool
    wait_ready(pool, 1)
    env.reset()
    env.close()
    assert pool.ready() == 0 and env.unwrapped.pool is None


def test_several_starters_fill_the_pool_and_close_leaves_nothing(docker_image, secret_suite):
    from tests.support.helpers import labelled_containers

    before = {c.id for c in labelled_containers()}
    with SandboxPool(sandbox_factory("docker"), size=4, starters=3) as pool:
        assert len(pool._fillers) == 3
        wait_ready(pool, 4)
        handed = [pool.acquire() for _ in range(4)]
        assert len({s.container.id for s in handed}) == 4
        for sandbox in handed:
            sandbox.close()
        wait_ready(pool, 4)
    assert not {c.id for c in labelled_containers()} - before
