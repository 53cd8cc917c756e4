"""Timeframes are windows of dates counted from the day they were said (DESIGN §3)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qualification.timeframes import parse_timeframe
from tasks.recheck import RecheckItem, submission_for_recheck

LATE_NOVEMBER = dt.date(2026, 11, 27)  # a Friday
FEBRUARY = dt.date(2026, 2, 10)
MARCH = dt.date(2026, 3, 10)
JULY = dt.date(2026, 7, 15)


def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


@pytest.mark.parametrize(
    ("text", "said_on", "start", "end"),
    [
        # "within" starts the day it is said; "in" starts that far out.
        ("within 3 months", LATE_NOVEMBER, "2026-11-27", "2027-02-27"),
        ("Within the next 3 months", LATE_NOVEMBER, "2026-11-27", "2027-02-27"),
        ("< 3 months", LATE_NOVEMBER, "2026-11-27", "2027-02-27"),
        ("under 6 months", LATE_NOVEMBER, "2026-11-27", "2027-05-27"),
        ("less than a month", LATE_NOVEMBER, "2026-11-27", "2026-12-27"),
        ("within a year", LATE_NOVEMBER, "2026-11-27", "2027-11-27"),
        ("over the next year", LATE_NOVEMBER, "2026-11-27", "2027-11-27"),
        ("next 90 days", LATE_NOVEMBER, "2026-11-27", "2027-02-25"),
        ("sometime in the next 6 months", LATE_NOVEMBER, "2026-11-27", "2027-05-27"),
        ("in the coming months", LATE_NOVEMBER, "2026-11-27", "2027-02-27"),
        ("3 months max", LATE_NOVEMBER, "2026-11-27", "2027-02-27"),
        ("in 3 months", LATE_NOVEMBER, "2027-02-27", "2027-03-26"),
        ("3 months", LATE_NOVEMBER, "2027-02-27", "2027-03-26"),
        ("about 3 months out", LATE_NOVEMBER, "2027-02-27", "2027-03-26"),
        ("in 2 weeks", LATE_NOVEMBER, "2026-12-11", "2026-12-17"),
        ("a couple of months", LATE_NOVEMBER, "2027-01-27", "2027-02-26"),
        ("half a year", LATE_NOVEMBER, "2027-05-27", "2027-06-26"),
        ("decision in 6m", LATE_NOVEMBER, "2027-05-27", "2027-06-26"),
        ("a year and a half", LATE_NOVEMBER, "2028-05-27", "2028-06-26"),
        ("in 2 years", LATE_NOVEMBER, "2028-11-27", "2029-11-26"),
        ("2 yrs from now", LATE_NOVEMBER, "2028-11-27", "2029-11-26"),
        # Ranges start at their low end; "more than" just after its number.
        ("3-6 months", LATE_NOVEMBER, "2027-02-27", "2027-05-27"),
        ("3 – 6 months", LATE_NOVEMBER, "2027-02-27", "2027-05-27"),
        ("between 3 and 6 months", LATE_NOVEMBER, "2027-02-27", "2027-05-27"),
        ("three to six months", LATE_NOVEMBER, "2027-02-27", "2027-05-27"),
        ("1-3 months", LATE_NOVEMBER, "2026-12-27", "2027-02-27"),
        ("0-3 months", LATE_NOVEMBER, "2026-11-27", "2027-02-27"),
        ("30-60 days", LATE_NOVEMBER, "2026-12-27", "2027-01-26"),
        ("6 months - 1 year", LATE_NOVEMBER, "2027-05-27", "2027-11-27"),
        ("a month or two", LATE_NOVEMBER, "2026-12-27", "2027-01-27"),
        ("12+ months", LATE_NOVEMBER, "2027-11-28", "2028-11-27"),
        ("more than a year", LATE_NOVEMBER, "2027-11-28", "2028-11-27"),
        ("not for another 6 months", LATE_NOVEMBER, "2027-05-28", "2027-11-27"),
        ("no plans for the next 12 months", LATE_NOVEMBER, "2027-11-28", "2028-11-27"),
        # Years, and their parts: early is January to April, mid May to August, late from
        # September; said in late November, every one of these starts on January 1.
        ("next year", LATE_NOVEMBER, "2027-01-01", "2027-12-31"),
        ("sometime next year", LATE_NOVEMBER, "2027-01-01", "2027-12-31"),
        ("Next fiscal year", LATE_NOVEMBER, "2027-01-01", "2027-12-31"),
        ("early next year", LATE_NOVEMBER, "2027-01-01", "2027-04-30"),
        ("beginning of 2027", LATE_NOVEMBER, "2027-01-01", "2027-04-30"),
        ("after the new year", LATE_NOVEMBER, "2027-01-01", "2027-01-31"),
        ("not until next year", LATE_NOVEMBER, "2027-01-01", "2027-12-31"),
        ("not this year", LATE_NOVEMBER, "2027-01-01", "2027-12-31"),
        ("in 2027", LATE_NOVEMBER, "2027-01-01", "2027-12-31"),
        ("budget approved for FY27", LATE_NOVEMBER, "2027-01-01", "2027-12-31"),
        ("mid-2027", LATE_NOVEMBER, "2027-05-01", "2027-08-31"),
        ("H2 2027", LATE_NOVEMBER, "2027-07-01", "2027-12-31"),
        ("end of next year", LATE_NOVEMBER, "2027-09-01", "2027-12-31"),
        ("by end of 2027", LATE_NOVEMBER, "2026-11-27", "2027-12-31"),
        ("this year", LATE_NOVEMBER, "2026-11-27", "2026-12-31"),
        ("by year end", LATE_NOVEMBER, "2026-11-27", "2026-12-31"),
        ("the year after next", LATE_NOVEMBER, "2028-01-01", "2028-12-31"),
        ("sometime next year", MARCH, "2027-01-01", "2027-12-31"),
        # Quarters: the next such quarter when this year's has passed.
        ("Q1", FEBRUARY, "2026-02-10", "2026-03-31"),
        ("Q1", LATE_NOVEMBER, "2027-01-01", "2027-03-31"),
        ("first quarter", LATE_NOVEMBER, "2027-01-01", "2027-03-31"),
        ("Looking to purchase in Q1", LATE_NOVEMBER, "2027-01-01", "2027-03-31"),
        ("Q1 2027", LATE_NOVEMBER, "2027-01-01", "2027-03-31"),
        ("q2 '27", LATE_NOVEMBER, "2027-04-01", "2027-06-30"),
        ("2027 Q2", LATE_NOVEMBER, "2027-04-01", "2027-06-30"),
        ("Q3", LATE_NOVEMBER, "2027-07-01", "2027-09-30"),
        ("Q4", LATE_NOVEMBER, "2026-11-27", "2026-12-31"),
        ("Q1-Q2 2027", LATE_NOVEMBER, "2027-01-01", "2027-06-30"),
        ("end of Q1", LATE_NOVEMBER, "2027-03-01", "2027-03-31"),
        ("by end of Q1", LATE_NOVEMBER, "2026-11-27", "2027-03-31"),
        ("we want to implement by Q2 next year", LATE_NOVEMBER, "2026-11-27", "2027-06-30"),
        ("not before Q3", LATE_NOVEMBER, "2027-07-01", "2027-09-30"),
        ("this quarter", LATE_NOVEMBER, "2026-11-27", "2026-12-31"),
        ("end of quarter", LATE_NOVEMBER, "2026-12-01", "2026-12-31"),
        ("EOQ", JULY, "2026-09-01", "2026-09-30"),
        ("next quarter", LATE_NOVEMBER, "2027-01-01", "2027-03-31"),
        # Seasons of the northern hemisphere.
        # "by spring" names its arrival: by the end of its first month ("by the end of spring"
        # is the whole season).
        ("by spring", LATE_NOVEMBER, "2026-11-27", "2027-03-31"),
        ("we'd like to go live by the spring", LATE_NOVEMBER, "2026-11-27", "2027-03-31"),
        ("by the end of spring", LATE_NOVEMBER, "2026-11-27", "2027-05-31"),
        ("this summer", MARCH, "2026-06-01", "2026-08-31"),
        ("this summer", LATE_NOVEMBER, "2027-06-01", "2027-08-31"),
        ("fall", JULY, "2026-09-01", "2026-11-30"),
        ("looking at the fall of 2027", LATE_NOVEMBER, "2027-09-01", "2027-11-30"),
        ("next spring", MARCH, "2027-03-01", "2027-05-31"),
        ("this winter", LATE_NOVEMBER, "2026-12-01", "2027-02-28"),
        ("late spring", LATE_NOVEMBER, "2027-05-01", "2027-05-31"),
        # Months, weeks and days.
        ("by March", LATE_NOVEMBER, "2026-11-27", "2027-03-31"),
        ("before March", LATE_NOVEMBER, "2026-11-27", "2027-02-28"),
        ("March 2027", LATE_NOVEMBER, "2027-03-01", "2027-03-31"),
        ("in May", LATE_NOVEMBER, "2027-05-01", "2027-05-31"),
        ("around mid March", LATE_NOVEMBER, "2027-03-11", "2027-03-20"),
        ("Jan/Feb 2027", LATE_NOVEMBER, "2027-01-01", "2027-02-28"),
        ("03/2027", LATE_NOVEMBER, "2027-03-01", "2027-03-31"),
        ("November", LATE_NOVEMBER, "2026-11-27", "2026-11-30"),
        ("this month", LATE_NOVEMBER, "2026-11-27", "2026-11-30"),
        ("next month", LATE_NOVEMBER, "2026-12-01", "2026-12-31"),
        ("this week", LATE_NOVEMBER, "2026-11-27", "2026-11-29"),
        ("next week", LATE_NOVEMBER, "2026-11-30", "2026-12-06"),
        # Dates: "by" a date runs from now; a date alone is that day.
        ("by March 15", LATE_NOVEMBER, "2026-11-27", "2027-03-15"),
        ("by the 15th of January", LATE_NOVEMBER, "2026-11-27", "2027-01-15"),
        ("before 2027-06-30", LATE_NOVEMBER, "2026-11-27", "2027-06-29"),
        ("by 2027-02-20", LATE_NOVEMBER, "2026-11-27", "2027-02-20"),
        ("12/1/2026", LATE_NOVEMBER, "2026-12-01", "2026-12-01"),
        ("our contract ends 6/30/2027", LATE_NOVEMBER, "2027-06-30", "2027-06-30"),
        ("March 15, 2027", LATE_NOVEMBER, "2027-03-15", "2027-03-15"),
        ("15/3/2027", LATE_NOVEMBER, "2027-03-15", "2027-03-15"),
        ("Jan 15", LATE_NOVEMBER, "2027-01-15", "2027-01-15"),
        ("from 2027-01-01 to 2027-12-31", LATE_NOVEMBER, "2027-01-01", "2027-12-31"),
        # Now.
        ("ASAP", LATE_NOVEMBER, "2026-11-27", "2026-12-11"),
        ("a.s.a.p.", LATE_NOVEMBER, "2026-11-27", "2026-12-11"),
        ("immediately", LATE_NOVEMBER, "2026-11-27", "2026-12-11"),
        ("right away", LATE_NOVEMBER, "2026-11-27", "2026-12-11"),
        ("Urgent!", LATE_NOVEMBER, "2026-11-27", "2026-12-11"),
        ("we're ready now", LATE_NOVEMBER, "2026-11-27", "2026-12-11"),
        ("currently evaluating vendors", LATE_NOVEMBER, "2026-11-27", "2026-12-11"),
        ("soon", LATE_NOVEMBER, "2026-11-27", "2026-12-27"),
        # A window already over when said starts and ends that day.
        ("Q1 2025", LATE_NOVEMBER, "2026-11-27", "2026-11-27"),
        ("2025-01-01", LATE_NOVEMBER, "2026-11-27", "2026-11-27"),
    ],
)
def test_a_stated_timeline_is_a_window_from_the_day_it_was_said(
    text: str, said_on: dt.date, start: str, end: str
) -> None:
    found = parse_timeframe(text, said_on)
    assert (found.kind, found.start, found.end) == ("stated", d(start), d(end))
    assert found.days == (d(start) - said_on).days


@pytest.mark.parametrize(
    ("text", "kind", "label"),
    [
        (None, "not_given", "not given"),
        ("", "not_given", "not given"),
        ("   ", "not_given", "not given"),
        ("n/a", "not_given", "not given"),
        ("not sure", "not_sure", "not sure"),
        ("Unsure", "not_sure", "not sure"),
        ("unknown", "not_sure", "not sure"),
        ("TBD", "not_sure", "not sure"),
        ("?", "not_sure", "not sure"),
        ("don't know yet", "not_sure", "not sure"),
        ("depends on board approval", "not_sure", "not sure"),
        ("decision pending", "not_sure", "not sure"),
        ("we may buy", "not_sure", "unclear"),
        ("May", "not_sure", "unclear"),
        ("after our EHR migration", "not_sure", "unclear"),
        ("no timeline", "none", "no timeline"),
        ("No plans yet", "none", "no timeline"),
        ("just researching", "none", "no timeline"),
        ("Just looking", "none", "no timeline"),
        ("not currently", "none", "no timeline"),
        ("not now", "none", "no timeline"),
        ("not anytime soon", "none", "no timeline"),
        ("no rush", "none", "no timeline"),
        ("none", "none", "no timeline"),
    ],
)
def test_a_timeline_that_states_no_window_says_why(text: str | None, kind: str, label: str) -> None:
    found = parse_timeframe(text, LATE_NOVEMBER)
    assert (found.kind, found.label) == (kind, label)
    assert (found.start, found.end, found.days) == (None, None, None)


def test_sometime_next_year_and_early_next_year_said_in_late_november_start_together() -> None:
    sometime = parse_timeframe("sometime next year", LATE_NOVEMBER)
    early = parse_timeframe("early next year", LATE_NOVEMBER)
    assert sometime.start == early.start == dt.date(2027, 1, 1)
    assert (sometime.days, early.days) == (35, 35)
    assert (sometime.end, early.end) == (dt.date(2027, 12, 31), dt.date(2027, 4, 30))


def test_within_starts_now_and_in_starts_at_the_end_of_the_same_span() -> None:
    within = parse_timeframe("within 3 months", LATE_NOVEMBER)
    later = parse_timeframe("in 3 months", LATE_NOVEMBER)
    assert within.days == 0
    assert later.start == within.end and later.days == 92


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("within 3 months", "Timeline 'within 3 months' = 2026-11-27..2027-02-27, starts now"),
        ("next year", "Timeline 'next year' = 2027-01-01..2027-12-31, starts in 35 days"),
        ("Q1", "Timeline 'Q1 2027' = 2027-01-01..2027-03-31, starts in 35 days"),
        ("by spring", "Timeline 'by spring 2027' = 2026-11-27..2027-03-31, starts now"),
        ("12/1/2026", "Timeline '2026-12-01' = 2026-12-01, starts in 4 days"),
        ("Q1 2025", "Timeline 'Q1 2025 (already past)' = 2026-11-27, starts now"),
        ("not sure", "Timeline 'not sure'"),
        (None, "Timeline not given"),
    ],
)
def test_a_timeline_is_described_in_words_and_dates(text: str | None, words: str) -> None:
    assert parse_timeframe(text, LATE_NOVEMBER).described() == words


def test_the_summary_the_decision_records_keeps_words_and_dates() -> None:
    assert parse_timeframe("next year", LATE_NOVEMBER).summary == (
        "next year (2027-01-01..2027-12-31)"
    )
    assert parse_timeframe("TBD", LATE_NOVEMBER).summary == "not sure"


def test_a_received_datetime_is_read_as_its_date() -> None:
    moment = dt.datetime(2026, 11, 27, 23, 59)
    assert parse_timeframe("Q1 2027", moment) == parse_timeframe("Q1 2027", LATE_NOVEMBER)


def test_dates_beyond_the_calendar_are_unclear_not_errors() -> None:
    assert parse_timeframe("Q4 9999", dt.date(9999, 12, 31)).kind == "stated"
    assert parse_timeframe("next year", dt.date(9999, 6, 1)).kind == "not_sure"


def test_only_the_first_500_characters_are_read() -> None:
    assert parse_timeframe("x" * 500 + " within 30 days", LATE_NOVEMBER).label == "unclear"
    assert parse_timeframe("Please send pricing. " * 50_000, LATE_NOVEMBER).kind == "not_sure"


# --- a recheck keeps the window's meaning --------------------------------------------------


def item(timeframe: str, said_on: dt.date) -> RecheckItem:
    return RecheckItem(
        lead_id="lead-1",
        version=("mql", None, None, None),
        horizon=True,
        engagement_ids=(),
        submission_id="s-1",
        channel="form",
        payload={"email": "a@clinic.example.com", "timeframe": timeframe},
        received=said_on,
    )


@pytest.mark.parametrize(
    ("text", "pinned", "start", "end"),
    [
        ("within 3 months", "by 2027-02-27", "2027-01-10", "2027-02-27"),
        ("next year", "from 2027-01-01 to 2027-12-31", "2027-01-10", "2027-12-31"),
        ("in 2 years", "from 2028-11-27 to 2029-11-26", "2028-11-27", "2029-11-26"),
        ("Q1", "from 2027-01-01 to 2027-03-31", "2027-01-10", "2027-03-31"),
        ("by March 15", "by 2027-03-15", "2027-01-10", "2027-03-15"),
    ],
)
def test_a_recheck_pins_the_window_to_its_dates_and_reads_it_the_same_later(
    text: str, pinned: str, start: str, end: str
) -> None:
    later = dt.date(2027, 1, 10)
    sub = submission_for_recheck(item(text, LATE_NOVEMBER), later)
    assert (sub.timeframe, sub.received_at) == (pinned, "2027-01-10")
    read = parse_timeframe(sub.timeframe, later)
    assert (read.start, read.end) == (d(start), d(end))


def test_a_recheck_leaves_a_timeline_without_a_window_alone() -> None:
    sub = submission_for_recheck(item("not sure", LATE_NOVEMBER), dt.date(2027, 1, 10))
    assert sub.timeframe == "not sure"


# --- properties ----------------------------------------------------------------------------


@given(st.none() | st.text(), st.dates())
def test_parse_timeframe_never_raises_and_a_window_never_starts_before_it_was_said(
    text: str | None, received: dt.date
) -> None:
    found = parse_timeframe(text, received)
    assert (found.kind == "stated") == (found.days is not None)
    if found.start is not None and found.end is not None:
        assert received <= found.start <= found.end
        assert found.days == (found.start - received).days
    assert found.label
    assert parse_timeframe(text, received) == found


@given(
    st.sampled_from(
        ["3-6 months", "Q1", "Q4 2030", "by May", "12+ months", "next year", "within 2 weeks"]
    ),
    st.dates(min_value=dt.date(1000, 1, 1), max_value=dt.date(9000, 1, 1)),
)
def test_stated_timeframes_parse_on_any_received_date(text: str, received: dt.date) -> None:
    assert parse_timeframe(text, received).kind == "stated"
