"""Several runs side by side: a Markdown table, a self-contained HTML page, a PNG bar chart.

Rows are runs; columns are the overall score with its confidence interval, pass@1
and pass@k, the episodes left out of the scores and why (error types, next to the
mean), one column per suite and one per task category, cost in
tokens, the share of model replies replayed from a cache (a run that replayed
another's replies did not test the model now behind the endpoint), and the conditions
the run ran under (concurrency, the host's cores, each sandbox's CPUs: a run at ``-j 16``
on two cores is visibly not one at ``-j 2``).  Runs with episodes on seeded task variants get
two more columns: the score on the variants (never averaged into the originals' score) and
the gap between them per task, a contamination indicator.  Every renderer
takes ``report.Summary`` objects (``report.summarize_run``).

Runs over different tasks are not comparable: ``load_runs`` summarises each run on the
tasks all of them share and says so (``Board.coverage``, shown above every table); when
they share none, each run keeps its own tasks and the page says loudly that they differ.
Runs scored under different scoring profiles (dsgym's metrics, the official release's) are
not comparable either, and no table puts them together: ``load_runs`` refuses them
(``MixedScoringError``); every table names the profile its scores are under.
"""

from __future__ import annotations

import html
import os
from pathlib import Path
from typing import Any

from dataclasses import dataclass, field

from dsgym.report import Estimate, Summary, excluded_text

METRICS = {"mean": "mean score", "pass1": "pass@1"}


class MixedScoringError(ValueError):
    """Runs graded under different scoring profiles: their scores do not mean the same thing."""


@dataclass
class Board:
    """The runs to show, summarised on comparable tasks, and what the reader must know about coverage."""

    summaries: list[Summary]
    coverage: str | None = None  # None: every run covers the same tasks
    skipped: list[str] = field(default_factory=list)  # "<path>: why"


def _task_keys(records: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(str(r.get("suite")), str(r.get("task_id"))) for r in records}


def load_runs(paths: list[str | os.PathLike[str]], metric: str = "mean", **options: Any) -> Board:
    """Summaries of the run folders in ``paths``, best first, ranked on the tasks all runs share."""
    from dsgym import report, run_folder

    board = Board([])
    covered: list[tuple[str, set[tuple[str, str]]]] = []
    for path in paths:
        if not (Path(path) / run_folder.MANIFEST).is_file():
            board.skipped.append(f"{path}: not a run folder (no {run_folder.MANIFEST})")
            continue
        try:
            summary = report.summarize_run(path, **options)
            _, records, _ = run_folder.load_run(path)
        except (run_folder.RunDirError, KeyError, ValueError) as exc:
            board.skipped.append(f"{path}: {exc}")
            continue
        board.summaries.append(summary)
        covered.append((str(path), _task_keys(records)))
    profiles: dict[str, list[str]] = {}
    for summary in board.summaries:
        profiles.setdefault(summary.scoring, []).append(summary.name)
    if len(profiles) > 1:
        listed = "; ".join(f"{profile}: {', '.join(names)}" for profile, names in sorted(profiles.items()))
        raise MixedScoringError(f"the runs were scored under different scoring profiles ({listed}); a leaderboard "
                                "shows runs of one profile. Show them apart, or re-grade them under one: "
                                "dsgym rescore RUN --scoring official (or dsgym)")
    sets = [tasks for _, tasks in covered]
    if len({frozenset(tasks) for tasks in sets}) > 1:
        shared = set.intersection(*sets)
        extra = "; ".join(f"{s.name}: {len(tasks)} task(s)" for s, (_, tasks) in zip(board.summaries, covered))
        if shared:
            board.summaries = [report.summarize_run(path, only=shared, **options) for path, _ in covered]
            board.coverage = (f"the runs cover different tasks ({extra}): every score here is over the "
                              f"{len(shared)} task(s) all runs share; the others are left out")
        else:
            board.coverage = (f"WARNING: the runs share no task ({extra}): their scores are over different "
                              "tasks and not comparable")
    board.summaries.sort(key=lambda s: -(getattr(s.overall, metric).value or -1.0))
    return board


def _columns(summaries: list[Summary], kind: str) -> list[str]:
    names: list[str] = []
    for summary in summaries:
        names += [g.name for g in summary.by_kind(kind) if g.name not in names]
    return sorted(names)


def _estimate(summary: Summary, kind: str, name: str, metric: str) -> Estimate | None:
    for group in summary.groups:
        if group.kind == kind and group.name == name:
            return getattr(group, metric)
    return None


def _fmt(estimate: Estimate | None, ci: bool = True) -> str:
    if estimate is None or estimate.value is None:
        return "-"
    return str(estimate) if ci else f"{estimate.value:.3f}"


def _tokens(summary: Summary) -> tuple[str, str]:
    per = summary.tokens_per_episode
    return f"{summary.tokens.get('total_tokens', 0):,}", (f"{per:,.0f}" if per is not None else "-")


def rows(summaries: list[Summary], metric: str = "mean") -> tuple[list[str], list[list[str]], list[str],
                                                                   list[list[str]]]:
    """The two tables as text cells: (suite header, suite rows, category header, category rows)."""
    suites, categories = _columns(summaries, "suite"), _columns(summaries, "category")
    ks = sorted({s.k for s in summaries if s.k > 1})
    pct = int(round(summaries[0].confidence * 100)) if summaries else 95
    head = ["run", "agent", "model", "episodes", f"{METRICS[metric]} [{pct}% CI]", "excluded (why)", "pass@1"]
    head += [f"pass@{k}" for k in ks] + suites
    variants = any(s.variants is not None for s in summaries)
    if variants:  # scores on seeded variants beside those on the originals, never averaged with them
        head += [f"on variants ({METRICS[metric]})", "gap: originals - variants"]
    head += ["tokens", "tokens/episode", "cached replies", "ran at"]
    body = []
    for s in summaries:
        row = [s.name, s.agent, s.model or "-", str(s.episodes), _fmt(getattr(s.overall, metric)),
               excluded_text(s.overall.excluded), _fmt(s.overall.pass1, ci=False)]
        row += [_fmt(s.overall.passk, ci=False) if s.k == k else "-" for k in ks]
        row += [_fmt(_estimate(s, "suite", name, metric), ci=False) for name in suites]
        if variants:
            row += [_fmt(getattr(s.variants, metric)) if s.variants is not None else "-", _fmt(s.variant_gap)]
        row += list(_tokens(s))
        row.append(f"{s.cached_share:.0%}" if s.cached_share is not None else "-")
        row.append(s.conditions)
        body.append(row)
    cat_head = ["run", *categories]
    cat_body = [[s.name, *(_fmt(_estimate(s, "category", c, metric), ci=False) for c in categories)]
                for s in summaries]
    return head, body, cat_head, cat_body


def _md_table(head: list[str], body: list[list[str]], text_columns: int) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(h) for h in head) + " |",
             "|" + "|".join("---" if i < text_columns else "---:" for i in range(len(head))) + "|"]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in body]
    return "\n".join(lines)


def markdown(summaries: list[Summary], metric: str = "mean", coverage: str | None = None) -> str:
    head, body, cat_head, cat_body = rows(summaries, metric)
    parts = ["## Leaderboard", "", f"Scoring profile: {_profile(summaries)}", ""] \
        + ([f"**{coverage}**", ""] if coverage else []) + [_md_table(head, body, 3)]
    if len(cat_head) > 1:
        parts += ["", f"### {METRICS[metric]} by task category", "", _md_table(cat_head, cat_body, 1)]
    parts += ["", _legend(summaries)]
    notes = [f"- {s.name}: {note}" for s in summaries for note in s.notes]
    if notes:
        parts += ["", "Notes:", *notes]
    return "\n".join(parts) + "\n"


def _profile(summaries: list[Summary]) -> str:
    """The scoring profile the board's scores are under (``load_runs`` never mixes profiles)."""
    profiles = sorted({s.scoring for s in summaries}) or ["dsgym"]
    profile = ", ".join(profiles)
    return profile + (" (the official release's graders; docs/scoring.md)" if profile == "official"
                      else " (the official release's graders, its equivalence judge for DAEval, QRData and "
                      "DABStep; docs/scoring.md)" if profile == "official-judge"
                      else " (dsgym's metrics)" if profile == "dsgym" else "")


def _legend(summaries: list[Summary]) -> str:
    threshold = summaries[0].pass_threshold if summaries else 1.0
    return ("Scores are means over tasks; episodes that ended in an error (model endpoint, sandbox "
            "infrastructure, a crashed scaffold, ...) are left out of them and counted, by type, under excluded; "
            f"a sample passes at score >= {threshold:g}; brackets are percentile-bootstrap intervals over tasks.")


CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem;color:#1f2328;background:#fff}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem}
table{border-collapse:collapse;font-size:.9rem;margin:.5rem 0}
th,td{border:1px solid #d0d7de;padding:.35rem .6rem;text-align:right;white-space:nowrap}
th{background:#f6f8fa}td.l,th.l{text-align:left}
.bar{min-width:7rem}
.bar .track{position:relative;height:.5rem;margin-top:.2rem;background:#eaeef2;border-radius:2px}
.bar .track span.fill{position:absolute;left:0;top:0;bottom:0;background:#54aeff;border-radius:2px}
.bar .track span.ci{position:absolute;top:40%;height:20%;background:#0a3069}
.err{color:#cf222e}.muted{color:#656d76;font-size:.85rem}
.coverage{border:2px solid #bf8700;background:#fff8c5;padding:.5rem .8rem;font-weight:600}
"""


def _bar(estimate: Estimate | None) -> str:
    if estimate is None or estimate.value is None:
        return "<td>-</td>"
    fill = f'<span class="fill" style="width:{max(0.0, min(1.0, estimate.value)) * 100:.1f}%"></span>'
    ci = ""
    if estimate.low is not None and estimate.high is not None and estimate.high > estimate.low:
        ci = (f'<span class="ci" style="left:{estimate.low * 100:.1f}%;'
              f'width:{(estimate.high - estimate.low) * 100:.1f}%"></span>')
    title = html.escape(str(estimate), quote=True)  # the text, then the bar and its whisker on a track below it
    return (f'<td class="bar" title="{title}"><div class="v">{html.escape(str(estimate))}</div>'
            f'<div class="track">{fill}{ci}</div></td>')


def html_page(summaries: list[Summary], metric: str = "mean", title: str = "dsgym leaderboard",
              coverage: str | None = None) -> str:
    """One HTML file: inline CSS, no scripts, no external assets."""
    head, body, cat_head, cat_body = rows(summaries, metric)
    esc = html.escape
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>{esc(title)}</title><style>{CSS}</style></head><body>", f"<h1>{esc(title)}</h1>",
           f'<p class="scoring">Scoring profile: {esc(_profile(summaries))}</p>']
    if coverage:
        out.append(f'<p class="coverage">{esc(coverage)}</p>')
    out.append("<table><thead><tr>" + "".join(
        f'<th class="{"l" if i < 3 else ""}">{esc(h)}</th>' for i, h in enumerate(head)) + "</tr></thead><tbody>")
    score_col, excluded_col = 4, 5
    for summary, row in zip(summaries, body):
        cells = []
        for i, text in enumerate(row):
            if i == score_col:
                cells.append(_bar(getattr(summary.overall, metric)))
            elif i < 3:
                cells.append(f'<td class="l">{esc(text)}</td>')
            elif i == excluded_col and text != "0":
                cells.append(f'<td class="err">{esc(text)}</td>')
            else:
                cells.append(f"<td>{esc(text)}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    if len(cat_head) > 1:
        out.append(f"<h2>{esc(METRICS[metric])} by task category</h2>")
        out.append("<table><thead><tr>" + "".join(
            f'<th class="{"l" if i == 0 else ""}">{esc(h)}</th>' for i, h in enumerate(cat_head))
            + "</tr></thead><tbody>")
        for summary, row in zip(summaries, cat_body):
            cells = [f'<td class="l">{esc(row[0])}</td>']
            cells += [_bar(_estimate(summary, "category", c, metric)) for c in cat_head[1:]]
            out.append("<tr>" + "".join(cells) + "</tr>")
        out.append("</tbody></table>")
    details = []
    for s in summaries:
        errors = ", ".join(f"{k} {v}" for k, v in s.errors_by_type.items()) or "none"
        line = f"<li><b>{esc(s.name)}</b>: errors: {esc(errors)}"
        line += "".join(f"; {esc(note)}" for note in s.notes) + "</li>"
        details.append(line)
    out.append(f'<h2>Runs</h2><ul class="muted">{"".join(details)}</ul>')
    out.append(f'<p class="muted">{esc(_legend(summaries))}</p></body></html>')
    return "\n".join(out) + "\n"


def chart(summaries: list[Summary], metric: str = "mean"):
    """The leaderboard chart as a matplotlib ``Figure``: grouped bars (overall, each suite, each category) per
    run with confidence-interval whiskers; a run without a group gets no bar but an "n/a" mark (never a bar
    of 0), and the legend sits outside the axes, so it covers no bar."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:  # matplotlib is optional for dsgym itself
        raise RuntimeError("the PNG chart needs matplotlib: pip install matplotlib") from exc
    import numpy as np

    groups: list[tuple[str, str]] = [("all", "all")]
    groups += [("suite", n) for n in _columns(summaries, "suite")]
    groups += [("category", n) for n in _columns(summaries, "category")]
    width = 0.8 / max(1, len(summaries))
    x = np.arange(len(groups))
    fig = Figure(figsize=(max(6.0, 0.6 * len(groups) * max(1, len(summaries)) ** 0.5 + 2) + 2.5, 4.5), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    for i, summary in enumerate(summaries):
        values, lower, upper = [], [], []
        for kind, name in groups:
            est: Any = _estimate(summary, kind, name, metric)
            value = est.value if est is not None and est.value is not None else np.nan
            values.append(value)
            low = est.low if est is not None and est.low is not None else value
            high = est.high if est is not None and est.high is not None else value
            lower.append(max(0.0, value - low) if not np.isnan(value) else 0.0)
            upper.append(max(0.0, high - value) if not np.isnan(value) else 0.0)
        label = summary.name + (f" ({summary.model})" if summary.model else "")
        positions = x + (i - (len(summaries) - 1) / 2) * width
        bars = ax.bar(positions, values, width, yerr=[lower, upper], capsize=2, label=label)
        for position, value in zip(positions, values):
            if np.isnan(value):  # no data for this run here: say so where its bar would be
                ax.text(position, 0.02, "n/a", rotation=90, ha="center", va="bottom", fontsize=7,
                        color=bars.patches[0].get_facecolor() if bars.patches else "black")
    ax.set_xticks(x)
    ax.set_xticklabels([name for _, name in groups], rotation=40, ha="right", fontsize=8)
    ax.set_ylim(0, 1.05)
    pct = int(round(summaries[0].confidence * 100)) if summaries else 95
    ax.set_ylabel(f"{METRICS[metric]} ({pct}% CI; scoring: {_profile(summaries).split(' (')[0]})")
    n_suites = sum(kind == "suite" for kind, _ in groups)
    for boundary in sorted({0.5, n_suites + 0.5}):  # all | suites | categories
        if boundary < len(groups) - 0.5:
            ax.axvline(boundary, color="#888", linewidth=0.8)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


def png_chart(summaries: list[Summary], path: str | os.PathLike[str], metric: str = "mean") -> None:
    """``chart`` written as a PNG."""
    chart(summaries, metric).savefig(os.fspath(path), format="png")
