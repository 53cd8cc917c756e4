"""Who may post to the intake: an HMAC signature over timestamp and body, or a known API key."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from adapters.signing import REPLAY_WINDOW_SECONDS, SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from models.settings import get_settings

API_KEY_HEADER = "X-Api-Key"
SECRET_FILE = "intake_secret"


class Unauthorized(Exception):
    """The request is refused; the message says why and never contains a secret."""


def intake_secret() -> str:
    """MEDLEADS_INTAKE_SECRET, else the one generated into the data folder on first start."""
    settings = get_settings()
    if settings.intake_secret:
        return settings.intake_secret
    path = settings.data_dir / SECRET_FILE
    if not path.exists():
        _create_secret(path)
    secret = path.read_text(encoding="ascii").strip()
    if not secret:
        raise RuntimeError(f"{path} is empty: delete it to generate a new secret")
    return secret


def _create_secret(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, (secrets.token_hex(32) + "\n").encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        # A hard link appears whole or not at all, and never replaces a secret another
        # process created first (that one wins and ours is dropped).
        os.link(draft, path)
    except FileExistsError:
        pass
    finally:
        draft.unlink()


def parse_api_keys(value: str | None) -> frozenset[str]:
    """Comma-separated keys; empty or unset disables API keys."""
    return frozenset(k.strip() for k in (value or "").split(",") if k.strip())


@dataclass(frozen=True, slots=True)
class PendingSignature:
    """A signature whose headers look right, to check once the body has been read."""

    timestamp: str
    signature: str


class Guard:
    """Checks the headers before the body is read, and the signature once it is."""

    def __init__(self, secret: str, api_keys: Iterable[str] = ()) -> None:
        if not secret:
            raise ValueError("the intake secret must not be empty")
        self._secret = secret
        # Digests compare in constant time whatever the length of the key offered.
        self._key_digests = tuple(_digest(k) for k in api_keys)

    def check_headers(
        self, headers: Mapping[str, str], *, now: float | None = None
    ) -> PendingSignature | None:
        """None when an API key admits the request; else the signature to check with the body."""
        key = headers.get(API_KEY_HEADER)
        if key is not None:
            if not self._key_digests:
                raise Unauthorized(f"{API_KEY_HEADER} is not accepted: API keys are disabled")
            offered = _digest(key)
            if not any(hmac.compare_digest(offered, known) for known in self._key_digests):
                raise Unauthorized(f"unknown {API_KEY_HEADER}")
            return None
        timestamp = headers.get(TIMESTAMP_HEADER)
        signature = headers.get(SIGNATURE_HEADER)
        if not timestamp or not signature:
            pairs = ((TIMESTAMP_HEADER, timestamp), (SIGNATURE_HEADER, signature))
            missing = " and ".join(name for name, value in pairs if not value)
            raise Unauthorized(f"missing {missing} (sign the body, or send an {API_KEY_HEADER})")
        if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > 12:
            raise Unauthorized(f"{TIMESTAMP_HEADER} must be unix seconds")
        current = time.time() if now is None else now
        if abs(current - int(timestamp)) > REPLAY_WINDOW_SECONDS:
            raise Unauthorized(f"{TIMESTAMP_HEADER} is outside the five-minute replay window")
        if not signature.startswith("sha256="):
            raise Unauthorized(f"{SIGNATURE_HEADER} must be sha256=<hex>")
        return PendingSignature(timestamp, signature)

    def check_body(
        self, pending: PendingSignature | None, body: bytes, *, now: float | None = None
    ) -> None:
        if pending is None:
            return
        if not verify(self._secret, pending.timestamp, body, pending.signature, now=now):
            raise Unauthorized(f"{SIGNATURE_HEADER} does not match the body")


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).digest()
