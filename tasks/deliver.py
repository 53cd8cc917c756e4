"""Send queued emails and deliver queued CRM handoffs, each at most once, recorded per row.

A row moves pending -> claimed (this pass took it) -> sending (this very row is in flight) ->
sent/delivered, skipped, parked or back to pending. A hard crash leaves at most one row
"sending": it is retried only where the receiving side is idempotent (outbox files, a webhook that
dedupes by key, a JSONL file checked for the key) and otherwise marked "unknown", never resent.

Nothing stalls the queue: a row that fails transiently waits for its own next attempt (backoff,
parked after the last one) while the rows behind it go on; a row that cannot be sent at all is
parked at once; a pass stops early only when the receiver looks down (several transient failures
in a row), and the next pass (the `delivery` deployment, every minute) picks up from there.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run
from sqlalchemy import update
from sqlmodel import SQLModel, col, or_, select

from adapters.crm import DeliveryError, HandoffSink, sink_from_settings
from adapters.mail import Mailer, MailError, OutboxMailer, mailer_from_settings, render_email
from adapters.prefect_api import finished_flow_runs
from models.db import session_scope
from models.settings import get_settings
from models.tables import ConsentEvent, Handoff, Lead, SentEmail, utcnow
from qualification.text import safe_text

log = logging.getLogger(__name__)

BATCH = 200
# Outcomes a replay-safe receiver confirms after a crash (`already_delivered`).
SETTLED_BY_RECEIVER = frozenset({"delivered", "sent"})
SENDER = "medleads <no-reply@medleads.local>"
UNSUBSCRIBE_NOTE = "Reply STOP to this email to stop hearing from us."

Outcome = dict[str, Any]
# Emails to our own staff (reviewers, fallback owners) do not depend on the lead's consent.
INTERNAL_KINDS = frozenset({"reviewer_notification", "sla_escalation"})


# What a row in flight when its pass died is marked with, by what `_recover` made of it.
IN_FLIGHT_NOTES = {
    "pending": "in flight when its delivery pass died; sent again under the same idempotency key",
    "unknown": "in flight when its delivery pass died; not sent again (the receiver cannot "
    "tell a repeat): check whether it arrived, then `medleads delivery retry`",
    "delivered": "in flight when its delivery pass died; the receiver already had it",
}

# Transient failures one after another: the receiver is down, stop this pass.
STOP_AFTER_TRANSIENT = 3
MAX_BACKOFF_SECONDS = 3600


@dataclass
class DeliveryReport:
    """What a delivery pass did; `transient` failures wait for their next attempt, `parked`
    ones for a person (`medleads delivery retry`)."""

    delivered: int = 0
    skipped: int = 0
    parked: int = 0
    transient: int = 0
    recovered: int = 0
    unknown: int = 0
    in_a_row: int = 0  # transient failures since the last success
    errors: list[str] = field(default_factory=list)

    def receiver_down(self) -> bool:
        return self.in_a_row >= STOP_AFTER_TRANSIENT


def _why(error: BaseException) -> str:
    """An error as it may be stored (never the body that was sent)."""
    return safe_text(f"{type(error).__name__}: {error}")[:500]


def _retry_later(row: Any, error: BaseException, report: DeliveryReport) -> Outcome:
    """A transient failure: the row waits (doubling each time), or is parked after the last
    attempt; the rows behind it go on."""
    settings = get_settings()
    attempts = row.attempts + 1  # this one included
    report.transient += 1
    report.in_a_row += 1
    if attempts >= settings.delivery_max_attempts:
        report.parked += 1
        report.errors.append(f"{row.idempotency_key}: parked after {attempts} attempts")
        return {"id": row.id, "state": "parked", "error": _why(error), "next_attempt_at": None}
    wait = min(settings.delivery_retry_seconds * 2 ** (attempts - 1), MAX_BACKOFF_SECONDS)
    later = utcnow() + dt.timedelta(seconds=wait)
    return {"id": row.id, "state": "pending", "error": _why(error), "next_attempt_at": later}


def _park(row: Any, error: BaseException, report: DeliveryReport) -> Outcome:
    """A row that cannot be delivered as it is (refused, or it breaks rendering)."""
    report.parked += 1
    report.in_a_row = 0
    report.errors.append(f"{row.idempotency_key}: {type(error).__name__}")
    return {"id": row.id, "state": "parked", "error": _why(error), "next_attempt_at": None}


def _claim(model: type[SQLModel], token: str, limit: int, url: str | None) -> list[Any]:
    """Take up to `limit` pending rows for this pass."""
    table: Any = model
    due = or_(col(table.next_attempt_at).is_(None), col(table.next_attempt_at) <= utcnow())
    with session_scope(url) as session:
        pick = select(table.id).where(col(table.state) == "pending", due)
        pick = pick.order_by(table.id).limit(limit)
        if session.get_bind().dialect.name == "postgresql":
            pick = pick.with_for_update(skip_locked=True)
        session.execute(
            update(table)
            .where(col(table.id).in_(pick.scalar_subquery()), col(table.state) == "pending")
            .values(state="claimed", claim_token=token, claimed_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        return list(
            session.execute(
                select(table)
                .where(col(table.claim_token) == token, col(table.state) == "claimed")
                .order_by(table.id)
            ).scalars()
        )


def _pass_token() -> str:
    """A delivery pass's claim token: the flow run it belongs to (so a pass whose run Prefect
    reports finished, a killed one once Crashed, can have its rows taken back at once) and a
    part of its own (one run may make several passes)."""
    return f"{flow_run.get_id() or 'local'} {uuid.uuid4().hex[:12]}"


def _abandoned(session: Any, table: Any) -> list[str]:
    """Claim tokens of passes whose flow run Prefect reports finished: they hold nothing."""
    tokens = session.execute(
        select(table.claim_token)
        .where(col(table.state).in_(["claimed", "sending"]), col(table.claim_token).is_not(None))
        .distinct()
    ).scalars()
    by_run: dict[str, list[str]] = {}
    for token in tokens:
        by_run.setdefault(token.partition(" ")[0], []).append(token)
    gone = finished_flow_runs(by_run)
    return [token for run in gone for token in by_run[run]]


def _recover(
    model: type[SQLModel],
    lease: dt.timedelta,
    in_flight_done: Callable[[Any], str],
    url: str | None,
) -> tuple[int, int]:
    """Rows a crashed pass left behind (its lease is over, or Prefect reports its run
    finished): claimed ones go back to pending; the one in flight is settled by
    `in_flight_done`, which returns its new state. Returns (recovered, unknown)."""
    table: Any = model
    cutoff = utcnow() - lease
    recovered = unknown = 0
    with session_scope(url) as session:
        left = or_(
            col(table.claimed_at) < cutoff, col(table.claim_token).in_(_abandoned(session, table))
        )
        stale = session.execute(
            select(table).where(col(table.state).in_(["claimed", "sending"]), left)
        ).scalars()
        for row in stale:
            if row.state == "sending":
                row.state = in_flight_done(row)
                row.error = IN_FLIGHT_NOTES.get(row.state, row.error)
            else:
                row.state = "pending"
            recovered += row.state == "pending"
            unknown += row.state == "unknown"
    return recovered, unknown


def _deliver(
    model: type[SQLModel],
    rows: list[Any],
    attempt: Callable[[Any], Outcome],
    report: DeliveryReport,
    url: str | None,
    replay_safe: bool = False,
    sync: Callable[[], None] | None = None,
) -> None:
    """Attempt rows one by one; each row's outcome is committed with the next row's start, so
    a kill leaves at most one row in flight (`sending`). A `replay_safe` receiver (a local file
    per key, or one that can tell a key it has) is given the whole batch between two commits:
    after a kill, its rows left `sending` are settled by asking it (or delivered again, to the
    same file), so nothing is sent twice and a commit per item is saved; its `sync` makes the
    batch durable before the outcomes are recorded."""
    if replay_safe:
        _deliver_batch(model, rows, attempt, report, url, sync)
        return
    table: Any = model
    previous: Outcome | None = None
    attempted: set[int] = set()
    try:
        for row in rows:
            with session_scope(url) as session:
                if previous is not None:
                    session.execute(update(table), [previous])
                session.execute(
                    update(table)
                    .where(col(table.id) == row.id)
                    .values(state="sending", attempts=table.attempts + 1)
                )
            attempted.add(row.id)
            previous = attempt(row)
            if report.receiver_down():
                break
    finally:
        outcomes = [previous] if previous is not None else []
        outcomes += [{"id": r.id, "state": "pending"} for r in rows if r.id not in attempted]
        if outcomes:
            with session_scope(url) as session:
                session.execute(update(table), outcomes)


def _deliver_batch(
    model: type[SQLModel],
    rows: list[Any],
    attempt: Callable[[Any], Outcome],
    report: DeliveryReport,
    url: str | None,
    sync: Callable[[], None] | None = None,
) -> None:
    table: Any = model
    with session_scope(url) as session:
        session.execute(
            update(table)
            .where(col(table.id).in_([r.id for r in rows]))
            .values(state="sending", attempts=table.attempts + 1)
        )
    outcomes: list[Outcome] = []
    try:
        for row in rows:
            if report.receiver_down():
                outcomes.append({"id": row.id, "state": "pending", "attempts": row.attempts})
                continue
            outcomes.append(attempt(row))
        if sync is not None:
            try:
                sync()
            except OSError as exc:
                outcomes = _unsynced(outcomes, exc, report)
    except BaseException:
        if sync is not None:
            outcomes = _not_handed_over(outcomes)
        raise
    finally:
        # An exception mid-batch (a kill cannot get here) leaves the unattempted rows `sending`
        # for the recovery of the next pass, which asks the receiver.
        if outcomes:
            with session_scope(url) as session:
                session.execute(update(table), outcomes)


def _unsynced(outcomes: list[Outcome], error: OSError, report: DeliveryReport) -> list[Outcome]:
    """A batch the receiver could not make durable: what was handed over is not recorded; it
    stays `sending` for the recovery of a later pass (once its lease is over, or its run has
    ended), which asks the receiver, as after a kill. The pass goes on; nothing fails."""
    handed = [o for o in outcomes if o["state"] in SETTLED_BY_RECEIVER]
    log.warning(
        "%d deliveries handed over but not made durable (%s): left in flight, to be settled "
        "by asking the receiver after their lease",
        len(handed),
        error,
    )
    report.delivered -= len(handed)
    report.transient += len(handed)
    return _not_handed_over(outcomes)


def _not_handed_over(outcomes: list[Outcome]) -> list[Outcome]:
    """The outcomes to record when the receiver may not have kept what it was handed: those
    rows stay `sending` for the recovery, which asks it."""
    return [o for o in outcomes if o["state"] not in SETTLED_BY_RECEIVER]


def _email_consented(lead_ids: set[str], url: str | None) -> set[str]:
    """Leads whose latest email consent event grants email, read just before sending."""
    with session_scope(url) as session:
        contacts = dict(
            session.execute(
                select(Lead.id, Lead.contact_id).where(col(Lead.id).in_(lead_ids))
            ).all()
        )
        latest: dict[str, bool] = {}
        events = session.execute(
            select(ConsentEvent.contact_id, ConsentEvent.granted)
            .where(
                col(ConsentEvent.contact_id).in_(set(contacts.values())),
                col(ConsentEvent.channel) == "email",
            )
            .order_by(col(ConsentEvent.occurred_at), col(ConsentEvent.id))
        ).all()
        for contact_id, granted in events:
            latest[contact_id] = granted
    return {lead for lead, contact in contacts.items() if latest.get(contact)}


def _lease() -> dt.timedelta:
    return dt.timedelta(minutes=get_settings().delivery_lease_minutes)


@task(name="send-emails", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[2, 10])
def send_pending_emails(url: str | None = None, mailer: Mailer | None = None) -> DeliveryReport:
    """Send every email that is due over one connection per batch; consent is re-checked first.
    An outage never fails the task: the emails wait for their next attempt."""
    settings = get_settings()
    mailer = mailer or mailer_from_settings(settings.smtp_url, settings.data_dir, SENDER)
    idempotent = isinstance(mailer, OutboxMailer)
    report = DeliveryReport()
    report.recovered, report.unknown = _recover(
        SentEmail, _lease(), lambda _row: "pending" if idempotent else "unknown", url
    )
    token = _pass_token()
    while not report.receiver_down() and (rows := _claim(SentEmail, token, BATCH, url)):
        allowed = _email_consented({r.lead_id for r in rows}, url)
        attempt = functools.partial(_send_one, allowed=allowed, mailer=mailer, report=report)
        with mailer:
            _deliver(SentEmail, rows, attempt, report, url, replay_safe=idempotent)
    if report.transient or report.parked:
        log.warning(
            "emails: %d sent, %d waiting for a retry, %d parked",
            report.delivered,
            report.transient,
            report.parked,
        )
    return report


def _send_one(
    row: SentEmail, *, allowed: set[str], mailer: Mailer, report: DeliveryReport
) -> Outcome:
    if row.kind not in INTERNAL_KINDS and row.lead_id not in allowed:
        report.skipped += 1
        return {"id": row.id, "state": "skipped", "error": "no email consent in the ledger"}
    context = {"sender_name": "The ClearIntake team", "unsubscribe_note": UNSUBSCRIBE_NOTE}
    context.update(row.template_context)
    try:
        email = render_email(
            row.kind, context, to=row.to_address, idempotency_key=row.idempotency_key
        )
        message_id = mailer.send(email)
    except MailError as exc:
        return _retry_later(row, exc, report) if exc.transient else _park(row, exc, report)
    except Exception as exc:  # this email cannot be built or encoded: park it, go on
        return _park(row, exc, report)
    report.delivered += 1
    report.in_a_row = 0
    return {"id": row.id, "state": "sent", "message_id": message_id, "sent_at": utcnow()}


@task(name="deliver-handoffs", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[2, 10])
def deliver_pending_handoffs(
    url: str | None = None, sink: HandoffSink | None = None
) -> DeliveryReport:
    """Hand every lead that is due to the CRM sink, each idempotency key once. An outage never
    fails the task: the handoffs wait for their next attempt."""
    settings = get_settings()
    sink = sink or sink_from_settings(
        settings.crm_webhook_url, settings.crm_webhook_secret, settings.data_dir
    )
    report = DeliveryReport()
    token = _pass_token()
    try:
        report.recovered, report.unknown = _recover(
            Handoff,
            _lease(),
            lambda row: "delivered" if sink.already_delivered(row.idempotency_key) else "pending",
            url,
        )
        while not report.receiver_down() and (rows := _claim(Handoff, token, BATCH, url)):
            attempt = functools.partial(_deliver_one, sink=sink, report=report)
            _deliver(
                Handoff, rows, attempt, report, url, replay_safe=sink.replay_safe, sync=sink.sync
            )
    finally:
        sink.close()
    if report.transient or report.parked:
        log.warning(
            "handoffs: %d delivered, %d waiting for a retry, %d parked",
            report.delivered,
            report.transient,
            report.parked,
        )
    return report


def _deliver_one(row: Handoff, sink: HandoffSink, report: DeliveryReport) -> Outcome:
    try:
        sink.deliver(row.idempotency_key, row.payload)
    except DeliveryError as exc:
        outcome = _retry_later(row, exc, report) if exc.transient else _park(row, exc, report)
        return {**outcome, "sink": sink.name}
    except Exception as exc:  # this handoff cannot be encoded or sent: park it, go on
        return {**_park(row, exc, report), "sink": sink.name}
    report.delivered += 1
    report.in_a_row = 0
    return {"id": row.id, "state": "delivered", "delivered_at": utcnow(), "sink": sink.name}
