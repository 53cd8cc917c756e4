"""Unit tables for the contact-field checks in qualification.contact."""

import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import given
from hypothesis import strategies as st

from qualification.contact import (
    PERSONAL_EMAIL_DOMAINS,
    EmailCheck,
    NpiCheck,
    PhoneCheck,
    PostalCheck,
    StateCheck,
    check_email,
    check_npi,
    check_phone,
    check_postal_code,
    check_state,
    normalize_country,
    website_domain,
)

# --- email -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "normalized", "dedupe_key", "domain"),
    [
        (
            "Jane.Doe@Example-Clinic.com",
            "jane.doe@example-clinic.com",
            "jane.doe@example-clinic.com",
            "example-clinic.com",
        ),
        (
            "billing+leads@clinic.org",
            "billing+leads@clinic.org",
            "billing+leads@clinic.org",
            "clinic.org",
        ),
        ("info@bücher.de", "info@bücher.de", "info@xn--bcher-kva.de", "xn--bcher-kva.de"),
        ("INFO@XN--BCHER-KVA.DE", "info@bücher.de", "info@xn--bcher-kva.de", "xn--bcher-kva.de"),
        ("ÑOÑO@example.com", "ñoño@example.com", "ñoño@example.com", "example.com"),
    ],
)
def test_valid_email_is_normalized_lower_cased_with_an_ascii_dedupe_key(
    raw: str, normalized: str, dedupe_key: str, domain: str
) -> None:
    result = check_email(raw)
    assert result == EmailCheck(
        present=True,
        valid=True,
        normalized=normalized,
        dedupe_key=dedupe_key,
        domain=domain,
        personal_domain=False,
        error=None,
    )


@pytest.mark.parametrize(
    "raw",
    [
        "jane.doe@",
        "@example.com",
        "jane.doe",
        "x@y",
        "jane doe@example.com",
        "jane..doe@example.com",
        "Jane Doe <jane@example.com>",
        "jane@localhost",
        "jane@example.invalid",
        "jane@[192.168.0.1]",
        '"jane doe"@example.com',
    ],
)
def test_invalid_email_is_rejected_with_email_validators_message(raw: str) -> None:
    result = check_email(raw)
    assert result.present is True
    assert result.valid is False
    assert result.normalized is None
    assert result.dedupe_key is None
    assert result.domain is None
    with pytest.raises(EmailNotValidError) as expected:
        validate_email(raw, check_deliverability=False)
    assert result.error == str(expected.value)


@pytest.mark.parametrize("raw", [None, "", " ", "\t\n "])
def test_missing_email_is_not_present_and_carries_no_error(raw: str | None) -> None:
    assert check_email(raw) == EmailCheck(False, False, None, None, None, False, None)


@pytest.mark.parametrize("raw", [" jane@example.com", "jane@example.com ", "\tjane@example.com\n"])
def test_email_with_surrounding_whitespace_gets_email_validators_own_verdict(raw: str) -> None:
    try:
        validate_email(raw, check_deliverability=False)
        expected_valid = True
    except EmailNotValidError:
        expected_valid = False
    assert check_email(raw).valid is expected_valid


@pytest.mark.parametrize(
    ("raw", "personal"),
    [
        ("dr.smith@gmail.com", True),
        ("dr.smith@GMAIL.COM", True),
        ("nurse@yahoo.com", True),
        ("pa@proton.me", True),
        ("md@comcast.net", True),
        ("md@icloud.com", True),
        ("md@sbcglobal.net", True),
        ("md@example-clinic.org", False),
        ("md@mail.google.com", False),
        ("md@gmail.com.example.org", False),
    ],
)
def test_personal_email_domains_are_flagged_but_still_valid(raw: str, personal: bool) -> None:
    result = check_email(raw)
    assert result.valid is True
    assert result.personal_domain is personal


def test_personal_email_domain_list_holds_the_big_consumer_providers() -> None:
    expected = {"gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "aol.com", "icloud.com"}
    assert expected <= PERSONAL_EMAIL_DOMAINS
    assert all(domain == domain.lower() for domain in PERSONAL_EMAIL_DOMAINS)


# --- phone -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "region", "e164", "extension", "recovered_float"),
    [
        ("(334) 793-8701", "US", "+13347938701", None, False),
        ("334.793.8701", "US", "+13347938701", None, False),
        ("+1 334 793 8701", "GB", "+13347938701", None, False),
        ("9106096740.0", "US", "+19106096740", None, True),
        ("9106096740.00", "US", "+19106096740", None, True),
        ("+19106096740.0", "US", "+19106096740", None, True),
        ("9.10609674E+09", "US", "+19106096740", None, True),
        ("9.106096740e9", "US", "+19106096740", None, True),
        ("415-666-7777 ext. 503", "US", "+14156667777", "503", False),
        ("(800) 901-3355 x 7246433", "US", "+18009013355", "7246433", False),
        ("4156667777 x123", "US", "+14156667777", "123", False),
        ("800 SIX-flag ext. 1234", "US", "+18007493524", "1234", False),
        ("+1 650 GOO OGLE", "US", "+16504666453", None, False),
        ("+44 20 7031 3000", "US", "+442070313000", None, False),
        ("020 7031 3000", "GB", "+442070313000", None, False),
        ("(613) 992-4211", "ca", "+16139924211", None, False),
        ("+52 (449)978-0001", "ZZ", "+524499780001", None, False),
    ],
)
def test_phone_numbers_are_parsed_to_e164(
    raw: str, region: str, e164: str | None, extension: str | None, recovered_float: bool
) -> None:
    result = check_phone(raw, region)
    assert result.present is True
    assert result.valid is (e164 is not None)
    assert result.e164 == e164
    assert result.extension == extension
    assert result.recovered_float is recovered_float


@pytest.mark.parametrize(
    ("raw", "region", "error"),
    [
        ("253-0000", "US", "not a valid number for region US (no area code)"),
        ("123-456-7890", "US", "not a valid number for region US"),
        ("7121115678", "US", "not a valid number for region US"),
        ("12345", "US", "not a valid number for region US (too short)"),
        ("+44 300", "US", "not a valid number for region GB (too short)"),
        ("I want a Pizza", "US", "could not parse: not a phone number"),
        ("1", "US", "could not parse: not a phone number"),
        ("02087654321", "ZZ", "could not parse: missing or invalid country code"),
        ("02087654321", "", "could not parse: missing or invalid country code"),
    ],
)
def test_invalid_phone_numbers_explain_why(raw: str, region: str, error: str) -> None:
    result = check_phone(raw, region)
    assert result == PhoneCheck(True, False, None, None, False, error)


def test_a_recovered_float_that_is_still_not_a_number_reports_both() -> None:
    result = check_phone("2530000.0")
    assert result.recovered_float is True
    assert result.valid is False
    assert result.e164 is None


@pytest.mark.parametrize("raw", ["9106096740.5", "9.1060967405E+09", "1.5", "12.0"])
def test_non_whole_or_short_floats_are_not_treated_as_artefacts(raw: str) -> None:
    assert check_phone(raw).recovered_float is False


@pytest.mark.parametrize("raw", [None, "", "   "])
def test_missing_phone_is_not_present_and_carries_no_error(raw: str | None) -> None:
    assert check_phone(raw) == PhoneCheck(False, False, None, None, False, None)


# --- postal code -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "country", "normalized", "recovered_leading_zero"),
    [
        ("04416", "US", "04416", False),
        ("10001", "US", "10001", False),
        (" 10001 ", "US", "10001", False),
        ("04102-3134", "US", "04102-3134", False),
        ("04102 3134", "US", "04102-3134", False),
        ("283044552", "US", "28304-4552", False),
        ("283044552.0", "US", "28304-4552", False),
        ("36301.0", "US", "36301", False),
        ("4416", "US", "04416", True),
        ("4416.0", "US", "04416", True),
        ("501", "US", "00501", True),
        ("693.0", "US", "00693", True),
        ("41023134", "US", "04102-3134", True),
        ("6622938.0", "US", "00662-2938", True),
        ("4416", None, "04416", True),
        ("4416", "USA", "04416", True),
        ("693", "Puerto Rico", "00693", True),
        ("k1a0b1", "Canada", "K1A 0B1", False),
        ("K1A 0B1", "CA", "K1A 0B1", False),
        ("sw1a 1aa", "UK", "SW1A 1AA", False),
        ("10115", "Germany", "10115", False),
        ("1000-001", "Portugal", "1000-001", False),
        ("any 12", "Narnia", "ANY 12", False),
    ],
)
def test_postal_codes_are_normalized_and_lost_zeros_recovered(
    raw: str, country: str | None, normalized: str, recovered_leading_zero: bool
) -> None:
    assert check_postal_code(raw, country) == PostalCheck(
        True, True, normalized, recovered_leading_zero, None
    )


@pytest.mark.parametrize(
    ("raw", "country", "error"),
    [
        ("ABCDE", "US", "'ABCDE' is not a US ZIP code (5 or 9 digits)"),
        ("12", "US", "'12' is not a US ZIP code (5 or 9 digits)"),
        ("123456", "US", "'123456' is not a US ZIP code (5 or 9 digits)"),
        ("1234567890", "US", "'1234567890' is not a US ZIP code (5 or 9 digits)"),
        ("12345-678", "US", "'12345-678' is not a US ZIP code (5 or 9 digits)"),
        ("4416.5", "US", "'4416.5' is not a US ZIP code (5 or 9 digits)"),
        ("٠٤٤١٦", "US", "'٠٤٤١٦' is not a US ZIP code (5 or 9 digits)"),
        ("12345", "Canada", "'12345' is not a Canadian postal code (A1A 1A1)"),
        ("D1A 0B1", "CA", "'D1A 0B1' is not a Canadian postal code (A1A 1A1)"),
        (
            "FAR TOO LONG 123",
            "GB",
            "'FAR TOO LONG 123' is not a postal code (up to 10 letters, digits, spaces or dashes)",
        ),
        (
            "AB#12",
            "DE",
            "'AB#12' is not a postal code (up to 10 letters, digits, spaces or dashes)",
        ),
    ],
)
def test_malformed_postal_codes_are_invalid_with_a_reason(
    raw: str, country: str, error: str
) -> None:
    assert check_postal_code(raw, country) == PostalCheck(True, False, None, False, error)


@pytest.mark.parametrize("raw", [None, "", "  "])
def test_missing_postal_code_is_not_present(raw: str | None) -> None:
    assert check_postal_code(raw) == PostalCheck(False, False, None, False, None)


# --- state -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "country", "code"),
    [
        ("NY", "US", "NY"),
        ("ny", "US", "NY"),
        (" ny ", "US", "NY"),
        ("N.Y.", "US", "NY"),
        ("new york", "US", "NY"),
        ("New  York", "US", "NY"),
        ("NEWYORK", "US", "NY"),
        ("Maine", "US", "ME"),
        ("District of Columbia", "US", "DC"),
        ("Washington D.C.", "US", "DC"),
        ("D.C.", "US", "DC"),
        ("Washington", "US", "WA"),
        ("Puerto Rico", "US", "PR"),
        ("gu", "US", "GU"),
        ("U.S. Virgin Islands", "US", "VI"),
        ("American Samoa", "US", "AS"),
        ("Northern Mariana Islands", "US", "MP"),
        ("tx", None, "TX"),
        ("texas", "United States", "TX"),
        ("ON", "CA", "ON"),
        ("ontario", "Canada", "ON"),
        ("Québec", "Canada", "QC"),
        ("Quebec", "CA", "QC"),
        ("British Columbia", "CA", "BC"),
        ("PEI", "CA", "PE"),
        ("Bavaria", "DE", "BAVARIA"),
        ("Greater London", "United Kingdom", "GREATER LONDON"),
    ],
)
def test_states_resolve_by_code_or_name(raw: str, country: str | None, code: str) -> None:
    assert check_state(raw, country) == StateCheck(True, True, code, None)


@pytest.mark.parametrize(
    ("raw", "country", "error"),
    [
        ("XX", "US", "'XX' is not a US state or territory"),
        ("Narnia", "US", "'Narnia' is not a US state or territory"),
        ("Ontario", "US", "'Ontario' is not a US state or territory"),
        ("NY", "CA", "'NY' is not a Canadian province or territory"),
        ("New York", "Canada", "'New York' is not a Canadian province or territory"),
    ],
)
def test_unknown_states_are_invalid_with_a_reason(raw: str, country: str, error: str) -> None:
    assert check_state(raw, country) == StateCheck(True, False, None, error)


@pytest.mark.parametrize("raw", [None, "", "  "])
def test_missing_state_is_not_present(raw: str | None) -> None:
    assert check_state(raw) == StateCheck(False, False, None, None)


# --- country ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("US", "US"),
        ("us", "US"),
        ("USA", "US"),
        ("U.S.", "US"),
        ("U.S.A.", "US"),
        ("United States", "US"),
        ("united states of america", "US"),
        ("America", "US"),
        (" USA ", "US"),
        ("CA", "CA"),
        ("Canada", "CA"),
        ("GB", "GB"),
        ("UK", "GB"),
        ("U.K.", "GB"),
        ("United Kingdom", "GB"),
        ("Great Britain", "GB"),
        ("MX", "MX"),
        ("Mexico", "MX"),
        ("México", "MX"),
        ("Germany", "DE"),
        ("France", "FR"),
        ("India", "IN"),
        ("Australia", "AU"),
        ("Ireland", "IE"),
        ("de", "DE"),
        ("JP", "JP"),
        ("PR", "PR"),
    ],
)
def test_countries_normalize_to_iso_alpha2(raw: str, code: str) -> None:
    assert normalize_country(raw) == code


@pytest.mark.parametrize("raw", [None, "", "  ", "Narnia", "XX", "ZZ", "U", "Untied States"])
def test_unknown_countries_normalize_to_none(raw: str | None) -> None:
    assert normalize_country(raw) is None


# --- website ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "domain"),
    [
        ("https://www.Example-Clinic.com/about?x=1", "example-clinic.com"),
        ("example.com", "example.com"),
        ("www.example.com:8080", "example.com"),
        ("HTTP://WWW.EXAMPLE.COM", "example.com"),
        ("http://example.com.", "example.com"),
        ("//cdn.example.com/x", "cdn.example.com"),
        ("https://portal.example-health.org#contact", "portal.example-health.org"),
        ("www2.example.com", "www2.example.com"),
        ("www.com", "www.com"),
        ("https://bücher.de/", "xn--bcher-kva.de"),
        ("www.Bücher.de", "xn--bcher-kva.de"),
        ("xn--bcher-kva.de", "xn--bcher-kva.de"),
        (" example.org ", "example.org"),
    ],
)
def test_website_domain_extracts_the_lower_case_ascii_host(raw: str, domain: str) -> None:
    assert website_domain(raw) == domain


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "",
        "   ",
        "<UNAVAIL>",
        "n/a",
        "N/A",
        "localhost",
        "https://localhost:8080/",
        "example clinic.com",
        "www.example .com",
        "jane@example.com",
        "mailto:jane@example.com",
        "http://192.168.0.1/",
        "example.com:http",
        "-bad-.com",
        "under_score.com",
        "https://",
        "www.",
    ],
)
def test_website_domain_is_none_for_unusable_values(raw: str | None) -> None:
    assert website_domain(raw) is None


# --- NPI -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("1234567893", "1234567893"),
        ("1497758544", "1497758544"),
        ("1497758544.0", "1497758544"),
        (" 1023011178 ", "1023011178"),
        ("1003005174", "1003005174"),
    ],
)
def test_valid_npis_pass_the_cms_luhn_check(raw: str, normalized: str) -> None:
    assert check_npi(raw) == NpiCheck(True, True, normalized, None)


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        ("1234567890", "check digit does not match"),
        ("1497758545", "check digit does not match"),
        ("1234567839", "check digit does not match"),
        ("123456789", "must be 10 digits"),
        ("12345678931", "must be 10 digits"),
        ("123456789X", "must be 10 digits"),
        ("1234-567-893", "must be 10 digits"),
        ("１２３４５６７８９３", "must be 10 digits"),
        ("1497758544.5", "must be 10 digits"),
        ("3234567893", "must start with 1 or 2"),
    ],
)
def test_invalid_npis_are_rejected_with_a_reason(raw: str, error: str) -> None:
    assert check_npi(raw) == NpiCheck(True, False, None, error)


@pytest.mark.parametrize("raw", [None, "", " "])
def test_missing_npi_is_not_present(raw: str | None) -> None:
    assert check_npi(raw) == NpiCheck(False, False, None, None)


# --- robustness ------------------------------------------------------------------------------


def _consistent(present: bool, valid: bool, error: str | None) -> bool:
    if not present:
        return not valid and error is None
    return valid is (error is None)


@given(st.text(), st.text(max_size=3))
def test_no_check_raises_on_arbitrary_text(text: str, region: str) -> None:
    email = check_email(text)
    assert isinstance(email, EmailCheck)
    assert _consistent(email.present, email.valid, email.error)

    for phone in (check_phone(text), check_phone(text, region)):
        assert isinstance(phone, PhoneCheck)
        assert _consistent(phone.present, phone.valid, phone.error)
        assert (phone.e164 is not None) is phone.valid

    for postal in (check_postal_code(text), check_postal_code(text, region)):
        assert isinstance(postal, PostalCheck)
        assert _consistent(postal.present, postal.valid, postal.error)

    for state in (check_state(text), check_state(text, region)):
        assert isinstance(state, StateCheck)
        assert _consistent(state.present, state.valid, state.error)

    npi = check_npi(text)
    assert isinstance(npi, NpiCheck)
    assert _consistent(npi.present, npi.valid, npi.error)

    country = normalize_country(text)
    assert country is None or (len(country) == 2 and country.isupper())

    domain = website_domain(text)
    assert domain is None or (domain.isascii() and "." in domain and domain == domain.lower())


@given(st.from_regex(r"[2-9][0-9]{2}[2-9][0-9]{6}", fullmatch=True))
def test_a_float_artefact_gets_the_same_verdict_as_its_digits(digits: str) -> None:
    plain = check_phone(digits)
    recovered = check_phone(digits + ".0")
    assert recovered.recovered_float is True
    assert (recovered.valid, recovered.e164) == (plain.valid, plain.e164)
