"""Replay stored submissions under a draft sheet, or read the recorded shadow decisions: the
database is only read (a read-only transaction), nothing is sent and Prefect is not involved."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from sqlalchemy import Connection, func, select

from models.tables import Lead, Organization, OwnerState, RawSubmission, ShadowDecision
from qualification.criteria import Criteria, CriteriaError
from qualification.evaluate import evaluate
from qualification.replay import Compared, Outcome, OwnerCounters, ReplayReport, compare
from qualification.submission import Submission, submission_from_mapping

from .criteria import SHADOW_ROLES, Activation, live_criteria, newest, reading, stored_criteria

RAW: Any = RawSubmission.__table__  # type: ignore[attr-defined]
LEAD: Any = Lead.__table__  # type: ignore[attr-defined]
ORG: Any = Organization.__table__  # type: ignore[attr-defined]
OWNERS: Any = OwnerState.__table__  # type: ignore[attr-defined]
SHADOW: Any = ShadowDecision.__table__  # type: ignore[attr-defined]
PAGE = 500
# Engagement rows keep the row as it arrived under this key, beside the lead's merged facts.
ENGAGEMENT_KEY = "engagement"


def owner_counters(conn: Connection) -> OwnerCounters:
    rows = conn.execute(select(OWNERS.c.id, OWNERS.c.open_leads, OWNERS.c.last_assigned_seq)).all()
    return OwnerCounters(
        open_leads={r.id: r.open_leads for r in rows},
        last_assigned={r.id: r.last_assigned_seq for r in rows},
    )


def _start(since: dt.date | None) -> dt.datetime | None:
    return dt.datetime.combine(since, dt.time(), tzinfo=dt.UTC) if since else None


def _submission(payload: Any, channel: str, row: int | None) -> Submission:
    facts = {k: v for k, v in dict(payload).items() if k != ENGAGEMENT_KEY}
    return submission_from_mapping(facts, channel=channel, row=row)


def _day(moment: dt.datetime | None) -> dt.date:
    return (moment or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).date()


def replay(
    draft: Criteria,
    *,
    since: dt.date | None = None,
    channel: str | None = None,
    examples: int = 3,
    url: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[ReplayReport, Activation | None]:
    """Every decided submission (state done, lead attached) judged again under the live sheet
    and under `draft`, each on the day it arrived. Returns the report and the live activation
    (None: the live sheet is the MEDLEADS_CRITERIA file). `progress(done, total)` is told every
    page of submissions."""
    report = ReplayReport(draft_version=draft.version, examples_per_transition=examples)
    with reading(url) as conn:
        live, activation = live_criteria(conn)
        counters = owner_counters(conn)
        query = (
            select(
                RAW.c.id,
                RAW.c.channel,
                RAW.c.row,
                RAW.c.payload,
                RAW.c.received_at,
                RAW.c.lead_id,
                ORG.c.name,
            )
            .select_from(
                RAW.outerjoin(LEAD, LEAD.c.id == RAW.c.lead_id).outerjoin(
                    ORG, ORG.c.id == LEAD.c.organization_id
                )
            )
            .where(RAW.c.state == "done", RAW.c.lead_id.is_not(None))
            .order_by(RAW.c.received_at, RAW.c.id)
        )
        start = _start(since)
        if start is not None:
            query = query.where(RAW.c.received_at >= start)
        if channel:
            query = query.where(RAW.c.channel == channel)
        total = 0
        if progress is not None:
            total = conn.execute(select(func.count()).select_from(query.subquery())).scalar_one()
            progress(0, total)
        for done, row in enumerate(conn.execution_options(yield_per=PAGE).execute(query), 1):
            if progress is not None and done % PAGE == 0:
                progress(done, total)
            compared = compare(
                _submission(row.payload, row.channel, row.row),
                live,
                draft,
                counters,
                received=_day(row.received_at),
                lead_id=row.lead_id,
                organization=row.name,
            )
            report.add(compared, live.version)
        if progress is not None:
            progress(total, total)
    return report, activation


def shadow_report(
    *,
    since: dt.date | None = None,
    channel: str | None = None,
    examples: int = 3,
    url: str | None = None,
) -> tuple[ReplayReport, Activation] | None:
    """The recorded shadow decisions of the newest shadow sheet (set now or stopped since);
    None when no shadow sheet was ever set."""
    with reading(url) as conn:
        shadow = newest(conn, ("shadow",))
        if shadow is None:
            return None
        current = newest(conn, SHADOW_ROLES)
        state = "shadowing" if current is not None and current.role == "shadow" else ""
        report = ReplayReport(draft_version=shadow.version, examples_per_transition=examples)
        query = (
            select(
                SHADOW,
                RAW.c.lead_id.label("raw_lead_id"),
                ORG.c.name.label("organization"),
            )
            .select_from(
                SHADOW.outerjoin(RAW, RAW.c.id == SHADOW.c.submission_id)
                .outerjoin(LEAD, LEAD.c.id == RAW.c.lead_id)
                .outerjoin(ORG, ORG.c.id == LEAD.c.organization_id)
            )
            .where(SHADOW.c.shadow_version == shadow.version)
            .order_by(SHADOW.c.id)
        )
        start = _start(since)
        if start is not None:
            query = query.where(SHADOW.c.created_at >= start)
        if channel:
            query = query.where(RAW.c.channel == channel)
        evaluated_on: dict[str, dt.date] = {}
        for row in conn.execution_options(yield_per=PAGE).execute(query):
            report.add(_recorded(row), row.active_version)
            evaluated_on[row.submission_id] = _day(row.created_at)
        reasons = _top_reasons(conn, shadow, report, evaluated_on)
    return report.with_top_reasons(reasons), replace(shadow, state=state)


def _recorded(row: Any) -> Compared:
    return Compared(
        submission_id=row.submission_id,
        lead_id=row.lead_id or row.raw_lead_id,
        organization=row.organization,
        live=Outcome(row.active_status, row.active_reason, row.active_band, row.active_owner),
        draft=Outcome(row.shadow_status, row.shadow_reason, row.shadow_band, row.shadow_owner),
    )


def _top_reasons(
    conn: Connection, shadow: Activation, report: ReplayReport, evaluated_on: dict[str, dt.date]
) -> dict[str, str]:
    """The shadow sheet's top reason for the few example submissions (the shadow rows keep
    none), judged again on the day the shadow decision was recorded."""
    wanted = sorted(report.example_submissions())
    if not wanted:
        return {}
    try:
        sheet = stored_criteria(conn, shadow)
    except CriteriaError:
        return {}
    rows = conn.execute(
        select(RAW.c.id, RAW.c.channel, RAW.c.row, RAW.c.payload).where(RAW.c.id.in_(wanted))
    ).all()
    reasons: dict[str, str] = {}
    for row in rows:
        decision = evaluate(
            _submission(row.payload, row.channel, row.row), sheet, today=evaluated_on[row.id]
        )
        reasons[row.id] = (decision.top_reasons(1) or [""])[0]
    return reasons
