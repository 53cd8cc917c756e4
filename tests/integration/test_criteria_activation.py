"""The live sheet is chosen explicitly: activation, history, show, and the file fallback."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlmodel import func, select
from typer.testing import CliRunner

from adapters.submissions import store_submissions
from cli.main import app
from models.db import session_scope
from models.tables import CriteriaActivation, DecisionRecord
from qualification.criteria import load_criteria
from qualification.submission import submission_from_mapping
from tasks.apply import apply_decisions
from tasks.criteria import active_criteria
from tasks.evaluation import evaluate_chunk
from tasks.store import claim_pending
from tests.paths import DEFAULT_SHEET, SAMPLES

runner = CliRunner()
DEFAULT = load_criteria(DEFAULT_SHEET)


def sheet(tmp_path: Path, name: str, demo_points: int = 40) -> Path:
    path = tmp_path / name
    # form-0001 gives a budget range and a current system (vendor switching), nice-to-haves worth
    # 10 intent points each (DESIGN §3, issue 12): a draft with fewer demo points scores them 0 as
    # well, so form-0001 moves as before.
    text = DEFAULT_SHEET.read_text().replace("demo: 40,", f"demo: {demo_points},")
    if demo_points != 40:
        text = text.replace("budget_signal:\n    points: 10", "budget_signal:\n    points: 0")
        text = text.replace("vendor_switching:\n    points: 10", "vendor_switching:\n    points: 0")
    path.write_text(text)
    return path


def medleads(*args: str) -> Any:
    return runner.invoke(app, [str(a) for a in args])


def activations() -> int:
    with session_scope() as session:
        return int(session.exec(select(func.count()).select_from(CriteriaActivation)).one())


def decide_forms() -> dict[str, DecisionRecord]:
    """Store the sample forms and decide them under the live sheet, as the drain loop does."""
    lines = (SAMPLES / "forms.jsonl").read_text().splitlines()[:6]
    payloads = [json.loads(line) for line in lines]
    store_submissions([(submission_from_mapping(p), p) for p in payloads])
    criteria = active_criteria()
    chunk = claim_pending.fn("form", 100, "run-1")
    apply_decisions.fn(chunk, evaluate_chunk.fn(chunk, criteria), criteria, "run-1")
    with session_scope() as session:
        return {str(r.submission_id): r for r in session.exec(select(DecisionRecord))}


def test_a_bad_sheet_is_refused_with_every_problem_and_nothing_is_recorded(
    settings_env: Path, tmp_path: Path
) -> None:
    data = yaml.safe_load(DEFAULT_SHEET.read_text())
    data["bands"]["intent"]["mid"] = 90
    del data["timing"]
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump(data))

    result = medleads("criteria", "activate", broken, "--by", "alice")

    assert result.exit_code == 2
    assert result.stdout.strip().splitlines() == [
        f"{broken}: bands.intent: needs 0 < mid < high, got mid 90 and high 60",
        f"{broken}: timing: required key is missing",
    ]
    assert medleads("criteria", "check", broken).stdout == result.stdout
    assert activations() == 0


def test_decisions_record_the_activated_version_and_a_later_edit_changes_nothing(
    settings_env: Path, tmp_path: Path
) -> None:
    path = sheet(tmp_path, "lower-demo.yaml", demo_points=30)
    version = load_criteria(path).version

    result = medleads("criteria", "activate", path, "--by", "alice", "--note", "demo is 30")
    assert result.exit_code == 0, result.output
    assert f"live: {version} (activation #1 by alice" in result.stdout
    path.write_text(path.read_text().replace("demo: 30,", "demo: 10,"))  # not activated

    assert active_criteria().version == version
    decided = decide_forms()
    assert {r.criteria_version for r in decided.values()} == {version}
    assert decided["form-0001"].status == "mql"  # sql under the default sheet
    show = medleads("criteria", "show").stdout
    assert f"live: {version} (activation #1 by alice" in show
    assert "the file has changed since" in show


def test_without_an_activation_the_live_sheet_is_the_criteria_file(settings_env: Path) -> None:
    assert active_criteria().version == DEFAULT.version
    assert {r.criteria_version for r in decide_forms().values()} == {DEFAULT.version}
    assert "from the file" in medleads("criteria", "show").stdout


def test_history_lists_activations_newest_first_and_marks_the_live_one(
    settings_env: Path, tmp_path: Path
) -> None:
    lower = sheet(tmp_path, "lower.yaml", demo_points=30)
    assert medleads("criteria", "activate", DEFAULT_SHEET, "--by", "alice").exit_code == 0
    assert medleads("criteria", "activate", lower, "--by", "bob").exit_code == 0
    assert medleads("criteria", "shadow", DEFAULT_SHEET, "--by", "carol").exit_code == 0
    again = medleads("criteria", "activate", lower, "--by", "dan")
    assert "is already live" in again.stdout and "nothing recorded" in again.stdout
    assert medleads("criteria", "activate", DEFAULT_SHEET, "--by", "erin").exit_code == 0

    result = medleads("criteria", "history", "--format", "jsonl")

    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["id"], r["role"], r["activated_by"], r["state"]) for r in rows] == [
        (4, "active", "erin", "live"),
        (3, "shadow", "carol", "shadowing"),
        (2, "active", "bob", ""),
        (1, "active", "alice", ""),
    ]
    assert rows[0]["version"] == DEFAULT.version and rows[0]["path"] == str(DEFAULT_SHEET)
    assert dt.datetime.fromisoformat(rows[0]["activated_at"]).tzinfo is not None
    assert active_criteria().version == DEFAULT.version
    table = medleads("criteria", "history").stdout
    assert table.index("erin") < table.index("carol") < table.index("bob") < table.index("alice")


def test_shadowing_is_stopped_once(settings_env: Path, tmp_path: Path) -> None:
    assert "no shadow sheet is set" in medleads("criteria", "shadow", "--off").stdout
    draft = sheet(tmp_path, "draft.yaml", demo_points=30)
    assert medleads("criteria", "shadow", draft).exit_code == 0
    assert f"shadow: {load_criteria(draft).version}" in medleads("criteria", "show").stdout

    stopped = medleads("criteria", "shadow", "--off", "--by", "alice")

    assert stopped.exit_code == 0 and "shadowing stopped" in stopped.stdout
    assert "shadow: none" in medleads("criteria", "show").stdout
    assert "no shadow sheet is set" in medleads("criteria", "shadow", "--off").stdout
    assert activations() == 2


@pytest.mark.parametrize("args", [[], ["x.yaml", "--off"]])
def test_shadow_needs_a_file_or_off(settings_env: Path, args: list[str]) -> None:
    result = medleads("criteria", "shadow", *args)
    assert result.exit_code == 2
    assert "give a sheet FILE to shadow, or --off" in result.stderr
