"""Report flow: the lead report published as Prefect artifacts, with its chart in data/reports."""

from __future__ import annotations

from prefect import flow, get_run_logger

from reports.figures import Report
from tasks.ops import publish_ops_summary
from tasks.report import compute_report, draw_report_chart, publish_report


@flow(name="report", log_prints=False)
def report(since: str | None = None, channel: str | None = None) -> Report:
    """Every figure of `medleads report` (optionally since a YYYY-MM-DD date, or for one channel)
    as a markdown artifact, one table artifact per section and a link to the PNG chart; and the
    daily ops summary (`ops-daily-summary`: arrivals, decisions, waiting reviews, SLA breaches,
    failures)."""
    figures = compute_report(since, channel)
    chart = draw_report_chart(figures)
    keys = publish_report(figures, chart)
    log = get_run_logger()
    log.info("report: %d leads, %d artifacts, chart %s", figures.leads, len(keys), chart or "none")
    log.info("ops summary (last 24 h): %s", publish_ops_summary())
    return figures
