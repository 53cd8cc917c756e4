"""`medleads leads list|show` and `medleads db upgrade`: the stored leads, readable by a person."""

from __future__ import annotations

import datetime as dt
import json
import re
import sys
from collections import defaultdict
from typing import Annotated, Any

import typer
from rich.table import Table
from sqlmodel import col, select

from models.db import session_scope, upgrade
from models.settings import get_settings
from models.tables import (
    Assignment,
    Contact,
    DecisionRecord,
    Handoff,
    Lead,
    Organization,
    RawSubmission,
    SentEmail,
    utcnow,
)
from qualification.closed_sets import Channel, Status
from qualification.text import parse_datetime

from .console import OutputFormat, err, out

leads_app = typer.Typer(help="Stored leads and their decision records.", no_args_is_help=True)
db_app = typer.Typer(help="The application database.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every migration to MEDLEADS_DATABASE_URL (SQLite under the data folder by default)."""
    url = get_settings().resolved_database_url
    upgrade(url)
    out.print(f"database is up to date: {url.split('@')[-1]}", markup=False)


def lead_lines(
    status: str | None = None,
    *,
    channel: str | None = None,
    since: dt.datetime | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """One dict per lead with the fields of DESIGN §9, oldest first; with `limit`, the newest
    `limit` of them."""
    with session_scope() as session:
        query = select(Lead, Organization.name).join(
            Organization, col(Organization.id) == col(Lead.organization_id)
        )
        if status:
            query = query.where(col(Lead.status) == status)
        if channel:
            query = query.where(col(Lead.channel) == channel)
        if since:
            query = query.where(col(Lead.created_at) >= since)
        if limit:
            query = query.order_by(col(Lead.created_at).desc(), col(Lead.id).desc()).limit(limit)
            rows = list(reversed(session.exec(query).all()))
        else:
            rows = list(session.exec(query.order_by(col(Lead.created_at), col(Lead.id))).all())
        submissions: dict[str, list[str]] = defaultdict(list)
        for sub_id, lead_id in session.exec(
            select(RawSubmission.id, RawSubmission.lead_id)
            .where(col(RawSubmission.lead_id).is_not(None))
            .order_by(col(RawSubmission.stored_at))
        ):
            submissions[str(lead_id)].append(sub_id)
    return [
        {
            "lead_id": lead.id,
            "submission_ids": submissions.get(lead.id, []),
            "organization": name,
            "channel": lead.channel,
            "status": lead.status,
            "reason": lead.reason,
            "owner": lead.owner_id,
            "fit_score": lead.fit_score,
            "intent_score": lead.intent_score,
            "fit_band": lead.fit_band,
            "intent_band": lead.intent_band,
            "criteria_version": lead.criteria_version,
            "sla_due_at": lead.sla_due_at.isoformat() if lead.sla_due_at else None,
        }
        for lead, name in rows
    ]


TABLE_LIMIT = 100


def _since(text: str | None) -> dt.datetime | None:
    """`--since`: a date or time (UTC unless it says otherwise), or time back (`24h`, `7d`)."""
    if not text:
        return None
    back = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([hd])\s*", text.lower())
    if back:
        hours = float(back[1]) * (24 if back[2] == "d" else 1)
        return utcnow() - dt.timedelta(hours=hours)
    try:
        when = parse_datetime(text)
    except ValueError as exc:
        raise typer.BadParameter(
            f"{text!r}: a date (2026-11-30), a time (2026-11-30T08:00) or 24h / 7d ({exc})",
            param_hint="--since",
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


@leads_app.command("list")
def leads_list(
    fmt: Annotated[
        OutputFormat, typer.Option("--format", help="table or jsonl.")
    ] = OutputFormat.table,
    status: Annotated[Status | None, typer.Option(help="Only leads with this status.")] = None,
    channel: Annotated[Channel | None, typer.Option(help="Only leads from this channel.")] = None,
    since: Annotated[
        str | None,
        typer.Option(help="Only leads created since: a date, a time, or hours/days back (24h)."),
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option(
            min=0,
            help=f"The newest N leads (the table shows {TABLE_LIMIT} by default; 0: all).",
        ),
    ] = None,
) -> None:
    """Stored leads with status, reason, owner, scores and bands; filters combine."""
    if limit is None and fmt is OutputFormat.table:
        limit = TABLE_LIMIT
    lines = lead_lines(
        status.value if status else None,
        channel=channel.value if channel else None,
        since=_since(since),
        limit=limit or None,
    )
    if fmt is OutputFormat.jsonl:
        for line in lines:
            sys.stdout.write(json.dumps(line, ensure_ascii=False) + "\n")
        return
    table = Table(title=f"{len(lines)} leads", title_justify="left")
    for name in ("lead", "organization", "channel", "status", "reason", "owner", "fit", "intent"):
        table.add_column(name, no_wrap=True, overflow="ellipsis", max_width=36)
    for line in lines:
        table.add_row(
            line["lead_id"][:12],
            line["organization"] or "",
            line["channel"],
            line["status"],
            line["reason"] or "",
            line["owner"] or "",
            f"{line['fit_score']} {line['fit_band']}",
            f"{line['intent_score']} {line['intent_band']}",
        )
    out.print(table)
    if limit and len(lines) == limit:
        out.print(f"the newest {limit} shown; --limit 0 shows all", markup=False)


def find_lead(prefix: str) -> Lead:
    with session_scope() as session:
        found = session.exec(select(Lead).where(col(Lead.id).startswith(prefix)).limit(2)).all()
    if len(found) != 1:
        why = "no lead" if not found else "more than one lead"
        err.print(f"{why} with an id starting {prefix!r}", markup=False)
        raise typer.Exit(2)
    return found[0]


@leads_app.command("show")
def leads_show(
    lead_id: Annotated[str, typer.Argument(help="A lead id (or its first characters).")],
) -> None:
    """A lead and every decision about it, each check in order, readable without the code."""
    from tasks.apply import stored_account

    lead = find_lead(lead_id)
    with session_scope() as session:
        org = session.get(Organization, lead.organization_id)
        contact = session.get(Contact, lead.contact_id)
        account = stored_account(session, lead)
        emails = session.exec(
            select(SentEmail).where(col(SentEmail.lead_id) == lead.id).order_by(col(SentEmail.id))
        ).all()
        handoffs = session.exec(
            select(Handoff).where(col(Handoff.lead_id) == lead.id).order_by(col(Handoff.id))
        ).all()
        records = session.exec(
            select(DecisionRecord)
            .where(col(DecisionRecord.lead_id) == lead.id)
            .order_by(col(DecisionRecord.created_at))
        ).all()
        assignments = session.exec(
            select(Assignment)
            .where(col(Assignment.lead_id) == lead.id)
            .order_by(col(Assignment.id))
        ).all()
    out.print(f"Lead {lead.id}: {org.name if org else ''}", markup=False)
    out.print(
        f"  status {lead.status} ({lead.reason}); fit {lead.fit_score} {lead.fit_band}, "
        f"intent {lead.intent_score} {lead.intent_band}; owner {lead.owner_id or 'none'}; "
        f"criteria {lead.criteria_version}",
        markup=False,
    )
    if contact:
        out.print(
            f"  contact {contact.name or '(no name)'}, {contact.role or 'role unknown'}; "
            f"{contact.email or 'no email'}; {contact.phone or 'no phone'}",
            markup=False,
        )
    where = ", ".join(str(v) for v in (account["domain"], account["state"]) if v)
    locations = f"; {account['locations']} location(s)" if account["locations"] else ""
    owners = f" (owners: {', '.join(account['owners'])})" if account["owners"] else ""
    out.print(
        f"  account {account['name'] or account['id']}"
        f"{f' ({where})' if where else ''}{locations}; "
        f"other open leads: {account['other_open_leads']}{owners}",
        markup=False,
    )
    for other in account["other_leads"]:
        out.print(
            f"    lead {other['lead_id'][:12]} {other['status']}, owner {other['owner'] or 'none'}",
            markup=False,
        )
    if lead.sla_due_at:
        out.print(f"  SLA due {lead.sla_due_at:%Y-%m-%d %H:%M} UTC", markup=False)
    deliveries: list[tuple[SentEmail | Handoff, str]] = [(e, f"email {e.kind}") for e in emails]
    deliveries += [(h, "handoff") for h in handoffs]
    for item, what in deliveries:
        out.print(f"  {what} {item.idempotency_key}: {_delivery_state(item)}", markup=False)
    for a in assignments:
        skipped = "; ".join(f"skipped {o}: {why}" for o, why in a.skipped)
        fallback = " (fallback owner)" if a.via_fallback else ""
        out.print(f"  assigned to {a.owner_id}{fallback} {skipped}".rstrip(), markup=False)
    for record in records:
        applied = "" if record.applied else " (recorded; the lead kept its status)"
        out.print()
        out.print(
            f"Decision {record.created_at:%Y-%m-%d %H:%M} by {record.decided_by}: "
            f"{record.status} ({record.reason}){applied}, submission {record.submission_id}",
            markup=False,
        )
        step = None
        for check in record.record.get("checks", []):
            if check["step"] != step:
                step = check["step"]
                out.print(f"  [{step}]", markup=False)
            out.print(f"    {check['detail']}", markup=False)


@leads_app.command("touch")
def leads_touch(
    lead_id: Annotated[str, typer.Argument(help="A lead id (or its first characters).")],
) -> None:
    """Record the owner's first touch of a lead (stops SLA escalation)."""
    from tasks.sla import record_first_touch

    lead = find_lead(lead_id)
    at = record_first_touch(lead.id)
    out.print(f"lead {lead.id[:12]}: first touch {at:%Y-%m-%d %H:%M} UTC", markup=False)


def _delivery_state(item: SentEmail | Handoff) -> str:
    """Where an email or handoff stands, as `medleads delivery` says it."""
    if item.state == "pending" and item.attempts:
        when = f"{item.next_attempt_at:%Y-%m-%d %H:%M} UTC" if item.next_attempt_at else "now"
        return f"retrying (attempt {item.attempts + 1} at {when}): {item.error or ''}".rstrip()
    if item.state == "parked":
        return f"parked after {item.attempts} attempt(s): {item.error or ''}".rstrip()
    return item.state


def failed_lines() -> list[dict[str, Any]]:
    """Submissions the database refused even alone (marked `failed`), oldest first."""
    with session_scope() as session:
        rows = session.exec(
            select(RawSubmission)
            .where(col(RawSubmission.state) == "failed")
            .order_by(col(RawSubmission.stored_at), col(RawSubmission.id))
        ).all()
    return [
        {
            "submission_id": r.id,
            "channel": r.channel,
            "source": r.source_name,
            "row": r.row,
            "stored_at": r.stored_at.isoformat(),
            "failed_at": r.processed_at.isoformat() if r.processed_at else None,
            "error": r.error,
            "attempts": r.attempts,
            "next_attempt_at": r.next_attempt_at.isoformat() if r.next_attempt_at else None,
        }
        for r in rows
    ]


@leads_app.command("failed")
def leads_failed(
    fmt: Annotated[
        OutputFormat, typer.Option("--format", help="table or jsonl.")
    ] = OutputFormat.table,
    retry: Annotated[
        list[str] | None, typer.Option("--retry", help="Put this failed submission back.")
    ] = None,
    retry_all: Annotated[
        bool, typer.Option("--retry-all", help="Put every failed submission back.")
    ] = False,
) -> None:
    """Submissions set aside because the database refused them (the others went on). Each is
    tried again by itself, a bounded number of times (MEDLEADS_SUBMISSION_MAX_ATTEMPTS); after
    a fix, `--retry ID` or `--retry-all` puts them back to be decided by the next run."""
    from sqlmodel import update

    if retry or retry_all:
        with session_scope() as session:
            query = update(RawSubmission).where(col(RawSubmission.state) == "failed")
            if not retry_all:
                query = query.where(col(RawSubmission.id).in_(retry or []))
            done = session.execute(
                query.values(
                    state="pending",
                    claimed_by=None,
                    claimed_at=None,
                    error=None,
                    attempts=0,
                    next_attempt_at=None,
                )
            )
        count = int(getattr(done, "rowcount", 0) or 0)
        out.print(f"{count} submission(s) back to pending", markup=False)
        return
    lines = failed_lines()
    if fmt is OutputFormat.jsonl:
        for line in lines:
            sys.stdout.write(json.dumps(line, ensure_ascii=False) + "\n")
        return
    table = Table(title=f"{len(lines)} failed submission(s)", title_justify="left")
    for name in ("submission", "channel", "source", "row", "failed at", "tries", "next", "why"):
        table.add_column(name, overflow="fold")
    for line in lines:
        table.add_row(
            line["submission_id"],
            line["channel"],
            line["source"] or "",
            str(line["row"] or ""),
            (line["failed_at"] or "")[:16],
            str(line["attempts"]),
            (line["next_attempt_at"] or "a person")[:16],
            line["error"] or "",
        )
    out.print(table)
