"""What a filter run writes: the filtered suite's manifest, the report (JSONL + Markdown) and a README.

Every file is a pure function of the decisions: keys sorted, tasks in the source
suite's order, paths relative to the output folder, no timestamps, so a rerun
writes byte-identical files.  Files are written to a temp file and renamed.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dsgym.filter.checks import CHECKS, STATUSES, CheckResult
from dsgym.scoring.profiles import source_suite
from dsgym.suite_files import UnsafePathError, check_regular, walk_files
from dsgym.task import Suite, Task

MANIFEST = "manifest.json"
REPORT_JSONL = "filter-report.jsonl"
REPORT_MD = "filter-report.md"
README = "README.md"


class FilterError(RuntimeError):
    """The filter cannot run or cannot write its output as asked; the message says why."""


@dataclass
class TaskReport:
    """Every check's result for one task, and the decision."""

    task: str
    checks: dict[str, CheckResult]
    keep: bool = field(init=False)
    reasons: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.reasons = [f"{name}: {result.reason}" for name, result in self.checks.items()
                        if result.status == "fail"]
        self.keep = not self.reasons

    def to_dict(self) -> dict[str, Any]:
        return {"task": self.task, "keep": self.keep, "reasons": self.reasons,
                "checks": {name: result.to_dict() for name, result in self.checks.items()}}


def write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; these are shared, shipped files
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def dumps(value: Any, indent: int | None = None) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, indent=indent, default=str)


def summary(reports: list[TaskReport]) -> dict[str, Any]:
    counts = {name: {status: 0 for status in STATUSES} for name in CHECKS}
    for report in reports:
        for name, result in report.checks.items():
            counts[name][result.status] += 1
    kept = sum(report.keep for report in reports)
    return {"tasks": len(reports), "kept": kept, "dropped": len(reports) - kept,
            "dropped_by": {name: counts[name]["fail"] for name in CHECKS}, "statuses": counts}


# ----- the manifest --------------------------------------------------------------------------


def _raw_entries(suite: Suite) -> dict[str, dict[str, Any]]:
    """The source manifest's task entries (to keep their exact fields), if the suite has one."""
    path = suite.root / MANIFEST
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(raw, dict) or raw.get("suite") != suite.name:
        return {}
    return {e["id"]: e for e in raw.get("tasks", []) if isinstance(e, dict) and isinstance(e.get("id"), str)}


def _relative(target: Path, start: Path) -> str:
    return Path(os.path.relpath(os.path.normpath(target.absolute()), start.absolute())).as_posix()


def _entry_from_task(task: Task) -> dict[str, Any]:
    return task.model_dump(mode="json", exclude={"suite"}, exclude_defaults=True)


def manifest_tasks(suite: Suite, kept: list[Task], out_dir: Path, copy_data: bool) -> tuple[str, list[dict]]:
    """``data_dir`` and the task entries of the filtered manifest (copying files if ``copy_data``)."""
    raw = _raw_entries(suite)
    entries = []
    for task in kept:
        entry = dict(raw.get(task.id) or _entry_from_task(task))
        entry.pop("suite", None)
        # graded under --scoring official as a task of the suite it came from, however often re-filtered
        entry["metadata"] = {**(entry.get("metadata") or {}), "source_suite": source_suite(task)}
        if copy_data:
            if task.solution:
                entry.pop("solution", None)
                entry["solution_file"] = f"solutions/{task.id}.py"
                write_text(out_dir / entry["solution_file"], task.solution)
        elif "solution_file" in entry:
            entry["solution_file"] = _relative(suite.root / entry["solution_file"], out_dir)
        entries.append(entry)
    if copy_data:
        placed: dict[str, Path] = {}
        for task in kept:
            try:
                _copy_data(task, out_dir / "data", placed)
            except UnsafePathError as exc:  # a link out of the suite's data folder is never followed
                raise FilterError(f"task {task.env_id}: {exc}; nothing outside a suite's data folder is "
                                  "copied") from exc
        return "data", entries
    roots = sorted({os.path.normpath(task.data_root.absolute()) for task in suite.tasks.values()})
    if len(roots) > 1:
        raise FilterError(f"suite {suite.name}'s tasks read data from {len(roots)} folders; one data_dir cannot "
                          "reference them all: copy the data instead (copy_data=True, --copy-data)")
    data_root = Path(roots[0]) if roots else suite.root / "data"
    return _relative(data_root, out_dir), entries


def _copy_data(task: Task, dest: Path, placed: dict[str, Path]) -> None:
    """Copy a task's data files (resolved, checked to stay in its data folder) under ``dest``."""
    for rel, src in task.data_paths().items():
        if rel in placed and placed[rel] != src:
            raise FilterError(f"two data files would be copied to data/{rel}: {placed[rel]} and {src}")
        placed[rel] = src
        if not src.exists():
            continue
        target = dest / rel
        if src.is_dir():
            files = [(target / sub, file) for sub, file in walk_files(src)]
        else:
            check_regular(src, None, f"data file {rel}")
            files = [(target, src)]
        for path, file in files:
            path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(file, path)


def write_manifest(out_dir: Path, suite: Suite, name: str, kept: list[Task], filter_block: dict[str, Any],
                   copy_data: bool) -> Path:
    data_dir, entries = manifest_tasks(suite, kept, out_dir, copy_data)
    probe = filter_block["blind_probe"]
    probe_note = (f"blind probe {probe}" if isinstance(probe, str) else
                  f"blind probe on answers recorded from {', '.join(probe['models'])}" if "answers" in probe else
                  f"blind probe with {probe['model']}")
    description = (f"{suite.name} filtered by `dsgym filter` ({probe_note}; "
                   f"{'data grounding and quality checks' if filter_block['sandbox_checks'] else 'no sandbox checks'}"
                   f"): {len(kept)} of {len(suite.tasks)} tasks kept. {suite.description}").strip()
    manifest = {"suite": name, "version": suite.version, "description": description, "data_dir": data_dir,
                "image": suite.image, "sources": suite.sources, "filter": filter_block, "tasks": entries}
    path = out_dir / MANIFEST
    write_text(path, dumps(manifest, indent=2) + "\n")
    return path


# ----- the report ----------------------------------------------------------------------------


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def summary_table(stats: dict[str, Any]) -> list[str]:
    lines = ["| check | pass | fail (dropped) | skip | inconclusive | error |",
             "|---|---:|---:|---:|---:|---:|"]
    for name in CHECKS:
        row = stats["statuses"][name]
        lines.append(f"| {name} | {row['pass']} | {row['fail']} | {row['skip']} | {row['inconclusive']} | "
                     f"{row['error']} |")
    lines.append(f"| **all checks** | | **{stats['dropped']}** | | | |")
    return lines


def settings_lines(filter_block: dict[str, Any]) -> list[str]:
    probe = filter_block["blind_probe"]
    if isinstance(probe, str):
        probe_text = probe
    elif "answers" in probe:  # recorded answers (dsgym.filter.recorded)
        probe_text = (f"recorded answers `{probe['answers']}` (sha256 `{probe['sha256']}`; {probe['count']} answers "
                      f"to {probe['tasks']} tasks from {', '.join(f'`{m}`' for m in probe['models'])}), k = the "
                      f"samples recorded per task, flagged at pass rate >= {probe['threshold']:g}; "
                      f"{len(probe['not_probed'])} answer task(s) not probed (no recorded answer)")
    else:
        probe_text = (f"model `{probe['model']}`, k = {probe['samples']} samples at temperature "
                      f"{probe['temperature']:g}, flagged at pass rate >= {probe['threshold']:g}")
    return [f"- source suite: `{filter_block['source']['suite']}` (version {filter_block['source']['version']}, "
            f"{filter_block['source']['tasks']} tasks)",
            f"- checks: {', '.join(filter_block['checks'])}",
            f"- blind probe: {probe_text}",
            f"- perturbations (in order, seed {filter_block['seed']}): {', '.join(filter_block['perturbations'])}",
            f"- solution timeout: {filter_block['timeout']:g} s per run"]


def write_report(out_dir: Path, reports: list[TaskReport], stats: dict[str, Any], name: str,
                 filter_block: dict[str, Any]) -> tuple[Path, Path]:
    jsonl = out_dir / REPORT_JSONL
    write_text(jsonl, "".join(dumps(report.to_dict()) + "\n" for report in reports))
    lines = [f"# Filter report: {filter_block['source']['suite']} -> {name}", "",
             *settings_lines(filter_block), "",
             f"Kept **{stats['kept']}** of {stats['tasks']} tasks; dropped {stats['dropped']}. "
             "A task is dropped when any check fails; a task failing several checks counts under each.", "",
             "## Summary", "", *summary_table(stats), "", "## Tasks", "",
             "| task | decision | " + " | ".join(CHECKS) + " |",
             "|---|---|" + "---|" * len(CHECKS)]
    for report in reports:
        statuses = " | ".join(report.checks[c].status if c in report.checks else "-" for c in CHECKS)
        lines.append(f"| {_cell(report.task)} | {'keep' if report.keep else '**drop**'} | {statuses} |")
    dropped = [r for r in reports if not r.keep]
    lines += ["", "## Why tasks were dropped", ""]
    lines += [f"- `{r.task}`: " + "; ".join(_cell(x) for x in r.reasons) for r in dropped] or ["(none)"]
    probe = filter_block["blind_probe"]
    if isinstance(probe, dict) and probe.get("not_probed"):
        lines += ["", f"## Not probed (no recorded answer in `{probe['answers']}`; kept unless another check "
                      "dropped them)", "", *[f"- `{task}`" for task in probe["not_probed"]]]
    notable = [(r.task, c, res) for r in reports for c, res in r.checks.items()
               if res.status in ("inconclusive", "error")]
    if notable:
        lines += ["", "## Inconclusive and errored checks (tasks kept)", ""]
        lines += [f"- `{t}` {c} ({res.status}): {_cell(res.reason)}" for t, c, res in notable]
    lines += ["", f"Evidence for every check of every task: `{REPORT_JSONL}`.", ""]
    md = out_dir / REPORT_MD
    write_text(md, "\n".join(lines))
    return jsonl, md


def write_readme(out_dir: Path, name: str, stats: dict[str, Any], filter_block: dict[str, Any],
                 command: str) -> Path:
    source = filter_block["source"]["suite"]
    probe = filter_block["blind_probe"]
    lines = [f"# {name}", "",
             f"`{source}` with the tasks that fail dsgym's shortcut-solvability filter removed: "
             f"{stats['kept']} of {stats['tasks']} tasks kept. "
             + ("The data and reference solutions of the kept tasks are copied into this folder."
                if filter_block["data"] == "copied" else
                "The manifest references the data and reference solutions of the source suite by relative "
                "path, so both folders must stay side by side."), ""]
    if isinstance(probe, dict) and "answers" in probe:
        lines += [f"The blind probe graded answers recorded elsewhere, kept in this folder as `{probe['answers']}` "
                  f"(sha256 `{probe['sha256']}`): {probe['count']} answers to "
                  f"{probe['tasks']} tasks by {', '.join(f'`{m}`' for m in probe['models'])}; "
                  f"{probe['prompt_checked']} of them carry the sha256 of the probe prompt they answered, checked "
                  "against the prompt the probe shows now (`dsgym filter --write-blind-prompts` writes the prompts "
                  "with their hashes).", ""]
        if probe.get("note"):
            lines += [f"How they were made: {probe['note']}", ""]
        if probe["not_probed"]:
            lines += [f"**{len(probe['not_probed'])} answer task(s) were not probed** (no recorded answer): "
                      + ", ".join(f"`{t}`" for t in probe["not_probed"]) + ".", ""]
    if isinstance(probe, str):
        lines += [f"**The blind probe did not run** ({probe.removeprefix('not run: ')}): this suite is filtered "
                  "by data grounding and the quality checks only. Run `dsgym filter` with `--model` to add it.", ""]
    lines += ["Settings:", "", *settings_lines(filter_block), "", "Tasks each check dropped:", "",
              *summary_table(stats), "",
              f"Per-task decisions and evidence: `{REPORT_MD}` and `{REPORT_JSONL}`. Regenerate with:", "",
              "```", command, "```", "", "See docs/filter.md for what each check does.", ""]
    path = out_dir / README
    write_text(path, "\n".join(lines))
    return path
