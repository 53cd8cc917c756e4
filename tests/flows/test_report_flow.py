"""The report flow under a real Prefect server publishes the report as artifacts and a PNG."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

from flows.report import report
from tasks.ops import OPS_KEY
from tasks.review import pending_reviews
from tasks.sla import sla_lines
from tests.integration.test_report import seed

pytestmark = pytest.mark.usefixtures("prefect_server")


def artifacts(flow_run_id: UUID) -> dict[str, Any]:
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )
    return {a.key: a for a in found if a.key}


def test_the_report_flow_publishes_markdown_tables_and_a_chart_link(
    settings_env: Path, db_url: str
) -> None:
    seed(db_url)
    state = report(return_state=True)

    assert state.is_completed()
    figures = state.result()
    assert figures.leads == 10
    published = artifacts(state.state_details.flow_run_id)
    assert {
        "medleads-report",
        "medleads-report-funnel",
        "medleads-report-bands",
        "medleads-report-owners",
        "medleads-report-fairness",
        "medleads-report-conversion-by-band",
        "medleads-report-chart",
    } <= set(published)
    page = published["medleads-report"]
    assert page.type == "markdown"
    assert "| form | spring | 4 | 4 | 3 | 2 |" in page.data
    funnel = json.loads(published["medleads-report-funnel"].data)
    assert {"channel": "*", "campaign": "*", "new": "10", "mql": "6", "sql": "4",
            "opportunity": "2"} in funnel  # fmt: skip
    link = re.fullmatch(r"\[(.+)\]\((file://.+)\)", published["medleads-report-chart"].data)
    assert link is not None and link[1] == "Funnel by channel and status by band (PNG)"
    chart = Path(link[2].removeprefix("file://"))
    assert chart.parent == (settings_env / "reports").resolve()
    assert chart.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert f"]({link[2]})" in page.data
    report_pages = " ".join(str(a.data) for k, a in published.items() if k != OPS_KEY)
    for personal in ("Clinic 1", "@c1.example", "a10@c10.example", "lead01"):
        assert personal not in report_pages
    # The daily ops summary: counts, waiting reviews and SLA breaches by organization, never a
    # person's data.
    ops = published[OPS_KEY].data
    breaches = [x for x in sla_lines(0) if x["sla_state"] == "breached"]
    assert f"**SLA breaches:** {len(breaches)}" in ops
    assert f"**reviews waiting:** {len(pending_reviews())} ([inbox](" in ops
    assert "**failures:** submissions failed 0, emails parked 0, handoffs parked 0" in ops
    for personal in ("@c1.example", "a10@c10.example"):
        assert personal not in ops
    # Every list and table starts after a blank line: Prefect's V2 UI runs a list into the line
    # above it otherwise.
    for markdown in (ops, page.data):
        lines = str(markdown).splitlines()
        for above, line in itertools.pairwise(lines):
            if line.startswith(("- ", "|")) and not above.startswith(("- ", "  - ", "|")):
                assert above == "", f"{line!r} right under {above!r}"


def test_the_report_flow_on_an_empty_database_says_so_and_draws_nothing(
    settings_env: Path,
) -> None:
    state = report(return_state=True)

    published = artifacts(state.state_details.flow_run_id)
    assert set(published) == {"medleads-report", OPS_KEY}
    assert "**arrivals:** 0 (none)" in published[OPS_KEY].data
    assert "No leads yet" in published["medleads-report"].data
    assert not (settings_env / "reports").exists()
