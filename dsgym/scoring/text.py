"""Reading answer text the same way in every metric: coercion, size guard, normalisation."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from typing import Any

from dsgym.scoring.result import Score

MAX_ANSWER_CHARS = 100_000  # an answer longer than this is not an answer; it scores 0 without being read

# Dashes that mean "minus" (NFKC leaves U+2212 alone); an en dash only counts before a digit.
MINUS_SIGNS = {"\u2212": "-", "\u2012": "-", "\ufe63": "-", "\uff0d": "-"}
QUOTE_PAIRS = {'"': '"', "'": "'", "`": "`", "\u201c": "\u201d", "\u2018": "\u2019", "\u00ab": "\u00bb",
               "\u201e": "\u201c", "\u300c": "\u300d"}
TRAILING_PUNCT = ".!?,;:\u3002"
MARKDOWN_WRAPS = ("**", "__", "*", "_", "`")
ANSWER_LABEL = re.compile(r"^\s*(?:the\s+)?(?:final\s+)?(?:answer|result)\b\s*(?:is\b\s*)?[:=\-]?\s*", re.IGNORECASE)


class ScoringError(Exception):
    """A misconfigured metric (bad params, no judge model): a bug to fix, so it is raised, not scored."""


class MetricParamError(ScoringError, TypeError):
    """A metric got a parameter value it cannot use."""


def as_text(value: Any) -> str:
    """Any answer as a ``str`` that is safe to encode (lone surrogates replaced)."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    text = value if isinstance(value, str) else str(value)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def clean(text: str) -> str:
    """Unicode-normalised text: NFKC (full-width digits, ligatures), minus signs as '-', no NULs."""
    text = unicodedata.normalize("NFKC", text).replace("\x00", "")
    for dash, minus in MINUS_SIGNS.items():
        text = text.replace(dash, minus)
    return re.sub(r"\u2013(?=\s*\d)", "-", text)


def unwrap(text: str) -> str:
    """Peel surrounding quotes and markdown emphasis, and trailing punctuation, until stable."""
    previous = None
    while text != previous:
        previous = text
        text = text.strip().rstrip(TRAILING_PUNCT).strip()
        for wrap in MARKDOWN_WRAPS:
            if len(text) > 2 * len(wrap) and text.startswith(wrap) and text.endswith(wrap):
                text = text[len(wrap):-len(wrap)]
        if len(text) >= 2 and QUOTE_PAIRS.get(text[0]) == text[-1]:
            text = text[1:-1]
    return text


def normalize(text: Any, case_sensitive: bool = False) -> str:
    """Case (unless ``case_sensitive``), runs of whitespace, surrounding quotes/markdown and
    trailing punctuation do not matter."""
    text = unwrap(re.sub(r"\s+", " ", clean(as_text(text))))
    return text if case_sensitive else text.casefold()


def strip_answer_label(text: str) -> str:
    """``"Answer: x"`` / ``"The final answer is x"`` -> ``"x"``."""
    return ANSWER_LABEL.sub("", text, count=1)


def read_answer(prediction: Any, *, allow_empty: bool = False) -> tuple[str | None, Score | None]:
    """The prediction as cleaned text, or a zero ``Score`` saying why it cannot be graded."""
    if prediction is None:
        return None, zero("no answer (None)")
    text = as_text(prediction)
    if len(text) > MAX_ANSWER_CHARS:
        return None, zero(f"answer too long: {len(text):,} characters (limit {MAX_ANSWER_CHARS:,})",
                          answer_chars=len(text))
    text = clean(text)
    if not text.strip() and not allow_empty:
        return None, zero("empty answer")
    return text, None


def read_with_reference(prediction: Any, reference: Any, read: Callable[[Any], tuple[str | None, Score | None]]
                        = read_answer) -> tuple[str | None, Score | None]:
    """``read(prediction)``, or a zero saying why there is nothing to grade: an unreadable answer, or a task
    without a (non-blank) reference."""
    text, failed = read(prediction)
    if failed:
        return None, failed
    if reference is None or not as_text(reference).strip():
        return None, zero("the task has no reference answer")
    return text, None


def zero(reason: str, **breakdown: Any) -> Score:
    return Score(0.0, {"reason": reason, **breakdown})


def check_tolerance(**params: Any) -> None:
    for name, value in params.items():
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
            raise MetricParamError(f"{name} must be a number >= 0, got {value!r}")


def check_flags(**flags: Any) -> None:
    for name, value in flags.items():
        if not isinstance(value, bool):
            raise MetricParamError(f"{name} must be true or false, got {value!r}")


def preview(value: Any, limit: int = 200) -> Any:
    """A short form of a value for a breakdown (so a 10 MB answer never lands in a log)."""
    if isinstance(value, str) and len(value) > limit:
        return value[:limit] + f"... [{len(value) - limit:,} more characters]"
    if isinstance(value, (list, tuple)) and len(value) > 50:
        return [preview(v, limit) for v in value[:50]] + [f"... [{len(value) - 50} more items]"]
    return value
