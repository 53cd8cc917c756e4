"""SQLModel tables: raw submissions, leads and everything that happens to them, as rows."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> dt.datetime:
    """Aware UTC: SQLModel stores and returns datetimes in UTC on SQLite and PostgreSQL."""
    return dt.datetime.now(dt.UTC)


def _fk(target: str, **kwargs: Any) -> Any:
    """A foreign key checked at commit, so a chunk's rows can be flushed in any order."""
    return Field(
        sa_column_args=[ForeignKey(target, deferrable=True, initially="DEFERRED")], **kwargs
    )


def new_id() -> str:
    return uuid.uuid4().hex


class RawSubmission(SQLModel, table=True):
    """One arrival stored verbatim before anything else happens; never edited, never lost."""

    __tablename__ = "raw_submission"
    __table_args__ = (Index("ix_raw_submission_pending", "state", "channel", "stored_at"),)

    id: str = Field(primary_key=True, max_length=128)
    channel: str = Field(max_length=16)
    payload: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    source_name: str | None = Field(default=None, max_length=512)
    row: int | None = None
    received_at: dt.datetime = Field(default_factory=utcnow)
    stored_at: dt.datetime = Field(default_factory=utcnow)
    # pending -> claimed -> done; recheck -> done for engagement rows (the recheck flow takes
    # them); rejected when the row itself cannot be read; failed when the database refused its
    # decision even alone: claimable again from `next_attempt_at` (None after the last attempt).
    state: str = Field(default="pending", max_length=16)
    claimed_by: str | None = Field(default=None, max_length=64)
    claimed_at: dt.datetime | None = None
    processed_at: dt.datetime | None = None
    lead_id: str | None = Field(default=None, index=True, max_length=32)
    error: str | None = Field(default=None, sa_column=Column(Text))
    attempts: int = 0  # times its decision was refused
    next_attempt_at: dt.datetime | None = None


class Organization(SQLModel, table=True):
    """An account: the organization several leads (people) can belong to. Matched by its
    registered domain or by its normalized name and state (`name_key`, "name|ST")."""

    __tablename__ = "organization"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    name: str | None = Field(default=None, max_length=512)
    domain: str | None = Field(default=None, index=True, max_length=255)
    name_key: str | None = Field(default=None, index=True, max_length=600)
    locations_count: int | None = None
    org_type: str | None = Field(default=None, max_length=64)
    specialty: str | None = Field(default=None, max_length=64)
    state: str | None = Field(default=None, max_length=8)
    country: str | None = Field(default=None, max_length=2)
    created_at: dt.datetime = Field(default_factory=utcnow)


class Contact(SQLModel, table=True):
    __tablename__ = "contact"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    organization_id: str = _fk("organization.id", index=True, max_length=32)
    name: str | None = Field(default=None, max_length=512)
    role: str | None = Field(default=None, max_length=64)
    email: str | None = Field(default=None, index=True, max_length=320)
    phone: str | None = Field(default=None, index=True, max_length=32)
    created_at: dt.datetime = Field(default_factory=utcnow)


class Lead(SQLModel, table=True):
    __tablename__ = "lead"
    __table_args__ = (Index("ix_lead_status", "status"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    organization_id: str = _fk("organization.id", max_length=32)
    contact_id: str = _fk("contact.id", max_length=32)
    channel: str = Field(max_length=16)
    source: str | None = Field(default=None, max_length=255)
    campaign: str | None = Field(default=None, max_length=255)
    status: str = Field(default="new", max_length=32)
    reason: str | None = Field(default=None, max_length=64)
    fit_score: int = 0
    intent_score: int = 0
    fit_band: str = Field(default="low", max_length=8)
    intent_band: str = Field(default="low", max_length=8)
    borderline: bool = False
    owner_id: str | None = Field(default=None, max_length=64)
    team: str | None = Field(default=None, max_length=16)
    criteria_version: str | None = Field(default=None, max_length=128)
    last_decision_id: str | None = Field(default=None, max_length=32)
    redacted: bool = False
    sla_due_at: dt.datetime | None = None
    first_touch_at: dt.datetime | None = None
    recheck_at: dt.datetime | None = None
    created_at: dt.datetime = Field(default_factory=utcnow)
    updated_at: dt.datetime = Field(default_factory=utcnow)


class LeadKey(SQLModel, table=True):
    """Dedupe keys (email:..., phone:...) -> lead; the primary key makes a race lose cleanly."""

    __tablename__ = "lead_key"

    key: str = Field(primary_key=True, max_length=400)
    lead_id: str = _fk("lead.id", index=True, max_length=32)


class ConsentEvent(SQLModel, table=True):
    """The consent ledger: status is derived from these rows, never stored as a flag."""

    __tablename__ = "consent_event"
    __table_args__ = (UniqueConstraint("submission_id", "channel", name="uq_consent_submission"),)

    id: int | None = Field(default=None, primary_key=True)
    contact_id: str = _fk("contact.id", index=True, max_length=32)
    lead_id: str = _fk("lead.id", index=True, max_length=32)
    channel: str = Field(max_length=8)  # email, phone, sms
    purpose: str = Field(default="marketing", max_length=32)
    granted: bool
    submission_id: str | None = Field(default=None, max_length=128)
    source: str | None = Field(default=None, max_length=64)
    form_version: str | None = Field(default=None, max_length=64)
    disclosure_text: str | None = Field(default=None, sa_column=Column(Text))
    occurred_at: dt.datetime = Field(default_factory=utcnow)


class DecisionRecord(SQLModel, table=True):
    """Immutable: what was checked and why, under which criteria version, decided by whom."""

    __tablename__ = "decision_record"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    lead_id: str = _fk("lead.id", index=True, max_length=32)
    submission_id: str | None = Field(default=None, index=True, max_length=128)
    status: str = Field(max_length=32)
    reason: str | None = Field(default=None, max_length=64)
    fit_score: int
    intent_score: int
    fit_band: str = Field(max_length=8)
    intent_band: str = Field(max_length=8)
    borderline: bool = False
    criteria_version: str = Field(max_length=128)
    decided_by: str = Field(default="rules", max_length=128)
    applied: bool = True
    record: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_at: dt.datetime = Field(default_factory=utcnow)


class OwnerState(SQLModel, table=True):
    """Per-owner counters that keep round robin fair across concurrent runs."""

    __tablename__ = "owner_state"

    id: str = Field(primary_key=True, max_length=64)
    team: str = Field(max_length=16)
    open_leads: int = 0
    assigned_total: int = 0
    last_assigned_seq: int = 0


class Assignment(SQLModel, table=True):
    __tablename__ = "assignment"

    id: int | None = Field(default=None, primary_key=True)
    lead_id: str = _fk("lead.id", index=True, max_length=32)
    owner_id: str = Field(max_length=64)
    team: str = Field(max_length=16)
    via_fallback: bool = False
    skipped: list[list[str]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    decision_id: str | None = Field(default=None, max_length=32)
    assigned_at: dt.datetime = Field(default_factory=utcnow)


class SentEmail(SQLModel, table=True):
    """An email is sent at most once: the idempotency key is unique and the state is stored."""

    __tablename__ = "sent_email"

    id: int | None = Field(default=None, primary_key=True)
    idempotency_key: str = Field(unique=True, max_length=255)
    lead_id: str = _fk("lead.id", index=True, max_length=32)
    kind: str = Field(max_length=32)
    to_address: str = Field(max_length=320)
    template_context: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    # pending -> sending -> sent | parked (refused, or still failing after the last attempt);
    # "sending" left by a hard crash is never re-sent over SMTP (it becomes "unknown"): at most
    # once. A transient failure puts it back to pending until `next_attempt_at`.
    state: str = Field(default="pending", index=True, max_length=16)
    claim_token: str | None = Field(default=None, max_length=64)
    claimed_at: dt.datetime | None = None
    attempts: int = 0
    next_attempt_at: dt.datetime | None = None
    message_id: str | None = Field(default=None, max_length=255)
    error: str | None = Field(default=None, sa_column=Column(Text))
    created_at: dt.datetime = Field(default_factory=utcnow)
    sent_at: dt.datetime | None = None


class Handoff(SQLModel, table=True):
    """A lead handed to the CRM once per status: the idempotency key is unique."""

    __tablename__ = "handoff"

    id: int | None = Field(default=None, primary_key=True)
    idempotency_key: str = Field(unique=True, max_length=255)
    lead_id: str = _fk("lead.id", index=True, max_length=32)
    payload: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    state: str = Field(default="pending", index=True, max_length=16)
    claim_token: str | None = Field(default=None, max_length=64)
    claimed_at: dt.datetime | None = None
    sink: str | None = Field(default=None, max_length=32)
    attempts: int = 0
    next_attempt_at: dt.datetime | None = None
    error: str | None = Field(default=None, sa_column=Column(Text))
    created_at: dt.datetime = Field(default_factory=utcnow)
    delivered_at: dt.datetime | None = None


class Review(SQLModel, table=True):
    """A borderline lead waiting for a person; decided exactly once."""

    __tablename__ = "review"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    lead_id: str = _fk("lead.id", index=True, max_length=32)
    decision_id: str | None = Field(default=None, max_length=32)
    flow_run_id: str | None = Field(default=None, max_length=64)
    # pending -> decided
    state: str = Field(default="pending", index=True, max_length=16)
    proposed_status: str | None = Field(default=None, max_length=32)
    reasons: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    refusals: int = 0
    created_at: dt.datetime = Field(default_factory=utcnow)
    due_at: dt.datetime | None = None
    reminded_at: dt.datetime | None = None
    escalated_at: dt.datetime | None = None
    decided_at: dt.datetime | None = None
    decided_by: str | None = Field(default=None, max_length=128)
    option: str | None = Field(default=None, max_length=32)
    via: str | None = Field(default=None, max_length=16)


class ReviewEvent(SQLModel, table=True):
    """The audit trail of a review: decisions, refusals, reminders, escalations."""

    __tablename__ = "review_event"

    id: int | None = Field(default=None, primary_key=True)
    review_id: str = _fk("review.id", index=True, max_length=32)
    kind: str = Field(max_length=16)  # decision, refused, reminder, escalation
    actor: str = Field(max_length=128)
    via: str = Field(max_length=16)  # ui, cli, api, sweep
    option: str | None = Field(default=None, max_length=32)
    reason: str | None = Field(default=None, max_length=64)
    note: str | None = Field(default=None, sa_column=Column(Text))
    detail: str | None = Field(default=None, sa_column=Column(Text))
    snapshot: str | None = Field(default=None, sa_column=Column(Text))
    created_at: dt.datetime = Field(default_factory=utcnow)


class CriteriaActivation(SQLModel, table=True):
    """Which sheet is live (or shadowing), chosen explicitly; the rows are the history.

    The sheet text is kept, so a later edit to the file changes nothing until it is activated.
    role: active (the newest active row is the live sheet), shadow (evaluated beside the live
    sheet on live traffic, never acted on), shadow_off (stops shadowing).
    """

    __tablename__ = "criteria_activation"

    id: int | None = Field(default=None, primary_key=True)
    role: str = Field(default="active", index=True, max_length=16)
    version: str = Field(max_length=128)
    label: str | None = Field(default=None, max_length=128)
    path: str | None = Field(default=None, max_length=1024)
    sheet_text: str = Field(sa_column=Column(Text, nullable=False))
    activated_by: str = Field(max_length=128)
    note: str | None = Field(default=None, sa_column=Column(Text))
    activated_at: dt.datetime = Field(default_factory=utcnow)


class ShadowDecision(SQLModel, table=True):
    """What a draft sheet would have done to a live submission, beside what the live sheet did."""

    __tablename__ = "shadow_decision"
    __table_args__ = (
        UniqueConstraint("submission_id", "shadow_version", name="uq_shadow_submission"),
    )

    id: int | None = Field(default=None, primary_key=True)
    submission_id: str = Field(max_length=128)
    lead_id: str | None = Field(default=None, index=True, max_length=32)
    active_version: str = Field(max_length=128)
    shadow_version: str = Field(index=True, max_length=128)
    active_status: str = Field(max_length=32)
    shadow_status: str = Field(max_length=32)
    active_reason: str | None = Field(default=None, max_length=64)
    shadow_reason: str | None = Field(default=None, max_length=64)
    active_band: str = Field(max_length=32)  # "fit/intent", e.g. "high/medium"
    shadow_band: str = Field(max_length=32)
    active_owner: str | None = Field(default=None, max_length=64)
    shadow_owner: str | None = Field(default=None, max_length=64)
    changed: bool = False
    created_at: dt.datetime = Field(default_factory=utcnow)


class Outcome(SQLModel, table=True):
    """A CRM outcome imported for a lead (opportunity, closed_won, closed_lost); idempotent."""

    __tablename__ = "outcome"
    __table_args__ = (UniqueConstraint("lead_id", "outcome", name="uq_outcome_lead"),)

    id: int | None = Field(default=None, primary_key=True)
    lead_id: str = _fk("lead.id", index=True, max_length=32)
    outcome: str = Field(max_length=16)
    crm_id: str | None = Field(default=None, max_length=128)
    amount: float | None = None
    occurred_at: dt.datetime = Field(default_factory=utcnow)
    source_file: str | None = Field(default=None, max_length=512)
    row: int | None = None
    imported_at: dt.datetime = Field(default_factory=utcnow)
