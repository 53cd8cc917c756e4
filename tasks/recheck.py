"""Recheck (DESIGN §6): engagement stored as new raw submissions, leads due re-evaluated with the
pure core, promotions routed and handed off like any other decision, one transaction per chunk."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE
from sqlalchemy import and_, func, not_, or_, update
from sqlalchemy import select as sa_select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from models.db import session_scope
from models.tables import (
    ConsentEvent,
    Lead,
    LeadKey,
    RawSubmission,
    utcnow,
)
from qualification.closed_sets import PERMANENT_REASONS
from qualification.contact import check_email
from qualification.criteria import TEMPORARY_REASONS, Criteria
from qualification.decision import Decision
from qualification.evaluate import TIMING_FAR_OUT, evaluate
from qualification.lifecycle import Standing, after_recheck
from qualification.signals import parse_bool, parse_count
from qualification.submission import (
    CANONICAL_FIELDS,
    Submission,
    canonical_header,
    clean_value,
    submission_from_mapping,
)
from qualification.text import parse_datetime
from qualification.timeframes import parse_timeframe

from .apply import (
    _Chunk,
    consent_event,
    new_record,
    route_new_status,
    take_decision,
)
from .review import review_clock

# An engagement row waits in this state until a recheck has looked at it, then it is "done".
RECHECK_STATE = "recheck"
ENGAGEMENT_SOURCE = "engagement"
# The row as it arrived, kept inside the stored payload next to the merged facts.
ENGAGEMENT_KEY = "engagement"
COUNT_FIELDS: tuple[str, ...] = (
    "page_visits_high_intent",
    "content_downloads",
    "email_engagements",
)
BATCH = 500
RETRY_DELAYS: list[float] = [2, 10, 30]


@dataclass(frozen=True, slots=True)
class Engagement:
    """New facts about a known lead: counts are increments added to what the lead already has."""

    row: int
    lead_id: str | None = None
    email: str | None = None
    page_visits_high_intent: int = 0
    content_downloads: int = 0
    email_engagements: int = 0
    webinar_attended: bool = False
    consent_email: bool | None = None
    consent_phone: bool | None = None
    consent_text: str | None = None
    timeframe: str | None = None
    occurred_at: dt.datetime | None = None
    submission_id: str | None = None
    raw: Mapping[str, str] = field(default_factory=dict)

    def given(self) -> dict[str, Any]:
        """The facts this row states (JSON-ready), without its row number or raw text."""
        values: dict[str, Any] = {"lead_id": self.lead_id, "email": self.email}
        values |= {name: getattr(self, name) or None for name in COUNT_FIELDS}
        values |= {
            "webinar_attended": self.webinar_attended or None,
            "consent_email": self.consent_email,
            "consent_phone": self.consent_phone,
            "consent_text": self.consent_text,
            "timeframe": self.timeframe,
            "occurred_at": self.occurred_at.isoformat() if self.occurred_at else None,
        }
        return {k: v for k, v in values.items() if v is not None}


@dataclass
class EngagementReport:
    """What `record_engagement` stored; `unmatched` and `not_rechecked` hold (row, why)."""

    recorded: int = 0
    already_recorded: int = 0
    lead_ids: list[str] = field(default_factory=list)
    unmatched: list[tuple[int, str]] = field(default_factory=list)
    not_rechecked: list[tuple[int, str]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class RecheckItem:
    """A lead due for a recheck, with the state it was found in and its latest stored facts."""

    lead_id: str
    version: tuple[str, str | None, str | None, dt.datetime | None]
    horizon: bool
    engagement_ids: tuple[str, ...]
    submission_id: str | None
    channel: str
    payload: dict[str, Any]
    received: dt.date | None


@dataclass(frozen=True, slots=True)
class RecheckOutcome:
    """The new decision for one lead, or why evaluating it failed."""

    lead_id: str
    decision: Decision | None
    error: str | None = None


@dataclass
class RecheckReport:
    """What a recheck run (or one chunk of it) did."""

    rechecked: int = 0
    promoted: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    recorded_only: list[str] = field(default_factory=list)
    skipped: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    transitions: Counter[str] = field(default_factory=Counter)
    review_lead_ids: list[str] = field(default_factory=list)
    emails_sent: int = 0
    handoffs: int = 0

    def add(self, other: RecheckReport) -> None:
        self.rechecked += other.rechecked
        self.promoted += other.promoted
        self.kept += other.kept
        self.recorded_only += other.recorded_only
        self.skipped += other.skipped
        self.failed.update(other.failed)
        self.transitions.update(other.transitions)
        self.review_lead_ids += other.review_lead_ids


def _batches(items: Iterable[Engagement], size: int) -> Iterator[list[Engagement]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def engagement_from_mapping(row: int, data: Mapping[str, object]) -> Engagement:
    """Read one engagement row (any header spelling); ValueError says what is wrong with it."""
    values: dict[str, str | None] = {}
    for key, raw in data.items():
        name, value = canonical_header(str(key)), clean_value(raw)
        if value is not None or name not in values:
            values[name] = value
    lead_id, email = values.get("lead_id"), values.get("email")
    if not lead_id and not email:
        raise ValueError("neither an email nor a lead_id")
    counts: dict[str, int] = {}
    for name in COUNT_FIELDS:
        try:
            counts[name] = parse_count(values.get(name)) or 0
        except ValueError as exc:
            raise ValueError(f"{name}: {exc}") from None
    flags: dict[str, bool | None] = {}
    for name in ("webinar_attended", "consent_email", "consent_phone"):
        text = values.get(name)
        flags[name] = parse_bool(text)
        if text is not None and flags[name] is None:
            raise ValueError(f"{name}: {text[:40]!r} is not yes or no")
    occurred: dt.datetime | None = None
    if stamp := values.get("occurred_at") or values.get("received_at"):
        try:
            occurred = parse_datetime(stamp)
        except ValueError:
            raise ValueError(f"occurred_at: {stamp[:40]!r} is not a date and time") from None
    engagement = Engagement(
        row=row,
        lead_id=lead_id,
        email=email,
        webinar_attended=flags["webinar_attended"] is True,
        consent_email=flags["consent_email"],
        consent_phone=flags["consent_phone"],
        consent_text=values.get("consent_text"),
        timeframe=values.get("timeframe"),
        occurred_at=occurred,
        submission_id=values.get("submission_id"),
        raw={str(k): str(v) for k, v in data.items() if v is not None},
        **counts,
    )
    if not set(engagement.given()) - {"lead_id", "email", "occurred_at"}:
        raise ValueError("no engagement in the row (no counts, attendance, consent or timeframe)")
    return engagement


def _facts(payload: Mapping[str, Any], channel: str) -> Submission:
    if not isinstance(payload, Mapping):
        raise ValueError("the stored submission is not a JSON object")
    return submission_from_mapping(
        {k: v for k, v in payload.items() if k != ENGAGEMENT_KEY}, channel=channel
    )


def _count(value: str | None) -> int:
    try:
        return parse_count(value) or 0
    except ValueError:
        return 0


def merge_engagement(
    latest: Mapping[str, Any],
    channel: str,
    received_at: dt.datetime | None,
    e: Engagement,
    redacted: bool,
) -> dict[str, Any]:
    """The lead's latest facts (canonical fields) with this engagement's facts added on top.
    `received_at` is when the latest facts arrived: the day their timeline counts from."""
    sub = _facts(latest, channel)
    merged: dict[str, Any] = {
        name: getattr(sub, name)
        for name in CANONICAL_FIELDS
        if getattr(sub, name) is not None and name != "submission_id"
    }
    if received_at is not None:
        merged.setdefault("received_at", received_at.isoformat())
    if redacted:
        merged.pop("message", None)
    for name in COUNT_FIELDS:
        added: int = getattr(e, name)
        if added:
            merged[name] = str(_count(merged.get(name)) + added)
    if e.webinar_attended:
        merged["webinar_attended"] = "true"
    for name in ("consent_email", "consent_phone"):
        granted: bool | None = getattr(e, name)
        if granted is not None:
            merged[name] = "true" if granted else "false"
    if e.consent_text:
        merged["consent_text"] = e.consent_text
    if e.timeframe:
        # A timeline is stated relative to the day it was given.
        merged["timeframe"] = e.timeframe
        merged["received_at"] = (e.occurred_at or utcnow()).isoformat()
    return merged


def _engagement_id(lead_id: str, e: Engagement) -> str:
    facts = {k: v for k, v in e.given().items() if k not in ("lead_id", "email")}
    body = json.dumps({"lead_id": lead_id, **facts}, sort_keys=True)
    return "eng-" + hashlib.sha256(body.encode("utf-8")).hexdigest()[:24]


def _version(lead: Lead) -> tuple[str, str | None, str | None, dt.datetime | None]:
    """What must not have changed between finding a lead due and applying its recheck."""
    return lead.status, lead.reason, lead.last_decision_id, lead.recheck_at


def _permanent(lead: Lead) -> bool:
    return lead.status == "disqualified" and lead.reason in PERMANENT_REASONS


@dataclass(frozen=True, slots=True)
class _Latest:
    submission_id: str
    channel: str
    payload: Any
    received_at: dt.datetime | None


def _latest_submissions(session: Session, lead_ids: Iterable[str]) -> dict[str, _Latest]:
    """Each lead's most recently stored raw submission."""
    ranked = (
        sa_select(
            col(RawSubmission.id),
            col(RawSubmission.lead_id),
            col(RawSubmission.channel),
            col(RawSubmission.payload),
            col(RawSubmission.received_at),
            func.row_number()
            .over(
                partition_by=RawSubmission.lead_id,
                order_by=(col(RawSubmission.stored_at).desc(), col(RawSubmission.id).desc()),
            )
            .label("position"),
        )
        .where(col(RawSubmission.lead_id).in_(list(lead_ids)))
        .subquery()
    )
    rows = session.execute(sa_select(ranked).where(ranked.c.position == 1)).all()
    return {row.lead_id: _Latest(row.id, row.channel, row.payload, row.received_at) for row in rows}


def _match(session: Session, batch: list[Engagement]) -> list[Lead | str]:
    """Each row's lead, or why it matched none, in batch order."""
    keys: list[str | None] = []
    for e in batch:
        check = check_email(e.email)
        keys.append(f"email:{check.dedupe_key}" if check.valid and check.dedupe_key else None)
    by_key: dict[str, str] = {}
    if any(keys):
        rows = session.exec(select(LeadKey).where(col(LeadKey.key).in_({k for k in keys if k})))
        by_key = {r.key: r.lead_id for r in rows}
    ids = {e.lead_id for e in batch if e.lead_id} | set(by_key.values())
    leads = {
        lead.id: lead for lead in session.exec(select(Lead).where(col(Lead.id).in_(ids))).all()
    }
    found: list[Lead | str] = []
    for e, key in zip(batch, keys, strict=True):
        if e.lead_id:
            found.append(leads.get(e.lead_id) or f"no lead with id {e.lead_id!r}")
        elif not e.email:
            found.append("neither an email nor a lead_id")
        elif key is None:
            found.append(f"email {e.email!r} is not valid: {check_email(e.email).error}")
        else:
            lead_id = by_key.get(key)
            found.append(leads[lead_id] if lead_id else f"no lead with email {e.email!r}")
    return found


def _insert_new(session: Session, rows: list[dict[str, Any]]) -> set[str]:
    """Insert raw submissions, leaving ids already stored alone; returns the ids inserted."""
    if not rows:
        return set()
    table = RawSubmission.__table__  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect.name
    statement = (pg_insert if dialect == "postgresql" else sqlite_insert)(table).values(rows)
    inserted = statement.on_conflict_do_nothing(index_elements=["id"]).returning(table.c.id)
    return {str(i) for i in session.execute(inserted).scalars()}


def _consent_events(lead: Lead, e: Engagement, submission_id: str) -> list[ConsentEvent]:
    return [
        consent_event(
            lead,
            channel,
            granted,
            submission_id=submission_id,
            source=ENGAGEMENT_SOURCE,
            disclosure_text=e.consent_text,
            occurred_at=e.occurred_at or utcnow(),
        )
        for channel, granted in (("email", e.consent_email), ("phone", e.consent_phone))
        if granted is not None
    ]


def record_engagement(rows: Iterable[Engagement], url: str | None = None) -> EngagementReport:
    """Store each engagement row as a new raw submission of its lead: the lead's latest facts with
    the row's counts added, the row itself kept verbatim. Consent it carries goes to the ledger at
    once. The lead is rechecked on the next recheck run; re-recording the same rows changes
    nothing."""
    report = EngagementReport()
    for batch in _batches(rows, BATCH):
        with session_scope(url) as session:
            _record_batch(session, batch, report)
    return report


def _record_batch(session: Session, batch: list[Engagement], report: EngagementReport) -> None:
    now = utcnow()
    matched = _match(session, batch)
    found: list[tuple[Engagement, Lead, str]] = []
    for e, lead in zip(batch, matched, strict=True):
        if isinstance(lead, str):
            report.unmatched.append((e.row, lead))
        else:
            found.append((e, lead, e.submission_id or _engagement_id(lead.id, e)))
    stored = set(
        session.exec(
            select(RawSubmission.id).where(col(RawSubmission.id).in_([i for *_, i in found]))
        ).all()
    )
    latest = _latest_submissions(session, {lead.id for _, lead, _ in found})
    new_rows: list[dict[str, Any]] = []
    consent: dict[str, list[ConsentEvent]] = {}
    for e, lead, submission_id in found:
        if submission_id in stored:
            report.already_recorded += 1
            continue
        base = latest.get(lead.id)
        if base is None:
            report.unmatched.append((e.row, f"lead {lead.id} has no stored submission"))
            continue
        try:
            merged = merge_engagement(
                base.payload, base.channel, base.received_at, e, lead.redacted
            )
        except ValueError as exc:
            report.unmatched.append((e.row, f"lead {lead.id}: {exc}"))
            continue
        stored.add(submission_id)
        payload = {
            **merged,
            "submission_id": submission_id,
            "channel": lead.channel,
            ENGAGEMENT_KEY: dict(e.raw) or e.given(),
        }
        received = e.occurred_at or now
        latest[lead.id] = _Latest(submission_id, lead.channel, payload, received)
        permanent = _permanent(lead)
        new_rows.append(
            {
                "id": submission_id,
                "channel": lead.channel,
                "payload": payload,
                "source_name": ENGAGEMENT_SOURCE,
                "row": e.row,
                "received_at": received,
                "stored_at": now,
                "state": "done" if permanent else RECHECK_STATE,
                "processed_at": now if permanent else None,
                "lead_id": lead.id,
            }
        )
        consent[submission_id] = _consent_events(lead, e, submission_id)
        if permanent:
            why = f"lead {lead.id} is permanently disqualified ({lead.reason})"
            report.not_rechecked.append((e.row, why))
        elif lead.id not in report.lead_ids:
            report.lead_ids.append(lead.id)
    inserted = _insert_new(session, new_rows)
    for submission_id in inserted:
        session.add_all(consent[submission_id])
    report.recorded += len(inserted)
    report.already_recorded += len(new_rows) - len(inserted)


@task(name="find-due-rechecks", cache_policy=NO_CACHE, retries=3, retry_delay_seconds=RETRY_DELAYS)
def find_due(size: int, after: str = "", url: str | None = None) -> list[RecheckItem]:
    """Up to `size` leads (ids after `after`) whose horizon has come or who engaged again.
    A permanent disqualification is never rechecked."""
    clock = review_clock()
    recheckable = or_(
        col(Lead.status) == "mql_no_timeline",
        and_(col(Lead.status) == "disqualified", col(Lead.reason).in_(TEMPORARY_REASONS)),
        and_(col(Lead.status) == "nurture", col(Lead.reason) == TIMING_FAR_OUT),
    )
    engaged = select(RawSubmission.lead_id).where(col(RawSubmission.state) == RECHECK_STATE)
    permanent = and_(
        col(Lead.status) == "disqualified", col(Lead.reason).in_(sorted(PERMANENT_REASONS))
    )
    due = or_(
        and_(col(Lead.recheck_at) <= clock, recheckable),
        and_(col(Lead.id).in_(engaged), not_(permanent)),
    )
    with session_scope(url) as session:
        leads = session.exec(
            select(Lead).where(due, col(Lead.id) > after).order_by(col(Lead.id)).limit(size)
        ).all()
        if not leads:
            return []
        ids = [lead.id for lead in leads]
        latest = _latest_submissions(session, ids)
        pending: dict[str, list[str]] = {}
        for sub_id, lead_id in session.execute(
            select(RawSubmission.id, RawSubmission.lead_id)
            .where(col(RawSubmission.lead_id).in_(ids), col(RawSubmission.state) == RECHECK_STATE)
            .order_by(col(RawSubmission.stored_at), col(RawSubmission.id))
        ).all():
            pending.setdefault(str(lead_id), []).append(sub_id)
    items = []
    for lead in leads:
        base = latest.get(lead.id)
        horizon = lead.recheck_at is not None and lead.recheck_at <= clock
        items.append(
            RecheckItem(
                lead_id=lead.id,
                version=_version(lead),
                horizon=horizon and lead.status in ("mql_no_timeline", "disqualified", "nurture"),
                engagement_ids=tuple(pending.get(lead.id, ())),
                submission_id=base.submission_id if base else None,
                channel=base.channel if base else lead.channel,
                payload=base.payload if base else {},
                received=base.received_at.date() if base and base.received_at else None,
            )
        )
    return items


def submission_for_recheck(item: RecheckItem, today: dt.date) -> Submission:
    """The lead's latest facts as a Submission, with a stated timeline pinned to its calendar
    dates (the core reads "within 6 months" or "next year" from the day it was said; a recheck
    happens later): a window that started that day becomes "by END", any other "from START to
    END", which the core reads as the same window, started by now if its start has passed."""
    if item.submission_id is None:
        raise ValueError("the lead has no stored submission")
    sub = _facts(item.payload, item.channel)
    reference = item.received or today
    if sub.received_at:
        with contextlib.suppress(ValueError):
            reference = parse_datetime(sub.received_at).date()
    window = parse_timeframe(sub.timeframe, reference)
    if window.start is None or window.end is None:
        return sub
    if window.start == reference:
        pinned = f"by {window.end.isoformat()}"
    else:
        pinned = f"from {window.start.isoformat()} to {window.end.isoformat()}"
    return dataclasses.replace(sub, timeframe=pinned, received_at=today.isoformat())


@task(name="evaluate-rechecks", cache_policy=NO_CACHE)
def evaluate_rechecks(items: list[RecheckItem], criteria: Criteria) -> list[RecheckOutcome]:
    """The pure core on each lead; a lead whose facts cannot be evaluated is reported, not fatal."""
    today = review_clock().date()
    outcomes = []
    for item in items:
        try:
            decision = evaluate(submission_for_recheck(item, today), criteria, today=today)
        except Exception as exc:  # one lead's unusable data must not stop the others
            outcomes.append(
                RecheckOutcome(item.lead_id, None, f"{type(exc).__name__}: {exc}"[:300])
            )
        else:
            outcomes.append(RecheckOutcome(item.lead_id, decision))
    return outcomes


def _note(item: RecheckItem, old: str, verdict: str) -> dict[str, Any]:
    why = ", ".join(
        w
        for w, on in (("horizon reached", item.horizon), ("new engagement", item.engagement_ids))
        if on
    )
    detail = f"Recheck ({why or 'due'}) of a {old} lead: {verdict}"
    return {"step": "status", "name": "recheck", "outcome": "info", "detail": detail, "points": 0}


def _recheck_one(
    chunk: _Chunk, lead: Lead, item: RecheckItem, decision: Decision, clock: dt.datetime
) -> RecheckReport:
    old = lead.status
    transition = after_recheck(
        Standing(old, lead.reason), decision.status, decision.reason, decision.recheck_days
    )
    stored = decision.to_dict()
    note = _note(item, old, transition.why)
    stored["checks"].append(note)
    stored["explanations"].append(note["detail"])
    record = new_record(
        decision,
        lead.id,
        item.submission_id,
        stored,
        applied=transition.takes_over,
        now=chunk.now,
        decided_by="recheck",
    )
    chunk.session.add(record)
    result = RecheckReport(rechecked=1)
    if not transition.reschedule:
        result.recorded_only.append(lead.id)
        return result
    if transition.takes_over:
        take_decision(lead, decision, record.id, chunk.now)
    days = decision.recheck_days
    lead.recheck_at = clock + dt.timedelta(days=days) if days else None
    if transition.reroute:
        route_new_status(chunk, lead, decision.route, record, clock, transition)
        chunk.write()
        result.promoted.append(lead.id)
        result.transitions[f"{old} -> {decision.status}"] += 1
        if transition.open_review:
            result.review_lead_ids.append(lead.id)
    elif transition.takes_over:
        result.kept.append(lead.id)
    else:
        result.recorded_only.append(lead.id)
    return result


@task(name="apply-rechecks", cache_policy=NO_CACHE, retries=3, retry_delay_seconds=RETRY_DELAYS)
def apply_rechecks(
    items: list[RecheckItem],
    outcomes: list[RecheckOutcome],
    criteria: Criteria,
    url: str | None = None,
) -> RecheckReport:
    """Record a decision by "recheck" for every lead, promote where the rules now say more, all
    in one transaction. A lead changed by someone else since it was found is left for next run."""
    report = RecheckReport()
    clock = review_clock()
    with session_scope(url) as session:
        postgres = session.get_bind().dialect.name == "postgresql"
        # `_Chunk.for_lead` for many leads; owner counters are locked before leads, as every
        # other apply does.
        chunk = _Chunk(session, criteria, [], [])
        query = select(Lead).where(col(Lead.id).in_([i.lead_id for i in items]))
        leads = {
            lead.id: lead
            for lead in session.exec(query.with_for_update() if postgres else query).all()
        }
        chunk.leads.update(leads)
        chunk._load_lead_side(list(leads.values()))
        wanted = [e for item in items for e in item.engagement_ids]
        pending_query = select(RawSubmission.id).where(
            col(RawSubmission.id).in_(wanted), col(RawSubmission.state) == RECHECK_STATE
        )
        pending = set(
            session.exec(pending_query.with_for_update() if postgres else pending_query).all()
        )
        done: list[str] = []
        for item, outcome in zip(items, outcomes, strict=True):
            lead = leads.get(item.lead_id)
            if outcome.decision is None:
                report.failed[item.lead_id] = outcome.error or "unknown error"
                continue
            if (
                lead is None
                or _version(lead) != item.version
                or not set(item.engagement_ids) <= pending
            ):
                report.skipped += 1
                continue
            report.add(_recheck_one(chunk, lead, item, outcome.decision, clock))
            done += item.engagement_ids
        session.flush()
        if done:
            session.execute(
                update(RawSubmission)
                .where(col(RawSubmission.id).in_(done))
                .values(state="done", processed_at=chunk.now)
            )
    return report
