"""Prefect unreachable at intake time: the post is still accepted and the intake sweep decides it
once Prefect is back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlmodel import select

from flows.intake_sweep import intake_sweep
from models.db import session_scope
from models.settings import get_settings
from models.tables import Lead, RawSubmission
from tests.integration.test_intake import SECRET, Recorder, running
from tests.paths import SAMPLES

pytestmark = pytest.mark.usefixtures("prefect_server")


def test_a_post_accepted_while_prefect_is_down_is_decided_by_the_sweep(
    settings_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEDLEADS_INTAKE_SECRET", SECRET)
    get_settings.cache_clear()
    down = Recorder(fail=True)
    forms = [json.loads(x) for x in (SAMPLES / "forms.jsonl").read_text().splitlines()[:3]]
    with running(down) as intake:
        answers = [intake.post("/v1/forms", form) for form in forms]
        intake.trigger.flush()
    assert [a.status_code for a in answers] == [202, 202, 202]
    assert down.calls == []  # every emit failed: nothing reached Prefect
    with session_scope() as session:
        assert {r.state for r in session.exec(select(RawSubmission))} == {"pending"}

    processed = intake_sweep()

    assert processed == {"form": 3, "webinar": 0, "outbound": 0}
    with session_scope() as session:
        assert {r.state for r in session.exec(select(RawSubmission))} == {"done"}
        assert len(session.exec(select(Lead)).all()) == 3
