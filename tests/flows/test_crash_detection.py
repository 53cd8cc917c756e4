"""A killed run is marked Crashed, not left Running (DESIGN §6): the automation serve sets up."""

from __future__ import annotations

import datetime as dt

import pytest
from prefect.client.orchestration import get_client

from adapters.prefect_api import CRASH_DETECTION, ensure_crash_detection

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
