"""Recheck and SLA watch under a real Prefect server, on SQLite and PostgreSQL; time moves by
setting MEDLEADS_CLOCK_OFFSET_HOURS, never by sleeping."""

from __future__ import annotations

import datetime as dt
import email
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import typer
from sqlalchemy import update
from sqlmodel import col, func, select
from typer.testing import CliRunner, Result

from adapters.mail import OutboxMailer
from adapters.submissions import store_submissions
from cli.sla import register
from flows.inbound_form import inbound_form
from flows.recheck import recheck
from flows.sla_watch import sla_watch
from models.db import session_scope
from models.settings import get_settings
from models.tables import ConsentEvent, DecisionRecord, Handoff, Lead, RawSubmission, SentEmail
from qualification.submission import submission_from_mapping
from tasks.recheck import Engagement, record_engagement
from tasks.sla import record_first_touch

pytestmark = pytest.mark.usefixtures("prefect_server")
runner = CliRunner()
SQL_FORM: dict[str, Any] = {
    "channel": "form",
    "organization_name": "Hudson Valley Cardiology Associates",
    "org_type": "group practice",
    "locations_count": "4",
    "state": "NY",
    "contact_name": "Maria Alvarez",
    "contact_role": "Practice Administrator",
    "specialty": "cardiology",
    "interest_type": "demo",
    # SQL needs the request to name the offer's scope (guide §4 "confirmed interest in the exact
    # service scope"; DESIGN §3 need): a demo request alone now goes to a person.
    "message": "We want to move new-patient intake online.",
    "timeframe": "within 60 days",
    "consent_email": "yes",
    "consent_phone": "yes",
    "page_visits_high_intent": "5",
    "content_downloads": "1",
}


def form(n: int, **changes: Any) -> dict[str, Any]:
    """An SQL-worthy form from a clinic of its own; `changes` make it something else."""
    person = {
        "submission_id": f"form-{n}",
        "email": f"admin{n}@clinic{n}.example.com",
        "website": f"clinic{n}.example.com",
    }
    return {**SQL_FORM, **person, **changes}


def feed(*payloads: dict[str, Any]) -> list[str]:
    """Store form posts and run the form flow; the lead id of each post, in order."""
    _, ids = store_submissions([(submission_from_mapping(p), p) for p in payloads])
    inbound_form()
    with session_scope() as session:
        rows = session.exec(
            select(RawSubmission.id, RawSubmission.lead_id).where(col(RawSubmission.id).in_(ids))
        ).all()
    lead_of = {sub_id: lead_id for sub_id, lead_id in rows}
    return [str(lead_of[i]) for i in ids]


def lead(lead_id: str) -> Lead:
    with session_scope() as session:
        found = session.get(Lead, lead_id)
    assert found is not None
    return found


def move_clock(monkeypatch: pytest.MonkeyPatch, hours: float) -> None:
    monkeypatch.setenv("MEDLEADS_CLOCK_OFFSET_HOURS", str(hours))
    get_settings.cache_clear()


def recheck_records(lead_id: str) -> list[DecisionRecord]:
    with session_scope() as session:
        return list(
            session.exec(
                select(DecisionRecord)
                .where(
                    col(DecisionRecord.lead_id) == lead_id,
                    col(DecisionRecord.decided_by) == "recheck",
                )
                .order_by(col(DecisionRecord.created_at))
            ).all()
        )


def count(model: Any, *where: Any) -> int:
    with session_scope() as session:
        return int(session.exec(select(func.count()).select_from(model).where(*where)).one())


def test_an_mql_no_timeline_lead_is_rechecked_at_its_horizon_and_stays_without_new_facts(
    settings_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (lead_id,) = feed(form(1, timeframe=None))
    before = lead(lead_id)
    assert before.status == "mql_no_timeline" and before.recheck_at is not None

    move_clock(monkeypatch, 89 * 24)
    assert recheck().rechecked == 0
    assert recheck_records(lead_id) == []

    move_clock(monkeypatch, 90 * 24 + 1)
    report = recheck()

    assert report.kept == [lead_id] and report.promoted == []
    after = lead(lead_id)
    assert (after.status, after.reason) == ("mql_no_timeline", "interest_without_timing")
    assert after.recheck_at is not None
    assert after.recheck_at - before.recheck_at > dt.timedelta(days=89)
    (record,) = recheck_records(lead_id)
    assert (record.status, record.applied, after.last_decision_id) == (
        "mql_no_timeline",
        True,
        record.id,
    )
    assert any("next recheck in 90 days" in line for line in record.record["explanations"])
    assert recheck().rechecked == 0


def test_a_far_out_lead_is_nurtured_and_promoted_when_its_window_comes_near(
    settings_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (lead_id,) = feed(form(20, timeframe="in 18 months"))
    before = lead(lead_id)
    assert (before.status, before.reason) == ("nurture", "timing_far_out")
    assert before.recheck_at is not None
    due_in = (before.recheck_at - before.created_at).days
    # 18 months is about 547 days; the recheck comes 90 days before the window starts.
    assert 450 <= due_in <= 460

    move_clock(monkeypatch, (due_in - 1) * 24)
    assert recheck().rechecked == 0

    move_clock(monkeypatch, (due_in + 1) * 24)
    report = recheck()

    assert report.transitions == Counter({"nurture -> sql": 1})
    after = lead(lead_id)
    assert (after.status, after.team) == ("sql", "sales")
    (record,) = recheck_records(lead_id)
    window = record.record["timeframe"]
    assert window.startswith("from ") and record.record["timeline_days"] <= 90


def test_new_engagement_promotes_an_mql_lead_to_sql_with_an_owner_and_one_handoff(
    settings_env: Path,
) -> None:
    (lead_id,) = feed(form(2, page_visits_high_intent=None, content_downloads=None))
    assert (lead(lead_id).status, lead(lead_id).team) == ("mql", "marketing")

    recorded = record_engagement(
        [Engagement(row=1, lead_id=lead_id, page_visits_high_intent=5, content_downloads=1)]
    )
    assert (recorded.recorded, recorded.lead_ids) == (1, [lead_id])
    report = recheck()

    assert report.promoted == [lead_id]
    assert report.transitions == Counter({"mql -> sql": 1})
    promoted = lead(lead_id)
    assert (promoted.status, promoted.team, promoted.owner_id) == ("sql", "sales", "ava-patel")
    assert promoted.intent_score == 65 and promoted.recheck_at is None
    assert promoted.sla_due_at is not None and promoted.first_touch_at is None
    (record,) = recheck_records(lead_id)
    assert (record.status, record.applied) == ("sql", True)
    assert record.submission_id is not None and record.submission_id.startswith("eng-")
    assert count(Handoff, col(Handoff.idempotency_key) == f"{lead_id}:sql") == 1
    lines = (settings_env / "handoffs.jsonl").read_text().splitlines()
    sql_lines = [json.loads(line) for line in lines if json.loads(line)["status"] == "sql"]
    assert [(h["lead_id"], h["owner"]["id"]) for h in sql_lines] == [(lead_id, "ava-patel")]
    assert count(RawSubmission, col(RawSubmission.state) == "recheck") == 0
    assert recheck().rechecked == 0


def test_a_recheck_never_demotes_a_lead_sales_holds(settings_env: Path) -> None:
    (lead_id,) = feed(form(12))
    assert lead(lead_id).status == "sql"

    record_engagement(
        [Engagement(row=1, lead_id=lead_id, consent_email=False, consent_phone=False)]
    )
    report = recheck()

    assert report.recorded_only == [lead_id] and report.promoted == []
    kept = lead(lead_id)
    assert (kept.status, kept.owner_id) == ("sql", "ava-patel")
    (record,) = recheck_records(lead_id)
    assert (record.status, record.reason, record.applied) == ("disqualified", "no_consent", False)
    assert kept.last_decision_id != record.id


def test_consent_lifts_a_temporary_disqualification_and_a_permanent_one_is_never_rechecked(
    settings_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    no_consent, away = feed(
        form(3, consent_email="no", consent_phone="no"), form(4, state="CA", city="Fresno")
    )
    assert (lead(no_consent).status, lead(no_consent).reason) == ("disqualified", "no_consent")
    assert (lead(away).status, lead(away).reason) == ("disqualified", "out_of_geography")

    recorded = record_engagement(
        [
            Engagement(
                row=1, lead_id=no_consent, consent_email=True, consent_text="Yes, email me."
            ),
            Engagement(row=2, lead_id=away, page_visits_high_intent=5),
        ]
    )
    assert recorded.recorded == 2 and recorded.lead_ids == [no_consent]
    assert [row for row, _ in recorded.not_rechecked] == [2]
    move_clock(monkeypatch, 400 * 24)
    report = recheck()

    assert report.promoted == [no_consent]
    lifted = lead(no_consent)
    assert (lifted.status, lifted.owner_id) == ("sql", "ava-patel")
    with session_scope() as session:
        granted = session.exec(
            select(ConsentEvent.granted).where(
                col(ConsentEvent.lead_id) == no_consent, col(ConsentEvent.source) == "engagement"
            )
        ).all()
    assert granted == [True]
    assert (lead(away).status, lead(away).reason) == ("disqualified", "out_of_geography")
    assert recheck_records(away) == []


def test_a_lead_whose_facts_cannot_be_evaluated_is_reported_and_the_others_are_rechecked(
    settings_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good, broken, other = feed(
        form(5, timeframe=None), form(6, timeframe=None), form(7, timeframe=None)
    )
    with session_scope() as session:
        session.execute(
            update(RawSubmission)
            .where(col(RawSubmission.lead_id) == broken)
            .values(payload=["not", "an", "object"])
        )
    due = lead(broken).recheck_at

    move_clock(monkeypatch, 91 * 24)
    report = recheck()

    assert sorted(report.kept) == sorted([good, other])
    assert list(report.failed) == [broken]
    assert "not a JSON object" in report.failed[broken]
    assert lead(broken).recheck_at == due and recheck_records(broken) == []
    again = recheck()
    assert list(again.failed) == [broken] and again.rechecked == 0


def test_a_lead_past_its_sql_sla_without_a_first_touch_is_escalated_once(
    settings_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    late, touched = feed(form(8), form(9))
    assert lead(late).status == lead(touched).status == "sql"
    record_first_touch(touched)
    due = lead(late).sla_due_at
    assert due is not None

    move_clock(monkeypatch, 5)
    report = sla_watch()

    assert report.escalated == [late]
    with session_scope() as session:
        escalations = session.exec(
            select(SentEmail).where(col(SentEmail.kind) == "sla_escalation")
        ).all()
    assert [(e.lead_id, e.to_address, e.state) for e in escalations] == [
        (late, "sales@example.com", "sent")
    ]
    key = f"sla:{late}:{due.isoformat(timespec='seconds')}"
    assert escalations[0].idempotency_key == key
    eml = OutboxMailer(settings_env / "outbox", "medleads").path_for(key)
    message = email.message_from_bytes(eml.read_bytes())
    assert str(message["Subject"]).startswith("SLA missed: Hudson Valley Cardiology Associates")

    again = sla_watch()
    assert (again.escalated, again.already_escalated) == ([], 1)
    assert count(SentEmail, col(SentEmail.kind) == "sla_escalation") == 1
    assert (
        count(SentEmail, col(SentEmail.lead_id) == touched, col(SentEmail.kind) == "sla_escalation")
        == 0
    )


def test_medleads_sla_jsonl_shows_the_breached_lead_and_whether_it_was_escalated(
    settings_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = typer.Typer()
    register(app)
    (late,) = feed(form(10))
    move_clock(monkeypatch, 5)

    def line() -> dict[str, Any]:
        result = runner.invoke(app, ["sla", "--format", "jsonl"])
        assert result.exit_code == 0, result.output
        (only,) = result.stdout.splitlines()
        parsed: dict[str, Any] = json.loads(only)
        return parsed

    first = line()
    assert {k: first[k] for k in ("lead_id", "status", "owner", "sla_state", "escalated")} == {
        "lead_id": late,
        "status": "sql",
        "owner": "ava-patel",
        "sla_state": "breached",
        "escalated": False,
    }
    assert first["organization"] == "Hudson Valley Cardiology Associates"
    assert 0.9 <= first["overdue_hours"] <= 1.0
    sla_watch()
    assert line()["escalated"] is True


def engagement(file: Path) -> Result:
    """`medleads engagement FILE`."""
    app = typer.Typer()
    register(app)
    return runner.invoke(app, ["engagement", str(file)])


def stored_engagement() -> RawSubmission:
    """The one engagement row stored as a raw submission."""
    with session_scope() as session:
        (stored,) = session.exec(
            select(RawSubmission).where(col(RawSubmission.source_name) == "engagement")
        ).all()
    return stored


def test_medleads_engagement_records_known_leads_and_names_each_row_that_matched_none(
    settings_env: Path, tmp_path: Path
) -> None:
    (lead_id,) = feed(form(11, page_visits_high_intent=None, content_downloads=None))
    file = tmp_path / "engagement.csv"
    file.write_text(
        "Email,Page Visits High Intent,Content Downloads\n"
        "admin11@clinic11.example.com,5,1\n"
        "nobody@nowhere.example.com,2,0\n"
        ",3,0\n"
        "admin11@clinic11.example.com,lots,0\n"
    )

    result = engagement(file)

    assert result.exit_code == 1
    assert "recorded 1 engagement row(s) for 1 lead(s) (already recorded 0)" in result.stdout
    assert result.stderr.splitlines() == [
        f"{file}: row 3: no lead with email 'nobody@nowhere.example.com'",
        f"{file}: row 4: neither an email nor a lead_id",
        f"{file}: row 5: page_visits_high_intent: 'lots' is not a whole number",
    ]
    stored = stored_engagement()
    assert (stored.lead_id, stored.state) == (lead_id, "recheck")
    assert stored.payload["page_visits_high_intent"] == "5"
    assert stored.payload["engagement"]["Email"] == "admin11@clinic11.example.com"
    again = engagement(file)
    assert "recorded 0 engagement row(s) for 0 lead(s) (already recorded 1)" in again.stdout


def test_medleads_engagement_reads_jsonl_and_names_each_line_that_cannot_be_read(
    settings_env: Path, tmp_path: Path
) -> None:
    (lead_id,) = feed(form(12, page_visits_high_intent=None, content_downloads=None))
    file = tmp_path / "engagement.jsonl"
    file.write_text(
        json.dumps({"Lead ID": lead_id, "Page Visits High Intent": 4, "Webinar Attended": True})
        + '\n{"Email": "admin12@clinic12.example.com",\n["not", "an", "object"]\n\n'
        + json.dumps({"Email": "nobody@nowhere.example.com", "Content Downloads": 1})
        + "\n"
    )

    result = engagement(file)

    assert result.exit_code == 1
    assert "recorded 1 engagement row(s) for 1 lead(s) (already recorded 0)" in result.stdout
    assert result.stderr.splitlines() == [
        f"{file}: row 2: not valid JSON: Expecting property name enclosed in double quotes "
        "at column 42",
        f"{file}: row 3: each line must be a JSON object",
        f"{file}: row 5: no lead with email 'nobody@nowhere.example.com'",
    ]
    stored = stored_engagement()
    assert (stored.lead_id, stored.payload["page_visits_high_intent"]) == (lead_id, "4")
    assert stored.payload["engagement"]["Webinar Attended"] == "true"


def test_medleads_engagement_names_a_ragged_row_and_reads_cp1252_bytes(
    settings_env: Path, tmp_path: Path
) -> None:
    (lead_id,) = feed(form(13, timeframe=None))
    file = tmp_path / "engagement.csv"
    file.write_bytes(
        b"Lead ID;Timeframe;Content Downloads\n"
        + f"{lead_id};next quarter;1;surplus\n".encode()
        + f"{lead_id};within 30 days – budget approved;2\n".encode("cp1252")
    )

    result = engagement(file)

    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"{file}: row 2: 4 values for 3 columns (a stray delimiter?)"
    ]
    stored = stored_engagement()
    assert stored.payload["engagement"]["Timeframe"] == "within 30 days – budget approved"
