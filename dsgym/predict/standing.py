"""Where a score would have placed on a competition's offline leaderboard: rank, percentile, medal.

The official DSGym release ships ``<subset>_leaderboard_stats_<date>.json``: an object
keyed by competition, each value holding ``public_scores`` and ``private_scores``
listed best first (``private_scores`` may be empty), their means and medians and
``total_submissions``.  Embedded suites use the same format keyed by task id, with
an optional ``entries`` list of ``{"name", "score"}`` reference points.

Rules, for a leaderboard of ``teams`` entries (the agent is not added to it):

- Two scores are equal when they differ by at most 1e-12 relative or absolute,
  so float noise does not break a tie.
- rank = 1 + the entries strictly better; ties share the better rank.
- percentile = 100 * (entries strictly worse + half the equal ones) / teams: the
  share of the field beaten, ties counted half, as the official DSGym grader does.
- above_median: strictly better than the median leaderboard score.
- Medals follow Kaggle's progression thresholds by team count, as MLE-bench applies
  them; each is the rank a score must reach (shares rounded up, in exact integers):

  | teams    | gold                 | silver  | bronze  |
  |----------|----------------------|---------|---------|
  | 1-99     | top 10%              | top 20% | top 40% |
  | 100-249  | top 10               | top 20% | top 40% |
  | 250-999  | top 10 + 0.2% teams  | top 50  | top 100 |
  | 1000+    | top 10 + 0.2% teams  | top 5%  | top 10% |

  A score earns the best medal whose rank it reaches.

MLE-bench's ``leaderboard.csv`` (one competition, Kaggle's final leaderboard with a
``score`` column, best first) is read by ``mlebench_leaderboard``, and scores placed on it
follow MLE-bench's grader instead (``rules="mlebench"``): the shares are rounded down
(at least rank 1), so 25 teams give gold to the top 2 where the table above gives the top 3,
and the score is rounded to 5 decimals before it is placed, as MLE-bench rounds every
competition score.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

REL_TOL = 1e-12
ABS_TOL = 1e-12  # near zero a relative tolerance is no tolerance (a kappa of 1e-16 is 0)
MEDALS = ("gold", "silver", "bronze")


def _share(teams: int, percent: float) -> int:
    """ceil(teams * percent / 100) without float error (10% of 30 is 3, not 3.0000000000000004 -> 4)."""
    tenths = round(percent * 10)
    return -(-teams * tenths // 1000)


def medal_thresholds(teams: int) -> dict[str, int]:
    """The rank needed for each medal on a leaderboard of ``teams`` entries."""
    if teams < 1:
        raise ValueError(f"a leaderboard needs at least one team, got {teams}")
    if teams < 100:
        return {"gold": _share(teams, 10), "silver": _share(teams, 20), "bronze": _share(teams, 40)}
    if teams < 250:
        return {"gold": 10, "silver": _share(teams, 20), "bronze": _share(teams, 40)}
    gold = 10 + _share(teams, 0.2)
    if teams < 1000:
        return {"gold": gold, "silver": 50, "bronze": 100}
    return {"gold": gold, "silver": _share(teams, 5), "bronze": _share(teams, 10)}


def mlebench_medal_thresholds(teams: int) -> dict[str, int]:
    """The rank needed for each medal as MLE-bench's grader takes it: shares rounded down, at least 1."""
    if teams < 1:
        raise ValueError(f"a leaderboard needs at least one team, got {teams}")

    def share(tenths_of_percent: int) -> int:
        return max(1, teams * tenths_of_percent // 1000)

    if teams < 100:
        return {"gold": share(100), "silver": share(200), "bronze": share(400)}
    if teams < 250:
        return {"gold": 10, "silver": share(200), "bronze": share(400)}
    gold = 10 + teams * 2 // 1000
    if teams < 1000:
        return {"gold": gold, "silver": 50, "bronze": 100}
    return {"gold": gold, "silver": share(50), "bronze": share(100)}


RULES = {"kaggle": medal_thresholds, "mlebench": mlebench_medal_thresholds}
MLEBENCH_DECIMALS = 5  # MLE-bench rounds a competition score to 5 decimals before ranking it


@dataclass(frozen=True)
class Standing:
    """A score's place on a leaderboard (the module docstring gives the rules)."""

    score: float
    rank: int
    teams: int
    percentile: float
    medal: str  # "gold", "silver", "bronze" or "none"
    above_median: bool
    thresholds: dict[str, int]


def _equal(values: np.ndarray, score: float) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        gap = np.abs(values - score)
        return (values == score) | (np.isfinite(gap) & (gap <= np.maximum(REL_TOL * np.maximum(np.abs(values), abs(score)), ABS_TOL)))


@dataclass(frozen=True)
class Leaderboard:
    """A competition's final scores, best first."""

    scores: tuple[float, ...]
    higher_is_better: bool
    source: str  # "private", "public" or "leaderboard.csv"
    rules: str = "kaggle"  # the medal rules: "kaggle" (the module docstring's table) or "mlebench"

    def _better(self, values: np.ndarray, score: float) -> np.ndarray:
        strictly = values > score if self.higher_is_better else values < score
        return strictly & ~_equal(values, score)

    def standing(self, score: float) -> Standing:
        score = float(score)
        if math.isnan(score):
            raise ValueError("cannot place a NaN score on a leaderboard")
        if self.rules == "mlebench" and math.isfinite(score):
            score = round(score, MLEBENCH_DECIMALS)
        if not self.scores:
            raise ValueError("the leaderboard is empty")
        values = np.asarray(self.scores, dtype=float)
        teams = len(values)
        equal = int(_equal(values, score).sum())
        better = int(self._better(values, score).sum())
        worse = teams - better - equal
        rank = better + 1
        thresholds = RULES[self.rules](teams)
        medal = next((m for m in MEDALS if rank <= thresholds[m]), "none")
        median = float(np.median(values))
        above_median = bool(self._better(np.array([score]), median)[0])
        return Standing(score=score, rank=rank, teams=teams, percentile=100 * (worse + 0.5 * equal) / teams,
                        medal=medal, above_median=above_median, thresholds=thresholds)


def _finite_numbers(values: Any, field: str) -> list[float]:
    if not isinstance(values, list):
        raise ValueError(f"{field} must be a list of numbers, got {type(values).__name__}")
    return [float(v) for v in values
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)]


def leaderboard_from_stats(stats: Mapping[str, Any], higher_is_better: bool | None = None) -> Leaderboard:
    """The leaderboard in one competition's stats: private scores when there are any, else public.

    Non-numeric and non-finite entries are dropped.  The direction comes from the order
    (best first) when the first and last scores differ, and must then agree with
    ``higher_is_better`` if given; when every score is equal it comes from the argument.
    """
    if not isinstance(stats, Mapping):
        raise ValueError(f"leaderboard stats must be an object, got {type(stats).__name__}")
    for source in ("private", "public"):
        scores = _finite_numbers(stats.get(f"{source}_scores", []), f"{source}_scores")
        if scores:
            break
    else:
        raise ValueError("no numeric scores in private_scores or public_scores")
    direction = _direction(scores, higher_is_better, f"{source} scores")
    return Leaderboard(tuple(sorted(scores, reverse=direction)), direction, source)


def _direction(scores: list[float], higher_is_better: bool | None, what: str) -> bool:
    """Whether higher is better, from a board listed best first; it must agree with ``higher_is_better`` if given."""
    if _equal(np.array([scores[-1]]), scores[0])[0]:
        if higher_is_better is None:
            raise ValueError(f"all {len(scores)} {what} are equal, so their order gives no direction; "
                             "pass higher_is_better")
        return higher_is_better
    direction = scores[0] > scores[-1]
    if higher_is_better is not None and higher_is_better != direction:
        raise ValueError(f"the {what} run from {scores[0]} (first) to {scores[-1]} (last), so "
                         f"{'higher' if direction else 'lower'} is better, but the metric says otherwise")
    return direction


def mlebench_leaderboard(path: Path, higher_is_better: bool | None = None) -> Leaderboard:
    """MLE-bench's ``leaderboard.csv`` for one competition, ranked by MLE-bench's rules.

    Only the ``score`` column is read; rows without a finite score are dropped.  The
    direction comes from the first and last rows, as MLE-bench takes it, and must agree
    with ``higher_is_better`` when given.  A Git LFS pointer (a checkout without
    ``git lfs pull``) is named as such.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path} is not UTF-8 text: {exc}") from None
    if text.startswith("version https://git-lfs"):
        raise ValueError(f"{path} is a Git LFS pointer, not the leaderboard: run `git lfs pull` in the "
                         "mle-bench checkout")
    rows = csv.DictReader(io.StringIO(text))
    if "score" not in (rows.fieldnames or []):
        raise ValueError(f"{path} has no score column (columns: {', '.join(rows.fieldnames or []) or 'none'})")
    scores = []
    for row in rows:
        try:
            value = float(row["score"])
        except (TypeError, ValueError):
            continue
        if math.isfinite(value):
            scores.append(value)
    if not scores:
        raise ValueError(f"{path} has no numeric scores")
    direction = _direction(scores, higher_is_better, f"scores in {path}")
    return Leaderboard(tuple(sorted(scores, reverse=direction)), direction, "leaderboard.csv", rules="mlebench")


def load_leaderboards(path: Path) -> dict[str, dict]:
    """The stats file as ``{competition or task id: stats}``, its shape checked."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"cannot read leaderboard file {path.name}: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"leaderboard file {path.name} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"leaderboard file {path.name}: expected an object keyed by competition, "
                         f"got {type(data).__name__}")
    for key, stats in data.items():
        where = f"leaderboard file {path.name}, {key!r}"
        if not isinstance(stats, dict):
            raise ValueError(f"{where}: expected an object, got {type(stats).__name__}")
        lists = [f for f in ("private_scores", "public_scores") if f in stats]
        if not lists:
            raise ValueError(f"{where}: no public_scores or private_scores")
        for field in lists:
            if not isinstance(stats[field], list):
                raise ValueError(f"{where}: {field} must be a list, got {type(stats[field]).__name__}")
        entries = stats.get("entries", [])
        if not isinstance(entries, list) or not all(
                isinstance(e, dict) and isinstance(e.get("name"), str)
                and isinstance(e.get("score"), (int, float)) and not isinstance(e.get("score"), bool)
                for e in entries):
            raise ValueError(f"{where}: entries must be a list of {{\"name\": str, \"score\": number}}")
    return data
