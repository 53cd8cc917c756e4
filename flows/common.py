"""The drain loop every channel flow shares: claim a chunk, decide, apply, deliver, repeat."""

from __future__ import annotations

import uuid

from prefect.runtime import flow_run

from tasks.apply import apply_decisions
from tasks.artifacts import RunSummary, publish_summary
from tasks.criteria import active_criteria
from tasks.deliver import deliver_pending_handoffs, send_pending_emails
from tasks.evaluation import evaluate_chunk
from tasks.review import open_reviews
from tasks.store import claim_pending


def drain(summary: RunSummary, batch_size: int, lease_minutes: float) -> RunSummary:
    """Process every pending submission of the summary's channel, a chunk at a time."""
    criteria = active_criteria()
    claimer = flow_run.get_id() or uuid.uuid4().hex
    while chunk := claim_pending(summary.channel, batch_size, claimer, lease_minutes):
        decisions = evaluate_chunk(chunk, criteria)
        applied = apply_decisions(chunk, decisions, criteria, claimer)
        summary.add_chunk(applied)
        if applied.review_lead_ids:
            open_reviews(applied.review_lead_ids)
        summary.add_delivery(send_pending_emails(), deliver_pending_handoffs())
    publish_summary(summary)
    return summary
