"""`medleads replay`: stored submissions judged again under a draft sheet, nothing written."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlmodel import SQLModel
from typer.testing import CliRunner

from adapters.rows import SubmissionFile
from adapters.submissions import store_submissions
from cli.main import app
from models.db import get_engine, session_scope
from models.tables import Lead
from qualification.criteria import load_criteria
from qualification.evaluate import evaluate
from tasks.apply import apply_decisions
from tasks.criteria import activate, active_criteria, reading
from tasks.store import claim_pending
from tests.paths import DEFAULT_SHEET, SAMPLES

runner = CliRunner()
TODAY = dt.date(2026, 11, 27)


def draft_sheet(tmp_path: Path) -> Path:
    """The default sheet with a demo request worth 30 intent points instead of 40."""
    path = tmp_path / "draft.yaml"
    # form-0001 gives a budget range and a current system (vendor switching), nice-to-haves
    # worth 10 intent points each (DESIGN §3, issue 12): the draft scores them 0 as well, so the
    # demo request moves as it did before.
    path.write_text(
        DEFAULT_SHEET.read_text()
        .replace("demo: 40,", "demo: 30,")
        .replace("budget_signal:\n    points: 10", "budget_signal:\n    points: 0")
        .replace("vendor_switching:\n    points: 10", "vendor_switching:\n    points: 0")
    )
    return path


def decide(path: Path, channel: str) -> None:
    rows = [(r.submission, r.raw) for r in SubmissionFile(path, channel=channel).rows()]
    store_submissions([(s, raw) for s, raw in rows if s is not None])
    criteria = active_criteria()
    chunk = claim_pending.fn(channel, 100, "run-1")
    decisions = [evaluate(c.submission(), criteria, today=TODAY) for c in chunk]
    apply_decisions.fn(chunk, decisions, criteria, "run-1")


def snapshot() -> dict[str, Any]:
    """Row counts of every table and a checksum of every lead row."""
    with session_scope() as session:
        counts = {
            t.name: session.execute(select(func.count()).select_from(t)).scalar_one()
            for t in SQLModel.metadata.sorted_tables
        }
        leads = session.execute(select(Lead.__table__).order_by(text("id"))).all()  # type: ignore[attr-defined]
    digest = hashlib.sha256(repr([tuple(row) for row in leads]).encode()).hexdigest()
    return {"counts": counts, "leads": digest}


def replay(*args: str | Path) -> Any:
    return runner.invoke(app, ["replay", *[str(a) for a in args]])


@pytest.fixture
def decided(settings_env: Path) -> Path:
    activate(DEFAULT_SHEET, by="test")
    decide(SAMPLES / "forms.jsonl", "form")
    decide(SAMPLES / "webinar.csv", "webinar")
    return settings_env


def test_a_lower_demo_weight_moves_three_form_leads_and_writes_nothing(
    decided: Path, tmp_path: Path
) -> None:
    before = snapshot()

    result = replay("--criteria", draft_sheet(tmp_path), "--format", "jsonl", "--examples", "5")

    assert result.exit_code == 0, result.output
    summary, *lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert (summary["replayed"], summary["unchanged"], summary["changed"]) == (21, 18, 3)
    assert summary["live_versions"] == {load_criteria(DEFAULT_SHEET).version: 21}
    moves = {(x["kind"], x["from"], x["to"]): x for x in lines}
    assert {k: x["submissions"] for k, x in moves.items() if k[0] == "band"} == {
        ("band", "high/high", "high/mid"): 2,
        ("band", "low/high", "low/mid"): 1,
    }
    assert {k: x["submissions"] for k, x in moves.items() if k[0] == "status"} == {
        ("status", "sql", "mql"): 1,
        ("status", "in_review", "mql"): 1,
        ("status", "in_review", "nurture"): 1,
    }
    moved = {e["submission_id"] for x in lines for e in x["examples"]}
    assert moved == {"form-0001", "form-0005", "form-0006"}
    (sql,) = moves[("status", "sql", "mql")]["examples"]
    assert sql["organization"] == "Hudson Valley Cardiology Associates"
    assert sql["lead_id"] and sql["top_reason"]
    assert snapshot() == before


def test_the_table_names_what_would_change_and_the_filters_narrow_it(
    decided: Path, tmp_path: Path
) -> None:
    draft = draft_sheet(tmp_path)
    table = replay("--criteria", draft)
    assert table.exit_code == 0, table.output
    assert "21 submissions compared" in table.stdout
    assert "18 unchanged, 3 would change" in table.stdout
    assert "Hudson Valley Cardiology" in table.stdout and "sql -> mql" in table.stdout
    assert "owner: who routing would pick" in table.stdout

    webinar = replay("--criteria", draft, "--channel", "webinar", "--format", "jsonl")
    assert json.loads(webinar.stdout.splitlines()[0])["replayed"] == 5
    # form-0001 arrived on 2026-11-20, form-0005 and form-0006 on 2026-11-23.
    late = replay("--criteria", draft, "--since", "2026-11-21", "--format", "jsonl")
    assert [e["submission_id"] for e in _examples(late.stdout, "status")] == [
        "form-0005",
        "form-0006",
    ]


def _examples(output: str, kind: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in output.splitlines()]
    return sorted(
        (e for x in lines if x["kind"] == kind for e in x["examples"]),
        key=lambda e: e["submission_id"],
    )


def test_the_replay_connection_refuses_writes(decided: Path) -> None:
    with pytest.raises(Exception, match=r"(?i)read.only|readonly"), reading() as conn:
        conn.execute(Lead.__table__.delete())  # type: ignore[attr-defined]
    with get_engine().connect() as conn:
        assert conn.execute(select(func.count()).select_from(Lead)).scalar_one() == 21


def test_a_missing_draft_is_refused_naming_the_file(settings_env: Path, tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    result = replay("--criteria", missing)
    assert result.exit_code == 2
    assert f"{missing}: (file): No such file or directory" in result.stderr


def test_an_invalid_draft_is_refused_naming_the_file_and_key(
    settings_env: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(DEFAULT_SHEET.read_text().replace("demo: 40,", "demo: 400,"))
    result = replay("--criteria", bad)
    assert result.exit_code == 2
    assert f"{bad}: intent.interest_type.demo: Input should be less than or equal to 100" in (
        result.stderr
    )


def test_a_bad_since_date_names_the_option(settings_env: Path, tmp_path: Path) -> None:
    result = replay("--criteria", draft_sheet(tmp_path), "--since", "2026-02-30")
    assert result.exit_code == 2
    assert "--since '2026-02-30': expected a date YYYY-MM-DD" in result.stderr


def test_replay_needs_a_draft_or_shadow(settings_env: Path) -> None:
    assert replay().exit_code == 2
    assert replay("--shadow", "--criteria", str(DEFAULT_SHEET)).exit_code == 2
    nothing = replay("--shadow")
    assert nothing.exit_code == 2 and "no shadow sheet was ever set" in nothing.stderr


def test_replay_tells_its_progress_up_to_every_submission(decided: Path, tmp_path: Path) -> None:
    from tasks.replay import replay as replay_task

    told: list[tuple[int, int]] = []
    report, _ = replay_task(
        load_criteria(draft_sheet(tmp_path)),
        progress=lambda done, total: told.append((done, total)),
    )
    assert told[0] == (0, 21) and told[-1] == (21, 21)
    assert report.replayed == 21
