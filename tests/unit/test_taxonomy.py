"""Provider taxonomy codes and CMS Medicare specialty names -> the sheet's specialties and
organization types, each with where its meaning came from (DESIGN §2c)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest

from qualification.criteria import CriteriaError, load_criteria, parse_criteria
from qualification.evaluate import evaluate
from qualification.identity import account_keys
from qualification.submission import Submission
from qualification.taxonomy import (
    CROSSWALK_PATH,
    load_crosswalk,
    npi_deactivation,
    parse_crosswalk,
)
from tests.paths import DEFAULT_SHEET, SHARED_DATA

CRITERIA = load_criteria(DEFAULT_SHEET)
TAXONOMY = CRITERIA.taxonomy
TODAY = dt.date(2026, 12, 1)
SOURCE = SHARED_DATA / "taxonomy" / "cms_medicare_specialty_taxonomy_crosswalk.csv"


def outbound(**fields: str) -> Submission:
    base = {
        "submission_id": "t-1",
        "channel": "outbound",
        "organization_name": "Hudson Valley Heart Associates",
        "contact_name": "Maria Lopez",
        "contact_role": "Practice Administrator",
        "phone": "+1 914 555 0142",
        "state": "NY",
        "country": "US",
    }
    return Submission(**{**base, **fields})  # type: ignore[arg-type]


def test_every_code_of_the_shipped_crosswalk_resolves_to_a_label() -> None:
    crosswalk = load_crosswalk()
    assert len(crosswalk.codes) > 400
    for code in crosswalk.codes:
        meaning = TAXONOMY.code(code)
        assert meaning.label and meaning.label != code, code
        assert "CMS Medicare specialty/taxonomy crosswalk" in meaning.source, code


@pytest.mark.skipif(not SOURCE.exists(), reason="../shared/data is not present")
def test_the_shipped_crosswalk_keeps_every_code_and_description_of_the_cms_file() -> None:
    text = SOURCE.read_bytes().decode("utf-8-sig", errors="replace")
    published: set[tuple[str, str]] = set()
    for row in list(csv.reader(io.StringIO(text)))[1:]:
        if len(row) < 4 or not row[2].strip():
            continue
        for code, description in zip(row[2].split("\n"), row[3].split("\n"), strict=False):
            published.add((code.strip(), " ".join(description.split())))
    shipped = parse_crosswalk(CROSSWALK_PATH.read_text(encoding="utf-8"))
    kept = {(e.taxonomy_code, e.taxonomy_description) for v in shipped.by_code.values() for e in v}
    assert published == kept


def test_most_crosswalk_codes_reach_a_specialty_or_organization_type_of_the_product() -> None:
    codes = load_crosswalk().codes
    known = [c for c in codes if TAXONOMY.code(c).known]
    # Pathology, nurse practitioners, physician assistants, clinical nurse specialists and
    # dieticians have no product specialty: known by label only, unknown rather than failed.
    assert len(known) / len(codes) > 0.85
    unknown = {TAXONOMY.code(c).label.split(",")[0] for c in codes if c not in known}
    assert "Nurse Practitioner" in unknown and "Cardiovascular Disease" not in unknown


@pytest.mark.parametrize(
    ("code", "specialty", "org_type", "source"),
    [
        ("207RC0000X", "cardiology", None, "criteria sheet taxonomy.codes 207RC -> cardiology"),
        ("207RC0200X", "pulmonology", None, "taxonomy.codes 207RC0200X"),  # longest prefix
        ("207RC0001X", "cardiology", None, "taxonomy.codes 207RC"),
        ("207N00000X", "dermatology", None, "taxonomy.codes 207N"),
        ("207XS0117X", "orthopedics", None, "taxonomy.codes 207X"),
        ("261QF0400X", None, "community_health_center", "taxonomy.codes 261QF"),
        ("282N00000X", None, "hospital", "taxonomy.codes 282N"),
        ("207RG0100X", "gastroenterology", None, "crosswalk: Allopathic"),
        ("251E00000X", None, "home_health", "crosswalk: Agencies/Home Health"),
        ("332B00000X", None, "vendor", "crosswalk: Suppliers/Durable Medical Equipment"),
    ],
)
def test_a_taxonomy_code_means_a_specialty_or_organization_type_and_says_from_where(
    code: str, specialty: str | None, org_type: str | None, source: str
) -> None:
    meaning = TAXONOMY.code(code)
    assert (meaning.specialty, meaning.org_type) == (specialty, org_type)
    assert source in meaning.source


@pytest.mark.parametrize(
    ("name", "specialty"),
    [
        ("CARDIOVASCULAR DISEASE (CARDIOLOGY)", "cardiology"),
        ("DERMATOLOGY", "dermatology"),
        ("ORTHOPEDIC SURGERY", "orthopedics"),
        ("Physician/Internal Medicine", "internal_medicine"),
        ("CARDIAC ELECTROPHYSIOLOGY", "cardiology"),  # the sheet's medicare_specialties
    ],
)
def test_a_cms_medicare_specialty_name_maps_the_same_way(name: str, specialty: str) -> None:
    meaning = TAXONOMY.medicare_specialty(name)
    assert meaning is not None and meaning.specialty == specialty
    assert "Medicare specialty" in meaning.source or "medicare_specialties" in meaning.source


def test_the_explanation_names_the_code_and_the_crosswalk() -> None:
    d = evaluate(outbound(taxonomy_codes="207RC0000X"), CRITERIA, today=TODAY)
    assert d.specialty == "cardiology"
    [line] = [e for e in d.explanations if e.startswith("Primary taxonomy")]
    assert "207RC0000X (Internal Medicine, Cardiovascular Disease)" in line
    assert "taxonomy.codes 207RC" in line and "CMS Medicare specialty/taxonomy crosswalk" in line
    assert any("cardiology is a core specialty" in e for e in d.explanations)


def test_the_primary_code_decides_the_specialty() -> None:
    first = evaluate(outbound(taxonomy_codes="207RC0000X; 207R00000X"), CRITERIA, today=TODAY)
    second = evaluate(outbound(taxonomy_codes="207R00000X; 207RC0000X"), CRITERIA, today=TODAY)
    assert (first.specialty, second.specialty) == ("cardiology", "internal_medicine")


def test_a_later_code_fills_what_the_primary_leaves_unknown() -> None:
    d = evaluate(outbound(taxonomy_codes="261QF0400X; 207N00000X"), CRITERIA, today=TODAY)
    assert (d.org_type, d.specialty) == ("community_health_center", "dermatology")


def test_a_code_nobody_knows_is_unknown_not_failed() -> None:
    d = evaluate(outbound(taxonomy_codes="174400000X"), CRITERIA, today=TODAY)
    assert d.specialty is None
    check = next(c for c in d.checks if c.name == "taxonomy")
    assert check.outcome == "unknown" and "174400000X: not in the CMS" in check.detail
    assert d.reason != "different_specialty"


def test_a_medicare_specialty_in_the_specialty_column_is_read_with_its_source() -> None:
    d = evaluate(outbound(specialty="CARDIOVASCULAR DISEASE (CARDIOLOGY)"), CRITERIA, today=TODAY)
    assert d.specialty == "cardiology"
    assert any(
        "Medicare specialty 'CARDIOVASCULAR DISEASE (CARDIOLOGY)' gives specialty cardiology" in e
        and "06 Physician/Cardiovascular Disease (Cardiology)" in e
        for e in d.explanations
    )
    assert not any("not in the vocabulary" in e for e in d.explanations)


def test_an_individual_practitioner_is_a_solo_practice_lead_with_the_role_the_sheet_maps() -> None:
    d = evaluate(
        outbound(
            entity_type="individual",
            contact_role=None,  # type: ignore[arg-type]
            organization_name="EDDY KARNABI, MD",
            taxonomy_codes="207RC0000X",
            state="ME",
        ),
        CRITERIA,
        today=TODAY,
    )
    assert (d.role, d.influence, d.org_type, d.specialty) == (
        "owner_physician",
        "decider",
        "practice",
        "cardiology",
    )
    assert d.status != "disqualified"
    assert any("solo-practice lead" in e for e in d.explanations)


def test_a_sheet_without_an_individual_role_leaves_the_role_unknown() -> None:
    text = re.sub(
        r"  individual_practitioner:\n    role: owner_physician\n",
        "  individual_practitioner:\n",
        DEFAULT_SHEET.read_text(),
    )
    sheet = parse_criteria(text)
    d = evaluate(
        outbound(entity_type="individual", contact_role=None, taxonomy_codes="207N00000X"),  # type: ignore[arg-type]
        sheet,
        today=TODAY,
    )
    assert d.role is None and d.influence == "unknown"
    assert any("maps no role" in e for e in d.explanations)


@pytest.mark.parametrize(
    ("section", "path"),
    [
        ("taxonomy:\n  codes:\n    cardio: cardiology\n", "taxonomy"),
        ("taxonomy:\n  codes:\n    207RC: cardiologgy\n", "taxonomy.codes.207RC"),
        ("taxonomy:\n  medicare_specialties:\n    X: {specialty: derm}\n", "taxonomy"),
        (
            "taxonomy:\n  individual_practitioner: {role: boss}\n",
            "taxonomy.individual_practitioner.role",
        ),
    ],
)
def test_a_bad_taxonomy_section_is_refused_naming_the_key(section: str, path: str) -> None:
    text = DEFAULT_SHEET.read_text().split("\ntaxonomy:\n")[0] + "\n" + section
    with pytest.raises(CriteriaError) as info:
        parse_criteria(text, "sheet.yaml")
    assert any(p.path.startswith(path) for p in info.value.problems), info.value.problems


def test_a_deactivated_npi_is_an_invalid_contact_naming_the_date() -> None:
    d = evaluate(
        outbound(npi="1497758544", npi_deactivated_on="05/14/2021", taxonomy_codes="207RC0000X"),
        CRITERIA,
        today=TODAY,
    )
    assert (d.status, d.reason) == ("disqualified", "invalid_contact")
    assert any("NPI 1497758544 was deactivated on 2021-05-14 (NPPES)" in e for e in d.explanations)


def test_a_reactivated_npi_is_active_again() -> None:
    assert npi_deactivation("1497758544", "05/14/2021", "06/01/2021") is None
    assert npi_deactivation("1497758544", "05/14/2021", "01/01/2020") is not None
    assert npi_deactivation("1497758544", None, None) is None


def test_a_subpart_belongs_to_its_parents_account() -> None:
    keys = account_keys(None, "RWJ University Hospital Cardiology", "NJ", "RWJ Barnabas Health Inc")
    assert keys[0].startswith("name:rwj barnabas health|NJ")
    assert len(keys) == 2
    d = evaluate(
        outbound(
            organization_name="RWJ UNIVERSITY HOSPITAL",
            parent_organization="RWJ BARNABAS HEALTH INC",
            state="NJ",
        ),
        CRITERIA,
        today=TODAY,
    )
    assert d.account_keys[0] == keys[0]
    assert any("A subpart of RWJ BARNABAS HEALTH INC" in e for e in d.explanations)
