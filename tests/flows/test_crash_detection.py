"""A killed run is marked Crashed, not left Running (DESIGN §6): the automation serve sets up."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any

import pytest
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import State, StateType
from prefect.states import Pending, Running

from adapters.prefect_api import (
    CRASH_DETECTION,
    NEVER_STARTED,
    _ensure_crash_automation,
    ensure_crash_detection,
)

pytestmark = pytest.mark.usefixtures("prefect_server")


def test_serve_sets_up_crash_detection_once_and_it_spares_suspended_reviews() -> None:
    assert ensure_crash_detection(30) in (True, False)  # another test may have made it
    assert ensure_crash_detection(30) is False
    with get_client(sync_client=True) as client:
        [automation] = client.read_automations_by_name(name=CRASH_DETECTION)
    trigger = automation.trigger
    assert trigger.posture == "Proactive"
    assert trigger.within == dt.timedelta(seconds=90)
    assert "prefect.flow-run.heartbeat" in trigger.after
    # A review run suspended for a person sends no heartbeat: that is not a crash.
    assert {"prefect.flow-run.Suspended", "prefect.flow-run.Completed"} <= trigger.expect
    assert automation.actions[0].type == "change-flow-run-state"
    with get_client(sync_client=True) as client:
        [starting] = client.read_automations_by_name(name=NEVER_STARTED)
    assert starting.trigger.after == {"prefect.flow-run.Pending"}
    assert starting.trigger.within == dt.timedelta(seconds=120)


def test_a_run_left_pending_by_a_killed_process_is_marked_crashed_and_gives_its_slot_back() -> None:
    """A process killed while it starts a run leaves it Pending (no heartbeat yet), holding
    its deployment's concurrency slot for a 300 s lease; the second automation marks it Crashed
    once nothing follows the Pending state (`start_seconds`, 10 here), and a run that did start
    is left alone."""
    _ensure_crash_automation(
        "test: never started",
        "test",
        after={"prefect.flow-run.Pending"},
        expect={"prefect.flow-run.*"},
        seconds=10,
        message="never started",
    )
    with get_client(sync_client=True) as client:
        flow_id = client.create_flow(crash_detection_probe)
        deployment_id = client.create_deployment(
            flow_id, "never-started", concurrency_limit=1, entrypoint="probe.py:probe"
        )
        # Pending as a worker proposes it, through orchestration: that is what takes the slot
        # (a run created straight into Pending takes none).
        killed = client.create_flow_run_from_deployment(deployment_id).id
        took = client.set_flow_run_state(killed, Pending())
        assert took.status.value == "ACCEPT", (took.status, took.details)
        started = client.create_flow_run_from_deployment(deployment_id).id
        waits = client.set_flow_run_state(started, Pending())  # the killed run holds the slot
        assert waits.status.value == "REJECT", (waits.status, waits.details)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            state = client.read_flow_run(killed).state
            if state is not None and state.type == StateType.CRASHED:
                break
            time.sleep(1)
        assert state is not None and state.type == StateType.CRASHED, state
        assert state.message == "never started"
        # The slot is free again: the waiting run can start (the release may lag the Crashed
        # state by a moment: asked again while it is still refused).
        answer = _propose(client, started, Pending, again_while="REJECT")
        assert answer.status.value == "ACCEPT", (answer.status, answer.details)
        # Running may be answered WAIT while the new slot's lease settles: ask again, as the
        # runner does (left Pending, the run would rightly be marked never started).
        running = _propose(client, started, Running, again_while="WAIT")
        assert running.status.value == "ACCEPT", (running.status, running.details)
        time.sleep(15)
        still = client.read_flow_run(started).state
        assert still is not None and still.type == StateType.RUNNING
        client.delete_deployment(deployment_id)


def _propose(client: Any, run_id: Any, make_state: Callable[[], State], *, again_while: str) -> Any:
    """Propose a state through orchestration, asking again for up to 20 s while Prefect answers
    `again_while`; Prefect's last answer."""
    deadline = time.monotonic() + 20
    while (answer := client.set_flow_run_state(run_id, make_state())).status.value == again_while:
        if time.monotonic() > deadline:
            break
        time.sleep(1)
    return answer


@flow(name="crash-detection-probe")
def crash_detection_probe() -> None:
    """Never run: a flow for the probe deployment."""
