"""Recompute every task's stored answer from its reference solution, and its value on the published data.

For each task in ``manifest.json`` the reference solution ``solutions/<id>.py`` is run twice in this
process, with ``/data/`` pointing at

* ``data/`` (the suite's files, written by ``make_data.py``): the result becomes the task's ``answer``;
* the same files, after each plausible wrong method of ``wrong_methods.py`` is applied to the solution's
  text: the results become ``metadata.wrong_method_values``;
* the files as published, without held-out rows or windows (``make_data.py --unmodified``): the result
  becomes ``metadata.published_data_value``, what a model that remembers the figures printed for the
  famous full data set would answer.  ``tests/test_tasks.py`` checks that this value fails the task's
  metric, so no stored answer can be recited from memory.

Run with the sandbox's pinned stack (pandas 3.1.1, numpy 2.4.6, scipy 1.17.1, scikit-learn 1.9.1,
statsmodels 0.15.0) plus palmerpenguins and causaldata for the published files:
``python compute_answers.py``.  Then check the answers in the sandbox with
``dsgym eval dsgym-tasks-lite --agent oracle``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

SUITE = Path(__file__).resolve().parent
sys.path.insert(0, str(SUITE))

from wrong_methods import WRONG_METHODS  # noqa: E402 - the suite folder is not a package


def run_solution(path: Path, data_dir: Path, edits: list[tuple[str, str]] = ()) -> Any:
    """The solution's ``answer`` with its ``/data/`` paths pointed at ``data_dir``, after ``edits``."""
    namespace: dict[str, Any] = {}
    code = path.read_text(encoding="utf-8")
    for old, new in edits:
        if old not in code:
            raise SystemExit(f"{path.name}: wrong-method edit does not apply: {old!r}")
        code = code.replace(old, new)
    code = code.replace("/data/", f"{data_dir}/")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(compile(code, str(path), "exec"), namespace)  # noqa: S102 - the suite's own reference code
    answer = namespace["answer"]
    return answer if isinstance(answer, (str, list)) else float(answer)


def main() -> None:
    manifest_path = SUITE / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    unknown = set(WRONG_METHODS) - {task["id"] for task in manifest["tasks"]}
    if unknown:
        raise SystemExit(f"wrong_methods.py names tasks the manifest does not have: {sorted(unknown)}")
    with tempfile.TemporaryDirectory() as tmp:
        published = Path(tmp)
        subprocess.run([sys.executable, str(SUITE / "make_data.py"), "--unmodified", str(published)],
                       check=True, stdout=subprocess.DEVNULL)
        for task in manifest["tasks"]:
            solution = SUITE / task["solution_file"]
            data = SUITE / manifest["data_dir"]
            task["answer"] = run_solution(solution, data)
            wrong = {label: run_solution(solution, data, edits)
                     for label, edits in WRONG_METHODS.get(task["id"], {}).items()}
            task["metadata"].pop("wrong_method_values", None)
            if wrong:
                task["metadata"]["wrong_method_values"] = wrong
            try:
                task["metadata"]["published_data_value"] = run_solution(solution, published)
            except Exception as exc:  # noqa: BLE001 - e.g. a column only the suite's files have
                task["metadata"]["published_data_value"] = f"not computable: {type(exc).__name__}"
            print(f"{task['id']:50s} {task['answer']!r:.40} (published data: "
                  f"{task['metadata']['published_data_value']!r:.40})")
    manifest_path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
