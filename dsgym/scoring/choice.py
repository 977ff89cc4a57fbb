"""``choice``: multiple-choice answers given as a letter, ``(B)``, ``B. text`` or the option text.

QRData writes its choices two ways, both handled: lettered options inside the
question (``"A. Residual_RH causes ...\\nB. ..."``, answer ``"C"``, and
``metadata.multiple_choices`` just ``["a", "b", "c", "d"]``), or bare option texts
(``multiple_choices: ["there is difference", "no difference"]``, answer
``"no difference"``).  The options come from ``params["options"]`` (a list of
texts, a list of letters, a ``{letter: text}`` dict, or ``"A. x\\nB. y"`` text) and
from the question; an option list of bare texts is lettered A, B, C... in order.

How the answer is read, first rule that applies:
1. the whole answer is a letter (``C``, ``(c)``, ``C.``, ``Answer: C``);
2. the whole answer is an option's text;
3. it starts with a lettered option (``(B) ...``, ``B. ...``, ``B) ...``, or a bare
   capital letter followed by that option's text);
4. it says ``answer is C`` / ``answer: (C)`` / ``option C`` somewhere (last one counts);
5. it contains exactly one option's text (as whole words; an option whose text lies
   inside another found option's text does not count separately).
Two different readings in rule 5 make the answer ambiguous: score 0.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from typing import Any

from dsgym.scoring.result import Score
from dsgym.scoring.text import (MetricParamError, as_text, clean, normalize, preview, read_with_reference,
                                strip_answer_label, zero)

LETTERS = string.ascii_uppercase
MARKER = re.compile(r"(?:^|(?<=[\s,;:]))\(?([A-Z])[.)]\s+")
BARE_LETTER = re.compile(r"^\(?([A-Za-z])\)?[.:)]?$")
LEADING_LETTER = re.compile(r"^(?:\(([A-Za-z])\)|([A-Za-z])[.):])(?:\s+|$)")
SAYS_LETTER = re.compile(r"\b(?:answer\s*(?:is|:|=)|option|choice)\s*[:=]?\s*(\()?([A-Za-z])(\))?(?!\w)",
                         re.IGNORECASE)
SENTENCE_END = re.compile(r"\.\s+(?=[A-Z])")


def options_in_text(text: str) -> dict[str, str]:
    """Lettered options written in a text (``A. x``, ``(B) y``, ``C) z``), one run from A."""
    markers = [m for m in MARKER.finditer(text)]
    run: list[re.Match[str]] = []
    for marker in markers:
        if marker.group(1) == LETTERS[len(run)]:
            run.append(marker)
            if len(run) == len(LETTERS):
                break
    if len(run) < 2:
        return {}
    options = {}
    for k, marker in enumerate(run):
        end = run[k + 1].start() if k + 1 < len(run) else len(text)
        body = text[marker.end():end]
        if k + 1 == len(run):  # the last option ends with its line or its sentence
            body = SENTENCE_END.split(body.split("\n", 1)[0], 1)[0]
        options[marker.group(1)] = body.strip().rstrip(",;.").strip()
    return options


def resolve_options(options: Any, question: str) -> dict[str, str]:
    """``{letter: option text}`` ('' when only the letter is known)."""
    from_question = options_in_text(clean(as_text(question or "")))
    if options is None:
        return from_question
    if isinstance(options, str):
        parsed = options_in_text(clean(options))
        return parsed or from_question
    if isinstance(options, Mapping):
        return {str(k).strip().upper(): as_text(v).strip() for k, v in options.items()}
    if isinstance(options, (list, tuple)):
        texts = [as_text(o).strip() for o in options]
        if all(len(t) == 1 and t.isalpha() for t in texts):  # QRData's ["a", "b", "c", "d"]
            return {t.upper(): from_question.get(t.upper(), "") for t in texts}
        if sorted(map(normalize, texts)) == sorted(map(normalize, from_question.values())):
            return from_question  # the question letters the same options: its letters win
        return dict(zip(LETTERS, texts))
    raise MetricParamError(f"options must be a list, a dict or a text, got {type(options).__name__}")


def find_text_options(answer: str, options: dict[str, str]) -> list[str]:
    found = {}
    for letter, text in options.items():
        key = normalize(text)
        if key and re.search(rf"(?<!\w){re.escape(key)}(?!\w)", answer):
            found[letter] = key
    return [letter for letter, key in found.items()
            if not any(key != other and key in other for other in found.values())]


def read_choice(text: str, options: dict[str, str]) -> tuple[str | None, str]:
    """``(letter or None, rule)`` for an answer; with no options known, any letter is allowed."""
    valid = set(options) if options else set(LETTERS)
    body = strip_answer_label(text.strip())
    folded = normalize(body)
    texts = {normalize(t): letter for letter, t in options.items() if t}
    if (m := BARE_LETTER.match(normalize(body, case_sensitive=True))) and m.group(1).upper() in valid:
        return m.group(1).upper(), "a letter"
    if folded in texts:
        return texts[folded], "an option's text"
    m = LEADING_LETTER.match(body)
    if m and (m.group(1) or m.group(2)).upper() in valid:
        return (m.group(1) or m.group(2)).upper(), "starts with a lettered option"
    m = re.match(r"^([A-Z])\s+(.+)$", body, re.DOTALL)
    if m and m.group(1) in valid and options.get(m.group(1)) and normalize(m.group(2)).startswith(
            normalize(options[m.group(1)])):
        return m.group(1), "starts with a letter and its option's text"
    says = [m.group(2).upper() for m in SAYS_LETTER.finditer(body) if m.group(2).upper() in valid and (
        m.group(1) or m.group(2).isupper() or not body[m.end():].strip() or body[m.end()] in ".,;:!)\n")]
    if says:
        return says[-1], "says which option"
    found = find_text_options(folded, options) if texts else []
    if len(found) == 1:
        return found[0], "contains one option's text"
    if len(found) > 1:
        return None, f"ambiguous: mentions options {', '.join(sorted(found))}"
    return None, "no option found in the answer"


def choice(prediction: str, reference: Any, options: Any = None, question: str = "") -> Score:
    """1 when the answer picks the same option as the reference (a letter or an option's text)."""
    opts = resolve_options(options, question)
    text, failed = read_with_reference(prediction, reference)
    if failed:
        return failed
    want, _ = read_choice(clean(as_text(reference)), opts)
    breakdown: dict[str, Any] = {"options": preview(opts) if opts else None, "reference": want,
                                 "reference_text": preview(as_text(reference))}
    if want is None:
        # A free-text reference with no known options: the answer's text must equal it.
        got_text = normalize(strip_answer_label(text))
        ok = got_text == normalize(reference)
        return Score(float(ok), {**breakdown, "read_as": preview(got_text), "rule": "text equals the reference"})
    got, rule = read_choice(text, opts)
    if got is None:
        return zero(rule, **breakdown)
    return Score(float(got == want), {**breakdown, "read_as": got, "rule": rule})
