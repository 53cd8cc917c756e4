"""The channel and lead commands of `medleads` against a real Prefect server and database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from tests.paths import SAMPLES

pytestmark = pytest.mark.usefixtures("prefect_server")
runner = CliRunner()
LEAD_KEYS = {
    "lead_id",
    "submission_ids",
    "status",
    "reason",
    "owner",
    "fit_score",
    "intent_score",
    "fit_band",
    "intent_band",
    "criteria_version",
}


def test_outbound_then_leads_list_and_show(settings_env: Path) -> None:
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    result = runner.invoke(app, ["outbound", str(SAMPLES / "outbound.csv")])
    assert result.exit_code == 0, result.output
    assert "outbound: 6 processed in 1 chunk(s); 6 new lead(s)" in result.stdout
    assert "rows stored 6, already stored 0, rejected 1" in result.stdout

    # What the progress bar of a terminal run reads: rows finished of the rows in the file.
    from cli.progress import data_rows, rows_finished

    assert (rows_finished("outbound.csv"), data_rows(SAMPLES / "outbound.csv")) == (6, 7)

    listed = runner.invoke(app, ["leads", "list", "--format", "jsonl"])
    lines = [json.loads(line) for line in listed.stdout.splitlines()]
    assert len(lines) == 6
    assert all(set(line) >= LEAD_KEYS for line in lines)
    albany = next(line for line in lines if line["organization"] == "Albany Cardiovascular Group")
    assert (albany["status"], albany["owner"]) == ("mql", "mia-chen")
    assert len(albany["submission_ids"]) == 1

    # Filters combine; --limit keeps the newest.
    def ids(*args: str) -> list[str]:
        found = runner.invoke(app, ["leads", "list", "--format", "jsonl", *args])
        assert found.exit_code == 0, found.output
        return [json.loads(line)["lead_id"] for line in found.stdout.splitlines()]

    mql = [line["lead_id"] for line in lines if line["status"] == "mql"]
    assert mql and ids("--status", "mql", "--channel", "outbound", "--since", "1d") == mql
    assert ids("--channel", "form") == []
    assert ids("--since", "2999-01-01") == []
    assert ids("--limit", "2") == [line["lead_id"] for line in lines][-2:]
    bad = runner.invoke(app, ["leads", "list", "--since", "someday"])
    assert bad.exit_code == 2 and "'someday': a date (2026-11-30)" in bad.output
    table = runner.invoke(app, ["leads", "list", "--limit", "3"])
    assert "3 leads" in table.stdout and "the newest 3 shown; --limit 0 shows all" in table.stdout

    shown = runner.invoke(app, ["leads", "show", albany["lead_id"][:10]])
    assert shown.exit_code == 0, shown.output
    assert "status mql (routing_table_mql)" in shown.stdout
    assert "Fit +35: cardiology is a core specialty." in shown.stdout
    assert "assigned to mia-chen" in shown.stdout
    assert "contact Grace Holt, practice_administrator" in shown.stdout
    assert "account Albany Cardiovascular Group (albanycv.example.com, NY)" in shown.stdout
    assert f"handoff {albany['lead_id']}:mql: delivered" in shown.stdout


def test_leads_show_names_an_unknown_id(settings_env: Path) -> None:
    runner.invoke(app, ["db", "upgrade"])
    result = runner.invoke(app, ["leads", "show", "nope"])
    assert result.exit_code == 2
    assert "no lead with an id starting 'nope'" in result.stderr


def test_webinar_command_refuses_a_file_without_required_columns(
    settings_env: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "attendees.csv"
    bad.write_text("Name,Session\nAnn,Cardio\n")
    result = runner.invoke(app, ["webinar", str(bad)])
    assert result.exit_code != 0
    assert "missing required column organization_name" in result.stderr + str(result.exception)
