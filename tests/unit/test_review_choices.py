"""The reviewer's choices: every option and every disqualification reason, each explained."""

from __future__ import annotations

import pytest

from qualification.closed_sets import Reason, ReviewOption
from qualification.review_choices import CHOICES, borderline_words, choice_label, parse_choice


def test_every_option_but_disqualify_and_every_reason_is_one_explained_choice() -> None:
    options = {o for o, r in CHOICES.values() if r is None}
    reasons = {r for o, r in CHOICES.values() if o == ReviewOption.DISQUALIFY}
    assert options == set(ReviewOption) - {ReviewOption.DISQUALIFY}
    assert reasons == set(Reason)
    assert all(": " in label and len(label.partition(": ")[2]) > 8 for label in CHOICES)


@pytest.mark.parametrize(
    ("given", "parsed"),
    [
        (choice_label("approve_sql"), ("approve_sql", None)),
        (choice_label("disqualify", "spam"), ("disqualify", "spam")),
        ("route_mql", ("route_mql", None)),
        ("disqualify:wrong_org_type", ("disqualify", "wrong_org_type")),
        ("disqualify", None),  # a disqualification without its reason is no choice
        ("disqualify:not_applicable", None),
        ("approve_sql:spam", None),
        ("promote", None),
        (None, None),
    ],
)
def test_a_choice_reads_back_as_its_option_and_reason(
    given: str | None, parsed: tuple[str, str | None] | None
) -> None:
    assert parse_choice(given) == parsed


def test_why_a_person_decides_is_said_in_words() -> None:
    reasons = ["high_intent_low_fit", "unknown_must_have:org_type", "unknown_must_have:specialty"]
    assert borderline_words(reasons, []) == [
        "high intent but low fit.",
        "unknown, not failed: must-have org type, specialty.",
    ]
    edge = "Borderline: fit 47 is within 3 of the sql edge (50)."
    assert borderline_words(["near_band_edge"], [edge]) == [
        "fit 47 is within 3 of the sql edge (50)."
    ]
    assert borderline_words([], []) == ["borderline."]
