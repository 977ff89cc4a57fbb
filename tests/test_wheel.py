"""A wheel built from the repo behaves like the checkout in a fresh virtual environment."""

from __future__ import annotations

import json
import subprocess
import sys
import venv

import pytest

import dsgym
import dsgym.agents
from dsgym.sandbox import images
from tests.support.helpers import REPO

PROBE = """
import json, dsgym, dsgym.agents, dsgym.synth
from dsgym.sandbox import images
suite = dsgym.get_suite("dsgym-tasks-lite")
print(json.dumps({
    "file": dsgym.__file__,
    "image": images.default_image(),
    "tasks": sorted(suite.tasks),
    "errors": suite.errors,
    "data_ok": all(p.is_file() for t in suite.tasks.values() for p in t.data_paths().values()),
    "solutions_ok": all(t.solution for t in suite.tasks.values()),
    "agents": sorted(dsgym.agents.AGENTS),
}))
"""


def pip(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    pip([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out / "dist"), str(REPO)])
    wheels = list((out / "dist").glob("dsgym-*.whl"))
    assert len(wheels) == 1
    venv.create(out / "venv", with_pip=True)
    python = out / "venv" / "bin" / "python"
    pip([str(python), "-m", "pip", "install", "-q", str(wheels[0])])
    return out / "venv" / "bin", out


@pytest.mark.slow
def test_wheel_installs_the_package_agents_and_embedded_suites(wheel_venv):
    bin_dir, workdir = wheel_venv
    probe = subprocess.run([str(bin_dir / "python"), "-c", PROBE], capture_output=True, text=True,
                           cwd=workdir, check=True)
    found = json.loads(probe.stdout)
    assert "site-packages" in found["file"]  # not the checkout
    assert found["tasks"] == sorted(dsgym.get_suite("dsgym-tasks-lite").tasks)
    assert found["errors"] == [] and found["data_ok"] and found["solutions_ok"]
    assert found["agents"] == sorted(dsgym.agents.AGENTS)
    # the wheel carries the same Dockerfile, launcher and requirements: same image tag
    assert found["image"] == images.default_image()
    listing = subprocess.run([str(bin_dir / "dsgym"), "tasks", "list", "dsgym-tasks-lite", "--json"],
                             capture_output=True, text=True, cwd=workdir, check=True)
    assert len(listing.stdout.splitlines()) == len(found["tasks"])


@pytest.mark.slow
@pytest.mark.docker
def test_wheel_plays_an_episode_in_docker(wheel_venv, docker_image):
    bin_dir, workdir = wheel_venv
    run = subprocess.run([str(bin_dir / "dsgym"), "run", "dsgym-tasks-lite/longley-vif-gnp"],
                         capture_output=True, text=True, cwd=workdir, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "=== score 1.000 (answer; metric " in run.stdout


@pytest.mark.slow
def test_the_core_install_leaves_the_extras_out_and_names_them(wheel_venv):
    """pandas (predict), scikit-learn/scipy (synth), ipykernel (local sandbox) are extras; using one without it
    says which."""
    bin_dir, workdir = wheel_venv
    present = subprocess.run([str(bin_dir / "python"), "-c", "import importlib.util as u; print([m for m in "
                              "('pandas', 'sklearn', 'scipy', 'ipykernel', 'torch') if u.find_spec(m)])"],
                             capture_output=True, text=True, cwd=workdir, check=True)
    assert present.stdout.strip() == "[]"
    run = subprocess.run([str(bin_dir / "dsgym"), "run", "dsgym-tasks-lite/longley-vif-gnp", "--sandbox", "local"],
                         capture_output=True, text=True, cwd=workdir, timeout=300)
    assert run.returncode == 2 and "pip install 'dsgym[local]'" in " ".join(run.stderr.split())


@pytest.mark.slow
@pytest.mark.docker
def test_the_core_install_grades_a_prediction_task_only_with_the_predict_extra(wheel_venv, docker_image):
    bin_dir, workdir = wheel_venv
    run = subprocess.run([str(bin_dir / "dsgym"), "run", "dspredict-lite/breast-cancer-diagnosis"],
                         capture_output=True, text=True, cwd=workdir, timeout=600)
    assert run.returncode == 2
    assert "pip install 'dsgym[predict]'" in " ".join((run.stdout + run.stderr).split())
