"""CRM handoff sinks against a real JSONL file and a real signed HTTP receiver on loopback."""

from __future__ import annotations

import json
import pickle
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import Message
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast

import pytest

from adapters.crm import DeliveryError, HandoffSink, JsonlSink, WebhookSink, sink_from_settings
from adapters.signing import sign, verify

SECRET = "s3cret-for-tests-only"
PAYLOAD: dict[str, Any] = {
    "lead_id": 42,
    "owner": "Dana Whitfield",
    "specialty": "orthopedics",
    "fit_score": 87,
    "notes": "Asked about rollout — Ünïcode and a\nnewline",
}


@dataclass(frozen=True)
class Attempt:
    key: str
    timestamp: str
    signature: str
    body: bytes
    signed: bool
    client_port: int


@dataclass
class Receiver:
    """A CRM stand-in: checks signatures, dedupes by Idempotency-Key, fails when told to."""

    secret: str
    url: str = ""
    attempts: list[Attempt] = field(default_factory=list)
    accepted: dict[str, bytes] = field(default_factory=dict)
    release: threading.Event = field(default_factory=threading.Event)
    _script: deque[tuple[int, dict[str, str], bytes] | None] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def answer_next(
        self, n: int, status: int, headers: dict[str, str] | None = None, body: bytes = b""
    ) -> None:
        self._script.extend([(status, headers or {}, body)] * n)

    def stall_next(self, n: int) -> None:
        self._script.extend([None] * n)

    def handle(
        self, headers: Message, body: bytes, client_port: int
    ) -> tuple[int, dict[str, str], bytes] | None:
        key = headers.get("Idempotency-Key", "")
        timestamp = headers.get("X-Medleads-Timestamp", "")
        signature = headers.get("X-Medleads-Signature", "")
        signed = verify(self.secret, timestamp, body, signature)
        with self._lock:
            self.attempts.append(Attempt(key, timestamp, signature, body, signed, client_port))
            if self._script:
                return self._script.popleft()
            if not signed:
                return 401, {}, b'{"error":"bad signature"}'
            self.accepted.setdefault(key, body)
            return 200, {}, b'{"ok":true}'


class _Server(ThreadingHTTPServer):
    receiver: Receiver


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        receiver = cast(_Server, self.server).receiver
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        reply = receiver.handle(self.headers, body, self.client_address[1])
        if reply is None:
            receiver.release.wait(5)
            self.close_connection = True
            return
        status, headers, content = reply
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = _Server(("127.0.0.1", 0), _Handler)
    server.receiver = Receiver(SECRET, url=f"http://127.0.0.1:{server.server_port}/handoffs")
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield server.receiver
    server.receiver.release.set()
    server.shutdown()
    server.server_close()
    thread.join(5)


class FakeTime:
    """A clock that only moves when the sink sleeps, so backoff costs no real time."""

    def __init__(self) -> None:
        self.now = time.time()
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def make_sink(receiver: Receiver, fake_time: FakeTime) -> Iterator[Callable[..., WebhookSink]]:
    sinks: list[WebhookSink] = []

    def make(**kwargs: Any) -> WebhookSink:
        options: dict[str, Any] = {
            "url": receiver.url,
            "secret": SECRET,
            "sleep": fake_time.sleep,
            "clock": fake_time.clock,
            **kwargs,
        }
        sink = WebhookSink(options.pop("url"), options.pop("secret"), **options)
        sinks.append(sink)
        return sink

    yield make
    for sink in sinks:
        sink.close()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def lines_of(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines(keepends=True)


# JSONL sink


def test_jsonl_sink_appends_one_line_per_handoff_carrying_its_key(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "folder" / "handoffs.jsonl"
    sink = JsonlSink(path)
    sink.deliver("lead-42:v1", PAYLOAD)
    sink.deliver("lead-43:v1", {**PAYLOAD, "lead_id": 43})

    lines = lines_of(path)
    assert len(lines) == 2
    assert all(line.endswith("\n") for line in lines)
    first = json.loads(lines[0])
    assert first == {"idempotency_key": "lead-42:v1", **PAYLOAD}
    assert "Ünïcode" in lines[0]
    assert json.loads(lines[1])["lead_id"] == 43


def test_jsonl_sink_writes_values_json_cannot_encode_as_text(tmp_path: Path) -> None:
    sink = JsonlSink(tmp_path / "handoffs.jsonl")
    sink.deliver("k", {"path": tmp_path})
    assert json.loads(lines_of(sink.path)[0])["path"] == str(tmp_path)


def test_a_payload_cannot_override_the_idempotency_key(tmp_path: Path) -> None:
    sink = JsonlSink(tmp_path / "handoffs.jsonl")
    sink.deliver("the-real-key", {"idempotency_key": "an-impostor"})
    assert json.loads(lines_of(sink.path)[0])["idempotency_key"] == "the-real-key"
    assert sink.already_delivered("the-real-key")
    assert not sink.already_delivered("an-impostor")


def test_already_delivered_finds_a_delivered_key_and_not_an_unknown_one(tmp_path: Path) -> None:
    sink = JsonlSink(tmp_path / "handoffs.jsonl")
    assert not sink.already_delivered("lead-1")
    sink.deliver("lead-10", PAYLOAD)
    sink.deliver('lead-"quoted"', PAYLOAD)

    assert sink.already_delivered("lead-10")
    assert sink.already_delivered('lead-"quoted"')
    assert not sink.already_delivered("lead-1")
    assert not sink.already_delivered("Dana Whitfield")


def test_a_torn_last_line_is_ended_so_the_next_handoff_stays_whole(tmp_path: Path) -> None:
    path = tmp_path / "handoffs.jsonl"
    sink = JsonlSink(path)
    sink.deliver("before-crash", PAYLOAD)
    with path.open("ab") as handle:
        handle.write(b'{"idempotency_key": "torn", "notes": "\xc3')

    assert not sink.already_delivered("torn")
    sink.deliver("after-crash", PAYLOAD)

    lines = path.read_bytes().splitlines()
    assert len(lines) == 3
    assert json.loads(lines[0])["idempotency_key"] == "before-crash"
    assert json.loads(lines[2])["idempotency_key"] == "after-crash"
    assert sink.already_delivered("before-crash")
    assert sink.already_delivered("after-crash")
    assert not sink.already_delivered("torn")


def test_two_sinks_appending_from_two_threads_leave_only_whole_lines(tmp_path: Path) -> None:
    path = tmp_path / "handoffs.jsonl"
    big = {**PAYLOAD, "notes": "x" * 6000}

    def append(writer: str) -> None:
        sink = JsonlSink(path)
        for n in range(200):
            sink.deliver(f"{writer}-{n}", big)

    threads = [threading.Thread(target=append, args=(writer,)) for writer in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    keys = [json.loads(line)["idempotency_key"] for line in lines_of(path)]
    assert len(keys) == 400
    assert sorted(keys) == sorted(f"{w}-{n}" for w in ("a", "b") for n in range(200))


# Signatures


def test_a_signature_verifies_only_for_the_same_secret_body_and_timestamp() -> None:
    timestamp, body = str(int(time.time())), b'{"lead_id":42}'
    signature = sign(SECRET, timestamp, body)

    assert signature.startswith("sha256=")
    assert verify(SECRET, timestamp, body, signature)
    assert not verify(SECRET, timestamp, b'{"lead_id":43}', signature)
    assert not verify("another-secret", timestamp, body, signature)
    assert not verify(SECRET, str(int(timestamp) + 1), body, signature)
    assert not verify(SECRET, timestamp, body, signature.upper().replace("SHA256", "sha256"))


@pytest.mark.parametrize(
    ("age_seconds", "accepted"),
    [(0, True), (299, True), (301, False), (-299, True), (-301, False), (3600, False)],
)
def test_a_signature_outside_the_five_minute_window_fails(age_seconds: int, accepted: bool) -> None:
    timestamp, body = "1700000000", b"{}"
    signature = sign(SECRET, timestamp, body)
    assert verify(SECRET, timestamp, body, signature, now=1700000000 + age_seconds) is accepted


@pytest.mark.parametrize(
    "timestamp", ["", "abc", "1700000000.5", "-1700000000", " 1700000000", "9" * 5000]
)
def test_a_timestamp_that_is_not_unix_seconds_fails(timestamp: str) -> None:
    assert not verify(SECRET, timestamp, b"{}", sign(SECRET, timestamp, b"{}"), now=1700000000)


def test_a_non_ascii_signature_fails_rather_than_raising() -> None:
    assert not verify(SECRET, "1700000000", b"{}", "sha256=é", now=1700000000)


# Webhook sink


def test_webhook_sink_delivers_a_signed_body_the_receiver_verifies(
    receiver: Receiver, make_sink: Callable[..., WebhookSink]
) -> None:
    make_sink().deliver("lead-42:v1", PAYLOAD)

    [attempt] = receiver.attempts
    assert attempt.signed
    assert attempt.key == "lead-42:v1"
    assert json.loads(receiver.accepted["lead-42:v1"]) == {
        "idempotency_key": "lead-42:v1",
        **PAYLOAD,
    }
    assert (
        attempt.body
        == json.dumps(
            {"idempotency_key": "lead-42:v1", **PAYLOAD}, sort_keys=True, separators=(",", ":")
        ).encode()
    )


def test_webhook_requests_carry_json_content_type_and_the_medleads_user_agent(
    receiver: Receiver, make_sink: Callable[..., WebhookSink]
) -> None:
    seen: list[tuple[str, str]] = []
    original = receiver.handle

    def spy(headers: Message, body: bytes, client_port: int) -> Any:
        seen.append((headers.get("Content-Type", ""), headers.get("User-Agent", "")))
        return original(headers, body, client_port)

    receiver.handle = spy  # type: ignore[method-assign]
    make_sink().deliver("k", PAYLOAD)
    assert seen == [("application/json", seen[0][1])]
    assert seen[0][1].startswith("medleads/")


def test_a_sink_with_the_wrong_secret_is_refused_at_once(
    receiver: Receiver, make_sink: Callable[..., WebhookSink], fake_time: FakeTime
) -> None:
    with pytest.raises(DeliveryError) as refused:
        make_sink(secret="not-the-shared-secret").deliver("k", PAYLOAD)

    assert refused.value.transient is False
    assert "401" in str(refused.value)
    assert "not-the-shared-secret" not in str(refused.value)
    assert len(receiver.attempts) == 1
    assert receiver.accepted == {}
    assert fake_time.sleeps == []


def test_a_sink_whose_clock_is_ten_minutes_behind_is_refused_as_stale(
    receiver: Receiver, make_sink: Callable[..., WebhookSink]
) -> None:
    with pytest.raises(DeliveryError) as refused:
        make_sink(clock=lambda: time.time() - 600).deliver("k", PAYLOAD)

    assert refused.value.transient is False
    assert not receiver.attempts[0].signed
    assert receiver.accepted == {}


def test_two_503s_then_success_delivers_once_after_three_freshly_signed_attempts(
    receiver: Receiver, make_sink: Callable[..., WebhookSink], fake_time: FakeTime
) -> None:
    receiver.answer_next(2, 503)
    make_sink(backoff_seconds=1.0).deliver("lead-42:v1", PAYLOAD)

    assert len(receiver.attempts) == 3
    assert list(receiver.accepted) == ["lead-42:v1"]
    assert all(attempt.signed for attempt in receiver.attempts)
    assert len({attempt.timestamp for attempt in receiver.attempts}) == 3
    assert len({attempt.signature for attempt in receiver.attempts}) == 3
    first, second = fake_time.sleeps
    assert 1.0 <= first <= 1.1
    assert 2.0 <= second <= 2.2


def test_backoff_is_capped_at_max_backoff_seconds(
    receiver: Receiver, make_sink: Callable[..., WebhookSink], fake_time: FakeTime
) -> None:
    receiver.answer_next(4, 500)
    make_sink(backoff_seconds=1.0, max_backoff_seconds=3.0).deliver("k", PAYLOAD)

    assert [round(s) for s in fake_time.sleeps] == [1, 2, 3, 3]
    assert max(fake_time.sleeps) <= 3.0 * 1.1
    assert list(receiver.accepted) == ["k"]


@pytest.mark.parametrize(
    ("retry_after", "expected_sleep"),
    [
        ("0", 0.0),
        ("2", 2.0),
        ("120", 10.0),
        (formatdate(time.time() + 3600, usegmt=True), 10.0),
    ],
    ids=["zero", "seconds", "seconds-capped", "http-date-capped"],
)
def test_a_429_retry_after_replaces_the_backoff(
    receiver: Receiver,
    make_sink: Callable[..., WebhookSink],
    fake_time: FakeTime,
    retry_after: str,
    expected_sleep: float,
) -> None:
    receiver.answer_next(1, 429, {"Retry-After": retry_after})
    make_sink(backoff_seconds=5.0, max_backoff_seconds=10.0).deliver("k", PAYLOAD)

    assert fake_time.sleeps == [expected_sleep]
    assert list(receiver.accepted) == ["k"]


def test_an_unreadable_retry_after_falls_back_to_the_backoff(
    receiver: Receiver, make_sink: Callable[..., WebhookSink], fake_time: FakeTime
) -> None:
    receiver.answer_next(1, 429, {"Retry-After": "soon"})
    make_sink(backoff_seconds=0.5).deliver("k", PAYLOAD)
    [slept] = fake_time.sleeps
    assert 0.5 <= slept <= 0.55


def test_a_400_is_refused_after_one_attempt_naming_status_and_body(
    receiver: Receiver, make_sink: Callable[..., WebhookSink], fake_time: FakeTime
) -> None:
    receiver.answer_next(1, 400, body=b'{"error":"missing owner"}' + b"x" * 1000)
    with pytest.raises(DeliveryError) as refused:
        make_sink().deliver("k", PAYLOAD)

    message = str(refused.value)
    assert refused.value.transient is False
    assert "HTTP 400" in message
    assert "missing owner" in message
    assert "x" * 200 not in message
    assert SECRET not in message
    assert len(receiver.attempts) == 1
    assert fake_time.sleeps == []


def test_a_409_conflict_counts_as_already_delivered(
    receiver: Receiver, make_sink: Callable[..., WebhookSink], fake_time: FakeTime
) -> None:
    receiver.answer_next(1, 409)
    make_sink().deliver("k", PAYLOAD)
    assert len(receiver.attempts) == 1
    assert fake_time.sleeps == []


def test_a_receiver_that_is_down_is_transient_after_max_attempts(fake_time: FakeTime) -> None:
    url = f"http://127.0.0.1:{closed_port()}/handoffs"
    with (
        WebhookSink(url, SECRET, max_attempts=3, sleep=fake_time.sleep) as sink,
        pytest.raises(DeliveryError) as failed,
    ):
        sink.deliver("k", PAYLOAD)

    assert failed.value.transient is True
    assert "3 attempts" in str(failed.value)
    assert "ConnectError" in str(failed.value)
    assert SECRET not in str(failed.value)
    assert len(fake_time.sleeps) == 2


def test_persistent_503s_are_transient_after_max_attempts(
    receiver: Receiver, make_sink: Callable[..., WebhookSink]
) -> None:
    receiver.answer_next(4, 503)
    with pytest.raises(DeliveryError) as failed:
        make_sink(max_attempts=4).deliver("k", PAYLOAD)

    assert failed.value.transient is True
    assert "HTTP 503" in str(failed.value)
    assert "4 attempts" in str(failed.value)
    assert len(receiver.attempts) == 4
    assert receiver.accepted == {}


def test_a_stall_beyond_the_timeout_counts_as_transient(
    receiver: Receiver, make_sink: Callable[..., WebhookSink]
) -> None:
    receiver.stall_next(2)
    started = time.monotonic()
    with pytest.raises(DeliveryError) as failed:
        make_sink(timeout=0.2, max_attempts=2).deliver("k", PAYLOAD)

    assert failed.value.transient is True
    assert "Timeout" in str(failed.value)
    assert time.monotonic() - started < 2
    assert receiver.accepted == {}


def test_a_stall_then_success_delivers_on_the_retry(
    receiver: Receiver, make_sink: Callable[..., WebhookSink]
) -> None:
    receiver.stall_next(1)
    make_sink(timeout=0.2).deliver("k", PAYLOAD)
    assert list(receiver.accepted) == ["k"]


def test_redelivering_the_same_key_records_one_handoff(
    receiver: Receiver, make_sink: Callable[..., WebhookSink]
) -> None:
    make_sink().deliver("lead-42:v1", PAYLOAD)
    make_sink().deliver("lead-42:v1", PAYLOAD)

    assert len(receiver.attempts) == 2
    assert list(receiver.accepted) == ["lead-42:v1"]
    assert make_sink().already_delivered("lead-42:v1") is False


def test_one_sink_reuses_its_connection_across_a_batch(
    receiver: Receiver, make_sink: Callable[..., WebhookSink]
) -> None:
    sink = make_sink()
    for n in range(3):
        sink.deliver(f"lead-{n}", PAYLOAD)
    assert len(receiver.accepted) == 3
    assert len({attempt.client_port for attempt in receiver.attempts}) == 1


def test_delivery_errors_keep_their_transient_flag_through_pickling() -> None:
    restored = pickle.loads(pickle.dumps(DeliveryError("HTTP 503", transient=True)))
    assert isinstance(restored, DeliveryError)
    assert restored.transient is True
    assert str(restored) == "HTTP 503"


@pytest.mark.parametrize("url", ["ftp://crm.example.com/hook", "crm.example.com/hook", "http://"])
def test_a_webhook_url_that_is_not_http_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="URL"):
        WebhookSink(url, SECRET)


# Choosing the sink


def test_without_a_webhook_url_handoffs_go_to_the_jsonl_file(tmp_path: Path) -> None:
    for url in (None, ""):
        sink: HandoffSink = sink_from_settings(url, None, tmp_path)
        assert isinstance(sink, JsonlSink)
        assert sink.name == "jsonl"
        assert sink.path == tmp_path / "handoffs.jsonl"


def test_with_a_webhook_url_and_secret_handoffs_go_to_the_webhook(tmp_path: Path) -> None:
    sink = sink_from_settings("https://crm.example.com/hooks/medleads", SECRET, tmp_path)
    try:
        assert isinstance(sink, WebhookSink)
        assert sink.name == "webhook"
        assert sink.url == "https://crm.example.com/hooks/medleads"
    finally:
        sink.close()


@pytest.mark.parametrize("secret", [None, ""])
def test_a_webhook_url_without_a_secret_is_refused(tmp_path: Path, secret: str | None) -> None:
    with pytest.raises(ValueError, match="MEDLEADS_CRM_WEBHOOK_SECRET is required"):
        sink_from_settings("https://crm.example.com/hooks/medleads", secret, tmp_path)
