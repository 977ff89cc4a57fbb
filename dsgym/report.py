"""Summaries of runs: mean score, pass@1 and pass@k per suite and per task category, with bootstrap CIs.

Unit of analysis: the task.  For each task, over its ``n`` scored samples (errored
episodes excluded), ``c`` of which pass (score >= ``pass_threshold``):

* mean score: the mean of the task's scores;
* pass@k: the unbiased estimator ``1 - C(n-c, k) / C(n, k)`` (Chen et al., 2021),
  defined for ``n >= k``; pass@1 is ``c / n``.

A group's value is the mean over its tasks; its confidence interval is a
percentile bootstrap over those tasks (seeded, so the same run always reports the
same interval).  Errored episodes are counted and shown, never scored as 0: every
table puts the number left out of the mean, and why (error types), next to it.  Only
failures outside the agent's control are errors; what the agent does to its own
sandbox is scored (``dsgym.episode``).
"""

from __future__ import annotations

import math
import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

DEFAULT_RESAMPLES = 2000
DEFAULT_SEED = 0


def pass_at_k(n: int, c: int, k: int) -> float:
    """Probability that at least one of ``k`` samples drawn from ``n`` (``c`` correct) is correct."""
    if not 0 <= c <= n:
        raise ValueError(f"need 0 <= c <= n, got n={n}, c={c}")
    if not 1 <= k <= n:
        raise ValueError(f"pass@{k} needs at least {k} samples, got n={n}")
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def bootstrap_ci(values: list[float] | np.ndarray, *, confidence: float = 0.95,
                 resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values`` (resampled with replacement)."""
    data = np.asarray(values, dtype=float)
    if data.size == 0:
        return (math.nan, math.nan)
    if data.size == 1 or np.all(data == data[0]):
        return (float(data[0]), float(data[0]))
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, data.size, size=(resamples, data.size))].mean(axis=1)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return (float(low), float(high))


@dataclass
class Estimate:
    value: float | None
    low: float | None = None
    high: float | None = None
    tasks: int = 0

    def __str__(self) -> str:
        if self.value is None:
            return "-"
        if self.low is None or self.high is None or self.low == self.high:
            return f"{self.value:.3f}"
        return f"{self.value:.3f} [{self.low:.3f}, {self.high:.3f}]"

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "low": self.low, "high": self.high, "tasks": self.tasks}


@dataclass
class TaskResult:
    suite: str
    task_id: str
    category: str | None
    scores: list[float] = field(default_factory=list)
    errors: int = 0
    error_types: Counter = field(default_factory=Counter)

    @property
    def n(self) -> int:
        return len(self.scores)

    def passes(self, threshold: float) -> int:
        return sum(s >= threshold - 1e-9 for s in self.scores)


@dataclass
class Group:
    """A suite, a category, or ``all``: its tasks' estimates and its episode counts."""

    kind: str  # "all" | "suite" | "category"
    name: str
    tasks: int
    episodes: int
    errors: int
    mean: Estimate
    pass1: Estimate
    passk: Estimate | None = None
    excluded: dict[str, int] = field(default_factory=dict)  # error type -> episodes left out of the scores

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "tasks": self.tasks, "episodes": self.episodes,
                "errors": self.errors, "excluded": self.excluded, "mean": self.mean.to_dict(),
                "pass@1": self.pass1.to_dict(), "pass@k": self.passk.to_dict() if self.passk else None}


def excluded_text(excluded: dict[str, int]) -> str:
    """How many episodes the scores leave out, and why: ``"2 (model 1, sandbox 1)"``; ``"0"`` for none."""
    total = sum(excluded.values())
    if not total:
        return "0"
    return f"{total} (" + ", ".join(f"{kind} {count}" for kind, count in sorted(excluded.items())) + ")"


MEDALS = ("gold", "silver", "bronze")


@dataclass
class PredictionStats:
    """A suite's prediction episodes: how many submissions were valid, their percentiles and medals."""

    suite: str
    episodes: int
    valid: int
    mean_percentile: float | None
    medals: dict[str, int]

    def __str__(self) -> str:
        pct = "-" if self.mean_percentile is None else f"{self.mean_percentile:.1f}"
        medals = ", ".join(f"{m} {self.medals.get(m, 0)}" for m in MEDALS)
        return (f"{self.suite}: {self.valid}/{self.episodes} valid submission(s), mean percentile {pct}, "
                f"medals: {medals} (any {sum(self.medals.get(m, 0) for m in MEDALS)})")

    def to_dict(self) -> dict[str, Any]:
        return {"suite": self.suite, "episodes": self.episodes, "valid": self.valid,
                "mean_percentile": self.mean_percentile, "medals": self.medals}


def prediction_stats(records: list[dict[str, Any]]) -> list[PredictionStats]:
    """Per suite, over the episodes graded from a submission file (their breakdown says ``valid``)."""
    by_suite: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        if "valid" in (record.get("score_breakdown") or {}):
            by_suite.setdefault(record.get("suite") or record["env_id"].split("/")[0], []).append(record)
    stats = []
    for suite, group in sorted(by_suite.items()):
        valid = [r["score_breakdown"] for r in group if r["score_breakdown"].get("valid")]
        percentiles = [b["percentile"] for b in valid if b.get("percentile") is not None]
        medals = Counter(b.get("medal") for b in valid if b.get("medal") in MEDALS)
        stats.append(PredictionStats(suite, len(group), len(valid),
                                     float(np.mean(percentiles)) if percentiles else None, dict(medals)))
    return stats


def prediction_table(records: list[dict[str, Any]]):
    """A ``rich`` table of prediction episodes: metric value, percentile, rank and medal per task."""
    from rich.table import Table

    table = Table("episode", "metric", "value", "percentile", "rank", "medal", title="prediction tasks")
    for record in sorted(records, key=lambda r: (r.get("suite", ""), r["task_id"], r.get("sample", 0))):
        b = record.get("score_breakdown") or {}
        if "valid" not in b:
            continue
        name = f"{record.get('suite')}/{record['task_id']}" + (f" #{record['sample']}" if record.get("sample") else "")
        if not b["valid"]:
            table.add_row(name, "invalid", b.get("reason", ""), "", "", "")
            continue
        rank = f"{b['rank']}/{b['teams']}" if b.get("rank") else ""
        pct = f"{b['percentile']:.1f}" if b.get("percentile") is not None else ""
        table.add_row(name, b.get("metric", ""), f"{b.get('metric_value', float('nan')):.5g}", pct, rank,
                      b.get("medal", ""))
    return table


@dataclass
class Summary:
    name: str
    agent: str
    model: str | None
    k: int
    groups: list[Group]
    episodes: int
    errors: int
    errors_by_type: dict[str, int]
    tokens: dict[str, int]
    wall_time: float
    confidence: float
    pass_threshold: float
    notes: list[str] = field(default_factory=list)
    predictions: list[PredictionStats] = field(default_factory=list)
    replies: int = 0  # model replies the episodes' turns recorded
    cached_replies: int = 0  # of which replayed from a cache (cost nothing in this run)
    conditions: str = "-"  # what the episodes ran under (conditions_text)
    load_retries: int = 0  # episodes played again after a load-suspect attempt
    # mean over tasks of (score on the original - score on its seeded variants): a contamination indicator
    variant_gap: Estimate | None = None
    scoring: str = "dsgym"  # the scoring profile the scores are under ("mixed: ..." when records disagree)
    metrics: dict[str, int] = field(default_factory=dict)  # metric -> graded episodes

    @property
    def variants(self) -> Group | None:
        """The episodes on seeded task variants, summarised apart from the originals (``overall``)."""
        found = self.by_kind("variants")
        return found[0] if found else None

    @property
    def cached_share(self) -> float | None:
        """The share of model replies that came from a cache, None without model replies."""
        return self.cached_replies / self.replies if self.replies else None

    @property
    def overall(self) -> Group:
        return self.groups[0]

    def by_kind(self, kind: str) -> list[Group]:
        return [g for g in self.groups if g.kind == kind]

    @property
    def tokens_per_episode(self) -> float | None:
        return self.tokens.get("total_tokens", 0) / self.episodes if self.episodes else None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "agent": self.agent, "model": self.model, "k": self.k,
                "episodes": self.episodes, "errors": self.errors, "errors_by_type": self.errors_by_type,
                "tokens": self.tokens, "wall_time": self.wall_time, "confidence": self.confidence,
                "pass_threshold": self.pass_threshold, "groups": [g.to_dict() for g in self.groups],
                "notes": self.notes, "predictions": [p.to_dict() for p in self.predictions],
                "replies": self.replies, "cached_replies": self.cached_replies, "conditions": self.conditions,
                "load_retries": self.load_retries,
                "variant_gap": self.variant_gap.to_dict() if self.variant_gap is not None else None,
                "scoring": self.scoring, "metrics": self.metrics}


def conditions_text(records: list[dict[str, Any]]) -> str:
    """The load the episodes ran under: ``-j 16 on 2 cores, 1 CPU per sandbox, overcommit`` (each setting seen).

    Runs made under different conditions are not comparable without saying so; records
    written before dsgym recorded them say ``-``.
    """
    seen: Counter = Counter()
    for record in records:
        c = record.get("conditions")
        if isinstance(c, dict) and c:
            seen[(c.get("concurrency"), c.get("host_cpus"), c.get("sandbox_cpus"), bool(c.get("overcommit")),
                  c.get("heavy_limit"))] += 1
    if not seen:
        return "-"

    def text(key: tuple) -> str:
        concurrency, cores, cpus, overcommit, heavy = key
        out = f"-j {concurrency} on {_num(cores)} cores, {_num(cpus)} CPU per sandbox"
        if overcommit:
            out += ", overcommit"
        elif heavy is not None:
            out += f", heavy <= {heavy}"
        return out

    ordered = seen.most_common()
    if len(ordered) == 1:
        return text(ordered[0][0])
    return "; ".join(f"{text(key)} ({count})" for key, count in ordered)


def _num(value: Any) -> str:
    return f"{value:g}" if isinstance(value, (int, float)) else str(value)


def task_results(records: list[dict[str, Any]]) -> list[TaskResult]:
    """Group episode records (dicts as in ``episodes.jsonl``) by task."""
    tasks: dict[tuple[str, str], TaskResult] = {}
    for record in records:
        key = (record.get("suite") or record["env_id"].split("/")[0], record["task_id"])
        task = tasks.setdefault(key, TaskResult(key[0], key[1], record.get("category")))
        if record.get("status", "ok") == "error" or record.get("score") is None:
            task.errors += 1
            task.error_types[record.get("error_type") or "unknown"] += 1
        else:
            task.scores.append(float(record["score"]))
    return list(tasks.values())


def _estimate(values: list[float], *, confidence: float, resamples: int, seed: int) -> Estimate:
    if not values:
        return Estimate(None)
    low, high = bootstrap_ci(values, confidence=confidence, resamples=resamples, seed=seed)
    return Estimate(float(np.mean(values)), low, high, len(values))


def _group(kind: str, name: str, tasks: list[TaskResult], k: int, *, threshold: float, confidence: float,
           resamples: int, seed: int) -> Group:
    scored = [t for t in tasks if t.n]
    options = {"confidence": confidence, "resamples": resamples, "seed": seed}
    mean = _estimate([float(np.mean(t.scores)) for t in scored], **options)
    pass1 = _estimate([t.passes(threshold) / t.n for t in scored], **options)
    passk = None
    if k > 1:
        passk = _estimate([pass_at_k(t.n, t.passes(threshold), k) for t in scored if t.n >= k], **options)
    excluded = sum((t.error_types for t in tasks), Counter())
    return Group(kind, name, len(tasks), sum(t.n + t.errors for t in tasks), sum(t.errors for t in tasks),
                 mean, pass1, passk, dict(sorted(excluded.items())))


def scoring_of(records: list[dict[str, Any]], declared: str | None = None) -> tuple[str, dict[str, int], list[str]]:
    """The scoring profile of graded records (``declared``: the run's), the metrics used, and notes about them.

    A record without a profile predates profiles and was graded by dsgym's metrics.
    """
    graded = [r for r in records if r.get("score") is not None]
    profiles = Counter(r.get("scoring") or "dsgym" for r in graded)
    if declared and declared not in profiles:
        profiles[declared] = 0  # a run declared under one profile whose records were graded under another
    metrics = Counter(r.get("metric") or "unrecorded" for r in graded)
    notes = []
    if len(profiles) > 1:
        listed = ", ".join(f"{name} ({count})" for name, count in sorted(profiles.items()))
        profile = f"mixed: {listed}"
        notes.append(f"WARNING: the episodes were graded under different scoring profiles ({listed}); "
                     "their scores do not mean the same thing")
    else:
        profile = next(iter(profiles), "dsgym")
    if profile.startswith("official") and (kept := Counter(str(r.get("suite")) for r in graded
                                                  if not str(r.get("metric") or "").startswith("official_"))):
        notes.append(f"scoring {profile}: {sum(kept.values())} episode(s) have no official grader and keep dsgym's "
                     "metric (docs/scoring.md): " + ", ".join(f"{suite} ({n})" for suite, n in sorted(kept.items())))
    return profile, dict(sorted(metrics.items())), notes


def summarize(records: list[dict[str, Any]], *, name: str = "", agent: str = "", model: str | None = None,
              k: int | None = None, pass_threshold: float = 1.0, confidence: float = 0.95,
              resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED, scoring: str | None = None) -> Summary:
    """Summarise episode records: ``all``, then each suite, then each category (sorted by name).

    ``k`` defaults to the most samples any task has; pass@k leaves out tasks with fewer
    than ``k`` scored samples (and says how many in ``notes``).  ``scoring``: the run's
    scoring profile; the records' own say whether they agree with it.
    """
    originals = [r for r in records if not r.get("variant")]
    tasks = task_results(originals)
    variant_tasks = task_results([r for r in records if r.get("variant")])
    k = k or max([t.n + t.errors for t in tasks] or [1])
    options = {"threshold": pass_threshold, "confidence": confidence, "resamples": resamples, "seed": seed}
    groups = [_group("all", "all", tasks, k, **options)]
    for suite in sorted({t.suite for t in tasks}):
        groups.append(_group("suite", suite, [t for t in tasks if t.suite == suite], k, **options))
    for category in sorted({t.category for t in tasks if t.category}):
        groups.append(_group("category", category, [t for t in tasks if t.category == category], k, **options))
    gap = None
    if variant_tasks:  # never averaged with the originals: a group of their own, and the gap per task
        groups.append(_group("variants", "variants", variant_tasks, k, **options))
        on_originals = {(t.suite, t.task_id): float(np.mean(t.scores)) for t in tasks if t.n}
        gaps = [on_originals[(t.suite, t.task_id)] - float(np.mean(t.scores))
                for t in variant_tasks if t.n and (t.suite, t.task_id) in on_originals]
        gap = _estimate(gaps, confidence=confidence, resamples=resamples, seed=seed)
    profile, metrics, notes = scoring_of(records, scoring)
    if variant_tasks:
        notes.append(f"{sum(t.n + t.errors for t in variant_tasks)} episode(s) on seeded task variants are "
                     "summarised apart (group 'variants'); the gap, the mean over tasks of the score on the "
                     "original minus that on its variants, is a contamination indicator (a model that memorised "
                     f"answers scores well on originals only): {gap}")
    if k > 1 and (short := [t for t in tasks if 0 < t.n < k]):
        notes.append(f"pass@{k} leaves out {len(short)} task(s) with fewer than {k} scored samples")
    if unscored := [t for t in tasks if not t.n]:
        notes.append(f"{len(unscored)} task(s) have no scored episode (all errored)")
    if degraded := [r for r in records if r.get("degraded")]:
        shown = "; ".join(f"{r.get('env_id')}: {', '.join(r['degraded'])}" for r in degraded[:3])
        notes.append(f"{len(degraded)} episode(s) ran degraded, as their agent reported: {shown}"
                     + (" ..." if len(degraded) > 3 else ""))
    tokens = Counter()
    replies = cached = 0
    for record in records:
        tokens.update({key: int(v or 0) for key, v in (record.get("tokens") or {}).items()})
        for turn in record.get("turns") or ():
            if turn.get("cached") is not None:
                replies += 1
                cached += bool(turn["cached"])
    errors = Counter(r.get("error_type") or "unknown" for r in records if r.get("status") == "error")
    if not agent and records:
        agent = records[0].get("agent", "")
    if model is None and records:
        model = records[0].get("model")
    return Summary(name=name, agent=agent, model=model, k=k, groups=groups, episodes=len(records),
                   errors=sum(errors.values()), errors_by_type=dict(sorted(errors.items())),
                   tokens={key: tokens.get(key, 0) for key in ("prompt_tokens", "completion_tokens",
                                                               "total_tokens")},
                   wall_time=sum(float(r.get("wall_time") or 0) for r in records), confidence=confidence,
                   pass_threshold=pass_threshold, notes=notes, predictions=prediction_stats(records),
                   replies=replies, cached_replies=cached, conditions=conditions_text(records),
                   load_retries=sum(any(a.get("error_type") == "load_suspect" for a in r.get("retried") or ())
                                    for r in records),
                   variant_gap=gap, scoring=profile, metrics=metrics)


def summarize_run(path: str | os.PathLike[str], only: set[tuple[str, str]] | None = None,
                  **options: Any) -> Summary:
    """``summarize`` a run folder (its manifest names the agent, model and samples).

    ``only``: (suite, task id) pairs to keep, e.g. the tasks several runs share (``dsgym leaderboard``).
    """
    from dsgym.run_folder import load_run, run_scoring

    manifest, records, contents = load_run(path)
    if only is not None:
        records = [r for r in records if (str(r.get("suite")), str(r.get("task_id"))) in only]
    manifest = manifest if isinstance(manifest, dict) else {}  # a run folder may come from elsewhere
    settings = _mapping(manifest.get("settings"))
    agent_kwargs = _mapping(settings.get("agent_kwargs"))
    options.setdefault("k", _count(settings.get("samples")))
    options.setdefault("scoring", run_scoring(manifest))
    summary = summarize(records, name=str(manifest.get("name") or os.path.basename(os.path.abspath(path))),
                        agent=str(settings.get("agent") or ""), model=agent_kwargs.get("model"), **options)
    if summary.model is None and records:
        summary.model = records[0].get("model")
    planned = _count(manifest.get("episodes"))
    if planned and planned > len(records):
        summary.notes.append(f"incomplete: {len(records)} of {planned} episodes recorded")
    if contents.torn_bytes:
        summary.notes.append(f"episodes.jsonl ends in a torn line ({contents.torn_bytes} bytes), ignored")
    return summary


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _count(value: Any) -> int | None:
    """A positive count read from a run manifest (a number, or digits as text); anything else is None."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def summary_table(summary: Summary):
    """A ``rich`` table of one summary (what ``dsgym eval`` prints at the end)."""
    from rich.table import Table

    pct = int(round(summary.confidence * 100))
    title = f"{summary.agent}" + (f" ({summary.model})" if summary.model else "") + \
        (f" - {summary.name}" if summary.name else "") + f" - scoring: {summary.scoring}"
    columns = ["group", "tasks", "episodes", f"mean [{pct}% CI]", "excluded (why)", f"pass@1 [{pct}% CI]"]
    if summary.k > 1:
        columns.append(f"pass@{summary.k} [{pct}% CI]")
    table = Table(*columns, title=title)
    previous = "all"
    for group in summary.groups:
        if group.kind != previous:
            table.add_section()
            previous = group.kind
        label = group.name if group.kind in ("all", "variants") else f"{group.kind}: {group.name}"
        if group.kind == "all" and summary.variants is not None:
            label = "originals"
        row = [label, str(group.tasks), str(group.episodes), str(group.mean), excluded_text(group.excluded),
               str(group.pass1)]
        if summary.k > 1:
            row.append(str(group.passk) if group.passk else "-")
        table.add_row(*row)
    return table


def summary_footer(summary: Summary) -> list[str]:
    """Lines under the table: errors by type, tokens, time, notes."""
    lines = []
    if summary.errors:
        kinds = ", ".join(f"{kind} {count}" for kind, count in summary.errors_by_type.items())
        lines.append(f"{summary.errors} of {summary.episodes} episode(s) errored ({kinds}); "
                     "they are excluded from the scores")
    tokens = summary.tokens.get("total_tokens", 0)
    per = summary.tokens_per_episode
    lines.append(f"tokens: {tokens:,} ({summary.tokens.get('prompt_tokens', 0):,} prompt, "
                 f"{summary.tokens.get('completion_tokens', 0):,} completion)"
                 + (f", {per:,.0f} per episode" if per is not None else "")
                 + f"; episode time {summary.wall_time:,.1f} s in total")
    lines.append(f"ran at: {summary.conditions}")
    used = ", ".join(f"{name} ({count})" for name, count in summary.metrics.items() if name != "unrecorded")
    lines.append(f"scoring profile: {summary.scoring}" + (f"; metrics: {used}" if used else ""))
    if summary.load_retries or summary.errors_by_type.get("load_suspect"):
        lines.append(f"load: {summary.load_retries} episode(s) had a cell starved of CPU and were played again at "
                     f"lower concurrency; {summary.errors_by_type.get('load_suspect', 0)} still load_suspect "
                     "(excluded)")
    if summary.replies:
        lines.append(f"model replies: {summary.replies:,}, {summary.cached_replies:,} replayed from a cache "
                     f"({summary.cached_share:.0%}; they cost no tokens now)")
    lines += [str(stats) for stats in summary.predictions]
    lines += summary.notes
    return lines
