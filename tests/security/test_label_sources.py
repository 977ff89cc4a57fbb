"""Threat: the hidden labels of a prediction task are derivable from a packaged copy of its source
data inside the sandbox (scikit-learn, statsmodels and scanpy ship the full labelled data sets
that tasks/dspredict-lite splits, scikit-learn's test fixtures also the Palmer penguins; joining the test rows back to them recovers every label).

The predict image deletes them at build time (sandboxes/withhold_data.py with
sandboxes/predict/withheld-data.txt); this test plays a real dspredict-lite task in it.
"""

from __future__ import annotations

import fnmatch
import json

import pytest

from dsgym.sandbox import images
from tests.support.helpers import REPO
from tests.security.probe import cell_json

# What marks a copy of each source: the first record of the file as the package ships it
# (gzip files are read decompressed); for pbmc68k_reduced, an HDF5 file (its signature bytes)
# that holds the `bulk_labels` column (the cell barcodes are stored compressed, and the names
# of the labels also occur in scanpy's docstrings); for penguins, the first bird's bill and
# flipper measurements (palmerpenguins writes `181`, the copy among scikit-learn's OpenML test
# fixtures `181.0`).  A file is a copy when it holds every part; every installed package is
# searched, not only the sources' own.  The control test finds each one in the bio image, which keeps the packages' data.
SIGNATURES = {
    "breast_cancer": ["17.99,10.38,122.8,1001"],
    "wine": ["14.23,1.71,2.43,15.6,127"],
    "diabetes": ["59 2 32.1 101.0 157 93.2"],
    "digits": ["0,0,5,13,9,1,0,0,0,0,13,15,10,15,5,0"],
    "co2": ["19580329,316.1"],
    "macrodata": ["1959,1,2710.349"],
    "randhie": ["2,4.61512,1,6.907755,0,0,13.73189"],
    "anes96": ["190\t1\t3\t3\t5\t1\t20"],
    "penguins": ["39.1,18.7,181"],
    "pbmc68k_reduced": ["\x89HDF\r\n\x1a\n", "bulk_labels"],
}

PROBE = """
import gzip, importlib, os, pathlib
outcome = {"loaded": [], "present": [], "copies": []}
import sklearn.datasets as skd
for name in ["load_breast_cancer", "load_wine", "load_diabetes", "load_digits"]:
    try:
        getattr(skd, name)()
        outcome["loaded"].append("sklearn." + name)
    except Exception:
        pass
import statsmodels.datasets as smd
for name in ["co2", "macrodata", "randhie", "anes96"]:
    try:
        getattr(smd, name).load_pandas()
        outcome["loaded"].append("statsmodels." + name)
    except Exception:
        pass
try:
    import scanpy
    scanpy.datasets.pbmc68k_reduced()
    outcome["loaded"].append("scanpy.pbmc68k_reduced")
except Exception:
    pass
roots = {name: pathlib.Path(importlib.import_module(name).__file__).parent
         for name in ["sklearn", "statsmodels", "scanpy", "anndata"]}
if (roots["scanpy"] / "datasets" / "10x_pbmc68k_reduced.h5ad").exists():
    outcome["present"].append("scanpy/datasets/10x_pbmc68k_reduced.h5ad")
outcome["present"] += sorted(str(p.relative_to(roots["statsmodels"])) for p in roots["statsmodels"].rglob("tests"))
signatures = {k: [part.encode("latin-1") for part in v] for k, v in SIGNATURES.items()}
for path in roots["sklearn"].parent.rglob("*"):  # every installed package, not only the sources' own
    if not path.is_file() or path.suffix in (".so", ".pyc") or path.stat().st_size > 50_000_000:
        continue
    data = path.read_bytes()
    if path.suffix == ".gz":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError):
            pass
    outcome["copies"] += [f"{k}: {path}" for k, parts in signatures.items()
                         if all(part in data for part in parts)]
emit(outcome)
"""


def probe_code() -> str:
    return f"SIGNATURES = {SIGNATURES!r}\n" + PROBE


def probe(make_env, env_id: str, image: str) -> dict:
    env = make_env(env_id, cell_timeout=240)
    env.reset(seed=0)
    sandbox = env.unwrapped.sandbox
    assert images.image_tag(image) in (sandbox.container.image.tags if hasattr(sandbox, 'container') else [sandbox.image])
    outcome, obs, _ = cell_json(env, f"SIGNATURES = {SIGNATURES!r}\n" + PROBE)
    return outcome


@pytest.mark.docker
def test_the_predict_image_withholds_every_label_source_of_dspredict_lite(make_env):
    outcome = probe(make_env, "dspredict-lite/breast-cancer-diagnosis", "predict")
    assert outcome["loaded"] == [], f"label sources loadable in the sandbox: {outcome['loaded']}"
    assert outcome["present"] == [], f"label-bearing files left in the image: {outcome['present']}"
    assert outcome["copies"] == [], f"copies of label sources in the image: {outcome['copies']}"


@pytest.mark.docker
def test_the_probe_finds_every_source_where_it_is_kept(make_env):
    """The control: the bio image keeps the bundled data (sandboxes/bio/withheld-data.txt says
    why), so the same probe must load all nine sources there and find each signature."""
    outcome = probe(make_env, "dsbio-lite/pbmc-pca-variance-top10", "bio")
    assert len(outcome["loaded"]) == 9, outcome["loaded"]
    assert "scanpy/datasets/10x_pbmc68k_reduced.h5ad" in outcome["present"]
    assert any(p.endswith("stl/tests") for p in outcome["present"]), outcome["present"]
    found = {copy.split(":")[0] for copy in outcome["copies"]}
    assert found == set(SIGNATURES), set(SIGNATURES) - found


def withheld_patterns(image: str) -> list[tuple[str, str]]:
    lines = (REPO / "sandboxes" / image / "withheld-data.txt").read_text().splitlines()
    return [tuple(line.split("#")[0].split()) for line in lines if line.split("#")[0].strip()]


def test_every_packaged_source_of_a_prediction_suite_is_withheld_from_its_image():
    """A task added to dspredict-lite from data its image's packages ship must be listed too."""
    manifest = json.loads((REPO / "tasks" / "dspredict-lite" / "manifest.json").read_text())
    image = manifest["image"]
    installed = {line.split("==")[0].strip().lower()
                 for line in (REPO / "sandboxes" / image / "requirements.txt").read_text().splitlines()
                 if "==" in line.split("#")[0]}
    patterns = withheld_patterns(image)
    checked = []
    for source in manifest["sources"]:
        package = source["package"].split("==")[0].lower()
        if package not in installed:
            continue
        first, *more = [part.strip() for part in source["path"].split(" + ")]
        folder = first.rsplit("/", 1)[0]
        for path in [first, *(f"{folder}/{name}" for name in more)]:
            module, _, inner = path.partition("/")
            covered = any(name == module and (inner.startswith(glob) if glob.endswith("/")
                                              else fnmatch.fnmatch(inner, glob))
                          for name, glob in patterns)
            assert covered, f"{path} ({source['dataset']}) ships in the {image} image and is not withheld"
            checked.append(path)
    assert len(checked) >= 10, checked  # 9 data sets, diabetes in two files
    for name in images.image_names():
        assert images.withheld_list(name) in images.sandbox_files(name), name
