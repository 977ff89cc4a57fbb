"""Running code in a fresh sandbox for the filter: a reference solution, a load check, a helper script.

Every run gets its own sandbox (started, given its files, closed in ``finally``),
so nothing carries over between the runs whose answers are compared.  A failure
of the sandbox itself (it would not start, it was killed) is ``infra`` and is
retried by a later rerun; an exception, a timeout or a dead kernel in the
solution is a result.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from dsgym.sandbox.base import ExecutionResult, Sandbox, SandboxError

BEGIN, END = "<<dsgym-filter>>", "<</dsgym-filter>>"
REPORT = re.compile(re.escape(BEGIN) + r"(.*?)" + re.escape(END), re.DOTALL)
REPORT_TIMEOUT = 120.0
COPY_MAX_BYTES = 4 << 30  # past any sandbox's writable space: the cap is a backstop
COPY_TIMEOUT = 600.0


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
print({BEGIN!r} + __import__('json').dumps(__dsgym_load_check({files!r}, {data_dir!r})) + {END!r})
del __dsgym_load_check
"""


def _failure(result: ExecutionResult, what: str, timeout: float) -> str | None:
    if result.timed_out:
        return f"{what} timed out after {timeout:g} s"
    if result.kernel_died:
        return f"{what}: the kernel died (out of memory?)"
    if result.error is not None:
        return f"{what} raised {result.error.ename}: {result.error.evalue}"[:1000]
    return None


def _reported(result: ExecutionResult) -> str | None:
    found = REPORT.search(result.stdout.text())
    return found.group(1) if found else None


class SandboxRunner:
    """Runs code in fresh sandboxes made by ``factory``; ``stop`` cancels runs not yet started."""

    def __init__(self, factory: Callable[[], Sandbox], timeout: float, stop: threading.Event | None = None):
        self.factory = factory
        self.timeout = timeout
        self.stop = stop or threading.Event()

    def _open(self, files: dict[str, Path]) -> Sandbox:
        if self.stop.is_set():
            raise Cancelled()
        sandbox = self.factory()
        try:
            sandbox.start()
            sandbox.put_data(files)
        except BaseException:
            sandbox.close()
            raise
        return sandbox

    def solution(self, code: str | None, files: dict[str, Path], *, load_check: bool = False) -> Run:
        """Run ``code`` (a reference solution leaving ``answer``) and, optionally, the load check."""
        started = time.monotonic()
        run = Run()
        try:
            sandbox = self._open(files)
        except (SandboxError, OSError) as exc:
            return Run(error=f"sandbox failed: {exc}"[:1000], infra=True, duration=time.monotonic() - started)
        try:
            if code is not None:
                result = sandbox.execute(code, self.timeout)
                run.error = _failure(result, "the solution", self.timeout)
                if run.error is None:
                    shown = sandbox.execute(f"print({BEGIN!r} + str(answer) + {END!r})", REPORT_TIMEOUT)
                    run.answer = _reported(shown)
                    if run.answer is None:
                        missing = shown.error is not None and shown.error.ename == "NameError"
                        run.error = ("the solution left no variable named answer" if missing
                                     else _failure(shown, "printing the answer", REPORT_TIMEOUT)
                                     or "the answer could not be read back")
            if load_check:
                shown = sandbox.execute(load_check_code(sorted(files), sandbox.data_dir), REPORT_TIMEOUT)
                reported = _reported(shown)
                run.loads = json.loads(reported) if reported else {
                    rel: _failure(shown, "the load check", REPORT_TIMEOUT) or "no report" for rel in files}
        except SandboxError as exc:
            run = Run(error=f"sandbox failed: {exc}"[:1000], infra=True)
        finally:
            sandbox.close()
        run.duration = time.monotonic() - started
        return run

    def script(self, source: str, call: str, files: dict[str, Path],
               fetch: Callable[[Any], dict[str, Path]] | None = None) -> tuple[Any, dict[str, int | None]]:
        """Define ``source`` in a fresh sandbox, print ``call``'s JSON result, copy files out.

        ``call`` is an expression returning a JSON-able value; ``fetch(value)`` maps the
        sandbox paths to copy back to host files, streamed there with the sandbox frozen
        (``Sandbox.copy_out``); the second result maps each to its size (None: absent).
        Raises ``SandboxError`` if the sandbox or a copy fails and ``RuntimeError`` if the script does.
        """
        sandbox = self._open(files)
        try:
            defined = sandbox.execute(source, REPORT_TIMEOUT)
            if (problem := _failure(defined, "the helper script", REPORT_TIMEOUT)) is not None:
                raise RuntimeError(problem)
            shown = sandbox.execute(f"print({BEGIN!r} + __import__('json').dumps({call}) + {END!r})",
                                    self.timeout)
            reported = _reported(shown)
            if reported is None:
                raise RuntimeError(_failure(shown, "the helper script", self.timeout) or "no report")
            value = json.loads(reported)
            wanted = fetch(value) if fetch else {}
            if wanted:
                sandbox.freeze()
            copied = {path: sandbox.copy_out(path, dest, max_bytes=COPY_MAX_BYTES, timeout=COPY_TIMEOUT)
                      for path, dest in wanted.items()}
            return value, copied
        finally:
            sandbox.close()
