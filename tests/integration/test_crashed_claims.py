"""A killed run's claimed submissions, emails and handoffs are taken over as soon as Prefect
reports the run finished (Crashed once its heartbeats stop), not only after their leases (30 and
10 minutes)."""

from __future__ import annotations

import datetime as dt
import json
import socket
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import State
from prefect.settings import PREFECT_API_URL, temporary_settings
from prefect.states import Crashed, Running
from sqlalchemy import event

from adapters.crm import JsonlSink, WebhookSink
from adapters.prefect_api import finished_flow_runs
from flows.inbound_form import inbound_form
from models.db import get_engine, session_scope
from models.tables import Handoff, SentEmail
from tasks.deliver import IN_FLIGHT_NOTES, _claim, deliver_pending_handoffs, send_pending_emails
from tasks.store import claim_pending
from tests.integration.test_crm import SECRET, Receiver
from tests.integration.test_crm import receiver as receiver
from tests.integration.test_delivery_outages import queue_leads, states, use_smtp
from tests.integration.test_persistence import form, store
from tests.smtp import SmtpServer


@pytest.fixture
def runs(prefect_server: None) -> Iterator[list[UUID]]:
    created: list[UUID] = []
    yield created
    with get_client(sync_client=True) as client:
        for run_id in created:
            client.delete_flow_run(run_id)


def _run(runs: list[UUID], state: State) -> str:
    with get_client(sync_client=True) as client:
        run_id = client.create_flow_run(inbound_form, state=state).id
    runs.append(run_id)
    return str(run_id)


def test_a_claim_held_by_a_run_marked_crashed_is_taken_over_at_once(
    runs: list[UUID], db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    store(db_url, form(submission_id="s-1"))
    killed = _run(runs, Running())
    assert [c.id for c in claim_pending.fn("form", 10, killed, url=db_url)] == ["s-1"]
    assert claim_pending.fn("form", 10, "sweep", lease_minutes=30, url=db_url) == []

    with get_client(sync_client=True) as client:
        client.set_flow_run_state(UUID(killed), Crashed(), force=True)

    assert [c.id for c in claim_pending.fn("form", 10, "sweep", lease_minutes=30, url=db_url)] == [
        "s-1"
    ]
    # The take-over is said where an operator looks (the run's log), with whose and how many.
    assert f"{killed} (1)" in caplog.text and "taking over the form submissions" in caplog.text


def test_only_runs_prefect_reports_finished_count_as_gone(runs: list[UUID]) -> None:
    running, crashed = _run(runs, Running()), _run(runs, Crashed())
    unknown = "00000000-0000-0000-0000-000000000000"

    assert finished_flow_runs([running, crashed, unknown, "not-a-run-id"]) == {crashed}


def test_when_prefect_cannot_be_read_no_run_counts_as_gone_and_a_warning_says_why(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with temporary_settings({PREFECT_API_URL: f"http://127.0.0.1:{port}/api"}):
        assert finished_flow_runs([str(uuid4())]) == set()
    assert "could not ask Prefect whether 1 claiming flow runs have finished" in caplog.text
    assert "when their leases end" in caplog.text


def test_emails_a_killed_delivery_pass_claimed_are_sent_once_its_run_is_marked_crashed(
    runs: list[UUID],
    settings_env: Path,
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
    start_smtp_server: Callable[..., SmtpServer],
) -> None:
    queue_leads(db_url, 3)
    server = start_smtp_server()
    use_smtp(monkeypatch, server.address)
    killed = _run(runs, Running())
    claimed = _claim(SentEmail, f"{killed} pass", 10, db_url)  # then the pass is killed
    assert len(claimed) == 3
    with session_scope(db_url) as session:  # it had one email in flight over SMTP
        in_flight = session.get(SentEmail, claimed[0].id)
        assert in_flight is not None
        in_flight.state = "sending"

    assert send_pending_emails.fn(url=db_url).delivered == 0  # the run may still be alive

    with get_client(sync_client=True) as client:
        client.set_flow_run_state(UUID(killed), Crashed(), force=True)
    report = send_pending_emails.fn(url=db_url)
    assert (report.recovered, report.unknown, report.delivered) == (2, 1, 2)
    # SMTP cannot tell a repeat: the one in flight is left for a person, never resent.
    assert states(db_url, SentEmail) == Counter({("sent", 1): 2, ("unknown", 0): 1})
    assert len(server.handler.received) == 2
    with session_scope(db_url) as session:  # `medleads delivery` says what to do with it
        left = session.get(SentEmail, claimed[0].id)
        assert left is not None and left.error == IN_FLIGHT_NOTES["unknown"]


def test_the_handoff_in_flight_at_a_kill_is_sent_again_under_its_key_and_marked(
    runs: list[UUID], settings_env: Path, db_url: str, receiver: Receiver
) -> None:
    """A webhook cannot be asked whether it has a handoff: the one in flight is sent again with
    the same Idempotency-Key (the receiver dedupes by it, DESIGN §6), and the row says so."""
    queue_leads(db_url, 3)
    killed = _run(runs, Running())
    claimed = _claim(Handoff, f"{killed} pass", 10, db_url)
    with session_scope(db_url) as session:
        in_flight = session.get(Handoff, claimed[0].id)
        assert in_flight is not None
        in_flight.state, in_flight.attempts = "sending", 1
    with get_client(sync_client=True) as client:
        client.set_flow_run_state(UUID(killed), Crashed(), force=True)

    report = deliver_pending_handoffs.fn(
        url=db_url, sink=WebhookSink(receiver.url, SECRET, max_attempts=1)
    )
    assert (report.recovered, report.unknown, report.delivered) == (3, 0, 3)
    assert states(db_url, Handoff) == Counter({("delivered", 1): 2, ("delivered", 2): 1})
    with session_scope(db_url) as session:
        resent = session.get(Handoff, claimed[0].id)
        assert resent is not None and resent.error == IN_FLIGHT_NOTES["pending"]
        others = [session.get(Handoff, c.id) for c in claimed[1:]]
        assert [o.error for o in others if o is not None] == [None, None]


def test_a_killed_pass_to_local_files_leaves_its_whole_batch_in_flight_and_none_is_written_twice(
    runs: list[UUID], settings_env: Path, db_url: str, tmp_path: Path
) -> None:
    """The outbox and the JSONL handoff file get a batch between two commits (no commit per
    item); a pass killed mid-batch leaves every row `sending`, and the next pass settles each
    one by asking the file: the ones written are not written again, the rest are."""
    queue_leads(db_url, 4)
    sink = JsonlSink(tmp_path / "handoffs.jsonl")
    killed = _run(runs, Running())
    claimed = _claim(Handoff, f"{killed} pass", 10, db_url)
    with session_scope(db_url) as session:
        for row in claimed:
            stored = session.get(Handoff, row.id)
            assert stored is not None
            stored.state, stored.attempts = "sending", 1
    for row in claimed[:2]:  # written before the kill
        sink.deliver(row.idempotency_key, row.payload)
    with get_client(sync_client=True) as client:
        client.set_flow_run_state(UUID(killed), Crashed(), force=True)

    report = deliver_pending_handoffs.fn(url=db_url, sink=sink)

    assert (report.recovered, report.unknown, report.delivered) == (2, 0, 2)
    assert states(db_url, Handoff) == Counter({("delivered", 1): 2, ("delivered", 2): 2})
    written = [json.loads(line)["idempotency_key"] for line in sink.path.read_text().splitlines()]
    assert sorted(written) == sorted(r.idempotency_key for r in claimed)


def test_a_batch_to_local_files_costs_two_commits_not_one_per_item(
    settings_env: Path, db_url: str, tmp_path: Path
) -> None:
    queue_leads(db_url, 6)
    commits: list[int] = []
    engine = get_engine(db_url)

    def count(_conn: object) -> None:
        commits.append(1)

    event.listen(engine, "commit", count)
    try:
        report = deliver_pending_handoffs.fn(
            url=db_url, sink=JsonlSink(tmp_path / "handoffs.jsonl")
        )
    finally:
        event.remove(engine, "commit", count)
    assert report.delivered == 6
    assert len(commits) <= 5  # recover, claim, sending, outcomes, the empty claim


class _UnsyncedSink(JsonlSink):
    """Appends, then cannot make the batch durable (a full or failing disk at fsync)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.syncs = 0

    def sync(self) -> None:
        self.syncs += 1
        raise OSError(28, "No space left on device")


def test_a_batch_the_file_cannot_make_durable_stays_in_flight_and_is_settled_by_the_file(
    settings_env: Path, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The JSONL sink appends a batch and syncs it once; until the sync returns nothing is
    recorded delivered. A failed sync leaves the batch `sending` (the pass itself goes on); once
    its lease is over the next pass asks the file, which holds every line: delivered, none
    written twice."""
    queue_leads(db_url, 3)
    failing = _UnsyncedSink(tmp_path / "handoffs.jsonl")

    failed = deliver_pending_handoffs.fn(url=db_url, sink=failing)  # an outage fails nothing

    assert (failing.syncs, failed.delivered, failed.transient) == (1, 0, 3)
    assert states(db_url, Handoff) == Counter({("sending", 1): 3})
    monkeypatch.setattr("tasks.deliver._lease", lambda: dt.timedelta(0))  # the lease is over
    report = deliver_pending_handoffs.fn(url=db_url, sink=JsonlSink(failing.path))
    assert (report.recovered, report.delivered) == (0, 0)  # settled by the file, not resent
    assert states(db_url, Handoff) == Counter({("delivered", 1): 3})
    assert len(failing.path.read_text().splitlines()) == 3
