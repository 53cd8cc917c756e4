"""Properties: evaluation never raises on arbitrary text and is deterministic."""

from __future__ import annotations

import datetime as dt

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qualification.criteria import load_criteria
from qualification.evaluate import evaluate
from qualification.submission import CANONICAL_FIELDS, submission_from_mapping
from tests.paths import DEFAULT_SHEET

CRITERIA = load_criteria(DEFAULT_SHEET)
TODAY = dt.date(2026, 11, 27)

text = st.one_of(
    st.none(),
    st.text(max_size=60),
    st.sampled_from(
        ["", " ", "<UNAVAIL>", "9106096740.0", "yes", "3", "-1", "1e400", "cardio", "TX"]
    ),
)
rows = st.fixed_dictionaries({}, optional={name: text for name in CANONICAL_FIELDS})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows)
def test_evaluation_never_raises_and_always_gives_a_known_status(
    row: dict[str, str | None],
) -> None:
    sub = submission_from_mapping(row, row=1)
    decision = evaluate(sub, CRITERIA, today=TODAY)
    assert decision.status in {
        "mql",
        "mql_no_timeline",
        "sql",
        "in_review",
        "nurture",
        "disqualified",
    }
    assert 0 <= decision.fit_score <= 100 and 0 <= decision.intent_score <= 100
    assert decision.reason
    assert (decision.status == "disqualified") == (decision.reason_permanent is not None)


@settings(max_examples=200, deadline=None)
@given(rows)
def test_the_same_input_and_sheet_always_give_the_same_decision(row: dict[str, str | None]) -> None:
    first = evaluate(submission_from_mapping(row), CRITERIA, today=TODAY)
    second = evaluate(submission_from_mapping(dict(row)), CRITERIA, today=TODAY)
    assert first == second
