"""Human review under a real Prefect server with the review deployment served in another process:
runs really suspend (no process held), resume through the API like the UI, apply once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from prefect.client.orchestration import get_client
from prefect.settings import PREFECT_API_URL
from sqlmodel import col, select
from typer.testing import CliRunner

from adapters.submissions import store_submissions
from cli.main import app
from flows.inbound_form import inbound_form
from flows.review_sweep import review_sweep
from models.db import session_scope, upgrade
from models.settings import get_settings
from models.tables import DecisionRecord, Lead, Review, ReviewEvent, SentEmail
from qualification.submission import submission_from_mapping
from tasks.criteria import active_criteria
from tasks.review import resume_review
from tests.paths import ROOT, SAMPLES

pytestmark = pytest.mark.usefixtures("prefect_server")
runner = CliRunner()
SERVED: dict[str, int] = {}  # the pid of `medleads serve` for this module


def borderline_form(n: int) -> dict[str, Any]:
    """A high-intent lead with low fit (Lakeside Wellness in the samples): borderline."""
    row = json.loads((SAMPLES / "forms.jsonl").read_text().splitlines()[4])
    row.update(
        submission_id=f"borderline-{n}",
        email=f"jordan{n}@lakeside{n}.example.com",
        phone=None,
        organization_name=f"Lakeside Wellness {n}",
    )
    return row


@pytest.fixture(scope="module")
def served(prefect_server: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Settings for the module and `medleads serve` running in its own process."""
    data = tmp_path_factory.mktemp("review") / "data"
    env = {
        "MEDLEADS_DATA_DIR": str(data),
        "MEDLEADS_DATABASE_URL": f"sqlite:///{data}/medleads.db",
        "MEDLEADS_CLOCK_OFFSET_HOURS": "0",
    }
    log_path = data.parent / "serve.log"
    with pytest.MonkeyPatch.context() as mp, log_path.open("wb") as log:
        for key, value in env.items():
            mp.setenv(key, value)
        get_settings.cache_clear()
        upgrade()
        # Only the review deployment: a scheduled intake sweep would race this test's own
        # inbound_form run for the submissions it stores.
        process = subprocess.Popen(
            [sys.executable, "-m", "flows.serve", "review"],
            cwd=ROOT,
            env={
                **os.environ,
                "PREFECT_API_URL": str(PREFECT_API_URL.value()),
                "PREFECT_RUNNER_POLL_FREQUENCY": "1",
                "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            },
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        SERVED["pid"] = process.pid
        try:
            _wait_for_deployment()
            yield data
        finally:
            process.terminate()
            process.wait(timeout=30)
            get_settings.cache_clear()


def _wait_for_deployment() -> None:
    deadline = time.monotonic() + 60
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            try:
                client.read_deployment_by_name("review-lead/review")
                return
            except Exception:
                time.sleep(0.5)
    raise AssertionError("the review deployment was not served within 60 s")


def run_state(flow_run_id: str) -> str:
    with get_client(sync_client=True) as client:
        state = client.read_flow_run(UUID(flow_run_id)).state
    return state.name if state else "none"


def wait_for(flow_run_id: str, names: set[str], timeout: float = 90) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        name = run_state(flow_run_id)
        if name in names:
            return name
        time.sleep(0.5)
    raise AssertionError(f"run {flow_run_id} is {run_state(flow_run_id)}, not {names}")


def open_review(n: int) -> Review:
    payload = borderline_form(n)
    store_submissions([(submission_from_mapping(payload), payload)])
    summary = inbound_form()
    assert len(summary.review_lead_ids) == 1
    with session_scope() as session:
        review = session.exec(
            select(Review).where(col(Review.lead_id) == summary.review_lead_ids[0])
        ).one()
    assert review.flow_run_id, "the review run was created from the deployment"
    assert wait_for(review.flow_run_id, {"Suspended", "Failed", "Crashed"}) == "Suspended"
    return review


def events(review_id: str) -> list[tuple[str, str, str]]:
    with session_scope() as session:
        rows = session.exec(
            select(ReviewEvent)
            .where(col(ReviewEvent.review_id) == review_id)
            .order_by(col(ReviewEvent.id))
        ).all()
    return [(e.kind, e.actor, e.via) for e in rows]


def handoffs_for(data: Path, lead_id: str) -> list[dict[str, Any]]:
    path = data / "handoffs.jsonl"
    lines = [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []
    return [line for line in lines if line["lead_id"] == lead_id]


def child_processes(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
    return [int(p) for p in found.stdout.split()]


def test_a_review_suspends_is_refused_bad_input_and_applies_one_decision(served: Path) -> None:
    review = open_review(1)
    assert review.flow_run_id is not None
    # Suspended means the run's process has exited: nothing is held while a person decides.
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(UUID(review.flow_run_id))
    assert run.name.startswith("review-lakeside-wellness-1-")
    assert run.state is not None and run.state.is_paused()
    deadline = time.monotonic() + 15
    while child_processes(SERVED["pid"]) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert child_processes(SERVED["pid"]) == []  # no flow-run process waits with it

    # The reviewer was told, with a link to the run.
    with session_scope() as session:
        notices = session.exec(
            select(SentEmail).where(col(SentEmail.kind) == "reviewer_notification")
        ).all()
    assert [n.to_address for n in notices] == ["revops@example.com"]
    assert review.flow_run_id in notices[0].template_context["review_url"]

    # Missing reviewer: the server refuses the input and the run stays suspended.
    with pytest.raises(ValueError, match="refused by Prefect"):
        resume_review(review.id, {"decision": "approve_sql", "via": "api"})
    assert run_state(review.flow_run_id) == "Suspended"

    # Disqualify without a reason passes the schema but not our rule: refused, suspended again.
    resume_review(review.id, {"decision": "disqualify", "reviewer": "bob", "via": "api"})
    deadline = time.monotonic() + 60
    while not events(review.id) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert events(review.id) == [("refused", "bob", "api")]
    wait_for(review.flow_run_id, {"Suspended"})

    result = runner.invoke(
        app, ["review", "approve", review.id[:8], "--reviewer", "alice", "--note", "known account"]
    )
    assert result.exit_code == 0, result.output
    assert "lead is now sql (review_approved_sql)" in result.stdout
    assert wait_for(review.flow_run_id, {"Completed", "Failed"}) == "Completed"

    with session_scope() as session:
        lead = session.get(Lead, review.lead_id)
        stored = session.get(Review, review.id)
    assert lead is not None and stored is not None
    assert (lead.status, lead.team) == ("sql", "sales")
    assert lead.owner_id == "carla-reyes"  # the sales owner for MA
    assert (stored.state, stored.decided_by, stored.via) == ("decided", "alice", "cli")
    assert events(review.id) == [("refused", "bob", "api"), ("decision", "alice", "cli")]
    (handoff,) = handoffs_for(served, review.lead_id)
    assert handoff["status"] == "sql"
    assert any("Reviewer alice chose approve_sql via cli" in r for r in handoff["top_reasons"])
    assert handoff["account"]["id"] == lead.organization_id
    # The reviewer's decision records the sheet it was routed with.
    with session_scope() as session:
        decided = session.exec(
            select(DecisionRecord).where(col(DecisionRecord.decided_by) == "alice")
        ).one()
    assert decided.criteria_version == active_criteria().version == handoff["criteria_version"]

    # A second decision is refused with a clear message, and nothing changes.
    again = runner.invoke(app, ["review", "reject", review.id[:8], "--reason", "spam"])
    assert again.exit_code == 1
    assert "was already decided: approve_sql by alice via cli" in again.stderr
    assert len(handoffs_for(served, review.lead_id)) == 1


def test_the_sweep_reminds_escalates_then_applies_the_default(
    served: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    review = open_review(2)
    assert review.flow_run_id is not None
    listed = runner.invoke(app, ["review", "list", "--format", "jsonl"])
    line = next(json.loads(x) for x in listed.stdout.splitlines() if review.id in x)
    assert (line["sla_state"], line["flow_run_id"]) == ("ok", review.flow_run_id)

    def sweep_at(hours: float) -> Any:
        monkeypatch.setenv("MEDLEADS_CLOCK_OFFSET_HOURS", str(hours))
        get_settings.cache_clear()
        return review_sweep()

    first = sweep_at(4.1)  # reminder_hours 4
    assert (first.reminded, first.escalated, first.expired) == ([review.id], [], [])
    second = sweep_at(8.1)  # escalate_hours 8
    assert (second.reminded, second.escalated, second.expired) == ([], [review.id], [])
    assert run_state(review.flow_run_id) == "Suspended"
    third = sweep_at(24.1)  # default_after_hours 24
    assert third.expired == [review.id]
    assert wait_for(review.flow_run_id, {"Completed", "Failed"}) == "Completed"

    assert [e[0] for e in events(review.id)] == ["reminder", "escalation", "decision"]
    assert events(review.id)[-1] == ("decision", "system", "sweep")
    with session_scope() as session:
        lead = session.get(Lead, review.lead_id)
        emails = session.exec(
            select(SentEmail.to_address, SentEmail.template_context).where(
                col(SentEmail.lead_id) == review.lead_id,
                col(SentEmail.kind) == "reviewer_notification",
            )
        ).all()
    assert lead is not None and (lead.status, lead.reason) == ("nurture", "review_expired")
    escalation = [to for to, ctx in emails if ctx["is_escalation"]]
    assert escalation == ["sales.manager@example.com"]
    assert sweep_at(30).expired == []  # nothing left to expire


def test_bulk_decisions_apply_line_by_line_and_report_bad_lines(
    served: Path, tmp_path: Path
) -> None:
    review = open_review(3)
    shown = runner.invoke(app, ["review", "show", review.id[:8]])
    assert shown.exit_code == 0, shown.output
    assert "Why a person decides:" in shown.stdout
    assert "Contact: Jordan Blake <jordan3@lakeside3.example.com>" in shown.stdout

    decisions = tmp_path / "decisions.csv"
    decisions.write_text(
        "review_id,decision,reason,note\n"
        "nope,approve,,\n"
        f"{review.id},maybe,,\n"
        f"{review.id},reject,wrong_org_type,a wellness spa\n"
    )
    result = runner.invoke(app, ["review", "bulk", "--file", str(decisions), "--reviewer", "dana"])
    assert result.exit_code == 1  # two bad lines, reported; the good one still applied
    assert "review nope: refused: no review 'nope'" in result.stderr
    assert f"{decisions}: row 3: needs review_id and a decision" in result.stderr
    assert "lead is now disqualified (wrong_org_type)" in result.stdout
    assert review.flow_run_id is not None
    assert wait_for(review.flow_run_id, {"Completed", "Failed"}) == "Completed"
    assert events(review.id) == [("decision", "dana", "cli")]


def test_the_review_form_offers_every_disqualification_reason() -> None:
    from typing import get_args

    from qualification.criteria import DISQUALIFICATION_REASONS
    from tasks.review import Reason

    assert set(get_args(Reason)) == {*DISQUALIFICATION_REASONS, "not_applicable"}
