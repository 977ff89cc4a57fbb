"""Building the static site: one folder of HTML pages (styles and script inline) and copied figures.

Layout: ``index.html`` (the folders opened, and a comparison when there are two
runs), then per folder ``<slug>/index.html`` and, for a run, ``<slug>/episodes/<n>.html``
and ``<slug>/figures/``.  Episode pages are separate files so a run page stays one
small index however many episodes the run has.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

from dsgym import registry, report
from dsgym.figures import FigureLimits
from dsgym.run_folder import ARTIFACTS
from dsgym.view import pages
from dsgym.view.sources import FilterReport, Run, Source, ViewError, detect

MARK = ".dsgym-view"  # marks a folder this module built, so a rebuild may clear it
FIGURE_NAME = re.compile(r"[^./\\][^/\\]*\.png")  # a PNG file name, no folder
MAX_FIGURE_BYTES = FigureLimits().figure_bytes
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@dataclass
class Site:
    root: Path
    index: Path
    pages: int


def prepare(out: Path) -> None:
    """Empty ``out`` for a rebuild, but never a folder that something else wrote."""
    if out.exists():
        if not out.is_dir() or (any(out.iterdir()) and not (out / MARK).exists()):
            raise ViewError(f"{out} exists and is not a dsgym view folder; pick another --out")
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / MARK).write_text("built by dsgym view; rebuilt (emptied) by the next build\n")


def slugs(sources: list[Source]) -> list[str]:
    taken: list[str] = []
    for source in sources:
        base = re.sub(r"[^A-Za-z0-9._-]+", "-", source.name).strip("-.") or "source"
        slug, n = base, 2
        while slug in taken:
            slug, n = f"{base}-{n}", n + 1
        taken.append(slug)
    return taken


def reference_of(suite: str, task_id: str) -> str | None:
    """The task's reference answer from the registry, or None when the task no longer exists."""
    try:
        task = registry.get_task(suite, task_id)
    except registry.UnknownEnvError:
        return None
    if task.answer is None:
        return "(no reference answer: graded from the submission file)"
    answer = task.answer
    return answer if isinstance(answer, str) else json.dumps(answer, ensure_ascii=False, default=str)


class Figures:
    """Copies a run's figures into the site on first use and says where they went.

    A figure is taken only from the run's own artifacts folder, by the file name the
    episode record lists; the file must resolve inside that folder (no symlink out of
    it), be a regular PNG file and at most ``MAX_FIGURE_BYTES``.  Anything else is
    shown as missing: a run folder is not trusted to name host files.
    """

    def __init__(self, run: Path, target: Path):
        self.run, self.target = run, target

    def __call__(self, recorded: str) -> str | None:
        name = PurePath(recorded.replace("\\", "/")).name
        if not FIGURE_NAME.fullmatch(name):
            return None
        try:
            root = self.run.resolve(strict=True) / ARTIFACTS
            source = (root / name).resolve(strict=True)  # a symlinked artifacts folder or file leaves root
        except (OSError, RuntimeError):
            return None
        if source != root / name:
            return None
        if not (self.target / name).exists() and not self._copy(source, self.target / name):
            return None
        return f"../{self.target.name}/{name}"

    def _copy(self, source: Path, dest: Path) -> bool:
        try:
            fd = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            return False
        with os.fdopen(fd, "rb") as file:
            info = os.fstat(file.fileno())
            if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_FIGURE_BYTES:
                return False
            data = file.read(MAX_FIGURE_BYTES + 1)
        if len(data) > MAX_FIGURE_BYTES or not data.startswith(PNG_MAGIC):
            return False
        self.target.mkdir(exist_ok=True)
        dest.write_bytes(data)
        return True


def build_run(run: Run, folder: Path) -> tuple[str, int]:
    """The run page and one page per episode; returns the overview line and the number of pages."""
    summary = report.summarize_run(run.path)
    index = pages.index_rows(run.records, run.bad)
    (folder / "index.html").write_text(pages.run_page(run.name, run.manifest, summary, index, run.bad),
                                       encoding="utf-8")
    episodes = folder / "episodes"
    episodes.mkdir()
    figures = Figures(run.path, folder / "figures")
    references: dict[tuple[str, str], str | None] = {}
    for n, record in enumerate(run.records):
        key = (record.get("suite") or str(record.get("env_id", "")).split("/")[0], str(record.get("task_id")))
        if key not in references:
            references[key] = reference_of(*key)
        (episodes / f"{n}.html").write_text(pages.episode_page(run.name, n, record, references[key], figures),
                                            encoding="utf-8")
    line = (f"{summary.agent or '?'}" + (f" ({summary.model})" if summary.model else "")
            + f": {summary.episodes} episode(s), mean score {summary.overall.mean} (scoring: {summary.scoring}) "
            + f"(left out: {report.excluded_text(summary.overall.excluded)})"
            + (f", {len(run.bad)} unreadable line(s)" if run.bad else ""))
    return line, len(run.records) + 1


def build_filter(source: FilterReport, folder: Path) -> tuple[str, int]:
    (folder / "index.html").write_text(pages.filter_page(source.name, source.manifest, source.reports, source.bad),
                                       encoding="utf-8")
    kept = sum(bool(r.get("keep")) for r in source.reports)
    return f"kept {kept} of {len(source.reports)} task(s)", 1


def compare(a: Run, b: Run) -> str:
    """Per common task: mean score in each run, the change, and whether it flipped between pass and fail."""
    def by_task(run: Run) -> dict[str, Any]:
        return {f"{t.suite}/{t.task_id}": t for t in report.task_results(run.records)}

    ta, tb = by_task(a), by_task(b)
    rows = []
    for task in sorted(ta.keys() & tb.keys()):
        x, y = ta[task], tb[task]
        mean_a = sum(x.scores) / x.n if x.n else None
        mean_b = sum(y.scores) / y.n if y.n else None
        pass_a = x.passes(1.0) * 2 >= x.n if x.n else None
        pass_b = y.passes(1.0) * 2 >= y.n if y.n else None
        flip = "" if None in (pass_a, pass_b) or pass_a == pass_b else ("fixed" if pass_b else "broke")
        delta = None if None in (mean_a, mean_b) else mean_b - mean_a
        rows.append({"task": task, "a": mean_a, "b": mean_b, "delta": delta, "flip": flip})
    return pages.comparison_html(a.name, b.name, rows, (len(ta.keys() - tb.keys()), len(tb.keys() - ta.keys())))


def build_site(paths: list[str | Path], out: str | Path) -> Site:
    """Write the site for ``paths`` (run folders and filter output folders) into ``out``."""
    sources = [detect(path) for path in paths]  # fail before touching ``out``
    root = Path(out)
    prepare(root)
    entries, count = [], 1
    for source, slug in zip(sources, slugs(sources)):
        folder = root / slug
        folder.mkdir()
        if isinstance(source, Run):
            line, made = build_run(source, folder)
            entries.append(("run", source.name, f"{slug}/index.html", line))
        else:
            line, made = build_filter(source, folder)
            entries.append(("filter report", source.name, f"{slug}/index.html", line))
        count += made
    runs = [s for s in sources if isinstance(s, Run)]
    comparison = compare(*runs) if len(runs) == 2 else ""
    index = root / "index.html"
    index.write_text(pages.overview_page(entries, comparison), encoding="utf-8")
    return Site(root, index, count)
