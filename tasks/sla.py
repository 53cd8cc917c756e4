"""First-touch SLAs (DESIGN §6): breaches escalated once per due time, recorded as the escalation
email itself (a SentEmail of kind sla_escalation, unique key `sla:<lead_id>:<due>`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from models.db import session_scope
from models.tables import Lead, Organization, Review, SentEmail, utcnow
from qualification.criteria import CriteriaSheet
from qualification.lifecycle import ESCALATION_EMAIL, WATCHED_STATUSES
from qualification.routing import TEAM_BY_STATUS

from .criteria import active_criteria
from .review import review_clock, review_url

RETRY_DELAYS: list[float] = [2, 10, 30]


@dataclass
class SlaReport:
    """One sweep: leads escalated now, and breached leads already escalated for this due time."""

    escalated: list[str] = field(default_factory=list)
    already_escalated: int = 0


def sla_key(lead_id: str, due: dt.datetime) -> str:
    return f"sla:{lead_id}:{due.astimezone(dt.UTC).isoformat(timespec='seconds')}"


def escalation_recipient(sheet: CriteriaSheet, status: str, team: str | None) -> tuple[str, str]:
    """(name, email) of whoever answers for a missed first touch: the team's fallback owner, or
    the fallback reviewer for a lead waiting for review."""
    if status == "in_review":
        address = sheet.review.fallback_reviewer
        return address.split("@")[0], address
    if team not in ("sales", "marketing"):
        team = TEAM_BY_STATUS.get(status, "marketing")
    owner = sheet.routing.by_id[getattr(sheet.routing.fallback, team)]
    return owner.name, owner.email


def _watched(session: Session, before: dt.datetime) -> list[tuple[Lead, str | None, bool]]:
    """Leads without a first touch whose SLA falls due before `before`, with their organization
    name and whether this due time was escalated already; earliest due first."""
    rows = session.exec(
        select(Lead, Organization.name)
        .join(Organization, col(Organization.id) == col(Lead.organization_id))
        .where(
            col(Lead.sla_due_at) < before,
            col(Lead.first_touch_at).is_(None),
            col(Lead.status).in_(WATCHED_STATUSES),
        )
        .order_by(col(Lead.sla_due_at), col(Lead.id))
    ).all()
    escalated = set(
        session.exec(
            select(SentEmail.idempotency_key).where(
                col(SentEmail.kind) == ESCALATION_EMAIL,
                col(SentEmail.lead_id).in_([lead.id for lead, _ in rows]),
            )
        ).all()
    )
    return [
        (lead, name, sla_key(lead.id, lead.sla_due_at) in escalated)
        for lead, name in rows
        if lead.sla_due_at is not None
    ]


def _review_links(session: Session, lead_ids: list[str]) -> dict[str, str]:
    if not lead_ids:
        return {}
    rows = session.exec(
        select(Review.lead_id, Review.flow_run_id).where(
            col(Review.lead_id).in_(lead_ids), col(Review.state) == "pending"
        )
    ).all()
    return {lead_id: review_url(run_id) for lead_id, run_id in rows if run_id}


@task(
    name="escalate-sla-breaches", cache_policy=NO_CACHE, retries=3, retry_delay_seconds=RETRY_DELAYS
)
def escalate_breaches(url: str | None = None) -> SlaReport:
    """Queue one sla_escalation email per breached lead and due time; a second sweep adds none."""
    sheet = active_criteria().sheet
    clock = review_clock()
    report = SlaReport()
    now = utcnow()
    with session_scope(url) as session:
        breached = _watched(session, clock)
        fresh = [(lead, name) for lead, name, done in breached if not done]
        report.already_escalated = len(breached) - len(fresh)
        links = _review_links(session, [lead.id for lead, _ in fresh if lead.status == "in_review"])
        rows: list[dict[str, Any]] = []
        for lead, name in fresh:
            assert lead.sla_due_at is not None
            recipient, address = escalation_recipient(sheet, lead.status, lead.team)
            owner = sheet.routing.by_id.get(lead.owner_id or "")
            context = {
                "recipient_name": recipient,
                "lead_label": f"{name or 'lead'} (lead {lead.id[:8]})",
                "status": lead.status,
                "owner_name": owner.name if owner else None,
                "due_at": f"{lead.sla_due_at:%Y-%m-%d %H:%M} UTC",
                "overdue_hours": round((clock - lead.sla_due_at).total_seconds() / 3600, 1),
                "lead_url": links.get(lead.id),
            }
            rows.append(
                {
                    "idempotency_key": sla_key(lead.id, lead.sla_due_at),
                    "lead_id": lead.id,
                    "kind": ESCALATION_EMAIL,
                    "to_address": address,
                    "template_context": context,
                    "state": "pending",
                    "attempts": 0,
                    "created_at": now,
                }
            )
        if rows:
            table = SentEmail.__table__  # type: ignore[attr-defined]
            dialect = session.get_bind().dialect.name
            insert = (pg_insert if dialect == "postgresql" else sqlite_insert)(table).values(rows)
            # A concurrent sweep that escalated the same due time first wins; this one adds none.
            statement = insert.on_conflict_do_nothing(index_elements=["idempotency_key"])
            report.escalated = [
                str(i) for i in session.execute(statement.returning(table.c.lead_id)).scalars()
            ]
            report.already_escalated += len(rows) - len(report.escalated)
    return report


def sla_lines(within_hours: float = 4, url: str | None = None) -> list[dict[str, Any]]:
    """Leads past their first-touch SLA or due within `within_hours`, earliest due first."""
    clock = review_clock()
    with session_scope(url) as session:
        watched = _watched(session, clock + dt.timedelta(hours=within_hours))
    lines = []
    for lead, name, escalated in watched:
        assert lead.sla_due_at is not None
        overdue = (clock - lead.sla_due_at).total_seconds() / 3600
        lines.append(
            {
                "lead_id": lead.id,
                "organization": name,
                "status": lead.status,
                "owner": lead.owner_id,
                "due_at": lead.sla_due_at.isoformat(),
                "overdue_hours": round(overdue, 1),
                "sla_state": "breached" if overdue > 0 else "due_soon",
                "escalated": escalated,
            }
        )
    return lines


def record_first_touch(
    lead_id: str, at: dt.datetime | None = None, url: str | None = None
) -> dt.datetime:
    """Record that the owner reached the lead (stops SLA escalation); the first touch is kept if
    one is already recorded. Returns the recorded first touch; LookupError if no such lead."""
    with session_scope(url) as session:
        lead = session.get(Lead, lead_id)
        if lead is None:
            raise LookupError(f"no lead {lead_id!r}")
        if lead.first_touch_at is None:
            lead.first_touch_at = at or utcnow()
            lead.updated_at = utcnow()
        return lead.first_touch_at
