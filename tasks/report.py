"""The report flow's tasks: compute the figures, draw their chart and publish them as Prefect
artifacts (the figures and their rendering live in reports/)."""

from __future__ import annotations

from pathlib import Path

from prefect import task
from prefect.artifacts import (
    create_link_artifact,
    create_markdown_artifact,
    create_table_artifact,
)
from prefect.cache_policies import NO_CACHE

from models.db import session_scope
from reports.figures import Report, build_report, parse_since, sections
from reports.render import default_chart_path, display, render_chart, report_markdown

ARTIFACT_KEY = "medleads-report"


@task(name="compute-report", cache_policy=NO_CACHE)
def compute_report(
    since: str | None = None, channel: str | None = None, url: str | None = None
) -> Report:
    """The figures under the active sheet's roster; `since` is YYYY-MM-DD or an ISO time."""
    from .criteria import active_criteria
    from .review import review_clock

    roster = active_criteria().sheet.routing
    start = parse_since(since) if since else None
    with session_scope(url) as session:
        return build_report(
            session, since=start, channel=channel, roster=roster, now=review_clock()
        )


@task(name="draw-report-chart", cache_policy=NO_CACHE)
def draw_report_chart(report: Report) -> str | None:
    path = render_chart(report, default_chart_path(report.generated_at))
    return str(path.resolve()) if path else None


@task(name="publish-report", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=2)
def publish_report(report: Report, chart: str | None) -> list[str]:
    """The markdown page, one table per section and a link to the chart; counts and owner ids
    only, never a person's data. Returns the artifact keys."""
    chart_uri = Path(chart).as_uri() if chart else None
    create_markdown_artifact(
        key=ARTIFACT_KEY,
        markdown=report_markdown(report, chart_uri),
        description=f"Lead report ({report.scope})",
    )
    keys = [ARTIFACT_KEY]
    if report.leads:
        for section in sections(report):
            if not section.rows:
                continue
            key = f"{ARTIFACT_KEY}-{section.name.replace('_', '-')}"
            rows = [{c: display(c, v) for c, v in row.items()} for row in section.rows]
            create_table_artifact(key=key, table=rows, description=section.note)
            keys.append(key)
    if chart_uri:
        key = f"{ARTIFACT_KEY}-chart"
        create_link_artifact(
            key=key,
            link=chart_uri,
            link_text="Funnel by channel and status by band (PNG)",
            description=f"Written to {chart}",
        )
        keys.append(key)
    return keys
