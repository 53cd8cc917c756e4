"""Placeholder, fake and role patterns in a contact (issue 12; DESIGN §3, guide §5 and §12), each
named in the decision record."""

from __future__ import annotations

import dataclasses

import pytest

from qualification.closed_sets import ContactPattern
from qualification.contact import check_email, check_phone
from qualification.decision import Decision
from qualification.evaluate import evaluate
from qualification.plausible import Plausibility, assess_contact
from tests.unit.test_evaluate import CRITERIA, SQL_LEAD, TODAY

REAL_EMAIL = "maria.alvarez@stjoes.org"
REAL_PHONE = "(845) 362-9876"

# The SQL lead of tests/unit/test_evaluate.py with a contact at a real-looking domain and number.
LEAD = dataclasses.replace(
    SQL_LEAD, website="https://www.hvcardiology.com", email=REAL_EMAIL, phone=REAL_PHONE
)


def assess(
    email: str | None = REAL_EMAIL, phone: str | None = REAL_PHONE, name: str | None = "Ann Lee"
) -> Plausibility:
    return assess_contact(check_email(email), check_phone(phone), phone, name)


def patterns(p: Plausibility) -> list[tuple[str, str, str]]:
    return [(f.field, f.pattern, f.strength) for f in p.flags]


def decide(**changes: str | None) -> Decision:
    return evaluate(dataclasses.replace(LEAD, **changes), CRITERIA, today=TODAY)  # type: ignore[arg-type]


def flag_lines(d: Decision) -> list[tuple[str, str]]:
    return [(c.name, c.outcome) for c in d.checks if c.step == "validation" and ":" in c.name]


# --- emails ----------------------------------------------------------------------------------


EMAIL_FAKES = [
    ("test@test.com", "placeholder_mailbox"),
    ("TEST@Test.COM", "placeholder_mailbox"),
    ("noemail@noemail.com", "placeholder_mailbox"),
    ("no.email@gmail.com", "placeholder_mailbox"),
    ("no-email@stjoes.org", "placeholder_mailbox"),
    ("none@none.com", "placeholder_mailbox"),
    ("fake.email@yahoo.com", "placeholder_mailbox"),
    ("testing123@hospital.org", "placeholder_mailbox"),
    ("test+leads@stjoes.org", "placeholder_mailbox"),
    ("test.user@stjoes.org", "placeholder_mailbox"),
    ("first.last@stjoes.org", "placeholder_mailbox"),
    ("your.name@clinic.org", "placeholder_mailbox"),
    ("xxx@clinic.org", "placeholder_mailbox"),
    ("dummy@hospital.org", "placeholder_mailbox"),
    ("nobody@nowhere.com", "placeholder_mailbox"),
    ("Unknown@Cardiology-Partners.com", "placeholder_mailbox"),
    ("1234@clinic.org", "placeholder_mailbox"),
    ("asdf@asdf.com", "keyboard_mash"),
    ("qwerty@clinic.org", "keyboard_mash"),
    ("asdfgh@gmail.com", "keyboard_mash"),
    ("maria.alvarez@test.com", "placeholder_domain"),
    ("maria@asdf.com", "placeholder_domain"),
    ("jane@fake-email.com", "placeholder_domain"),
    ("ann@mail.noemail.co.uk", "placeholder_domain"),
    ("a@b.com", "throwaway_address"),
    ("x@y.org", "throwaway_address"),
    ("test@example.com", "placeholder_mailbox"),
    ("sample@clinic.example.com", "placeholder_mailbox"),
]


@pytest.mark.parametrize(("email", "pattern"), EMAIL_FAKES)
def test_a_placeholder_or_throwaway_email_is_fake_and_not_used(email: str, pattern: str) -> None:
    p = assess(email=email)
    assert patterns(p) == [("email", pattern, "fake")]
    assert not p.email_usable
    assert p.phone_usable and not p.contact_invalid


@pytest.mark.parametrize(
    "email",
    [
        "malvarez@hvcardiology.example.com",
        "jane@example.org",
        "maria@lakeside.example",
        "a@b.example.com",  # a one-letter fixture, not a throwaway: the domain says "sample"
    ],
)
def test_a_reserved_example_domain_is_a_named_warning_and_still_used(email: str) -> None:
    p = assess(email=email)
    assert patterns(p) == [("email", "reserved_domain", "suspect")]
    assert p.email_usable and not p.contact_invalid


@pytest.mark.parametrize(
    ("email", "mailbox"),
    [
        ("info@stjoes.org", "info"),
        ("noreply@stjoes.org", "noreply"),
        ("no-reply@stjoes.org", "no-reply"),
        ("admin@clinic.org", "admin"),
        ("ADMIN2@clinic.org", "admin2"),
        ("office@clinic.org", "office"),
        ("contact@clinic.org", "contact"),
        ("frontdesk@clinic.org", "frontdesk"),
        ("front.desk@clinic.org", "front.desk"),
    ],
)
def test_a_role_mailbox_is_noted_not_rejected(email: str, mailbox: str) -> None:
    p = assess(email=email, phone=None)
    assert patterns(p) == [("email", "role_mailbox", "role")]
    assert p.email_usable and not p.contact_invalid
    assert f"role mailbox ('{mailbox}')" in p.flags[0].text


@pytest.mark.parametrize(
    "email",
    [
        REAL_EMAIL,
        "dr.test@testamentclinic.com",
        "test.results@labcorp.com",
        "jane.doe@example-clinic.com",
        "testa@clinic.org",
        "liberty.trew@clinic.org",
        "contest.desk@clinic.org",
        "na@clinic.org",
        "j@stjoes.org",
        "ann@aaa.com",
        "ann@163.com",
        "qwe@clinic.org",
        "dr.smith@gmail.com",
    ],
)
def test_real_looking_addresses_are_not_flagged(email: str) -> None:
    assert assess(email=email).flags == ()


# --- phones ----------------------------------------------------------------------------------


PHONE_FAKES = [
    ("000-000-0000", "repeated_digits"),
    ("111-111-1111", "repeated_digits"),
    ("555-555-5555", "repeated_digits"),
    ("(999) 999-9999", "repeated_digits"),
    ("888-888-8888", "repeated_digits"),  # a valid toll-free number, and still no one's
    ("+1 000 000 0000", "repeated_digits"),
    ("0000000000.0", "repeated_digits"),
    ("1234567890", "sequential_digits"),
    ("123-456-7890", "sequential_digits"),
    ("0123456789", "sequential_digits"),
    ("987-654-3210", "sequential_digits"),
    ("(234) 567-8901", "sequential_digits"),
]


@pytest.mark.parametrize(("phone", "pattern"), PHONE_FAKES)
def test_a_phone_of_one_repeated_digit_or_running_digits_is_fake(phone: str, pattern: str) -> None:
    p = assess(phone=phone)
    assert patterns(p) == [("phone", pattern, "fake")]
    assert not p.phone_usable
    assert p.email_usable and not p.contact_invalid


@pytest.mark.parametrize("phone", ["(845) 555-0142", "212-555-0100", "+1 212 555 0199"])
def test_the_fictional_555_01xx_range_is_a_named_warning(phone: str) -> None:
    p = assess(phone=phone)
    assert patterns(p) == [("phone", "fictional_range", "suspect")]
    assert p.phone_usable and not p.contact_invalid


@pytest.mark.parametrize(
    "phone",
    [
        REAL_PHONE,
        "(714) 456-7890",  # a hospital: running digits after the area code are real
        "(717) 999-9999",
        "212-555-0200",
        "212-555-1212",
        "+44 20 7946 0000",
        "9106096740.0",
        "12",
    ],
)
def test_real_and_merely_invalid_phones_are_not_flagged(phone: str) -> None:
    assert assess(phone=phone).flags == ()


# --- names -----------------------------------------------------------------------------------


NAME_FLAGS = [
    ("asdf", "keyboard_mash"),
    ("ASDF", "keyboard_mash"),
    ("qwerty", "keyboard_mash"),
    ("Asdf Asdf", "keyboard_mash"),
    ("Test Test", "placeholder_name"),
    ("test", "placeholder_name"),
    ("Test User", "placeholder_name"),
    ("Dr. Test", "placeholder_name"),
    ("Test 1", "placeholder_name"),
    ("xxx", "placeholder_name"),
    ("aaa", "placeholder_name"),
    ("First Last", "placeholder_name"),
    ("Firstname Lastname", "placeholder_name"),
    ("Name", "placeholder_name"),
    ("Your Name", "placeholder_name"),
    ("John Doe", "placeholder_name"),
]


@pytest.mark.parametrize(("name", "pattern"), NAME_FLAGS)
def test_a_placeholder_name_alone_is_a_named_warning(name: str, pattern: str) -> None:
    p = assess(name=name)
    assert patterns(p) == [("contact_name", pattern, "suspect")]
    assert not p.contact_invalid
    assert f"Name '{name}'" in p.flags[0].text


@pytest.mark.parametrize(
    "name",
    [
        "Maria Alvarez",
        "Dr. Priya Nair",
        "Anna Test-Smith",
        "Nikolai Testa",
        "Liberty Trew",
        "Li Na",
        "My Nguyen",
        "Contact 12",
        "A B",
    ],
)
def test_real_names_are_not_flagged(name: str) -> None:
    assert assess(name=name).flags == ()


# --- what the patterns do together -----------------------------------------------------------


@pytest.mark.parametrize(
    ("email", "phone", "name", "email_usable", "phone_usable", "invalid"),
    [
        # Fake everywhere: nothing reaches the contact.
        ("test@test.com", "000-000-0000", "asdf", False, False, True),
        ("noemail@noemail.com", None, "Maria Alvarez", False, False, True),
        (None, "111-111-1111", "Maria Alvarez", False, False, True),
        # A fake field is not used; the other one reaches the contact.
        ("test@test.com", REAL_PHONE, "Maria Alvarez", False, True, False),
        (REAL_EMAIL, "123-456-7890", "Maria Alvarez", True, False, False),
        # A suspect field is fake once another field is.
        ("test@test.com", "(845) 555-0142", "Maria Alvarez", False, False, True),
        ("malvarez@hv.example.com", "000-000-0000", "Maria Alvarez", False, False, True),
        # A placeholder name with another fake or suspect field makes the contact invalid.
        ("test@test.com", REAL_PHONE, "Test Test", False, True, True),
        (REAL_EMAIL, "(845) 555-0142", "asdf", True, False, True),
        ("malvarez@hv.example.com", REAL_PHONE, "First Last", False, True, True),
        # Warnings that do not add up: samples use reserved domains with 555-01XX numbers.
        ("malvarez@hv.example.com", "(845) 555-0142", "Maria Alvarez", True, True, False),
        (REAL_EMAIL, REAL_PHONE, "Test", True, True, False),
        ("info@stjoes.org", REAL_PHONE, "Test", True, True, False),
    ],
)
def test_fake_signals_add_up_to_an_invalid_contact(
    email: str | None,
    phone: str | None,
    name: str,
    email_usable: bool,
    phone_usable: bool,
    invalid: bool,
) -> None:
    p = assess(email=email, phone=phone, name=name)
    assert (p.email_usable, p.phone_usable, p.contact_invalid) == (
        email_usable,
        phone_usable,
        invalid,
    )


def test_every_pattern_has_a_case_above() -> None:
    tabled = {pattern for _, pattern in (*EMAIL_FAKES, *PHONE_FAKES, *NAME_FLAGS)}
    warned = {"reserved_domain", "role_mailbox", "fictional_range"}
    assert tabled | warned == set(ContactPattern)


# --- in the decision -------------------------------------------------------------------------


def test_a_made_up_contact_is_disqualified_invalid_contact_with_each_pattern_named() -> None:
    d = decide(email="test@test.com", phone="000-000-0000", contact_name="asdf")
    assert (d.status, d.reason, d.reason_permanent) == ("disqualified", "invalid_contact", False)
    assert d.recheck_days == 30
    assert (d.email, d.phone, d.person_key) == (None, None, None)
    assert flag_lines(d) == [
        ("email:placeholder_mailbox", "fail"),
        ("phone:repeated_digits", "fail"),
        ("contact_name:keyboard_mash", "fail"),
    ]
    assert (
        "Email test@test.com looks like a placeholder (mailbox 'test' at domain 'test.com'): "
        "the contact is invalid." in d.explanations
    )
    assert "Phone 000-000-0000 looks fake (one digit repeated): the contact is invalid." in (
        d.explanations
    )
    assert (
        "Name 'asdf' looks like keyboard mash, with another field that looks fake: "
        "the contact is invalid." in d.explanations
    )
    assert (
        "Hard stop invalid_contact: The contact looks made up: email test@test.com looks like a "
        "placeholder (mailbox 'test' at domain 'test.com'); phone 000-000-0000 looks fake (one "
        "digit repeated); name 'asdf' looks like keyboard mash." in d.explanations
    )


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"email": "noemail@noemail.com", "phone": None}, "email noemail@noemail.com"),
        ({"email": "ASDF@asdf.com", "phone": None}, "email asdf@asdf.com looks like keyboard"),
        ({"email": "test@example.com", "phone": None}, "reserved domain 'example.com'"),
        ({"email": "x@y.org", "phone": None}, "throwaway"),
        ({"email": None, "phone": "555-555-5555"}, "one digit repeated"),
        ({"email": "fake@gmail.com", "phone": "987-654-3210"}, "running digits"),
        ({"email": "maria@test.com", "phone": "212-555-0155"}, "fictional range"),
        ({"contact_name": "Test Test", "email": "none@stjoes.org"}, "name 'Test Test'"),
        ({"contact_name": "qwerty", "phone": "(845) 555-0142"}, "name 'qwerty'"),
        ({"contact_name": "Your Name", "email": "ann@clinic.example.com"}, "reserved"),
    ],
)
def test_fake_contacts_are_disqualified_with_the_pattern_in_the_hard_stop(
    changes: dict[str, str | None], named: str
) -> None:
    d = decide(**changes)
    assert (d.status, d.reason) == ("disqualified", "invalid_contact")
    stop = next(c for c in d.checks if c.step == "hard_stop" and c.name == "invalid_contact")
    assert named in stop.detail


def test_contact_data_that_is_merely_malformed_keeps_its_plain_hard_stop() -> None:
    d = decide(email="maria@@stjoes", phone="12")
    assert "Hard stop invalid_contact: No valid email or phone to reach the contact." in (
        d.explanations
    )
    assert flag_lines(d) == []


def test_a_fake_phone_beside_a_real_email_is_dropped_and_the_lead_goes_on() -> None:
    d = decide(phone="000-000-0000")
    assert (d.status, d.email, d.phone) == ("sql", REAL_EMAIL, None)
    assert (
        "Phone 000-000-0000 looks fake (one digit repeated): the phone is not used; the contact "
        "is reached by email." in d.explanations
    )


def test_a_fake_email_beside_a_real_phone_is_neither_mailed_nor_a_key() -> None:
    d = decide(email="noemail@stjoes.org", website=None)
    assert (d.status, d.email, d.phone) == ("sql", None, "+18453629876")
    assert (d.person_key, d.person_by_phone) == ("phone:+18453629876", True)
    assert not any("stjoes" in key for key in d.account_keys)
    assert flag_lines(d) == [("email:placeholder_mailbox", "fail")]


@pytest.mark.parametrize(
    ("changes", "line", "sentence"),
    [
        (
            {"email": "malvarez@hvcardiology.example.com"},
            "email:reserved_domain",
            "Email malvarez@hvcardiology.example.com is at a domain reserved for documentation "
            "('hvcardiology.example.com', RFC 2606): kept, a warning only.",
        ),
        (
            {"phone": "(845) 555-0142"},
            "phone:fictional_range",
            "Phone (845) 555-0142 is in the NANP fictional range 555-0100 to 555-0199: "
            "kept, a warning only.",
        ),
        (
            {"contact_name": "Test"},
            "contact_name:placeholder_name",
            "Name 'Test' looks like a placeholder: kept, a warning only.",
        ),
        (
            {"email": "frontdesk@hvcardiology.com"},
            "email:role_mailbox",
            "Email frontdesk@hvcardiology.com is a role mailbox ('frontdesk'), not a person's: "
            "kept.",
        ),
    ],
)
def test_a_warning_is_an_info_line_and_changes_no_status(
    changes: dict[str, str | None], line: str, sentence: str
) -> None:
    before = decide()
    d = decide(**changes)
    assert (d.status, d.reason, d.fit_score, d.intent_score) == (
        before.status,
        before.reason,
        before.fit_score,
        before.intent_score,
    )
    assert d.status == "sql"
    assert flag_lines(d) == [(line, "info")]
    assert sentence in d.explanations


def test_the_sample_lead_at_example_domains_with_a_555_01xx_number_stays_sql() -> None:
    d = decide(email="malvarez@hvcardiology.example.com", phone="(845) 555-0142")
    assert (d.status, d.email, d.phone) == (
        "sql",
        "malvarez@hvcardiology.example.com",
        "+18455550142",
    )
    assert flag_lines(d) == [("email:reserved_domain", "info"), ("phone:fictional_range", "info")]
