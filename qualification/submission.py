"""Canonical submission fields (DESIGN §2a) and the mapping of messy headers onto them."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from functools import lru_cache

from .text import is_placeholder, safe_text, safe_value

CANONICAL_FIELDS: tuple[str, ...] = (
    "submission_id",
    "channel",
    "source",
    "campaign",
    "received_at",
    "organization_name",
    "website",
    "org_type",
    "npi",
    "locations_count",
    "country",
    "state",
    "city",
    "postal_code",
    "contact_name",
    "contact_role",
    "email",
    "phone",
    "specialty",
    "interest_type",
    "message",
    "timeframe",
    "budget_range",
    "current_vendor",
    "consent_email",
    "consent_phone",
    "consent_text",
    "form_version",
    "page_visits_high_intent",
    "content_downloads",
    "email_engagements",
    "webinar_session",
    "webinar_attended",
    # Provider-data facts (DESIGN §2c): set by the list presets of NPPES and CMS files.
    "entity_type",
    "taxonomy_codes",
    "npi_deactivated_on",
    "npi_reactivated_on",
    "parent_organization",
    "decision_maker_role",
    "approver",
)

# A file must carry these columns (after header mapping); each row may still leave them empty.
REQUIRED_COLUMNS: tuple[str, ...] = ("organization_name",)
# ...and at least one column of each group.
REQUIRED_ANY_OF: tuple[tuple[str, ...], ...] = (("email", "phone"),)

HEADER_ALIASES: dict[str, str] = {
    "id": "submission_id",
    "idempotency_key": "submission_id",
    "utm_source": "source",
    "lead_source": "source",
    "utm_campaign": "campaign",
    "campaign_name": "campaign",
    "submitted_at": "received_at",
    "created_at": "received_at",
    "timestamp": "received_at",
    "registered_at": "received_at",
    "registration_time": "received_at",
    "organization": "organization_name",
    "organisation": "organization_name",
    "org_name": "organization_name",
    "company": "organization_name",
    "company_name": "organization_name",
    "account": "organization_name",
    "account_name": "organization_name",
    "practice": "organization_name",
    "practice_name": "organization_name",
    "facility_name": "organization_name",
    "hospital_name": "organization_name",
    "url": "website",
    "web": "website",
    "web_site": "website",
    "domain": "website",
    "company_website": "website",
    "organization_type": "org_type",
    "type": "org_type",
    "facility_type": "org_type",
    "hospital_type": "org_type",
    "npi_number": "npi",
    "locations": "locations_count",
    "number_of_locations": "locations_count",
    "num_locations": "locations_count",
    "sites": "locations_count",
    "country_code": "country",
    "state_province": "state",
    "province": "state",
    "region": "state",
    "city_town": "city",
    "town": "city",
    "zip": "postal_code",
    "zip_code": "postal_code",
    "zipcode": "postal_code",
    "postcode": "postal_code",
    "postal": "postal_code",
    "name": "contact_name",
    "full_name": "contact_name",
    "fullname": "contact_name",
    "contact": "contact_name",
    "contact_full_name": "contact_name",
    # Parts of a name, assembled into contact_name when no full name is given.
    "firstname": "first_name",
    "fname": "first_name",
    "given_name": "first_name",
    "contact_first_name": "first_name",
    "lastname": "last_name",
    "lname": "last_name",
    "surname": "last_name",
    "family_name": "last_name",
    "contact_last_name": "last_name",
    "title": "contact_role",
    "job_title": "contact_role",
    "role": "contact_role",
    "position": "contact_role",
    "e_mail": "email",
    "e_mail_address": "email",
    "email_address": "email",
    "work_email": "email",
    "phone_number": "phone",
    "telephone": "phone",
    "telephone_number": "phone",
    "tel": "phone",
    "mobile": "phone",
    "specialty_service_line": "specialty",
    "service_line": "specialty",
    "speciality": "specialty",
    "primary_specialty": "specialty",
    "interest": "interest_type",
    "request_type": "interest_type",
    "comments": "message",
    "comment": "message",
    "notes": "message",
    "question": "message",
    "timeline": "timeframe",
    "purchase_timeline": "timeframe",
    "budget": "budget_range",
    "vendor": "current_vendor",
    "current_system": "current_vendor",
    "email_opt_in": "consent_email",
    "opt_in_email": "consent_email",
    "email_optin": "consent_email",
    "email_consent": "consent_email",
    "marketing_opt_in": "consent_email",
    "marketing_consent": "consent_email",
    "gdpr_consent": "consent_email",
    "opt_in": "consent_email",
    "optin": "consent_email",
    "subscribe": "consent_email",
    # A form's one consent box: to be contacted, which is email (a call needs its own consent).
    "consent": "consent_email",
    "contact_consent": "consent_email",
    "consent_to_contact": "consent_email",
    "agree_to_contact": "consent_email",
    "phone_opt_in": "consent_phone",
    "opt_in_phone": "consent_phone",
    "phone_consent": "consent_phone",
    "call_opt_in": "consent_phone",
    "tcpa_consent": "consent_phone",
    "consent_language": "consent_text",
    "disclosure": "consent_text",
    "disclosure_text": "consent_text",
    "form_id": "form_version",
    "consent_disclosure": "consent_text",
    "session": "webinar_session",
    "session_title": "webinar_session",
    "webinar": "webinar_session",
    "webinar_title": "webinar_session",
    "attended": "webinar_attended",
    "taxonomy_code": "taxonomy_codes",
    "provider_taxonomy_code": "taxonomy_codes",
    "primary_taxonomy": "taxonomy_codes",
    "parent_organization_lbn": "parent_organization",
    "parent_org": "parent_organization",
    "decision_maker": "decision_maker_role",
    "decision_maker_title": "decision_maker_role",
    "decision_maker_name": "decision_maker_role",
    "decider": "decision_maker_role",
    "final_decision_maker": "decision_maker_role",
    "approver_role": "approver",
    "final_approver": "approver",
    "signer": "approver",
    "signatory": "approver",
    "approved_by": "approver",
    "committee": "committee_notes",
    "buying_committee_notes": "committee_notes",
    "reports_to_role": "reports_to",
    "page_topic": "page_topics",
    "pages_visited": "page_topics",
    "visited_pages": "page_topics",
    "high_intent_pages": "page_topics",
}

NAME_PARTS: tuple[str, ...] = ("first_name", "last_name")
# The longest value a field may hold: the columns that keep it (models/tables.py); any other
# cell may hold up to MAX_FIELD_CHARS.
FIELD_MAX_CHARS: dict[str, int] = {
    "submission_id": 128,
    "organization_name": 512,
    "contact_name": 512,
    "source": 255,
    "campaign": 255,
    "form_version": 64,
}
MAX_FIELD_CHARS = 65_536
_NON_WORD = re.compile(r"[^0-9a-z]+")


@lru_cache(maxsize=4096)
def canonical_header(header: str) -> str:
    """'E-mail Address ' -> 'email_address' -> 'email' (canonical when known)."""
    key = _NON_WORD.sub("_", header.replace("\ufeff", "").strip().lower()).strip("_")
    if key in CANONICAL_FIELDS:
        return key
    return HEADER_ALIASES.get(key, key)


def clean_value(value: object) -> str | None:
    """Stripped text, or None for empty cells and placeholders such as '<UNAVAIL>'."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value).strip()
    return None if is_placeholder(text) else text


@dataclass(frozen=True, slots=True)
class Submission:
    """One raw arrival in canonical fields; values stay text until evaluation checks them."""

    submission_id: str
    channel: str = "form"
    source: str | None = None
    campaign: str | None = None
    received_at: str | None = None
    organization_name: str | None = None
    website: str | None = None
    org_type: str | None = None
    npi: str | None = None
    locations_count: str | None = None
    country: str | None = None
    state: str | None = None
    city: str | None = None
    postal_code: str | None = None
    contact_name: str | None = None
    contact_role: str | None = None
    email: str | None = None
    phone: str | None = None
    specialty: str | None = None
    interest_type: str | None = None
    message: str | None = None
    timeframe: str | None = None
    budget_range: str | None = None
    current_vendor: str | None = None
    consent_email: str | None = None
    consent_phone: str | None = None
    consent_text: str | None = None
    form_version: str | None = None
    page_visits_high_intent: str | None = None
    content_downloads: str | None = None
    email_engagements: str | None = None
    webinar_session: str | None = None
    webinar_attended: str | None = None
    # "individual" (NPPES entity type 1) or "organization" (type 2); taxonomy codes separated by
    # ";" with the primary first; NPPES deactivation and reactivation dates; a subpart's parent.
    entity_type: str | None = None
    taxonomy_codes: str | None = None
    npi_deactivated_on: str | None = None
    npi_reactivated_on: str | None = None
    parent_organization: str | None = None
    # Who decides or signs, when the person is not the decider (DESIGN §2a).
    decision_maker_role: str | None = None
    approver: str | None = None
    row: int | None = None
    extra: Mapping[str, str] = field(default_factory=dict)


_FIELD_NAMES = frozenset(f.name for f in fields(Submission)) - {"row", "extra"}


def map_headers(headers: list[str]) -> dict[str, str]:
    """Original header -> canonical name (unknown headers keep their cleaned name)."""
    return {h: canonical_header(h) for h in headers}


def submission_from_mapping(
    data: Mapping[str, object],
    *,
    channel: str | None = None,
    row: int | None = None,
    header_map: Mapping[str, str] | None = None,
) -> Submission:
    """Build a Submission from a row or JSON object; unknown keys are kept in `extra`."""
    values: dict[str, str | None] = {}
    extra: dict[str, str] = {}
    for key, raw in data.items():
        name = header_map[key] if header_map and key in header_map else canonical_header(key)
        value = clean_value(raw)
        if name in _FIELD_NAMES:
            if value is not None or name not in values:
                values[name] = value
        elif value is not None:
            extra[name] = value
    if not values.get("contact_name"):
        parts = [extra.pop(p) for p in NAME_PARTS if p in extra]
        if parts:
            values["contact_name"] = " ".join(parts)
    if channel:
        values["channel"] = channel
    values["channel"] = (values.get("channel") or "form").lower()
    submission_id = values.pop("submission_id", None) or content_id(values)
    return Submission(submission_id=submission_id, row=row, extra=extra, **values)  # type: ignore[arg-type]


def content_id(values: Mapping[str, str | None]) -> str:
    """A stable id from the content, so re-reading the same row is idempotent."""
    body = json.dumps({k: v for k, v in values.items() if v is not None}, sort_keys=True)
    return "sub-" + hashlib.sha256(body.encode("utf-8")).hexdigest()[:24]


def missing_columns(canonical_headers: list[str]) -> list[str]:
    """The required columns a file lacks, described for an error message."""
    present = set(canonical_headers)
    problems = [c for c in REQUIRED_COLUMNS if c not in present]
    problems += [" or ".join(group) for group in REQUIRED_ANY_OF if not present & set(group)]
    return problems


def safe_payload(data: Mapping[str, object]) -> tuple[dict[str, object], list[tuple[str, str]]]:
    """A payload made safe to store and show (DESIGN §8): every key and text value through
    `safe_text`; what cannot be stored is a problem naming the key as sent (a number that is not
    finite, a value longer than its field holds)."""
    clean: dict[str, object] = {}
    problems: list[tuple[str, str]] = []
    for key, value in data.items():
        name = safe_text(str(key))
        try:
            value = safe_value(value)
        except ValueError as exc:
            problems.append((name, str(exc)))
            continue
        limit = FIELD_MAX_CHARS.get(canonical_header(name), MAX_FIELD_CHARS)
        if isinstance(value, str) and len(value) > limit:
            problems.append((name, f"holds {len(value):,} characters; the limit is {limit:,}"))
            continue
        clean[name] = value
    return clean, problems


def field_problems(sub: Submission) -> list[tuple[str, str]]:
    """Canonical fields longer than they may be once assembled (a first and a last name)."""
    problems = []
    for name, limit in FIELD_MAX_CHARS.items():
        value = getattr(sub, name)
        if value is not None and len(value) > limit:
            problems.append((name, f"holds {len(value):,} characters; the limit is {limit:,}"))
    return problems
