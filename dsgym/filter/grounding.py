"""Data grounding: does the reference solution's answer move when the data does?

The solution is re-run, each time in a fresh sandbox, on perturbed copies of the
task's data files (written host-side, mounted under the same relative paths as
the originals), perturbations tried in the order of ``PERTURBATIONS``; it stops
at the first perturbation that moves the answer (moved = the task's metric no
longer gives the perturbed answer full marks against the unperturbed one).  A
perturbation that changes none of the task's files is not run.  If every run
that completed gave the same answer, the task is not grounded in its data.
"""

from __future__ import annotations

import hashlib
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dsgym.filter import anndata_script
from dsgym.filter.checks import CheckResult, same_answer
from dsgym.filter.execution import Cancelled, SandboxRunner
from dsgym.filter.perturb import PERTURBATIONS, NotPerturbable, file_kind, file_seed, perturb_file
from dsgym.sandbox.base import SandboxError
from dsgym.task import Task

DESCRIPTIONS = {
    "rows-bootstrap": "rows resampled with replacement",
    "numeric-permute": "numeric columns shuffled",
    "labels-permute": "categorical columns relabelled",
    "numeric-affine": "numeric columns scaled/shifted",
    "rows-subsample": "75% of rows kept",
}


class FileDigests:
    """SHA-256 of data files (a folder: of its files' paths and contents), computed once per path."""

    def __init__(self) -> None:
        self._known: dict[Path, str] = {}
        self._lock = threading.Lock()

    def __call__(self, path: Path) -> str:
        with self._lock:
            if path in self._known:
                return self._known[path]
        digest = hashlib.sha256()
        if path.is_dir():
            for item in sorted(p for p in path.rglob("*") if p.is_file()):
                digest.update(item.relative_to(path).as_posix().encode() + b"\0")
                digest.update(hashlib.sha256(item.read_bytes()).digest())
        else:
            with open(path, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
        value = digest.hexdigest()
        with self._lock:
            self._known[path] = value
        return value


@dataclass
class Variant:
    """A task's data under one perturbation: what to mount, what happened to each file."""

    files: dict[str, Path]
    notes: dict[str, str]
    changed: bool
    infra: str | None = None


class PerturbationStore:
    """Perturbed copies, made once per (file content, relative path, perturbation) under ``root``."""

    def __init__(self, root: Path, seed: int, digests: FileDigests) -> None:
        self.root = root
        self.seed = seed
        self.digests = digests
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._lock = threading.Lock()
        self._made: dict[tuple[str, str, str], tuple[Path | None, str]] = {}

    def _key_lock(self, key: tuple[str, str]) -> threading.Lock:
        with self._lock:
            return self._locks.setdefault(key, threading.Lock())

    def variant(self, task: Task, perturbation: str, runner: SandboxRunner) -> Variant:
        files, notes, changed, infra = {}, {}, False, None
        for rel, src in task.data_paths().items():
            if not src.exists():
                continue
            try:
                path, note = self._perturbed(rel, src, perturbation, runner)
            except (SandboxError, Cancelled, OSError) as exc:
                path, note = None, f"not perturbed: the sandbox failed: {exc}"[:300]
                infra = note
            files[rel] = path or src
            notes[rel] = note
            changed = changed or path is not None
        return Variant(files, notes, changed, infra)

    def _perturbed(self, rel: str, src: Path, perturbation: str, runner: SandboxRunner) -> tuple[Path | None, str]:
        digest = self.digests(src)
        key = (digest, rel, perturbation)
        with self._key_lock((digest, rel)):
            if key not in self._made:
                if file_kind(rel) == "anndata":
                    self._make_anndata(rel, src, digest, runner)
                else:
                    self._made[key] = self._make_host(rel, src, digest, perturbation)
            return self._made[key]

    def _target(self, digest: str, perturbation: str, rel: str) -> Path:
        target = self.root / perturbation / digest[:16] / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def _make_host(self, rel: str, src: Path, digest: str, perturbation: str) -> tuple[Path | None, str]:
        target = self._target(digest, perturbation, rel)
        try:
            perturb_file(src, target, perturbation, self.seed, rel)
        except NotPerturbable as exc:
            return None, f"not perturbed: {exc}"
        except (OSError, ValueError, ImportError) as exc:
            return None, f"not perturbed: {type(exc).__name__}: {exc}"[:300]
        if _same_bytes(src, target):
            target.unlink()
            return None, "unchanged (nothing this perturbation applies to)"
        return target, DESCRIPTIONS[perturbation]

    def _make_anndata(self, rel: str, src: Path, digest: str, runner: SandboxRunner) -> None:
        """All perturbations of one .h5ad file at once, in one sandbox of the suite's image."""
        jobs = [(name, file_seed(self.seed, name, rel)) for name in PERTURBATIONS]
        source = Path(anndata_script.__file__).read_text()
        call = f"make_all({'/data/' + rel!r}, '/workspace/perturbed', {jobs!r})"
        try:
            report, copied = runner.script(
                source, call, {rel: src},
                fetch=lambda value: {v["path"]: self._target(digest, name, rel)
                                     for name, v in value.items() if name in PERTURBATIONS and "path" in v})
        except RuntimeError as exc:
            reason = str(exc)
            if "anndata" in reason and ("ModuleNotFound" in reason or "No module" in reason):
                reason = "anndata is not installed in this suite's sandbox image"
            for name in PERTURBATIONS:
                self._made[(digest, rel, name)] = (None, f"not perturbed: {reason}"[:300])
            return
        for name in PERTURBATIONS:
            entry = report.get(name, {})
            if "path" not in entry or copied.get(entry["path"]) is None:
                self._made[(digest, rel, name)] = (None, f"not perturbed: {entry.get('error', 'no result')}"[:300])
                continue
            target = self._target(digest, name, rel)
            self._made[(digest, rel, name)] = (target, entry.get("note") or DESCRIPTIONS[name])

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def _same_bytes(a: Path, b: Path) -> bool:
    if a.stat().st_size != b.stat().st_size:
        return False
    return a.read_bytes() == b.read_bytes()


def grounding_runs(task: Task, reference: Any, store: PerturbationStore, runner: SandboxRunner,
                   perturbations: tuple[str, ...] = PERTURBATIONS) -> list[dict[str, Any]]:
    """Run the solution under each perturbation until one moves the answer; one entry per perturbation."""
    entries: list[dict[str, Any]] = []
    for name in perturbations:
        variant = store.variant(task, name, runner)
        entry: dict[str, Any] = {"perturbation": name, "files": variant.notes, "applied": variant.changed}
        if variant.infra:
            entry["infra"] = variant.infra
        entries.append(entry)
        if not variant.changed:
            continue
        run = runner.solution(task.solution, variant.files)
        if run.infra:
            entry["infra"] = run.error
            continue
        if run.error:
            entry["error"] = run.error
            continue
        equal, how = same_answer(task, run.answer, reference)
        entry.update(answer=run.answer, moved=not equal, compared=how)
        if not equal:
            break
    return entries


def grounding_result(task: Task, baseline: dict[str, Any] | None, entries: list[dict[str, Any]] | None,
                     reference: Any) -> CheckResult:
    if not task.data_files:
        return CheckResult("fail", "the task has no data files, so its answer cannot depend on data")
    if not task.solution:
        return CheckResult("skip", "no reference solution to re-run")
    if baseline is None or entries is None:
        return CheckResult("skip", "not run")
    if baseline.get("infra"):
        return CheckResult("error", f"the reference run failed: {baseline.get('error')}")
    if baseline.get("answer") is None:
        return CheckResult("skip", "the reference solution did not give an answer (see reproduces)")
    evidence = {"reference": str(reference)[:300], "runs": entries}
    moved = [e for e in entries if e.get("moved")]
    if moved:
        return CheckResult("pass", f"the answer moved under {moved[0]['perturbation']} "
                                   f"({str(reference)[:60]} -> {str(moved[0]['answer'])[:60]})", evidence)
    if any("infra" in e for e in entries):
        return CheckResult("error", "a perturbed run failed in the sandbox (rerun to retry)", evidence)
    unmoved = [e["perturbation"] for e in entries if "moved" in e]
    if unmoved:
        return CheckResult("fail", f"the answer ({str(reference)[:60]}) did not move under "
                                   f"{len(unmoved)} perturbation(s): {', '.join(unmoved)}", evidence)
    if any(e["applied"] for e in entries):
        return CheckResult("inconclusive", "the solution failed on every perturbed copy of the data", evidence)
    return CheckResult("skip", "none of the task's files could be perturbed", evidence)


def grounding_complete(entries: list[dict[str, Any]] | None) -> bool:
    return not entries or not any("infra" in e for e in entries)
