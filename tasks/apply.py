"""Apply a chunk of decisions in one transaction: leads, consent, owners, emails, handoffs."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field, fields
from typing import Any, Protocol

from prefect import task
from prefect.cache_policies import NO_CACHE
from sqlalchemy import bindparam, insert, update
from sqlmodel import Session, SQLModel, col, select

from models.db import session_scope
from models.tables import (
    Assignment,
    ConsentEvent,
    Contact,
    DecisionRecord,
    Handoff,
    Lead,
    LeadKey,
    Organization,
    OwnerState,
    RawSubmission,
    SentEmail,
    new_id,
    utcnow,
)
from qualification.criteria import Criteria
from qualification.decision import Decision, RoutePlan, top_reasons
from qualification.routing import pick_owner
from qualification.signals import parse_bool
from qualification.vocab import SPECIALTY_LABELS

from .store import Claimed

# Which status wins when a repeat submission attaches to an existing lead: never demote, and
# leave leads a person or sales already holds alone.
STATUS_RANK = {
    "new": 0,
    "disqualified": 1,
    "nurture": 2,
    "mql_no_timeline": 3,
    "mql": 4,
    "sql": 6,
}
HELD_STATUSES = frozenset({"in_review", "sql", "opportunity", "closed_lost"})
HANDOFF_STATUSES = frozenset({"sql", "mql", "mql_no_timeline"})
NURTURE_STATUSES = frozenset({"nurture", "mql_no_timeline"})
# Rows created in a chunk are written with one Core INSERT per table, in this order.
INSERT_ORDER: tuple[type[SQLModel], ...] = (
    Organization,
    Contact,
    Lead,
    LeadKey,
    ConsentEvent,
    DecisionRecord,
    Assignment,
    SentEmail,
    Handoff,
)


class LeadLike(Protocol):
    """What routing and handoff read and change on a lead: a stored `Lead` or a `NewLead`."""

    id: str
    contact_id: str
    channel: str
    source: str | None
    campaign: str | None
    status: str
    reason: str | None
    fit_score: int
    intent_score: int
    fit_band: str
    intent_band: str
    borderline: bool
    owner_id: str | None
    team: str | None
    criteria_version: str | None
    last_decision_id: str | None
    redacted: bool
    sla_due_at: dt.datetime | None
    first_touch_at: dt.datetime | None
    recheck_at: dt.datetime | None
    updated_at: dt.datetime


@dataclass(slots=True)
class NewLead:
    """A lead created in this chunk: a plain object written with one bulk INSERT at the end
    (building ORM objects cost ~0.1 ms each, most of a chunk's time). Mirrors `Lead`'s columns."""

    id: str
    organization_id: str
    contact_id: str
    channel: str
    source: str | None
    campaign: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    status: str = "new"
    reason: str | None = None
    fit_score: int = 0
    intent_score: int = 0
    fit_band: str = "low"
    intent_band: str = "low"
    borderline: bool = False
    owner_id: str | None = None
    team: str | None = None
    criteria_version: str | None = None
    last_decision_id: str | None = None
    redacted: bool = False
    sla_due_at: dt.datetime | None = None
    first_touch_at: dt.datetime | None = None
    recheck_at: dt.datetime | None = None


NEW_LEAD_COLUMNS = tuple(f.name for f in fields(NewLead))


@dataclass
class ApplyResult:
    """What one chunk changed: ids for the follow-up tasks and counts for the summary."""

    lead_ids: list[str] = field(default_factory=list)
    new_leads: int = 0
    attached: int = 0
    email_keys: list[str] = field(default_factory=list)
    handoff_keys: list[str] = field(default_factory=list)
    review_lead_ids: list[str] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    bands: Counter[str] = field(default_factory=Counter)


def consent_state(session: Session, contact_id: str, channel: str) -> bool:
    """Whether the latest consent event of a contact grants the channel (the ledger decides)."""
    latest = session.execute(
        select(ConsentEvent.granted)
        .where(ConsentEvent.contact_id == contact_id, col(ConsentEvent.channel) == channel)
        .order_by(col(ConsentEvent.occurred_at).desc(), col(ConsentEvent.id).desc())
        .limit(1)
    ).scalar()
    return bool(latest)


def consent_row(
    lead: LeadLike,
    channel: str,
    granted: bool,
    *,
    submission_id: str,
    source: str,
    occurred_at: dt.datetime,
    form_version: str | None = None,
    disclosure_text: str | None = None,
) -> dict[str, Any]:
    """One ledger row: email consent is for marketing, phone consent for sales contact."""
    return {
        "contact_id": lead.contact_id,
        "lead_id": lead.id,
        "channel": channel,
        "purpose": "marketing" if channel == "email" else "sales_contact",
        "granted": granted,
        "submission_id": submission_id,
        "source": source,
        "form_version": form_version,
        "disclosure_text": disclosure_text,
        "occurred_at": occurred_at,
    }


def consent_event(lead: LeadLike, channel: str, granted: bool, **kwargs: Any) -> ConsentEvent:
    """The same ledger row as an ORM object, for paths that add a few rows to a session."""
    return ConsentEvent(**consent_row(lead, channel, granted, **kwargs))


class _Chunk:
    """The state of one transaction, loaded with a few queries up front so rows apply in memory."""

    def __init__(
        self,
        session: Session,
        criteria: Criteria,
        claimed: list[Claimed],
        decisions: list[Decision],
    ) -> None:
        self.session = session
        self.criteria = criteria
        self.now = utcnow()
        # Rows created here, by table, written in bulk by `write()` before the transaction ends.
        self.inserts: defaultdict[type[SQLModel], list[dict[str, Any]]] = defaultdict(list)
        keys = {k for d in decisions for k in d.dedupe_keys if not k.startswith("domain:")}
        self.lead_by_key: dict[str, str] = {}
        self.leads: dict[str, LeadLike] = {}
        if keys:
            rows = session.execute(select(LeadKey).where(col(LeadKey.key).in_(keys))).scalars()
            self.lead_by_key = {r.key: r.lead_id for r in rows}
            lead_ids = set(self.lead_by_key.values())
            if lead_ids:
                leads = session.execute(select(Lead).where(col(Lead.id).in_(lead_ids))).scalars()
                self.leads = {lead.id: lead for lead in leads}
        domains = {d.domain for d in decisions if d.domain}
        self.org_by_domain: dict[str, str] = {}
        if domains:
            orgs = session.execute(
                select(Organization.domain, Organization.id).where(
                    col(Organization.domain).in_(domains)
                )
            ).all()
            self.org_by_domain = {str(domain): org_id for domain, org_id in orgs}
        self.consent: dict[tuple[str, str], bool] = {}
        self.email_keys: set[str] = set()
        self.new_leads: list[NewLead] = []
        self.handoff_keys: set[str] = set()
        self._load_lead_side(list(self.leads.values()))
        self.consent_seen: set[tuple[str, str]] = set(
            session.execute(
                select(ConsentEvent.submission_id, ConsentEvent.channel).where(
                    col(ConsentEvent.submission_id).in_([c.id for c in claimed])
                )
            ).all()
        )
        self.owners = self._owner_states()

    @classmethod
    def for_lead(cls, session: Session, criteria: Criteria, lead: Lead) -> _Chunk:
        """The same state for one existing lead (a reviewer's decision, a recheck)."""
        chunk = cls(session, criteria, [], [])
        chunk.leads[lead.id] = lead
        chunk._load_lead_side([lead])
        return chunk

    def add(self, model: type[SQLModel], row: dict[str, Any]) -> None:
        """Queue a new row of `model` for the bulk write (a table's rows share their keys)."""
        self.inserts[model].append(row)

    def write(self) -> None:
        """Insert every queued row, one executemany per table; foreign keys are deferred."""
        for model in INSERT_ORDER:
            rows = self.inserts.pop(model, None)
            if rows:
                self.session.execute(insert(model.__table__), rows)  # type: ignore[attr-defined]
        if self.inserts:
            raise RuntimeError(f"no insert order for {sorted(m.__name__ for m in self.inserts)}")

    def _load_lead_side(self, leads: list[LeadLike]) -> None:
        """Consent ledger, queued email keys and handoff keys of existing leads."""
        if not leads:
            return
        session = self.session
        contact_ids = {lead.contact_id for lead in leads}
        events = session.execute(
            select(ConsentEvent.contact_id, ConsentEvent.channel, ConsentEvent.granted)
            .where(col(ConsentEvent.contact_id).in_(contact_ids))
            .order_by(col(ConsentEvent.occurred_at), col(ConsentEvent.id))
        ).all()
        self.consent.update({(c, ch): bool(g) for c, ch, g in events})
        lead_ids = [lead.id for lead in leads]
        self.email_keys |= set(
            session.execute(
                select(SentEmail.idempotency_key).where(col(SentEmail.lead_id).in_(lead_ids))
            ).scalars()
        )
        self.handoff_keys |= set(
            session.execute(
                select(Handoff.idempotency_key).where(col(Handoff.lead_id).in_(lead_ids))
            ).scalars()
        )

    def _owner_states(self) -> dict[str, OwnerState]:
        owners = self.criteria.sheet.routing.owners
        query = select(OwnerState).where(col(OwnerState.id).in_([o.id for o in owners]))
        if self.session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update()  # serialize round robin across concurrent runs
        states = {s.id: s for s in self.session.execute(query).scalars()}
        for owner in owners:
            if owner.id not in states:
                state = OwnerState(id=owner.id, team=owner.team)
                self.session.add(state)
                states[owner.id] = state
        return states

    def lead_for(self, decision: Decision) -> LeadLike | None:
        for key in decision.dedupe_keys:
            lead_id = self.lead_by_key.get(key)
            if lead_id:
                return self.leads[lead_id]
        return None

    def create_lead(self, claimed: Claimed, decision: Decision) -> NewLead:
        payload = claimed.payload
        org_id = self.org_by_domain.get(decision.domain or "")
        if org_id is None:
            org_id = new_id()
            self.add(
                Organization,
                {
                    "id": org_id,
                    "name": decision.organization_name,
                    "domain": decision.domain,
                    "org_type": decision.org_type,
                    "specialty": decision.specialty,
                    "state": decision.state,
                    "country": decision.country,
                    "created_at": self.now,
                },
            )
            if decision.domain:
                self.org_by_domain[decision.domain] = org_id
        contact_id = new_id()
        self.add(
            Contact,
            {
                "id": contact_id,
                "organization_id": org_id,
                "name": payload.get("contact_name"),
                "role": decision.role,
                "email": decision.email,
                "phone": decision.phone,
                "created_at": self.now,
            },
        )
        lead = NewLead(
            id=new_id(),
            organization_id=org_id,
            contact_id=contact_id,
            channel=claimed.channel,
            source=payload.get("source"),
            campaign=payload.get("campaign"),
            created_at=self.now,
            updated_at=self.now,
        )
        self.leads[lead.id] = lead
        self.new_leads.append(lead)
        for key in decision.dedupe_keys:
            if not key.startswith("domain:") and key not in self.lead_by_key:
                self.add(LeadKey, {"key": key, "lead_id": lead.id})
                self.lead_by_key[key] = lead.id
        return lead

    def record_consent(self, claimed: Claimed, lead: LeadLike) -> None:
        payload = claimed.payload
        for channel, value in (("email", "consent_email"), ("phone", "consent_phone")):
            granted = parse_bool(payload.get(value))
            if granted is None or (claimed.id, channel) in self.consent_seen:
                continue
            self.consent_seen.add((claimed.id, channel))
            self.consent[(lead.contact_id, channel)] = granted
            self.add(
                ConsentEvent,
                consent_row(
                    lead,
                    channel,
                    granted,
                    submission_id=claimed.id,
                    source=claimed.channel,
                    form_version=payload.get("form_version"),
                    disclosure_text=payload.get("consent_text"),
                    occurred_at=self.now,
                ),
            )

    def consented(self, lead: LeadLike, channel: str) -> bool:
        return self.consent.get((lead.contact_id, channel), False)

    def assign(self, lead: LeadLike, route: RoutePlan, record_id: str) -> None:
        team = route.team
        if team not in ("sales", "marketing"):
            if lead.owner_id and lead.owner_id in self.owners:
                self.owners[lead.owner_id].open_leads -= 1
            lead.owner_id, lead.team = None, team if team == "review" else None
            return
        if lead.owner_id and lead.team == team:
            return  # already owned in this team: keep the owner
        open_leads = {k: v.open_leads for k, v in self.owners.items()}
        last = {k: v.last_assigned_seq for k, v in self.owners.items()}
        owner_id, skipped = pick_owner(route, open_leads, last, self.criteria.sheet.routing)
        if owner_id is None:
            return
        if lead.owner_id and lead.owner_id in self.owners:
            self.owners[lead.owner_id].open_leads -= 1
        state = self.owners[owner_id]
        state.open_leads += 1
        state.assigned_total += 1
        state.last_assigned_seq = max(s.last_assigned_seq for s in self.owners.values()) + 1
        lead.owner_id, lead.team = owner_id, team
        self.add(
            Assignment,
            {
                "lead_id": lead.id,
                "owner_id": owner_id,
                "team": team,
                "via_fallback": owner_id == route.fallback,
                "skipped": [list(s) for s in skipped],
                "decision_id": record_id,
                "assigned_at": self.now,
            },
        )

    def queue_emails(self, claimed: Claimed, lead: LeadLike, decision: Decision) -> list[str]:
        if decision.status == "disqualified" or not decision.email:
            return []
        if not self.consented(lead, "email"):
            return []
        sheet = self.criteria.sheet
        payload = claimed.payload
        base = {
            "contact_name": payload.get("contact_name"),
            "organization_name": decision.organization_name,
            "offer_name": sheet.offer.name,
        }
        wanted: list[tuple[str, str, dict[str, Any]]] = []
        if claimed.channel == "form":
            owner = sheet.routing.by_id.get(lead.owner_id or "")
            context = {
                **base,
                "interest_type": decision.interest_type,
                "owner_name": owner.name if owner and lead.team == "sales" else None,
            }
            wanted.append(("confirmation", f"{lead.id}:confirmation", context))
        elif claimed.channel == "webinar":
            session_title = payload.get("webinar_session") or "our webinar"
            context = {
                **base,
                "session_title": session_title,
                "attended": parse_bool(payload.get("webinar_attended")) is True,
                "question": sheet.webinar.follow_up_question,
            }
            wanted.append(("webinar_followup", f"{lead.id}:webinar:{session_title[:80]}", context))
        # Form and webinar contacts already get an email tailored to what they did.
        if decision.status in NURTURE_STATUSES and not wanted:
            context = {
                **base,
                "specialty_label": SPECIALTY_LABELS.get(decision.specialty or ""),
                "resources": [],
            }
            wanted.append(("nurture", f"{lead.id}:nurture", context))
        queued = []
        for kind, key, context in wanted:
            if key in self.email_keys:
                continue
            self.email_keys.add(key)
            self.add(
                SentEmail,
                {
                    "idempotency_key": key,
                    "lead_id": lead.id,
                    "kind": kind,
                    "to_address": decision.email,
                    "template_context": context,
                    "created_at": self.now,
                },
            )
            queued.append(key)
        return queued

    def queue_handoff(
        self, payload: dict[str, Any], lead: LeadLike, record: dict[str, Any], record_id: str
    ) -> str | None:
        """Queue the CRM handoff of the lead's status once; returns its idempotency key."""
        if lead.status not in HANDOFF_STATUSES:
            return None
        key = f"{lead.id}:{lead.status}"
        if key in self.handoff_keys:
            return None
        self.handoff_keys.add(key)
        consent = {"email": self.consented(lead, "email"), "phone": self.consented(lead, "phone")}
        body = handoff_payload(payload, lead, record, record_id, self.criteria, consent)
        self.add(
            Handoff,
            {"idempotency_key": key, "lead_id": lead.id, "payload": body, "created_at": self.now},
        )
        return key


def handoff_payload(
    payload: dict[str, Any],
    lead: LeadLike,
    record: dict[str, Any],
    record_id: str,
    criteria: Criteria,
    consent: dict[str, bool],
) -> dict[str, Any]:
    """What the CRM receives (DESIGN §6), from the raw submission and the decision record.
    No free text when the submission was redacted."""
    owner = criteria.sheet.routing.by_id.get(lead.owner_id or "")
    stated = record.get("timeline_days") is not None
    return {
        "lead_id": lead.id,
        "status": lead.status,
        "source": lead.source,
        "campaign": lead.campaign,
        "channel": lead.channel,
        "organization": {
            "name": record.get("organization_name"),
            "domain": record.get("domain"),
            "type": record.get("org_type"),
            "state": record.get("state"),
            "country": record.get("country"),
        },
        "contact": {
            "name": payload.get("contact_name"),
            "role": record.get("role"),
            "influence": record.get("influence"),
            "email": record.get("email"),
            "phone": record.get("phone"),
        },
        "specialty": record.get("specialty"),
        "fit_score": lead.fit_score,
        "intent_score": lead.intent_score,
        "fit_band": lead.fit_band,
        "intent_band": lead.intent_band,
        "top_reasons": top_reasons(record.get("checks", [])),
        "timeline": record.get("timeframe") if stated else None,
        "no_timeline_reason": None if stated else lead.reason,
        "discovery_notes": None if lead.redacted else payload.get("message"),
        "discovery_questions": list(record.get("discovery_questions", [])),
        "current_vendor": payload.get("current_vendor"),
        "budget_range": payload.get("budget_range"),
        "owner": {"id": owner.id, "name": owner.name, "email": owner.email} if owner else None,
        "sla_due_at": lead.sla_due_at.isoformat() if lead.sla_due_at else None,
        "consent": consent,
        "criteria_version": record.get("criteria_version"),
        "decision_record": {"id": record_id, "show": f"medleads leads show {lead.id}"},
    }


def record_row(
    decision: Decision,
    lead_id: str,
    submission_id: str | None,
    stored: dict[str, Any],
    *,
    applied: bool,
    now: dt.datetime,
    decided_by: str = "rules",
) -> dict[str, Any]:
    """The immutable record of one evaluation of a lead, as a row."""
    return {
        "id": new_id(),
        "lead_id": lead_id,
        "submission_id": submission_id,
        "status": decision.status,
        "reason": decision.reason,
        "fit_score": decision.fit_score,
        "intent_score": decision.intent_score,
        "fit_band": decision.fit_band,
        "intent_band": decision.intent_band,
        "borderline": decision.borderline,
        "criteria_version": decision.criteria_version,
        "decided_by": decided_by,
        "applied": applied,
        "record": stored,
        "created_at": now,
    }


def new_record(
    decision: Decision,
    lead_id: str,
    submission_id: str | None,
    stored: dict[str, Any],
    *,
    applied: bool,
    now: dt.datetime,
    decided_by: str = "rules",
) -> DecisionRecord:
    """The same record as an ORM object, for paths that decide one lead at a time."""
    row = record_row(
        decision, lead_id, submission_id, stored, applied=applied, now=now, decided_by=decided_by
    )
    return DecisionRecord(**row)


def standing_record(
    lead: LeadLike,
    *,
    status: str,
    reason: str | None,
    decided_by: str,
    record: dict[str, Any],
    criteria_version: str,
    now: dt.datetime,
    submission_id: str | None = None,
) -> DecisionRecord:
    """A decision made about a lead as it stands (a reviewer, a CRM outcome): a new status and
    reason on the lead's current scores and bands, not a new evaluation."""
    return DecisionRecord(
        lead_id=lead.id,
        submission_id=submission_id,
        status=status,
        reason=reason,
        fit_score=lead.fit_score,
        intent_score=lead.intent_score,
        fit_band=lead.fit_band,
        intent_band=lead.intent_band,
        borderline=False,
        criteria_version=criteria_version,
        decided_by=decided_by,
        record=record,
        created_at=now,
    )


def take_decision(lead: LeadLike, decision: Decision, record_id: str, now: dt.datetime) -> None:
    """The lead takes the decision's status, scores and bands (routing is the caller's)."""
    lead.status, lead.reason = decision.status, decision.reason
    lead.fit_score, lead.intent_score = decision.fit_score, decision.intent_score
    lead.fit_band, lead.intent_band = decision.fit_band, decision.intent_band
    lead.borderline = decision.borderline
    lead.criteria_version = decision.criteria_version
    lead.last_decision_id = record_id
    lead.redacted = lead.redacted or decision.redacted
    lead.updated_at = now


def route_new_status(
    chunk: _Chunk,
    lead: LeadLike,
    route: RoutePlan,
    record: DecisionRecord,
    payload: dict[str, Any],
    clock: dt.datetime,
) -> str | None:
    """A lead that just took a new status: a fresh first-touch SLA, an owner, a CRM handoff.
    The rows it creates are queued on the chunk: the caller calls `chunk.write()`."""
    sla = getattr(chunk.criteria.sheet.slas, lead.status, None)
    lead.sla_due_at = clock + dt.timedelta(hours=sla) if sla else None
    lead.first_touch_at = None
    chunk.assign(lead, route, record.id)
    return chunk.queue_handoff(payload, lead, record.record, record.id)


def _apply_one(chunk: _Chunk, claimed: Claimed, decision: Decision, result: ApplyResult) -> str:
    lead = chunk.lead_for(decision)
    if lead is None:
        lead = chunk.create_lead(claimed, decision)
        result.new_leads += 1
        takes_over = True
    else:
        result.attached += 1
        rank = STATUS_RANK.get(decision.status, 5)
        takes_over = lead.status not in HELD_STATUSES and (
            rank > STATUS_RANK.get(lead.status, 0) or decision.status == "in_review"
        )
    chunk.record_consent(claimed, lead)
    stored = decision.to_dict()
    record = record_row(decision, lead.id, claimed.id, stored, applied=takes_over, now=chunk.now)
    chunk.add(DecisionRecord, record)
    record_id = record["id"]
    if takes_over:
        take_decision(lead, decision, record_id, chunk.now)
        lead.sla_due_at = (
            chunk.now + dt.timedelta(hours=decision.sla_hours) if decision.sla_hours else None
        )
        lead.recheck_at = (
            chunk.now + dt.timedelta(days=decision.recheck_days) if decision.recheck_days else None
        )
        chunk.assign(lead, decision.route, record_id)
        if decision.status == "in_review":
            result.review_lead_ids.append(lead.id)
        handoff = chunk.queue_handoff(claimed.payload, lead, stored, record_id)
        if handoff is not None:
            result.handoff_keys.append(handoff)
    result.email_keys.extend(chunk.queue_emails(claimed, lead, decision))
    result.lead_ids.append(lead.id)
    result.statuses[lead.status] += 1
    result.bands[f"fit {lead.fit_band} / intent {lead.intent_band}"] += 1
    result.rows.append(
        {
            "lead": lead.id[:12],
            "status": lead.status,
            "reason": lead.reason,
            "fit": f"{lead.fit_score} {lead.fit_band}",
            "intent": f"{lead.intent_score} {lead.intent_band}",
            "owner": lead.owner_id or "",
            "top reason": (top_reasons(stored["checks"], 1) or [""])[0],
        }
    )
    return lead.id


RAW: Any = RawSubmission.__table__  # type: ignore[attr-defined]
# Marks a chunk's submissions done: one executemany (the ORM's bulk update by primary key costs
# a Python pass per row).
DONE = (
    update(RAW)
    .where(RAW.c.id == bindparam("done_id"))
    .values(state="done", processed_at=bindparam("done_at"), lead_id=bindparam("done_lead"))
)


@task(name="apply-decisions", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=1)
def apply_decisions(
    claimed: list[Claimed],
    decisions: list[Decision],
    criteria: Criteria,
    claimer: str,
    url: str | None = None,
) -> ApplyResult:
    """Persist a chunk's decisions and mark its submissions done, all in one transaction."""
    result = ApplyResult()
    with session_scope(url) as session:
        # Apply only what this run still holds: a claim taken over after a lease expiry is skipped.
        query = select(RawSubmission.id).where(
            col(RawSubmission.id).in_([c.id for c in claimed]),
            col(RawSubmission.state) == "claimed",
            col(RawSubmission.claimed_by) == claimer,
        )
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update()
        held = set(session.execute(query).scalars())
        pairs = [(c, d) for c, d in zip(claimed, decisions, strict=True) if c.id in held]
        chunk = _Chunk(session, criteria, [c for c, _ in pairs], [d for _, d in pairs])
        done: list[dict[str, Any]] = []
        for item, decision in pairs:
            lead_id = _apply_one(chunk, item, decision, result)
            done.append({"done_id": item.id, "done_at": chunk.now, "done_lead": lead_id})
        # New leads are plain objects: they go in with the rest of the chunk's new rows.
        lead_columns = list(NEW_LEAD_COLUMNS)
        for lead in chunk.new_leads:
            chunk.add(Lead, {name: getattr(lead, name) for name in lead_columns})
        chunk.write()
        session.flush()
        if done:
            session.execute(DONE, done)
    return result
