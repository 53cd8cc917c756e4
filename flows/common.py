"""The drain loop every channel flow shares: claim a chunk, decide, apply, deliver, repeat."""

from __future__ import annotations

import uuid
from typing import TypeVar, cast

from prefect import get_run_logger
from prefect.runtime import flow_run
from prefect.utilities.annotations import quote

from tasks.apply import apply_decisions
from tasks.artifacts import MAX_ROWS, RunSummary, count_own_deliveries, publish_summary
from tasks.collector import fewer_collections
from tasks.criteria import active_criteria
from tasks.deliver import deliver_pending_handoffs, send_pending_emails
from tasks.evaluation import AheadEvaluator, evaluate_chunk
from tasks.review import open_reviews
from tasks.shadow import shadow_chunk
from tasks.store import claim_pending

T = TypeVar("T")


def unwalked(value: T) -> T:
    """A task argument Prefect passes as is: unquoted, it walks every nested value of every
    parameter looking for futures (most of a 100k-row list's time, measured)."""
    return cast(T, quote(value))


def drain(summary: RunSummary, batch_size: int, lease_minutes: float) -> RunSummary:
    """Process every pending submission of the summary's channel, a chunk at a time (with the
    garbage collector held back: `tasks.collector`)."""
    with fewer_collections():
        return _drain(summary, batch_size, lease_minutes)


def _drain(summary: RunSummary, batch_size: int, lease_minutes: float) -> RunSummary:
    criteria = active_criteria()
    claimer = flow_run.get_id() or uuid.uuid4().hex
    sheet = unwalked(criteria)
    channel = summary.channel
    log = get_run_logger()
    with AheadEvaluator(criteria) as evaluator:
        chunk = claim_pending(channel, batch_size, claimer, lease_minutes)
        # The worker takes the chunk from its front while the evaluate task takes it from the back.
        ahead = evaluator.submit(chunk)
        while chunk:
            decisions = evaluate_chunk(unwalked(chunk), sheet, unwalked(ahead))
            # Claim the next chunk now, so the worker evaluates it while this one is applied.
            holding = frozenset(c.id for c in chunk)
            following = claim_pending(
                channel, batch_size, claimer, lease_minutes, holding=unwalked(holding)
            )
            ahead = evaluator.submit(following)
            shadow_chunk(chunk, decisions, criteria)  # records only; never fails the chunk
            applied = apply_decisions(
                unwalked(chunk),
                unwalked(decisions),
                sheet,
                claimer,
                rows_wanted=max(0, MAX_ROWS - len(summary.rows)),
            )
            summary.add_chunk(applied)
            if applied.review_lead_ids:
                open_reviews(applied.review_lead_ids)
            summary.add_delivery(send_pending_emails(), deliver_pending_handoffs())
            # Counts only: a run's logs carry no name, address or message.
            log.info(
                "chunk %d: %d %s submission(s) decided (%s); %d review(s) opened",
                summary.chunks,
                len(applied.lead_ids),
                channel,
                ", ".join(f"{s} {n}" for s, n in applied.statuses.most_common()) or "none",
                len(applied.review_lead_ids),
            )
            chunk = following
    log.info(
        "%s run done: %d submission(s) in %d chunk(s), %d new lead(s), %d failed",
        channel,
        summary.processed,
        summary.chunks,
        summary.new_leads,
        len(summary.failed),
    )
    summary.emails_sent, summary.handoffs = count_own_deliveries(unwalked(summary))
    publish_summary(summary)
    return summary
