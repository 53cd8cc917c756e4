"""Apply a chunk of decisions in one transaction: leads, consent, owners, emails, handoffs."""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from typing import Any, Protocol

from prefect import task
from prefect.cache_policies import NO_CACHE
from sqlalchemy import bindparam, text, update
from sqlalchemy import exc as sa_exc
from sqlalchemy import select as sa_select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlmodel import Session, SQLModel, col, or_, select

from models.bulk import among, bulk_insert, bulk_update, is_postgres
from models.db import session_scope
from models.settings import get_settings
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
from qualification.closed_sets import EmailKind
from qualification.criteria import Criteria
from qualification.decision import Decision, RoutePlan, top_reasons
from qualification.identity import match_account, match_person, registered_domain
from qualification.jsontext import EncodedJson
from qualification.lifecycle import (
    NEW_PERSON,
    Standing,
    Transition,
    after_submission,
    handoff_key,
)
from qualification.lifecycle import is_open as lead_is_open
from qualification.routing import pick_owner
from qualification.text import one_line
from qualification.vocab import SPECIALTY_LABELS

from .store import Claimed

log = logging.getLogger(__name__)
# Leads a run's summary table lists (the first ones applied).
SUMMARY_ROWS = 1000
# An account's other open leads listed in a handoff (the count says how many in all).
ACCOUNT_LEADS_SHOWN = 10
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
    organization_id: str
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
    # Submissions the database refused even alone: (submission id, why), marked `failed`.
    failed: list[tuple[str, str]] = field(default_factory=list)

    def merge(self, other: ApplyResult) -> None:
        self.lead_ids += other.lead_ids
        self.new_leads += other.new_leads
        self.attached += other.attached
        self.email_keys += other.email_keys
        self.handoff_keys += other.handoff_keys
        self.review_lead_ids += other.review_lead_ids
        self.rows += other.rows
        self.statuses.update(other.statuses)
        self.bands.update(other.bands)
        self.failed += other.failed


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
        self.lead_by_key: dict[str, str] = {}
        self.leads: dict[str, LeadLike] = {}
        # Every lead whose contact has a phone, by phone key: a shared phone is not one person.
        self.phone_holders: defaultdict[str, set[str]] = defaultdict(set)
        keys = {d.person_key for d in decisions if d.person_key}
        if keys:
            rows = session.execute(
                select(LeadKey).where(among(session, col(LeadKey.key), keys))
            ).scalars()
            self.lead_by_key = {r.key: r.lead_id for r in rows}
        phones = {d.phone for d in decisions if d.person_by_phone and d.phone}
        if phones:
            held = session.execute(
                select(Lead.id, Contact.phone)
                .join(Contact, col(Contact.id) == col(Lead.contact_id))
                .where(among(session, col(Contact.phone), phones))
            ).all()
            for lead_id, phone in held:
                self.phone_holders[f"phone:{phone}"].add(lead_id)
        lead_ids = set(self.lead_by_key.values()) | {
            i for holders in self.phone_holders.values() for i in holders
        }
        if lead_ids:
            leads = session.execute(
                select(Lead).where(among(session, col(Lead.id), lead_ids))
            ).scalars()
            self.leads = {lead.id: lead for lead in leads}
        self.account_by_key: dict[str, str] = {}
        self.accounts: dict[str, dict[str, Any]] = {}
        self.account_leads: defaultdict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
        self.accounts_with_leads: set[str] = set()  # accounts whose stored leads are loaded
        self.handoff_accounts: list[tuple[dict[str, Any], LeadLike]] = []
        self._load_accounts(decisions)
        self.consent: dict[tuple[str, str], bool] = {}
        self.email_keys: set[str] = set()
        self.new_leads: list[NewLead] = []
        self.handoff_keys: set[str] = set()
        self._load_lead_side(list(self.leads.values()))
        self.consent_seen: set[tuple[str, str]] = set(
            session.execute(
                select(ConsentEvent.submission_id, ConsentEvent.channel).where(
                    among(session, col(ConsentEvent.submission_id), [c.id for c in claimed])
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
        """Insert every queued row, one COPY (PostgreSQL) or executemany per table; foreign keys
        are deferred."""
        self._fill_accounts()
        for model in INSERT_ORDER:
            rows = self.inserts.pop(model, None)
            if rows:
                bulk_insert(self.session, model.__table__, rows)  # type: ignore[attr-defined]
        if self.inserts:
            raise RuntimeError(f"no insert order for {sorted(m.__name__ for m in self.inserts)}")

    def _load_accounts(self, decisions: list[Decision]) -> None:
        """Accounts known by the chunk's account keys (registered domain, name and state)."""
        domains: set[str] = set()
        names: set[str] = set()
        for d in decisions:
            for key in d.account_keys:
                kind, _, value = key.partition(":")
                (domains if kind == "domain" else names).add(value)
        if domains or names:
            found = self.session.execute(
                select(Organization.id, Organization.domain, Organization.name_key).where(
                    or_(
                        among(self.session, col(Organization.domain), domains),
                        among(self.session, col(Organization.name_key), names),
                    )
                )
            ).all()
            for org_id, domain, name_key in found:
                if domain in domains:
                    self.account_by_key[f"domain:{domain}"] = org_id
                if name_key in names:
                    self.account_by_key[f"name:{name_key}"] = org_id
        known = sorted(set(self.account_by_key.values()))
        if known:
            self._load_account_rows(known)

    def _load_lead_side(self, leads: list[LeadLike]) -> None:
        """Consent ledger, queued email keys and handoff keys of existing leads."""
        if not leads:
            return
        session = self.session
        contact_ids = {lead.contact_id for lead in leads}
        events = session.execute(
            select(ConsentEvent.contact_id, ConsentEvent.channel, ConsentEvent.granted)
            .where(among(session, col(ConsentEvent.contact_id), contact_ids))
            .order_by(col(ConsentEvent.occurred_at), col(ConsentEvent.id))
        ).all()
        self.consent.update({(c, ch): bool(g) for c, ch, g in events})
        lead_ids = [lead.id for lead in leads]
        self.email_keys |= set(
            session.execute(
                select(SentEmail.idempotency_key).where(
                    among(session, col(SentEmail.lead_id), lead_ids)
                )
            ).scalars()
        )
        self.handoff_keys |= set(
            session.execute(
                select(Handoff.idempotency_key).where(
                    among(session, col(Handoff.lead_id), lead_ids)
                )
            ).scalars()
        )

    def _owner_states(self) -> dict[str, OwnerState]:
        owners = sorted(self.criteria.sheet.routing.owners, key=lambda o: o.id)
        query = select(OwnerState).where(col(OwnerState.id).in_([o.id for o in owners]))
        if is_postgres(self.session):
            # Serialize round robin across concurrent runs: every owner's row exists (a run that
            # inserts one waits for another inserting it), then all are locked in one order, so
            # two runs never hold each other's rows (a deadlock) nor insert the same one twice.
            self.session.execute(
                pg_insert(OwnerState)
                .values(
                    [
                        {
                            "id": o.id,
                            "team": o.team,
                            "open_leads": 0,
                            "assigned_total": 0,
                            "last_assigned_seq": 0,
                        }
                        for o in owners
                    ]
                )
                .on_conflict_do_nothing(index_elements=["id"])
            )
            query = query.order_by(col(OwnerState.id)).with_for_update()
        states = {s.id: s for s in self.session.execute(query).scalars()}
        for owner in owners:
            if owner.id not in states:
                state = OwnerState(id=owner.id, team=owner.team)
                self.session.add(state)
                states[owner.id] = state
        return states

    def lead_for(self, decision: Decision) -> LeadLike | None:
        """The person this decision is about, if already known (DESIGN §4)."""
        lead_id = match_person(
            decision.person_key, decision.person_by_phone, self.lead_by_key, self.phone_holders
        )
        return self.leads[lead_id] if lead_id else None

    def account_for(self, decision: Decision) -> str:
        """The account (organization) of a new lead: matched by its keys, else created."""
        found = match_account(decision.account_keys, self.account_by_key, self._domain_of)
        if found is not None:
            return found
        org_id = new_id()
        name_key = next((k[5:] for k in decision.account_keys if k.startswith("name:")), None)
        self.add(
            Organization,
            {
                "id": org_id,
                "name": decision.organization_name,
                "domain": registered_domain(decision.domain),
                "name_key": name_key,
                "org_type": decision.org_type,
                "specialty": decision.specialty,
                "state": decision.state,
                "country": decision.country,
                "locations_count": decision.locations_count,
                "created_at": self.now,
            },
        )
        for key in decision.account_keys:
            self.account_by_key.setdefault(key, org_id)
        self.accounts_with_leads.add(org_id)  # new: no stored leads yet
        self.accounts[org_id] = _account(
            org_id,
            decision.organization_name,
            registered_domain(decision.domain),
            decision.state,
            decision.locations_count,
        )
        return org_id

    def _domain_of(self, org_id: str) -> str | None:
        account = self.accounts.get(org_id)
        return account["domain"] if account else None

    def create_lead(self, claimed: Claimed, decision: Decision) -> NewLead:
        org_id = self.account_for(decision)
        contact_id = new_id()
        self.add(
            Contact,
            {
                "id": contact_id,
                "organization_id": org_id,
                "name": decision.contact_name,
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
            source=decision.source,
            campaign=decision.campaign,
            created_at=self.now,
            updated_at=self.now,
        )
        self.leads[lead.id] = lead
        self.new_leads.append(lead)
        key = decision.person_key
        if key and key not in self.lead_by_key:
            self.add(LeadKey, {"key": key, "lead_id": lead.id})
            self.lead_by_key[key] = lead.id
        if decision.phone:
            self.phone_holders[f"phone:{decision.phone}"].add(lead.id)
        self.account_leads[org_id][lead.id] = _fact_of(lead)
        return lead

    def record_consent(self, claimed: Claimed, lead: LeadLike, decision: Decision) -> None:
        """The ledger records exactly the consent the core read, with its disclosure text."""
        for channel, granted in decision.consent_given:
            if (claimed.id, channel) in self.consent_seen:
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
                    form_version=decision.form_version,
                    disclosure_text=decision.consent_text,
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

    def queue_emails(
        self, lead: LeadLike, decision: Decision, kinds: tuple[EmailKind, ...]
    ) -> list[str]:
        """Queue the emails the lifecycle says, once each, only where the ledger grants email."""
        if not kinds or not decision.email or not self.consented(lead, "email"):
            return []
        sheet = self.criteria.sheet
        base: dict[str, Any] = {
            "contact_name": decision.contact_name,
            "organization_name": decision.organization_name,
            "offer_name": sheet.offer.name,
        }
        queued = []
        for kind in kinds:
            context: dict[str, Any]
            if kind == EmailKind.CONFIRMATION:
                owner = sheet.routing.by_id.get(lead.owner_id or "")
                key = f"{lead.id}:confirmation"
                context = {
                    **base,
                    "interest_type": decision.interest_type,
                    "owner_name": owner.name if owner and lead.team == "sales" else None,
                }
            elif kind == EmailKind.WEBINAR_FOLLOWUP:
                session_title = decision.webinar_session or "our webinar"
                key = f"{lead.id}:webinar:{session_title[:80]}"
                context = {
                    **base,
                    "session_title": session_title,
                    "attended": decision.webinar_attended,
                    "question": sheet.webinar.follow_up_question,
                }
            else:
                key = f"{lead.id}:nurture"
                context = {
                    **base,
                    "specialty_label": SPECIALTY_LABELS.get(decision.specialty or ""),
                    "resources": [],
                }
            if key in self.email_keys:
                continue
            self.email_keys.add(key)
            self.add(
                SentEmail,
                {
                    "idempotency_key": key,
                    "lead_id": lead.id,
                    "kind": str(kind),
                    "to_address": decision.email,
                    "template_context": context,
                    "created_at": self.now,
                },
            )
            queued.append(key)
        return queued

    def _fill_accounts(self) -> None:
        """Put the account into the handoffs queued in this transaction: the organization, its
        other open leads (as they stand now) and who owns them; one query for all accounts."""
        waiting, self.handoff_accounts = self.handoff_accounts, []
        if not waiting:
            return
        org_ids = {lead.organization_id for _, lead in waiting}
        with self.session.no_autoflush:
            if missing := sorted(org_ids - set(self.accounts)):
                self._load_account_rows(missing)
            if unread := sorted(org_ids - self.accounts_with_leads):
                self.accounts_with_leads |= set(unread)
                rows = self.session.execute(
                    sa_select(
                        col(Lead.organization_id),
                        col(Lead.id),
                        col(Lead.status),
                        col(Lead.reason),
                        col(Lead.owner_id),
                    ).where(among(self.session, col(Lead.organization_id), unread))
                ).all()
                for org_id, lead_id, status, reason, owner in rows:
                    self.account_leads[org_id].setdefault(
                        lead_id, _lead_fact(lead_id, status, reason, owner)
                    )
        for body, lead in waiting:
            org_id = lead.organization_id
            others = []
            for other_id, fact in self.account_leads[org_id].items():
                held = self.leads.get(other_id)  # as it stands in this transaction
                others.append(fact if held is None else _fact_of(held))
            body["account"] = _one_line_fields(account_view(self.accounts[org_id], others, lead.id))

    def _load_account_rows(self, org_ids: list[str]) -> None:
        """Stored accounts (their domains decide name matches), one query for many."""
        orgs = self.session.execute(
            sa_select(
                col(Organization.id),
                col(Organization.name),
                col(Organization.domain),
                col(Organization.state),
                col(Organization.locations_count),
            ).where(among(self.session, col(Organization.id), org_ids))
        ).all()
        for org_id, name, domain, state, locations in orgs:
            self.accounts[org_id] = _account(org_id, name, domain, state, locations)
        for org_id in org_ids:
            self.accounts.setdefault(org_id, _account(org_id, None, None, None, None))

    def queue_handoff(self, lead: LeadLike, record: dict[str, Any], record_id: str) -> str | None:
        """Queue the CRM handoff of the lead's status once; returns its idempotency key."""
        key = handoff_key(lead.id, lead.status)
        if key in self.handoff_keys:
            return None
        self.handoff_keys.add(key)
        consent = {"email": self.consented(lead, "email"), "phone": self.consented(lead, "phone")}
        body = handoff_payload(lead, record, record_id, self.criteria, consent)
        self.handoff_accounts.append((body, lead))  # filled in by `write()`
        self.add(
            Handoff,
            {"idempotency_key": key, "lead_id": lead.id, "payload": body, "created_at": self.now},
        )
        return key


def _fact_of(lead: LeadLike) -> dict[str, Any]:
    return _lead_fact(lead.id, lead.status, lead.reason, lead.owner_id)


def _lead_fact(lead_id: str, status: str, reason: str | None, owner: str | None) -> dict[str, Any]:
    return {
        "lead_id": lead_id,
        "status": status,
        "owner": owner,
        "open": lead_is_open(status, reason),
    }


def account_view(
    account: dict[str, Any], leads: Iterable[dict[str, Any]], lead_id: str
) -> dict[str, Any]:
    """An account as a lead's owner sees it: the organization, the other open leads on it (the
    first few listed) and who owns them."""
    open_others = [o for o in leads if o["open"] and o["lead_id"] != lead_id]
    return {
        **account,
        "other_open_leads": len(open_others),
        "other_leads": open_others[:ACCOUNT_LEADS_SHOWN],
        "owners": sorted({o["owner"] for o in open_others if o["owner"]}),
    }


def stored_account(session: Session, lead: Lead) -> dict[str, Any]:
    """`account_view` of a stored lead (for `medleads leads show`)."""
    org = session.get(Organization, lead.organization_id)
    account = _account(
        lead.organization_id,
        org.name if org else None,
        org.domain if org else None,
        org.state if org else None,
        org.locations_count if org else None,
    )
    rows = session.execute(
        select(Lead.id, Lead.status, Lead.reason, Lead.owner_id).where(
            col(Lead.organization_id) == lead.organization_id
        )
    ).all()
    return account_view(account, (_lead_fact(*row) for row in rows), lead.id)


def _account(
    org_id: str, name: str | None, domain: str | None, state: str | None, locations: int | None
) -> dict[str, Any]:
    return {"id": org_id, "name": name, "domain": domain, "state": state, "locations": locations}


def _one_line_fields(value: Any, key: str = "") -> Any:
    """Every text of a handoff on one line (a CRM field), but the person's own notes, which
    keep their line breaks (as LF)."""
    if isinstance(value, str):
        return value.replace("\r\n", "\n") if key == "discovery_notes" else one_line(value)
    if isinstance(value, dict):
        return {k: _one_line_fields(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_one_line_fields(v, key) for v in value]
    return value


def handoff_payload(
    lead: LeadLike,
    record: dict[str, Any],
    record_id: str,
    criteria: Criteria,
    consent: dict[str, bool],
) -> dict[str, Any]:
    """What the CRM receives (DESIGN §6), from the decision record alone (one road: the record
    holds what the core read from the canonical submission). No free text when redacted."""
    owner = criteria.sheet.routing.by_id.get(lead.owner_id or "")
    stated = record.get("timeline_days") is not None
    body = {
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
        "account": None,  # the account as it stands when the transaction writes
        "contact": {
            "name": record.get("contact_name"),
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
        "discovery_notes": None if lead.redacted else record.get("discovery_notes"),
        "discovery_questions": list(record.get("discovery_questions", [])),
        "current_vendor": record.get("current_vendor"),
        "budget_range": record.get("budget_range"),
        # Issue 12: the named path to the buying committee, the words that matched the offer's
        # scope and the nice-to-haves found (none of them when redacted).
        "decision_path": None if lead.redacted else record.get("decision_path"),
        "scope_match": None if lead.redacted else record.get("scope_match"),
        "nice_to_haves": [] if lead.redacted else list(record.get("nice_to_haves") or []),
        "owner": {"id": owner.id, "name": owner.name, "email": owner.email} if owner else None,
        "sla_due_at": lead.sla_due_at.isoformat() if lead.sla_due_at else None,
        "consent": consent,
        "criteria_version": record.get("criteria_version"),
        "decision_record": {"id": record_id, "show": f"medleads leads show {lead.id}"},
    }
    return dict(_one_line_fields(body))


def record_row(
    decision: Decision,
    lead_id: str,
    submission_id: str | None,
    stored: dict[str, Any] | EncodedJson,
    *,
    applied: bool,
    now: dt.datetime,
    decided_by: str = "rules",
) -> dict[str, Any]:
    """The immutable record of one evaluation of a lead, as a row (`stored` as data, or as the
    JSON text the bulk write stores as it is)."""
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
    clock: dt.datetime,
    transition: Transition,
) -> str | None:
    """A lead that just took a new status: a fresh first-touch SLA, an owner, a CRM handoff
    when the lifecycle says so. The rows it creates are queued on the chunk: the caller calls
    `chunk.write()`."""
    sla = getattr(chunk.criteria.sheet.slas, lead.status, None)
    lead.sla_due_at = clock + dt.timedelta(hours=sla) if sla else None
    lead.first_touch_at = None
    chunk.assign(lead, route, record.id)
    if not transition.hand_off:
        return None
    return chunk.queue_handoff(lead, record.record, record.id)


def _apply_one(
    chunk: _Chunk, claimed: Claimed, decision: Decision, result: ApplyResult, rows_wanted: int
) -> str:
    lead = chunk.lead_for(decision)
    standing = NEW_PERSON if lead is None else Standing(lead.status, lead.reason)
    transition = after_submission(standing, decision.status, decision.reason, claimed.channel)
    if lead is None:
        lead = chunk.create_lead(claimed, decision)
        result.new_leads += 1
    else:
        result.attached += 1
    chunk.record_consent(claimed, lead, decision)
    record = record_row(
        decision,
        lead.id,
        claimed.id,
        decision.record_json(),
        applied=transition.takes_over,
        now=chunk.now,
    )
    chunk.add(DecisionRecord, record)
    record_id = record["id"]
    if transition.takes_over:
        take_decision(lead, decision, record_id, chunk.now)
        lead.sla_due_at = (
            chunk.now + dt.timedelta(hours=decision.sla_hours) if decision.sla_hours else None
        )
        lead.recheck_at = (
            chunk.now + dt.timedelta(days=decision.recheck_days) if decision.recheck_days else None
        )
        chunk.assign(lead, decision.route, record_id)
        if transition.open_review:
            result.review_lead_ids.append(lead.id)
        if transition.hand_off:
            handoff = chunk.queue_handoff(lead, decision.to_dict(), record_id)
            if handoff is not None:
                result.handoff_keys.append(handoff)
    result.email_keys.extend(chunk.queue_emails(lead, decision, transition.emails))
    result.lead_ids.append(lead.id)
    result.statuses[lead.status] += 1
    result.bands[f"fit {lead.fit_band} / intent {lead.intent_band}"] += 1
    if len(result.rows) < rows_wanted:
        result.rows.append(
            {
                "lead": lead.id[:12],
                "organization": one_line(decision.organization_name or ""),
                "status": lead.status,
                "reason": lead.reason,
                "fit": f"{lead.fit_score} {lead.fit_band}",
                "intent": f"{lead.intent_score} {lead.intent_band}",
                "owner": lead.owner_id or "",
                "top reasons": "; ".join(decision.top_reasons()),
            }
        )
    return lead.id


RAW: Any = RawSubmission.__table__  # type: ignore[attr-defined]
# The database or the connection is away: the whole chunk waits for the task's retry (or the
# claim's lease). Anything else a database refuses is about a row, and is isolated.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.TimeoutError,
    sa_exc.DisconnectionError,
    ConnectionError,
)


def failure_reason(error: BaseException) -> str:
    """Why the database refused a row, without the row's values (SQLAlchemy quotes them)."""
    cause = error.orig if isinstance(error, sa_exc.DBAPIError) else error
    first = (str(cause).strip().splitlines() or [""])[0]
    return f"{type(cause).__name__}: {first}"[:300]


FAILED = (
    update(RAW)
    .where(
        RAW.c.id == bindparam("failed_id"),
        RAW.c.state == "claimed",
        RAW.c.claimed_by == bindparam("failed_by"),
    )
    .values(
        state="failed",
        error=bindparam("failed_why"),
        processed_at=bindparam("failed_at"),
        attempts=RAW.c.attempts + 1,
        next_attempt_at=bindparam("failed_retry_at"),
    )
)


def next_attempt(attempts_before: int, now: dt.datetime) -> dt.datetime | None:
    """When a submission refused for the (attempts_before + 1)th time is claimable again:
    after the setting's delay, doubled each time; never after the last attempt."""
    settings = get_settings()
    if attempts_before + 1 >= settings.submission_max_attempts:
        return None
    return now + dt.timedelta(seconds=settings.submission_retry_seconds * 2**attempts_before)


@task(name="apply-decisions", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=1)
def apply_decisions(
    claimed: list[Claimed],
    decisions: list[Decision],
    criteria: Criteria,
    claimer: str,
    url: str | None = None,
    rows_wanted: int = SUMMARY_ROWS,
) -> ApplyResult:
    """Persist a chunk's decisions and mark its submissions done, in one transaction. A row the
    database refuses (a value it cannot store) never holds back the others: the chunk is split
    in halves until that row is alone, and it is marked `failed` with why (DESIGN §4). The
    result lists the first `rows_wanted` leads for the run's summary table."""
    result = ApplyResult()
    pairs = list(zip(claimed, decisions, strict=True))
    _apply_isolating(pairs, criteria, claimer, url, result, rows_wanted)
    return result


def _apply_isolating(
    pairs: list[tuple[Claimed, Decision]],
    criteria: Criteria,
    claimer: str,
    url: str | None,
    result: ApplyResult,
    rows_wanted: int,
) -> None:
    try:
        wanted = max(0, rows_wanted - len(result.rows))
        result.merge(_apply_transaction(pairs, criteria, claimer, url, wanted))
    except TRANSIENT_ERRORS:
        raise
    except Exception as error:
        if len(pairs) > 1:
            middle = len(pairs) // 2
            _apply_isolating(pairs[:middle], criteria, claimer, url, result, rows_wanted)
            _apply_isolating(pairs[middle:], criteria, claimer, url, result, rows_wanted)
            return
        why = failure_reason(error)
        submission_id = pairs[0][0].id
        log.warning("submission %s not applied, marked failed: %s", submission_id, why)
        with session_scope(url) as session:
            before = session.execute(
                sa_select(RAW.c.attempts).where(RAW.c.id == submission_id)
            ).scalar_one_or_none()
            now = utcnow()
            session.execute(
                FAILED,
                {
                    "failed_id": submission_id,
                    "failed_by": claimer,
                    "failed_why": why,
                    "failed_at": now,
                    "failed_retry_at": next_attempt(before or 0, now),
                },
            )
        result.failed.append((submission_id, why))


def _apply_transaction(
    pairs: list[tuple[Claimed, Decision]],
    criteria: Criteria,
    claimer: str,
    url: str | None,
    rows_wanted: int,
) -> ApplyResult:
    result = ApplyResult()
    with session_scope(url) as session:
        postgres = is_postgres(session)
        if postgres:
            # The chunk commits without waiting for its log to reach the disk (~0.5 s a chunk
            # of 5,000 here). Safe: nothing of it leaves the database before a later transaction
            # commits normally, which flushes the log up to itself, this chunk included (the
            # claim of an email or a handoff before it is sent, a review's row before its run).
            # A server crash in between loses only decisions nobody has seen: their submissions,
            # stored durably, are claimed and decided again. SQLite (synchronous=NORMAL) gives
            # every transaction less than that.
            session.execute(text("SET LOCAL synchronous_commit = off"))
        # Apply only what this run still holds: a claim taken over after a lease expiry is skipped.
        query = select(RawSubmission.id).where(
            among(session, col(RawSubmission.id), [c.id for c, _ in pairs]),
            col(RawSubmission.state) == "claimed",
            col(RawSubmission.claimed_by) == claimer,
        )
        if postgres:
            query = query.with_for_update()
        held = set(session.execute(query).scalars())
        pairs = [(c, d) for c, d in pairs if c.id in held]
        chunk = _Chunk(session, criteria, [c for c, _ in pairs], [d for _, d in pairs])
        done: list[dict[str, Any]] = []
        for item, decision in pairs:
            lead_id = _apply_one(chunk, item, decision, result, rows_wanted)
            done.append({"id": item.id, "lead_id": lead_id})
        # New leads are plain objects: they go in with the rest of the chunk's new rows.
        lead_columns = list(NEW_LEAD_COLUMNS)
        for lead in chunk.new_leads:
            chunk.add(Lead, {name: getattr(lead, name) for name in lead_columns})
        chunk.write()
        session.flush()
        # The chunk's submissions done: one statement on PostgreSQL (the ORM's bulk update by
        # primary key costs a Python pass per row).
        bulk_update(session, RAW, "id", done, {"state": "done", "processed_at": chunk.now})
    return result
