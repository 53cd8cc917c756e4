"""A killed run's claimed submissions are taken over as soon as Prefect reports the run
finished (Crashed once its heartbeats stop), not only after the claim's 30-minute lease."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import UUID

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import State
from prefect.states import Crashed, Running

from adapters.prefect_api import finished_flow_runs
from flows.inbound_form import inbound_form
from tasks.store import claim_pending
from tests.integration.test_persistence import form, store


@pytest.fixture
def runs(prefect_server: None) -> Iterator[list[UUID]]:
    created: list[UUID] = []
    yield created
    with get_client(sync_client=True) as client:
        for run_id in created:
            client.delete_flow_run(run_id)


def _run(runs: list[UUID], state: State) -> str:
    with get_client(sync_client=True) as client:
        run_id = client.create_flow_run(inbound_form, state=state).id
    runs.append(run_id)
    return str(run_id)


def test_a_claim_held_by_a_run_marked_crashed_is_taken_over_at_once(
    runs: list[UUID], db_url: str
) -> None:
    store(db_url, form(submission_id="s-1"))
    killed = _run(runs, Running())
    assert [c.id for c in claim_pending.fn("form", 10, killed, url=db_url)] == ["s-1"]
    assert claim_pending.fn("form", 10, "sweep", lease_minutes=30, url=db_url) == []

    with get_client(sync_client=True) as client:
        client.set_flow_run_state(UUID(killed), Crashed(), force=True)

    assert [c.id for c in claim_pending.fn("form", 10, "sweep", lease_minutes=30, url=db_url)] == [
        "s-1"
    ]


def test_only_runs_prefect_reports_finished_count_as_gone(runs: list[UUID]) -> None:
    running, crashed = _run(runs, Running()), _run(runs, Crashed())
    unknown = "00000000-0000-0000-0000-000000000000"

    assert finished_flow_runs([running, crashed, unknown, "not-a-run-id"]) == {crashed}
