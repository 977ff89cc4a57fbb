"""Every threat test that runs against a sandbox runs once per isolating kind (``docker``, ``bwrap``).

A test marked ``docker`` gets ``sandbox_kind`` as a parameter; ``$DSGYM_SANDBOX`` is set to it
for the test, so ``make_env``, ``dsgym.make`` and eval runs all get that kind.  Where a kind
cannot give a protection, the test says so with ``kind_cannot`` (a justified xfail).
"""

from __future__ import annotations

import shutil

import pytest

import dsgym

KINDS = ("docker", "bwrap")


def pytest_generate_tests(metafunc):
    if "sandbox_kind" in metafunc.fixturenames and metafunc.definition.get_closest_marker("docker"):
        metafunc.parametrize("sandbox_kind", KINDS, indirect=True)


@pytest.fixture(autouse=True)
def sandbox_kind(request, monkeypatch) -> str:
    kind = getattr(request, "param", "docker")
    if kind == "bwrap" and shutil.which("bwrap") is None:
        pytest.fail("bubblewrap is not installed: run `bash .ci/setup.sh`")
    monkeypatch.setenv("DSGYM_SANDBOX", kind)
    return kind


@pytest.fixture
def make_env(docker_image, secret_suite, sandbox_kind):
    """``make_env(env_id, **options)`` of the test's sandbox kind, every env closed at teardown."""
    made = []

    def factory(env_id: str = "secret-test/sum-y", **options):
        env = dsgym.make(env_id, **{"sandbox": sandbox_kind, **options})
        made.append(env)
        return env

    yield factory
    for env in made:
        env.close()
