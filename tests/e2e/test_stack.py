"""The real stack on loopback: a Prefect server, `medleads serve` and the intake, started as
`make demo` starts them; forms posted over HTTP are decided through the event trigger."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prefect.settings import PREFECT_API_URL, temporary_settings
from sqlmodel import select

from adapters.signing import sign
from cli.demo import undecided
from cli.stack import Stack, start, stop
from models.db import session_scope
from models.settings import get_settings
from models.tables import Lead
from tests.paths import SAMPLES
from tests.prefect_helpers import drain_prefect_workers


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    data = tmp_path_factory.mktemp("stack") / "data"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MEDLEADS_DATA_DIR", str(data))
        mp.delenv("MEDLEADS_DATABASE_URL", raising=False)
        mp.setenv("MEDLEADS_DEMO_PREFECT_PORT", str(_free_port()))
        mp.setenv("MEDLEADS_INTAKE_PORT", str(_free_port()))
        mp.setenv("MEDLEADS_INTAKE_SECRET", "test-secret")
        get_settings.cache_clear()
        from models.db import upgrade

        upgrade()
        stack = start()
        try:
            with temporary_settings(updates={PREFECT_API_URL: stack.prefect_api}):
                yield stack
                drain_prefect_workers()
        finally:
            stop()
            get_settings.cache_clear()


def post(stack: Stack, body: dict[str, object]) -> httpx.Response:
    raw = json.dumps(body).encode()
    stamp = str(int(time.time()))
    return httpx.post(
        f"{stack.intake_url}/v1/forms",
        content=raw,
        headers={
            "Content-Type": "application/json",
            "X-Medleads-Timestamp": stamp,
            "X-Medleads-Signature": sign("test-secret", stamp, raw),
        },
        timeout=10,
    )


def test_forms_posted_over_http_are_decided_through_the_event_trigger(running: Stack) -> None:
    rows = [json.loads(line) for line in (SAMPLES / "forms.jsonl").read_text().splitlines()]
    started = time.monotonic()
    answers = [post(running, row) for row in rows]
    assert [a.status_code for a in answers] == [202] * len(rows)
    assert [a.json()["submission_id"] for a in answers] == [r["submission_id"] for r in rows]

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (undecided() or not _leads()):
        time.sleep(1)
    elapsed = time.monotonic() - started
    assert undecided() == 0, "every posted form was decided"
    with session_scope() as session:
        statuses = {lead.channel for lead in session.exec(select(Lead))}
    assert statuses == {"form"}
    assert len(_leads()) == len(rows)
    print(f"{len(rows)} forms posted and decided through the trigger in {elapsed:.1f} s")

    again = post(running, rows[0])
    assert again.status_code == 202 and again.json()["duplicate"] is True


def _leads() -> list[str]:
    with session_scope() as session:
        return list(session.exec(select(Lead.id)))


def test_the_stack_starts_once_and_answers_health(running: Stack) -> None:
    assert start() == running  # already running: nothing new is started
    assert httpx.get(f"{running.intake_url}/v1/health", timeout=5).json()["status"] == "ok"
    assert Path(running.data / "run" / "serve.pid").exists()


def test_no_email_or_phone_of_a_submitter_reaches_a_log(running: Stack) -> None:
    """Logs carry ids, never personal data: every log file of the stack and every log line the
    Prefect server kept are searched for the posted emails and phones (as posted and E.164)."""
    from prefect.client.orchestration import get_client

    from qualification.contact import check_phone

    rows = [json.loads(line) for line in (SAMPLES / "forms.jsonl").read_text().splitlines()]
    for row in rows:
        assert post(running, row).status_code == 202  # (again: duplicates, answered the same)
    secrets: set[str] = set()
    for row in rows:
        for value in (row.get("email"), row.get("phone")):
            if isinstance(value, str) and len(value) > 6:
                secrets.add(value)
        e164 = check_phone(str(row.get("phone") or ""), "US").e164
        if e164:
            secrets.add(e164)
    assert secrets
    logs = sorted((running.data / "logs").glob("*.log"))
    assert logs
    for path in logs:
        text = path.read_text(errors="replace")
        assert not [s for s in secrets if s in text], path.name
    with get_client(sync_client=True) as client:
        messages = [log.message for log in client.read_logs(limit=200)]
    assert not [s for s in secrets if any(s in m for m in messages)]
