"""Human review under a real Prefect server with the review deployment served in another process:
runs really suspend (no process held), resume through the API like the UI, apply once."""

from __future__ import annotations

import contextlib
import json
import os
import signal
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
from qualification.review_choices import choice_label
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


def inbox() -> set[str]:
    """The review runs of this module's database the UI's inbox lists (`/runs?tag=review-pending`;
    the session's server may hold other modules' runs)."""
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags

    with session_scope() as session:
        ours = {r for r in session.exec(select(Review.flow_run_id)).all() if r}
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=["review-pending"]))
        )
    return {str(r.id) for r in runs} & ours


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


def run_of(flow_run_id: str) -> Any:
    with get_client(sync_client=True) as client:
        return client.read_flow_run(UUID(flow_run_id))


def form_description(flow_run_id: str, key: str) -> str:
    with get_client(sync_client=True) as client:
        stored = client.read_flow_run_input(UUID(flow_run_id), f"suspended-{key}-description")
    return str(json.loads(stored))


def artifact_of(flow_run_id: str) -> str:
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(
                flow_run_id=ArtifactFilterFlowRunId(any_=[UUID(flow_run_id)])
            )
        )
    keys = {a.key for a in found if a.type == "markdown"}
    review_key = next(k for k in keys if k and not k.endswith("-scorecard"))
    assert keys == {review_key, f"{review_key}-scorecard"}
    (outcome,) = [a for a in found if a.key == review_key]
    return str(outcome.data)


def test_a_review_suspends_is_refused_bad_input_and_applies_one_decision(served: Path) -> None:
    review = open_review(1)
    assert review.flow_run_id is not None
    # Suspended means the run's process has exited: nothing is held while a person decides.
    run = run_of(review.flow_run_id)
    assert review.due_at is not None
    due = f"{review.due_at:%m-%d %H:%M}"
    assert (
        run.name == f"review {review.id[:8]}: Lakeside Wellness 1 (proposed nurture, due {due} UTC)"
    )
    assert {"review", "review-pending"} <= set(run.tags)
    assert run.state is not None and run.state.is_paused()
    assert run.state.message.startswith("waiting for a reviewer: Lakeside Wellness 1")
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
    context = notices[0].template_context
    assert review.flow_run_id in context["review_url"]
    assert context["inbox_url"].endswith("/runs?tag=review-pending")
    assert context["lead_label"] == run.name  # one short id: the subject names the run
    assert context["reason"].startswith("high intent but low fit. unknown, not failed: must-have")

    # What the schema can say, Prefect refuses and the run stays suspended: no reviewer, a
    # disqualification without its reason, a reviewer the sheet does not list.
    for bad in (
        {"decision": "approve_sql: hand off to sales now (status sql)"},
        {"decision": "disqualify", "reviewer": "revops@example.com"},
        {"decision": "nurture: nurture program, no sales time (status nurture)", "reviewer": "x"},
    ):
        with pytest.raises(ValueError, match="refused by Prefect"):
            resume_review(review.id, {**bad, "via": "api"})
        assert run_state(review.flow_run_id) == "Suspended"

    # need_more_info without a note passes the schema but not our rule: refused, suspended
    # again, and the state and the re-opened form say why and what to do.
    resume_review(
        review.id,
        {
            "decision": "need_more_info: marketing collects what is missing; say what in the note",
            "reviewer": "revops@example.com",
            "via": "api",
        },
    )
    deadline = time.monotonic() + 60
    while not events(review.id) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert events(review.id) == [("refused", "revops@example.com", "api")]
    wait_for(review.flow_run_id, {"Suspended"})
    deadline = time.monotonic() + 30
    while "refused" not in (run_of(review.flow_run_id).state.message or ""):
        assert time.monotonic() < deadline, run_of(review.flow_run_id).state
        time.sleep(0.5)
    assert run_of(review.flow_run_id).state.message == (
        "last answer refused: need_more_info needs a note saying what marketing should collect: "
        "write it in Note; choose again"
    )
    assert "Your last answer was refused:" in form_description(review.flow_run_id, "review-1")
    assert "need\\_more\\_info needs a note" in form_description(review.flow_run_id, "review-1")

    result = runner.invoke(
        app, ["review", "approve", review.id[:8], "--reviewer", "revops", "--note", "known account"]
    )
    assert result.exit_code == 0, result.output
    assert "recorded as reviewer revops@example.com" in result.stdout
    assert "lead is now sql (review_approved_sql)" in result.stdout
    assert wait_for(review.flow_run_id, {"Completed", "Failed"}) == "Completed"

    with session_scope() as session:
        lead = session.get(Lead, review.lead_id)
        stored = session.get(Review, review.id)
    assert lead is not None and stored is not None
    assert (lead.status, lead.team) == ("sql", "sales")
    assert lead.owner_id == "carla-reyes"  # the sales owner for MA
    assert (stored.state, stored.decided_by, stored.via) == ("decided", "revops@example.com", "cli")
    assert events(review.id) == [
        ("refused", "revops@example.com", "api"),
        ("decision", "revops@example.com", "cli"),
    ]
    (handoff,) = handoffs_for(served, review.lead_id)
    assert handoff["status"] == "sql"
    assert any(
        "Reviewer revops@example.com chose approve_sql via cli" in r for r in handoff["top_reasons"]
    )
    assert handoff["account"]["id"] == lead.organization_id
    # The run page says what happened: the state message, the artifact, the inbox tag gone.
    done = run_of(review.flow_run_id)
    assert done.state.message == (
        "Lakeside Wellness 1: lead is now sql (review_approved_sql), owner Carla Reyes (sales), "
        f"handoff delivered to jsonl at {handoff_time(review.lead_id)}; decided by "
        "revops@example.com via cli"
    )
    assert "review-pending" not in done.tags and "review-decided" in done.tags
    artifact = artifact_of(review.flow_run_id)
    assert f"# Review {review.id[:8]}: decided" in artifact
    assert "| **Owner** | Carla Reyes \\(sales\\) |" in artifact
    assert "| **Decided by** | revops\\@example\\.com via cli |" in artifact
    # The reviewer's decision records the sheet it was routed with.
    with session_scope() as session:
        decided = session.exec(
            select(DecisionRecord).where(col(DecisionRecord.decided_by) == "revops@example.com")
        ).one()
    assert decided.criteria_version == active_criteria().version == handoff["criteria_version"]

    # A second decision is refused with a clear message, and nothing changes.
    again = runner.invoke(
        app, ["review", "reject", review.id[:8], "--reason", "spam", "--reviewer", "revops"]
    )
    assert again.exit_code == 1
    assert "was already decided: approve_sql by revops@example.com via cli" in again.stderr
    assert len(handoffs_for(served, review.lead_id)) == 1


def handoff_time(lead_id: str) -> str:
    from models.tables import Handoff

    with session_scope() as session:
        row = session.exec(select(Handoff).where(col(Handoff.lead_id) == lead_id)).one()
    assert row.delivered_at is not None
    return f"{row.delivered_at:%Y-%m-%d %H:%M} UTC"


def test_the_cli_records_a_sheet_reviewer_never_a_system_account(
    served: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MEDLEADS_REVIEWER", raising=False)
    monkeypatch.setattr("getpass.getuser", lambda: "root")
    result = runner.invoke(app, ["review", "approve", "0000"])
    assert result.exit_code == 2
    assert "the OS user 'root' is not a person: say who decides with --reviewer" in result.stderr
    result = runner.invoke(app, ["review", "approve", "0000", "--reviewer", "mallory"])
    assert result.exit_code == 2
    assert "'mallory' (--reviewer) is not a reviewer of the criteria sheet: one of" in (
        result.stderr
    )


def test_the_sweep_reminds_escalates_then_applies_the_default(
    served: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    review = open_review(2)
    assert review.flow_run_id is not None
    listed = runner.invoke(app, ["review", "list", "--format", "jsonl"])
    lines = [json.loads(x) for x in listed.stdout.splitlines()]
    line = next(x for x in lines if x["review_id"] == review.id)
    assert (line["sla_state"], line["flow_run_id"]) == ("ok", review.flow_run_id)
    # The inbox (runs tagged review-pending) and `review list` agree.
    assert inbox() == {x["flow_run_id"] for x in lines} == {review.flow_run_id}

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
    assert inbox() == set()
    monkeypatch.delenv("MEDLEADS_CLOCK_OFFSET_HOURS")
    get_settings.cache_clear()  # the clock back for the tests after


@contextlib.contextmanager
def no_process_free() -> Iterator[None]:
    """`medleads serve` frozen (SIGSTOP): a resumed run waits in its queue, as behind hundreds
    of review runs on a busy cluster."""
    os.kill(SERVED["pid"], signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(SERVED["pid"], signal.SIGCONT)


def test_an_answer_given_in_the_ui_is_applied_by_the_sweep_while_the_run_waits_for_a_process(
    served: Path,
) -> None:
    refused, approved = open_review(4), open_review(5)
    assert refused.flow_run_id and approved.flow_run_id
    ui = {"reviewer": "revops@example.com", "note": ""}  # the UI sends no `via`
    with no_process_free():
        resume_review(refused.id, {**ui, "decision": choice_label("need_more_info")})  # no note
        resume_review(approved.id, {**ui, "decision": choice_label("approve_sql")})
        assert run_state(approved.flow_run_id) == "Resuming"
        report = review_sweep()
        assert (report.applied, report.refused) == ([approved.id], [refused.id])
        with session_scope() as session:
            lead = session.get(Lead, approved.lead_id)
            assert lead is not None and (lead.status, lead.owner_id) == ("sql", "carla-reyes")
        assert events(approved.id) == [("decision", "revops@example.com", "ui")]
        assert events(refused.id) == [("refused", "revops@example.com", "ui")]
        (handoff,) = handoffs_for(served, approved.lead_id)  # the sweep handed it off
        # The decided run leaves the inbox at once; the refused one stays in it.
        assert inbox() >= {refused.flow_run_id} and approved.flow_run_id not in inbox()
        assert review_sweep().applied == []  # an answer is applied once
    # The runs start again later: the decided one completes with the outcome, nothing twice;
    # the refused one waits again saying why, its answer not refused a second time.
    assert wait_for(approved.flow_run_id, {"Completed", "Failed"}) == "Completed"
    assert "lead is now sql (review_approved_sql)" in run_of(approved.flow_run_id).state.message
    assert events(approved.id) == [("decision", "revops@example.com", "ui")]
    assert handoffs_for(served, approved.lead_id) == [handoff]
    deadline = time.monotonic() + 60
    while "refused" not in (run_of(refused.flow_run_id).state.message or ""):
        assert time.monotonic() < deadline, run_of(refused.flow_run_id).state
        time.sleep(0.5)
    assert run_state(refused.flow_run_id) == "Suspended"
    assert events(refused.id) == [("refused", "revops@example.com", "ui")]
    assert "need\\_more\\_info needs a note" in form_description(refused.flow_run_id, "review-1")


def test_a_cli_answer_our_rules_refuse_says_why_and_the_run_waits_again(served: Path) -> None:
    review = open_review(6)
    assert review.flow_run_id
    result = runner.invoke(
        app, ["review", "route", review.id[:8], "--as", "more-info", "--reviewer", "revops"]
    )
    assert result.exit_code == 1
    assert f"review {review.id[:8]}: need_more_info refused: need_more_info needs a note" in (
        result.stderr
    )
    assert events(review.id) == [("refused", "revops@example.com", "cli")]
    deadline = time.monotonic() + 60
    while "refused" not in (run_of(review.flow_run_id).state.message or ""):
        assert time.monotonic() < deadline, run_of(review.flow_run_id).state
        time.sleep(0.5)
    assert run_state(review.flow_run_id) == "Suspended"
    assert events(review.id) == [("refused", "revops@example.com", "cli")]  # refused once


def test_bulk_decisions_apply_line_by_line_and_report_bad_lines(
    served: Path, tmp_path: Path
) -> None:
    review = open_review(3)
    shown = runner.invoke(app, ["review", "show", review.id[:8]])
    assert shown.exit_code == 0, shown.output
    text = " ".join(shown.stdout.split())
    assert "Why a person decides: high intent but low fit." in text
    assert "Contact: Jordan Blake," in text and "jordan3@lakeside3.example.com" in text
    assert "**" not in text and "\\" not in text  # rendered, not raw Markdown

    decisions = tmp_path / "decisions.csv"
    decisions.write_text(
        "review_id,decision,reason,note\n"
        "nope,approve,,\n"
        f"{review.id},maybe,,\n"
        f"{review.id[:8]},reject,,\n"
        f"{review.lead_id[:8]},reject,wrong_org_type,a wellness spa\n"  # a lead id works too
    )
    result = runner.invoke(
        app, ["review", "bulk", "--file", str(decisions), "--reviewer", "sales.manager"]
    )
    assert result.exit_code == 1  # three bad lines, reported; the good one still applied
    assert "review nope: refused: no review 'nope'" in result.stderr
    assert f"{decisions}: row 3: needs review_id and a decision" in result.stderr
    assert f"{decisions}: row 4: reason '': disqualify needs one of out_of_geography" in (
        result.stderr
    )
    assert "lead is now disqualified (wrong_org_type)" in result.stdout
    assert review.flow_run_id is not None
    assert wait_for(review.flow_run_id, {"Completed", "Failed"}) == "Completed"
    assert events(review.id) == [("decision", "sales.manager@example.com", "cli")]


def test_the_review_form_offers_every_choice_and_the_sheet_reviewers() -> None:
    from prefect._internal.pydantic.v2_schema import create_v2_schema

    from qualification.review_choices import CHOICES
    from tasks.review import review_input

    form = review_input(["revops@example.com", "sales@example.com"], "the scorecard")
    schema = create_v2_schema(form.__name__, model_base=form)
    assert schema["properties"]["decision"]["enum"] == list(CHOICES)
    assert schema["properties"]["reviewer"]["enum"] == ["revops@example.com", "sales@example.com"]
    assert set(schema["required"]) == {"decision", "reviewer"}
    assert "via" not in schema["properties"] and "additionalProperties" not in schema
    # A stored answer always loads (the flow validates it after resume, never crashes on it).
    assert form(decision="x", reviewer="y", via="cli").model_dump()["via"] == "cli"


def test_reviews_of_an_undeployed_review_flow_wait_for_the_sweep_after_one_lookup(
    settings_env: Path,
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import tasks.review as review_tasks
    from tests.integration.test_one_road import FORM, post, process

    post(db_url, FORM)
    process(db_url)
    with session_scope(db_url) as session:
        lead = session.exec(select(Lead)).one()
        reviews = [
            Review(lead_id=lead.id, decision_id=lead.last_decision_id, reasons=["x"])
            for _ in range(3)
        ]
        session.add_all(reviews)
        session.flush()
        review_ids = [r.id for r in reviews]
    lookups: list[str] = []
    real = review_tasks.read_deployment_id

    def counted(name: str) -> UUID | None:
        lookups.append(name)
        return real(name)

    monkeypatch.setattr(review_tasks, "read_deployment_id", counted)
    monkeypatch.setattr(review_tasks, "REVIEW_DEPLOYMENT", "review/never-deployed")
    with caplog.at_level("WARNING"):
        runs = review_tasks.start_review_runs(review_ids)
    assert runs == dict.fromkeys(review_ids)
    assert lookups == ["review/never-deployed"]  # one lookup for the three, not one each
    assert "3 review(s) wait for the sweep" in caplog.text
    with session_scope(db_url) as session:
        stored = session.exec(select(Review).where(col(Review.id).in_(review_ids))).all()
        assert [r.flow_run_id for r in stored] == [None, None, None]
    # Reviews that have a run, or are no longer pending, are not looked up again.
    lookups.clear()
    with session_scope(db_url) as session:
        for review in session.exec(select(Review).where(col(Review.id).in_(review_ids))):
            review.state = "decided"
    assert review_tasks.start_review_runs(review_ids) == dict.fromkeys(review_ids)
    assert lookups == []
