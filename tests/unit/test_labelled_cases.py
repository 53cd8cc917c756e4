"""The labelled case set (tests/cases/*.yaml): each submission, built the way its channel's
reader builds it, is decided under the default sheet and must get the status (and reason) the
guide means. A case the core still gets wrong carries `known_miss` and is a strict xfail: once
the rule lands and it passes, this test fails until the marker is removed from the data."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest

from qualification.criteria import load_criteria
from qualification.decision import Decision
from qualification.evaluate import evaluate
from tests.cases.schema import (
    CaseFileError,
    LoadedCase,
    build_submission,
    citation_problem,
    guide_available,
    load_cases,
    parse_case_file,
)
from tests.paths import DEFAULT_SHEET

CRITERIA = load_criteria(DEFAULT_SHEET)
CASES = load_cases()
BY_ID = {c.case.id: c for c in CASES}


class CaseDisagrees(AssertionError):
    """The core's decision differs from what the guide means for the case."""


def _param(loaded: LoadedCase) -> object:
    miss = loaded.case.known_miss
    marks = (
        [pytest.mark.xfail(strict=True, raises=CaseDisagrees, reason=f"known miss: {miss}")]
        if miss
        else []
    )
    return pytest.param(loaded, id=loaded.case.id, marks=marks)


def _decide(loaded: LoadedCase) -> Decision:
    sub, today = build_submission(loaded)
    return evaluate(sub, CRITERIA, today=today)


def _disagreements(loaded: LoadedCase, d: Decision) -> list[str]:
    expected = loaded.case.expected
    problems = []
    if d.status not in expected.statuses:
        problems.append(f"status {d.status} ({d.reason}), expected {expected.describe()}")
    elif expected.reasons and d.reason not in expected.reasons:
        problems.append(f"reason {d.reason}, expected {expected.describe()}")
    if expected.recheck is not None and (d.recheck_days is not None) != expected.recheck:
        wanted = "a recheck" if expected.recheck else "no recheck"
        problems.append(f"recheck in {d.recheck_days} days, expected {wanted}")
    if expected.outranks is not None:
        other = _decide(BY_ID[expected.outranks])
        mine, theirs = d.fit_score + d.intent_score, other.fit_score + other.intent_score
        if mine <= theirs:
            problems.append(
                f"fit + intent {mine} is not above {theirs} of {expected.outranks} "
                "(the same lead without the nice-to-have)"
            )
    for name, value in expected.decision.items():
        got = getattr(d, name)
        if got != value:
            problems.append(f"decision.{name} is {got!r}, expected {value!r}")
    return problems


@pytest.mark.parametrize("loaded", [_param(c) for c in CASES])
def test_each_labelled_case_gets_the_outcome_the_guide_means(loaded: LoadedCase) -> None:
    decision = _decide(loaded)
    problems = _disagreements(loaded, decision)
    if problems:
        record = "\n    ".join(decision.explanations)
        raise CaseDisagrees(
            f"{loaded.label}: {'; '.join(problems)}\n  why: {loaded.case.why}\n"
            f"  decision record:\n    {record}"
        )


def test_the_set_covers_every_channel_with_enough_cases() -> None:
    by_channel = Counter(str(c.case.channel) for c in CASES)
    assert len(CASES) >= 80
    assert set(by_channel) == {"form", "webinar", "outbound"}
    assert min(by_channel.values()) >= 20


def test_ambiguous_cases_go_to_a_person() -> None:
    person = [c for c in CASES if c.case.a_person_decides]
    assert person
    assert all(c.case.expected.statuses == ("in_review",) for c in person)


def test_every_citation_points_into_the_guide() -> None:
    if not guide_available("000_9db8f47735b921cd.txt"):
        pytest.skip("../shared/guide is not present: citations cannot be checked here")
    cited = [(c.case.id, citation) for c in CASES for citation in c.citations]
    assert len(cited) >= len(CASES)
    problems = [(i, why) for i, c in cited if (why := citation_problem(c, c.file or ""))]
    assert problems == []


BAD_FILE = """
title: a typo
guide_file: 000_9db8f47735b921cd.txt
cases:
  - id: typo-case
    channel: form
    submitted_at: 2026-11-24T15:00:00Z
    submission: {organization_name: X}
    expected: {status: sqll}
    guide: [{section: 4, heading: "Sales qualified lead (SQL) criteria examples",
             quote: "Confirmed interest in the exact service scope"}]
    why: a status that does not exist
  - id: second-case
    channel: fax
    submitted_at: 2026-11-24T15:00:00Z
    submission: {organization_name: X}
    expected: {status: mql}
    guide: [{section: 4, heading: "Sales qualified lead (SQL) criteria examples",
             quote: "Confirmed interest in the exact service scope"}]
    why: a channel that does not exist
"""


def test_a_typo_in_a_case_file_names_the_file_the_case_and_the_field() -> None:
    with pytest.raises(CaseFileError) as caught:
        parse_case_file(BAD_FILE, "typos.yaml")
    lines = str(caught.value).splitlines()
    assert any(
        line.startswith("typos.yaml: case 'typo-case': expected.status") and "sqll" in line
        for line in lines
    ), lines
    assert any(line.startswith("typos.yaml: case 'second-case': channel") for line in lines)


def test_a_misquoted_guide_is_refused_naming_the_citation() -> None:
    if not guide_available("000_9db8f47735b921cd.txt"):
        pytest.skip("../shared/guide is not present")
    text = BAD_FILE.replace("sqll", "sql").replace("fax", "form")
    text = text.replace("exact service scope", "exact service scoop", 1)
    with pytest.raises(CaseFileError, match=r"typos.yaml: case 'typo-case': guide.0: quote"):
        parse_case_file(text, "typos.yaml")


def test_the_arrival_date_fixes_the_timeline() -> None:
    case = next(c for c in CASES if str(c.case.channel) == "form")
    sub, today = build_submission(case)
    assert today == case.case.submitted_at.date()
    assert sub.received_at is not None
    assert dt.date.fromisoformat(sub.received_at[:10]) == today


def test_a_case_its_channel_would_refuse_is_an_error_naming_the_case() -> None:
    text = BAD_FILE.replace("sqll", "sql").replace("fax", "outbound")
    text = text.replace("submission: {organization_name: X}", "submission: {email: a@b.org}", 1)
    text = text.replace("{organization_name: X}", "{organization_name: X, Email: a@b.org}")
    form, row = parse_case_file(text, "refused.yaml")
    with pytest.raises(CaseFileError, match=r"refused.yaml::typo-case: the intake would refuse"):
        build_submission(form)
    assert build_submission(row)[0].channel == "outbound"
