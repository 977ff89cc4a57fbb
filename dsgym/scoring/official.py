"""The official DSGym release's string-matching graders, rewritten from their definitions (docs/scoring.md).

The ``official`` scoring profile (``dsgym.scoring.profiles``) grades a suite the way the
release's own evaluator does, so a number can be set beside the paper's.  These are
all-or-nothing: no partial credit, no Unicode or punctuation clean-up, and numbers are
compared only where the release compares them.

* ``official_exact_match`` (QRData with ``numeric_tolerance=0.03``, DSBio with 0): equal after
  stripping and lower-casing; else, when both texts are Python list literals, equal as sets of
  their lower-cased items (and nothing else is tried); else, when both texts are plain floats,
  the first number of each within a relative error strictly below the tolerance (against a
  reference of 0: the prediction's absolute value).  With tolerance 0 the number test never
  passes, so only the string test counts.
* ``official_list_match`` (DAEval, ``numeric_tolerance=0``): the answer's ``@name[value]``
  parts against the reference's ``[name, value]`` pairs: the same count, the same names
  (case-sensitive), and each value equal: as the first number in each (relative error at
  most the tolerance; an absolute one against 0) when both hold one, else as exact strings.
* ``official_dabstep``: equal after stripping and lower-casing.
"""

from __future__ import annotations

import ast
import re
from typing import Any

from dsgym.scoring.result import Score
from dsgym.scoring.text import MAX_ANSWER_CHARS, as_text, check_tolerance, preview, read_with_reference, zero

# The first number in a text, as the release reads it: a decimal (with an optional exponent), else an integer.
NUMBER_PATTERNS = (re.compile(r"[-+]?\d*\.?\d+(?:[eE][-+]?\d+)?"), re.compile(r"[-+]?\d+\.?\d*"))
PART = re.compile(r"@([^[]+)\[([^\]]*)\]")  # one @name[value] part; the name is anything up to '['
LITERAL_ERRORS = (ValueError, SyntaxError, TypeError, MemoryError, RecursionError)


def raw_text(prediction: Any) -> tuple[str | None, Score | None]:
    """The answer exactly as given (the release cleans nothing), or a zero saying why it cannot be read."""
    if prediction is None:
        return None, zero("no answer (None)")
    text = as_text(prediction)
    if len(text) > MAX_ANSWER_CHARS:
        return None, zero(f"answer too long: {len(text):,} characters (limit {MAX_ANSWER_CHARS:,})")
    return text, None


def first_number(text: str) -> float | None:
    text = text.strip()
    for pattern in NUMBER_PATTERNS:
        if found := pattern.search(text):
            try:
                return float(found.group())
            except ValueError:
                continue
    return None


def plain_float(text: str) -> bool:
    try:
        float(text.strip())
    except ValueError:
        return False
    return True


def literal(text: str) -> Any:
    try:
        return ast.literal_eval(text.strip())
    except LITERAL_ERRORS:
        return None


def official_exact_match(prediction: str, reference: Any, numeric_tolerance: float = 0.03) -> Score:
    """1 when the strings match (stripped, lower-cased), or the lists match as sets, or the numbers are close."""
    check_tolerance(numeric_tolerance=numeric_tolerance)
    text, failed = read_with_reference(prediction, reference, raw_text)
    if failed:
        return failed
    want_text = as_text(reference)
    got, want = text.strip().lower(), want_text.strip().lower()
    breakdown: dict[str, Any] = {"prediction": preview(got), "reference": preview(want),
                                 "numeric_tolerance": numeric_tolerance}
    if got == want:
        return Score(1.0, {**breakdown, "matched_by": "string"})
    mine, theirs = literal(text), literal(want_text)
    if isinstance(mine, list) and isinstance(theirs, list):
        same = {str(item).lower() for item in mine} == {str(item).lower() for item in theirs}
        return Score(float(same), {**breakdown, "matched_by": "list as a set" if same else None,
                                   "compared_as": "lists"})
    if plain_float(text) and plain_float(want_text):
        a, b = first_number(text), first_number(want_text)
        if a is not None and b is not None:
            error = abs(a) if b == 0 else abs(a - b) / abs(b)
            close = error < numeric_tolerance
            return Score(float(close), {**breakdown, "compared_as": "numbers", "relative_error": error,
                                        "matched_by": "number" if close else None})
    return Score(0.0, {**breakdown, "matched_by": None})


def answer_parts(text: str) -> list[tuple[str, str]]:
    return [(name.strip(), value.strip()) for name, value in PART.findall(text)]


def reference_pairs(reference: Any) -> list[tuple[str, str]]:
    """The reference's ``[name, value]`` pairs (a Python list literal); none when it is not one."""
    parsed = reference if isinstance(reference, list) else literal(as_text(reference))
    if not isinstance(parsed, list):
        return []
    return [(str(item[0]), str(item[1])) for item in parsed if isinstance(item, list) and len(item) >= 2]


def official_list_match(prediction: str, reference: Any, numeric_tolerance: float = 0.0) -> Score:
    """1 when every ``@name[value]`` part matches the reference's pairs and no part is missing or extra."""
    check_tolerance(numeric_tolerance=numeric_tolerance)
    text, failed = read_with_reference(prediction, reference, raw_text)
    if failed:
        return failed
    got, want = answer_parts(text), reference_pairs(reference)
    breakdown: dict[str, Any] = {"parts": preview([list(p) for p in got]), "reference": [list(p) for p in want],
                                 "numeric_tolerance": numeric_tolerance}
    if len(got) != len(want):
        return Score(0.0, {**breakdown, "reason": f"{len(got)} part(s) answered, {len(want)} expected"})
    mine, theirs = dict(got), dict(want)
    if set(mine) != set(theirs):
        return Score(0.0, {**breakdown, "reason": "the part names differ",
                           "missing": sorted(set(theirs) - set(mine)), "extra": sorted(set(mine) - set(theirs))})
    wrong = [name for name in mine if not _same_value(mine[name], theirs[name], numeric_tolerance)]
    return Score(float(not wrong), {**breakdown, "wrong": wrong})


def _same_value(got: str, want: str, tolerance: float) -> bool:
    a, b = first_number(got), first_number(want)
    if a is None or b is None:
        return got == want
    return abs(a - b) <= tolerance if b == 0 else abs(a - b) / abs(b) <= tolerance


def official_dabstep(prediction: str, reference: Any) -> Score:
    """1 when the answer equals the reference after stripping and lower-casing."""
    text, failed = read_with_reference(prediction, reference, raw_text)
    if failed:
        return failed
    got, want = text.strip().lower(), as_text(reference).strip().lower()
    return Score(float(got == want), {"prediction": preview(got), "reference": preview(want)})
