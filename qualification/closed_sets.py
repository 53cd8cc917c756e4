"""The closed sets of medleads (DESIGN §1, §2, §5), each declared once; everything else (tuples,
choices, forms, checks) is derived from these."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    """Lead statuses."""

    NEW = "new"
    MQL = "mql"
    MQL_NO_TIMELINE = "mql_no_timeline"
    SQL = "sql"
    IN_REVIEW = "in_review"
    NURTURE = "nurture"
    DISQUALIFIED = "disqualified"
    OPPORTUNITY = "opportunity"
    CLOSED_LOST = "closed_lost"


class Reason(StrEnum):
    """Disqualification reasons; each is permanent or temporary (`PERMANENT_REASONS`)."""

    OUT_OF_GEOGRAPHY = "out_of_geography"
    OUT_OF_SCOPE_SERVICE = "out_of_scope_service"
    WRONG_ORG_TYPE = "wrong_org_type"
    DIFFERENT_SPECIALTY = "different_specialty"
    NO_CONSENT = "no_consent"
    INVALID_CONTACT = "invalid_contact"
    NO_DECISION_PATH = "no_decision_path"
    TIMING_TOO_FAR = "timing_too_far"
    PATIENT_INQUIRY = "patient_inquiry"
    DUPLICATE = "duplicate"
    SPAM = "spam"


# Temporary reasons are rechecked; permanent ones never are.
PERMANENT_REASONS = frozenset(
    {
        Reason.OUT_OF_GEOGRAPHY,
        Reason.OUT_OF_SCOPE_SERVICE,
        Reason.WRONG_ORG_TYPE,
        Reason.DIFFERENT_SPECIALTY,
        Reason.PATIENT_INQUIRY,
        Reason.DUPLICATE,
        Reason.SPAM,
    }
)


class Channel(StrEnum):
    FORM = "form"
    WEBINAR = "webinar"
    OUTBOUND = "outbound"


class Influence(StrEnum):
    """A buyer role's weight in the decision."""

    DECIDER = "decider"
    INFLUENCER = "influencer"
    USER = "user"
    UNKNOWN = "unknown"


class ReviewOption(StrEnum):
    """What a reviewer may answer (DESIGN §5)."""

    APPROVE_SQL = "approve_sql"
    ROUTE_MQL = "route_mql"
    NURTURE = "nurture"
    DISQUALIFY = "disqualify"
    NEED_MORE_INFO = "need_more_info"


class ReviewVia(StrEnum):
    """Where a review decision came from."""

    UI = "ui"
    CLI = "cli"
    API = "api"
    SWEEP = "sweep"


class CrmOutcome(StrEnum):
    OPPORTUNITY = "opportunity"
    CLOSED_WON = "closed_won"
    CLOSED_LOST = "closed_lost"


class EmailKind(StrEnum):
    """Emails to a lead's contact (reviewer and escalation emails are internal)."""

    CONFIRMATION = "confirmation"
    WEBINAR_FOLLOWUP = "webinar_followup"
    NURTURE = "nurture"


class Event(StrEnum):
    """Prefect events medleads emits and its deployments are triggered by."""

    SUBMISSIONS_PENDING = "medleads.submissions.pending"


class ContactPattern(StrEnum):
    """Placeholder, fake and role patterns a contact's email, phone or name can show (issue 12,
    qualification/plausible.py)."""

    PLACEHOLDER_MAILBOX = "placeholder_mailbox"
    PLACEHOLDER_DOMAIN = "placeholder_domain"
    THROWAWAY_ADDRESS = "throwaway_address"
    RESERVED_DOMAIN = "reserved_domain"
    ROLE_MAILBOX = "role_mailbox"
    REPEATED_DIGITS = "repeated_digits"
    SEQUENTIAL_DIGITS = "sequential_digits"
    FICTIONAL_RANGE = "fictional_range"
    PLACEHOLDER_NAME = "placeholder_name"
    KEYBOARD_MASH = "keyboard_mash"
