"""Loaders for the official DSGym release: one module per official task format.

Each format module (``daeval``, ``qrdata``, ``dabstep``, ``discoverybench``,
``scienceagentbench``, ``dsbio``, ``dspredict``) has the same three entry points,
all sharing one parser (records -> tasks, see ``records``):

* ``load(root)``: from a folder laid out like the release's ``data/``;
* ``from_dataset(dataset, root)``: from a ``datasets.Dataset`` with the same columns;
* ``from_hub(root, repo_id=..., split=...)``: through ``datasets.load_dataset``.

``discover(data_dir)`` builds every official suite present in a folder, plus the
``dsgym-tasks`` union.  See docs/suites.md for ids, metrics and what the release omits.

``mlebench`` reads a different layout, MLE-bench's own prepared competitions
(``mlebench.load(data_dir, competitions)``, docs/mlebench.md).
"""

from dsgym.loaders import (dabstep, daeval, discoverybench, dsbio, dspredict, mlebench, qrdata,
                           scienceagentbench)
from dsgym.loaders.gold import gold_submission
from dsgym.loaders.official import ANALYSIS_SUITES, FORMATS, UNION, discover, load_suite, release_root, union
from dsgym.loaders.records import DEFAULT_HUB_REPO, OfficialFormat, RecordError

__all__ = [
    "ANALYSIS_SUITES", "DEFAULT_HUB_REPO", "FORMATS", "UNION", "OfficialFormat", "RecordError",
    "dabstep", "daeval", "discover", "discoverybench", "dsbio", "dspredict", "gold_submission",
    "load_suite", "mlebench", "qrdata", "release_root", "scienceagentbench", "union",
]
