"""Contact-field checks for leads: email, phone, postal code, state, country, website and NPI.

Pure and offline: email deliverability (DNS) is never checked here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache

import idna
import phonenumbers
import pycountry
from email_validator import EmailNotValidError, validate_email
from phonenumbers import NumberParseException, PhoneNumberFormat, ValidationResult
from stdnum import luhn

__all__ = [
    "PERSONAL_EMAIL_DOMAINS",
    "EmailCheck",
    "NpiCheck",
    "PhoneCheck",
    "PostalCheck",
    "StateCheck",
    "check_email",
    "check_npi",
    "check_phone",
    "check_postal_code",
    "check_state",
    "normalize_country",
    "website_domain",
]

PERSONAL_EMAIL_DOMAINS: frozenset[str] = frozenset(
    {
        "aim.com",
        "aol.com",
        "att.net",
        "bellsouth.net",
        "centurylink.net",
        "charter.net",
        "comcast.net",
        "cox.net",
        "earthlink.net",
        "embarqmail.com",
        "fastmail.com",
        "frontier.com",
        "frontiernet.net",
        "gmail.com",
        "gmx.com",
        "gmx.de",
        "gmx.net",
        "googlemail.com",
        "hotmail.co.uk",
        "hotmail.com",
        "hushmail.com",
        "icloud.com",
        "juno.com",
        "live.com",
        "mac.com",
        "mail.com",
        "me.com",
        "msn.com",
        "netzero.net",
        "optonline.net",
        "outlook.com",
        "pm.me",
        "proton.me",
        "protonmail.com",
        "q.com",
        "rocketmail.com",
        "rr.com",
        "sbcglobal.net",
        "tutanota.com",
        "verizon.net",
        "windstream.net",
        "yahoo.co.uk",
        "yahoo.com",
        "yandex.com",
        "ymail.com",
        "zoho.com",
    }
)


@dataclass(frozen=True, slots=True)
class EmailCheck:
    present: bool
    valid: bool
    normalized: str | None
    dedupe_key: str | None
    domain: str | None
    personal_domain: bool
    error: str | None


@dataclass(frozen=True, slots=True)
class PhoneCheck:
    present: bool
    valid: bool
    e164: str | None
    extension: str | None
    recovered_float: bool
    error: str | None


@dataclass(frozen=True, slots=True)
class PostalCheck:
    present: bool
    valid: bool
    normalized: str | None
    recovered_leading_zero: bool
    error: str | None


@dataclass(frozen=True, slots=True)
class StateCheck:
    present: bool
    valid: bool
    code: str | None
    error: str | None


@dataclass(frozen=True, slots=True)
class NpiCheck:
    present: bool
    valid: bool
    normalized: str | None
    error: str | None


_EMAIL_MISSING = EmailCheck(False, False, None, None, None, False, None)
_PHONE_MISSING = PhoneCheck(False, False, None, None, False, None)
_POSTAL_MISSING = PostalCheck(False, False, None, False, None)
_STATE_MISSING = StateCheck(False, False, None, None)
_NPI_MISSING = NpiCheck(False, False, None, None)

# Spreadsheets turn digit strings into floats: "9106096740.0", "9.10609674E+09".
_FLOAT_WHOLE = re.compile(r"(\+?)([0-9]{7,15})\.0+")
_FLOAT_SCIENTIFIC = re.compile(r"\+?[0-9](?:\.[0-9]+)?[eE]\+?[0-9]{1,2}")
_DIGITS_FLOAT = re.compile(r"([0-9]+)\.0+")

_US_ZIP = re.compile(r"([0-9]{3,5})(?:[- ]?([0-9]{4}))?", re.ASCII)
_CA_POSTAL = re.compile(
    r"([ABCEGHJ-NPRSTVXY][0-9][ABCEGHJ-NPRSTV-Z]) ?([0-9][ABCEGHJ-NPRSTV-Z][0-9])"
)
_GENERIC_POSTAL = re.compile(r"[A-Z0-9][A-Z0-9 -]{0,9}")
# US territories use USPS ZIP codes.
_ZIP_COUNTRIES = frozenset({"US", "PR", "VI", "GU", "AS", "MP"})

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_HOST_END = re.compile(r"[/?#\\]")
_HOSTNAME = re.compile(
    r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
)
_NOT_KEY_CHARS = re.compile(r"[\s.]+")

_PARSE_ERRORS: dict[int, str] = {
    NumberParseException.INVALID_COUNTRY_CODE: "missing or invalid country code",
    NumberParseException.NOT_A_NUMBER: "not a phone number",
    NumberParseException.TOO_SHORT_AFTER_IDD: "too short after the international prefix",
    NumberParseException.TOO_SHORT_NSN: "too short",
    NumberParseException.TOO_LONG: "too long",
}
_IMPOSSIBLE_REASONS: dict[int, str] = {
    ValidationResult.IS_POSSIBLE_LOCAL_ONLY: "no area code",
    ValidationResult.INVALID_COUNTRY_CODE: "invalid country code",
    ValidationResult.TOO_SHORT: "too short",
    ValidationResult.INVALID_LENGTH: "invalid length",
    ValidationResult.TOO_LONG: "too long",
}


def _subdivisions(country: str) -> dict[str, str]:
    """Code -> name of a country's ISO 3166-2 subdivisions (pycountry's data)."""
    subdivisions = pycountry.subdivisions.get(country_code=country)  # type: ignore[no-untyped-call]
    return {sub.code.split("-")[1]: sub.name for sub in subdivisions}


_US_STATES = _subdivisions("US")  # states, DC and the territories
_US_STATE_ALIASES: dict[str, str] = {
    "Washington DC": "DC",
    "Washington D.C.": "DC",
    "US Virgin Islands": "VI",
    "U.S. Virgin Islands": "VI",
    "USVI": "VI",
    "CNMI": "MP",
    "Commonwealth of Puerto Rico": "PR",
    "Virgin Islands": "VI",
}
_CA_PROVINCES = _subdivisions("CA")
_CA_PROVINCE_ALIASES: dict[str, str] = {
    "Québec": "QC",
    "PQ": "QC",
    "Newfoundland": "NL",
    "Labrador": "NL",
    "NF": "NL",
    "PEI": "PE",
    "Yukon Territory": "YT",
    "YK": "YT",
}

# What people write that is not an ISO code or name (pycountry has those).
_COUNTRY_ALIASES: dict[str, str] = {
    "AMERICA": "US",
    "UK": "GB",
    "GREAT BRITAIN": "GB",
    "ENGLAND": "GB",
    "SCOTLAND": "GB",
    "WALES": "GB",
    "NORTHERN IRELAND": "GB",
    "MÉXICO": "MX",
    "THE NETHERLANDS": "NL",
    "HOLLAND": "NL",
    "KOREA": "KR",
}


def _key(text: str) -> str:
    """Case-, dot- and space-insensitive lookup key."""
    return _NOT_KEY_CHARS.sub("", text).upper()


def _build_index(names: dict[str, str], aliases: dict[str, str]) -> dict[str, str]:
    index = {_key(code): code for code in names}
    index.update({_key(name): code for code, name in names.items()})
    index.update({_key(alias): code for alias, code in aliases.items()})
    return index


_US_STATE_INDEX = _build_index(_US_STATES, _US_STATE_ALIASES)
_CA_PROVINCE_INDEX = _build_index(_CA_PROVINCES, _CA_PROVINCE_ALIASES)


def _country_index() -> dict[str, str]:
    index: dict[str, str] = {}
    for country in pycountry.countries:
        for name in ("alpha_3", "name", "official_name", "common_name", "alpha_2"):
            value = getattr(country, name, None)
            if value:
                index[_key(value)] = country.alpha_2
    index.update({_key(alias): code for alias, code in _COUNTRY_ALIASES.items()})
    return index


_COUNTRY_INDEX = _country_index()


def check_email(raw: str | None) -> EmailCheck:
    """Validate an address exactly as email-validator's defaults would, minus the DNS lookup."""
    if raw is None or not raw.strip():
        return _EMAIL_MISSING
    try:
        result = validate_email(raw, check_deliverability=False)
    except EmailNotValidError as exc:
        return EmailCheck(True, False, None, None, None, False, str(exc))
    normalized = f"{result.local_part.lower()}@{result.domain}"
    ascii_email = result.ascii_email
    domain = (result.ascii_domain or result.domain).lower()
    return EmailCheck(
        present=True,
        valid=True,
        normalized=normalized,
        dedupe_key=ascii_email.lower() if ascii_email else normalized,
        domain=domain,
        personal_domain=domain in PERSONAL_EMAIL_DOMAINS,
        error=None,
    )


def _recover_float_phone(text: str) -> str | None:
    """Digits of a spreadsheet float artefact, or None when the text is not one."""
    match = _FLOAT_WHOLE.fullmatch(text)
    if match is not None:
        return match.group(1) + match.group(2)
    if _FLOAT_SCIENTIFIC.fullmatch(text) is None:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    if value != value.to_integral_value():
        return None
    digits = str(int(value))
    if not 7 <= len(digits) <= 15:
        return None
    return ("+" if text.startswith("+") else "") + digits


def check_phone(raw: str | None, default_region: str = "US") -> PhoneCheck:
    """Parse and validate a phone number with phonenumbers, recovering spreadsheet floats first."""
    if raw is None or not raw.strip():
        return _PHONE_MISSING
    recovered = _recover_float_phone(raw.strip())
    text = raw if recovered is None else recovered
    region = default_region.strip().upper() if default_region else None
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException as exc:
        reason = _PARSE_ERRORS.get(exc.error_type, "not a phone number")
        return PhoneCheck(
            True, False, None, None, recovered is not None, f"could not parse: {reason}"
        )
    extension = number.extension or None
    if not phonenumbers.is_valid_number(number):
        number_region = phonenumbers.region_code_for_country_code(number.country_code or 0)
        error = f"not a valid number for region {number_region}"
        why = _IMPOSSIBLE_REASONS.get(phonenumbers.is_possible_number_with_reason(number))
        if why is not None:
            error = f"{error} ({why})"
        return PhoneCheck(True, False, None, extension, recovered is not None, error)
    return PhoneCheck(
        present=True,
        valid=True,
        e164=phonenumbers.format_number(number, PhoneNumberFormat.E164),
        extension=extension,
        recovered_float=recovered is not None,
        error=None,
    )


def _country_for_address(country: str | None) -> str | None:
    """A missing country means a US lead; an unrecognised one means "other" (None)."""
    if country is None or not country.strip():
        return "US"
    return normalize_country(country)


def check_postal_code(raw: str | None, country: str | None = "US") -> PostalCheck:
    """Normalize a postal code; US ZIPs get their spreadsheet-lost leading zeros back."""
    if raw is None or not raw.strip():
        return _POSTAL_MISSING
    text = raw.strip()
    code = _country_for_address(country)
    if code in _ZIP_COUNTRIES:
        float_match = _DIGITS_FLOAT.fullmatch(text)
        candidate = float_match.group(1) if float_match else text
        zip_match = _US_ZIP.fullmatch(candidate)
        if zip_match is None:
            error = f"{text!r} is not a US ZIP code (5 or 9 digits)"
            return PostalCheck(True, False, None, False, error)
        five, plus4 = zip_match.group(1), zip_match.group(2)
        normalized = five.zfill(5) if plus4 is None else f"{five.zfill(5)}-{plus4}"
        return PostalCheck(True, True, normalized, len(five) < 5, None)
    upper = text.upper()
    if code == "CA":
        ca_match = _CA_POSTAL.fullmatch(upper)
        if ca_match is None:
            error = f"{text!r} is not a Canadian postal code (A1A 1A1)"
            return PostalCheck(True, False, None, False, error)
        return PostalCheck(True, True, f"{ca_match.group(1)} {ca_match.group(2)}", False, None)
    if _GENERIC_POSTAL.fullmatch(upper) is None:
        error = f"{text!r} is not a postal code (up to 10 letters, digits, spaces or dashes)"
        return PostalCheck(True, False, None, False, error)
    return PostalCheck(True, True, upper, False, None)


@lru_cache(maxsize=1024)
def _lookup_subdivision(key: str, country: str) -> str | None:
    index = _US_STATE_INDEX if country == "US" else _CA_PROVINCE_INDEX
    return index.get(key)


def check_state(raw: str | None, country: str | None = "US") -> StateCheck:
    """Resolve a US state/territory or Canadian province to its 2-letter code."""
    if raw is None or not raw.strip():
        return _STATE_MISSING
    code = _country_for_address(country)
    if code == "US" or code == "CA":
        found = _lookup_subdivision(_key(raw), code)
        if found is None:
            what = "US state or territory" if code == "US" else "Canadian province or territory"
            return StateCheck(True, False, None, f"{raw.strip()!r} is not a {what}")
        return StateCheck(True, True, found, None)
    return StateCheck(True, True, raw.strip().upper(), None)


@lru_cache(maxsize=1024)
def _country_code(key: str) -> str | None:
    found = _COUNTRY_INDEX.get(key)
    if found is not None:
        return found
    if len(key) == 2 and key in phonenumbers.SUPPORTED_REGIONS:
        return key
    return None


def normalize_country(raw: str | None) -> str | None:
    """ISO 3166-1 alpha-2 code for a country code, common alias or English name; None if unknown."""
    if raw is None or not raw.strip():
        return None
    return _country_code(_key(raw))


def website_domain(raw: str | None) -> str | None:
    """The registrable-looking host of a website cell, lower-case IDNA ASCII, without "www."."""
    if raw is None:
        return None
    text = raw.strip()
    if not text or "@" in text or any(ch.isspace() for ch in text):
        return None
    scheme = _SCHEME.match(text)
    if scheme is not None:
        text = text[scheme.end() :]
    elif text.startswith("//"):
        text = text[2:]
    host = _HOST_END.split(text, maxsplit=1)[0]
    host, _, port = host.partition(":")
    if port and not port.isdigit():
        return None
    host = host.rstrip(".")
    if not host.isascii():
        try:
            host = idna.encode(host, uts46=True).decode("ascii")
        except (idna.IDNAError, UnicodeError, ValueError):
            return None
    host = host.lower()
    if _HOSTNAME.fullmatch(host) is None or host.rpartition(".")[2].isdigit():
        return None
    if host.startswith("www.") and host.count(".") >= 2:
        host = host[4:]
    return host


def check_npi(raw: str | None) -> NpiCheck:
    """Validate a National Provider Identifier: 10 digits, starts with 1 or 2, Luhn check digit."""
    if raw is None or not raw.strip():
        return _NPI_MISSING
    text = raw.strip()
    float_match = _DIGITS_FLOAT.fullmatch(text)
    if float_match is not None:
        text = float_match.group(1)
    if len(text) != 10 or not text.isascii() or not text.isdigit():
        return NpiCheck(True, False, None, "must be 10 digits")
    if text[0] not in "12":
        return NpiCheck(True, False, None, "must start with 1 or 2")
    # CMS rule: the Luhn check over the card-issuer prefix 80840 and the ten digits.
    if not luhn.is_valid("80840" + text):
        return NpiCheck(True, False, None, "check digit does not match")
    return NpiCheck(True, True, text, None)
