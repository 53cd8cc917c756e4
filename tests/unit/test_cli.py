"""`medleads criteria check` and `medleads evaluate` as DESIGN §2b describes them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml
from typer.testing import CliRunner

from cli.main import app
from tests.paths import DEFAULT_SHEET, ROOT, SAMPLES

runner = CliRunner()
REQUIRED_KEYS = {
    "row",
    "status",
    "reason",
    "fit_score",
    "intent_score",
    "fit_band",
    "intent_band",
    "borderline",
    "criteria_version",
    "email",
    "phone",
    "explanations",
}


def jsonl(output: str) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def test_criteria_check_accepts_the_default_sheet() -> None:
    result = runner.invoke(app, ["criteria", "check", str(DEFAULT_SHEET)])
    assert result.exit_code == 0
    assert "valid (version intake-2026-q4@" in result.output


def test_criteria_check_lists_every_problem_and_exits_2(tmp_path: Path) -> None:
    data = yaml.safe_load(DEFAULT_SHEET.read_text())
    data["bands"]["intent"]["mid"] = 90
    data["scope"]["org_types"]["preferred"] = ["practise"]
    del data["timing"]
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump(data))
    result = runner.invoke(app, ["criteria", "check", str(broken)])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert (
        f"{broken}: scope.org_types.preferred.0: "
        "unknown organization type 'practise' (did you mean 'practice'?)" in lines
    )
    assert f"{broken}: bands.intent: needs 0 < mid < high, got mid 90 and high 60" in lines
    assert f"{broken}: timing: required key is missing" in lines
    assert len(lines) == 3


def test_evaluate_prints_one_jsonl_object_per_input_row(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        ["evaluate", str(SAMPLES / "forms.jsonl"), "--format", "jsonl", "--today", "2026-11-27"],
    )
    assert result.exit_code == 0, result.output
    lines = jsonl(result.stdout)
    assert len(lines) == 16
    for line in lines:
        assert set(line) >= REQUIRED_KEYS
    by_id = {line["submission_id"]: line for line in lines}
    assert by_id["form-0001"]["status"] == "sql"
    assert by_id["form-0001"]["phone"] == "+18455550142"
    assert by_id["form-0007"]["reason"] == "patient_inquiry"
    assert by_id["form-0012"]["email"] is None


def test_the_samples_cover_every_automatic_status() -> None:
    result = runner.invoke(app, ["evaluate", str(SAMPLES / "forms.jsonl"), "--format", "jsonl"])
    statuses = {line["status"] for line in jsonl(result.stdout)}
    assert statuses == {"sql", "mql", "mql_no_timeline", "nurture", "in_review", "disqualified"}


def test_evaluate_reports_bad_rows_with_their_number_and_still_evaluates_good_ones() -> None:
    result = runner.invoke(
        app,
        ["evaluate", str(SAMPLES / "outbound.csv"), "--format", "jsonl", "--channel", "outbound"],
    )
    assert result.exit_code == 1
    lines = jsonl(result.stdout)
    assert len(lines) == 7
    bad = [line for line in lines if line["status"] is None]
    assert [line["row"] for line in bad] == [7]
    assert "row 7: 13 values for 12 columns" in result.stderr
    assert sum(1 for line in lines if line["status"]) == 6


def test_evaluate_table_shows_statuses_and_a_summary() -> None:
    result = runner.invoke(app, ["evaluate", str(SAMPLES / "webinar.csv"), "--channel", "webinar"])
    assert result.exit_code == 0, result.output
    assert "Saratoga Heart" in result.stdout
    assert "5 evaluated" in result.stdout


def test_evaluate_jsonl_gives_the_timeline_window_and_the_days_to_its_start() -> None:
    result = runner.invoke(app, ["evaluate", str(SAMPLES / "forms.jsonl"), "--format", "jsonl"])
    first = jsonl(result.stdout)[0]
    assert (first["timeframe"], first["timeline_days"]) == (
        "within 60 days (2026-11-20..2027-01-19)",
        0,
    )


def test_evaluate_refuses_a_file_without_a_required_column(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("Name,Email\nA,a@b.example.com\n")
    result = runner.invoke(app, ["evaluate", str(path)])
    assert result.exit_code == 2
    assert "missing required column organization_name" in result.stderr


def test_evaluate_refuses_a_broken_sheet(tmp_path: Path) -> None:
    sheet = tmp_path / "s.yaml"
    sheet.write_text("label: x\n")
    result = runner.invoke(
        app, ["evaluate", str(SAMPLES / "forms.jsonl"), "--criteria", str(sheet)]
    )
    assert result.exit_code == 2
    assert f"{sheet}: offer: required key is missing" in result.stderr


def test_evaluate_maps_headers_given_on_the_command_line(tmp_path: Path) -> None:
    path = tmp_path / "cms.csv"
    path.write_text("Facility Name,Telephone Number,State\nSouth Clinic,(334) 793-8701,AL\n")
    result = runner.invoke(
        app,
        ["evaluate", str(path), "--format", "jsonl", "--map", "Facility Name=organization_name"],
    )
    (line,) = jsonl(result.stdout)
    assert line["phone"] == "+13347938701"
    assert line["reason"] == "no_consent"


def test_the_console_script_is_installed_and_runs() -> None:
    exe = Path(sys.executable).parent / "medleads"
    result = subprocess.run(
        [str(exe), "criteria", "check", str(DEFAULT_SHEET)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr


def test_the_sla_column_says_overdue_or_due_in_never_a_negative_overdue() -> None:
    from cli.sla import sla_words

    assert sla_words(2.54) == "overdue 2.5 h"
    assert sla_words(-3.8) == "due in 3.8 h"
    assert sla_words(0) == "due now"


def test_a_directory_given_as_a_list_is_refused_without_a_traceback(tmp_path: Path) -> None:
    result = runner.invoke(app, ["webinar", str(tmp_path)])
    assert result.exit_code == 2
    assert "is a directory" in " ".join(result.output.replace("│", " ").split())
    assert "Traceback" not in result.output
