"""Bulk writes (COPY and unnest on PostgreSQL, executemany on SQLite) store what an INSERT or
UPDATE would, and several drains of one channel split its work without deciding anything twice."""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import insert
from sqlmodel import col, select

from models.bulk import among, bulk_insert, bulk_insert_new, bulk_update
from models.db import session_scope
from models.tables import (
    Assignment,
    Contact,
    DecisionRecord,
    Handoff,
    Lead,
    Organization,
    RawSubmission,
    Review,
    new_id,
)
from qualification.evaluate import evaluate
from tasks.apply import apply_decisions
from tasks.store import claim_pending
from tests.integration.test_persistence import CRITERIA, TODAY, form, store

WHEN = dt.datetime(2026, 11, 27, 9, 30, 15, 123456, tzinfo=dt.UTC)


def lead_rows(session: Any) -> str:
    """One organization, contact and lead; returns the lead id."""
    org, contact, lead = new_id(), new_id(), new_id()
    bulk_insert(session, Organization.__table__, [{"id": org, "name": "Acme"}])  # type: ignore[attr-defined]
    bulk_insert(
        session,
        Contact.__table__,  # type: ignore[attr-defined]
        [{"id": contact, "organization_id": org, "email": "a@acme.example.org"}],
    )
    session.execute(
        insert(Lead),
        [{"id": lead, "organization_id": org, "contact_id": contact, "channel": "form"}],
    )
    return lead


def test_bulk_insert_stores_what_an_insert_stores_defaults_included(db_url: str) -> None:
    payload = {"lead_id": "x", "nested": {"list": [1, 2.5, None], "text": 'Zoë "quoted"\n\\'}}
    with session_scope(db_url) as session:
        lead = lead_rows(session)
        table = Handoff.__table__  # type: ignore[attr-defined]
        given = {"lead_id": lead, "payload": payload, "created_at": WHEN}
        bulk_insert(session, table, [{"idempotency_key": "bulk", **given}])
        session.execute(insert(table), [{"idempotency_key": "plain", **given}])
    with session_scope(db_url) as session:
        rows = {h.idempotency_key: h for h in session.exec(select(Handoff))}
    bulk, plain = rows["bulk"], rows["plain"]
    assert bulk.id is not None and plain.id is not None and bulk.id != plain.id
    for name in ("payload", "state", "attempts", "claim_token", "next_attempt_at", "created_at"):
        assert getattr(bulk, name) == getattr(plain, name), name
    assert bulk.payload == payload and bulk.state == "pending" and bulk.attempts == 0
    assert bulk.created_at == WHEN


def test_a_callable_default_is_called_per_row(db_url: str) -> None:
    with session_scope(db_url) as session:
        bulk_insert(session, Organization.__table__, [{"name": "A"}, {"name": "B"}])  # type: ignore[attr-defined]
    with session_scope(db_url) as session:
        orgs = session.exec(select(Organization)).all()
    assert len({o.id for o in orgs}) == 2
    assert all(o.created_at.tzinfo is not None for o in orgs)


def test_a_value_the_database_refuses_raises_its_error_without_the_value(db_url: str) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite stores a string of any length")
    with pytest.raises(sa_exc.DataError) as refused, session_scope(db_url) as session:
        bulk_insert(session, Organization.__table__, [{"name": "ok"}, {"name": "Q" * 600}])  # type: ignore[attr-defined]
    assert "value too long" in str(refused.value.orig)
    assert "QQQ" not in str(refused.value).splitlines()[0]
    with session_scope(db_url) as session:
        assert session.exec(select(Organization)).all() == []


@pytest.mark.parametrize("copy_from", [1, 50], ids=["copy", "insert"])
def test_bulk_insert_new_leaves_stored_rows_alone_and_counts_the_new(
    db_url: str, copy_from: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("models.bulk.COPY_MIN_ROWS", copy_from)  # PostgreSQL: both ways

    def row(sid: str, source: str) -> dict[str, Any]:
        return {"id": sid, "channel": "form", "payload": {"n": sid}, "source_name": source}

    table = RawSubmission.__table__  # type: ignore[attr-defined]
    with session_scope(db_url) as session:
        assert bulk_insert_new(session, table, [row("a", "first"), row("b", "first")], "id") == 2
        # twice in one transaction: the second batch alone counts
        assert bulk_insert_new(session, table, [row("b", "again"), row("c", "again")], "id") == 1
    with session_scope(db_url) as session:
        assert bulk_insert_new(session, table, [row("a", "later")], "id") == 0
        stored = {r.id: (r.source_name, r.state) for r in session.exec(select(RawSubmission))}
    assert stored == {
        "a": ("first", "pending"),
        "b": ("first", "pending"),
        "c": ("again", "pending"),
    }


def test_bulk_update_sets_each_rows_values_and_the_shared_ones(db_url: str) -> None:
    table = RawSubmission.__table__  # type: ignore[attr-defined]
    with session_scope(db_url) as session:
        bulk_insert(
            session, table, [{"id": s, "channel": "form", "payload": {}} for s in ("a", "b", "c")]
        )
        bulk_update(
            session,
            table,
            "id",
            [{"id": "a", "lead_id": "lead-a"}, {"id": "b", "lead_id": None}],
            {"state": "done", "processed_at": WHEN},
        )
    with session_scope(db_url) as session:
        rows = {r.id: r for r in session.exec(select(RawSubmission))}
        picked = session.exec(
            select(RawSubmission.id).where(among(session, col(RawSubmission.id), ["a", "c", "z"]))
        ).all()
    assert (rows["a"].state, rows["a"].lead_id, rows["a"].processed_at) == ("done", "lead-a", WHEN)
    assert (rows["b"].state, rows["b"].lead_id) == ("done", None)
    assert (rows["c"].state, rows["c"].processed_at) == ("pending", None)
    assert sorted(picked) == ["a", "c"]


def test_several_drains_of_one_channel_split_the_work_and_decide_each_submission_once(
    db_url: str,
) -> None:
    """What the cluster runs: several drain runs of a channel at once (deployment concurrency
    above 1), each claiming a chunk ahead while it applies the one in hand."""
    total = 240
    store(
        db_url,
        *[form(submission_id=f"s-{i}", email=f"p{i}@x{i}.example.com") for i in range(total)],
    )
    applied: Counter[str] = Counter()
    start = threading.Barrier(3)

    def drain(claimer: str) -> None:
        start.wait()
        chunk = claim_pending.fn("form", 8, claimer, url=db_url)
        while chunk:
            holding = frozenset(c.id for c in chunk)
            following = claim_pending.fn("form", 8, claimer, url=db_url, holding=holding)
            decisions = [evaluate(c.submission(), CRITERIA, today=TODAY) for c in chunk]
            result = apply_decisions.fn(chunk, decisions, CRITERIA, claimer, url=db_url)
            applied[claimer] += len(result.lead_ids)
            chunk = following

    threads = [threading.Thread(target=drain, args=(f"run-{n}",)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with session_scope(db_url) as session:
        decided = Counter(session.exec(select(DecisionRecord.submission_id)).all())
        raw_states = Counter(session.exec(select(RawSubmission.state)).all())
        leads = len(session.exec(select(Lead.id)).all())
    assert sum(applied.values()) == total
    assert len(applied) >= 2, applied  # the work was split, not taken by one drain
    assert len(decided) == total and set(decided.values()) == {1}
    assert raw_states == {"done": total}
    assert leads == total


def test_a_reviewers_decision_writes_its_rows_through_the_same_bulk_path(
    settings_env: Path, db_url: str
) -> None:
    """The review's apply queues an assignment and a handoff on the chunk and writes them with
    the ORM changes of the same transaction (the lead, the review, its event)."""
    from tasks.review import decide_review
    from tests.integration.test_one_road import FORM, post, process

    post(db_url, {**FORM, "timeframe": "", "interest_type": "", "page_visits_high_intent": "0"})
    process(db_url)
    with session_scope(db_url) as session:
        lead = session.exec(select(Lead)).one()
        assert lead.status != "sql"  # the reviewer's answer makes the handoff, not the rules
        review = Review(lead_id=lead.id, decision_id=lead.last_decision_id, reasons=["x"])
        session.add(review)
        session.flush()
        review_id = review.id
    outcome = decide_review.fn(
        review_id, {"decision": "approve_sql", "reviewer": "revops@example.com"}
    )
    assert outcome.applied and outcome.status == "sql"
    with session_scope(db_url) as session:
        lead = session.exec(select(Lead)).one()
        handoffs = session.exec(select(Handoff).where(Handoff.lead_id == lead.id)).all()
        assignments = session.exec(select(Assignment).where(Assignment.lead_id == lead.id)).all()
    assert lead.status == "sql" and lead.team == "sales" and lead.owner_id
    assert [h.idempotency_key for h in handoffs if h.idempotency_key.endswith(":sql")]
    assert any(a.owner_id == lead.owner_id for a in assignments)


def test_a_chunks_ids_go_to_postgresql_as_one_binary_array(db_url: str) -> None:
    """`among` sends a chunk's ids as one array parameter, and the app's connections send a list
    in PostgreSQL's binary format (the text format quoted each element in Python: ~4x slower).
    Fails with the binary dumper not registered (TEXT)."""
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite takes the ids as placeholders")
    ids = [f"s-{i}" for i in range(3)]
    store(db_url, *(form(submission_id=i) for i in ids))
    with session_scope(db_url) as session:
        cursor = session.connection().connection.dbapi_connection.cursor()
        cursor.execute("SELECT count(*) FROM raw_submission WHERE id = ANY(%s)", [ids])
        assert cursor.fetchone() == (3,)
        assert [f.name for f in cursor._query.formats] == ["BINARY"]
        found = session.exec(
            select(RawSubmission.id).where(among(session, col(RawSubmission.id), ids))
        )
        assert sorted(found) == ids
