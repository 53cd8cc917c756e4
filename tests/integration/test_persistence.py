"""Storing, claiming and applying decisions against a real SQLite file and the real PostgreSQL."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import text
from sqlmodel import col, func, select

from adapters.submissions import store_submissions
from models.bulk import bulk_update
from models.db import session_scope
from models.tables import (
    Assignment,
    ConsentEvent,
    DecisionRecord,
    Handoff,
    Lead,
    RawSubmission,
    SentEmail,
)
from qualification.criteria import load_criteria
from qualification.evaluate import evaluate
from qualification.submission import Submission, submission_from_mapping
from tasks.apply import apply_decisions
from tasks.store import Claimed, claim_pending
from tests.paths import DEFAULT_SHEET

CRITERIA = load_criteria(DEFAULT_SHEET)
TODAY = dt.date(2026, 11, 27)
SQL_FORM: dict[str, Any] = {
    "channel": "form",
    "organization_name": "Hudson Valley Cardiology Associates",
    "website": "hvcardiology.example.com",
    "org_type": "group practice",
    "locations_count": "4",
    "state": "NY",
    "contact_name": "Maria Alvarez",
    "contact_role": "Practice Administrator",
    "email": "malvarez@hvcardiology.example.com",
    "phone": "(845) 555-0142",
    "specialty": "cardiology",
    "interest_type": "demo",
    "timeframe": "within 60 days",
    "consent_email": "yes",
    "consent_phone": "yes",
    "page_visits_high_intent": "5",
    "content_downloads": "1",
    "message": "Paper intake is slowing us down.",
}


def form(**changes: Any) -> dict[str, Any]:
    return {**SQL_FORM, **changes}


def store(url: str, *payloads: dict[str, Any]) -> list[str]:
    subs = [(submission_from_mapping(p), p) for p in payloads]
    return store_submissions(subs, source="test", url=url)[1]


def process(url: str, claimer: str = "run-1", size: int = 100) -> Any:
    chunk: list[Claimed] = claim_pending.fn("form", size, claimer, url=url)
    decisions = [evaluate(c.submission(), CRITERIA, today=TODAY) for c in chunk]
    return apply_decisions.fn(chunk, decisions, CRITERIA, claimer, url=url)


def count(url: str, model: Any, *where: Any) -> int:
    with session_scope(url) as session:
        return int(session.exec(select(func.count()).select_from(model).where(*where)).one())


def test_storing_the_same_submission_twice_keeps_one_row(db_url: str) -> None:
    payload = form(submission_id="abc-1")
    store(db_url, payload)
    store(db_url, payload)
    assert count(db_url, RawSubmission) == 1


def test_two_claimers_never_get_the_same_submission(db_url: str) -> None:
    store(db_url, *[form(submission_id=f"s-{i}", email=f"p{i}@x.example.com") for i in range(200)])
    got: dict[str, list[str]] = {}

    def claim(name: str) -> None:
        ids: list[str] = []
        while chunk := claim_pending.fn("form", 7, name, url=db_url):
            ids += [c.id for c in chunk]
            with session_scope(db_url) as session:
                for c in chunk:
                    row = session.get(RawSubmission, c.id)
                    assert row is not None
                    row.state = "done"
        got[name] = ids

    threads = [threading.Thread(target=claim, args=(f"run-{n}",)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    everything = [i for ids in got.values() for i in ids]
    assert len(everything) == len(set(everything)) == 200


def test_a_claim_held_by_a_crashed_run_is_taken_over_after_the_lease(db_url: str) -> None:
    store(db_url, form(submission_id="s-1"))
    assert [c.id for c in claim_pending.fn("form", 10, "crashed", url=db_url)] == ["s-1"]
    assert claim_pending.fn("form", 10, "other", lease_minutes=30, url=db_url) == []
    assert [c.id for c in claim_pending.fn("form", 10, "crashed", url=db_url)] == ["s-1"]
    assert [c.id for c in claim_pending.fn("form", 10, "other", lease_minutes=0, url=db_url)] == [
        "s-1"
    ]


def test_an_sql_form_becomes_a_lead_with_owner_consent_decision_email_and_handoff(
    db_url: str,
) -> None:
    store(db_url, form(submission_id="s-1"))
    result = process(db_url)
    assert result.new_leads == 1 and result.statuses == Counter({"sql": 1})
    with session_scope(db_url) as session:
        lead = session.exec(select(Lead)).one()
        assert (lead.status, lead.owner_id, lead.team) == ("sql", "ava-patel", "sales")
        assert lead.sla_due_at is not None
        assert dt.timedelta(hours=3.9) < lead.sla_due_at - lead.created_at < dt.timedelta(hours=4.1)
        record = session.exec(select(DecisionRecord)).one()
        assert record.record["status"] == "sql"
        assert "Status sql: every SQL condition is met." in record.record["explanations"]
        consent = session.exec(select(ConsentEvent).order_by(col(ConsentEvent.channel))).all()
        assert [(c.channel, c.granted) for c in consent] == [("email", True), ("phone", True)]
        email = session.exec(select(SentEmail)).one()
        assert (email.kind, email.state, email.to_address) == (
            "confirmation",
            "pending",
            "malvarez@hvcardiology.example.com",
        )
        handoff = session.exec(select(Handoff)).one()
        assert handoff.payload["owner"]["id"] == "ava-patel"
        assert handoff.payload["fit_score"] == 97
        assert handoff.payload["consent"] == {"email": True, "phone": True}
        raw = session.get(RawSubmission, "s-1")
        assert raw is not None and (raw.state, raw.lead_id) == ("done", lead.id)


def test_a_repeat_submission_attaches_to_the_existing_lead_without_a_second_email(
    db_url: str,
) -> None:
    store(db_url, form(submission_id="first"), form(submission_id="double-click"))
    result = process(db_url)
    assert (result.new_leads, result.attached) == (1, 1)
    assert count(db_url, Lead) == 1
    assert count(db_url, DecisionRecord) == 2
    assert count(db_url, SentEmail) == 1
    assert count(db_url, Handoff) == 1


def test_the_same_person_in_a_later_chunk_attaches_by_phone(db_url: str) -> None:
    store(db_url, form(submission_id="a"))
    process(db_url)
    store(db_url, form(submission_id="b", email=None, website=None))
    result = process(db_url, claimer="run-2")
    assert result.attached == 1
    assert count(db_url, Lead) == 1


def test_round_robin_shares_leads_evenly_between_eligible_owners(db_url: str) -> None:
    people = [
        form(submission_id=f"s-{i}", email=f"person{i}@clinic{i}.example.com", phone=None)
        for i in range(10)
    ]
    store(db_url, *people[:5])
    process(db_url, size=5)
    store(db_url, *people[5:])
    process(db_url, claimer="run-2", size=5)
    with session_scope(db_url) as session:
        owners = Counter(a.owner_id for a in session.exec(select(Assignment)))
    assert owners == Counter({"ava-patel": 5, "ben-okafor": 5})


def test_with_every_owner_unavailable_the_fallback_takes_the_lead_and_the_skip_is_recorded(
    db_url: str,
) -> None:
    store(db_url, form(submission_id="md", state="MD"))
    process(db_url)
    with session_scope(db_url) as session:
        assignment = session.exec(select(Assignment)).one()
    assert (assignment.owner_id, assignment.via_fallback) == ("sales-desk", True)
    assert assignment.skipped == [["dev-shah", "on leave until 2027-01-04"]]


def test_outbound_rows_without_consent_queue_no_email(db_url: str) -> None:
    row = form(submission_id="o-1", channel="outbound", consent_email=None, consent_phone=None)
    subs = [(submission_from_mapping(row), row)]
    store_submissions(subs, url=db_url)
    chunk = claim_pending.fn("outbound", 10, "run-1", url=db_url)
    decisions = [evaluate(c.submission(), CRITERIA, today=TODAY) for c in chunk]
    apply_decisions.fn(chunk, decisions, CRITERIA, "run-1", url=db_url)
    assert count(db_url, SentEmail) == 0
    assert count(db_url, ConsentEvent) == 0
    assert count(db_url, Lead) == 1


def test_a_later_withdrawal_in_the_ledger_wins(db_url: str) -> None:
    store(db_url, form(submission_id="yes", interest_type="general", timeframe=None))
    process(db_url)
    store(db_url, form(submission_id="no", consent_email="no"))
    process(db_url, claimer="run-2")
    with session_scope(db_url) as session:
        events = session.exec(select(ConsentEvent).where(col(ConsentEvent.channel) == "email"))
        assert sorted(e.granted for e in events) == [False, True]


def test_a_decision_applied_twice_for_a_lost_claim_is_skipped(db_url: str) -> None:
    store(db_url, form(submission_id="s-1"))
    chunk = claim_pending.fn("form", 10, "slow-run", url=db_url)
    claim_pending.fn("form", 10, "fast-run", lease_minutes=0, url=db_url)
    decisions = [evaluate(c.submission(), CRITERIA, today=TODAY) for c in chunk]
    result = apply_decisions.fn(chunk, decisions, CRITERIA, "slow-run", url=db_url)
    assert result.lead_ids == []
    assert count(db_url, Lead) == 0


def test_submission_dataclass_round_trips_through_the_stored_payload(db_url: str) -> None:
    store(db_url, form(submission_id="rt"))
    (claimed,) = claim_pending.fn("form", 1, "run", url=db_url)
    sub: Submission = claimed.submission()
    expected = submission_from_mapping(form(submission_id="rt"))
    assert dataclasses.replace(sub, row=None) == dataclasses.replace(expected, row=None)


def test_a_chunk_claimed_ahead_is_not_the_chunk_in_hand(db_url: str) -> None:
    store(db_url, *(form(submission_id=f"s-{n}", email=f"a{n}@x.example.com") for n in range(5)))
    first = claim_pending.fn("form", 2, "run", url=db_url)
    ahead = claim_pending.fn("form", 2, "run", url=db_url, holding=frozenset(c.id for c in first))
    rest = claim_pending.fn(
        "form", 2, "run", url=db_url, holding=frozenset(c.id for c in [*first, *ahead])
    )
    ids = [c.id for c in [*first, *ahead, *rest]]
    assert len(first) == len(ahead) == 2 and len(rest) == 1
    assert sorted(ids) == [f"s-{n}" for n in range(5)]
    # A retried run (same claimer, nothing in hand) gets its claimed rows back, as before.
    assert len(claim_pending.fn("form", 10, "run", url=db_url)) == 5


def test_new_leads_written_in_bulk_carry_every_lead_column(db_url: str) -> None:
    from tasks.apply import NEW_LEAD_COLUMNS

    assert set(NEW_LEAD_COLUMNS) == set(Lead.__table__.columns.keys())  # type: ignore[attr-defined]
    store(db_url, form(submission_id="s-1"))
    process(db_url)
    with session_scope(db_url) as session:
        lead = session.exec(select(Lead)).one()
        record = session.exec(select(DecisionRecord)).one()
        assert lead.last_decision_id == record.id and lead.criteria_version == CRITERIA.version
        assert lead.updated_at == lead.created_at and lead.first_touch_at is None


def test_a_chunk_commits_without_waiting_for_the_log_flush_and_no_other_transaction_does(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL a chunk's transaction is committed with synchronous_commit off (nothing of
    it leaves the database before a later, normal commit flushes the log up to it); the setting
    ends with that transaction, so storing submissions and claiming deliveries still wait for
    the disk."""
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite runs every transaction with synchronous=NORMAL")
    seen: list[str] = []

    def noting(session: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(session.execute(text("SHOW synchronous_commit")).scalar_one())
        return bulk_update(session, *args, **kwargs)

    monkeypatch.setattr("tasks.apply.bulk_update", noting)
    store(db_url, form(submission_id="flush-1"), form(submission_id="flush-2"))
    assert len(process(db_url).lead_ids) == 2
    assert seen == ["off"]
    for _ in range(3):  # whichever pooled connection comes next
        with session_scope(db_url) as session:
            assert session.execute(text("SHOW synchronous_commit")).scalar_one() == "on"
    assert count(db_url, RawSubmission, col(RawSubmission.state) == "done") == 2
