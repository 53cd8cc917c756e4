"""Email rendering and the three mailers, with a real SMTP server (aiosmtpd) on loopback."""

from __future__ import annotations

import email
import email.policy
import hashlib
import time
from collections.abc import Callable
from email.message import EmailMessage, Message
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from jinja2 import Environment, FileSystemLoader, UndefinedError, meta

from adapters.mail import (
    EMAIL_KINDS,
    KIND_VARIABLES,
    TEMPLATE_DIR,
    Mailer,
    MailError,
    MemoryMailer,
    OutboxMailer,
    OutgoingEmail,
    SmtpMailer,
    _encoded_message,
    _headers,
    build_message,
    mailer_from_settings,
    render_email,
)
from tests.smtp import RecordingHandler, SmtpServer, free_port

SENDER = "medleads <no-reply@medleads.local>"

CONTEXTS: dict[str, dict[str, Any]] = {
    "confirmation": {
        "contact_name": "Maria Lopez",
        "organization_name": "Lakeside Wellness",
        "interest_type": "demo",
        "offer_name": "CareSync",
        "owner_name": "Ava Patel",
        "sender_name": "The CareSync team",
        "unsubscribe_note": "Reply UNSUBSCRIBE to stop these emails.",
    },
    "webinar_followup": {
        "contact_name": "Maria Lopez",
        "session_title": "Cutting no-shows in outpatient clinics",
        "attended": True,
        "question": "Are you looking at scheduling tools this quarter or later in the year?",
        "offer_name": "CareSync",
        "sender_name": "The CareSync team",
        "unsubscribe_note": "Reply UNSUBSCRIBE to stop these emails.",
    },
    "nurture": {
        "contact_name": "Maria Lopez",
        "organization_name": "Lakeside Wellness",
        "offer_name": "CareSync",
        "specialty_label": "dermatology practices",
        "resources": [
            {"title": "No-show benchmark 2025", "url": "https://example.com/benchmark"},
            {"title": "Patient reminder checklist", "url": "https://example.com/checklist"},
        ],
        "sender_name": "The CareSync team",
        "unsubscribe_note": "Reply UNSUBSCRIBE to stop these emails.",
    },
    "reviewer_notification": {
        "reviewer_name": "Jordan Kim",
        "lead_label": "Lakeside Wellness (lead 3f2a…)",
        "scorecard": ["fit 32/40: outpatient clinic, 12 providers", "intent 18/30: pricing"],
        "reason": "score 61 is within 5 points of the qualified threshold",
        "review_url": "http://127.0.0.1:8700/reviews/3f2a?token=abc&x=1",
        "inbox_url": "http://127.0.0.1:4200/runs?tag=review-pending",
        "due_at": "2025-03-04 16:00 UTC",
        "is_reminder": False,
        "is_escalation": False,
    },
    "sla_escalation": {
        "recipient_name": "Chris Moe",
        "lead_label": "Lakeside Wellness (lead 3f2a…)",
        "status": "qualified",
        "owner_name": "Ava Patel",
        "due_at": "2025-03-04 16:00 UTC",
        "overdue_hours": 5.25,
        "lead_url": "https://crm.example.com/leads/3f2a",
    },
}

EXPECTED_PHRASES = {
    "confirmation": ["Hello Maria Lopez,", "Lakeside Wellness", "Ava Patel will be in touch"],
    "webinar_followup": ["Thanks for joining", "Cutting no-shows", "this quarter or later"],
    "nurture": ["No-show benchmark 2025", "https://example.com/benchmark", "dermatology"],
    "reviewer_notification": ["Jordan Kim", "within 5 points", "intent 18/30", "16:00 UTC"],
    "sla_escalation": ["Chris Moe", "5.2 hours overdue", "Ava Patel", "qualified"],
}


def render(kind: str, key: str = "lead-3f2a", **overrides: Any) -> OutgoingEmail:
    context = {**CONTEXTS[kind], **overrides}
    return render_email(kind, context, to="maria@lakeside.example", idempotency_key=f"{key}:{kind}")


def expected_message_id(key: str) -> str:
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@medleads.local>"


def parts_of(message: EmailMessage) -> tuple[str, str]:
    """The text and HTML parts with line endings as rendered (SMTP carries CRLF)."""
    text_part = message.get_body(("plain",))
    html_part = message.get_body(("html",))
    assert text_part is not None and html_part is not None
    text = str(text_part.get_content()).replace("\r\n", "\n")
    html = str(html_part.get_content()).replace("\r\n", "\n")
    return text, html


# Rendering


@pytest.mark.parametrize("kind", EMAIL_KINDS)
def test_every_kind_renders_a_one_line_subject_text_and_inline_styled_html(kind: str) -> None:
    rendered = render(kind)

    assert rendered.subject and "\n" not in rendered.subject
    for phrase in EXPECTED_PHRASES[kind]:
        assert phrase in rendered.text
        assert phrase in rendered.html
    assert rendered.html.startswith("<!DOCTYPE html>")
    assert "<script" not in rendered.html and "<img" not in rendered.html
    assert "style=" in rendered.html


@pytest.mark.parametrize("kind", EMAIL_KINDS)
def test_templates_use_exactly_the_documented_variables(kind: str) -> None:
    env = Environment(loader=FileSystemLoader(TEMPLATE_DIR))
    used: set[str] = set()
    for suffix in ("subject", "txt", "html"):
        source = env.loader.get_source(env, f"{kind}.{suffix}.j2")[0]  # type: ignore[union-attr]
        used |= meta.find_undeclared_variables(env.parse(source))

    assert used == KIND_VARIABLES[kind]


@pytest.mark.parametrize(
    ("kind", "variable"),
    [(kind, variable) for kind in EMAIL_KINDS for variable in sorted(KIND_VARIABLES[kind])],
)
def test_a_missing_variable_raises_undefined_error(kind: str, variable: str) -> None:
    context = {k: v for k, v in CONTEXTS[kind].items() if k != variable}

    with pytest.raises(UndefinedError, match=variable):
        render_email(kind, context, to="maria@lakeside.example", idempotency_key="k")


def test_a_resource_without_a_url_raises_undefined_error_from_the_template() -> None:
    with pytest.raises(UndefinedError, match="url"):
        render("nurture", resources=[{"title": "No-show benchmark 2025"}])


def test_an_unknown_kind_raises_value_error_naming_it_and_the_known_kinds() -> None:
    with pytest.raises(ValueError, match=r"'welcome'.*confirmation.*sla_escalation"):
        render_email("welcome", {}, to="maria@lakeside.example", idempotency_key="k")


@pytest.mark.parametrize(
    ("interest_type", "phrase"),
    [
        ("demo", "propose a few times for a demo"),
        ("pricing", "send pricing for CareSync"),
        ("consultation", "times for a consultation"),
        ("content", "material you asked for"),
        ("webinar", "webinar details"),
        ("general", "follow up on your message"),
        (None, "follow up on your message"),
    ],
)
def test_confirmation_wording_follows_the_interest_type(
    interest_type: str | None, phrase: str
) -> None:
    rendered = render("confirmation", interest_type=interest_type)

    assert phrase in rendered.text
    assert phrase in rendered.html


def test_confirmation_without_names_greets_hello_and_promises_the_team() -> None:
    rendered = render("confirmation", contact_name=None, organization_name=None, owner_name=None)

    assert rendered.text.startswith("Hello,\n")
    assert "on behalf of" not in rendered.text
    assert "A member of our team will be in touch" in rendered.text
    assert "None" not in rendered.text and "None" not in rendered.html


def test_webinar_followup_offers_the_recording_to_a_registrant_who_missed_it() -> None:
    rendered = render("webinar_followup", attended=False)

    assert rendered.subject == "Sorry we missed you at Cutting no-shows in outpatient clinics"
    assert "recording" in rendered.text and "recording" in rendered.html
    assert "Thanks for joining" not in rendered.text


def test_nurture_without_resources_renders_no_list() -> None:
    rendered = render("nurture", resources=[], specialty_label=None)

    assert "In the meantime" not in rendered.text
    assert "<ul" not in rendered.html
    assert rendered.subject == "A few CareSync resources"


@pytest.mark.parametrize(
    ("is_reminder", "is_escalation", "subject_prefix", "phrase"),
    [
        (False, False, "Review needed:", "needs a decision"),
        (True, False, "[Reminder] Review needed:", "still waiting for your decision"),
        (True, True, "[Escalated] Review needed:", "escalated to you"),
    ],
)
def test_reviewer_notification_marks_reminders_and_escalations(
    is_reminder: bool, is_escalation: bool, subject_prefix: str, phrase: str
) -> None:
    rendered = render("reviewer_notification", is_reminder=is_reminder, is_escalation=is_escalation)

    assert rendered.subject.startswith(subject_prefix)
    assert phrase in rendered.text and phrase in rendered.html


def test_sla_escalation_rounds_overdue_hours_and_handles_no_lead_url() -> None:
    rendered = render("sla_escalation", overdue_hours=26, lead_url=None, owner_name=None)

    assert rendered.subject == "SLA missed: Lakeside Wellness (lead 3f2a…) is 26 h overdue"
    assert "Owner: unassigned" in rendered.text
    assert "<a " not in rendered.html


def test_html_escapes_a_script_tag_in_a_contact_name_and_text_keeps_it_verbatim() -> None:
    rendered = render("confirmation", contact_name="<script>alert(1)</script>")

    assert "<script>" not in rendered.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered.html
    assert "Hello <script>alert(1)</script>," in rendered.text


def test_html_escapes_quotes_in_a_link_so_attributes_cannot_be_injected() -> None:
    rendered = render("reviewer_notification", review_url='https://x.test/" onclick="steal()')

    assert 'onclick="steal()"' not in rendered.html
    assert "&#34; onclick=&#34;steal()" in rendered.html


@pytest.mark.parametrize("kind", EMAIL_KINDS)
def test_line_breaks_in_user_text_never_become_headers(kind: str) -> None:
    hostile = "Lakeside\r\nBcc: victim@example.com\n\nbody"
    context = {k: hostile if isinstance(v, str) else v for k, v in CONTEXTS[kind].items()}
    rendered = render_email(kind, context, to="maria@lakeside.example", idempotency_key="k")

    raw = build_message(rendered, SENDER).as_bytes()
    headers = raw.split(b"\n\n", 1)[0]
    assert "\r" not in rendered.subject and "\n" not in rendered.subject
    assert b"\nBcc:" not in headers and not headers.startswith(b"Bcc:")
    assert email.message_from_bytes(raw)["Bcc"] is None


def test_a_long_subject_is_capped_at_200_characters() -> None:
    rendered = render("webinar_followup", session_title="Scheduling " * 40)

    assert len(rendered.subject) == 200
    assert rendered.subject.endswith("…")


def test_an_outgoing_email_refuses_a_line_break_in_the_recipient() -> None:
    with pytest.raises(ValueError, match="to"):
        OutgoingEmail("k", "a@example.com\r\nBcc: b@example.com", "Hi", "text", "<p>html</p>")


def as_received(message: Message) -> EmailMessage:
    """The message as a recipient's client reads it: its bytes parsed back."""
    parsed = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_build_message_has_both_parts_and_a_message_id_stable_per_key() -> None:
    rendered = render("confirmation")
    message = as_received(build_message(rendered, SENDER))
    again = as_received(build_message(render("confirmation"), SENDER))
    other = as_received(build_message(render("confirmation", key="lead-9c1d"), SENDER))

    assert message.get_content_type() == "multipart/alternative"
    assert parts_of(message) == (rendered.text, rendered.html)
    assert message["From"] == SENDER
    assert message["To"] == "maria@lakeside.example"
    assert message["Date"]
    assert message["X-Medleads-Key"] == "lead-3f2a:confirmation"
    assert message["Message-ID"] == expected_message_id("lead-3f2a:confirmation")
    assert again["Message-ID"] == message["Message-ID"] != other["Message-ID"]


@pytest.mark.parametrize(
    ("to", "sender", "subject"),
    [
        ("maria@lakeside.example", SENDER, "Your demo"),
        ("María Núñez <maria@lakeside.example>", SENDER, "Ihre Anfrage: Klinik Gröbenzell"),
        ("maria@lakeside.example", "Équipe medleads <no-reply@medleads.local>", "Hi"),
        ("maría@lakesíde.example", SENDER, "Your demo " + "and more words " * 12),
    ],
    ids=["ascii", "non-ascii-name-and-subject", "non-ascii-sender", "non-ascii-address"],
)
def test_the_fast_message_reads_as_the_encoded_one(to: str, sender: str, subject: str) -> None:
    """ASCII addresses take the compat32 build, others EmailMessage: a recipient reads the same
    headers and parts either way."""
    text = "Hallo é,\r\nline two\rline three\n" + "more text\n" * 40
    rendered = OutgoingEmail("lead-1:confirmation", to, subject, text, "<p>é</p>")
    built = as_received(build_message(rendered, sender))
    reference = as_received(_encoded_message(rendered, _headers(rendered, sender)))

    for name in ("From", "To", "Subject", "Message-ID", "X-Medleads-Key"):
        assert str(built[name]) == str(reference[name])
    assert (str(built["From"]), str(built["To"]), str(built["Subject"])) == (sender, to, subject)
    assert parts_of(built) == parts_of(reference)
    lines = "Hallo é,\nline two\nline three\n" + "more text\n" * 40
    assert parts_of(built) == (lines, "<p>é</p>\n")
    fast = to.isascii() and sender.isascii()
    assert isinstance(build_message(rendered, sender), EmailMessage) is not fast


def test_a_line_break_in_the_sender_never_becomes_a_header() -> None:
    with pytest.raises(ValueError, match="From"):
        build_message(render("confirmation"), "a@example.com\r\nBcc: victim@example.com")


# A real SMTP server (tests/smtp.py)


def test_smtp_mailer_sends_a_batch_of_three_over_one_connection(smtp_server: SmtpServer) -> None:
    emails = [render(kind, key=f"lead-{n}") for n, kind in enumerate(EMAIL_KINDS[:3])]
    mailer = SmtpMailer(f"smtp://{smtp_server.address}", SENDER, timeout=5)

    with mailer:
        message_ids = [mailer.send(outgoing) for outgoing in emails]

    received = smtp_server.handler.received
    assert smtp_server.handler.greetings == 1
    assert len(received) == 3
    assert len({r.peer for r in received}) == 1
    for outgoing, message_id, got in zip(emails, message_ids, received, strict=True):
        assert got.mail_from == "no-reply@medleads.local"
        assert got.rcpt_tos == ["maria@lakeside.example"]
        assert got.message["To"] == outgoing.to
        assert got.message["Subject"] == outgoing.subject
        assert got.message["Message-ID"] == message_id
        assert message_id == expected_message_id(outgoing.idempotency_key)
        assert got.message["X-Medleads-Key"] == outgoing.idempotency_key
        assert parts_of(got.message) == (outgoing.text, outgoing.html)


def test_smtp_mailer_logs_in_with_the_url_decoded_user_and_password(
    start_smtp_server: Callable[..., SmtpServer],
) -> None:
    password = "p@ss:w/rd %?#"
    handler = RecordingHandler(credentials=("ops@medleads.example", password))
    server = start_smtp_server(handler, auth_require_tls=False, authenticator=handler.authenticate)
    userinfo = f"{quote('ops@medleads.example', safe='')}:{quote(password, safe='')}"
    url = f"smtp://{userinfo}@{server.address}"

    with SmtpMailer(url, SENDER, timeout=5) as mailer:
        mailer.send(render("confirmation"))

    assert handler.logins == [("ops@medleads.example", password)]
    assert [r.authenticated for r in handler.received] == [True]


def test_smtp_mailer_reports_a_rejected_login_as_permanent(
    start_smtp_server: Callable[..., SmtpServer],
) -> None:
    handler = RecordingHandler(credentials=("ops", "right"))
    server = start_smtp_server(handler, auth_require_tls=False, authenticator=handler.authenticate)

    with (
        pytest.raises(MailError) as failure,
        SmtpMailer(f"smtp://ops:wrong@{server.address}", SENDER, timeout=5) as mailer,
    ):
        mailer.send(render("confirmation"))

    assert failure.value.transient is False
    assert "wrong" not in str(failure.value)
    assert handler.received == []


@pytest.mark.parametrize(
    ("reply", "transient"),
    [("550 5.1.1 Mailbox unavailable", False), ("451 4.3.0 Try again later", True)],
)
def test_a_refused_recipient_raises_mail_error_and_the_batch_goes_on(
    start_smtp_server: Callable[..., SmtpServer], reply: str, transient: bool
) -> None:
    server = start_smtp_server(RecordingHandler(rejections={"gone@lakeside.example": reply}))
    refused = render_email(
        "confirmation", CONTEXTS["confirmation"], to="gone@lakeside.example", idempotency_key="x"
    )

    with SmtpMailer(f"smtp://{server.address}", SENDER, timeout=5) as mailer:
        with pytest.raises(MailError) as failure:
            mailer.send(refused)
        mailer.send(render("confirmation"))

    assert failure.value.transient is transient
    assert reply.split()[0] in str(failure.value)
    assert [r.rcpt_tos for r in server.handler.received] == [["maria@lakeside.example"]]
    assert server.handler.greetings == 1


def test_a_server_that_is_down_raises_a_transient_mail_error() -> None:
    mailer = SmtpMailer(f"smtp://127.0.0.1:{free_port()}", SENDER, timeout=2)

    with pytest.raises(MailError) as failure, mailer:
        mailer.send(render("confirmation"))

    assert failure.value.transient is True


def test_smtp_mailer_reconnects_once_when_the_server_dropped_an_idle_connection(
    start_smtp_server: Callable[..., SmtpServer],
) -> None:
    server = start_smtp_server(timeout=0.4)

    with SmtpMailer(f"smtp://{server.address}", SENDER, timeout=5) as mailer:
        mailer.send(render("confirmation", key="lead-1"))
        time.sleep(1.0)
        mailer.send(render("confirmation", key="lead-2"))

    keys = [r.message["X-Medleads-Key"] for r in server.handler.received]
    assert keys == ["lead-1:confirmation", "lead-2:confirmation"]
    assert server.handler.greetings == 2


def test_smtp_mailer_reconnects_once_when_the_server_answers_421_closing(
    start_smtp_server: Callable[..., SmtpServer],
) -> None:
    server = start_smtp_server(RecordingHandler(next_mail_reply="421 4.4.2 Idle timeout"))

    with SmtpMailer(f"smtp://{server.address}", SENDER, timeout=5) as mailer:
        mailer.send(render("confirmation"))

    assert [r.message["X-Medleads-Key"] for r in server.handler.received] == [
        "lead-3f2a:confirmation"
    ]
    assert server.handler.greetings == 2


def test_smtp_mailer_outside_a_with_block_uses_one_connection_per_send(
    smtp_server: SmtpServer,
) -> None:
    mailer = SmtpMailer(f"smtp://{smtp_server.address}", SENDER, timeout=5)

    mailer.send(render("confirmation", key="lead-1"))
    mailer.send(render("confirmation", key="lead-2"))

    assert len(smtp_server.handler.received) == 2
    assert smtp_server.handler.greetings == 2


@pytest.mark.parametrize(
    ("url", "host", "port", "use_ssl", "starttls", "username", "password"),
    [
        ("smtp://mail.example.com", "mail.example.com", 25, False, False, None, None),
        ("smtp://relay:2525", "relay", 2525, False, False, None, None),
        (
            "smtp://ops%40x.org:s%3Acret@mail.example.com:587?starttls=1",
            "mail.example.com",
            587,
            False,
            True,
            "ops@x.org",
            "s:cret",
        ),
        ("smtps://ops:p%2Fw@mail.example.com", "mail.example.com", 465, True, False, "ops", "p/w"),
    ],
)
def test_smtp_urls_set_host_port_tls_and_decoded_credentials(
    url: str,
    host: str,
    port: int,
    use_ssl: bool,
    starttls: bool,
    username: str | None,
    password: str | None,
) -> None:
    settings = SmtpMailer(url, SENDER).settings

    assert (settings.host, settings.port) == (host, port)
    assert (settings.use_ssl, settings.starttls) == (use_ssl, starttls)
    assert (settings.username, settings.password) == (username, password)


@pytest.mark.parametrize(
    "url",
    [
        "http://mail.example.com",
        "smtp://",
        "smtp://mail.example.com?tls=1",
        "smtps://mail.example.com?starttls=1",
    ],
)
def test_a_malformed_smtp_url_is_refused(url: str) -> None:
    with pytest.raises(ValueError):
        SmtpMailer(url, SENDER)


def test_an_smtp_mailer_never_shows_its_password() -> None:
    mailer = SmtpMailer("smtp://ops:hunter2@mail.example.com:587?starttls=1", SENDER)

    assert "hunter2" not in repr(mailer)
    assert "hunter2" not in repr(mailer.settings)


# Outbox and memory


def test_outbox_writes_one_eml_per_key_that_parses_back_with_both_parts(tmp_path: Path) -> None:
    mailer = OutboxMailer(tmp_path / "outbox", SENDER)
    first, second = render("confirmation", key="lead-1"), render("nurture", key="lead-2")

    with mailer:
        ids = [mailer.send(first), mailer.send(second)]

    files = sorted((tmp_path / "outbox").iterdir())
    assert [f.name for f in files] == ["lead-1%3Aconfirmation.eml", "lead-2%3Anurture.eml"]
    parsed = email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    assert parts_of(parsed) == (first.text, first.html)
    assert parsed["Subject"] == first.subject
    assert parsed["Message-ID"] == ids[0] == expected_message_id("lead-1:confirmation")


def test_outbox_resending_a_key_neither_adds_nor_changes_a_file(tmp_path: Path) -> None:
    mailer = OutboxMailer(tmp_path, SENDER)
    original = render("confirmation", key="lead-1")
    first_id = mailer.send(original)
    written = mailer.path_for(original.idempotency_key).read_bytes()

    changed = render("confirmation", key="lead-1", contact_name="Someone Else")
    second_id = mailer.send(changed)

    assert second_id == first_id
    assert [p.name for p in tmp_path.iterdir()] == ["lead-1%3Aconfirmation.eml"]
    assert mailer.path_for(original.idempotency_key).read_bytes() == written


def test_outbox_keeps_keys_with_slashes_inside_its_folder(tmp_path: Path) -> None:
    mailer = OutboxMailer(tmp_path / "outbox", SENDER)

    mailer.send(render("confirmation", key="../../etc/passwd"))

    assert [p.parent for p in (tmp_path / "outbox").iterdir()] == [tmp_path / "outbox"]
    assert list(tmp_path.iterdir()) == [tmp_path / "outbox"]


def test_memory_mailer_fails_the_next_n_sends_transiently_then_records(tmp_path: Path) -> None:
    mailer = MemoryMailer()
    mailer.fail_next = 2
    outgoing = render("confirmation")

    failures = []
    for _ in range(2):
        with pytest.raises(MailError) as failure:
            mailer.send(outgoing)
        failures.append(failure.value.transient)
    message_id = mailer.send(outgoing)

    assert failures == [True, True]
    assert mailer.sent == [outgoing]
    assert message_id == expected_message_id(outgoing.idempotency_key)
    assert mailer.fail_next == 0


def test_mailer_from_settings_uses_smtp_when_a_url_is_set_and_the_outbox_otherwise(
    tmp_path: Path,
) -> None:
    smtp: Mailer = mailer_from_settings("smtp://mail.example.com", tmp_path, SENDER)
    outbox: Mailer = mailer_from_settings(None, tmp_path, SENDER)

    assert isinstance(smtp, SmtpMailer) and smtp.name == "smtp"
    assert isinstance(outbox, OutboxMailer) and outbox.folder == tmp_path / "outbox"
