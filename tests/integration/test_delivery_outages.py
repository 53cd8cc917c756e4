"""Delivery heals itself (DESIGN §6): an SMTP or CRM outage never fails a run or holds back the
queue; each item waits for its own next attempt, a hopeless one is parked for a person."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update
from sqlmodel import col, select
from typer.testing import CliRunner

from adapters.crm import WebhookSink
from adapters.submissions import store_submissions
from cli.main import app
from models.db import session_scope
from models.settings import get_settings
from models.tables import Handoff, SentEmail, utcnow
from qualification.submission import submission_from_mapping
from tasks.deliver import STOP_AFTER_TRANSIENT, deliver_pending_handoffs, send_pending_emails
from tests.integration.test_crm import SECRET, Receiver
from tests.integration.test_crm import receiver as receiver
from tests.integration.test_one_road import FORM, process
from tests.smtp import SmtpServer, free_port

runner = CliRunner()


def queue_leads(db_url: str, n: int) -> None:
    """n qualified form leads with email consent: n confirmations and n handoffs queued."""
    posts = [
        {**FORM, "email_opt_in": "yes", "name": f"Person {i}", "email": f"p{i}@c{i}.example.org"}
        for i in range(n)
    ]
    store_submissions([(submission_from_mapping(p), p) for p in posts], "test", url=db_url)
    process(db_url)


def time_passes(db_url: str, model: Any) -> None:
    """Every item waiting for a retry is due now."""
    with session_scope(db_url) as session:
        session.execute(
            update(model)
            .where(col(model.next_attempt_at).is_not(None))
            .values(next_attempt_at=utcnow() - dt.timedelta(seconds=1))
        )


def states(db_url: str, model: Any) -> Counter[tuple[str, int]]:
    with session_scope(db_url) as session:
        return Counter(session.exec(select(model.state, model.attempts)).all())


def use_smtp(monkeypatch: pytest.MonkeyPatch, address: str) -> None:
    monkeypatch.setenv("MEDLEADS_SMTP_URL", f"smtp://{address}")
    get_settings.cache_clear()


def test_smtp_down_waits_without_failing_then_sends_each_email_once_when_it_is_back(
    settings_env: Path,
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
    start_smtp_server: Callable[..., SmtpServer],
) -> None:
    queue_leads(db_url, 5)
    use_smtp(monkeypatch, f"127.0.0.1:{free_port()}")  # nothing listens there

    down = send_pending_emails.fn(url=db_url)  # no exception: the run goes on
    assert (down.delivered, down.transient, down.parked) == (0, STOP_AFTER_TRANSIENT, 0)
    assert states(db_url, SentEmail) == Counter({("pending", 1): 3, ("pending", 0): 2})
    assert send_pending_emails.fn(url=db_url).transient == 2  # the others' turn; 3 not yet due

    server = start_smtp_server()
    use_smtp(monkeypatch, server.address)
    time_passes(db_url, SentEmail)
    back = send_pending_emails.fn(url=db_url)
    assert back.delivered == 5
    received = Counter(r.message["X-Medleads-Key"] for r in server.handler.received)
    assert len(received) == 5 and set(received.values()) == {1}
    assert {s for s, _ in states(db_url, SentEmail)} == {"sent"}


def test_a_crm_500_holds_back_only_its_own_handoff_until_it_is_parked_then_put_back(
    settings_env: Path, db_url: str, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEDLEADS_DELIVERY_MAX_ATTEMPTS", "3")
    get_settings.cache_clear()
    queue_leads(db_url, 4)

    def deliver() -> Any:
        return deliver_pending_handoffs.fn(
            url=db_url, sink=WebhookSink(receiver.url, SECRET, max_attempts=1)
        )

    receiver.answer_next(1, 500)  # the first handoff fails; the three behind it go through
    first = deliver()
    assert (first.delivered, first.transient) == (3, 1)
    assert len(receiver.accepted) == 3
    for _ in range(2):  # it keeps failing: attempts 2 and 3, then it is parked
        time_passes(db_url, Handoff)
        receiver.answer_next(1, 500)
        deliver()
    assert states(db_url, Handoff) == Counter({("delivered", 1): 3, ("parked", 3): 1})

    listed = runner.invoke(app, ["delivery", "--format", "jsonl"])
    [parked] = [json.loads(line) for line in listed.stdout.splitlines() if '"handoff"' in line]
    assert parked["state"] == "parked" and "500" in parked["error"]
    assert runner.invoke(app, ["delivery", "retry", f"handoff:{parked['id']}"]).exit_code == 0
    assert deliver().delivered == 1
    assert len(receiver.accepted) == 4


def test_an_email_that_cannot_be_built_is_parked_and_the_others_are_sent(
    settings_env: Path, db_url: str
) -> None:
    queue_leads(db_url, 3)
    with session_scope(db_url) as session:
        first = session.exec(select(SentEmail).order_by(col(SentEmail.id))).first()
        assert first is not None
        first.template_context = {"broken": True}  # the template's variables are missing
    report = send_pending_emails.fn(url=db_url)
    assert (report.delivered, report.parked) == (2, 1)
    assert len(list((settings_env / "outbox").glob("*.eml"))) == 2
    assert states(db_url, SentEmail) == Counter({("sent", 1): 2, ("parked", 1): 1})
