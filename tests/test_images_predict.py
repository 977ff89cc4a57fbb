"""The predict image's definition, the base image's tag and check-submission in every image."""

from __future__ import annotations

import re
import subprocess
from importlib import resources

import pytest

from dsgym.sandbox import images
from tests.support.helpers import REPO, pins


def test_predict_is_the_bio_stack_plus_lightgbm_rdkit_and_pillow():
    bio, predict = pins("bio"), pins("predict")
    assert {k: v for k, v in predict.items() if k in bio} == bio
    assert {"lightgbm", "rdkit", "pillow"} <= set(predict) - set(bio)
    assert predict["pandas"] == "2.3.3"
    assert predict["lightgbm"].startswith("4.7.") and predict["rdkit"].startswith("2026.")
    assert not {"xgboost", "catboost"} & set(predict)
    assert "predict" in images.image_names()


def test_base_tag_carries_a_hash_of_the_package_list(monkeypatch):
    assert "libgomp1" in images.BASE_PACKAGES  # LightGBM's wheel links libgomp.so.1
    tag = images.base_image_tag("bookworm")
    assert re.fullmatch(r"dsgym-base:bookworm-[0-9a-f]{8}", tag)
    monkeypatch.setattr(images, "BASE_PACKAGES", [*images.BASE_PACKAGES, "curl"])
    assert images.base_image_tag("bookworm") != tag


def test_dockerfile_default_base_is_the_current_bookworm_base():
    dockerfile = (REPO / "Dockerfile").read_text()
    default = re.search(r"^ARG BASE_IMAGE=(\S+)$", dockerfile, re.MULTILINE).group(1)
    assert default == images.base_image_tag("bookworm"), "update ARG BASE_IMAGE after changing BASE_PACKAGES"


def test_every_image_ships_the_submission_checker():
    checker = resources.files("dsgym.predict").joinpath("submission.py").read_bytes()
    assert checker.startswith(b"#!/usr/bin/env python3")
    dockerfile = (REPO / "Dockerfile").read_text()
    assert f"COPY {images.CHECK_SUBMISSION} /opt/dsgym/venv/bin/check-submission" in dockerfile
    assert "chmod 0755 /opt/dsgym/venv/bin/check-submission" in dockerfile
    for name in images.image_names():
        assert images.sandbox_files(name)[images.CHECK_SUBMISSION] == checker


def test_the_checker_is_part_of_the_image_tag(monkeypatch):
    before = images.image_tag("predict")
    monkeypatch.setattr(images, "_submission_checker", lambda: b"#!/usr/bin/env python3\nprint('changed')\n")
    assert images.image_tag("predict") != before


def test_every_image_ships_dsgyms_metrics_and_they_are_part_of_the_tag(monkeypatch):
    source = resources.files("dsgym.predict").joinpath("metrics.py").read_bytes()
    assert not re.search(rb"^\s*(from|import) dsgym", source, re.MULTILINE)  # nothing the image lacks
    dockerfile = (REPO / "Dockerfile").read_text()
    assert f"COPY {images.METRICS_MODULE} /opt/dsgym/dsgym_metrics.py" in dockerfile
    for name in images.image_names():
        assert images.sandbox_files(name)[images.METRICS_MODULE] == source
    before = images.image_tag("predict")
    monkeypatch.setattr(images, "_metrics_module", lambda: source + b"\n# changed\n")
    assert images.image_tag("predict") != before


@pytest.mark.docker
def test_predict_image_trains_lightgbm_and_checks_a_submission(docker_image):
    tag = images.image_tag("predict")
    code = (
        "import lightgbm, rdkit, anndata, scanpy, sklearn, PIL, numpy as np, pandas as pd\n"
        "from rdkit import Chem\n"
        "import dsgym_metrics\n"  # dsgym's own metrics, as the grader computes them
        "assert dsgym_metrics.compute('qwk', pd.DataFrame({'y': [1, 2, 3]}), pd.DataFrame({'y': [1, 2, 3]})) == 1\n"
        "x = np.random.default_rng(0).normal(size=(300, 4)); y = 2 * x[:, 0]\n"
        "model = lightgbm.LGBMRegressor(n_estimators=30, verbose=-1).fit(x, y)\n"
        "assert model.score(x, y) > 0.8 and Chem.MolFromSmiles('CCO').GetNumAtoms() == 3\n"
        "open('/workspace/s.csv', 'w').write('id,y\\n1,0.5\\n2,0.1\\n')\n"
        "open('/tmp/sample.csv', 'w').write('id,y\\n1,0\\n2,0\\n')\n"
        "print('ok')\n"
    )
    run = subprocess.run(
        ["docker", "run", "--rm", "--network", "none", "-u", "1000", "--read-only", "--tmpfs", "/tmp",
         "--tmpfs", "/workspace:uid=1000", tag, "sh", "-c",
         "python -c \"$0\" && check-submission /workspace/s.csv --sample /tmp/sample.csv", code],
        capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "ok" in run.stdout and "OK: 2 rows" in run.stdout
