"""The intake service over real HTTP on loopback, against real SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import itertools
import json
import logging
import socket
import stat
import statistics
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from prefect.settings import PREFECT_API_URL, temporary_settings
from sqlmodel import col, select

from adapters.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from intake.app import CanonicalFields, create_app
from intake.security import SECRET_FILE, intake_secret
from intake.trigger import EVENT, Trigger
from models.db import session_scope
from models.settings import get_settings
from models.tables import RawSubmission
from qualification.submission import CANONICAL_FIELDS, submission_from_mapping
from tests.paths import SAMPLES

SECRET = "intake-secret-for-tests-only"
API_KEY = "partner-key-for-tests"
LIMIT = 64 * 1024
FORM: dict[str, Any] = {
    "submission_id": "form-0001",
    "channel": "form",
    "organization_name": "Lakeside Cardiology Associates",
    "contact_name": "Dana Whitfield",
    "email": "dana.whitfield@lakeside.example.com",
    "phone": "(845) 555-0142",
    "state": "NY",
    "interest_type": "demo",
    "locations_count": 4,
    "consent_email": True,
    "message": "We would like a demo next month.",
    "utm_medium": "cpc",
}


def signed(body: bytes, *, secret: str = SECRET, at: float | None = None) -> dict[str, str]:
    timestamp = str(int(time.time() if at is None else at))
    return {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: sign(secret, timestamp, body),
    }


@dataclass
class Emitted:
    at: float
    event: str
    resource: dict[str, str]
    payload: dict[str, Any]


@dataclass
class Recorder:
    """Stands in for Prefect's emit_event and remembers every call."""

    calls: list[Emitted] = field(default_factory=list)
    fail: bool = False

    def __call__(self, event: str, resource: dict[str, str], *, payload: dict[str, Any]) -> None:
        if self.fail:
            raise ConnectionError("Prefect is unreachable")
        self.calls.append(Emitted(time.monotonic(), event, resource, payload))

    def signalled(self) -> int:
        return sum(c.payload["count"] for c in self.calls)


@dataclass
class Intake:
    client: httpx.Client
    trigger: Trigger
    emitted: Recorder

    def post(self, path: str, data: Any, headers: dict[str, str] | None = None) -> httpx.Response:
        body = data if isinstance(data, bytes) else json.dumps(data).encode()
        return self.client.post(
            path, content=body, headers=signed(body) if headers is None else headers
        )


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """The app under uvicorn in a thread, on a free loopback port."""
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets created that way, and
    # without it every answer waits ~40 ms for a delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", ws="none")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the intake did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@contextmanager
def running(emitted: Recorder | None = None, window: float = 0.2) -> Iterator[Intake]:
    recorder = emitted or Recorder()
    trigger = Trigger(window=window, emit=recorder)
    with (
        serving(create_app(trigger)) as url,
        httpx.Client(base_url=url, timeout=30, limits=httpx.Limits(max_connections=64)) as client,
    ):
        yield Intake(client, trigger, recorder)


@pytest.fixture
def configured(settings_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MEDLEADS_INTAKE_SECRET", SECRET)
    monkeypatch.setenv("MEDLEADS_INTAKE_API_KEYS", f"{API_KEY}, another-partner-key")
    get_settings.cache_clear()
    return settings_env


@pytest.fixture
def intake(configured: Path) -> Iterator[Intake]:
    with running() as started:
        yield started


def stored(db_url: str) -> list[RawSubmission]:
    with session_scope(db_url) as session:
        return list(session.exec(select(RawSubmission).order_by(col(RawSubmission.stored_at))))


def wait_until(condition: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_the_form_contract_names_every_canonical_field() -> None:
    assert set(CanonicalFields.model_fields) == set(CANONICAL_FIELDS)


def test_a_signed_form_post_is_stored_verbatim_before_the_answer(
    intake: Intake, db_url: str
) -> None:
    response = intake.post("/v1/forms", FORM)

    assert (response.status_code, response.json()) == (
        202,
        {"submission_id": "form-0001", "duplicate": False},
    )
    [row] = stored(db_url)
    assert (row.id, row.channel, row.state, row.source_name) == (
        "form-0001",
        "form",
        "pending",
        "intake",
    )
    assert row.payload == FORM


def test_a_form_without_an_id_gets_its_content_hash_and_an_exact_repost_is_a_duplicate(
    intake: Intake, db_url: str
) -> None:
    form = {k: v for k, v in FORM.items() if k != "submission_id"}
    first = intake.post("/v1/forms", form).json()
    again = intake.post("/v1/forms", form).json()

    expected = submission_from_mapping(form, channel="form").submission_id
    assert first == {"submission_id": expected, "duplicate": False}
    assert again == {"submission_id": expected, "duplicate": True}
    assert [r.id for r in stored(db_url)] == [expected]


def test_every_sample_form_and_webinar_row_is_accepted(intake: Intake, db_url: str) -> None:
    forms = [json.loads(line) for line in (SAMPLES / "forms.jsonl").read_text().splitlines()]
    with (SAMPLES / "webinar.csv").open(encoding="utf-8-sig", newline="") as f:
        callbacks = [
            {k.lower().replace(" ", "_"): v for k, v in row.items()} for row in csv.DictReader(f)
        ]

    answers = [intake.post("/v1/forms", form) for form in forms]
    answers += [intake.post("/v1/events/zoom", callback) for callback in callbacks]

    assert [a.status_code for a in answers] == [202] * len(answers)
    assert len(stored(db_url)) == len(forms) + len(callbacks)


def test_a_redelivered_submission_id_answers_the_same_id_and_stores_nothing_new(
    intake: Intake, db_url: str
) -> None:
    intake.post("/v1/forms", FORM)
    changed = {**FORM, "message": "Second delivery, edited by the sender"}

    response = intake.post("/v1/forms", changed)

    assert response.json() == {"submission_id": "form-0001", "duplicate": True}
    [row] = stored(db_url)
    assert row.payload["message"] == FORM["message"]


def test_fifty_concurrent_posts_of_one_submission_store_one_row(
    intake: Intake, db_url: str
) -> None:
    with ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(pool.map(lambda _: intake.post("/v1/forms", FORM), range(50)))

    assert {a.status_code for a in answers} == {202}
    assert {a.json()["submission_id"] for a in answers} == {"form-0001"}
    assert sorted(a.json()["duplicate"] for a in answers) == [False] + [True] * 49
    assert len(stored(db_url)) == 1


@pytest.mark.parametrize(
    ("headers", "why"),
    [
        (lambda body: signed(body, secret="not-the-secret"), "does not match the body"),
        (lambda body: signed(body, at=time.time() - 360), "outside the five-minute replay window"),
        (lambda body: signed(body, at=time.time() + 360), "outside the five-minute replay window"),
        (lambda body: {}, f"missing {TIMESTAMP_HEADER} and {SIGNATURE_HEADER}"),
        (lambda body: {SIGNATURE_HEADER: signed(body)[SIGNATURE_HEADER]}, "missing X-Medleads-Ti"),
        (lambda body: {**signed(body), TIMESTAMP_HEADER: "yesterday"}, "must be unix seconds"),
        (lambda body: {"X-Api-Key": "guessed-key"}, "unknown X-Api-Key"),
    ],
    ids=["bad-signature", "stale", "future", "no-headers", "no-timestamp", "bad-time", "bad-key"],
)
def test_an_unauthenticated_post_is_refused_with_the_reason_and_stores_nothing(
    intake: Intake, db_url: str, headers: Any, why: str
) -> None:
    body = json.dumps(FORM).encode()

    response = intake.post("/v1/forms", body, headers=headers(body))

    assert response.status_code == 401
    assert why in response.json()["detail"]
    assert SECRET not in response.text
    assert stored(db_url) == []


def test_a_signature_over_another_body_is_refused(intake: Intake, db_url: str) -> None:
    body = json.dumps(FORM).encode()
    tampered = body.replace(b"Lakeside", b"Lakeview")

    assert intake.post("/v1/forms", tampered, headers=signed(body)).status_code == 401
    assert stored(db_url) == []


def test_a_configured_api_key_is_accepted(intake: Intake, db_url: str) -> None:
    body = json.dumps(FORM).encode()

    response = intake.post("/v1/forms", body, headers={"X-Api-Key": API_KEY})

    assert response.status_code == 202
    assert [r.id for r in stored(db_url)] == ["form-0001"]


def test_api_keys_are_refused_when_none_are_configured(
    configured: Path, monkeypatch: pytest.MonkeyPatch, db_url: str
) -> None:
    monkeypatch.delenv("MEDLEADS_INTAKE_API_KEYS")
    with running() as intake:
        response = intake.post("/v1/forms", b"{}", headers={"X-Api-Key": API_KEY})

    assert response.status_code == 401
    assert "API keys are disabled" in response.json()["detail"]


def padded(size: int) -> bytes:
    """A valid form whose JSON encoding is exactly `size` bytes."""
    body = json.dumps({**FORM, "message": ""}).encode()
    return json.dumps({**FORM, "message": "x" * (size - len(body))}).encode()


def test_a_body_of_exactly_the_limit_is_accepted(intake: Intake) -> None:
    body = padded(LIMIT)
    assert len(body) == LIMIT

    assert intake.post("/v1/forms", body).status_code == 202


def test_a_body_over_the_limit_is_refused_with_413(intake: Intake, db_url: str) -> None:
    body = padded(65 * 1024 + 1)

    response = intake.post("/v1/forms", body)

    assert response.status_code == 413
    assert "larger than 65536 bytes" in response.json()["detail"]
    assert stored(db_url) == []


def test_a_chunked_body_over_the_limit_is_refused_while_it_streams(
    intake: Intake, db_url: str
) -> None:
    body = padded(65 * 1024 + 1)

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 4096):
            yield body[start : start + 4096]

    response = intake.client.post("/v1/forms", content=chunks(), headers=signed(body))

    assert response.request.headers.get("Transfer-Encoding") == "chunked"
    assert response.status_code == 413
    assert stored(db_url) == []


def test_a_declared_length_over_the_limit_is_refused_before_any_body_is_sent(
    intake: Intake,
) -> None:
    url = httpx.URL(str(intake.client.base_url))
    headers = signed(b"{}")
    request = (
        "POST /v1/forms HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"{TIMESTAMP_HEADER}: {headers[TIMESTAMP_HEADER]}\r\n"
        f"{SIGNATURE_HEADER}: {headers[SIGNATURE_HEADER]}\r\n"
        "Content-Length: 10000000\r\n\r\n"
    )
    with socket.create_connection((url.host, url.port), timeout=5) as conn:
        conn.sendall(request.encode())
        answer = conn.recv(4096).decode()

    assert answer.startswith("HTTP/1.1 413")


@pytest.mark.parametrize(
    ("body", "locs", "msg"),
    [
        (b'{"organization_name": "Acme", ', [["body"]], "not valid JSON"),
        (b'[{"organization_name": "Acme"}]', [["body"]], "must be a JSON object"),
        (b"[" * 60_000, [["body"]], "nested too deeply"),
        (b'{"organization_name": "Acme", "phone": NaN}', [["body"]], "not valid JSON"),
        (
            json.dumps({**FORM, "email": {"work": "a@b.example.com"}}).encode(),
            [["body", "email"]],
            "not an object or list",
        ),
        (
            json.dumps({**FORM, "tags": ["a", "b"]}).encode(),
            [["body", "tags"]],
            "not an object or list",
        ),
        (
            json.dumps({k: v for k, v in FORM.items() if k != "organization_name"}).encode(),
            [["body", "organization_name"]],
            "required",
        ),
        (
            json.dumps({**FORM, "organization_name": "  "}).encode(),
            [["body", "organization_name"]],
            "blank",
        ),
        (
            json.dumps({**FORM, "email": "", "phone": None}).encode(),
            [["body", "email"], ["body", "phone"]],
            "give an email or a phone",
        ),
        (json.dumps({**FORM, "channel": "webinar"}).encode(), [["body", "channel"]], "'form'"),
        (
            json.dumps({**FORM, "submission_id": "a b"}).encode(),
            [["body", "submission_id"]],
            "letters",
        ),
        (
            json.dumps({**FORM, "submission_id": "x" * 129}).encode(),
            [["body", "submission_id"]],
            "1-128",
        ),
    ],
    ids=[
        "bad-json",
        "array",
        "deep",
        "nan",
        "nested-email",
        "list-extra",
        "no-organization",
        "blank-organization",
        "no-email-or-phone",
        "other-channel",
        "bad-id",
        "long-id",
    ],
)
def test_an_invalid_form_is_refused_with_422_naming_each_bad_field(
    intake: Intake, db_url: str, body: bytes, locs: list[list[str]], msg: str
) -> None:
    response = intake.post("/v1/forms", body)

    assert response.status_code == 422
    problems = response.json()["detail"]
    assert [p["loc"] for p in problems] == locs
    assert all(msg in p["msg"] for p in problems)
    assert stored(db_url) == []


def test_a_burst_of_posts_is_signalled_by_a_handful_of_events_and_none_is_left_out(
    intake: Intake, db_url: str
) -> None:
    sent: list[float] = []

    def post(n: int) -> int:
        sent.append(time.monotonic())
        return intake.post("/v1/forms", {**FORM, "submission_id": f"burst-{n}"}).status_code

    with ThreadPoolExecutor(max_workers=16) as pool:
        assert set(pool.map(post, range(200))) == {202}
    wait_until(lambda: intake.emitted.signalled() >= 200)

    calls = intake.emitted.calls
    # At most one event per 0.2 s window: a few for the whole burst (5 on an idle machine; a
    # loaded one stretches the burst over more windows, never more events than windows).
    assert 1 <= len(calls) <= (max(sent) - min(sent)) / 0.2 + 2
    assert len(calls) <= 20
    assert all(b.at - a.at >= 0.19 for a, b in itertools.pairwise(calls))
    assert intake.emitted.signalled() == 200
    assert calls[-1].at > max(sent)
    assert {c.event for c in calls} == {EVENT}
    assert calls[0].resource == {
        "prefect.resource.id": "medleads.channel.form",
        "medleads.channel": "form",
    }
    assert intake.trigger.emitted == {"form": len(calls)}
    assert len(stored(db_url)) == 200


def test_a_duplicate_is_not_signalled_again(intake: Intake) -> None:
    intake.post("/v1/forms", FORM)
    wait_until(lambda: intake.emitted.signalled() == 1)

    intake.post("/v1/forms", FORM)
    time.sleep(0.4)

    assert intake.emitted.signalled() == 1


def test_an_unreachable_prefect_still_accepts_and_stores_the_submission(
    configured: Path, db_url: str
) -> None:
    with running(Recorder(fail=True)) as intake:
        response = intake.post("/v1/forms", FORM)
        wait_until(lambda: intake.trigger.failed.get("form") == 1)

    assert response.status_code == 202
    assert [(r.id, r.state) for r in stored(db_url)] == [("form-0001", "pending")]


def test_each_channel_gets_its_own_event_with_its_own_count() -> None:
    recorder = Recorder()
    trigger = Trigger(window=10, emit=recorder)
    for channel in ("form", "webinar", "form"):
        trigger.notify(channel)

    trigger.flush()

    assert {c.resource["medleads.channel"]: c.payload["count"] for c in recorder.calls} == {
        "form": 2,
        "webinar": 1,
    }
    assert trigger.emitted == {"form": 1, "webinar": 1}


def test_stopping_the_trigger_signals_what_is_still_pending() -> None:
    recorder = Recorder()
    trigger = Trigger(window=10, emit=recorder)
    trigger.start()
    trigger.notify("form")
    trigger.notify("form")

    started = time.monotonic()
    trigger.stop()

    assert [c.payload for c in recorder.calls] == [{"count": 2}]
    assert time.monotonic() - started < 2


def test_without_a_prefect_server_configured_nothing_is_emitted_and_it_says_why(
    caplog: pytest.LogCaptureFixture,
) -> None:
    trigger = Trigger()
    trigger.notify("form")

    with temporary_settings(restore_defaults={PREFECT_API_URL}):
        trigger.flush()
        trigger.notify("form")
        trigger.flush()

    assert (trigger.emitted, trigger.failed) == ({}, {"form": 2})
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "PREFECT_API_URL is not set" in warnings[0]


CALLBACK: dict[str, Any] = {
    "id": "webinar-8812",
    "first_name": "Nina",
    "last_name": "Quinn",
    "email": "nquinn@saratogaheart.example.com",
    "company": "Saratoga Heart & Vascular",
    "job_title": "Practice Administrator",
    "topic": "Cutting cardiology no-shows with digital intake",
    "attended": True,
    "join_time": "2026-11-18T16:02:00Z",
    "opt_in": "yes",
    "phone": "518-555-0160",
    "state": "NY",
}


def test_a_webinar_callback_is_mapped_to_canonical_fields_and_stored_as_webinar(
    intake: Intake, db_url: str
) -> None:
    response = intake.post("/v1/events/zoom", CALLBACK)

    assert response.status_code == 202
    [row] = stored(db_url)
    assert (row.id, row.channel, row.source_name) == (
        response.json()["submission_id"],
        "webinar",
        "zoom",
    )
    assert {k: row.payload[k] for k in CALLBACK} == CALLBACK
    sub = submission_from_mapping(row.payload, channel=row.channel)
    assert (sub.submission_id, sub.channel) == (row.id, "webinar")
    assert (sub.organization_name, sub.contact_name, sub.contact_role) == (
        "Saratoga Heart & Vascular",
        "Nina Quinn",
        "Practice Administrator",
    )
    assert (sub.webinar_session, sub.webinar_attended, sub.consent_email) == (
        "Cutting cardiology no-shows with digital intake",
        "true",
        "yes",
    )
    assert (sub.received_at, sub.email, sub.phone, sub.state) == (
        "2026-11-18T16:02:00Z",
        "nquinn@saratogaheart.example.com",
        "518-555-0160",
        "NY",
    )
    assert row.received_at.isoformat().startswith("2026-11-18T16:02:00")


def test_a_platform_submission_id_is_kept_apart_from_other_platforms(
    intake: Intake, db_url: str
) -> None:
    callback = {**CALLBACK, "submission_id": "reg-1"}

    zoom = intake.post("/v1/events/zoom", callback).json()
    other = intake.post("/v1/events/on24", callback).json()
    again = intake.post("/v1/events/zoom", callback).json()

    assert (zoom["submission_id"], other["submission_id"]) == ("zoom:reg-1", "on24:reg-1")
    assert again == {"submission_id": "zoom:reg-1", "duplicate": True}
    assert sorted(r.id for r in stored(db_url)) == ["on24:reg-1", "zoom:reg-1"]


@pytest.mark.parametrize(
    ("path", "body", "status", "locs"),
    [
        (
            "/v1/events/zoom",
            {k: v for k, v in CALLBACK.items() if k != "company"},
            422,
            [["body", "organization_name"]],
        ),
        (
            "/v1/events/zoom",
            {k: v for k, v in CALLBACK.items() if k != "email"},
            422,
            [["body", "email"]],
        ),
        ("/v1/events/zoom", {**CALLBACK, "topic": {"id": 1}}, 422, [["body", "topic"]]),
        ("/v1/events/zo_om", CALLBACK, 404, None),
        ("/v1/events/zo%40om", CALLBACK, 404, None),
    ],
    ids=["no-company", "no-email", "nested-topic", "underscore-platform", "at-sign-platform"],
)
def test_a_bad_webinar_callback_is_refused_and_stores_nothing(
    intake: Intake, db_url: str, path: str, body: dict[str, Any], status: int, locs: Any
) -> None:
    response = intake.post(path, body)

    assert response.status_code == status
    if locs is not None:
        assert [p["loc"] for p in response.json()["detail"]] == locs
    assert stored(db_url) == []


def test_health_reports_the_database(intake: Intake) -> None:
    response = intake.client.get("/v1/health")

    assert (response.status_code, response.json()) == (200, {"status": "ok", "database": "ok"})


def test_a_database_that_is_down_gives_503_and_accepts_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    monkeypatch.setenv("MEDLEADS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MEDLEADS_DATABASE_URL", f"postgresql://medleads@127.0.0.1:{port}/none")
    monkeypatch.setenv("MEDLEADS_INTAKE_SECRET", SECRET)
    get_settings.cache_clear()
    try:
        with running() as intake:
            posted = intake.post("/v1/forms", FORM)
            health = intake.client.get("/v1/health")
            time.sleep(0.3)
            signalled = intake.emitted.signalled()
    finally:
        get_settings.cache_clear()

    assert posted.status_code == 503
    assert "nothing was accepted" in posted.json()["detail"]
    assert (health.status_code, health.json()) == (503, {"status": "ok", "database": "error"})
    assert signalled == 0


def test_the_request_log_has_one_line_per_request_and_no_personal_data(
    intake: Intake, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="intake")
    intake.post("/v1/forms", FORM)
    intake.post("/v1/forms", {**FORM, "email": {"nested": FORM["email"]}})
    intake.post("/v1/events/zoom", CALLBACK)
    intake.client.post("/v1/forms?email=dana.whitfield%40lakeside.example.com", content=b"{}")
    intake.client.get("/v1/leads/dana.whitfield@lakeside.example.com")

    # Each line is written once the answer has gone out.
    wait_until(lambda: len([r for r in caplog.records if r.name == "intake.app"]) == 5)

    lines = [r.getMessage() for r in caplog.records if r.name == "intake.app"]
    assert lines[0].startswith("POST /v1/forms 202 ")
    assert lines[0].endswith("submission_id=form-0001")
    assert lines[1].startswith("POST /v1/forms 422 ")
    assert lines[2].startswith("POST /v1/events/zoom 202 ")
    assert lines[3].startswith("POST /v1/forms 401 ")
    assert lines[4].startswith("GET (no route) 404 ")
    everything = caplog.text
    for private in ("@", "dana", "Lakeside", "Whitfield", "Nina", "demo next month", "555-0142"):
        assert private not in everything


def test_a_secret_is_generated_once_into_the_data_folder_readable_by_the_owner_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEDLEADS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("MEDLEADS_INTAKE_SECRET", raising=False)
    get_settings.cache_clear()
    try:
        first, second = intake_secret(), intake_secret()
    finally:
        get_settings.cache_clear()

    path = tmp_path / "data" / SECRET_FILE
    assert first == second == path.read_text().strip()
    assert len(first) == 64
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == [SECRET_FILE]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_sequential_signed_posts_latency_on_sqlite(
    intake: Intake, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    took: list[float] = []
    for n in range(500):
        body = json.dumps({**FORM, "submission_id": f"seq-{n}"}).encode()
        started = time.perf_counter()
        response = intake.post("/v1/forms", body)
        took.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 202

    assert len(stored(db_url)) == 500
    p50 = statistics.median(took)
    p99 = statistics.quantiles(took, n=100)[98]
    with capsys.disabled():
        print(
            f"\nintake, 500 sequential signed posts on SQLite: p50 {p50:.1f} ms, p99 {p99:.1f} ms"
        )
