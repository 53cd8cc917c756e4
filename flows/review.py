"""One review run per borderline lead: suspend with a typed form, apply the answer once (§5)."""

from __future__ import annotations

from typing import Any, TypeVar, cast

from prefect import flow, get_run_logger
from prefect._flow_run_suspension import mark_flow_run_suspension_requested
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import State
from prefect.context import FlowRunContext
from prefect.exceptions import Pause
from prefect.input import keyset_from_paused_state
from prefect.input.run_input import RunInput
from prefect.states import Completed, Suspended
from prefect.utilities.engine import propose_state_sync

from tasks.deliver import deliver_pending_handoffs, send_pending_emails
from tasks.review import (
    answer_key,
    decide_review,
    prepare_review,
    publish_review_outcome,
    review_input,
)

A = TypeVar("A", bound=RunInput)


@flow(name="review-lead", persist_result=True, log_prints=False)
def review_lead(review_id: str) -> State[Any]:
    """Wait (suspended, no process held) for a reviewer, then route the lead as they decide.

    The run re-executes from the top on resume: everything before the suspend only reads or
    writes idempotently, and each refused answer moves on to a new suspend key. The review
    sweep and the CLI may have applied (or refused) the answer before this run started again:
    then the review is decided (or its refusals moved on) and the answer is not applied twice.
    """
    view = prepare_review(review_id)
    if view.state == "pending":
        send_pending_emails()  # the reviewer's notification
        form = review_input(view.reviewers, view.markdown)
        answer = suspend_for_answer(
            form,
            key=answer_key(view.refusals),
            timeout=view.timeout_seconds,
            message=view.waiting,
        )
        outcome = decide_review(review_id, answer.model_dump(), view.refusals)
        if outcome.refused and not outcome.already_decided:
            if not outcome.stale:
                get_run_logger().warning("answer refused: %s; waiting for another", outcome.message)
            return review_lead.fn(review_id)
    # Decided here, or by the sweep or the CLI before this run started again: what the decision
    # queued goes out now (each email and handoff once, by its key).
    send_pending_emails()
    deliver_pending_handoffs()
    return Completed(message=publish_review_outcome(review_id))


def suspend_for_answer(form: type[A], *, key: str, timeout: int, message: str) -> A:
    """`suspend_flow_run(wait_for_input=form, key=key)` whose Suspended state carries a message
    (why the run waits, or why the last answer was refused), shown on the run page."""
    context = FlowRunContext.get()
    if context is None or context.flow_run is None:
        raise RuntimeError("only a flow run can wait for an answer")
    flow_run_id = context.flow_run.id
    proposed: State[Any] = Suspended(timeout_seconds=timeout, pause_key=key, message=message)
    keyset = keyset_from_paused_state(proposed)
    proposed.state_details.run_input_keyset = {str(k): v for k, v in keyset.items()}
    with get_client(sync_client=True) as client:
        state = propose_state_sync(client=client, state=proposed, flow_run_id=flow_run_id)
        if state.is_running():  # resumed: this suspend happened before, the answer is stored
            return cast(A, form.load(keyset))
        if not state.is_paused():
            raise RuntimeError(f"the run cannot be suspended: it is {state.name}")
        form.save(keyset)
    get_run_logger().info(message)
    mark_flow_run_suspension_requested(flow_run_id, state)
    raise Pause(state=state)
