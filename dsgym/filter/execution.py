"""Running code in a fresh sandbox for the filter: a reference solution, a load check, a helper script.

Every run gets its own sandbox (``spec.fresh``: started, given its files, closed
whatever happens), so nothing carries over between the runs whose answers are
compared.  A failure of the sandbox itself (it would not start, it was killed) is
``infra`` and is retried by a later rerun; an exception, a timeout or a dead kernel
in the solution is a result.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from dsgym.sandbox.base import Sandbox, SandboxError
from dsgym.sandbox.scripts import REPORT_TIMEOUT, failure, reported, run_script, show
from dsgym.sandbox.spec import fresh


class Cancelled(Exception):
    """The run was stopped (interrupted) before this sandbox started."""


@dataclass
class Run:
    """What one run of a reference solution gave."""

    answer: str | None = None
    error: str | None = None
    infra: bool = False
    loads: dict[str, str] | None = None
    duration: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None and k != "duration"}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Run:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


def load_check_code(files: list[str], data_dir: str) -> str:
    """A cell that tries to load every data file with the library its extension calls for."""
    return f"""
def __dsgym_load_check(files, root):
    import json, os
    out = {{}}
    for rel in files:
        path = os.path.join(root, rel)
        low = rel.lower()
        try:
            if os.path.isdir(path):
                os.listdir(path)
            elif low.endswith(('.csv', '.csv.gz')):
                import pandas; pandas.read_csv(path)
            elif low.endswith(('.tsv', '.tab', '.tsv.gz')):
                import pandas; pandas.read_csv(path, sep='\\t')
            elif low.endswith(('.parquet', '.pq')):
                import pandas; pandas.read_parquet(path)
            elif low.endswith('.h5ad'):
                import anndata, warnings
                with warnings.catch_warnings():
                    warnings.simplefilter('ignore')
                    anndata.read_h5ad(path)
            elif low.endswith('.json'):
                with open(path, encoding='utf-8') as handle: json.load(handle)
            elif low.endswith('.jsonl'):
                with open(path, encoding='utf-8') as handle: [json.loads(l) for l in handle if l.strip()]
            elif low.endswith(('.xlsx', '.xls')):
                import pandas; pandas.read_excel(path)
            elif low.endswith(('.txt', '.dat', '.md')):
                with open(path, encoding='utf-8') as handle: handle.read()
            else:
                with open(path, 'rb') as handle: handle.read(1)
            out[rel] = 'ok'
        except Exception as exc:
            out[rel] = (type(exc).__name__ + ': ' + str(exc))[:300]
    return out
{show(f"__import__('json').dumps(__dsgym_load_check({files!r}, {data_dir!r}))")}
del __dsgym_load_check
"""


class SandboxRunner:
    """Runs code in fresh sandboxes made by ``factory`` (``SandboxSpec(...).factory()``); ``stop`` cancels
    runs not yet started."""

    def __init__(self, factory: Callable[[], Sandbox], timeout: float, stop: threading.Event | None = None):
        self.factory = factory
        self.timeout = timeout
        self.stop = stop or threading.Event()

    def _check(self) -> None:
        if self.stop.is_set():
            raise Cancelled()

    def solution(self, code: str | None, files: dict[str, Path], *, load_check: bool = False) -> Run:
        """Run ``code`` (a reference solution leaving ``answer``) and, optionally, the load check."""
        self._check()
        started = time.monotonic()
        run = Run()
        try:
            with fresh(self.factory, files) as sandbox:
                if code is not None:
                    result = sandbox.execute(code, self.timeout)
                    run.error = failure(result, "the solution", self.timeout)
                    if run.error is None:
                        shown = sandbox.execute(show("answer"), REPORT_TIMEOUT)
                        run.answer = reported(shown)
                        if run.answer is None:
                            missing = shown.error is not None and shown.error.ename == "NameError"
                            run.error = ("the solution left no variable named answer" if missing
                                         else failure(shown, "printing the answer", REPORT_TIMEOUT)
                                         or "the answer could not be read back")
                if load_check:
                    shown = sandbox.execute(load_check_code(sorted(files), sandbox.data_dir), REPORT_TIMEOUT)
                    text = reported(shown)
                    run.loads = json.loads(text) if text else {
                        rel: failure(shown, "the load check", REPORT_TIMEOUT) or "no report" for rel in files}
        except (SandboxError, OSError) as exc:
            run = Run(error=f"sandbox failed: {exc}"[:1000], infra=True)
        run.duration = time.monotonic() - started
        return run

    def script(self, source: str, call: str, files: dict[str, Path],
               fetch: Callable[[Any], dict[str, Path]] | None = None) -> tuple[Any, dict[str, int | None]]:
        """``dsgym.sandbox.scripts.run_script`` in a fresh sandbox of this runner (unless stopped)."""
        self._check()
        return run_script(self.factory, files, source, call, timeout=self.timeout, fetch=fetch)
