"""The Prefect API calls that are not tasks: events, flow runs read, created and resumed."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Collection, Mapping
from typing import Any
from uuid import UUID

import httpx
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    FlowFilter,
    FlowFilterName,
    FlowRunFilter,
    FlowRunFilterId,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import State, StateType
from prefect.client.schemas.responses import OrchestrationResult
from prefect.events import emit_event
from prefect.exceptions import ObjectNotFound
from prefect.settings import PREFECT_API_URL

log = logging.getLogger(__name__)

# The flow each channel's event starts (flows/serve.py, prefect.yaml); each run drains everything
# pending of its channel.
CHANNEL_FLOWS = {"form": "inbound-form", "webinar": "webinar"}
# A scheduled run counts as waiting when it is due within this (a run queued behind the
# deployment's concurrency limit is rescheduled about 30 s ahead).
DUE_WITHIN = dt.timedelta(minutes=2)
# `finished_flow_runs` asks with these timeouts (s) in turn before giving up.
FINISHED_READ_TIMEOUTS = (5.0, 15.0)


class PrefectNotConfigured(Exception):
    """No Prefect server to tell; the scheduled sweep will process the submissions."""


def run_waiting(channel: str) -> bool:
    """Whether a run of the channel's flow is pending or scheduled to start soon: it claims
    everything stored before it starts, so another event would only queue an empty run.

    Measured: a 1,000-post burst emitted 8 events, and 6 of the 8 runs they started found
    nothing left, each after waiting ~30 s for the deployment's concurrency slot.
    """
    flow = CHANNEL_FLOWS.get(channel)
    if flow is None or PREFECT_API_URL.value() is None:
        return False
    waiting = FlowRunFilterStateType(any_=[StateType.SCHEDULED, StateType.PENDING])
    with get_client(sync_client=True, httpx_settings={"timeout": 5}) as client:
        runs = client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=[flow])),
            flow_run_filter=FlowRunFilter(state=FlowRunFilterState(type=waiting)),
            limit=20,
        )
    due = dt.datetime.now(dt.UTC) + DUE_WITHIN
    for run in runs:
        if run.state is None:
            continue
        if run.state.type == StateType.PENDING:
            return True
        start = run.next_scheduled_start_time or run.expected_start_time
        if start is not None and start <= due:
            return True
    return False


def emit_to_prefect(event: str, resource: dict[str, str], *, payload: dict[str, Any]) -> object:
    """`emit_event`, fire-and-forget through Prefect's events worker, when a server is set."""
    if PREFECT_API_URL.value() is None:
        # emit_event would start a throwaway local Prefect server that no deployment listens to.
        raise PrefectNotConfigured("PREFECT_API_URL is not set")
    return emit_event(event=event, resource=resource, payload=payload)


def read_deployment_id(name: str) -> UUID | None:
    """The id of the deployment `flow-name/deployment-name`; None when it does not exist."""
    with get_client(sync_client=True) as client:
        try:
            return client.read_deployment_by_name(name).id
        except ObjectNotFound:
            return None


def create_flow_run_from_deployment(
    deployment_id: UUID,
    *,
    parameters: dict[str, Any],
    name: str,
    idempotency_key: str,
    tags: list[str],
) -> UUID:
    """A flow run of the deployment; the same idempotency key gives back the same run."""
    with get_client(sync_client=True) as client:
        run = client.create_flow_run_from_deployment(
            deployment_id,
            parameters=parameters,
            name=name,
            idempotency_key=idempotency_key,
            tags=tags,
        )
    return run.id


def finished_flow_runs(flow_run_ids: Collection[str]) -> set[str]:
    """Those of these flow runs that Prefect reports finished (Completed, Failed, Crashed,
    Cancelled): they can hold no work any more. Asked twice (a server busy right after a kill
    can be slow); empty when Prefect is not configured or still cannot be read, so only a lease
    frees their work then, and a WARNING says so."""
    ids: dict[UUID, str] = {}
    for given in flow_run_ids:
        try:
            ids[UUID(given)] = given
        except ValueError:
            continue  # not a flow run id (a claimer outside Prefect)
    if not ids or PREFECT_API_URL.value() is None:
        return set()
    done = [StateType.COMPLETED, StateType.FAILED, StateType.CRASHED, StateType.CANCELLED]
    failure = ""
    for timeout in FINISHED_READ_TIMEOUTS:
        try:
            with get_client(sync_client=True, httpx_settings={"timeout": timeout}) as client:
                runs = client.read_flow_runs(
                    flow_run_filter=FlowRunFilter(
                        id=FlowRunFilterId(any_=list(ids)),
                        state=FlowRunFilterState(type=FlowRunFilterStateType(any_=done)),
                    ),
                    limit=len(ids),
                )
        except Exception as exc:
            failure = f"{type(exc).__name__}: {exc}"[:200]
            continue
        return {ids[run.id] for run in runs if run.id in ids}
    log.warning(
        "could not ask Prefect whether %d claiming flow runs have finished (%s); their claims "
        "are taken over when their leases end",
        len(ids),
        failure,
    )
    return set()


def resumed_answers(waits: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """flow run id -> the answer a person resumed it with, for those of these runs (flow run id
    -> the key of the suspend it waits on) that were resumed and have not suspended again nor
    finished. A resumed run can queue a long time for a process; its answer is readable at once.
    """
    found: dict[str, dict[str, Any]] = {}
    if not waits:
        return found
    moving = [StateType.SCHEDULED, StateType.PENDING, StateType.RUNNING]
    ids = [UUID(run_id) for run_id in waits]
    with get_client(sync_client=True) as client:
        for start in range(0, len(ids), 200):
            runs = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(
                    id=FlowRunFilterId(any_=ids[start : start + 200]),
                    state=FlowRunFilterState(type=FlowRunFilterStateType(any_=moving)),
                ),
                limit=200,
            )
            for run in runs:
                key = f"suspended-{waits[str(run.id)]}-response"
                try:
                    found[str(run.id)] = json.loads(client.read_flow_run_input(run.id, key))
                except httpx.HTTPStatusError as e:
                    if e.response.status_code != 404:
                        raise
                    # Started, not yet suspended; or resumed without an answer.
    return found


def read_flow_run_state(flow_run_id: str) -> State | None:
    with get_client(sync_client=True) as client:
        return client.read_flow_run(UUID(flow_run_id)).state


def resume_flow_run(flow_run_id: str, run_input: dict[str, Any]) -> OrchestrationResult[Any]:
    """Resume a paused flow run with an answer to its input, as the UI does."""
    with get_client(sync_client=True) as client:
        return client.resume_flow_run(UUID(flow_run_id), run_input=run_input)


CRASH_DETECTION = "medleads: mark silent flow runs crashed"
NEVER_STARTED = "medleads: mark flow runs that never started crashed"
# Events that end a run's heartbeats on purpose: finished, or suspended for a reviewer (a
# suspended run holds no process, so it sends none until it is resumed).
_SILENT_ON_PURPOSE = {
    f"prefect.flow-run.{state}"
    for state in ("Completed", "Failed", "Cancelled", "Crashed", "Suspended", "Paused")
}


def ensure_crash_detection(
    heartbeat_seconds: int, misses: int = 3, start_seconds: int = 120
) -> bool:
    """Prefect's zombie detection for a self-hosted server, two automations created once by
    name (returns whether any was created now):
    - a run whose heartbeats stop (`misses` heartbeats late) without a state that explains it
      is marked Crashed;
    - a run that went Pending and then said nothing for `start_seconds` (its process was killed
      while starting, before its first heartbeat) is marked Crashed: it holds its deployment's
      concurrency slot until then (a 300 s lease otherwise), so the sweep that takes over a
      killed run's work would wait behind it."""
    silence = heartbeat_seconds * misses
    made = _ensure_crash_automation(
        CRASH_DETECTION,
        "A killed worker or serve process leaves its runs Running; this marks them Crashed "
        "once their heartbeats stop.",
        after={"prefect.flow-run.heartbeat"},
        expect={"prefect.flow-run.heartbeat", *_SILENT_ON_PURPOSE},
        seconds=silence,
        message=f"No heartbeat for {silence} s: the process running this flow is gone.",
    )
    return (
        _ensure_crash_automation(
            NEVER_STARTED,
            "A process killed while starting a run leaves it Pending, holding its deployment's "
            "slot; this marks it Crashed when nothing follows the Pending state.",
            after={"prefect.flow-run.Pending"},
            # Any later event of the run (Running, a heartbeat, any other state) says it is
            # alive or settled.
            expect={"prefect.flow-run.*"},
            seconds=start_seconds,
            message=f"Pending for {start_seconds} s without starting: the process that was "
            "starting this flow is gone.",
        )
        or made
    )


def _ensure_crash_automation(
    name: str, description: str, *, after: set[str], expect: set[str], seconds: int, message: str
) -> bool:
    from prefect.events.actions import ChangeFlowRunState
    from prefect.events.schemas.automations import AutomationCore, EventTrigger, Posture
    from prefect.events.schemas.events import ResourceSpecification

    with get_client(sync_client=True) as client:
        if client.read_automations_by_name(name=name):
            return False
        client.create_automation(
            AutomationCore(
                name=name,
                description=description,
                trigger=EventTrigger(
                    after=after,
                    expect=expect,
                    match=ResourceSpecification({"prefect.resource.id": ["prefect.flow-run.*"]}),
                    for_each={"prefect.resource.id"},
                    posture=Posture.Proactive,
                    threshold=1,
                    within=dt.timedelta(seconds=seconds),
                ),
                actions=[
                    ChangeFlowRunState(
                        name=None, state=StateType.CRASHED, message=message, force=False
                    )
                ],
            )
        )
    return True


def retag_flow_run(flow_run_id: str, *, add: Collection[str], remove: Collection[str]) -> None:
    """Change a flow run's tags (a review run leaves the `review-pending` inbox once decided)."""
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(UUID(flow_run_id))
        tags = [t for t in run.tags if t not in remove]
        tags += [t for t in add if t not in tags]
        if tags != run.tags:
            client.update_flow_run(UUID(flow_run_id), tags=tags)
