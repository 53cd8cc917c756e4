"""The three channel flows under a real Prefect server: submissions in; leads, emails out."""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import json
import os
import signal
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
from prefect.settings import PREFECT_API_URL
from sqlmodel import func, select

from adapters.rows import SubmissionFile
from adapters.submissions import store_submissions
from flows.inbound_form import inbound_form
from flows.outbound_list import outbound_list
from flows.webinar import webinar
from models.db import session_scope
from models.tables import Handoff, Lead, RawSubmission, SentEmail
from qualification.criteria import load_criteria
from qualification.evaluate import evaluate
from tests.paths import DEFAULT_SHEET, ROOT, SAMPLES
from tests.smtp import RecordingHandler, SmtpServer

pytestmark = pytest.mark.usefixtures("prefect_server")
CRITERIA = load_criteria(DEFAULT_SHEET)


def expected(path: Path, channel: str) -> list[Any]:
    rows = SubmissionFile(path, channel=channel).rows()
    today = dt.datetime.now(dt.UTC).date()
    return [evaluate(r.submission, CRITERIA, today=today) for r in rows if r.submission]


def handoff_lines(data: Path) -> list[dict[str, Any]]:
    path = data / "handoffs.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def count(model: Any, *where: Any) -> int:
    with session_scope() as session:
        return int(session.exec(select(func.count()).select_from(model).where(*where)).one())


def artifact_keys() -> set[str]:
    async def read() -> set[str]:
        async with get_client() as client:
            found = await client.read_artifacts(
                artifact_filter=ArtifactFilter(key=ArtifactFilterKey(like_="run-")),
            )
            return {a.key for a in found if a.key}

    return asyncio.run(read())


def store_forms(path: Path) -> int:
    rows = [(r.submission, r.raw) for r in SubmissionFile(path, channel="form").rows()]
    return store_submissions([(s, raw) for s, raw in rows if s is not None])[0]


def test_inbound_form_flow_decides_confirms_and_hands_off(settings_env: Path) -> None:
    assert store_forms(SAMPLES / "forms.jsonl") == 16
    decisions = expected(SAMPLES / "forms.jsonl", "form")

    summary = inbound_form()

    assert summary.processed == 16 and summary.chunks == 1
    assert summary.statuses == Counter(d.status for d in decisions)
    with session_scope() as session:
        leads = session.exec(select(Lead)).all()
        owners = {lead.status: lead.owner_id for lead in leads}
    assert owners["sql"] == "ava-patel"
    assert all(lead.owner_id for lead in leads if lead.status in ("mql", "nurture", "sql"))
    confirmed = [d for d in decisions if d.status != "disqualified" and d.consent_email and d.email]
    outbox = sorted((settings_env / "outbox").glob("*.eml"))
    assert len(outbox) == len(confirmed) == summary.emails_sent
    first = email.message_from_bytes(outbox[0].read_bytes())
    assert first.is_multipart()
    handed = [d for d in decisions if d.status in ("sql", "mql", "mql_no_timeline")]
    lines = handoff_lines(settings_env)
    assert len(lines) == len(handed) == summary.handoffs
    sql = next(line for line in lines if line["status"] == "sql")
    assert sql["owner"]["id"] == "ava-patel" and sql["top_reasons"]
    assert {"form-run-summary", "form-run-leads"} <= artifact_keys()


def test_running_the_flow_again_changes_nothing(settings_env: Path) -> None:
    store_forms(SAMPLES / "forms.jsonl")
    inbound_form()
    again = inbound_form()
    assert again.processed == 0
    assert store_forms(SAMPLES / "forms.jsonl") == 0
    assert count(Lead) == 16
    assert len(handoff_lines(settings_env)) == count(Handoff)


def test_webinar_flow_sends_the_follow_up_question_over_smtp_where_consented(
    settings_env: Path, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from models.settings import get_settings

    monkeypatch.setenv("MEDLEADS_SMTP_URL", f"smtp://{smtp_server.address}")
    get_settings.cache_clear()
    decisions = expected(SAMPLES / "webinar.csv", "webinar")

    summary = webinar(file=str(SAMPLES / "webinar.csv"))

    assert summary.stored == 5 and summary.processed == 5
    assert summary.statuses == Counter(d.status for d in decisions)
    consented = [d for d in decisions if d.consent_email and d.status != "disqualified"]
    received = smtp_server.handler.received
    assert sorted(r.rcpt_tos[0] for r in received) == sorted(d.email for d in consented)
    assert smtp_server.handler.greetings == 1  # one connection for the batch
    body = received[0].message.get_body(preferencelist=("plain",))
    assert body is not None
    assert CRITERIA.sheet.webinar.follow_up_question in body.get_content()


def test_outbound_flow_reports_bad_rows_and_never_emails_without_consent(
    settings_env: Path,
) -> None:
    summary = outbound_list(file=str(SAMPLES / "outbound.csv"))

    assert (summary.stored, summary.rejected, summary.processed) == (6, 1, 6)
    assert summary.rejection_report is not None
    report = Path(summary.rejection_report).read_text().splitlines()
    assert report[0] == "row,column,why"
    assert report[1] == "7,,13 values for 12 columns (a stray delimiter?)"
    assert count(SentEmail) == 0
    assert not (settings_env / "outbox").exists()
    assert len(handoff_lines(settings_env)) == summary.statuses["mql"]
    assert "outbound-run-summary" in artifact_keys()


def test_a_bad_file_fails_the_flow_with_the_reason_and_stores_nothing(
    settings_env: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("Name;Phone\nx;1\n")
    with pytest.raises(Exception, match="missing required column organization_name"):
        outbound_list(file=str(bad))
    assert count(RawSubmission) == 0


def test_a_crash_right_after_the_first_emails_sends_nothing_twice_and_loses_nothing(
    settings_env: Path, start_smtp_server: Any, tmp_path: Path
) -> None:
    """The flow process is killed (SIGKILL) by the SMTP server while it receives the second
    email; a second run finishes the job. Each email reaches the server once, each handoff is
    written once, and every submission is decided."""
    forms = tmp_path / "forms.jsonl"
    people = []
    for i in range(6):
        row = json.loads((SAMPLES / "forms.jsonl").read_text().splitlines()[0])
        row.update(submission_id=f"crash-{i}", email=f"person{i}@clinic{i}.example.com")
        row.update(phone=None, website=None)
        people.append(json.dumps(row))
    forms.write_text("\n".join(people) + "\n")
    store_forms(forms)

    victim: dict[str, int] = {}

    class KillOnSecond(RecordingHandler):
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            reply = await super().handle_DATA(server, session, envelope)
            if len(self.received) == 2 and "pid" in victim:
                os.kill(victim["pid"], signal.SIGKILL)
            return reply

    handler = KillOnSecond()
    server: SmtpServer = start_smtp_server(handler)
    env = {
        **os.environ,
        "MEDLEADS_SMTP_URL": f"smtp://{server.address}",
        "MEDLEADS_DELIVERY_LEASE_MINUTES": "0",
        "PREFECT_API_URL": str(PREFECT_API_URL.value()),
        "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": "30",
    }
    code = textwrap.dedent(
        """
        from flows.inbound_form import inbound_form
        inbound_form(batch_size=3, lease_minutes=0)
        """
    )
    first = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env)
    victim["pid"] = first.pid
    assert first.wait(timeout=120) == -signal.SIGKILL

    second = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, timeout=120, capture_output=True
    )
    assert second.returncode == 0, second.stderr.decode()[-2000:]

    delivered = Counter(r.message["X-Medleads-Key"] for r in handler.received)
    assert len(delivered) == 6 and set(delivered.values()) == {1}
    assert count(RawSubmission, RawSubmission.state == "done") == 6
    keys = [line["idempotency_key"] for line in handoff_lines(settings_env)]
    assert len(keys) == len(set(keys)) == 6
    with session_scope() as session:
        states = Counter(session.exec(select(SentEmail.state)).all())
    # The email in flight at the kill reached the server but its reply never came back: it is
    # recorded as unknown rather than sent again.
    assert states == Counter({"sent": 5, "unknown": 1})


def test_a_channel_run_logs_its_progress_at_info_without_personal_data(
    settings_env: Path,
) -> None:
    import logging

    store_forms(SAMPLES / "forms.jsonl")
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("prefect.flow_runs")
    level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        inbound_form()
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    said = [r.getMessage() for r in records]
    assert any(m.startswith("chunk 1: 16 form submission(s) decided (") for m in said), said
    assert "form run done: 16 submission(s) in 1 chunk(s), 16 new lead(s), 0 failed" in said
    people = [json.loads(x) for x in (SAMPLES / "forms.jsonl").read_text().splitlines()]
    personal = {p[k] for p in people for k in ("email", "contact_name") if p.get(k)}
    assert not [m for m in said for value in personal if value in m]


def test_a_run_that_found_nothing_publishes_nothing_and_the_summary_names_organizations(
    settings_env: Path,
) -> None:
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    def latest(key: str) -> Any:
        with get_client(sync_client=True) as client:
            found = client.read_artifacts(
                artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key]))
            )
        return max(found, key=lambda a: a.created) if found else None

    store_forms(SAMPLES / "forms.jsonl")
    summary = inbound_form()
    first = latest("form-run-summary")
    assert first is not None
    assert f"submissions processed: **{summary.processed}**" in first.data
    assert f"emails sent: {summary.emails_sent} of {summary.emails_sent} this run" in first.data
    table = latest("form-run-leads")
    organizations = {row["organization"] for row in json.loads(table.data)}
    assert "Lakeside Wellness" in organizations
    assert inbound_form().processed == 0  # nothing left: a sweep or a late event
    assert latest("form-run-summary").id == first.id
