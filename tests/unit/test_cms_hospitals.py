"""The 5,421 CMS hospitals, mapped to canonical fields, evaluate end to end through the CLI."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import phonenumbers
import pytest
from typer.testing import CliRunner

from cli.main import app
from qualification.criteria import load_criteria
from tests.paths import DEFAULT_SHEET, SHARED_DATA

HOSPITALS = SHARED_DATA / "orgs" / "cms_hospitals_slim.csv"
if not HOSPITALS.exists():
    pytest.skip("../shared/data is not present", allow_module_level=True)

MAPPING = [
    "--map",
    "Facility Name=organization_name",
    "--map",
    "Hospital Type=org_type",
    "--map",
    "Telephone Number=phone",
]
SCOPE = set(load_criteria(DEFAULT_SHEET).sheet.scope.states)


def evaluate_hospitals(path: Path = HOSPITALS) -> list[dict]:  # type: ignore[type-arg]
    result = CliRunner().invoke(
        app, ["evaluate", str(path), "--format", "jsonl", "--channel", "outbound", *MAPPING]
    )
    assert result.exit_code == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_every_cms_hospital_is_evaluated_with_its_phone_in_e164() -> None:
    with HOSPITALS.open(encoding="utf-8", newline="") as f:
        source = list(csv.DictReader(f))
    lines = evaluate_hospitals()
    assert len(lines) == len(source) == 5421
    assert [line["row"] for line in lines] == list(range(2, 5423))
    # CMS phones look like "(334) 793-8701": all but the three numbers phonenumbers rejects
    # (e.g. "(360) 000-0000") come out as +1 and ten digits.
    phones = [line["phone"] for line in lines]
    assert sum(p is None for p in phones) == 3
    assert all(p.startswith("+1") and len(p) == 12 for p in phones if p)

    expected: Counter[str] = Counter()
    for row in source:
        number = phonenumbers.parse(row["Telephone Number"], "US")
        if not phonenumbers.is_valid_number(number):
            # No email in this file either: nothing valid to reach them by.
            expected["invalid_contact"] += 1
        elif row["State"] not in SCOPE:
            expected["out_of_geography"] += 1
        elif row["Hospital Type"] == "Psychiatric":
            expected["wrong_org_type"] += 1
        else:
            # An outbound row with no contact role is unknown, not failed (guide §12: "not the
            # decision role and no path to the buying committee"; DESIGN §3): a hospital alone
            # is low fit, so the routing table's nurture (it was no_decision_path before).
            expected["routing_table_nurture"] += 1
    assert Counter(line["reason"] for line in lines) == expected


def test_in_scope_hospitals_with_a_deciding_contact_are_scored_as_accepted_org_types(
    tmp_path: Path,
) -> None:
    path = tmp_path / "hospitals_with_contacts.csv"
    with HOSPITALS.open(encoding="utf-8", newline="") as f, path.open("w", newline="") as out:
        reader = csv.DictReader(f)
        writer = csv.DictWriter(out, [*(reader.fieldnames or []), "Title"])
        writer.writeheader()
        for row in reader:
            if row["State"] in SCOPE and row["Hospital Type"] == "Acute Care Hospitals":
                writer.writerow({**row, "Title": "Director of Operations"})
    lines = evaluate_hospitals(path)
    assert lines and all(line["status"] != "disqualified" for line in lines)
    for line in lines:
        assert "Fit +10: hospital is an accepted organization type." in line["explanations"]
        assert (
            "Fit +20: role operations_leader ('Director of Operations') is a decider."
            in line["explanations"]
        )
