"""One review run per borderline lead: suspend with a typed form, apply the answer once (§5)."""

from __future__ import annotations

from prefect import flow, get_run_logger
from prefect.flow_runs import suspend_flow_run

from tasks.deliver import deliver_pending_handoffs, send_pending_emails
from tasks.review import ReviewInput, decide_review, prepare_review


@flow(name="review-lead", persist_result=True, log_prints=False)
def review_lead(review_id: str) -> str:
    """Wait (suspended, no process held) for a reviewer, then route the lead as they decide.

    The run re-executes from the top on resume: everything before the suspend only reads or
    writes idempotently, and each refused answer moves on to a new suspend key.
    """
    view = prepare_review(review_id)
    if view.state != "pending":
        return "already decided"
    send_pending_emails()  # the reviewer's notification
    answer = suspend_flow_run(
        wait_for_input=ReviewInput.with_initial_data(description=view.markdown),
        key=f"review-{view.refusals}",
        timeout=view.timeout_seconds,
    )
    outcome = decide_review(review_id, answer.model_dump())
    if outcome.refused and not outcome.applied and "already decided" not in outcome.message:
        get_run_logger().warning("answer refused: %s; waiting for another", outcome.message)
        return review_lead.fn(review_id)
    send_pending_emails()
    deliver_pending_handoffs()
    return outcome.message
