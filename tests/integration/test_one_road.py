"""One road (DESIGN §4): what apply writes (contact, consent ledger, emails, handoffs, accounts)
comes from the canonical submission and the decision, never from raw payload keys."""

from __future__ import annotations

import datetime as dt
import email
import json
import uuid
from email import policy
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import col, func, select

from adapters.submissions import store_submissions
from models.db import session_scope
from models.tables import ConsentEvent, Contact, Handoff, Lead, Organization, SentEmail
from qualification.criteria import load_criteria
from qualification.decision import Decision
from qualification.evaluate import evaluate
from qualification.submission import submission_from_mapping
from tasks.apply import apply_decisions
from tasks.deliver import deliver_pending_handoffs, send_pending_emails
from tasks.store import Claimed, claim_pending, ingest_file
from tests.integration.test_evaluate_ahead import refuse
from tests.paths import DEFAULT_SHEET

CRITERIA = load_criteria(DEFAULT_SHEET)
TODAY = dt.date(2026, 11, 27)
DISCLOSURE = "I agree to receive emails about ClearIntake. Unsubscribe any time."
FORM: dict[str, Any] = {
    "organization": "Hudson Valley Cardiology Associates",
    "website": "https://www.hvcardiology.example.com",
    "org_type": "group practice",
    "locations_count": "4",
    "state": "NY",
    "job_title": "Practice Administrator",
    "email": "malvarez@hvcardiology.example.com",
    "phone": "(845) 555-0142",
    "specialty": "cardiology",
    "interest_type": "demo",
    # SQL needs the request to name the offer's scope (guide §4 "confirmed interest in the exact
    # service scope"; DESIGN §3 need): a demo request alone now goes to a person.
    "message": "Our front desk still hands out paper intake forms.",
    "timeframe": "within 60 days",
    "consent_phone": "yes",
    "page_visits_high_intent": "5",
    "content_downloads": "1",
    "utm_source": "google",
    "utm_campaign": "q4-cardiology",
}


def process(url: str, channel: str = "form") -> tuple[list[Claimed], list[Decision]]:
    chunk: list[Claimed] = claim_pending.fn(channel, 500, "run-1", url=url)
    decisions = [evaluate(c.submission(), CRITERIA, today=TODAY) for c in chunk]
    apply_decisions.fn(chunk, decisions, CRITERIA, "run-1", url=url)
    return chunk, decisions


def post(url: str, *payloads: dict[str, Any]) -> None:
    store_submissions([(submission_from_mapping(p), p) for p in payloads], "test", url=url)


def handoffs(data: Path) -> list[dict[str, Any]]:
    path = data / "handoffs.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def outbox(data: Path) -> list[email.message.EmailMessage]:
    return [
        email.message_from_bytes(p.read_bytes(), policy=policy.default)  # type: ignore[misc]
        for p in sorted((data / "outbox").glob("*.eml"))
    ]


def test_first_and_last_name_columns_reach_the_email_and_the_handoff(
    settings_env: Path, db_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "forms.csv"
    path.write_text(
        "First Name,Last Name,Company,Website,State,Job Title,Email,Phone,Specialty,"
        "Interest,Timeline,Email Opt In,Phone Opt In,Page Visits High Intent,"
        "Organization Type,Locations,Content Downloads,Comments\n"
        "Maria,Alvarez,Hudson Valley Cardiology Associates,hvcardiology.example.com,NY,"
        "Practice Administrator,malvarez@hvcardiology.example.com,(845) 555-0142,cardiology,"
        "demo,within 60 days,yes,yes,5,group practice,4,1,We want digital intake forms.\n"
    )
    assert ingest_file.fn(str(path), "form", url=db_url).stored == 1
    _, [decision] = process(db_url)
    assert decision.status == "sql" and decision.contact_name == "Maria Alvarez"
    send_pending_emails.fn(url=db_url)
    deliver_pending_handoffs.fn(url=db_url)

    [message] = outbox(settings_env)
    assert "Maria Alvarez" in message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    [handoff] = handoffs(settings_env)
    assert handoff["contact"]["name"] == "Maria Alvarez"
    with session_scope(db_url) as session:
        assert session.exec(select(Contact.name)).one() == "Maria Alvarez"


def test_a_form_name_field_names_the_contact(settings_env: Path, db_url: str) -> None:
    post(db_url, {**FORM, "name": "Maria Alvarez", "email_opt_in": "yes"})
    process(db_url)
    deliver_pending_handoffs.fn(url=db_url)
    assert handoffs(settings_env)[0]["contact"]["name"] == "Maria Alvarez"


def test_email_opt_in_yes_is_recorded_confirmed_and_handed_off_as_consent(
    settings_env: Path, db_url: str
) -> None:
    post(
        db_url,
        {
            **FORM,
            "name": "Maria Alvarez",
            "email_opt_in": "yes",
            "consent_language": DISCLOSURE,
            "form_version": "demo-v3",
        },
    )
    _, [decision] = process(db_url)
    assert decision.consent_email is True
    with session_scope(db_url) as session:
        ledger = session.exec(select(ConsentEvent).order_by(col(ConsentEvent.channel))).all()
        queued = session.exec(select(SentEmail.kind)).all()
    assert [(e.channel, e.granted) for e in ledger] == [("email", True), ("phone", True)]
    assert {e.disclosure_text for e in ledger} == {DISCLOSURE}
    assert {e.form_version for e in ledger} == {"demo-v3"}
    assert queued == ["confirmation"]
    deliver_pending_handoffs.fn(url=db_url)
    [handoff] = handoffs(settings_env)
    assert handoff["consent"] == {"email": True, "phone": True}
    assert (handoff["source"], handoff["campaign"]) == ("google", "q4-cardiology")


def test_a_declined_opt_in_is_a_withdrawal_in_the_ledger_and_sends_nothing(
    settings_env: Path, db_url: str
) -> None:
    post(db_url, {**FORM, "email_opt_in": "no"})
    process(db_url)
    with session_scope(db_url) as session:
        ledger = {e.channel: e.granted for e in session.exec(select(ConsentEvent)).all()}
        queued = session.exec(select(func.count()).select_from(SentEmail)).one()
    assert ledger == {"email": False, "phone": True}
    assert queued == 0


def test_two_people_sharing_a_switchboard_are_two_leads_on_one_account(
    settings_env: Path, db_url: str
) -> None:
    switchboard = "(312) 555-0100"
    post(
        db_url,
        {
            **FORM,
            "name": "Ann Lee",
            "email": "ann.lee@stjoes.org",
            "phone": switchboard,
            "organization": "St. Joseph Hospital",
            "website": "www.stjoes.org",
            "state": "NY",
        },
        {
            **FORM,
            "name": "Bob Ray",
            "email": "bob.ray@mail.stjoes.org",
            "phone": switchboard,
            "organization": "St Joseph Hospital",
            "website": None,
            "state": "NY",
        },
    )
    process(db_url)
    post(
        db_url,
        {
            **FORM,
            "name": "Carla Diaz",
            "email": "cdiaz@stjoes.org",
            "phone": switchboard,
            "organization": "Saint Joseph Hospital Inc.",
            "website": None,
            "state": "NY",
        },
    )
    process(db_url)
    with session_scope(db_url) as session:
        leads = session.exec(select(Lead)).all()
        orgs = session.exec(select(Organization)).all()
        names = set(session.exec(select(Contact.name)).all())
    assert len(leads) == 3 and names == {"Ann Lee", "Bob Ray", "Carla Diaz"}
    assert len(orgs) == 1 and orgs[0].domain == "stjoes.org"
    deliver_pending_handoffs.fn(url=db_url)
    last = handoffs(settings_env)[-1]
    assert last["contact"]["name"] == "Carla Diaz"
    assert last["account"]["other_open_leads"] == 2
    assert last["account"]["domain"] == "stjoes.org"


def test_a_phone_alone_attaches_to_the_one_person_who_holds_it(
    settings_env: Path, db_url: str
) -> None:
    post(db_url, {**FORM, "name": "Ann Lee", "email": "ann.lee@stjoes.org"})
    process(db_url)
    post(db_url, {**FORM, "name": "Ann Lee", "email": None, "message": "Calling back."})
    process(db_url)
    with session_scope(db_url) as session:
        assert session.exec(select(func.count()).select_from(Lead)).one() == 1


NAMES = st.text(alphabet="abcdefghij", min_size=1, max_size=8).map(str.capitalize)
CONSENT_KEYS = st.sampled_from(["consent_email", "email_opt_in", "Email Opt-In", "gdpr_consent"])
ANSWERS = st.sampled_from(["yes", "no", "true", "0", "Y", None])


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    first=NAMES,
    last=NAMES,
    split=st.booleans(),
    consent_key=CONSENT_KEYS,
    email_answer=ANSWERS,
    phone_answer=ANSWERS,
    interest=st.sampled_from(["demo", "pricing", "content", None]),
)
def test_what_apply_writes_is_what_the_decision_says(
    settings_env: Path,
    db_url: str,
    first: str,
    last: str,
    split: bool,
    consent_key: str,
    email_answer: str | None,
    phone_answer: str | None,
    interest: str | None,
) -> None:
    names = {"First Name": first, "Last Name": last} if split else {"Full Name": f"{first} {last}"}
    payload = {
        **FORM,
        **names,
        consent_key: email_answer,
        "consent_phone": phone_answer,
        "interest_type": interest,
        # The database lives across examples: every example is a person not seen before.
        "email": f"p{uuid.uuid4().hex[:12]}@hvcardiology.example.com",
        "submission_id": uuid.uuid4().hex,
    }
    post(db_url, payload)
    [claimed], [decision] = process(db_url)
    with session_scope(db_url) as session:
        lead = session.exec(
            select(Lead)
            .join(Contact, col(Contact.id) == col(Lead.contact_id))
            .where(col(Contact.email) == decision.email)
        ).one()
        contact = session.get(Contact, lead.contact_id)
        ledger = session.exec(
            select(ConsentEvent.channel, ConsentEvent.granted)
            .where(col(ConsentEvent.submission_id) == claimed.id)
            .order_by(col(ConsentEvent.channel))
        ).all()
        handoff = session.exec(select(Handoff).where(col(Handoff.lead_id) == lead.id)).first()
    assert contact is not None and contact.name == decision.contact_name == f"{first} {last}"
    assert sorted(ledger) == sorted(decision.consent_given)
    assert (lead.source, lead.campaign) == (decision.source, decision.campaign)
    if handoff is not None:
        body = handoff.payload
        assert body["contact"]["name"] == decision.contact_name
        assert body["consent"]["email"] is decision.consent_email
        assert body["consent"]["phone"] is decision.consent_phone
        assert (body["source"], body["campaign"]) == (decision.source, decision.campaign)


def test_the_handoff_holds_one_line_fields_and_the_notes_keep_their_lines(
    settings_env: Path, db_url: str
) -> None:
    post(
        db_url,
        {
            **FORM,
            "name": "Maria\r\nAlvarez",
            "organization": "Hudson Valley\tCardiology",
            "message": "First line: paper intake forms.\r\nSecond line.",
        },
    )
    process(db_url)
    deliver_pending_handoffs.fn(url=db_url)
    [handoff] = handoffs(settings_env)
    assert handoff["contact"]["name"] == "Maria Alvarez"
    assert (
        handoff["organization"]["name"]
        == handoff["account"]["name"]
        == ("Hudson Valley Cardiology")
    )
    assert handoff["discovery_notes"] == "First line: paper intake forms.\nSecond line."


def test_a_record_encoded_by_the_evaluation_worker_is_stored_as_the_decision_itself(
    settings_env: Path, db_url: str
) -> None:
    """The worker encodes each decision record (JSON text) and apply stores that text: read
    back, it is the decision's own `to_dict()`, the same as when the flow encodes it, on both
    databases; the handoff body still comes from the record."""
    from models.tables import DecisionRecord
    from tasks.evaluation import AheadEvaluator

    post(
        db_url,
        {**FORM, "name": "Maria Alvarez", "email_opt_in": "yes"},
        {**FORM, "email": "jkim@lakeshoreortho.example.com", "organization": "Lakeshore Ortho"},
    )
    chunk: list[Claimed] = claim_pending.fn("form", 500, "run-1", url=db_url)
    with AheadEvaluator(CRITERIA, min_rows=1) as evaluator:
        evaluator.enabled = True
        ahead = evaluator.submit(chunk)
        assert ahead is not None
        ahead.done.result(timeout=30)  # every piece evaluated in the worker
        decisions = ahead.collect(refuse)
    assert all(d.encoded is not None for d in decisions)  # encoded in the worker process
    apply_decisions.fn(chunk, decisions, CRITERIA, "run-1", url=db_url)
    deliver_pending_handoffs.fn(url=db_url)
    with session_scope(db_url) as session:
        stored = {r.submission_id: r.record for r in session.exec(select(DecisionRecord))}
    for claimed, decision in zip(chunk, decisions, strict=True):
        assert stored[claimed.id] == json.loads(json.dumps(decision.to_dict()))
    sent = {h["contact"]["email"]: h for h in handoffs(settings_env)}
    assert sent["malvarez@hvcardiology.example.com"]["contact"]["name"] == "Maria Alvarez"
