"""Shared fixtures.  Tests marked ``docker`` start real containers from the built image."""

from __future__ import annotations

import json
import os
import uuid

import pytest

import dsgym
from dsgym.sandbox import images
from tests.support.integrations import INTEGRATIONS

# An integration's tests run where it is installed (its own venv, see tests/support/integrations.py);
# elsewhere tests/test_integrations.py runs them there.
elsewhere = [i for i in INTEGRATIONS if not i.installed_here()]
collect_ignore = [test.removeprefix("tests/") for i in elsewhere for test in i.tests]


def pytest_report_header(config) -> list[str]:
    return [f"{', '.join(i.tests)}: not collected here, run in {i.venv.name} by tests/test_integrations.py"
            for i in elsewhere] + [disk_report()]


def disk_report() -> str:
    """Free space where the tests write (a full run needs about 15 GB: trees, images, venvs), so a failure
    from a full disk reads as one in the log's first lines."""
    import shutil
    import tempfile

    places = {"tmp": tempfile.gettempdir(), "cache": str(images.cache_dir())}
    if os.path.isdir("/var/lib/docker"):
        places["docker"] = "/var/lib/docker"
    free = {name: shutil.disk_usage(path).free / 2**30 for name, path in places.items()}
    line = "free disk: " + ", ".join(f"{name} {gib:.1f} GiB" for name, gib in free.items())
    return line + ("  << below 15 GiB: tests that unpack trees may fail" if min(free.values()) < 15 else "")


@pytest.fixture(scope="session")
def docker_image() -> str:
    """The default sandbox image; fails (never skips) when Docker or any sandbox image is missing."""
    from dsgym.sandbox.base import SandboxError
    from dsgym.sandbox.docker import client

    try:
        docker_client = client()
    except SandboxError as exc:
        pytest.fail(f"{exc}\nRun `bash .ci/setup.sh` first (or deselect with -m 'not docker').")
    missing = [images.image_tag(name) for name in images.image_names()
               if not images.image_exists(docker_client, images.image_tag(name))]
    if missing:
        pytest.fail(f"image(s) {', '.join(missing)} missing: run `dsgym sandbox build` (or bash .ci/setup.sh)")
    return images.default_image()


@pytest.fixture(scope="session")
def secret_suite(tmp_path_factory) -> dsgym.registry.Suite:
    """A suite registered from a temp folder whose answers are unguessable strings."""
    root = tmp_path_factory.mktemp("secret-suite")
    (root / "data").mkdir()
    (root / "data" / "numbers.csv").write_text("x,y\n" + "".join(f"{i},{i * 3 % 7}\n" for i in range(100)))
    secret = f"dsgym-secret-{uuid.uuid4().hex}"
    solution = "import pandas as pd\nanswer = int(pd.read_csv('/data/numbers.csv')['y'].sum())\n"
    manifest = {
        "suite": "secret-test", "version": "1", "data_dir": "data",
        "tasks": [
            {"id": "secret", "question": "What is the code word?", "data_files": ["numbers.csv"],
             "metric": "exact_match", "answer": secret},
            {"id": "sum-y", "question": "Sum of y?", "data_files": ["numbers.csv"],
             "metric": "numeric", "answer": sum(i * 3 % 7 for i in range(100)), "solution": solution},
            {"id": "no-data", "question": "Say hi.", "metric": "exact_match", "answer": "hi"},
        ],
    }
    (root / "manifest.json").write_text(json.dumps(manifest))
    suite = dsgym.register_suite(root)
    assert not suite.errors, suite.errors
    return suite


@pytest.fixture
def make_env(docker_image, secret_suite):
    """``make_env(env_id, **options)`` with every env closed at teardown."""
    made = []

    def factory(env_id: str = "secret-test/sum-y", **options):
        env = dsgym.make(env_id, **options)
        made.append(env)
        return env

    yield factory
    for env in made:
        env.close()


@pytest.fixture(scope="session")
def predict_suite(tmp_path_factory) -> dict:
    """The toy prediction suite of ``tests.support.predict_suite``, registered as ``predict-env``; its facts."""
    from tests.support.predict_suite import write_prediction_suite  # pandas: not in every integration's venv

    facts = write_prediction_suite(tmp_path_factory.mktemp("predict-env"), name="predict-env")
    suite = dsgym.register_suite(facts["root"])
    assert not suite.errors, suite.errors
    return facts
