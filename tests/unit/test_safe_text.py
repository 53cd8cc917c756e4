"""Text made safe once, at the door: the same function for forms and lists (DESIGN §8)."""

from __future__ import annotations

import pytest

from qualification.submission import field_problems, safe_payload, submission_from_mapping
from qualification.text import csv_cell, safe_text


@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        ("Plain ASCII", "Plain ASCII"),
        ("X \ud800 Y", "X \ufffd Y"),
        ("X \x00 Y", "X  Y"),
        ("red \x1b[31m text", "red [31m text"),
        ("Cafe\u0301", "Café"),
        ("line one\nline two\ttab", "line one\nline two\ttab"),
        ("evil \u202egnp.exe", "evil gnp.exe"),
        ("\x85next line", "next line"),
    ],
)
def test_text_is_normalized_and_stripped_of_what_no_one_should_store(raw: str, safe: str) -> None:
    assert safe_text(raw) == safe


def test_a_payload_is_made_safe_and_what_cannot_be_stored_is_named_by_its_key() -> None:
    clean, problems = safe_payload(
        {"Company": "Acme\x00", "locations": float("inf"), "utm_campaign": "c" * 256, "n": 4}
    )
    assert clean == {"Company": "Acme", "n": 4}
    assert problems == [
        ("locations", "must be a finite number"),
        ("utm_campaign", "holds 256 characters; the limit is 255"),
    ]


def test_a_name_assembled_from_parts_is_held_to_the_contact_name_limit() -> None:
    sub = submission_from_mapping({"first_name": "a" * 300, "last_name": "b" * 300})
    assert field_problems(sub) == [("contact_name", "holds 601 characters; the limit is 512")]


def test_each_field_limit_is_what_the_columns_that_keep_it_hold() -> None:
    from models.tables import ConsentEvent, Contact, Lead, Organization, RawSubmission
    from qualification.submission import FIELD_MAX_CHARS

    def length(model: type, column: str) -> int:
        return int(model.__table__.c[column].type.length)  # type: ignore[attr-defined]

    assert {
        "submission_id": length(RawSubmission, "id"),
        "organization_name": length(Organization, "name"),
        "contact_name": length(Contact, "name"),
        "source": length(Lead, "source"),
        "campaign": length(Lead, "campaign"),
        "form_version": length(ConsentEvent, "form_version"),
    } == FIELD_MAX_CHARS


@pytest.mark.parametrize(
    ("cell", "shown"),
    [
        ('=HYPERLINK("http://evil.example","x")', '\'=HYPERLINK("http://evil.example","x")'),
        ("+1 555", "'+1 555"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("Acme Clinic", "Acme Clinic"),
        (-3, -3),
    ],
)
def test_a_csv_cell_that_looks_like_a_formula_is_shown_as_text(cell: object, shown: object) -> None:
    assert csv_cell(cell) == shown
