"""The review sweep (every minute on a work pool; every 5 minutes under `medleads serve`):
answers people gave in the UI applied, then reminder, escalation and the sheet's default (§5)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from tasks.criteria import active_criteria
from tasks.deliver import deliver_pending_handoffs, send_pending_emails
from tasks.review import (
    answer_review,
    apply_resumed_answers,
    expiry_answer,
    pending_reviews,
    record_step,
    start_review_runs,
)


@dataclass
class SweepReport:
    applied: list[str] = field(default_factory=list)  # answers given in the UI, applied here
    refused: list[str] = field(default_factory=list)  # ... and refused (the run says why)
    started: list[str] = field(default_factory=list)
    reminded: list[str] = field(default_factory=list)
    escalated: list[str] = field(default_factory=list)
    expired: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@task(name="sweep-reviews", cache_policy=NO_CACHE, retries=1)
def sweep_reviews() -> SweepReport:
    """Answers given to resumed runs applied (a resumed run can queue for minutes behind review
    runs not yet started); then each step whose time has come, in order, once; the default is
    given as `system`."""
    review = active_criteria().sheet.review
    report = SweepReport()
    for review_id, outcome in apply_resumed_answers().items():
        if outcome.applied:
            report.applied.append(review_id)
        elif not outcome.already_decided and not outcome.stale:
            report.refused.append(review_id)
    lines = pending_reviews()
    unstarted = [line["review_id"] for line in lines if not line["flow_run_id"]]
    report.started += [r for r, run in start_review_runs(unstarted).items() if run]
    for line in lines:
        review_id = line["review_id"]
        if not line["flow_run_id"]:
            continue
        hours = line["age_seconds"] / 3600
        if hours >= review.reminder_hours and record_step(review_id, "reminder"):
            report.reminded.append(review_id)
        if hours >= review.escalate_hours and record_step(review_id, "escalation"):
            report.escalated.append(review_id)
        if hours >= review.default_after_hours:
            try:
                outcome = answer_review(review_id, expiry_answer(active_criteria()))
            except (PermissionError, LookupError, ValueError) as exc:
                report.errors.append(f"{review_id[:8]}: {exc}")
                continue
            if outcome.applied:
                report.expired.append(review_id)
            elif not outcome.already_decided:
                report.errors.append(f"{review_id[:8]}: the default was refused: {outcome.message}")
    return report


@flow(name="review-sweep", log_prints=False)
def review_sweep() -> SweepReport:
    report = sweep_reviews()
    send_pending_emails()
    deliver_pending_handoffs()
    get_run_logger().info(
        "reviews: %d answers applied, %d refused, %d started, %d reminded, %d escalated, "
        "%d given the default",
        len(report.applied),
        len(report.refused),
        len(report.started),
        len(report.reminded),
        len(report.escalated),
        len(report.expired),
    )
    return report
