"""Deliver CRM handoffs: appended to a JSONL file by default, or POSTed to a signed webhook."""

from __future__ import annotations

import fcntl
import functools
import json
import logging
import math
import os
import random
import time
from collections.abc import Callable, Mapping
from datetime import UTC
from email.utils import parsedate_to_datetime
from importlib import metadata
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, Self

import httpx

from adapters.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

log = logging.getLogger(__name__)

IDEMPOTENCY_HEADER = "Idempotency-Key"
HANDOFFS_FILE = "handoffs.jsonl"

_BODY_EXCERPT_CHARS = 200
_JITTER_FRACTION = 0.1


def _user_agent() -> str:
    try:
        version = metadata.version("medleads")
    except metadata.PackageNotFoundError:
        version = "0.1"
    return f"medleads/{version}"


USER_AGENT = _user_agent()


class DeliveryError(Exception):
    """A handoff was not delivered; `transient` says whether trying again later may succeed."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient

    def __reduce__(self) -> tuple[Any, ...]:
        # The keyword-only flag would be lost by Exception's default pickling, which Prefect uses.
        return (functools.partial(type(self), transient=self.transient), (str(self),))


class HandoffSink(Protocol):
    """Where qualified leads go; the database side decides what to deliver and records it."""

    name: str

    # Whether `already_delivered` can be trusted to settle a handoff left in flight (a local
    # file can; a webhook cannot be asked, so one in flight is sent again under its key).
    replay_safe: bool

    def deliver(self, idempotency_key: str, payload: Mapping[str, Any]) -> None: ...

    def already_delivered(self, idempotency_key: str) -> bool: ...

    def sync(self) -> None:
        """Make what `deliver` handed over durable; called before a batch's deliveries are
        recorded (an error leaves them in flight, settled by `already_delivered`)."""
        ...

    def close(self) -> None: ...


class JsonlSink:
    """Appends each handoff as one JSON line to a local file, so a demo needs no CRM."""

    name = "jsonl"
    replay_safe = True

    def __init__(self, path: Path) -> None:
        self.path = path
        self._unsynced = False

    def deliver(self, idempotency_key: str, payload: Mapping[str, Any]) -> None:
        record = {**payload, "idempotency_key": idempotency_key}
        line = json.dumps(record, sort_keys=True, ensure_ascii=False, default=str) + "\n"
        data = line.encode("utf-8")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Handoffs carry contact details: readable by the owner only.
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            # The lock keeps other writers from being mid-append while we look at the last byte.
            fcntl.flock(fd, fcntl.LOCK_EX)
            if _ends_torn(fd):
                # A crash mid-append left a line without its newline; end it so ours stays whole.
                data = b"\n" + data
            _write_all(fd, data)
        finally:
            os.close(fd)
        self._unsynced = True

    def sync(self) -> None:
        """One fsync for the lines a batch appended (one per line cost ~0.6 ms each here). Until
        it returns, their handoffs stay `sending`: after a kill the file is asked, and a line the
        kill kept from the disk is delivered again, once."""
        if not self._unsynced:
            return
        fd = os.open(self.path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        self._unsynced = False

    def already_delivered(self, idempotency_key: str) -> bool:
        needle = json.dumps(idempotency_key, ensure_ascii=False)
        try:
            handle = self.path.open(encoding="utf-8", errors="replace", newline="")
        except FileNotFoundError:
            return False
        with handle:
            for line in handle:
                if needle not in line:
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(record, dict) and record.get("idempotency_key") == idempotency_key:
                    return True
        return False

    def close(self) -> None:
        pass

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _ends_torn(fd: int) -> bool:
    size = os.fstat(fd).st_size
    return size > 0 and os.pread(fd, 1, size - 1) != b"\n"


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


class WebhookSink:
    """POSTs each handoff to the CRM's webhook, signed, retrying transient failures with backoff."""

    name = "webhook"
    replay_safe = False

    def __init__(
        self,
        url: str,
        secret: str,
        *,
        timeout: float = 10.0,
        max_attempts: int = 5,
        backoff_seconds: float = 0.5,
        max_backoff_seconds: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        try:
            target = httpx.URL(url)
        except httpx.InvalidURL:
            raise ValueError("the CRM webhook URL is not a valid URL") from None
        if target.scheme not in ("http", "https") or not target.host:
            raise ValueError("the CRM webhook URL must be an http:// or https:// URL with a host")
        if not secret:
            raise ValueError("the CRM webhook secret must not be empty")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.url = url
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds
        self.max_backoff_seconds = max_backoff_seconds
        # Only the host goes into messages: webhook paths and queries often embed tokens.
        self._host = target.host
        self._secret = secret
        self._sleep = sleep
        self._clock = clock
        self._client = httpx.Client(
            timeout=timeout, headers={"User-Agent": USER_AGENT}, follow_redirects=False
        )

    def deliver(self, idempotency_key: str, payload: Mapping[str, Any]) -> None:
        record = {**payload, "idempotency_key": idempotency_key}
        body = json.dumps(record, sort_keys=True, separators=(",", ":"), default=str).encode()
        failure = ""
        for attempt in range(1, self.max_attempts + 1):
            retry_after: float | None = None
            try:
                response = self._post(idempotency_key, body)
            except httpx.TransportError as exc:
                failure = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            else:
                status = response.status_code
                if response.is_success or status == httpx.codes.CONFLICT:
                    return
                if not _is_transient(status):
                    excerpt = response.text[:_BODY_EXCERPT_CHARS]
                    raise DeliveryError(
                        f"CRM webhook at {self._host} refused handoff {idempotency_key!r}: "
                        f"HTTP {status}: {excerpt!r}",
                        transient=False,
                    )
                failure = f"HTTP {status}"
                retry_after = _retry_after_seconds(
                    response.headers.get("Retry-After"), self._clock()
                )
            if attempt < self.max_attempts:
                delay = self._delay(attempt, retry_after)
                log.warning(
                    "CRM webhook attempt %d/%d for handoff %r failed (%s); retrying in %.2fs",
                    attempt,
                    self.max_attempts,
                    idempotency_key,
                    failure,
                    delay,
                )
                self._sleep(delay)
        raise DeliveryError(
            f"CRM webhook at {self._host} did not take handoff {idempotency_key!r} "
            f"after {self.max_attempts} attempts; last: {failure}",
            transient=True,
        )

    def already_delivered(self, idempotency_key: str) -> bool:
        # The receiver dedupes by Idempotency-Key, so sending again is the safe recovery.
        return False

    def sync(self) -> None:
        pass  # the receiver answered each POST: nothing is held here

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _post(self, idempotency_key: str, body: bytes) -> httpx.Response:
        timestamp = str(int(self._clock()))
        headers = {
            "Content-Type": "application/json",
            IDEMPOTENCY_HEADER: idempotency_key,
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(self._secret, timestamp, body),
        }
        return self._client.post(self.url, content=body, headers=headers)

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.max_backoff_seconds)
        base = min(self.backoff_seconds * 2.0 ** min(attempt - 1, 32), self.max_backoff_seconds)
        return base + random.uniform(0, base * _JITTER_FRACTION)


def _is_transient(status: int) -> bool:
    return 500 <= status < 600 or status in (
        httpx.codes.REQUEST_TIMEOUT,
        httpx.codes.TOO_MANY_REQUESTS,
    )


def _retry_after_seconds(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header (delay in seconds or an HTTP date), if usable."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = when.timestamp() - now
    return max(0.0, seconds) if math.isfinite(seconds) else None


def sink_from_settings(
    webhook_url: str | None, webhook_secret: str | None, data_dir: Path
) -> HandoffSink:
    """The webhook when one is configured, else the local JSONL file."""
    if webhook_url:
        if not webhook_secret:
            raise ValueError(
                "MEDLEADS_CRM_WEBHOOK_SECRET is required when MEDLEADS_CRM_WEBHOOK_URL is set"
            )
        # One quick retry for a blip; a longer outage is the delivery queue's (per-handoff
        # backoff), so a CRM that is down never holds a pass on one handoff.
        return WebhookSink(webhook_url, webhook_secret, max_attempts=2)
    return JsonlSink(data_dir / HANDOFFS_FILE)
