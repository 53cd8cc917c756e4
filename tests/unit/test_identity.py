"""A lead is a person, an account is an organization (DESIGN §4)."""

from __future__ import annotations

import pytest

from qualification.contact import check_email, check_phone
from qualification.identity import (
    account_keys,
    match_account,
    match_person,
    organization_name_key,
    person_key,
    registered_domain,
)

SWITCHBOARD = "phone:+13125550100"


def key_of(email: str | None, phone: str | None):  # type: ignore[no-untyped-def]
    return person_key(check_email(email), check_phone(phone, "US"))


def test_the_normalized_email_identifies_the_person() -> None:
    assert key_of("Ann.Lee@StJoes.org", "312-555-0100").key == "email:ann.lee@stjoes.org"


def test_two_people_sharing_a_switchboard_are_two_people() -> None:
    known = {"email:ann.lee@stjoes.org": "lead-ann"}
    holders = {SWITCHBOARD: {"lead-ann"}}
    bob = key_of("bob.ray@stjoes.org", "312-555-0100")
    assert match_person(bob.key, bob.by_phone, known, holders) is None


def test_the_same_email_again_is_the_same_person() -> None:
    ann = key_of("ANN.LEE@stjoes.org", None)
    assert match_person(ann.key, ann.by_phone, {"email:ann.lee@stjoes.org": "lead-ann"}, {}) == (
        "lead-ann"
    )


def test_a_phone_alone_identifies_the_one_person_who_holds_it() -> None:
    someone = key_of(None, "(312) 555-0100")
    assert someone.by_phone
    assert match_person(someone.key, True, {}, {SWITCHBOARD: {"lead-ann"}}) == "lead-ann"


def test_a_phone_alone_that_two_people_hold_identifies_nobody() -> None:
    someone = key_of(None, "312.555.0100")
    holders = {SWITCHBOARD: {"lead-ann", "lead-bob"}}
    assert match_person(someone.key, True, {}, holders) is None


def test_a_phone_only_person_seen_before_is_found_by_that_phone() -> None:
    holders = {SWITCHBOARD: {"lead-ann", "lead-front-desk"}}
    assert match_person(SWITCHBOARD, True, {SWITCHBOARD: "lead-front-desk"}, holders) == (
        "lead-front-desk"
    )


def test_no_email_and_no_phone_is_nobody_in_particular() -> None:
    assert key_of(None, None).key is None
    assert match_person(None, False, {}, {}) is None


@pytest.mark.parametrize(
    ("host", "registered"),
    [
        ("mail.stjoes.org", "stjoes.org"),
        ("stjoes.org", "stjoes.org"),
        ("cardiology.nhs.uk", "cardiology.nhs.uk"),
        ("www.heart.example.com", "www.heart.example.com"),
        ("clinic.test", "clinic.test"),
        (None, None),
    ],
)
def test_accounts_match_by_registered_domain(host: str | None, registered: str | None) -> None:
    assert registered_domain(host) == registered


@pytest.mark.parametrize(
    "spelling",
    [
        "St. Joseph's Heart & Vascular, Inc.",
        "ST JOSEPHS HEART AND VASCULAR",
        "The St Joseph's Heart and Vascular LLC",
        "St. Joséph’s Heart & Vascular P.C.",
    ],
)
def test_a_name_written_several_ways_is_one_organization(spelling: str) -> None:
    assert organization_name_key(spelling) == organization_name_key("St Josephs Heart and Vascular")


def test_the_same_name_in_another_state_is_another_account() -> None:
    il = account_keys(None, "Family Medicine Associates", "IL")
    tx = account_keys(None, "Family Medicine Associates", "tx")
    assert il == ("name:family medicine associates|IL",)
    assert tx == ("name:family medicine associates|TX",)


def test_the_domain_comes_before_the_name() -> None:
    assert account_keys("portal.stjoes.org", "St Joseph Hospital", "IL") == (
        "domain:stjoes.org",
        "name:st joseph hospital|IL",
    )


def test_a_name_matches_an_account_only_when_the_domains_agree() -> None:
    by_key = {"name:memorial hospital|TX": "acct-1", "domain:memorialtx.org": "acct-1"}
    domains = {"acct-1": "memorialtx.org"}.get
    other = account_keys("www.memorial-houston.org", "Memorial Hospital", "TX")
    same = account_keys("portal.memorialtx.org", "Memorial Hospital", "TX")
    no_site = account_keys(None, "Memorial Hospital", "tx")
    assert match_account(other, by_key, domains) is None
    assert match_account(same, by_key, domains) == "acct-1"
    assert match_account(no_site, by_key, domains) == "acct-1"
