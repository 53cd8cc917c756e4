"""CRM outcomes (opportunity, closed_won, closed_lost) imported from an export: stored once per
lead and outcome, the lead's status moved with a decision record, owner counters kept true."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from adapters.rows import as_spelled, delimiter_hint, read_rows
from adapters.submissions import write_rejections
from models.db import session_scope
from models.tables import Lead, LeadKey, Outcome, OwnerState, utcnow
from qualification.closed_sets import CrmOutcome
from qualification.contact import check_email
from qualification.lifecycle import CRM_IMPORTER, Standing, after_outcome, newest_outcome
from qualification.submission import clean_value
from qualification.text import parse_datetime

from .apply import standing_record

OUTCOMES: tuple[str, ...] = tuple(CrmOutcome)
BATCH = 500

HEADERS: dict[str, tuple[str, ...]] = {
    "lead_id": ("lead_id", "leadid", "lead", "medleads_id", "medleads_lead_id", "external_id"),
    "email": (
        "email",
        "e_mail",
        "email_address",
        "e_mail_address",
        "work_email",
        "contact_email",
    ),
    "outcome": (
        "outcome",
        "stage",
        "stage_name",
        "status",
        "opportunity_stage",
        "deal_stage",
        "result",
    ),
    "crm_id": (
        "crm_id",
        "crm_record_id",
        "record_id",
        "opportunity_id",
        "opp_id",
        "deal_id",
    ),
    "amount": (
        "amount",
        "amount_usd",
        "deal_amount",
        "opportunity_amount",
        "deal_value",
        "value",
        "revenue",
        "acv",
        "arr",
    ),
    "occurred_at": (
        "occurred_at",
        "date",
        "close_date",
        "closed_date",
        "closed_at",
        "stage_date",
        "stage_changed_at",
        "changed_at",
        "created_date",
        "created_at",
        "opportunity_date",
    ),
}
_HEADER_OF = {alias: name for name, aliases in HEADERS.items() for alias in aliases}
# Outcome values as CRMs export them, including the default open stages of Salesforce
# opportunities and HubSpot deals: an open stage means the opportunity exists.
VALUES: dict[str, tuple[str, ...]] = {
    "opportunity": (
        "opportunity",
        "opp",
        "open",
        "open_opportunity",
        "opportunity_open",
        "opportunity_created",
        "prospecting",
        "qualification",
        "needs_analysis",
        "value_proposition",
        "id_decision_makers",
        "perception_analysis",
        "proposal_price_quote",
        "negotiation_review",
        "appointmentscheduled",
        "appointment_scheduled",
        "qualifiedtobuy",
        "qualified_to_buy",
        "presentationscheduled",
        "presentation_scheduled",
        "decisionmakerboughtin",
        "decision_maker_bought_in",
        "contractsent",
        "contract_sent",
    ),
    "closed_won": ("closed_won", "closedwon", "won", "win"),
    "closed_lost": ("closed_lost", "closedlost", "lost", "loss"),
}
_OUTCOME_OF = {alias: name for name, aliases in VALUES.items() for alias in aliases}
_NON_WORD = re.compile(r"[^0-9a-z]+")
_AMOUNT = re.compile(r"^-?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?$")


class OutcomeFileError(Exception):
    """The whole file cannot be used (empty, unreadable header, a required column missing)."""


class RowError(ValueError):
    """One row cannot be imported: which column and why."""

    def __init__(self, column: str, why: str) -> None:
        super().__init__(f"{column}: {why}")
        self.column, self.why = column, why


@dataclass(frozen=True, slots=True)
class OutcomeRow:
    row: int
    outcome: str
    lead_id: str | None = None
    email: str | None = None
    crm_id: str | None = None
    amount: float | None = None
    occurred_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class Rejection:
    row: int
    column: str
    why: str


@dataclass
class OutcomeReport:
    """What an import did; `transitions` counts status changes such as "sql -> opportunity"."""

    file: str
    imported: int = 0
    already_imported: int = 0
    lead_ids: list[str] = field(default_factory=list)
    transitions: Counter[str] = field(default_factory=Counter)
    released: int = 0
    rejections: list[Rejection] = field(default_factory=list)
    rejection_report: str | None = None
    notes: list[str] = field(default_factory=list)
    columns: dict[str, str] = field(default_factory=dict)  # canonical name -> the file's header

    def column(self, name: str) -> str:
        return self.columns.get(name, name)


def header_name(header: str) -> str:
    """'Lead ID' -> 'lead_id', 'Stage' -> 'outcome', 'Close Date' -> 'occurred_at'."""
    key = _NON_WORD.sub("_", as_spelled(header).lower()).strip("_")
    return _HEADER_OF.get(key, key)


def parse_outcome(text: str) -> str:
    key = _NON_WORD.sub("_", text.strip().lower()).strip("_")
    found = _OUTCOME_OF.get(key) or _OUTCOME_OF.get(key.replace("_", ""))
    if found is None:
        raise RowError(
            "outcome", f"{text[:40]!r} is not an outcome (opportunity, closed_won, closed_lost)"
        )
    return found


def parse_amount(text: str) -> float:
    cleaned = re.sub(r"[\s$€£]|^(usd|eur|gbp)|(usd|eur|gbp)$", "", text.strip().lower())
    if not _AMOUNT.match(cleaned):
        raise RowError("amount", f"{text[:40]!r} is not an amount (e.g. 12000 or $12,000.50)")
    value = float(cleaned.replace(",", ""))
    if value < 0:
        raise RowError("amount", f"{text[:40]!r} is negative")
    return value


def parse_when(text: str, now: dt.datetime) -> dt.datetime:
    """ISO dates and times, or written dates (US month first); a time without a zone is UTC."""
    try:
        value = parse_datetime(text)
    except ValueError as exc:
        raise RowError("occurred_at", str(exc)) from None
    if value > now + dt.timedelta(days=1):
        raise RowError("occurred_at", f"{text[:40]!r} is in the future")
    return value


def outcome_from_mapping(
    row: int, values: Mapping[str, str | None], now: dt.datetime
) -> OutcomeRow:
    """One row in canonical names (see `header_name`); RowError names the column and why."""
    lead_id, email = values.get("lead_id"), values.get("email")
    if not lead_id and not email:
        raise RowError("lead_id", "neither a lead_id nor an email")
    text = values.get("outcome")
    if not text:
        raise RowError("outcome", "empty")
    amount = values.get("amount")
    when = values.get("occurred_at")
    return OutcomeRow(
        row=row,
        outcome=parse_outcome(text),
        lead_id=lead_id,
        email=email,
        crm_id=(values.get("crm_id") or None),
        amount=parse_amount(amount) if amount else None,
        occurred_at=parse_when(when, now) if when else None,
    )


def read_outcome_file(path: Path, report: OutcomeReport, now: dt.datetime) -> Iterator[OutcomeRow]:
    """Stream the rows of a CRM export (CSV or JSONL, read by `adapters.rows.read_rows`); a bad
    row goes to the report's rejections and never stops the rows after it. Row numbers are
    spreadsheet rows (JSONL: line numbers)."""

    def check(header: Sequence[str], names: Sequence[str]) -> None:
        hint = delimiter_hint(header)
        if "outcome" not in names:
            raise OutcomeFileError(
                f"{path}: missing required column outcome (a header such as outcome, stage or "
                f"status){hint}"
            )
        if "lead_id" not in names and "email" not in names:
            raise OutcomeFileError(f"{path}: missing required column lead_id (or email){hint}")
        # Errors name the column as the file spells it.
        for original, name in zip(header, names, strict=True):
            report.columns.setdefault(name, as_spelled(original))
        unknown = sorted({n for n in names if n and n not in HEADERS})
        if unknown:
            report.notes.append(f"columns ignored: {', '.join(unknown)}")

    rows = read_rows(
        path, name=header_name, check_header=check, error=OutcomeFileError, notes=report.notes
    )
    for row in rows:
        if row.cells is None:
            column = report.column(row.column) if row.column else ""
            report.rejections.append(Rejection(row.number, column, row.error))
            continue
        values = {name: clean_value(cell) for name, cell in row.cells.items() if name in HEADERS}
        try:
            yield outcome_from_mapping(row.number, values, now)
        except RowError as exc:
            report.rejections.append(Rejection(row.number, report.column(exc.column), exc.why))


def import_outcomes(path: Path, url: str | None = None) -> OutcomeReport:
    """Import a CRM export; every bad row is reported (and written to a rejection report) while
    the good rows are imported. Re-importing the same file changes nothing."""
    report = OutcomeReport(file=str(path))
    now = utcnow()
    rows = read_outcome_file(path, report, now)
    for batch in _batches(rows, BATCH):
        with session_scope(url) as session:
            _import_batch(session, batch, path.name, now, report)
    if report.rejections:
        report.rejections.sort(key=lambda r: r.row)
        report.rejection_report = str(
            write_rejections(path, [(r.row, r.column, r.why) for r in report.rejections])
        )
    return report


def _batches(rows: Iterable[OutcomeRow], size: int) -> Iterator[list[OutcomeRow]]:
    iterator = iter(rows)
    while batch := list(islice(iterator, size)):
        yield batch


def _match(session: Session, batch: list[OutcomeRow]) -> list[str | Rejection]:
    """Each row's lead id, or why it matched none: the lead_id when given, else the email."""
    keys: dict[int, str] = {}
    for item in batch:
        if not item.lead_id and item.email:
            check = check_email(item.email)
            if check.valid and check.dedupe_key:
                keys[item.row] = f"email:{check.dedupe_key}"
    by_key: dict[str, str] = {}
    if keys:
        found = session.exec(select(LeadKey).where(col(LeadKey.key).in_(set(keys.values()))))
        by_key = {k.key: k.lead_id for k in found}
    wanted = {i.lead_id for i in batch if i.lead_id}
    known = set(session.exec(select(Lead.id).where(col(Lead.id).in_(wanted))).all())
    matched: list[str | Rejection] = []
    for item in batch:
        if item.lead_id:
            if item.lead_id in known:
                matched.append(item.lead_id)
            else:
                matched.append(Rejection(item.row, "lead_id", f"no lead {item.lead_id!r}"))
        elif item.row not in keys:
            why = f"{item.email!r} is not a valid email: {check_email(item.email).error}"
            matched.append(Rejection(item.row, "email", why))
        elif keys[item.row] in by_key:
            matched.append(by_key[keys[item.row]])
        else:
            matched.append(Rejection(item.row, "email", f"no lead with email {item.email!r}"))
    return matched


def _insert(session: Session, rows: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """Insert outcomes, leaving (lead, outcome) pairs already stored alone; returns those added."""
    if not rows:
        return set()
    table = Outcome.__table__  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect.name
    statement = (pg_insert if dialect == "postgresql" else sqlite_insert)(table).values(rows)
    added = statement.on_conflict_do_nothing(index_elements=["lead_id", "outcome"]).returning(
        table.c.lead_id, table.c.outcome
    )
    return {(str(lead_id), str(outcome)) for lead_id, outcome in session.execute(added).all()}


def _import_batch(
    session: Session, batch: list[OutcomeRow], source: str, now: dt.datetime, report: OutcomeReport
) -> None:
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for item, lead in zip(batch, _match(session, batch), strict=True):
        if isinstance(lead, Rejection):
            report.rejections.append(Rejection(lead.row, report.column(lead.column), lead.why))
            continue
        if (lead, item.outcome) in rows:
            report.already_imported += 1  # the file repeats it: the first row is kept
            continue
        rows[(lead, item.outcome)] = {
            "lead_id": lead,
            "outcome": item.outcome,
            "crm_id": item.crm_id,
            "amount": item.amount,
            "occurred_at": item.occurred_at or now,
            "source_file": source[:512],
            "row": item.row,
            "imported_at": now,
        }
    postgres = session.get_bind().dialect.name == "postgresql"
    # Owner counters before leads, the lock order of every other apply.
    owners_query = select(OwnerState).order_by(col(OwnerState.id))
    owners = {
        o.id: o
        for o in session.exec(owners_query.with_for_update() if postgres else owners_query).all()
    }
    added = _insert(session, list(rows.values()))
    report.imported += len(added)
    report.already_imported += len(rows) - len(added)
    lead_ids = sorted({lead_id for lead_id, _ in added})
    if not lead_ids:
        return
    leads_query = select(Lead).where(col(Lead.id).in_(lead_ids))
    leads = {
        lead.id: lead
        for lead in session.exec(leads_query.with_for_update() if postgres else leads_query).all()
    }
    history: dict[str, list[Outcome]] = {}
    for outcome in session.exec(select(Outcome).where(col(Outcome.lead_id).in_(lead_ids))).all():
        history.setdefault(outcome.lead_id, []).append(outcome)
    for lead_id in lead_ids:
        new = [rows[key] for key in sorted(added) if key[0] == lead_id]
        _apply(session, leads[lead_id], history[lead_id], new, owners, now, report)


def _describe(item: Mapping[str, Any]) -> str:
    parts = [f"crm id {item['crm_id']}"] if item["crm_id"] else []
    if item["amount"] is not None:
        parts.append(f"amount {item['amount']:,.2f}")
    parts.append(f"on {item['occurred_at']:%Y-%m-%d}")
    where = f"{item['source_file']} row {item['row']}"
    return f"CRM reports {item['outcome']} ({', '.join(parts)}) in {where}."


def _apply(
    session: Session,
    lead: Lead,
    history: list[Outcome],
    new: list[dict[str, Any]],
    owners: dict[str, OwnerState],
    now: dt.datetime,
    report: OutcomeReport,
) -> None:
    """The lead follows its newest outcome; a closed lead leaves its owner's open leads."""
    newest = newest_outcome([(o.occurred_at, o.outcome) for o in history])
    transition = after_outcome(Standing(lead.status, lead.reason), newest)
    status, reason = transition.status, transition.reason
    report.lead_ids.append(lead.id)
    if not transition.takes_over:
        return
    checks = [
        {"step": "crm", "name": item["outcome"], "outcome": "info", "detail": _describe(item)}
        for item in new
    ]
    verdict = transition.why
    if transition.release_owner and lead.owner_id:
        state = owners.get(lead.owner_id)
        if state is not None and state.open_leads > 0:
            state.open_leads -= 1
        verdict += f" The lead is closed: {lead.owner_id} no longer holds it."
        lead.owner_id, lead.team = None, None
        report.released += 1
    checks.append({"step": "crm", "name": "status", "outcome": "info", "detail": verdict})
    for check in checks:
        check["points"] = 0
    record = standing_record(
        lead,
        status=status,
        reason=reason,
        decided_by=CRM_IMPORTER,
        criteria_version=lead.criteria_version or "none",
        now=now,
        record={
            "status": status,
            "reason": reason,
            "previous_status": lead.status,
            "previous_reason": lead.reason,
            "checks": checks,
            "explanations": [c["detail"] for c in checks],
            "outcomes": [
                {
                    **{k: v for k, v in item.items() if k != "imported_at"},
                    "occurred_at": item["occurred_at"].isoformat(),
                }
                for item in new
            ],
        },
    )
    session.add(record)
    report.transitions[f"{lead.status} -> {status}"] += 1
    lead.status, lead.reason, lead.borderline = status, reason, False
    lead.last_decision_id = record.id
    lead.recheck_at = None
    lead.updated_at = now
