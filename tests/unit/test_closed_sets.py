"""Each closed set is declared once (qualification/closed_sets.py); the places that must spell it
out for a type checker or a form (Literal types) are checked against the declaration."""

from __future__ import annotations

from typing import get_args

from qualification import closed_sets
from qualification.criteria import CHANNELS, DISQUALIFICATION_REASONS, TEMPORARY_REASONS
from qualification.decision import STATUSES
from qualification.decision import Status as StatusLiteral
from qualification.vocab import INFLUENCES


def test_statuses_are_the_declared_set() -> None:
    assert get_args(StatusLiteral) == tuple(closed_sets.Status) == STATUSES


def test_reasons_and_their_permanence_come_from_one_declaration() -> None:
    assert tuple(DISQUALIFICATION_REASONS) == tuple(closed_sets.Reason)
    assert set(TEMPORARY_REASONS) == {
        "no_consent",
        "invalid_contact",
        "no_decision_path",
        "timing_too_far",
    }


def test_channels_and_influences_are_the_declared_sets() -> None:
    assert CHANNELS == ("form", "webinar", "outbound") == tuple(closed_sets.Channel)
    assert tuple(closed_sets.Influence) == INFLUENCES


def test_the_review_form_offers_exactly_the_declared_options_and_reasons() -> None:
    from qualification.review_choices import CHOICES

    assert {o for o, _ in CHOICES.values()} == set(closed_sets.ReviewOption)
    assert {r for _, r in CHOICES.values() if r} == set(closed_sets.Reason)
