"""The pages as HTML strings.  Everything from a record goes through ``html.escape`` here, server-side."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from typing import Any

from dsgym.actions import FENCE, TAG
from dsgym.report import Estimate, Summary, excluded_text
from dsgym.view.highlight import highlight
from dsgym.view.sources import BadLine
from dsgym.view.static import CSS, INDEX_JS

MARKER = re.compile(
    r"(?P<trunc>\.\.\. \[output truncated: [\d,]+ characters omitted\] \.\.\."
    r"|\[[^\]\n]*(?:characters dropped|truncated)[^\]\n]*\])"
    r"|(?P<bad>^\[(?:error|kernel died|timeout|sandbox failed|format error|episode budget spent)\])"
    r"|(?P<mark>^\[(?:stderr|result|figure:[^\]\n]*|no output)\])", re.MULTILINE)
NO_REASON = '<span class="muted">no check failed</span>'
PREDICTION_KEYS = ("valid", "reason", "metric", "metric_value", "percentile", "rank", "teams", "medal")


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def script_json(value: Any) -> str:
    """JSON safe inside ``<script type="application/json">``: no ``<``, ``>`` or ``&`` survives unescaped."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def badge(text: Any, kind: str) -> str:
    return f'<span class="badge b-{esc(kind)}">{esc(text)}</span>'


def layout(title: str, crumbs: list[tuple[str, str | None]], body: str, script: str = "") -> str:
    """A whole page: inline style, optional inline script, breadcrumbs of (label, href or None)."""
    trail = " / ".join(f'<a href="{esc(href)}">{esc(label)}</a>' if href else esc(label) for label, href in crumbs)
    tail = f"<script>{script}</script>" if script else ""
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
            f'<header class="top"><span>dsgym view</span><span class="crumbs">{trail}</span></header>'
            f"<main>{body}</main>{tail}</body></html>\n")


def table(head: list[str], rows: list[list[str]], cls: str = "") -> str:
    """A table whose cells are already HTML (callers escape)."""
    th = "".join(f"<th>{h}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{cls}"><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>'


def fmt_num(value: Any, digits: int = 3) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return esc(value)
    return f"{value:,}" if isinstance(value, int) else f"{value:.{digits}f}"


def fmt_estimate(estimate: Estimate | None) -> str:
    return esc("-" if estimate is None else str(estimate))


def card(label: str, value: str) -> str:
    return f'<div class="card"><div class="v">{esc(value)}</div><div class="k">{esc(label)}</div></div>'


def bad_lines_note(bad: list[BadLine], file: str) -> str:
    if not bad:
        return ""
    items = "".join(f"<li>{esc(line)}</li>" for line in bad)
    return f'<h2>Unreadable lines of {esc(file)}</h2><ul class="muted">{items}</ul>'


# ----- run ------------------------------------------------------------------------------------


def summary_html(summary: Summary) -> str:
    """Cards, then the per-suite and per-category table, errors by type and notes (``dsgym.report``)."""
    pct = round(summary.confidence * 100)
    overall = summary.overall
    variants = summary.variants
    mean_label = f"mean score{' on originals' if variants else ''} [{pct}% CI]"
    cards = [card("scoring profile", summary.scoring), card("episodes", f"{summary.episodes:,}"),
             card(mean_label, str(overall.mean)),
             card("left out of the mean (why)", excluded_text(overall.excluded)), card("pass@1", str(overall.pass1))]
    if variants is not None:  # side by side, never averaged: the gap is a contamination indicator
        cards += [card(f"mean score on variants [{pct}% CI]", str(variants.mean)),
                  card("gap: originals - variants (contamination indicator)", str(summary.variant_gap))]
    if summary.k > 1:
        cards.append(card(f"pass@{summary.k}", str(overall.passk) if overall.passk else "-"))
    tokens = summary.tokens.get("total_tokens", 0)
    cards += [card("tokens", f"{tokens:,}"), card("episode time", f"{summary.wall_time:,.1f} s")]
    if summary.cached_share is not None:
        cards.append(card("replies from a cache", f"{summary.cached_share:.0%} of {summary.replies:,}"))
    head = ["group", "tasks", "episodes", f"mean [{pct}% CI]", "excluded (why)", f"pass@1 [{pct}% CI]"]
    if summary.k > 1:
        head.append(f"pass@{summary.k} [{pct}% CI]")
    rows = []
    for group in summary.groups:
        label = ("originals" if variants else "all") if group.kind == "all" else \
            "variants" if group.kind == "variants" else f"{group.kind}: {group.name}"
        row = [esc(label), str(group.tasks), str(group.episodes), fmt_estimate(group.mean),
               esc(excluded_text(group.excluded)), fmt_estimate(group.pass1)]
        if summary.k > 1:
            row.append(fmt_estimate(group.passk))
        rows.append(row)
    parts = [f'<div class="cards">{"".join(cards)}</div>', table(head, rows)]
    if summary.errors_by_type:
        parts.append("<h3>Errors by type</h3>" + table(
            ["type", "episodes"], [[badge(k, "error"), str(v)] for k, v in summary.errors_by_type.items()]))
    per = summary.tokens_per_episode
    parts.append(f'<p class="muted">tokens: {tokens:,} ({summary.tokens.get("prompt_tokens", 0):,} prompt, '
                 f'{summary.tokens.get("completion_tokens", 0):,} completion)'
                 + (f", {per:,.0f} per episode" if per is not None else "") + "</p>")
    for stats in summary.predictions:
        parts.append(f"<p>{esc(stats)}</p>")
    parts += [f'<p class="muted">{esc(note)}</p>' for note in summary.notes]
    return "".join(parts)


INDEX_COLUMNS = ("n", "suite", "task", "sample", "score", "status", "termination", "error_type", "turns", "time",
                 "tokens", "note")


def index_rows(records: list[dict[str, Any]], bad: list[BadLine]) -> dict[str, Any]:
    """The compact episode index the run page embeds: one short array per episode or unreadable line."""
    rows: list[list[Any]] = []
    for n, r in enumerate(records):
        wall = r.get("wall_time")
        rows.append([n, r.get("suite") or str(r.get("env_id", "")).split("/")[0], r.get("task_id"),
                     r.get("sample", 0), r.get("score"), r.get("status", "ok"), r.get("termination"),
                     r.get("error_type"), len(r.get("turns") or []),
                     round(wall, 2) if isinstance(wall, (int, float)) else None,
                     (r.get("tokens") or {}).get("total_tokens", 0), None])
    rows += [[None, None, None, None, None, None, None, None, None, None, None, str(line)] for line in bad]
    return {"cols": list(INDEX_COLUMNS), "rows": rows}


def run_page(name: str, manifest: dict[str, Any], summary: Summary, index: dict[str, Any],
             bad: list[BadLine]) -> str:
    settings = manifest.get("settings") if isinstance(manifest.get("settings"), dict) else {}
    kwargs = settings.get("agent_kwargs") if isinstance(settings.get("agent_kwargs"), dict) else {}
    targets = settings.get("targets")
    meta = [("agent", settings.get("agent") or summary.agent), ("model", kwargs.get("model") or summary.model),
            ("targets", ", ".join(map(str, targets)) if isinstance(targets, list) else targets),
            ("samples", settings.get("samples")),
            ("status", manifest.get("status")), ("started", manifest.get("started_at")),
            ("ended", manifest.get("ended_at")), ("dsgym", manifest.get("dsgym_version"))]
    meta_rows = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in meta if v not in (None, ""))
    heads = '<th>#</th>' + "".join(
        f'<th class="sortable{" num" if key in ("sample", "score", "turns", "time", "tokens") else ""}" '
        f'data-col="{key}">{esc(title)}</th>'
        for key, title in (("suite", "suite"), ("task", "task"), ("sample", "sample"), ("score", "score"),
                           ("status", "status"), ("termination", "termination"), ("error_type", "error type"),
                           ("turns", "turns"), ("time", "time (s)"), ("tokens", "tokens")))
    controls = ('<div class="controls"><input type="search" id="q" placeholder="filter: task, suite, termination, '
                'error type">'
                '<select id="status"><option value="all">all episodes</option><option value="passed">passed'
                '</option><option value="failed">failed (scored, not passed)</option><option value="ok">ok'
                '</option><option value="error">errored</option><option value="unreadable">unreadable lines'
                '</option></select>'
                '<label>rows per page <select id="size"><option>25</option><option selected>100</option>'
                '<option>500</option><option value="0">all</option></select></label>'
                '<button id="prev" type="button">&larr; prev</button><button id="next" type="button">next '
                '&rarr;</button><span id="pageinfo" class="muted"></span></div>')
    body = (f"<h1>Run {esc(name)}</h1><table class=\"kv\">{meta_rows}</table>"
            f"<h2>Summary</h2>{summary_html(summary)}"
            f"<h2>Episodes</h2>{controls}"
            f'<table id="episodes" class="wide"><thead><tr>{heads}</tr></thead><tbody></tbody></table>'
            f"{bad_lines_note(bad, 'episodes.jsonl')}"
            f'<script type="application/json" id="episode-index">{script_json(index)}</script>')
    return layout(f"run {name}", [("overview", "../index.html"), (name, None)], body, INDEX_JS)


# ----- episode --------------------------------------------------------------------------------


def mark_output(text: str) -> str:
    """Escaped observation text with the env's section markers and truncation markers highlighted."""
    out, end = [], 0
    for match in MARKER.finditer(text):
        out.append(esc(text[end:match.start()]))
        css = {"trunc": "mark-trunc", "bad": "mark-error", "mark": "mark"}[match.lastgroup or "mark"]
        out.append(f'<span class="{css}">{esc(match.group())}</span>')
        end = match.end()
    out.append(esc(text[end:]))
    return "".join(out)


def action_html(action: str) -> str:
    """The agent's reply: its prose as text, its code highlighted, its answer; actions after the first ignored."""
    parts, end, count = [], 0, 0
    for match in TAG.finditer(action):
        if prose := action[end:match.start()].strip():
            parts.append(f'<pre class="prose">{esc(prose)}</pre>')
        kind, content = match.group(1).lower(), match.group(2)
        note = " (ignored: only the first action counts)" if count else ""
        if kind == "python":
            fenced = FENCE.match(content)
            code = (fenced.group(1) if fenced else content).strip("\n")
            parts.append(f'<div class="label">code{note}</div><pre class="code">{highlight(code)}</pre>')
        else:
            parts.append(f'<div class="label">answer{note}</div><pre class="answer">{esc(content.strip())}</pre>')
        end, count = match.end(), count + 1
    if rest := action[end:].strip():
        parts.append(f'<pre class="prose">{esc(rest)}</pre>')
    if not count:
        parts.insert(0, '<div class="label">no action (format error)</div>')
    return "".join(parts)


def reply_html(reply: str, action: str) -> str:
    """The model's whole reply: its reasoning above the action that ran, and whatever it wrote after it."""
    at = reply.find(action) if action else -1
    if at < 0:  # the action was read from a fence, a marker or an unclosed tag: show the reply as written
        return (f'<div class="label">model reply</div><pre class="prose reasoning">{esc(reply)}</pre>'
                + action_html(action))
    before, after = reply[:at].strip(), reply[at + len(action):].strip()
    parts = [f'<div class="label">reasoning</div><pre class="prose reasoning">{esc(before)}</pre>'] if before else []
    parts.append(action_html(action))
    if after:
        parts.append(f'<div class="label">rest of the reply (ignored)</div><pre class="prose">{esc(after)}</pre>')
    return "".join(parts)


def turn_html(index: int, turn: dict[str, Any], figure_src: Callable[[str], str | None]) -> str:
    kind = turn.get("action_kind") or "?"
    badges = [badge(kind, "info")]
    if turn.get("cached"):
        badges.append(badge("reply from a cache", "restart"))
    if turn.get("finish_reason") not in (None, "stop"):
        badges.append(badge(f"reply ended: {turn['finish_reason']}", "timeout"))
    if turn.get("cell_error"):
        badges.append(badge(f"error: {turn['cell_error']}", "error"))
    if turn.get("kernel_restarted"):
        badges.append(badge("kernel restarted", "restart"))
    if turn.get("timed_out"):
        badges.append(badge("timed out", "timeout"))
    timing = (f"at {fmt_num(turn.get('at'), 1)} s &middot; agent {fmt_num(turn.get('agent_time'), 2)} s "
              f"&middot; step {fmt_num(turn.get('step_time'), 2)} s &middot; {fmt_num(turn.get('tokens') or 0)} tokens")
    observation = str(turn.get("observation") or "")
    figures = []
    # only what the env recorded (never paths read from the output text, which the agent controls)
    recorded = turn.get("figures")
    for path in recorded if isinstance(recorded, list) else []:
        src = figure_src(str(path))
        if src:
            figures.append(f'<figure><img src="{esc(src)}" alt="figure" loading="lazy">'
                           f"<figcaption>{esc(path)}</figcaption></figure>")
        else:
            figures.append(f'<p class="muted">figure {esc(path)}: not in the run\'s artifacts folder</p>')
    bad = turn.get("cell_error") or turn.get("kernel_restarted") or "[kernel died]" in observation
    action = str(turn.get("action") or "")
    said = action_html(action) if turn.get("reply") is None else reply_html(str(turn["reply"]), action)
    return (f'<section class="turn{" has-error" if bad else ""}" id="turn-{index}"><div class="head">'
            f'<h3>turn {index}</h3>{"".join(badges)}<span class="muted">{timing}</span></div>'
            f'<div class="body">{said}'
            f'<div class="label">output</div><pre class="obs">{mark_output(observation)}</pre>'
            f'{"".join(figures)}</div></section>')


def breakdown_html(breakdown: dict[str, Any]) -> str:
    """The score breakdown; a prediction task's metric, percentile, rank and medal (or invalid reason) first."""
    if not breakdown:
        return '<p class="muted">no breakdown</p>'
    keys = [k for k in PREDICTION_KEYS if k in breakdown] + [k for k in breakdown if k not in PREDICTION_KEYS]
    rows = []
    for key in keys:
        value = breakdown[key]
        if key == "valid":
            cell = badge("valid" if value else "invalid", "pass" if value else "invalid")
        elif key == "medal" and value:
            cell = badge(value, str(value))
        elif key == "rank" and breakdown.get("teams"):
            cell = f"{fmt_num(value)} of {fmt_num(breakdown['teams'])}"
        elif isinstance(value, (dict, list)):
            cell = f"<pre>{esc(json.dumps(value, indent=1, ensure_ascii=False, default=str))}</pre>"
        else:
            cell = esc(f"{value:.10g}" if isinstance(value, float) else value)
        if key != "teams" or "rank" not in breakdown:
            rows.append(f"<tr><th>{esc(key)}</th><td>{cell}</td></tr>")
    return f'<table class="kv">{"".join(rows)}</table>'


def episode_page(run_name: str, n: int, record: dict[str, Any], reference: str | None,
                 figure_src: Callable[[str], str | None]) -> str:
    turns = record.get("turns") or []
    status = record.get("status", "ok")
    score = record.get("score")
    title = f"{record.get('suite') or ''}/{record.get('task_id')} #{record.get('sample', 0)}"
    head = [badge(status, "ok" if status == "ok" else "error")]
    if score is not None:
        head.append(badge(f"score {score:.3f}", "pass" if score >= 1 - 1e-9 else "fail"))
        scoring = record.get("scoring") or "dsgym"  # records from before profiles were graded by dsgym's metrics
        head.append(badge(f"scoring {scoring}" + (f": {record['metric']}" if record.get("metric") else ""), "info"))
    if record.get("termination"):
        head.append(badge(record["termination"], "info"))
    if record.get("error_type"):
        head.append(badge(f"{record['error_type']} error", "error"))
    restarts = sum(bool(t.get("kernel_restarted")) for t in turns)
    if restarts:
        head.append(badge(f"{restarts} kernel restart(s)", "restart"))
    tokens = record.get("tokens") or {}
    meta = [("agent", record.get("agent")), ("model", record.get("model")), ("category", record.get("category")),
            ("episode id", record.get("episode_id")), ("started", record.get("started_at")),
            ("reset time", f"{fmt_num(record.get('reset_time'), 2)} s"),
            ("wall time", f"{fmt_num(record.get('wall_time'), 2)} s"),
            ("tokens", (f"{tokens.get('total_tokens', 0):,} ({tokens.get('prompt_tokens', 0):,} prompt, "
                        f"{tokens.get('completion_tokens', 0):,} completion)")),
            ("attempts", record.get("attempts"))]
    meta_rows = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in meta if v not in (None, ""))
    parts = [f"<h1>{esc(title)}</h1><p>{' '.join(head)}</p><table class=\"kv\">{meta_rows}</table>"]
    if record.get("error"):
        parts.append(f'<h2>Error</h2><pre class="errortext">{esc(record["error"])}</pre>')
    parts.append(f'<h2>Task prompt</h2><details open><summary>prompt</summary>'
                 f'<pre class="prose">{esc(record.get("prompt"))}</pre></details>')
    parts.append(f"<h2>Turns ({len(turns)})</h2>")
    parts += [turn_html(i, t, figure_src) for i, t in enumerate(turns, 1)] or ['<p class="muted">no turns</p>']
    answer = record.get("answer")
    ref = ('<p class="muted">the task is no longer in the registry</p>' if reference is None else
           f'<pre class="reference">{esc(reference)}</pre>')
    parts.append('<h2>Final answer</h2><div class="answers"><div><div class="label">agent</div>'
                 + (f'<pre class="answer">{esc(answer)}</pre>' if answer is not None else
                    '<p class="muted">no answer</p>')
                 + (f'<p class="muted">submission: {esc(record["submission"])}</p>' if record.get("submission")
                    else "")
                 + f'</div><div><details id="reference"><summary>show the reference answer</summary>{ref}'
                   '</details></div></div>')
    parts.append(f"<h2>Score breakdown</h2>{breakdown_html(record.get('score_breakdown') or {})}")
    if turns:
        rows = [[f'<a href="#turn-{i}">{i}</a>', esc(t.get("action_kind")), fmt_num(t.get("at"), 2),
                 fmt_num(t.get("agent_time"), 2), fmt_num(t.get("step_time"), 2), fmt_num(t.get("tokens") or 0),
                 esc(t.get("cell_error") or "") + (" kernel restarted" if t.get("kernel_restarted") else "")]
                for i, t in enumerate(turns, 1)]
        parts.append("<h2>Timings and tokens</h2>" + table(
            ["turn", "kind", "at (s)", "agent (s)", "step (s)", "tokens", "errors"], rows))
    if record.get("retried"):
        rows = [[esc(a.get("error_type")), esc(a.get("error")), esc(a.get("turns")), fmt_num(a.get("wall_time"), 2)]
                for a in record["retried"]]
        parts.append("<h2>Earlier attempts</h2>" + table(["error type", "error", "turns", "time (s)"], rows))
    return layout(title, [("overview", "../../index.html"), (run_name, "../index.html"), (title, None)],
                  "".join(parts))


# ----- filter report --------------------------------------------------------------------------


def filter_page(name: str, manifest: dict[str, Any], reports: list[dict[str, Any]], bad: list[BadLine]) -> str:
    block = manifest.get("filter") or {}
    kept = sum(bool(r.get("keep")) for r in reports)
    cards = (f'<div class="cards">{card("tasks", str(len(reports)))}{card("kept", str(kept))}'
             f'{card("dropped", str(len(reports) - kept))}</div>')
    checks: list[str] = []
    for report in reports:
        checks += [c for c in report.get("checks") or {} if c not in checks]
    counts = [[esc(c)] + [str(sum((r.get("checks") or {}).get(c, {}).get("status") == s for r in reports))
                          for s in ("pass", "fail", "skip", "inconclusive", "error")] for c in checks]
    source = (block.get("source") or {}).get("suite")
    probe = block.get("blind_probe")
    settings = [("source suite", source), ("checks", ", ".join(block.get("checks") or checks)),
                ("blind probe", probe if isinstance(probe, str) or probe is None else
                 ", ".join(f"{k} {v}" for k, v in sorted(probe.items()))),
                ("perturbations", ", ".join(block.get("perturbations") or []) or None),
                ("seed", block.get("seed")), ("solution timeout (s)", block.get("timeout"))]
    rows = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in settings if v not in (None, ""))
    parts = [f"<h1>Filter report {esc(name)}</h1>", f'<table class="kv">{rows}</table>', cards, "<h2>Checks</h2>",
             table(["check", "pass", "fail (dropped)", "skip", "inconclusive", "error"], counts),
             "<h2>Tasks</h2>",
             table(["task", "decision", "why"] + [esc(c) for c in checks], [
                 [f'<a href="#task-{i}">{esc(r.get("task"))}</a>',
                  badge("keep" if r.get("keep") else "drop", "keep" if r.get("keep") else "drop"),
                  esc("; ".join(r.get("reasons") or [])) or NO_REASON]
                 + [badge(s, s) if (s := (r.get("checks") or {}).get(c, {}).get("status")) else ""
                    for c in checks]
                 for i, r in enumerate(reports)], "wide")]
    for i, report in enumerate(reports):
        rows = []
        for check, result in (report.get("checks") or {}).items():
            evidence = result.get("evidence")
            rows.append([esc(check), badge(result.get("status"), str(result.get("status"))), esc(result.get("reason")),
                         f"<pre>{esc(json.dumps(evidence, indent=1, ensure_ascii=False, default=str))}</pre>"
                         if evidence else '<span class="muted">none</span>'])
        decision = "kept" if report.get("keep") else "dropped: " + "; ".join(report.get("reasons") or [])
        parts.append(f'<details class="task" id="task-{i}"><summary>{esc(report.get("task"))} &mdash; '
                     f'{esc(decision)}</summary>{table(["check", "status", "reason", "evidence"], rows, "wide")}'
                     f"</details>")
    parts.append(bad_lines_note(bad, "filter-report.jsonl"))
    return layout(f"filter {name}", [("overview", "../index.html"), (name, None)], "".join(parts))


# ----- overview -------------------------------------------------------------------------------


def overview_page(entries: list[tuple[str, str, str, str]], comparison: str) -> str:
    """``entries``: (kind, name, href, one-line description) of each opened folder."""
    rows = [[esc(kind), f'<a href="{esc(href)}">{esc(name)}</a>', esc(text)] for kind, name, href, text in entries]
    body = "<h1>Overview</h1>" + table(["kind", "name", "summary"], rows) + comparison
    return layout("dsgym view", [("overview", None)], body)


def comparison_html(a: str, b: str, rows: list[dict[str, Any]], only: tuple[int, int]) -> str:
    """Two runs on their common tasks: flips first, then the largest score changes."""
    flips = [r for r in rows if r["flip"]]
    fixed = sum(r["flip"] == "fixed" for r in flips)

    def cell(value: float | None) -> str:
        return "errored" if value is None else f"{value:.3f}"

    def line(r: dict[str, Any]) -> list[str]:
        delta = r["delta"]
        css = "" if not delta else ("delta-up" if delta > 0 else "delta-down")
        flip = badge(r["flip"], "pass" if r["flip"] == "fixed" else "fail") if r["flip"] else ""
        return [esc(r["task"]), cell(r["a"]), cell(r["b"]),
                f'<span class="{css}">{"" if delta is None else f"{delta:+.3f}"}</span>', flip]

    head = ["task", esc(a), esc(b), "delta", "flip"]
    changed = [r for r in rows if r["delta"]]
    return (f"<h2>Comparison: {esc(a)} &rarr; {esc(b)}</h2>"
            f"<p>{len(rows)} task(s) in both runs; {len(flips)} flipped ({fixed} now pass, {len(flips) - fixed} "
            f"now fail); {len(changed)} changed score. Only in {esc(a)}: {only[0]}; only in {esc(b)}: {only[1]}. "
            '<span class="muted">A task passes when at least half of its scored samples pass; scores are the '
            "mean over samples.</span></p>"
            + table(head, [line(r) for r in sorted(rows, key=lambda r: (not r["flip"], -abs(r["delta"] or 0),
                                                                          r["task"]))], "wide"))
