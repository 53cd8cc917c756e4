"""Text is made safe once, at the door (DESIGN §8): a lone surrogate, a NUL or a control
character never reaches the database, and what cannot be stored is refused naming the field."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from adapters.rows import SubmissionFile
from adapters.submissions import store_submissions
from cli.main import app
from models.db import session_scope
from models.tables import Contact, Lead, Organization, RawSubmission
from qualification.criteria import load_criteria
from qualification.evaluate import evaluate
from qualification.submission import submission_from_mapping
from tasks.apply import apply_decisions
from tasks.store import claim_pending
from tests.integration.test_delivery_outages import time_passes
from tests.integration.test_intake import FORM, Intake

# Fixtures shared with the intake tests (a signed intake on a loopback port).
from tests.integration.test_intake import configured as configured
from tests.integration.test_intake import intake as intake
from tests.paths import DEFAULT_SHEET

CRITERIA = load_criteria(DEFAULT_SHEET)
runner = CliRunner()
POISONS = {
    "lone surrogate": "X \ud800 Y",
    "NUL": "X \x00 Y",
    "escape": "X \x1b[31m Y",
    "bidi override": "X \u202e Y",
}
FIELDS = ("organization_name", "contact_name", "campaign", "source", "form_version", "consent_text")


def decide_all(url: str, channel: str = "form") -> None:
    while chunk := claim_pending.fn(channel, 100, "run-1", url=url):
        decisions = [evaluate(c.submission(), CRITERIA, today=dt.date(2026, 11, 27)) for c in chunk]
        apply_decisions.fn(chunk, decisions, CRITERIA, "run-1", url=url)


def test_poison_text_is_accepted_made_safe_and_decided_with_the_good_posts(
    intake: Intake, db_url: str
) -> None:
    posts = [{**FORM, "submission_id": "good-1"}]
    for n, poison in enumerate(POISONS.values()):
        for name in FIELDS:
            email = f"p{n}@{name.replace('_', '')}{n}.example.org"  # one account each
            posts.append({**FORM, name: poison, "submission_id": f"p-{n}-{name}", "email": email})
    posts.append({**FORM, "submission_id": "good-2", "email": "good2@x.org"})
    for post in posts:
        response = intake.post("/v1/forms", post)
        assert response.status_code == 202, (post["submission_id"], response.text)

    decide_all(db_url)
    with session_scope(db_url) as session:
        rows = session.exec(select(RawSubmission)).all()
        names = set(session.exec(select(Organization.name)).all())
        contacts = set(session.exec(select(Contact.name)).all())
    assert len(rows) == len(posts)
    assert {r.state for r in rows} == {"done"}
    assert "X \ufffd Y" in names and "X \ufffd Y" in contacts  # the surrogate, replaced
    assert "X  Y" in names  # NUL, escape and override removed
    for row in rows:
        text = str(row.payload)
        assert "\x00" not in text and "\ud800" not in text and "\u202e" not in text


@pytest.mark.parametrize(
    ("change", "key", "why"),
    [
        ({"locations_count": "1e400"}, "locations_count", "must be a finite number"),
        ({"organization_name": "x" * 600}, "organization_name", "the limit is 512"),
        ({"utm_campaign": "c" * 300}, "utm_campaign", "the limit is 255"),
        (
            {"contact_name": None, "first_name": "a" * 300, "last_name": "b" * 300},
            "first_name + last_name",
            "the limit is 512",
        ),
    ],
)
def test_a_value_that_cannot_be_stored_is_refused_naming_the_key_sent(
    intake: Intake, db_url: str, change: dict[str, object], key: str, why: str
) -> None:
    body = json.dumps({**FORM, **change}).encode().replace(b'"1e400"', b"1e400")
    response = intake.post("/v1/forms", body)
    assert response.status_code == 422
    [problem] = response.json()["detail"]
    assert problem["loc"] == ["body", key] and why in problem["msg"]
    with session_scope(db_url) as session:
        assert session.exec(select(RawSubmission)).all() == []


def test_a_list_row_too_long_for_its_field_is_rejected_and_the_others_are_decided(
    settings_env: Path, db_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "list.csv"
    path.write_text(
        "Company,Email,State,Title\n"
        "Acme\x00 Cardiology,a@acme.example.com,NY,CEO\n"
        f"{'B' * 600},b@beta.example.com,NJ,COO\n"
        "Gamma Clinic,c@gamma.example.com,NY,Practice Administrator\n"
    )
    rows = list(SubmissionFile(path, channel="outbound").rows())
    assert [r.row for r in rows if r.submission] == [2, 4]
    [bad] = [r for r in rows if r.submission is None]
    assert (bad.row, bad.column) == (3, "organization_name")
    assert "holds 600 characters; the limit is 512" in (bad.error or "")
    assert rows[0].submission is not None
    assert rows[0].submission.organization_name == "Acme Cardiology"


def poison_for(db_url: str) -> dict[str, str]:
    """A stored value the database refuses, as older data or a direct write can hold: SQLite
    cannot encode a lone surrogate, PostgreSQL refuses a name longer than its column."""
    if db_url.startswith("sqlite"):
        return {"contact_name": "X \ud800 Y"}
    return {"organization_name": "Z" * 600}


def test_a_row_the_database_refuses_is_set_aside_and_the_rest_of_the_chunk_commits(
    settings_env: Path, db_url: str
) -> None:
    payloads = [
        {**FORM, "submission_id": f"s-{n:02}", "email": f"p{n}@site{n}.example.org"}
        for n in range(31)
    ]
    payloads[10] |= poison_for(db_url)
    store_submissions([(submission_from_mapping(p), p) for p in payloads], "test", url=db_url)
    chunk = claim_pending.fn("form", 100, "run-1", url=db_url)
    decisions = [evaluate(c.submission(), CRITERIA, today=dt.date(2026, 11, 27)) for c in chunk]
    result = apply_decisions.fn(chunk, decisions, CRITERIA, "run-1", url=db_url)

    assert [sid for sid, _ in result.failed] == ["s-10"]
    assert len(result.lead_ids) == 30
    with session_scope(db_url) as session:
        states = {r.id: (r.state, r.error) for r in session.exec(select(RawSubmission))}
        leads = session.exec(select(Lead)).all()
    assert len(leads) == 30
    assert {s for sid, (s, _) in states.items() if sid != "s-10"} == {"done"}
    state, error = states["s-10"]
    assert state == "failed" and error
    assert "X" not in error and "ZZZ" not in error  # why, never the value

    # The next run does not take it again at once; `leads failed` shows it and its next try.
    assert claim_pending.fn("form", 100, "run-2", url=db_url) == []
    listed = runner.invoke(app, ["leads", "failed", "--format", "jsonl"])
    [line] = [json.loads(line) for line in listed.stdout.splitlines()]
    assert (line["submission_id"], line["attempts"]) == ("s-10", 1)
    assert line["next_attempt_at"] is not None

    # It is tried again by itself when due, up to MEDLEADS_SUBMISSION_MAX_ATTEMPTS (3) in all,
    # then left for a person: never reclaimed forever.
    for attempt in (2, 3):
        time_passes(db_url, RawSubmission)
        again = claim_pending.fn("form", 100, f"run-{attempt}", url=db_url)
        assert [c.id for c in again] == ["s-10"]
        decided = [evaluate(c.submission(), CRITERIA, today=dt.date(2026, 11, 27)) for c in again]
        assert apply_decisions.fn(again, decided, CRITERIA, f"run-{attempt}", url=db_url).failed
    time_passes(db_url, RawSubmission)
    assert claim_pending.fn("form", 100, "run-4", url=db_url) == []
    with session_scope(db_url) as session:
        row = session.get(RawSubmission, "s-10")
        assert row is not None
        assert (row.state, row.attempts, row.next_attempt_at) == ("failed", 3, None)

    # After a fix, `--retry` puts it back with its attempts reset.
    assert runner.invoke(app, ["leads", "failed", "--retry", "s-10"]).exit_code == 0
    assert [c.id for c in claim_pending.fn("form", 100, "run-5", url=db_url)] == ["s-10"]
