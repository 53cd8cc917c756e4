"""Render emails from templates/email and send them through a Mailer: SMTP, an outbox folder of
.eml files (the default), or memory for tests."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import os
import re
import smtplib
import socket
import ssl
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.header import Header
from email.message import EmailMessage, Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, parseaddr
from functools import cache
from pathlib import Path
from typing import Protocol, Self
from urllib.parse import parse_qs, quote, unquote, urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined, UndefinedError

log = logging.getLogger(__name__)

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates" / "email"
MESSAGE_ID_DOMAIN = "medleads.local"
SUBJECT_MAX_CHARS = 200

KIND_VARIABLES: Mapping[str, frozenset[str]] = {
    "confirmation": frozenset(
        {
            "contact_name",
            "organization_name",
            "interest_type",
            "offer_name",
            "owner_name",
            "sender_name",
            "unsubscribe_note",
        }
    ),
    "webinar_followup": frozenset(
        {
            "contact_name",
            "session_title",
            "attended",
            "question",
            "offer_name",
            "sender_name",
            "unsubscribe_note",
        }
    ),
    "nurture": frozenset(
        {
            "contact_name",
            "organization_name",
            "offer_name",
            "specialty_label",
            "resources",
            "sender_name",
            "unsubscribe_note",
        }
    ),
    "reviewer_notification": frozenset(
        {
            "reviewer_name",
            "lead_label",
            "scorecard",
            "reason",
            "review_url",
            "inbox_url",
            "due_at",
            "is_reminder",
            "is_escalation",
        }
    ),
    "sla_escalation": frozenset(
        {
            "recipient_name",
            "lead_label",
            "status",
            "owner_name",
            "due_at",
            "overdue_hours",
            "lead_url",
        }
    ),
}
EMAIL_KINDS: tuple[str, ...] = tuple(KIND_VARIABLES)

_LINE_BREAKS = re.compile(r"[\r\n]")
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_BLANK_RUNS = re.compile(r"\n{3,}")


@dataclass(frozen=True, slots=True)
class OutgoingEmail:
    idempotency_key: str
    to: str
    subject: str
    text: str
    html: str

    def __post_init__(self) -> None:
        for name in ("idempotency_key", "to", "subject"):
            value: str = getattr(self, name)
            if name != "subject" and not value.strip():
                raise ValueError(f"OutgoingEmail.{name} is empty")
            if _LINE_BREAKS.search(value):
                raise ValueError(f"OutgoingEmail.{name} contains a line break")

    @property
    def message_id(self) -> str:
        return message_id_for(self.idempotency_key)


def message_id_for(idempotency_key: str) -> str:
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]
    return f"<{digest}@{MESSAGE_ID_DOMAIN}>"


@cache
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        undefined=StrictUndefined,
        autoescape=lambda name: name is not None and name.endswith(".html.j2"),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _one_line(subject: str) -> str:
    # Any line break or control character in user text must not reach the Subject header.
    line = " ".join(_CONTROL_CHARS.sub(" ", subject).split())
    if len(line) > SUBJECT_MAX_CHARS:
        line = line[: SUBJECT_MAX_CHARS - 1].rstrip() + "…"
    return line


def _tidy_text(text: str) -> str:
    lines = "\n".join(line.rstrip() for line in text.strip().splitlines())
    return _BLANK_RUNS.sub("\n\n", lines) + "\n"


def render_email(
    kind: str, context: Mapping[str, object], *, to: str, idempotency_key: str
) -> OutgoingEmail:
    """Render the subject, text and HTML of one email; every documented variable is required."""
    required = KIND_VARIABLES.get(kind)
    if required is None:
        raise ValueError(f"unknown email kind {kind!r}; known kinds: {', '.join(EMAIL_KINDS)}")
    missing = sorted(required - context.keys())
    if missing:
        # Checked up front: a variable used only in one branch would otherwise slip through.
        raise UndefinedError(f"{kind} email needs {', '.join(missing)}")
    env = _environment()
    values = dict(context)
    return OutgoingEmail(
        idempotency_key=idempotency_key,
        to=to,
        subject=_one_line(env.get_template(f"{kind}.subject.j2").render(values)),
        text=_tidy_text(env.get_template(f"{kind}.txt.j2").render(values)),
        html=env.get_template(f"{kind}.html.j2").render(values),
    )


def build_message(email: OutgoingEmail, sender: str) -> Message:
    """The message as sent: multipart/alternative, the text part then the HTML part, UTF-8.

    Built with the email package's compat32 classes when both addresses are ASCII (nearly
    always): a third of EmailMessage's time (~1.1 ms against ~3.3 ms a message, measured; a
    100,000-row list's ~2,300 emails spent ~5 s of the flow's CPU here). An address with other
    characters goes through EmailMessage, which encodes it; a recipient reads both the same
    (tests/integration/test_mail.py compares them)."""
    headers = _headers(email, sender)
    if not (sender.isascii() and email.to.isascii()):
        return _encoded_message(email, headers)
    message = MIMEMultipart("alternative")
    for name, value in headers:
        # A non-ASCII value (the subject) as RFC 2047 encoded words.
        message[name] = value if value.isascii() else Header(value, "utf-8")  # type: ignore[assignment]
    message.attach(MIMEText(_lines(email.text), "plain", "utf-8"))
    message.attach(MIMEText(_lines(email.html), "html", "utf-8"))
    return message


def _lines(body: str) -> str:
    """A body's line endings as EmailMessage's set_content writes them: each line ends in one
    newline (CR, LF and CRLF alike), the last one included."""
    return (b"\n".join(body.encode("utf-8").splitlines()) + b"\n").decode("utf-8")


def _headers(email: OutgoingEmail, sender: str) -> tuple[tuple[str, str], ...]:
    headers = (
        ("From", sender),
        ("To", email.to),
        ("Subject", email.subject),
        ("Date", format_datetime(dt.datetime.now(dt.UTC))),
        ("Message-ID", email.message_id),
        ("X-Medleads-Key", email.idempotency_key),
    )
    for name, value in headers:
        if _LINE_BREAKS.search(value):
            raise ValueError(f"the {name} header contains a line break")
    return headers


def _encoded_message(email: OutgoingEmail, headers: tuple[tuple[str, str], ...]) -> EmailMessage:
    message = EmailMessage()
    for name, value in headers:
        message[name] = value
    message.set_content(email.text)
    message.add_alternative(email.html, subtype="html")
    return message


class MailError(Exception):
    """Sending failed; `transient` says whether a retry may succeed."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


class Mailer(Protocol):
    name: str

    def __enter__(self) -> Mailer: ...

    def __exit__(self, *exc: object) -> None: ...

    def send(self, email: OutgoingEmail) -> str: ...


class _NoBatch:
    """Mailers without a connection still support `with` so callers treat all of them alike."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def _outbox_filename(idempotency_key: str) -> str:
    # quote() is injective, so two keys never share a file; long keys keep a hash to stay unique.
    safe = quote(idempotency_key, safe="-_.")
    if len(safe) > 150:
        digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:24]
        safe = f"{safe[:100]}-{digest}"
    return f"{safe}.eml"


class OutboxMailer(_NoBatch):
    """Writes one .eml per idempotency key into a folder; a key already written is not rewritten."""

    name = "outbox"

    def __init__(self, folder: Path, sender: str) -> None:
        self.folder = folder
        self.sender = sender

    def path_for(self, idempotency_key: str) -> Path:
        return self.folder / _outbox_filename(idempotency_key)

    def send(self, email: OutgoingEmail) -> str:
        target = self.path_for(email.idempotency_key)
        if target.exists():
            return email.message_id
        data = build_message(email, self.sender).as_bytes()
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(dir=self.folder, prefix=".", suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(temporary, target)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temporary)
                raise
        except OSError as exc:
            raise MailError(f"cannot write {target.name}: {exc}", transient=True) from exc
        log.info("wrote %s to the outbox", email.idempotency_key)
        return email.message_id


class MemoryMailer(_NoBatch):
    """Keeps sent emails in `sent`; `fail_next = n` makes the next n sends fail transiently."""

    name = "memory"

    def __init__(self, sender: str = "medleads@example.com") -> None:
        self.sender = sender
        self.sent: list[OutgoingEmail] = []
        self.fail_next = 0

    def send(self, email: OutgoingEmail) -> str:
        if self.fail_next > 0:
            self.fail_next -= 1
            raise MailError("simulated transient failure", transient=True)
        build_message(email, self.sender)
        self.sent.append(email)
        return email.message_id


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    host: str
    port: int
    use_ssl: bool
    starttls: bool
    username: str | None
    password: str | None = field(repr=False)

    @classmethod
    def from_url(cls, url: str) -> SmtpSettings:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps"):
            raise ValueError("SMTP URL must start with smtp:// or smtps://")
        if not parts.hostname:
            raise ValueError("SMTP URL has no host")
        query = parse_qs(parts.query, keep_blank_values=True)
        unknown = set(query) - {"starttls"}
        if unknown:
            raise ValueError(f"unknown SMTP URL options: {', '.join(sorted(unknown))}")
        starttls = query.get("starttls", ["0"])[-1].lower() in ("1", "true", "yes", "on")
        use_ssl = parts.scheme == "smtps"
        if use_ssl and starttls:
            raise ValueError("smtps:// is already TLS; drop ?starttls")
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if use_ssl else 25),
            use_ssl=use_ssl,
            starttls=starttls,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password is not None else None,
        )

    def redacted(self) -> str:
        user = f"{self.username}:***@" if self.username else ""
        scheme = "smtps" if self.use_ssl else "smtp"
        query = "?starttls=1" if self.starttls else ""
        return f"{scheme}://{user}{self.host}:{self.port}{query}"


class _ConnectionLost(Exception):
    """The server closed the connection (or said 421); worth one reconnect within a batch."""


def _is_transient_code(code: int) -> bool:
    return not 500 <= code < 600


def _error_text(response: bytes | str) -> str:
    text = response.decode(errors="replace") if isinstance(response, bytes) else response
    return " ".join(text.split())


class SmtpMailer:
    """Sends over one SMTP connection per `with` block, reconnecting once if the server drops it."""

    name = "smtp"

    def __init__(self, url: str, sender: str, timeout: float = 30) -> None:
        self.settings = SmtpSettings.from_url(url)
        self.sender = sender
        self.timeout = timeout
        self._smtp: smtplib.SMTP | None = None
        self._in_batch = False

    def __repr__(self) -> str:
        return f"SmtpMailer({self.settings.redacted()!r})"

    def __enter__(self) -> Self:
        self._in_batch = True
        return self

    def __exit__(self, *exc: object) -> None:
        self._in_batch = False
        self._disconnect()

    def send(self, email: OutgoingEmail) -> str:
        if not self._in_batch:
            with self:
                return self.send(email)
        message = build_message(email, self.sender)
        try:
            self._send_once(message, email.to)
        except _ConnectionLost:
            log.warning("SMTP server %s dropped the connection; reconnecting", self.settings.host)
            try:
                self._send_once(message, email.to)
            except _ConnectionLost as exc:
                raise MailError(
                    f"SMTP server {self.settings.host} dropped the connection twice: {exc}",
                    transient=True,
                ) from exc
        log.info("sent %s via %s", email.idempotency_key, self.settings.host)
        return email.message_id

    def _send_once(self, message: Message, to: str) -> None:
        smtp = self._connection()
        try:
            smtp.send_message(
                message,
                from_addr=parseaddr(self.sender)[1] or self.sender,
                to_addrs=[parseaddr(to)[1] or to],
            )
        except (smtplib.SMTPServerDisconnected, ConnectionError) as exc:
            self._drop()
            raise _ConnectionLost(str(exc)) from exc
        except smtplib.SMTPRecipientsRefused as exc:
            code, response = next(iter(exc.recipients.values()))
            if code == 421:
                self._drop()
                raise _ConnectionLost(f"421 {_error_text(response)}") from exc
            raise MailError(
                f"SMTP server refused the recipient: {code} {_error_text(response)}",
                transient=_is_transient_code(code),
            ) from exc
        except smtplib.SMTPResponseException as exc:
            if exc.smtp_code == 421:
                self._drop()
                raise _ConnectionLost(f"421 {_error_text(exc.smtp_error)}") from exc
            raise MailError(
                f"SMTP server answered {exc.smtp_code} {_error_text(exc.smtp_error)}",
                transient=_is_transient_code(exc.smtp_code),
            ) from exc
        except smtplib.SMTPNotSupportedError as exc:
            raise MailError(f"SMTP server does not support: {exc}", transient=False) from exc
        except (smtplib.SMTPException, OSError) as exc:
            self._drop()
            raise MailError(f"SMTP send failed: {exc}", transient=True) from exc

    def _connection(self) -> smtplib.SMTP:
        if self._smtp is None:
            self._smtp = self._connect()
        return self._smtp

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        # gethostname() rather than smtplib's default getfqdn(), which can stall on DNS.
        local_hostname = socket.gethostname() or MESSAGE_ID_DOMAIN
        smtp: smtplib.SMTP | None = None
        try:
            if s.use_ssl:
                smtp = smtplib.SMTP_SSL(
                    s.host,
                    s.port,
                    local_hostname=local_hostname,
                    timeout=self.timeout,
                    context=ssl.create_default_context(),
                )
            else:
                smtp = smtplib.SMTP(
                    s.host, s.port, local_hostname=local_hostname, timeout=self.timeout
                )
            smtp.ehlo()
            if s.starttls:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if s.username is not None:
                smtp.login(s.username, s.password or "")
            return smtp
        except smtplib.SMTPAuthenticationError as exc:
            _close_quietly(smtp)
            raise MailError(
                f"SMTP login as {s.username!r} at {s.host} was rejected ({exc.smtp_code})",
                transient=False,
            ) from exc
        except smtplib.SMTPNotSupportedError as exc:
            _close_quietly(smtp)
            raise MailError(
                f"SMTP server {s.host} does not support: {exc}", transient=False
            ) from exc
        except smtplib.SMTPResponseException as exc:
            _close_quietly(smtp)
            raise MailError(
                f"SMTP server {s.host} answered {exc.smtp_code} {_error_text(exc.smtp_error)}",
                transient=_is_transient_code(exc.smtp_code),
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:
            _close_quietly(smtp)
            raise MailError(
                f"cannot connect to SMTP server {s.host}:{s.port}: {exc}", transient=True
            ) from exc

    def _drop(self) -> None:
        _close_quietly(self._smtp)
        self._smtp = None

    def _disconnect(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        with contextlib.suppress(smtplib.SMTPException, OSError):
            smtp.quit()
        _close_quietly(smtp)


def _close_quietly(smtp: smtplib.SMTP | None) -> None:
    if smtp is not None:
        with contextlib.suppress(OSError):
            smtp.close()


def mailer_from_settings(smtp_url: str | None, data_dir: Path, sender: str) -> Mailer:
    if smtp_url and smtp_url.strip():
        return SmtpMailer(smtp_url.strip(), sender)
    return OutboxMailer(data_dir / "outbox", sender)
