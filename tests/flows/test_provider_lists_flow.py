"""The outbound flow on a raw NPPES file (330 columns, float artefacts, entity types 1 and 2, a
deactivated NPI, a subpart) under a real Prefect server, with no --map."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

import pytest
from sqlmodel import col, select

from adapters.rows import SubmissionFile
from flows.outbound_list import outbound_list
from models.db import session_scope
from models.tables import DecisionRecord, Organization, RawSubmission, SentEmail
from qualification.criteria import load_criteria
from qualification.evaluate import evaluate
from tests.fixtures.build_provider_lists import NPPES_OUT
from tests.paths import DEFAULT_SHEET

pytestmark = pytest.mark.usefixtures("prefect_server")
CRITERIA = load_criteria(DEFAULT_SHEET)


def test_the_outbound_flow_reads_a_raw_nppes_file_through_its_preset(settings_env: Path) -> None:
    today = dt.datetime.now(dt.UTC).date()
    rows = SubmissionFile(NPPES_OUT, channel="outbound").rows()
    decisions = [evaluate(r.submission, CRITERIA, today=today) for r in rows if r.submission]

    summary = outbound_list(file=str(NPPES_OUT))

    assert (summary.stored, summary.rejected, summary.processed) == (205, 0, 205)
    assert any(n.startswith("list preset nppes (") for n in summary.notes)
    assert any(n.startswith("ignored 274 column(s)") for n in summary.notes)
    with session_scope() as session:
        recorded = dict(
            session.execute(select(DecisionRecord.submission_id, DecisionRecord.status)).all()
        )
        assert session.exec(select(SentEmail)).first() is None  # outbound rows: no consent
        payloads = [p for (p,) in session.execute(select(RawSubmission.payload)).all()]
        names = {o.name_key for o in session.exec(select(Organization)).all()}
        rwj = session.exec(
            select(Organization).where(col(Organization.name).like("ROBERT WOOD JOHNSON%"))
        ).one()
    # Each row decided as the pure core decides it (leads sharing a phone are one person).
    assert recorded == {d.submission_id: d.status for d in decisions}
    assert Counter(recorded.values())["mql"] >= 12
    # Stored: the preset's canonical fields, and the non-empty cells it did not use as the file
    # spells them (nothing is lost; the 330 mostly empty columns are not copied).
    assert all(p["list_preset"] == "nppes" for p in payloads)
    assert all(v != "" for p in payloads for v in p.values())
    cumberland = next(p for p in payloads if p["npi"] == "1497758544")
    assert cumberland["Provider Enumeration Date"] == "05/23/2005"
    assert cumberland["phone"] == "9106096700"
    assert any(p.get("taxonomy_codes") == "207RC0000X; 207R00000X" for p in payloads)
    # The subpart's account is its parent's.
    assert rwj.name_key == "rwj barnabas health|NJ"
    assert "fixture maine heart partners|ME" in names
