"""Request signing shared by the intake and the CRM webhook: HMAC-SHA256 over timestamp and body."""

from __future__ import annotations

import hashlib
import hmac
import time

TIMESTAMP_HEADER = "X-Medleads-Timestamp"
SIGNATURE_HEADER = "X-Medleads-Signature"
REPLAY_WINDOW_SECONDS = 300

_MAX_TIMESTAMP_DIGITS = 12


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The `X-Medleads-Signature` value: HMAC-SHA256 of `timestamp + "." + body`."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def verify(
    secret: str,
    timestamp: str,
    body: bytes,
    signature: str,
    *,
    now: float | None = None,
    window_seconds: int = REPLAY_WINDOW_SECONDS,
) -> bool:
    """Whether `signature` signs `body` at `timestamp`, and that is within the replay window."""
    if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > _MAX_TIMESTAMP_DIGITS:
        return False
    current = time.time() if now is None else now
    if abs(current - int(timestamp)) > window_seconds:
        return False
    if not signature.isascii():
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)
