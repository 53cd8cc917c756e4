"""Healthcare lists as they really come (DESIGN §2c): the raw NPPES and CMS layouts through
`medleads evaluate` and `medleads outbound --dry-run`, with no --map."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cli.main import app
from qualification.criteria import load_criteria
from tests.fixtures.build_provider_lists import DAC_OUT, NPPES_OUT, nppes_header
from tests.paths import DEFAULT_SHEET, SHARED_DATA

runner = CliRunner()
SHEET = load_criteria(DEFAULT_SHEET).sheet
TODAY = "2026-12-01"


def evaluated(path: Path, *extra: str) -> tuple[list[dict[str, Any]], str]:
    result = runner.invoke(
        app,
        [
            "evaluate",
            str(path),
            "--channel",
            "outbound",
            "--format",
            "jsonl",
            "--today",
            TODAY,
            *extra,
        ],
    )
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return lines, result.stderr


@pytest.fixture(scope="module")
def nppes() -> dict[str, dict[str, Any]]:
    lines, _ = evaluated(NPPES_OUT)
    with NPPES_OUT.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return {rows[d["row"] - 2]["NPI"]: d for d in lines}


def by_name(nppes: dict[str, dict[str, Any]], name: str) -> dict[str, Any]:
    with NPPES_OUT.open(encoding="utf-8") as f:
        rows = {
            r["NPI"]: r
            for r in csv.DictReader(f)
            if name
            in (
                r["Provider Organization Name (Legal Business Name)"]
                + " "
                + r["Provider First Name"]
                + " "
                + r["Provider Last Name (Legal Name)"]
            )
        }
    [npi] = rows
    return nppes[npi]


def test_the_nppes_fixture_has_all_330_columns_of_the_published_layout() -> None:
    with NPPES_OUT.open(encoding="utf-8") as f:
        header = next(csv.reader(f))
    assert header == nppes_header() and len(header) == 330


def test_a_raw_nppes_file_is_evaluated_without_any_map(nppes: dict[str, dict[str, Any]]) -> None:
    _, stderr = evaluated(NPPES_OUT)
    assert "list preset nppes (NPPES NPI file (CMS), monthly or weekly)" in stderr
    assert "recognised by its headers" in stderr
    assert "ignored 274 column(s)" in stderr and "Other Provider Identifier_1..50" in stderr
    assert "Provider Business Mailing Address Telephone Number" in stderr  # mailing: ignored
    assert len(nppes) == 205


def test_float_artefacts_are_read_back(nppes: dict[str, dict[str, Any]]) -> None:
    # "9106096700.0" (authorized official's phone), ZIP "283044552.0", entity type "2.0".
    cumberland = nppes["1497758544"]
    assert cumberland["phone"] == "+19106096700"
    assert not any(e.startswith("postal_code") for e in cumberland["explanations"])
    # "2.0" is entity type 2: the authorized official (CEO) is the contact.
    assert any("role executive ('CEO') is a decider" in e for e in cumberland["explanations"])


def test_an_organization_has_its_authorized_official_as_contact(
    nppes: dict[str, dict[str, Any]],
) -> None:
    heart = by_name(nppes, "FIXTURE HUDSON VALLEY HEART")
    assert heart["specialty"] == "cardiology"  # the primary switch, not the first column
    assert any(
        "role practice_administrator ('PRACTICE ADMINISTRATOR') is a decider" in e
        for e in heart["explanations"]
    )
    assert heart["status"] != "disqualified"


def test_an_individual_practitioner_is_a_solo_practice_lead(
    nppes: dict[str, dict[str, Any]],
) -> None:
    doctor = by_name(nppes, "EDDY KARNABI")
    assert (doctor["specialty"], doctor["org_type"]) == ("cardiology", "practice")
    assert any("role owner_physician is a decider" in e for e in doctor["explanations"])
    assert any("solo-practice lead" in e for e in doctor["explanations"])
    assert doctor["phone"] is not None and doctor["status"] == "mql"


def test_a_deactivated_npi_is_an_invalid_contact_naming_the_date(
    nppes: dict[str, dict[str, Any]],
) -> None:
    [gone] = [d for d in nppes.values() if d["reason"] == "invalid_contact"]
    assert gone["status"] == "disqualified"
    assert any("deactivated on 2021-05-14 (NPPES)" in e for e in gone["explanations"])
    back = by_name(nppes, "FIXTURE REACTIVATED DERMATOLOGY")
    assert back["reason"] != "invalid_contact"


def test_a_subpart_keeps_its_parent_for_account_matching(
    nppes: dict[str, dict[str, Any]],
) -> None:
    rwj = nppes["1346243375"]  # a real subpart in the NPPES extract
    assert any("A subpart of RWJ BARNABAS HEALTH INC" in e for e in rwj["explanations"])


def test_no_in_territory_organization_with_a_core_specialty_is_disqualified(
    nppes: dict[str, dict[str, Any]],
) -> None:
    core = [
        d
        for d in nppes.values()
        if d["specialty"] in SHEET.scope.specialties.core
        and any("is in the territory" in e for e in d["explanations"])
    ]
    assert len(core) >= 10
    assert [d for d in core if d["status"] == "disqualified"] == []


def test_taxonomy_codes_give_specialties_and_org_types_with_their_source(
    nppes: dict[str, dict[str, Any]],
) -> None:
    fqhc = nppes["1083617013"]  # AMOSKEAG HEALTH, 261QF0400X
    assert fqhc["org_type"] == "community_health_center"
    assert any("taxonomy.codes 261QF" in e for e in fqhc["explanations"])
    unknown_as_vocab = [
        d for d in nppes.values() if any("not in the vocabulary" in e for e in d["explanations"])
    ]
    assert unknown_as_vocab == []


def test_the_doctors_and_clinicians_file_reads_groups_and_solo_practitioners() -> None:
    lines, stderr = evaluated(DAC_OUT)
    assert "list preset cms_dac" in stderr
    group, solo = lines[0], lines[2]
    assert (group["specialty"], group["org_type"]) == ("cardiology", "group_practice")
    assert any("Medicare specialty 06" in e for e in group["explanations"])
    assert any("is an influencer" in e and "role physician" in e for e in group["explanations"])
    assert not any("solo-practice" in e for e in group["explanations"])
    assert any("role owner_physician" in e for e in solo["explanations"])


def test_outbound_dry_run_reports_and_stores_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from models.settings import get_settings

    data = tmp_path / "data"
    monkeypatch.setenv("MEDLEADS_DATA_DIR", str(data))
    monkeypatch.delenv("MEDLEADS_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    try:
        result = runner.invoke(app, ["outbound", "--dry-run", str(NPPES_OUT), "--show", "3"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert "nothing stored" in text
    assert "list preset nppes" in text and "ignored 274 column(s)" in text
    assert "organization_name <- {Provider Organization Name (Legal Business Name)}" in text
    assert "205 row(s) evaluated, 0 rejected" in text
    assert "disqualified: invalid_contact" in text and "mql: routing_table_mql" in text
    assert text.count("  row ") == 3
    assert not data.exists()


@pytest.mark.skipif(not (SHARED_DATA / "orgs").exists(), reason="../shared/data is not present")
@pytest.mark.parametrize(
    ("name", "preset"),
    [
        ("nppes_orgs_slim.csv", "nppes_orgs_slim"),
        ("cms_hospitals_slim.csv", "cms_hospitals"),
        ("cms_dac_clinicians_maine_subset.csv", "cms_dac_slim"),
    ],
)
def test_each_shared_list_layout_is_recognised(name: str, preset: str) -> None:
    lines, stderr = evaluated(SHARED_DATA / "orgs" / name)
    assert f"list preset {preset} " in stderr
    assert all(d["status"] for d in lines)


@pytest.mark.skipif(not (SHARED_DATA / "orgs").exists(), reason="../shared/data is not present")
def test_medicare_specialty_names_of_the_clinicians_file_reach_the_sheets_specialties() -> None:
    lines, _ = evaluated(SHARED_DATA / "orgs" / "cms_dac_clinicians_maine_subset.csv")
    with (SHARED_DATA / "orgs" / "cms_dac_clinicians_maine_subset.csv").open() as f:
        named = [r["Primary Specialty"] for r in csv.DictReader(f)]
    got = dict(zip(named, (d["specialty"] for d in lines), strict=True))
    assert got["CARDIOVASCULAR DISEASE (CARDIOLOGY)"] == "cardiology"
    assert got["DERMATOLOGY"] == "dermatology" and got["ORTHOPEDIC SURGERY"] == "orthopedics"
    assert got["CARDIAC ELECTROPHYSIOLOGY"] == "cardiology"


def test_evaluate_preset_option_forces_a_layout_and_names_it(tmp_path: Path) -> None:
    path = tmp_path / "vendor.csv"
    path.write_text(
        "Facility Name,City/Town,State,ZIP Code,Telephone Number,Hospital Type\n"
        "MAINE MEDICAL CENTER,PORTLAND,ME,4102.0,2076622000.0,Acute Care Hospitals\n",
        encoding="utf-8",
    )
    lines, stderr = evaluated(path, "--preset", "cms_hospitals")
    assert "list preset cms_hospitals (CMS Hospital General Information), forced" in stderr
    assert "lacks columns preset cms_hospitals expects: Facility ID, Hospital Ownership" in stderr
    [line] = lines
    assert (line["org_type"], line["phone"]) == ("hospital", "+12076622000")


def test_an_unknown_preset_name_exits_2_naming_the_known_ones(tmp_path: Path) -> None:
    result = runner.invoke(app, ["evaluate", str(DAC_OUT), "--preset", "npes"])
    assert result.exit_code == 2
    assert "no list preset named 'npes'" in result.stderr and "nppes" in result.stderr
