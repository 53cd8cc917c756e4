"""CRM outcomes imported from messy exports, on a real SQLite file and the real PostgreSQL."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, func, select
from typer.testing import CliRunner

from cli.main import app
from models.db import session_scope
from models.tables import (
    Contact,
    DecisionRecord,
    Lead,
    LeadKey,
    Organization,
    Outcome,
    OwnerState,
)
from qualification.contact import check_email
from tasks.outcomes import import_outcomes

runner = CliRunner()
TODAY = dt.datetime.now(dt.UTC).date()
DAY = dt.timedelta(days=1)


def us(day: dt.date) -> str:
    return day.strftime("%m/%d/%Y")


def add_lead(lead_id: str, status: str, owner: tuple[str, str] | None = None) -> None:
    email = f"admin@{lead_id}.example.com"
    with session_scope() as session:
        org = Organization(id=f"org-{lead_id}", name=lead_id)
        contact = Contact(id=f"c-{lead_id}", organization_id=org.id, email=email)
        session.add_all(
            [
                org,
                contact,
                Lead(
                    id=lead_id,
                    organization_id=org.id,
                    contact_id=contact.id,
                    channel="form",
                    status=status,
                    reason="x",
                    fit_band="high",
                    intent_band="high",
                    owner_id=owner[0] if owner else None,
                    team=owner[1] if owner else None,
                    criteria_version="test@1",
                    recheck_at=dt.datetime.now(dt.UTC) + 30 * DAY,
                ),
                LeadKey(key=f"email:{check_email(email).dedupe_key}", lead_id=lead_id),
            ]
        )
        if owner:
            state = session.get(OwnerState, owner[0]) or OwnerState(id=owner[0], team=owner[1])
            state.open_leads += 1
            state.assigned_total += 1
            session.add(state)


@pytest.fixture
def leads(settings_env: Path) -> Path:
    add_lead("leada", "sql", ("ava-patel", "sales"))
    add_lead("leadb", "mql", ("mia-chen", "marketing"))
    add_lead("leadc", "mql", ("noah-kim", "marketing"))
    add_lead("leadd", "mql", ("noah-kim", "marketing"))
    add_lead("leade", "disqualified")
    return settings_env


def write(path: Path, rows: list[list[str]], encoding: str = "utf-8-sig", sep: str = ",") -> Path:
    with path.open("w", newline="", encoding=encoding) as f:
        csv.writer(f, delimiter=sep).writerows(rows)
    return path


def lead(lead_id: str) -> Lead:
    with session_scope() as session:
        found = session.get(Lead, lead_id)
    assert found is not None
    return found


def open_leads() -> dict[str, int]:
    with session_scope() as session:
        return {s.id: s.open_leads for s in session.exec(select(OwnerState))}


def count(model: Any, *where: Any) -> int:
    with session_scope() as session:
        return int(session.exec(select(func.count()).select_from(model).where(*where)).one())


def crm_export(tmp_path: Path) -> Path:
    """A Salesforce-style export: BOM, its own headers, semicolons, US dates, dollar amounts."""
    return write(
        tmp_path / "crm-export.csv",
        [
            ["Lead ID", "E-mail Address", "Stage", "Amount", "Close Date", "Opportunity ID"],
            ["leada", "", "Closed Won", "$12,000.50", us(TODAY - 3 * DAY), "OPP-1"],
            ["leadb", "", "Negotiation/Review", "8000", us(TODAY - 5 * DAY), "OPP-2"],
            ["", "ADMIN@leadc.example.com", "Closed Lost", "", us(TODAY - 2 * DAY), "OPP-3"],
        ],
        sep=";",
    )


def test_an_import_moves_statuses_records_why_and_keeps_owner_counters(
    leads: Path, tmp_path: Path
) -> None:
    result = runner.invoke(app, ["outcomes", "import", str(crm_export(tmp_path))])

    assert result.exit_code == 0, result.output
    assert "imported 3 outcome(s) for 3 lead(s); already imported 0; rejected 0" in result.stdout
    won, opportunity, lost = lead("leada"), lead("leadb"), lead("leadc")
    assert (won.status, won.reason, won.owner_id) == ("opportunity", "closed_won", None)
    assert (opportunity.status, opportunity.reason) == ("opportunity", "crm_opportunity")
    assert opportunity.owner_id == "mia-chen"  # an open opportunity stays with its owner
    assert (lost.status, lost.reason, lost.owner_id, lost.recheck_at) == (
        "closed_lost",
        "closed_lost",
        None,
        None,
    )
    assert open_leads() == {"ava-patel": 0, "mia-chen": 1, "noah-kim": 1}
    with session_scope() as session:
        stored = {
            o.lead_id: (o.outcome, o.crm_id, o.amount, o.occurred_at.date(), o.source_file, o.row)
            for o in session.exec(select(Outcome))
        }
        records = session.exec(
            select(DecisionRecord).where(col(DecisionRecord.decided_by) == "crm-import")
        ).all()
    assert stored == {
        "leada": ("closed_won", "OPP-1", 12000.5, TODAY - 3 * DAY, "crm-export.csv", 2),
        "leadb": ("opportunity", "OPP-2", 8000.0, TODAY - 5 * DAY, "crm-export.csv", 3),
        "leadc": ("closed_lost", "OPP-3", None, TODAY - 2 * DAY, "crm-export.csv", 4),
    }
    assert sorted((r.lead_id, r.status, r.reason, r.applied) for r in records) == [
        ("leada", "opportunity", "closed_won", True),
        ("leadb", "opportunity", "crm_opportunity", True),
        ("leadc", "closed_lost", "closed_lost", True),
    ]
    assert lead("leada").last_decision_id in {r.id for r in records}

    shown = runner.invoke(app, ["leads", "show", "leada"]).stdout
    assert "by crm-import: opportunity (closed_won)" in shown
    assert "CRM reports closed_won (crm id OPP-1, amount 12,000.50" in shown
    assert "crm-export.csv row 2" in shown
    assert "ava-patel no longer holds it" in shown


def test_importing_the_same_file_again_changes_nothing(leads: Path, tmp_path: Path) -> None:
    path = crm_export(tmp_path)
    import_outcomes(path)
    before = (count(Outcome), count(DecisionRecord), open_leads(), lead("leada").updated_at)

    again = import_outcomes(path)

    assert (again.imported, again.already_imported, again.rejections) == (0, 3, [])
    assert (count(Outcome), count(DecisionRecord), open_leads(), lead("leada").updated_at) == (
        before
    )


def test_bad_rows_are_reported_by_row_and_column_and_good_rows_still_import(
    leads: Path, tmp_path: Path
) -> None:
    old = us(TODAY - 9 * DAY)
    path = write(
        tmp_path / "deals.csv",
        [
            ["Lead ID", "Email", "Deal Stage", "Deal Amount", "Close Date", "Notes"],
            ["nobody", "", "closed won", "", old, ""],
            ["leada", "", "maybe later", "", old, ""],
            ["leadb", "", "opportunity", "", "31/31/2025", ""],
            ["leadc", "", "closed lost", "twelve grand", old, ""],
            ["", "who@nowhere.example.com", "won", "", old, ""],
            ["", "", "won", "", old, ""],
            ["leadd", "", "lost", "1,500", old, "Café – fine"],
            ["", "admin@leade.example.com", "Qualification", "", "", ""],
            ["leadc", "", "won", "", (TODAY + 30 * DAY).isoformat(), ""],
        ],
        encoding="cp1252",
    )
    result = runner.invoke(app, ["outcomes", "import", str(path)])

    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert f"{path}: row 2: column Lead ID: no lead 'nobody'" in lines
    assert f"{path}: row 3: column Deal Stage: 'maybe later' is not an outcome" in result.stderr
    assert any("row 4: column Close Date: '31/31/2025' is not a date" in x for x in lines)
    assert any("row 5: column Deal Amount: 'twelve grand' is not an amount" in x for x in lines)
    assert f"{path}: row 6: column Email: no lead with email 'who@nowhere.example.com'" in lines
    assert f"{path}: row 7: column Lead ID: neither a lead_id nor an email" in lines
    assert any("row 10: column Close Date:" in x and "is in the future" in x for x in lines)
    assert f"{path}: columns ignored: notes" in lines
    assert (lead("leadd").status, lead("leade").status) == ("closed_lost", "opportunity")
    assert count(Outcome) == 2
    assert (lead("leada").status, lead("leadb").status, lead("leadc").status) == (
        "sql",
        "mql",
        "mql",
    )
    (report,) = (leads / "reports").glob("deals-*-rejections.csv")
    with report.open(newline="") as f:
        rejected = list(csv.reader(f))
    assert rejected[0] == ["row", "column", "why"]
    assert [(r[0], r[1]) for r in rejected[1:]] == [
        ("2", "Lead ID"),
        ("3", "Deal Stage"),
        ("4", "Close Date"),
        ("5", "Deal Amount"),
        ("6", "Email"),
        ("7", "Lead ID"),
        ("10", "Close Date"),
    ]
    assert str(report) in result.stdout


def test_a_jsonl_export_imports_like_a_csv_and_names_each_bad_line(
    leads: Path, tmp_path: Path
) -> None:
    old = us(TODAY - 4 * DAY)
    lines = [
        {"Lead ID": "leada", "Stage": "Closed Won", "Amount": 12000, "Close Date": old},
        '{"Lead ID": "leadb", "Stage": ',
        {"E-mail Address": "ADMIN@leadc.example.com", "Stage": "Closed Lost", "Close Date": None},
        {"Lead ID": "leadd", "Stage": "maybe later"},
    ]
    path = tmp_path / "deals.jsonl"
    path.write_text("".join(f"{x if isinstance(x, str) else json.dumps(x)}\n" for x in lines))

    report = import_outcomes(path)

    assert (report.imported, report.already_imported) == (2, 0)
    assert [(r.row, r.column, r.why) for r in report.rejections] == [
        (2, "", "not valid JSON: Expecting value at column 31"),
        (4, "outcome", "'maybe later' is not an outcome (opportunity, closed_won, closed_lost)"),
    ]
    assert (lead("leada").status, lead("leada").reason) == ("opportunity", "closed_won")
    assert (lead("leadc").status, lead("leadd").status) == ("closed_lost", "mql")
    with session_scope() as session:
        amount = session.exec(select(Outcome.amount).where(col(Outcome.lead_id) == "leada")).one()
    assert amount == 12000.0


@pytest.mark.parametrize(
    ("header", "missing"),
    [
        (["Lead ID", "Amount"], "missing required column outcome"),
        (["Company", "Stage"], "missing required column lead_id (or email)"),
    ],
)
def test_a_file_without_a_required_column_is_refused_naming_it(
    leads: Path, tmp_path: Path, header: list[str], missing: str
) -> None:
    path = write(tmp_path / "bad.csv", [header, ["leada", "won"]])
    result = runner.invoke(app, ["outcomes", "import", str(path)])

    assert result.exit_code == 2
    assert f"{path}: {missing}" in result.stderr
    assert count(Outcome) == 0


def test_the_newest_outcome_decides_and_an_older_one_never_reopens_a_closed_lead(
    leads: Path, tmp_path: Path
) -> None:
    first = write(
        tmp_path / "first.csv",
        [
            ["lead_id", "outcome", "occurred_at"],
            ["leada", "opportunity", (TODAY - 20 * DAY).isoformat()],
            ["leada", "closed_won", (TODAY - 2 * DAY).isoformat()],
            ["leada", "opportunity", (TODAY - 1 * DAY).isoformat()],
        ],
    )
    report = import_outcomes(first)

    assert (report.imported, report.already_imported) == (2, 1)
    assert report.transitions == {"sql -> opportunity": 1}
    assert (lead("leada").status, lead("leada").reason) == ("opportunity", "closed_won")
    older = write(
        tmp_path / "older.csv",
        [["lead_id", "outcome", "occurred_at"], ["leada", "lost", (TODAY - 9 * DAY).isoformat()]],
    )
    import_outcomes(older)

    assert (lead("leada").status, lead("leada").reason) == ("opportunity", "closed_won")
    assert open_leads()["ava-patel"] == 0
    assert count(DecisionRecord, col(DecisionRecord.lead_id) == "leada") == 1
