"""Each RL integration's tests, run in its own venv against the versions CI pins (tests/support/integrations.py).

They run in a network namespace of their own with nothing but loopback (``unshare --net``):
the fake model servers, ``dsgym serve`` and ``vf-eval`` all live on loopback, so this also
proves that a run needs no network (verifiers' eval included, with ``--no-push``).
"""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.support.helpers import REPO
from tests.support.integrations import INTEGRATIONS, Integration

OFFLINE = ["unshare", "--net", "sh", "-c", 'ip link set lo up && exec "$@"', "offline"]


def test_a_network_namespace_has_loopback_only():
    probe = subprocess.run([*OFFLINE, "ip", "-o", "link"], capture_output=True, text=True, check=False)
    assert probe.returncode == 0, ("the integration tests run offline in a network namespace, which needs root "
                                   f"(CAP_SYS_ADMIN), unshare and ip: {probe.stderr.strip()}")
    assert [line.split(":")[1].strip() for line in probe.stdout.splitlines()] == ["lo"]


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.parametrize("integration", INTEGRATIONS, ids=lambda i: i.name)
def test_the_integrations_tests_pass_offline_in_its_own_environment(integration: Integration, docker_image):
    python = integration.venv / "bin" / "python"
    assert python.exists(), (f"{integration.venv.name} is missing: run `bash .ci/setup.sh`, which installs "
                             f"dsgym[{integration.name}] there with {integration.constraints.relative_to(REPO)}")
    found = subprocess.run([str(python), "-c", f"import importlib.metadata as m; print(m.version({integration.distribution!r}))"],
                           capture_output=True, text=True, check=False).stdout.strip()
    assert found == integration.pinned(), (f"{integration.venv.name} has {integration.distribution} {found or 'missing'}, "
                                           f"CI pins {integration.pinned()}: re-run `bash .ci/setup.sh`")

    proc = subprocess.run([*OFFLINE, str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", *integration.tests],
                          cwd=REPO, capture_output=True, text=True, timeout=1800, check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{integration.name}'s tests failed in {integration.venv.name}:\n{output[-6000:]}"
    summary = output.strip().splitlines()[-1]
    assert re.search(r"\d+ passed", summary) and not re.search(r"skipped|deselected|xfail", summary), summary
