"""A hospital list as it really comes: people who share a switchboard are separate leads on one
account (DESIGN §4)."""

from __future__ import annotations

import csv
import datetime as dt
import re
from pathlib import Path

import pytest
from sqlmodel import col, func, select

from models.db import session_scope
from models.tables import Lead, Organization
from qualification.criteria import load_criteria
from qualification.evaluate import evaluate
from tasks.apply import apply_decisions
from tasks.store import claim_pending, ingest_file
from tests.paths import DEFAULT_SHEET, SHARED_DATA

HOSPITALS = SHARED_DATA / "orgs" / "cms_hospitals_slim.csv"
CRITERIA = load_criteria(DEFAULT_SHEET)
TODAY = dt.date(2026, 11, 27)
ROWS, SHARED = 2000, 12


def hospital_list(path: Path) -> None:
    """2,000 contacts at CMS hospitals: one each at 1,988 hospitals, and a second person at 12 of
    them who gives the hospital's switchboard, as such lists do."""
    with HOSPITALS.open(newline="", encoding="utf-8") as f:
        hospitals = [h for _, h in zip(range(ROWS - SHARED), csv.DictReader(f), strict=False)]
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(
            [
                "Company",
                "State",
                "ZIP Code",
                "Phone",
                "Email",
                "Name",
                "Job Title",
                "Organization Type",
                "Website",
            ]
        )
        people = [(h, "Ann Lee", "Practice Administrator") for h in hospitals]
        people += [(h, "Bob Ray", "Director of Operations") for h in hospitals[:SHARED]]
        for hospital, name, title in people:
            slug = re.sub(r"[^a-z0-9]+", "", hospital["Facility Name"].lower())[:30]
            domain = f"{slug}{hospital['Facility ID'].lower()}.org"
            first, last = name.lower().split()
            writer.writerow(
                [
                    hospital["Facility Name"],
                    hospital["State"],
                    hospital["ZIP Code"],
                    hospital["Telephone Number"],
                    f"{first}.{last}@{domain}",
                    name,
                    title,
                    "hospital",
                    f"https://www.{domain}",
                ]
            )


@pytest.mark.skipif(not HOSPITALS.exists(), reason="the shared CMS hospital file is absent")
def test_a_switchboard_shared_by_two_people_makes_two_leads_on_one_account(
    settings_env: Path, db_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "hospitals.csv"
    hospital_list(path)
    assert ingest_file.fn(str(path), "outbound", url=db_url).stored == ROWS
    while chunk := claim_pending.fn("outbound", 500, "run-1", url=db_url):
        decisions = [evaluate(c.submission(), CRITERIA, today=TODAY) for c in chunk]
        apply_decisions.fn(chunk, decisions, CRITERIA, "run-1", url=db_url)
    with session_scope(db_url) as session:
        leads = session.exec(select(func.count()).select_from(Lead)).one()
        accounts = session.exec(select(func.count()).select_from(Organization)).one()
        per_account = session.exec(
            select(func.count()).select_from(Lead).group_by(col(Lead.organization_id))
        ).all()
    assert leads == ROWS
    assert accounts == ROWS - SHARED
    assert sorted(per_account, reverse=True)[: SHARED + 1] == [2] * SHARED + [1]
