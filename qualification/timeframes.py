"""Timeframes: what a person typed about timing, read as a window of dates (start..end) counted
from the day it was said, or why there is no window (not given, not sure, no timeline)."""

from __future__ import annotations

import calendar
import datetime as dt
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import Literal

from .text import parse_datetime

TimeframeKind = Literal["stated", "not_given", "not_sure", "none"]


@dataclass(frozen=True, slots=True)
class Timeframe:
    """A buying timeline. Stated: the window `start`..`end` (dates, both included) and `days`
    from the day it was said to the window's start (0: it starts now). Otherwise no dates."""

    kind: TimeframeKind
    label: str
    start: dt.date | None = None
    end: dt.date | None = None
    days: int | None = None

    @property
    def dates(self) -> str:
        """The window as dates: `2026-11-20..2027-02-20`, one date for a single day."""
        if self.start is None or self.end is None:
            return ""
        return str(self.start) if self.start == self.end else f"{self.start}..{self.end}"

    @property
    def summary(self) -> str:
        """The timeline in words and dates, as the decision records it."""
        return f"{self.label} ({self.dates})" if self.kind == "stated" else self.label

    def described(self) -> str:
        """How an explanation line names the timeline: the words, the dates, when it starts."""
        if self.kind == "stated":
            when = "starts now" if not self.days else f"starts in {self.days} days"
            return f"Timeline '{self.label}' = {self.dates}, {when}"
        return {
            "not_given": "Timeline not given",
            "none": "Timeline 'no timeline'",
            "not_sure": f"Timeline '{self.label}'",
        }[self.kind]


_NOT_GIVEN = Timeframe("not_given", "not given")
_NOT_SURE = Timeframe("not_sure", "not sure")
_UNCLEAR = Timeframe("not_sure", "unclear")
_NO_TIMELINE = Timeframe("none", "no timeline")
_IMMEDIATE_DAYS = 14
_SOON_DAYS = 30

# --- words ---------------------------------------------------------------------------------

_SPACES = re.compile(r"\s+")
_BLANKS = frozenset({"", "-", "--", "n/a", "na", "n.a.", "null", "nil", "."})
_NONE_WORDS = re.compile(
    r"\b(?:no (?:timeline|timeframe|time frame|set timeline|specific timeline|firm timeline|"
    r"plans?|current plans|immediate plans|rush|urgency|date set|set date)|not (?:currently|now|"
    r"right now|at this time|at the moment|yet|looking|planning|in the market|buying|anytime soon|"
    r"any time soon|a priority)|just (?:researching|looking|browsing|exploring|curious|"
    r"gathering (?:information|info))|researching|exploring options|none|nothing planned|no need|"
    r"someday|some day|eventually|down the road|at some point|on hold|long[ -]term)\b"
)
_UNSURE_WORDS = re.compile(
    r"(?:\b(?:not sure|unsure|unknown|tbd|tba|to be determined|to be decided|don'?t know|"
    r"do not know|no idea|idk|undecided|not decided|uncertain|not certain|unclear|depends|"
    r"hard to say|pending)\b|^\?+$)"
)
_IMMEDIATE = re.compile(
    r"(?<!not )(?<!no )(?<!for )\b(?:asap|a\.? ?s\.? ?a\.? ?p\.?|as soon as (?:possible|we can)|"
    r"immediately|immediate|right away|straight away|at once|right now|now|urgent|urgently|"
    r"today|tomorrow|yesterday|already|within days|emergency|ready to buy|ready now|actively|"
    r"currently (?:evaluating|looking|shopping|reviewing|comparing))\b"
)
_SOON = re.compile(
    r"(?<!not )\b(?:soon|sooner|shortly|near term|near future|short term|in a bit|coming weeks)\b"
)

# Turned into the words the patterns read: negations that move a window later, and shorthands;
# each behind a word it needs (most texts need none of them).
_REWRITES: tuple[tuple[str, re.Pattern[str], str], ...] = tuple(
    (needs, re.compile(pattern), replacement)
    for needs, pattern, replacement in (
        ("not", r"\bnot (?!sure\b|certain\b)(?:\w+ ){0,2}?(?:until|till|til|before)\b", "from"),
        ("no", r"\bno (?:sooner|earlier) than\b", "from"),
        (
            "no",
            r"\b(?:not|no) (?!sure\b|certain\b)(?:\w+ ){0,2}?(?:for|in|within|during) "
            r"(?:another|the next|the coming)\b",
            "after",
        ),
        ("not", r"\bnot (?=this\b)", "after "),
        ("q", r"\b(?:eoq|quarter[ -]end|end of (?:the )?quarter)\b", "end of this quarter"),
        ("m", r"\b(?:eom|month[ -]end|end of (?:the )?month)\b", "end of this month"),
        (
            "y",
            r"\b(?:eoy|year[ -]end|end of (?:the )?year)\b(?! ?(?:20\d\d|after))",
            "end of this year",
        ),
        ("within", r"\bwithin the (week|month|quarter|year)\b", r"this \1"),
        (
            "the",
            r"\b(?:within|in|over|during) the (?:next|coming|following) "
            r"(week|month|quarter|year)\b",
            r"within 1 \1",
        ),
        ("coming", r"\bthe coming (days|weeks|months)\b", r"the next few \1"),
    )
)

# --- calendar pieces -----------------------------------------------------------------------

_MONTHS: dict[str, int] = {}
for _number, _full in enumerate(calendar.month_name[1:], start=1):
    _MONTHS[_full.lower()] = _number
    _MONTHS[_full.lower()[:3]] = _number
_MONTHS["sept"] = 9
_MONTH_NAME = "|".join(sorted(_MONTHS, key=len, reverse=True))

_DEADLINE = frozenset(
    {"by", "before", "until", "till", "til", "through", "thru", "no later than", "prior to"}
)
_FROM = frozenset(
    {"from", "starting", "starting in", "starting on", "starting from", "beginning in", "as of"}
)
_PRE = (
    r"(?:(?P<pre>no later than|prior to|starting (?:in|on|from)|starting|beginning in|as of|"
    r"by|before|until|till|til|through|thru|from|after)\s+)?"
    r"(?:(?:sometime|some time)\s+)?"
    r"(?:(?P<at>in|on|during|around|about|for|at|within|targeting)\s+)?"
    r"(?:the\s+)?"
)
_PART = (
    r"(?:(?P<part>early in|early|mid|middle of|late in|later in|late|later|latter part of|"
    r"end of|the end of|"
    r"towards? the end of|beginning of|the beginning of|start of|the start of|"
    r"first half of|second half of|back half of|h1 of|h2 of)[\s-]+(?:the\s+)?)?"
)
_PARTS: dict[str, str] = {
    "early": "early",
    "early in": "early",
    "beginning of": "early",
    "the beginning of": "early",
    "start of": "early",
    "the start of": "early",
    "mid": "mid",
    "middle of": "mid",
    "late": "late",
    "late in": "late",
    "later": "late",
    "later in": "late",
    "latter part of": "late",
    "end of": "late",
    "the end of": "late",
    "toward the end of": "late",
    "towards the end of": "late",
    "first half of": "h1",
    "h1 of": "h1",
    "second half of": "h2",
    "back half of": "h2",
    "h2 of": "h2",
}
_YEAR_WORDS = (
    r"(?:the\s+)?(?:this|next|following|coming|current)\s+(?:fiscal\s+|calendar\s+)?year|"
    r"(?:the\s+)?year\s+after\s+next|(?:fy|cy)\s*'?\d{2,4}|'\d{2}|20\d{2}"
)
_YEAR = rf"(?P<year>{_YEAR_WORDS})"
# After a quarter, season or month a bare "27" is a year too ("Q2 27").
_YEAR_AFTER = rf"(?:\s*,?\s*(?:of\s+|in\s+)?(?P<year>{_YEAR_WORDS}|\d{{2}}(?!\d)))?"

_DATE = r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[/.-]\d{1,2}[/.-](?:\d{4}|\d{2})(?![\d/])"
_DATE_WINDOW = re.compile(
    rf"(?:from\s+|between\s+)?\b({_DATE})\s*(?:\.\.|-|to|and|through|thru|until)\s*({_DATE})"
)
_FULL_DATE = re.compile(
    rf"{_PRE}\b(?P<date>{_DATE}|(?:{_MONTH_NAME})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}|"
    rf"\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:{_MONTH_NAME})\.?,?\s+\d{{4}})\b"
)
_DAY_OF_MONTH = re.compile(
    rf"{_PRE}\b(?:(?P<m1>{_MONTH_NAME})\.?\s+(?P<d1>\d{{1,2}})(?:st|nd|rd|th)?(?![\d:])|"
    rf"(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<m2>{_MONTH_NAME})\b|"
    r"(?<=by |on )(?P<m3>\d{1,2})/(?P<d3>\d{1,2})(?![/\d]))"
)
_ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4}
_QUARTER = re.compile(
    rf"{_PRE}{_PART}(?:"
    r"(?:(?P<lead_year>20\d{2}|fy\s*'?\d{2,4})\s*[-/]?\s*q(?P<lq>[1-4])\b)|"
    r"(?:\bq\s*(?P<q>[1-4])|\b(?P<qn>[1-4])(?:st|nd|rd|th)\s+(?:quarter|qtr)|"
    r"(?P<qw>first|second|third|fourth)\s+(?:quarter|qtr)|quarter\s+(?P<qq>[1-4]))"
    r"(?:\s*(?:-|to|or|/|and|through)\s*q?\s*(?P<q_to>[1-4])\b)?\b"
    rf"{_YEAR_AFTER}|"
    r"(?P<rel>this|next|following|coming|current)\s+(?:quarter|qtr)\b)"
)
_HALF = re.compile(
    rf"{_PRE}(?:(?P<which>first|1st|second|2nd|back|front)\s+half|\bh(?P<h>[12]))\b{_YEAR_AFTER}"
)
_SEASONS = {"spring": 3, "summer": 6, "fall": 9, "autumn": 9, "winter": 12}
_SEASON = re.compile(
    rf"{_PRE}{_PART}(?:(?P<rel>this|next|coming|the)\s+)?(?P<season>spring|summer|fall|autumn|"
    r"winter)(?:time)?\b(?! (?:through|behind|apart|off|short|under|into|back)\b)"
    rf"{_YEAR_AFTER}"
)
_MONTH = re.compile(
    rf"{_PRE}{_PART}(?:(?P<rel>this|next|coming|following|current)\s+)?"
    rf"(?:(?P<name>{_MONTH_NAME})\b\.?(?:\s*(?:-|to|/|or|and|through|thru)\s*"
    rf"(?P<to>{_MONTH_NAME})\b\.?)?{_YEAR_AFTER}|month\b|"
    r"(?P<number>0?[1-9]|1[0-2])/(?P<number_year>20\d{2})\b)"
)
_YEARS = re.compile(
    rf"{_PRE}{_PART}(?:(?P<new>(?:the\s+)?new\s+year(?:'?s)?|(?:the\s+)?holidays)|{_YEAR}\b)"
)
_WEEK = re.compile(r"\b(?:(this|next) week|end of (?:the |this )?week|the week after next)\b")

# --- quantities ----------------------------------------------------------------------------

_WORD_NUMBERS: dict[str, Fraction] = {
    "a": Fraction(1),
    "an": Fraction(1),
    "one": Fraction(1),
    "two": Fraction(2),
    "three": Fraction(3),
    "four": Fraction(4),
    "five": Fraction(5),
    "six": Fraction(6),
    "seven": Fraction(7),
    "eight": Fraction(8),
    "nine": Fraction(9),
    "ten": Fraction(10),
    "eleven": Fraction(11),
    "twelve": Fraction(12),
    "eighteen": Fraction(18),
    "twenty four": Fraction(24),
    "a couple of": Fraction(2),
    "a couple": Fraction(2),
    "couple of": Fraction(2),
    "couple": Fraction(2),
    "a few": Fraction(3),
    "few": Fraction(3),
    "several": Fraction(4),
    "half a": Fraction(1, 2),
    "half": Fraction(1, 2),
}
_UNITS: dict[str, str] = {}
for _names, _unit in (
    (("d", "day", "days"), "day"),
    (("w", "wk", "wks", "week", "weeks"), "week"),
    (("m", "mo", "mos", "mth", "mths", "month", "months"), "month"),
    (("qtr", "qtrs", "quarter", "quarters"), "quarter"),
    (("y", "yr", "yrs", "year", "years"), "year"),
):
    for _name in _names:
        _UNITS[_name] = _unit
_DIGITS = r"\d{1,4}(?:\.\d{1,2})?"
_WORD_NUMBER = "|".join(sorted(_WORD_NUMBERS, key=len, reverse=True))
_UNIT_ANY = r"days?|d|weeks?|wks?|w|months?|mos?|mths?|m|quarters?|qtrs?|years?|yrs?|y"
_UNIT_WORD = r"days?|weeks?|wks?|months?|mos?|mths?|quarters?|qtrs?|years?|yrs?"
_NUM = rf"(?:{_DIGITS}|{_WORD_NUMBER})"


def _qty(tag: str) -> str:
    """A number and its unit ("6 months", "6mo", "a year", "a year and a half"), groups tagged."""
    return (
        rf"(?:(?P<{tag}n>{_DIGITS})\s*(?P<{tag}plus>\+)?\s*(?P<{tag}u>{_UNIT_ANY})|"
        rf"(?P<{tag}w>{_WORD_NUMBER})\s+"
        rf"(?P<{tag}wu>{_UNIT_WORD}))\b(?P<{tag}half>\s+and\s+a\s+half\b)?"
    )


_WITHIN_LEAD = (
    "within the next|within the coming|within|in the next|in the coming|in the following|"
    "over the next|over the coming|during the next|the next|the coming|next|in under|"
    "in less than|less than|under|<=|<|up to|no more than|at most|inside of|inside|"
    "no longer than|before|by|max|maximum"
)
_OVER_LEAD = (
    "more than|greater than|over|beyond|longer than|at least|a minimum of|>=|>|after|later than"
)
_WITHIN_TAIL = frozenset({"or less", "or sooner", "at the latest", "at most", "max", "tops"})
_QUANTITY = re.compile(
    rf"(?:(?<![a-z])(?P<lead>{_WITHIN_LEAD}|{_OVER_LEAD})\s*"
    r"(?:(?:about|approximately|approx|roughly|around|~)\s*)?)?"
    rf"(?<![\w.]){_qty('a')}"
    r"(?:\s*(?P<tail>\+|or more\b|or longer\b|plus\b|or later\b|at the earliest\b|or less\b|"
    r"or sooner\b|at the latest\b|at most\b|max\b|tops\b))?"
)
_RANGE = re.compile(
    rf"(?<![\w.])(?:between\s+)?(?P<low>{_NUM})\s*(?:(?P<low_unit>{_UNIT_ANY})\s*)?"
    rf"(?:-|to|and|or)\s*(?P<high>{_NUM})\s*(?P<unit>{_UNIT_ANY})\b"
    rf"|(?<![\w.]){_qty('r')}\s+or\s+(?P<or_high>two|three|four|\d{{1,2}})\b"
)
_OVER_LEADS = frozenset(_OVER_LEAD.split("|"))
_OVER_TAILS = frozenset({"+", "or more", "or longer", "plus", "or later", "at the earliest"})


def _amount(token: str) -> Fraction:
    if token.isdigit():
        return Fraction(int(token))
    return _WORD_NUMBERS[token] if token in _WORD_NUMBERS else Fraction(token)


def _whole(count: Fraction, unit: str) -> tuple[int, str]:
    """A count in a unit as a whole count: "half a year" is 6 months, "1.5 weeks" 11 days."""
    if unit == "quarter":
        count, unit = count * 3, "month"
    if unit == "year" and count.denominator != 1:
        count, unit = count * 12, "month"
    if unit == "month" and count.denominator != 1:
        return math.ceil(count * Fraction(365, 12)), "day"
    if unit == "week" and count.denominator != 1:
        return math.ceil(count * 7), "day"
    return math.ceil(count), unit


def _add_months(day: dt.date, count: int) -> dt.date:
    """The same day `count` calendar months later, or the month's last day (Jan 31 + 1 month
    is Feb 28)."""
    year, month = divmod(day.year * 12 + day.month - 1 + count, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(day.day, last))


def _shift(day: dt.date, count: int, unit: str) -> dt.date:
    if unit == "day":
        return day + dt.timedelta(days=count)
    if unit == "week":
        return day + dt.timedelta(weeks=count)
    return _add_months(day, count if unit == "month" else 12 * count)


def _plural(count: int, unit: str) -> str:
    return f"{count} {unit}" if count == 1 else f"{count} {unit}s"


def _tagged(m: re.Match[str], tag: str) -> tuple[int, str]:
    number, unit = m.group(f"{tag}n"), m.group(f"{tag}u")
    if number is None:
        number, unit = m.group(f"{tag}w"), m.group(f"{tag}wu")
    elif number.isdigit() and not m.group(f"{tag}half"):  # the usual "60 days": no fractions
        whole, name = int(number), _UNITS[unit]
        return (whole * 3, "month") if name == "quarter" else (whole, name)
    amount = _amount(number) + (Fraction(1, 2) if m.group(f"{tag}half") else 0)
    return _whole(amount, _UNITS[unit])


# --- windows -------------------------------------------------------------------------------

Span = tuple[dt.date, dt.date]


def _end_of_month(year: int, month: int) -> dt.date:
    return dt.date(year, month, calendar.monthrange(year, month)[1])


def _months(year: int, first: int, count: int) -> Span:
    """`count` calendar months from month `first` of `year` (month 13 is next January)."""
    start = _add_months(dt.date(year, 1, 1), first - 1)
    last = _add_months(start, count - 1)
    return start, _end_of_month(last.year, last.month)


def _upcoming(
    span_of: Callable[[int], Span], year: int | None, received: dt.date, following: bool = False
) -> Span:
    """The span of the year named; with none, the first (one a year, from the year before) not
    over when said, or for "next X" the first not yet begun."""
    if year is not None:
        return span_of(year)
    for each in range(received.year - 1, received.year + 3):
        start, end = span_of(each)
        if (start > received) if following else (end >= received):
            return start, end
    raise ValueError("no such span")


def _window(label: str, start: dt.date, end: dt.date, received: dt.date) -> Timeframe:
    """A stated window, never starting before the day it was said."""
    if end < received:
        return Timeframe("stated", f"{label} (already past)", received, received, 0)
    start = max(start, received)
    return Timeframe("stated", label, start, end, (start - received).days)


def _shaped(m: re.Match[str], label: str, span: Span, received: dt.date) -> Timeframe:
    """The window a prefix makes of a calendar span: "by X" runs from now to X's end, "before X"
    to the day before X (but "before the end of X" is "by X"), "after X" is as long as X, after
    it; "from X", "in X" or no prefix is X."""
    pre, (start, end) = m.group("pre"), span
    if pre == "before" and _PARTS.get(m.groupdict().get("part") or "") == "late":
        pre = "by"
    if pre == "before":
        return _window(f"before {label}", received, start - dt.timedelta(days=1), received)
    if pre in _DEADLINE:
        return _window(f"by {label}", received, end, received)
    if pre in _FROM:
        return _window(f"from {label}", start, end, received)
    if pre == "after":
        after = end + dt.timedelta(days=1)
        return _window(f"after {label}", after, after + (end - start), received)
    return _window(label, start, end, received)


def _year_of(token: str | None, received: dt.date) -> int | None:
    """The year a phrase names: "next year", "FY27", "'27", "2027"; None when it names none."""
    if not token:
        return None
    if "after next" in token:
        return received.year + 2
    if "year" in token:
        return received.year + (0 if ("this" in token or "current" in token) else 1)
    digits = token.lstrip("fyc '")
    return 2000 + int(digits) if len(digits) == 2 else int(digits)


_THIRDS = {"early": 0, "h1": 0, "mid": 1}


def _part(m: re.Match[str], span: Span, words: str) -> tuple[str, Span]:
    """The part of a span the text names ("early", "mid", "end of", "first half of") and its
    label: thirds of a quarter or season (a month each), of a month (days 1-10, 11-20, 21 on),
    four-month thirds or halves of a year."""
    said = m.group("part")
    part = _PARTS.get(said or "")
    if part is None:
        return words, span
    label = f"{said.removeprefix('the ')} {words}" if said else words
    start, end = span
    if (end - start).days > 300:
        first, count = {"early": (1, 4), "mid": (5, 4), "late": (9, 4), "h1": (1, 6)}.get(
            part, (7, 6)
        )
        return label, _months(start.year, first, count)
    if (end - start).days < 40:
        first_day, last_day = {"early": (1, 10), "mid": (11, 20), "h1": (1, 15)}.get(
            part, (21 if part == "late" else 16, end.day)
        )
        return label, (start.replace(day=first_day), start.replace(day=last_day))
    return label, _months(start.year, start.month + _THIRDS.get(part, 2), 1)


def _full_date(m: re.Match[str], received: dt.date) -> Timeframe | None:
    try:
        day = parse_datetime(m.group("date")).date()
    except ValueError:
        return None
    return _shaped(m, str(day), (day, day), received)


def _day_of_month(m: re.Match[str], received: dt.date) -> Timeframe | None:
    name = m.group("m1") or m.group("m2")
    month = _MONTHS[name] if name else int(m.group("m3"))
    number = int(m.group("d1") or m.group("d2") or m.group("d3"))
    try:
        day = dt.date(received.year, month, number)
        if day < received:
            day = day.replace(year=day.year + 1)
    except ValueError:
        return None
    return _shaped(m, str(day), (day, day), received)


def _quarter(m: re.Match[str], received: dt.date) -> Timeframe:
    if rel := m.group("rel"):
        current = (received.month - 1) // 3
        index = current + (0 if rel in ("this", "current") else 1)
        span = _months(received.year, index * 3 + 1, 3)
        words = "this quarter" if index == current else "next quarter"
        return _shaped(m, *_part(m, span, words), received)
    if m.group("lq"):
        first = last = int(m.group("lq"))
        year = _year_of(m.group("lead_year"), received)
    else:
        first = int(m.group("q") or m.group("qn") or m.group("qq") or _ORDINALS[m.group("qw")])
        last = max(first, int(m.group("q_to") or first))
        year = _year_of(m.group("year"), received)

    def quarters(y: int) -> Span:
        return _months(y, first * 3 - 2, (last - first + 1) * 3)

    span = _upcoming(quarters, year, received)
    named = f"Q{first} {span[0].year}" if first == last else f"Q{first}-Q{last} {span[0].year}"
    if first != last:
        return _shaped(m, named, span, received)
    return _shaped(m, *_part(m, span, named), received)


def _half(m: re.Match[str], received: dt.date) -> Timeframe:
    second = m.group("h") == "2" or m.group("which") in ("second", "2nd", "back")
    year = _year_of(m.group("year"), received)
    span = _upcoming(lambda y: _months(y, 7 if second else 1, 6), year, received)
    label = f"{'second' if second else 'first'} half of {span[0].year}"
    return _shaped(m, label, span, received)


def _season(m: re.Match[str], received: dt.date) -> Timeframe:
    name = m.group("season")
    first = _SEASONS[name]
    year = _year_of(m.group("year"), received)
    if year is not None and name == "winter":
        year -= 1  # winter 2027 is the winter whose January is in 2027
    following = m.group("rel") in ("next", "coming")
    span = _upcoming(lambda y: _months(y, first, 3), year, received, following)
    if m.group("pre") in _DEADLINE and not m.group("part"):
        # "by spring" names the season's arrival: by the end of its first month, not its last.
        span = (span[0], _end_of_month(span[0].year, span[0].month))
    season = "fall" if name == "autumn" else name
    if name == "winter":
        season = f"winter {span[0].year}-{span[1].year % 100:02d}"
    else:
        season = f"{season} {span[0].year}"
    return _shaped(m, *_part(m, span, season), received)


def _month(m: re.Match[str], received: dt.date) -> Timeframe | None:
    rel, name = m.group("rel"), m.group("name")
    if number := m.group("number"):  # "03/2027"
        span = _months(int(m.group("number_year")), int(number), 1)
        named = f"{calendar.month_name[span[0].month]} {span[0].year}"
        return _shaped(m, *_part(m, span, named), received)
    if name is None:  # "this month", "next month"
        if rel is None:
            return None
        index = received.month + (0 if rel in ("this", "current") else 1)
        words = "this month" if rel in ("this", "current") else "next month"
        return _shaped(m, *_part(m, _months(received.year, index, 1), words), received)
    year = _year_of(m.group("year"), received)
    said = (m.group("pre"), m.group("at"), m.group("part"), rel, year, m.group("to"))
    if name == "may" and not any(said):
        return None  # "may" is usually the verb
    month = _MONTHS[name]
    count = (_MONTHS[m.group("to")] - month) % 12 + 1 if m.group("to") else 1
    following = rel in ("next", "following")
    span = _upcoming(lambda y: _months(y, month, count), year, received, following)
    named = f"{calendar.month_name[month]} {span[0].year}"
    if count > 1:
        last = calendar.month_name[span[1].month]
        return _shaped(m, f"{named[:-5]}-{last} {span[1].year}", span, received)
    return _shaped(m, *_part(m, span, named), received)


def _year(m: re.Match[str], received: dt.date) -> Timeframe | None:
    if m.group("new"):  # "the new year", "after the holidays": January, or part of the year
        whole = _months(received.year + 1, 1, 1 if m.group("part") is None else 12)
        words, span = _part(m, whole, "the new year")
        if m.group("pre") == "after":  # after it begins
            return _window(f"from {words}", *span, received)
        return _shaped(m, words, span, received)
    token = m.group("year")
    year = _year_of(token, received)
    if year is None:
        return None
    words = " ".join(token.split()).removeprefix("the ")
    span = _months(year, 1, 12)
    return _shaped(m, *_part(m, span, words if "year" in words else str(year)), received)


def _week(m: re.Match[str], received: dt.date) -> Timeframe:
    sunday = received + dt.timedelta(days=6 - received.weekday())
    if m.group(1) == "next":
        return _window("next week", sunday + dt.timedelta(1), sunday + dt.timedelta(7), received)
    if m.group(0) == "the week after next":
        monday = sunday + dt.timedelta(days=8)
        return _window("the week after next", monday, monday + dt.timedelta(6), received)
    return _window("this week", received, sunday, received)


def _range(m: re.Match[str], received: dt.date) -> Timeframe:
    if m.group("or_high"):  # "a month or two"
        low, unit = _tagged(m, "r")
        high, high_unit = max(low, int(_amount(m.group("or_high")))), unit
    else:
        high, high_unit = _whole(_amount(m.group("high")), _UNITS[m.group("unit")])
        low_unit = m.group("low_unit") or m.group("unit")
        low, unit = _whole(_amount(m.group("low")), _UNITS[low_unit])
    start, end = _shift(received, low, unit), _shift(received, high, high_unit)
    if unit == high_unit:
        label = f"in {low}-{_plural(high, unit)}"
    else:
        label = f"in {_plural(low, unit)} to {_plural(high, high_unit)}"
    return _window(label, start, max(start, end), received)


def _quantity(m: re.Match[str], received: dt.date) -> Timeframe:
    count, unit = _tagged(m, "a")
    lead, tail = m.group("lead"), m.group("tail")
    at = _shift(received, count, unit)
    if lead in _OVER_LEADS or tail in _OVER_TAILS or m.group("aplus"):
        more = f"more than {_plural(count, unit)}"
        return _window(more, at + dt.timedelta(days=1), _shift(at, count, unit), received)
    if lead is not None or tail in _WITHIN_TAIL:
        return _window(f"within {_plural(count, unit)}", received, at, received)
    end = _shift(at, 1, unit) - dt.timedelta(days=1)
    return _window(f"in {_plural(count, unit)}", at, end, received)


def _date_window(m: re.Match[str], received: dt.date) -> Timeframe | None:
    try:
        first, second = sorted(parse_datetime(m.group(i)).date() for i in (1, 2))
    except ValueError:
        return None
    return _window(f"from {first} to {second}", first, second, received)


Reader = Callable[[re.Match[str], dt.date], Timeframe | None]
_DIGIT = re.compile(r"\d")
_MONTH_HINTS = tuple(name for name in _MONTHS if len(name) == 3)
_UNIT_HINTS = (*"0123456789", "day", "wk", "week", "mo", "mth", "quarter", "qtr", "year", "yr")
# The forms, most specific first, each behind cheap tests (does it need a digit, one of which
# words must the text hold) that spare most texts most scans; the first form that reads the
# text gives the window.
_FORMS: tuple[tuple[bool, tuple[str, ...], re.Pattern[str], Reader], ...] = (
    (True, ("-", "/", "."), _DATE_WINDOW, _date_window),
    (True, ("-", "/", ".", "20", "19"), _FULL_DATE, _full_date),
    (True, (*_MONTH_HINTS, "/"), _DAY_OF_MONTH, _day_of_month),
    (False, ("q",), _QUARTER, _quarter),
    (False, ("half", "h1", "h2"), _HALF, _half),
    (False, tuple(_SEASONS), _SEASON, _season),
    (False, (*_MONTH_HINTS, "month", "/"), _MONTH, _month),
    (False, ("year", "holiday", "20", "fy", "cy", "'"), _YEARS, _year),
    (False, ("week",), _WEEK, _week),
    (False, _UNIT_HINTS, _RANGE, _range),
    (False, _UNIT_HINTS, _QUANTITY, _quantity),
)


def _stated(text: str, received: dt.date) -> Timeframe | None:
    digits = _DIGIT.search(text) is not None
    for needs_digit, words, pattern, read in _FORMS:
        if (needs_digit and not digits) or not any(word in text for word in words):
            continue
        for m in pattern.finditer(text):
            found = read(m, received)
            if found is not None:
                return found
    return None


@lru_cache(maxsize=4096)  # a batch repeats a handful of answers on a handful of days
def _parse(text: str, received: dt.date) -> Timeframe:
    if text in _BLANKS:
        return _NOT_GIVEN
    for needs, pattern, replacement in _REWRITES:
        if needs in text:
            text = pattern.sub(replacement, text)
    try:
        found = _stated(text, received)
    except (ValueError, OverflowError):
        found = None  # a date beyond the calendar, e.g. "Q4 9999" read on 9999-12-31
    if found is not None:
        return found
    if _NONE_WORDS.search(text):
        return _NO_TIMELINE
    if _IMMEDIATE.search(text):
        return _window("immediately", received, received + dt.timedelta(_IMMEDIATE_DAYS), received)
    if _SOON.search(text):
        return _window("soon", received, received + dt.timedelta(_SOON_DAYS), received)
    if _UNSURE_WORDS.search(text):
        return _NOT_SURE
    return _UNCLEAR


def parse_timeframe(text: str | None, received: dt.date) -> Timeframe:
    """The buying timeline in `text` as a window of dates counted from `received`, the day it
    was said: "within 3 months" starts that day, "in 3 months" three months later, "next year"
    is January 1 to December 31 of the next year."""
    if isinstance(received, dt.datetime):
        received = received.date()
    if text is None:
        return _NOT_GIVEN
    cleaned = text[:500].lower().replace("–", "-").replace("—", "-").replace("’", "'")
    try:
        return _parse(_SPACES.sub(" ", cleaned).strip(), received)
    except (ValueError, OverflowError):
        return _UNCLEAR
