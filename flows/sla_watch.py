"""SLA watch: leads past their first-touch deadline escalated to a fallback owner, once (§6)."""

from __future__ import annotations

from prefect import flow, get_run_logger

from tasks.deliver import send_pending_emails
from tasks.sla import SlaReport, escalate_breaches


@flow(name="sla-watch", log_prints=False)
def sla_watch() -> SlaReport:
    report = escalate_breaches()
    send_pending_emails()
    get_run_logger().info(
        "sla: %d escalated now, %d already escalated for their due time",
        len(report.escalated),
        report.already_escalated,
    )
    return report
