"""Recheck flow: leads not ready yet, looked at again at their horizon or on new engagement (§6)."""

from __future__ import annotations

from prefect import flow, get_run_logger

from tasks.criteria import active_criteria
from tasks.deliver import deliver_pending_handoffs, send_pending_emails
from tasks.recheck import RecheckReport, apply_rechecks, evaluate_rechecks, find_due
from tasks.review import open_reviews

from .common import unwalked


@flow(name="recheck", log_prints=False)
def recheck(batch_size: int = 500) -> RecheckReport:
    """Re-evaluate every lead due, a chunk at a time; promotions are routed and handed off."""
    criteria = active_criteria()
    report = RecheckReport()
    after = ""
    sheet = unwalked(criteria)
    while due := find_due(batch_size, after):
        decisions = evaluate_rechecks(unwalked(due), sheet)
        report.add(apply_rechecks(unwalked(due), unwalked(decisions), sheet))
        after = due[-1].lead_id
    if report.review_lead_ids:
        open_reviews(report.review_lead_ids)
    emails, handoffs = send_pending_emails(), deliver_pending_handoffs()
    report.emails_sent, report.handoffs = emails.delivered, handoffs.delivered
    logger = get_run_logger()
    logger.info(
        "recheck: %d rechecked, %d promoted, %d kept, %d recorded only, %d skipped, %d failed",
        report.rechecked,
        len(report.promoted),
        len(report.kept),
        len(report.recorded_only),
        report.skipped,
        len(report.failed),
    )
    for lead_id in report.failed:
        logger.warning("lead %s could not be rechecked; it stays due for the next run", lead_id)
    return report
