"""The intake signals a channel only when no run that will drain it is already waiting to start:
a burst then starts one run and at most one queued behind it, not one per time window."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from uuid import UUID

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import State, StateType
from prefect.states import Pending, Scheduled

from adapters.prefect_api import run_waiting
from flows.inbound_form import inbound_form
from intake.trigger import Trigger
from tests.integration.test_intake import Recorder


def test_a_window_is_not_signalled_while_a_run_of_the_channel_is_waiting_to_start() -> None:
    recorder = Recorder()
    trigger = Trigger(window=10, emit=recorder, waiting=lambda channel: channel == "form")
    for channel in ("form", "form", "webinar"):
        trigger.notify(channel)

    trigger.flush()

    assert [c.resource["medleads.channel"] for c in recorder.calls] == ["webinar"]
    assert (trigger.emitted, trigger.coalesced) == ({"webinar": 1}, {"form": 1})


def test_when_the_runs_cannot_be_read_the_window_is_signalled_as_before() -> None:
    def unreachable(channel: str) -> bool:
        raise ConnectionError("Prefect is unreachable")

    recorder = Recorder()
    trigger = Trigger(window=10, emit=recorder, waiting=unreachable)
    trigger.notify("form")

    trigger.flush()

    assert recorder.signalled() == 1
    assert trigger.coalesced == {}


@pytest.fixture
def form_runs(prefect_server: None) -> Iterator[list[UUID]]:
    created: list[UUID] = []
    yield created
    with get_client(sync_client=True) as client:
        for run_id in created:
            client.delete_flow_run(run_id)


def _run(state: State) -> UUID:
    with get_client(sync_client=True) as client:
        return client.create_flow_run(inbound_form, state=state).id


@pytest.mark.parametrize(
    ("state", "waiting"),
    [
        (Scheduled(), True),
        (Scheduled(scheduled_time=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30)), True),
        (Pending(), True),
        (Scheduled(scheduled_time=dt.datetime.now(dt.UTC) + dt.timedelta(days=1)), False),
    ],
    ids=["due-now", "queued-for-its-slot", "pending", "scheduled-tomorrow"],
)
def test_a_form_run_about_to_start_counts_as_waiting(
    form_runs: list[UUID], state: State, waiting: bool
) -> None:
    assert run_waiting("form") is False

    form_runs.append(_run(state))

    assert run_waiting("form") is waiting
    assert run_waiting("webinar") is False


def test_a_running_or_finished_form_run_does_not_count_as_waiting(form_runs: list[UUID]) -> None:
    run_id = _run(Pending())
    form_runs.append(run_id)
    with get_client(sync_client=True) as client:
        client.set_flow_run_state(run_id, State(type=StateType.RUNNING), force=True)
        assert run_waiting("form") is False
        client.set_flow_run_state(run_id, State(type=StateType.COMPLETED), force=True)

    assert run_waiting("form") is False
