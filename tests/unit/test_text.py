"""One placeholder set, one word normalizer, one date parser for the whole core."""

from __future__ import annotations

import datetime as dt

import pytest

from qualification.submission import clean_value
from qualification.text import is_placeholder, parse_datetime, words

UTC = dt.UTC


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-20", dt.datetime(2026, 11, 20, tzinfo=UTC)),
        ("2026-11-20T14:03:00Z", dt.datetime(2026, 11, 20, 14, 3, tzinfo=UTC)),
        ("2026-11-20T09:03:00-05:00", dt.datetime(2026, 11, 20, 14, 3, tzinfo=UTC)),
        ("11/20/2026", dt.datetime(2026, 11, 20, tzinfo=UTC)),
        ("11/20/2026 2:30 PM", dt.datetime(2026, 11, 20, 14, 30, tzinfo=UTC)),
        ("Nov 20, 2026", dt.datetime(2026, 11, 20, tzinfo=UTC)),
    ],
)
def test_dates_as_people_and_systems_write_them(text: str, expected: dt.datetime) -> None:
    assert parse_datetime(text) == expected


@pytest.mark.parametrize("text", ["", "soon", "20", "November", "2026-13-45", "x" * 100])
def test_a_date_without_day_month_and_year_is_refused_with_the_text_named(text: str) -> None:
    with pytest.raises(ValueError, match="is not a date"):
        parse_datetime(text)


@pytest.mark.parametrize("cell", ["<UNAVAIL>", "N/A", "#N/A", " none ", "Unknown", "-", "?"])
def test_placeholders_are_no_value_everywhere(cell: str) -> None:
    assert is_placeholder(cell)
    assert clean_value(cell) is None


def test_words_drop_apostrophes_and_read_ampersands() -> None:
    assert words("St. Mary's  Heart & Vascular, P.C.") == "St Marys Heart and Vascular P C"
