"""qualification.contact against the public reference corpora in ../shared/data, if present."""

import csv
import re
from pathlib import Path

import phonenumbers
import pytest

from qualification.contact import (
    check_email,
    check_npi,
    check_phone,
    check_postal_code,
    check_state,
    normalize_country,
)
from qualification.plausible import assess_contact

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
if not DATA.is_dir():
    pytest.skip(f"reference corpora not found at {DATA}", allow_module_level=True)

BAD_INPUTS = DATA / "bad_inputs"
ORGS = DATA / "orgs"
ZIP_SHAPE = re.compile(r"[0-9]{5}(?:-[0-9]{4})?")


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _unescape(text: str) -> str:
    return text.encode("ascii", "backslashreplace").decode("unicode_escape")


def _phonenumbers_e164(text: str, region: str = "US") -> str | None:
    """What phonenumbers alone makes of a string: its E.164 when valid, else None."""
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


EMAIL_ROWS = _rows(BAD_INPUTS / "email_validator_test_cases.csv")
LIBPHONENUMBER_ROWS = _rows(BAD_INPUTS / "phone_strings_from_libphonenumber_tests.csv")


@pytest.mark.parametrize(
    "row", EMAIL_ROWS, ids=[f"row{number}" for number in range(2, len(EMAIL_ROWS) + 2)]
)
def test_email_verdict_matches_email_validator_defaults(row: dict[str, str]) -> None:
    raw = _unescape(row["input_escaped"])
    result = check_email(raw)
    if not raw.strip():
        assert (result.present, result.valid) == (False, False)
        return
    assert result.valid is (row["default_validate_result"] == "valid"), (raw, result.error)
    if result.valid:
        local, _, domain = _unescape(row["normalized"]).rpartition("@")
        assert result.normalized == f"{local.lower()}@{domain}"
    else:
        assert result.error


@pytest.mark.parametrize(
    "row",
    LIBPHONENUMBER_ROWS,
    ids=[f"row{number}" for number in range(2, len(LIBPHONENUMBER_ROWS) + 2)],
)
def test_phone_verdict_matches_libphonenumber_labels(row: dict[str, str]) -> None:
    result = check_phone(row["input"], row["region"])
    assert result.valid is (row["is_valid"] == "True"), result.error
    if result.valid:
        assert result.e164 == row["e164"]


def test_real_world_us_phones_including_float_artefacts_are_recovered() -> None:
    rows = _rows(BAD_INPUTS / "phone_strings_real_world_us.csv")
    float_rows = [row for row in rows if row["input"].endswith(".0")]
    assert float_rows
    mismatches: list[tuple[object, ...]] = []
    genuinely_invalid: list[str] = []
    for row in rows:
        raw = row["input"]
        result = check_phone(raw, row["region"])
        actual = (result.valid, result.recovered_float, result.e164)
        if raw.endswith(".0"):
            digits = raw.removesuffix(".0")
            # A few recovered numbers are not real NANP numbers (exchange 1xx, only 9 digits):
            # those must get exactly the verdict phonenumbers gives the bare digits.
            e164 = _phonenumbers_e164(digits, row["region"])
            if e164 is None:
                genuinely_invalid.append(raw)
            elif len(digits) == 10:
                assert e164 == f"+1{digits}"
            expected = (e164 is not None, True, e164)
        else:
            expected = (True, False, row["e164"])
        if actual != expected:
            mismatches.append((raw, expected, actual, result.error))
    print("\n".join(map(str, mismatches)))
    assert mismatches == []
    assert len(genuinely_invalid) < len(float_rows) / 50, genuinely_invalid


def test_example_numbers_for_every_region_get_the_expected_verdict() -> None:
    rows = _rows(BAD_INPUTS / "phone_examples_by_region_phonenumbers.csv")
    assert len({row["region"] for row in rows}) > 200
    mismatches: list[tuple[object, ...]] = []
    for row in rows:
        # The national format parses back to the same number in every region, so no need
        # to fall back on the e164 column.
        result = check_phone(row["national"], row["region"])
        valid = row["expected"] == "valid"
        if result.valid is not valid or (valid and result.e164 != row["e164"]):
            mismatches.append((row["region"], row["kind"], row["national"], result))
    print("\n".join(map(str, mismatches)))
    assert mismatches == []


def test_nppes_phones_zips_states_and_npis_are_recovered() -> None:
    rows = _rows(ORGS / "nppes_orgs_slim.csv")
    assert rows
    mismatches: list[tuple[object, ...]] = []
    for row in rows:
        for column in ("phone_raw", "fax_raw", "auth_official_phone_raw"):
            raw = row[column]
            if not raw:
                continue
            phone = check_phone(raw)
            digits = raw.removesuffix(".0")
            expected = _phonenumbers_e164(digits)
            if expected is not None:
                assert expected == f"+1{digits}"
            if not phone.recovered_float or phone.e164 != expected:
                mismatches.append((row["npi"], column, raw, phone))
        postal = check_postal_code(row["postal_code_raw"], row["country"])
        if not postal.valid or ZIP_SHAPE.fullmatch(postal.normalized or "") is None:
            mismatches.append((row["npi"], "postal_code_raw", row["postal_code_raw"], postal))
        state = check_state(row["state"], row["country"])
        if state.code != row["state"]:
            mismatches.append((row["npi"], "state", row["state"], state))
        npi = check_npi(row["npi"])
        if npi.normalized != row["npi"]:
            mismatches.append((row["npi"], "npi", row["npi"], npi))
        if normalize_country(row["country"]) != "US":
            mismatches.append((row["npi"], "country", row["country"], None))
    print("\n".join(map(str, mismatches)))
    assert mismatches == []


def test_maine_clinician_zips_get_their_leading_zero_back() -> None:
    rows = _rows(ORGS / "cms_dac_clinicians_maine_subset.csv")
    assert rows
    mismatches: list[tuple[object, ...]] = []
    recovered = 0
    for row in rows:
        raw = row["ZIP Code"]
        postal = check_postal_code(raw, "US")
        normalized = postal.normalized or ""
        if len(raw) in (4, 8):
            recovered += 1
            # Maine's ZIP range is 039xx-049xx (Kittery, York and the Berwicks are 039xx).
            ok = (
                postal.valid
                and postal.recovered_leading_zero
                and ZIP_SHAPE.fullmatch(normalized) is not None
                and "039" <= normalized[:3] <= "049"
                and normalized.replace("-", "") == raw.zfill(len(raw) + 1)
            )
        else:
            # A couple of rows carry an intact out-of-state ZIP: it must pass through untouched.
            ok = (
                postal.valid
                and not postal.recovered_leading_zero
                and normalized.replace("-", "") == raw
            )
        if not ok or not check_npi(row["NPI"]).valid:
            mismatches.append((row["NPI"], raw, postal))
    print("\n".join(map(str, mismatches)))
    assert mismatches == []
    assert recovered > len(rows) * 0.9


def test_cms_hospital_states_zips_and_phones_check_out() -> None:
    rows = _rows(ORGS / "cms_hospitals_slim.csv")
    assert rows
    mismatches: list[tuple[object, ...]] = []
    for row in rows:
        state = check_state(row["State"])
        postal = check_postal_code(row["ZIP Code"])
        phone = check_phone(row["Telephone Number"])
        if state.code != row["State"] or postal.normalized != row["ZIP Code"]:
            mismatches.append((row["Facility ID"], state, postal))
        if phone.e164 != _phonenumbers_e164(row["Telephone Number"]):
            mismatches.append((row["Facility ID"], row["Telephone Number"], phone))
    print("\n".join(map(str, mismatches)))
    assert mismatches == []


def test_no_real_phone_name_or_address_looks_made_up() -> None:
    """Placeholder and fake patterns (qualification.plausible) against real data: the CMS and
    NPPES phones (a hospital answers (714) 456-7890), clinicians' and officials' names, and
    addresses built from them and from the words of hospital names."""
    no_email, no_phone = check_email(None), check_phone(None)
    flagged: list[tuple[object, ...]] = []
    for row in _rows(ORGS / "cms_hospitals_slim.csv"):
        phone = row["Telephone Number"]
        flagged += assess_contact(no_email, check_phone(phone), phone, None).flags
        for word in set(re.findall(r"[a-z]+", row["Facility Name"].lower())):
            flagged += assess_contact(check_email(f"ann@{word}.org"), no_phone, None, None).flags
    for row in _rows(ORGS / "nppes_orgs_slim.csv"):
        for column in ("phone_raw", "fax_raw", "auth_official_phone_raw"):
            if row[column]:
                phone = check_phone(row[column])
                flagged += assess_contact(no_email, phone, row[column], None).flags
        name = f"{row['auth_official_first']} {row['auth_official_last']}"
        flagged += assess_contact(no_email, no_phone, None, name).flags
    for row in _rows(ORGS / "cms_dac_clinicians_maine_subset.csv"):
        name = row["Provider Name"]
        parts = name.lower().split()
        for address in (f"{'.'.join(parts)}@mainehealth.org", f"{parts[0]}@mainehealth.org"):
            flagged += assess_contact(check_email(address), no_phone, None, name).flags
    assert flagged == []
