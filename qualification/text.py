"""Text as people type it: one placeholder set (and the fake words built on it), one word
normalizer, one date parser."""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata

from dateutil import parser as date_parser

# Cells that mean "no value": spreadsheet and CRM placeholders, whatever their case.
PLACEHOLDERS: frozenset[str] = frozenset(
    {
        "",
        "<unavail>",
        "unavail",
        "unavailable",
        "n/a",
        "na",
        "n a",
        "#n/a",
        "null",
        "none",
        "nil",
        "-",
        "--",
        "?",
        "unknown",
        "not applicable",
    }
)

# Words typed to get past a required field: a mailbox, domain or name made only of these is made
# up (qualification/plausible.py). PLACEHOLDERS' longer words count too ("none@none.com"); the
# short ones ("na", "nil") are initials and names as often as not.
FAKE_WORDS: frozenset[str] = frozenset(
    {
        "anonymous",
        "dummy",
        "example",
        "fake",
        "fakeemail",
        "firstlast",
        "firstnamelastname",
        "noaddress",
        "nobody",
        "noemail",
        "nomail",
        "noname",
        "noone",
        "nothing",
        "placeholder",
        "sample",
        "test",
        "tester",
        "testing",
        "testemail",
        "testuser",
        "user",
        "username",
        "youremail",
        "yourname",
    }
    | {word for word in PLACEHOLDERS if word.isalpha() and len(word) > 3}
)
# Words that make a placeholder only next to a fake word or each other ("no.email", "test
# user", "First Last"), never alone ("email@" is a mailbox some offices use).
FAKE_JOINERS: frozenset[str] = frozenset(
    {
        "address",
        "email",
        "first",
        "firstname",
        "full",
        "fullname",
        "last",
        "lastname",
        "mail",
        "my",
        "name",
        "no",
        "your",
    }
)
MAX_SCAN_CHARS = 5000

_APOSTROPHES_AND_AMPERSAND = str.maketrans({"'": None, "’": None, "‘": None, "&": " and "})
_NON_WORD = re.compile(r"[\W_]+")
# Two different defaults tell which parts of a date the text really gave.
_DEFAULTS = (dt.datetime(1901, 2, 3), dt.datetime(1904, 5, 6))


# C0 and C1 control characters but tab, line feed and carriage return; bidirectional overrides
# and isolates, which make text read differently from what it is.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def safe_text(text: str) -> str:
    """Text as it may be stored and shown: NFC, a lone surrogate (which no database or file can
    encode) replaced by U+FFFD, NUL and other control characters removed."""
    if text.isascii() and text.isprintable():
        return text  # almost every cell: nothing to do
    text = _SURROGATE.sub("\ufffd", text)
    return _CONTROL.sub("", unicodedata.normalize("NFC", text))


def safe_value(value: object) -> object:
    """`safe_text` for text; a number that is not finite (JSON `1e400`) is refused."""
    if isinstance(value, str):
        return safe_text(value)
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


_MARKDOWN_SPECIAL = re.compile(r"([!-/:-@\[-`{-~])")  # every ASCII punctuation character
_LINE_BREAKS = re.compile(r"\s*[\r\n\u2028\u2029]+\s*")


def markdown_inert(value: object) -> str:
    """Text shown inside Markdown (the review form, artifacts) that renders as itself: on one
    line (no heading, list or quote can start), every punctuation character escaped (no link,
    image, emphasis, HTML or bare URL)."""
    text = _LINE_BREAKS.sub(" ", str(value))
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


_WHITESPACE_CONTROLS = re.compile(r"[\t\r\n\v\f\u2028\u2029]+")


def one_line(text: str) -> str:
    """Text for a one-line field of another system (a CRM): tabs, CR and line breaks become one
    space each run."""
    return _WHITESPACE_CONTROLS.sub(" ", text).strip()


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> object:
    """A cell a spreadsheet shows as text: one starting like a formula (`=HYPERLINK(...)`,
    `+`, `-`, `@`, a tab or CR) gets a leading apostrophe (OWASP's advice for CSV injection)."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def is_placeholder(text: str) -> bool:
    return text.strip().lower() in PLACEHOLDERS


def words(text: str) -> str:
    """Words of `text` (first 5,000 chars) joined by single spaces; case and letters kept,
    apostrophes dropped ("St. Mary's" -> "St Marys") and "&" read as "and"."""
    return _NON_WORD.sub(" ", text[:MAX_SCAN_CHARS].translate(_APOSTROPHES_AND_AMPERSAND)).strip()


def parse_datetime(text: str) -> dt.datetime:
    """An ISO date or time (`2026-11-20`, `2026-11-20T14:03:00Z`) or a written date with day,
    month and year (`11/20/2026`, `Nov 20, 2026`, US month first), as aware UTC; a time without
    a zone is UTC. ValueError says what is wrong."""
    cleaned = text.strip()
    try:
        value = dt.datetime.fromisoformat(cleaned.replace("Z", "+00:00"))
    except ValueError:
        value = _written(cleaned)
    return value.astimezone(dt.UTC) if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _written(text: str) -> dt.datetime:
    why = f"{text[:40]!r} is not a date (YYYY-MM-DD, an ISO time or MM/DD/YYYY)"
    if not text or len(text) > 64:
        raise ValueError(why)
    try:
        first, second = (date_parser.parse(text, default=d) for d in _DEFAULTS)
    except (ValueError, OverflowError):
        raise ValueError(why) from None
    if (first.year, first.month, first.day) != (second.year, second.month, second.day):
        raise ValueError(why)  # a day, month or year was missing
    return first
