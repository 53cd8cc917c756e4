"""The fault suite (`make chaos`): one throwaway stack, faults one after another, and whether
what we promise held (docs/reliability.md).

Run: `python -m benchmarks.chaos [--quick] [--no-record] [--only TEXT]`. The stack (Prefect
server, `medleads serve`, intake; SQLite) sends its emails to an aiosmtpd server and its handoffs
to a CRM stand-in, both in this process on loopback. Scenarios, in order: fuzzed intake, SMTP down
then up, the CRM answering 500 then timing out then 200, the Prefect server down during posts, and
`medleads serve` killed (-9, with the flow runs it started) once mid-burst and once mid-delivery;
then, on a second stack on PostgreSQL whose app database is reached through a loopback proxy the
suite cuts and restores, the database down during a burst. Each prints one row; the table is
appended to docs/reliability.md; the exit status is 1 when a promise failed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import email
import email.policy
import functools
import json
import os
import random
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast

import httpx
from aiosmtpd.controller import Controller

from .figures import Figure, print_figures
from .run import machine
from .stack import (
    SECRET,
    BenchStack,
    bench_stack,
    forms,
    free_port,
    reading,
    restart,
    run_states,
    stop_process,
    wait_for,
)

BENCH = "chaos"
REPORT = Path(__file__).resolve().parent.parent / "docs" / "reliability.md"
CRM_SECRET = "medleads-chaos-crm-secret"
# The promise: everything decided and delivered within five minutes of the fault ending.
PROMISE_SECONDS = 300.0
# The stack as `medleads demo` runs it (cli/stack.py): heartbeats every 30 s, so a killed run is
# marked Crashed (and gives back its deployment's slot) about 90 s later; a run waiting for a
# slot asks again after 5 s. Retries of a failed delivery are due after 5 s (then 10, 20...).
STACK_ENV = {
    "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": "30",
    "PREFECT_SERVER_DEPLOYMENTS_CONCURRENCY_SLOT_WAIT_SECONDS": "5",
    "MEDLEADS_DELIVERY_RETRY_SECONDS": "5",
}
# A stall lasts longer than the webhook sink's timeout (10 s), so the sender does time out.
STALL_SECONDS = 12.0
FINAL_RUN_STATES = ("Completed", "Failed", "Crashed", "Cancelled")


@dataclass(frozen=True)
class Sizes:
    fuzz: int
    smtp: int
    crm: int
    prefect: int
    burst: int
    database: int
    outage: float  # how long a receiver stays down at least, seconds

    @classmethod
    def of(cls, quick: bool) -> Sizes:
        if quick:
            return cls(fuzz=300, smtp=30, crm=30, prefect=30, burst=200, database=60, outage=10)
        # A full outage outlasts a `delivery` run (every minute), so the schedule meets it too.
        return cls(fuzz=3000, smtp=200, crm=200, prefect=200, burst=1000, database=400, outage=75)


@dataclass
class Row:
    """One scenario's outcome; `problems` says, in words, every promise that did not hold."""

    scenario: str
    tried: int = 0
    as_promised: int = 0
    server_errors: int = 0
    lost: int = 0
    duplicated: int = 0
    recovered_in: float | None = None
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    skipped: str = ""
    by_kind: dict[str, tuple[int, int]] = field(default_factory=dict)  # tried, as promised

    @property
    def ok(self) -> bool:
        return bool(self.skipped) or not (
            self.problems
            or self.server_errors
            or self.lost
            or self.duplicated
            or self.as_promised != self.tried
        )

    def cells(self) -> list[str]:
        if self.skipped:
            return [self.scenario, "-", "-", "-", "-", "-", "-", f"skipped: {self.skipped}"]
        recovered = "-" if self.recovered_in is None else f"{self.recovered_in:.1f}"
        verdict = "met" if self.ok else "NOT MET: " + "; ".join(self.problems or ["see counts"])
        counts = (self.tried, self.as_promised, self.server_errors, self.lost, self.duplicated)
        return [self.scenario, *(str(c) for c in counts), recovered, verdict]


# --- the receivers we control -----------------------------------------------------------------


class _SmtpHandler:
    """Records the Message-ID of every email the server takes."""

    def __init__(self) -> None:
        self.received: Counter[str] = Counter()
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._lock:
            self.received[str(message.get("Message-ID", "")).strip()] += 1
        return "250 OK"


class Mailbox:
    """An aiosmtpd server on one loopback port that can be stopped and started again."""

    def __init__(self) -> None:
        self.port = free_port()
        self.handler = _SmtpHandler()
        self._controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> None:
        if self._controller is None:
            self._controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
            self._controller.start()

    def stop(self) -> None:
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()


class Crm:
    """The CRM webhook stand-in: checks signatures, answers as its mode says ("ok", "error":
    500, "stall": no answer until the mode changes), and counts per Idempotency-Key the 2xx it
    gave (more than one is a handoff delivered twice)."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.acked: Counter[str] = Counter()
        self.answers: Counter[str] = Counter()  # "200", "500", "stall", "401"
        self.lock = threading.Lock()
        self.unstalled = threading.Event()
        server = ThreadingHTTPServer(("127.0.0.1", 0), _CrmHandler)
        server.daemon_threads = True
        cast(Any, server).crm = self
        self._server = server
        self.url = f"http://127.0.0.1:{server.server_port}/handoffs"
        self._thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)

    def set_mode(self, mode: str) -> None:
        with self.lock:
            self.mode = mode
        if mode == "stall":
            self.unstalled.clear()
        else:
            self.unstalled.set()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.unstalled.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


class _CrmHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        from adapters.signing import verify

        crm: Crm = cast(Any, self.server).crm
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        key = self.headers.get("Idempotency-Key", "")
        signed = verify(
            CRM_SECRET,
            self.headers.get("X-Medleads-Timestamp", ""),
            body,
            self.headers.get("X-Medleads-Signature", ""),
        )
        with crm.lock:
            mode = crm.mode
        if mode == "stall":
            crm.answers["stall"] += 1
            crm.unstalled.wait(60)
            self.close_connection = True  # no answer at all: the sender times out or sees EOF
            return
        status = 401 if not signed else 500 if mode == "error" else 200
        with crm.lock:
            crm.answers[str(status)] += 1
            if status == 200:
                crm.acked[key] += 1
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


class DatabaseLink:
    """A loopback TCP proxy to this machine's PostgreSQL that the suite can cut: every open
    connection is dropped and new ones are refused, as when the server stops (the server is
    shared, so stopping it is not ours to do); `restore` listens again on the same port."""

    def __init__(self, target: tuple[str, int] = ("127.0.0.1", 5432)) -> None:
        self.target = target
        self.port = free_port()
        self.cuts = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()
        self._pipes: set[asyncio.Task[None]] = set()

    def _call(self, step: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(step, self._loop).result(10)

    def start(self) -> None:
        self._thread.start()
        self.restore()

    def restore(self) -> None:
        self._call(self._listen())

    def cut(self) -> None:
        self.cuts += 1
        self._call(self._cut())

    def stop(self) -> None:
        if self._thread.is_alive():
            self.cut()
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
        if not self._thread.is_alive():
            self._loop.close()  # else its self-pipe sockets are reported unclosed at the next GC

    async def _listen(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(self._pipe, "127.0.0.1", self.port)

    async def _cut(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for writer in list(self._open):
            writer.transport.abort()
        self._open.clear()
        if self._pipes:  # let each pipe see its ends closed and finish
            await asyncio.wait(set(self._pipes), timeout=2)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        ends = {writer, up_writer}
        self._open |= ends
        me = asyncio.current_task()
        assert me is not None
        self._pipes.add(me)

        async def copy(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            try:
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                sink.transport.abort()

        try:
            await asyncio.gather(copy(reader, up_writer), copy(up_reader, writer))
        finally:
            self._open -= ends
            self._pipes.discard(me)


# --- posting ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One POST /v1/forms and the answer we promise for it."""

    kind: str
    body: bytes
    expect: int
    key: str | None = None  # the key a 422 must name (None: the body as a whole)
    submission_id: str | None = None
    duplicate: bool = False  # a re-delivery: 202 with "duplicate": true
    signature: str = "good"  # good, wrong-secret, tampered, missing, stale
    chunked: bool = False


@dataclass(frozen=True)
class Answer:
    status: int  # 0: no answer at all
    body: Any
    retry_after: str | None = None


def _headers(case: Case) -> dict[str, str]:
    from adapters.signing import sign

    stamp = int(time.time()) - (3600 if case.signature == "stale" else 0)
    secret = "not-the-secret" if case.signature == "wrong-secret" else SECRET
    body = case.body + b" " if case.signature == "tampered" else case.body
    headers = {"Content-Type": "application/json"}
    if case.signature != "missing":
        headers["X-Medleads-Timestamp"] = str(stamp)
        headers["X-Medleads-Signature"] = sign(secret, str(stamp), body)
    return headers


async def _chunks(body: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(body), 8192):
        yield body[start : start + 8192]


async def _send(url: str, cases: list[Case], clients: int, rate: float | None) -> list[Answer]:
    """Post every case over `clients` connections (at `rate` per second when given)."""
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    gate = asyncio.Semaphore(clients)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        start = time.perf_counter()

        async def one(i: int, case: Case) -> Answer:
            if rate:
                await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
            async with gate:
                content: Any = _chunks(case.body) if case.chunked else case.body
                try:
                    answer = await client.post(url, content=content, headers=_headers(case))
                except httpx.HTTPError:
                    return Answer(0, None)
            try:
                body = answer.json()
            except ValueError:
                body = answer.text
            return Answer(answer.status_code, body, answer.headers.get("Retry-After"))

        return list(await asyncio.gather(*(one(i, c) for i, c in enumerate(cases))))


def post(
    s: BenchStack, cases: list[Case], clients: int = 16, rate: float | None = None
) -> list[Answer]:
    return asyncio.run(_send(f"{s.intake_url}/v1/forms", cases, clients, rate))


def promised(case: Case, answer: Answer) -> bool:
    """Whether the intake answered as the README promises for this case."""
    if answer.status != case.expect:
        return False
    if case.expect == 202:
        body = answer.body if isinstance(answer.body, dict) else {}
        return bool(
            body.get("submission_id") == case.submission_id
            and body.get("duplicate") is case.duplicate
        )
    if case.expect == 422:
        detail = answer.body.get("detail") if isinstance(answer.body, dict) else None
        locs = [d.get("loc") for d in detail if isinstance(d, dict)] if detail else []
        return (["body", case.key] if case.key else ["body"]) in locs
    return True


def valid_forms(count: int, prefix: str, seed: int, consent: bool = False) -> list[dict[str, Any]]:
    """Realistic form posts whose people are new to this stack (the email says which scenario
    sent them, so no scenario's post attaches to another's lead)."""
    bodies = forms(count, prefix, seed=seed)
    for body in bodies:
        body["email"] = f"{prefix.split('-')[0]}.{body['email']}"
        if consent:
            body["consent_email"] = "yes"
    return bodies


def plain_cases(bodies: list[dict[str, Any]], kind: str = "valid") -> list[Case]:
    return [
        Case(kind, json.dumps(b).encode(), 202, submission_id=b["submission_id"]) for b in bodies
    ]


# --- the fuzz ---------------------------------------------------------------------------------

SURROGATE = "\ud800"
CONTROLS = ("\x00", "\x07", "\x1b[2J", "\x7f", "\x0b", "\x9b")
BIDI = ("\u202e", "\u2066", "\u200f", "\u202d")
UNICODE_NAMES = (
    ("Zoë Ångström-Nguyễn", "Clínica São José"),
    ("李小龙", "北京协和医院 Cardiology"),
    ("Ολυμπία Παπαδοπούλου", "Ιατρείο Αθηνών"),
    ("Søren Ødegård", "Ærø Lægehus"),
    ("Мария Иванова", "Клиника Здоровье"),
    ("Dr. José 😀 Peña", "Peña Dermatology 🩺"),
)
# class -> weight; every class is promised one answer (see `_poison`).
KINDS = {
    "valid": 30,
    "redelivered": 0,  # added afterwards, posted in a second wave
    "unicode names": 6,
    "lone surrogates": 7,
    "NUL and control chars": 7,
    "bidi overrides": 6,
    "over-long values": 8,
    "non-finite numbers": 7,
    "wrong types": 8,
    "huge bodies (>64 KiB)": 4,
    "bad JSON": 8,
    "bad signatures": 9,
}


def _dumps(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()  # ensure_ascii: a lone surrogate goes as "\ud800"


def _poison(kind: str, body: dict[str, Any], rng: random.Random) -> Case:
    """A valid body `body` turned into one case of the class `kind`."""
    sid = body["submission_id"]
    if kind == "valid":
        return Case(kind, _dumps(body), 202, submission_id=sid)
    if kind == "unicode names":
        name, org = rng.choice(UNICODE_NAMES)
        body |= {"contact_name": name, "organization_name": f"{org} {body['organization_name']}"}
        return Case(kind, json.dumps(body, ensure_ascii=False).encode(), 202, submission_id=sid)
    if kind in ("lone surrogates", "NUL and control chars", "bidi overrides"):
        bad = {
            "lone surrogates": (SURROGATE, "\udfff"),
            "NUL and control chars": CONTROLS,
            "bidi overrides": BIDI,
        }[kind]
        for key in rng.sample(["contact_name", "organization_name", "message", "city"], 2):
            value = str(body.get(key) or "x")
            cut = rng.randrange(len(value) + 1)
            body[key] = value[:cut] + rng.choice(bad) + value[cut:]
        return Case(kind, _dumps(body), 202, submission_id=sid)
    if kind == "over-long values":
        key, limit = rng.choice(
            [("organization_name", 600), ("contact_name", 600), ("source", 300), ("campaign", 300)]
        )
        if rng.random() < 0.2:  # an assembled name too long: named by the keys sent
            body.pop("contact_name")
            body |= {"first_name": "A" * 300, "last_name": "B" * 300}
            return Case(kind, _dumps(body), 422, key="first_name + last_name")
        body[key] = ("Ĺong " * limit)[:limit]
        return Case(kind, _dumps(body), 422, key=key)
    if kind == "non-finite numbers":
        key = rng.choice(["locations_count", "page_visits_high_intent", "content_downloads"])
        literal = rng.choice(["1e400", "-1e400", "NaN", "Infinity"])
        body[key] = "@@NUMBER@@"
        raw = _dumps(body).replace(b'"@@NUMBER@@"', literal.encode())
        # 1e400 parses (to infinity) and is refused naming its key; NaN is not JSON at all.
        return Case(kind, raw, 422, key=key if "e400" in literal else None)
    if kind == "wrong types":
        wrong, poison = rng.choice(
            [
                ("email", [body["email"]]),
                ("locations_count", {"count": 3}),
                ("organization_name", ["a", "b"]),
                ("utm", {"source": "ads"}),
                ("consent_email", [True]),
            ]
        )
        body[wrong] = poison
        return Case(kind, _dumps(body), 422, key=wrong)
    if kind == "huge bodies (>64 KiB)":
        body["message"] = "x" * rng.choice((65_600, 80_000, 300_000))
        return Case(kind, _dumps(body), 413, chunked=rng.random() < 0.5)
    if kind == "bad JSON":
        raw = _dumps(body)
        broken = rng.choice(
            [
                raw[: len(raw) // 2],
                raw + b"}",
                b"\xff\xfe" + raw,
                b"[" * 20_000 + b"]" * 20_000,
                b"[1, 2, 3]",
                b"",
            ]
        )
        return Case(kind, broken, 422)
    if kind == "bad signatures":
        signature = rng.choice(["wrong-secret", "tampered", "missing", "stale"])
        return Case(kind, _dumps(body), 401, signature=signature)
    raise ValueError(kind)


def fuzz_cases(count: int, prefix: str, seed: int = 16) -> tuple[list[Case], list[Case]]:
    """`count` cases of every class (weighted), and a second wave re-delivering some accepted
    ones (promised: 202, duplicate true)."""
    rng = random.Random(seed)
    kinds = [k for k, w in KINDS.items() if w]
    weights = [KINDS[k] for k in kinds]
    first = [
        _poison(rng.choices(kinds, weights)[0], body, rng)
        for body in valid_forms(count, prefix, seed=seed)
    ]
    accepted = [c for c in first if c.expect == 202]
    again = [
        Case("redelivered", c.body, 202, submission_id=c.submission_id, duplicate=True)
        for c in rng.sample(accepted, max(1, len(accepted) // 20))
    ]
    return first, again


# --- what the stack did -----------------------------------------------------------------------


@dataclass
class Outcome:
    """Where a scenario's accepted submissions, their emails and handoffs stand."""

    undecided: dict[str, str]  # submission id -> its state
    email_states: Counter[str]
    handoff_states: Counter[str]
    emails_missing: list[str]  # queued (not skipped) and not received by the SMTP server
    # In flight over SMTP when its pass was killed: `unknown`, never resent (SMTP cannot tell a
    # repeat; at most once by design), left for a person (`medleads delivery`). Not lost by us,
    # not promised either: at most one per killed pass is allowed.
    emails_in_doubt: list[str]
    emails_twice: list[str]
    handoffs_missing: list[str]  # not acknowledged by the CRM
    handoffs_twice: list[str]
    # In flight to the CRM when its pass was killed: a webhook cannot be asked whether it has it,
    # so it is sent again under the same Idempotency-Key (the receiver dedupes by it, DESIGN §6;
    # this stand-in counts every 2xx). At most one per killed pass; any other repeat is a duplicate.
    handoffs_resent: list[str]
    split_submissions: list[str]  # one submission decided into two leads

    @property
    def settled(self) -> bool:
        return not (self.undecided or self.emails_missing or self.handoffs_missing)

    @property
    def lost(self) -> int:
        return len(self.undecided) + len(self.emails_missing) + len(self.handoffs_missing)

    @property
    def duplicated(self) -> int:
        return len(self.emails_twice) + len(self.handoffs_twice) + len(self.split_submissions)

    def describe(self) -> str:
        parts = [
            f"undecided {len(self.undecided)} ({dict(Counter(self.undecided.values()))})"
            if self.undecided
            else "",
            f"emails {dict(self.email_states)}" if self.email_states else "",
            f"handoffs {dict(self.handoff_states)}" if self.handoff_states else "",
            f"emails not received {len(self.emails_missing)}" if self.emails_missing else "",
            f"emails in doubt (in flight at a kill, left for a person) {len(self.emails_in_doubt)}"
            if self.emails_in_doubt
            else "",
            f"handoffs not acknowledged {len(self.handoffs_missing)}"
            if self.handoffs_missing
            else "",
            f"emails received twice {self.emails_twice[:3]}" if self.emails_twice else "",
            f"handoffs acknowledged twice {self.handoffs_twice[:3]}" if self.handoffs_twice else "",
            f"handoffs resent under their key (in flight at a kill) {len(self.handoffs_resent)}"
            if self.handoffs_resent
            else "",
        ]
        return ", ".join(p for p in parts if p) or "all settled"


def outcome(
    ids: set[str], mailbox: Mailbox, crm: Crm, queued_after: dt.datetime | None = None
) -> Outcome:
    """Read the app database (and what the receivers got) for these submission ids; with
    `queued_after`, only the emails and handoffs queued since (a post whose only contact is a
    phone can join a lead an earlier scenario made, with its email long sent)."""
    from sqlalchemy import func
    from sqlmodel import col, select

    from models.tables import DecisionRecord, Handoff, RawSubmission, SentEmail

    with reading() as session:
        rows = session.exec(
            select(RawSubmission.id, RawSubmission.state, RawSubmission.lead_id).where(
                col(RawSubmission.id).in_(ids)
            )
        ).all()
        leads = {lead for _, _, lead in rows if lead}
        since = queued_after or dt.datetime.min.replace(tzinfo=dt.UTC)
        emails = session.exec(
            select(SentEmail.idempotency_key, SentEmail.state).where(
                col(SentEmail.lead_id).in_(leads), col(SentEmail.created_at) >= since
            )
        ).all()
        handoffs = session.exec(
            select(Handoff.idempotency_key, Handoff.state, Handoff.error).where(
                col(Handoff.lead_id).in_(leads), col(Handoff.created_at) >= since
            )
        ).all()
        split = session.exec(
            select(DecisionRecord.submission_id)
            .where(col(DecisionRecord.submission_id).in_(ids))
            .group_by(col(DecisionRecord.submission_id))
            .having(func.count(func.distinct(DecisionRecord.lead_id)) > 1)
        ).all()
    found = {sid: (state, lead) for sid, state, lead in rows}
    undecided = {
        sid: found.get(sid, ("not stored", None))[0]
        for sid in ids
        if found.get(sid, ("", None))[0] != "done" and not found.get(sid, ("", None))[1]
    }
    d = delivered(emails, handoffs, mailbox, crm)
    return Outcome(
        undecided=undecided,
        email_states=Counter(state for _, state in emails),
        handoff_states=Counter(state for _, state, _ in handoffs),
        emails_missing=d.emails_missing,
        emails_in_doubt=d.emails_in_doubt,
        emails_twice=d.emails_twice,
        handoffs_missing=d.handoffs_missing,
        handoffs_twice=d.handoffs_twice,
        handoffs_resent=d.handoffs_resent,
        split_submissions=[str(sid) for sid in split],
    )


@dataclass(frozen=True)
class Delivered:
    """The emails and handoffs we queued, against what the SMTP server and the CRM got."""

    emails_queued: list[str]  # to be sent: not skipped, not left unknown by a kill
    emails_missing: list[str]
    emails_in_doubt: list[str]  # unknown (in flight at a kill) and not received
    emails_twice: list[str]
    handoffs_missing: list[str]
    handoffs_twice: list[str]
    handoffs_resent: list[str]  # sent again under their key after a kill (Outcome says why)


def delivered(
    emails: Sequence[tuple[str, str]],
    handoffs: Sequence[tuple[str, str, str | None]],
    mailbox: Mailbox,
    crm: Crm,
) -> Delivered:
    """`emails`: (idempotency key, state); `handoffs`: (idempotency key, state, error)."""
    from adapters.mail import message_id_for
    from tasks.deliver import IN_FLIGHT_NOTES

    with crm.lock:
        acked = dict(crm.acked)
    received = dict(mailbox.handler.received)
    queued = [key for key, state in emails if state not in ("skipped", "unknown")]
    resent_note = IN_FLIGHT_NOTES["pending"]
    resent = [k for k, _, error in handoffs if acked.get(k, 0) == 2 and error == resent_note]
    return Delivered(
        emails_queued=queued,
        emails_missing=[k for k in queued if not received.get(message_id_for(k))],
        emails_in_doubt=[
            k for k, state in emails if state == "unknown" and not received.get(message_id_for(k))
        ],
        emails_twice=[k for k in queued if received.get(message_id_for(k), 0) > 1],
        handoffs_missing=[k for k, _, _ in handoffs if not acked.get(k)],
        handoffs_twice=[k for k, _, _ in handoffs if acked.get(k, 0) > 1 and k not in resent],
        handoffs_resent=resent,
    )


def settle(
    ids: set[str], mailbox: Mailbox, crm: Crm, since: float, seconds: float = PROMISE_SECONDS
) -> tuple[Outcome, float | None, float | None]:
    """Wait (without new posts) until every submission is decided and every email and handoff
    received. Returns the outcome, and the seconds from `since` until everything was decided
    and until everything was delivered (None: not within `seconds`)."""
    deadline = since + seconds
    decided: float | None = None
    while True:
        now = outcome(ids, mailbox, crm)
        if decided is None and not now.undecided:
            decided = time.monotonic() - since
        if now.settled:
            return now, decided, time.monotonic() - since
        if time.monotonic() > deadline:
            return now, decided, None
        time.sleep(0.5)


def all_decided(ids: set[str], mailbox: Mailbox, crm: Crm, seconds: float) -> Outcome:
    def check() -> Outcome | None:
        now = outcome(ids, mailbox, crm)
        return None if now.undecided else now

    return wait_for(check, "not every accepted submission was decided", seconds, every=0.5)


async def _runs(since: float) -> Counter[tuple[str, str]]:
    """Flow runs expected to start since `since`: (deployment, state) -> count."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterExpectedStartTime

    after: Any = dt.datetime.fromtimestamp(since, tz=dt.UTC)
    found: Counter[tuple[str, str]] = Counter()
    async with get_client() as client:
        names = {d.id: d.name for d in await client.read_deployments()}
        offset = 0
        while True:
            page = await client.read_flow_runs(
                flow_run_filter=FlowRunFilter(
                    expected_start_time=FlowRunFilterExpectedStartTime(after_=after)
                ),
                limit=200,
                offset=offset,
            )
            for run in page:
                state = (run.state.name if run.state else None) or "?"
                found[(names.get(run.deployment_id, "?") if run.deployment_id else "?", state)] += 1
            if len(page) < 200:
                break
            offset += 200
    return found


def runs_since(since: float) -> Counter[tuple[str, str]]:
    return asyncio.run(_runs(since))


def crashed_runs(since: float) -> int:
    """Flow runs since `since` that Prefect marked Crashed."""
    return sum(n for (_, state), n in runs_since(since).items() if state == "Crashed")


def failed_runs(runs: Counter[tuple[str, str]], allowed: frozenset[str] = frozenset()) -> list[str]:
    """Of `runs_since`'s counts, the runs that ended other than Completed (a promise: outages
    never fail a run), as "deployment state xN"."""
    return [
        f"{deployment} {state} x{n}"
        for (deployment, state), n in sorted(runs.items())
        if state in FINAL_RUN_STATES and state != "Completed" and state not in allowed
    ]


def quiet(seconds: float = 300, *, due_too: bool = True) -> None:
    """Wait until no channel or intake-sweep run is running or pending and (`due_too`) none is
    waiting for its deployment's slot, late, or scheduled and due (on a loaded machine such a
    moment can take minutes: a sweep is due every minute)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterName,
        FlowRunFilter,
        FlowRunFilterExpectedStartTime,
        FlowRunFilterState,
        FlowRunFilterStateName,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType

    channel = DeploymentFilter(name=DeploymentFilterName(any_=["inbound-form", "intake-sweep"]))
    moving = FlowRunFilterStateType(any_=[StateType.PENDING, StateType.RUNNING])
    waiting = FlowRunFilterStateName(any_=["AwaitingConcurrencySlot", "AwaitingRetry", "Late"])

    def busy() -> list[FlowRunFilter]:
        now: Any = dt.datetime.now(dt.UTC)
        scheduled = FlowRunFilterStateType(any_=[StateType.SCHEDULED])
        filters = [FlowRunFilter(state=FlowRunFilterState(type=moving))]
        if due_too:
            filters += [
                FlowRunFilter(state=FlowRunFilterState(name=waiting)),
                FlowRunFilter(
                    state=FlowRunFilterState(type=scheduled),
                    expected_start_time=FlowRunFilterExpectedStartTime(before_=now),
                ),
            ]
        return filters

    with get_client(sync_client=True) as client:
        wait_for(
            lambda: (
                not any(
                    client.count_flow_runs(flow_run_filter=f, deployment_filter=channel)
                    for f in busy()
                )
            ),
            "channel runs still busy",
            seconds,
            every=1,
        )


def keep_evidence(s: BenchStack, scenario: str, since: float) -> Path:
    """When a promise is not met: the stack's process logs and, for every flow run since
    `since`, its states in order and its log lines (the stack is deleted on exit)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterExpectedStartTime,
        LogFilter,
        LogFilterFlowRunId,
    )
    from prefect.client.schemas.sorting import LogSort

    slug = "".join(c if c.isalnum() else "-" for c in scenario.lower()).strip("-")
    kept = Path(tempfile.gettempdir()) / f"medleads-chaos-{slug}-{int(time.time())}"
    with contextlib.suppress(OSError):
        shutil.copytree(s.logs, kept / "logs")
    kept.mkdir(parents=True, exist_ok=True)
    after: Any = dt.datetime.fromtimestamp(since, tz=dt.UTC)
    lines: list[str] = []
    with get_client(sync_client=True) as client:
        names = {d.id: d.name for d in client.read_deployments()}
        runs: list[Any] = []
        while True:  # the API answers at most 200 runs a page
            page = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(
                    expected_start_time=FlowRunFilterExpectedStartTime(after_=after)
                ),
                limit=200,
                offset=len(runs),
            )
            runs.extend(page)
            if len(page) < 200:
                break
        for run in sorted(runs, key=lambda r: str(r.expected_start_time)):
            deployment = names.get(run.deployment_id, "?") if run.deployment_id else "?"
            lines.append(f"== {run.id} {deployment} {run.name}")
            for state in client.read_flow_run_states(run.id):
                lines.append(f"   {state.timestamp} {state.name}: {state.message or ''}"[:400])
            found = client.read_logs(
                log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run.id])),
                sort=LogSort.TIMESTAMP_ASC,
                limit=200,
            )
            lines.extend(f"   | {log.timestamp} {log.level} {log.message}"[:400] for log in found)
    (kept / "runs.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return kept


# --- the scenarios ----------------------------------------------------------------------------


@dataclass
class Suite:
    s: BenchStack
    mailbox: Mailbox
    crm: Crm
    sizes: Sizes
    tag: str
    link: DatabaseLink | None = None  # the app database's connection, on the PostgreSQL stack

    def prefix(self, name: str) -> str:
        return f"{name}-{self.tag}"

    def check_accepted(self, row: Row, cases: list[Case], answers: list[Answer]) -> set[str]:
        row.tried += len(cases)
        row.as_promised += sum(promised(c, a) for c, a in zip(cases, answers, strict=True))
        row.server_errors += sum(a.status >= 500 or a.status == 0 for a in answers)
        return {
            c.submission_id
            for c, a in zip(cases, answers, strict=True)
            if c.submission_id and a.status == 202 and not c.duplicate
        }

    def settle(
        self, row: Row, ids: set[str], since: float, what: str = "all"
    ) -> tuple[Outcome, float | None]:
        result, decided, delivered = settle(ids, self.mailbox, self.crm, since)
        if decided is not None:
            done = "-" if delivered is None else f"{delivered:.1f} s"
            row.notes.append(f"{what} decided after {decided:.1f} s, delivered after {done}")
        return result, delivered

    def finish(
        self,
        row: Row,
        result: Outcome,
        recovered: float | None,
        since: float,
        interrupted: frozenset[str] = frozenset(),
    ) -> Row:
        """Count the outcome into the row. Runs ending in a state in `interrupted` (Crashed for
        a kill) are the fault's doing: each may have left one email in doubt and one handoff
        resent under its key, and they are not counted as failures."""
        row.lost += result.lost
        row.duplicated += result.duplicated
        row.recovered_in = recovered
        if recovered is None:
            row.problems.append(f"not settled within {PROMISE_SECONDS:.0f} s: {result.describe()}")
        if result.split_submissions:
            row.problems.append(f"{len(result.split_submissions)} submissions in two leads")
        # An interrupted delivery pass may have had one email and one handoff in flight (a
        # channel run and the delivery run can both be delivering): at most one each per run.
        runs = runs_since(since)
        stopped = sum(n for (_, state), n in runs.items() if state in interrupted)
        if len(result.emails_in_doubt) > stopped:
            row.problems.append(
                f"{len(result.emails_in_doubt)} emails left unknown (in flight at the fault), "
                f"{stopped} runs interrupted"
            )
        if len(result.handoffs_resent) > stopped:
            row.problems.append(
                f"{len(result.handoffs_resent)} handoffs resent (in flight at the fault), "
                f"{stopped} runs interrupted"
            )
        row.notes.append(result.describe())
        if stopped:
            row.notes.append(f"{stopped} runs ended {'/'.join(sorted(interrupted))} by the fault")
        if bad := failed_runs(runs, allowed=interrupted):  # the same read as above
            row.problems.append("runs not Completed: " + ", ".join(bad))
        return row


def fuzzed_intake(x: Suite, row: Row) -> Row:
    first, again = fuzz_cases(x.sizes.fuzz, x.prefix("fuzz"))
    since = time.time()
    answers = post(x.s, first, clients=16)
    answers_again = post(x.s, again, clients=8)
    accepted = x.check_accepted(row, first, answers)
    x.check_accepted(row, again, answers_again)
    by_kind: dict[str, Counter[str]] = {}
    for c, a in zip(first + again, answers + answers_again, strict=True):
        tally = by_kind.setdefault(c.kind, Counter())
        tally["tried"] += 1
        tally["as promised"] += promised(c, a)
        tally[f"HTTP {a.status}"] += 1
    row.by_kind = {kind: (t["tried"], t["as promised"]) for kind, t in by_kind.items()}
    row.notes.append(
        "; ".join(
            f"{kind}: {t['as promised']}/{t['tried']} as promised ("
            + ", ".join(f"{k} x{v}" for k, v in sorted(t.items()) if k.startswith("HTTP"))
            + ")"
            for kind, t in by_kind.items()
        )
    )
    wrong = [
        f"{c.kind} -> {a.status} (promised {c.expect})"
        for c, a in zip(first + again, answers + answers_again, strict=True)
        if not promised(c, a)
    ]
    if wrong:
        row.problems.append("answered otherwise: " + "; ".join(sorted(set(wrong))[:5]))
    clock = time.monotonic()
    result, recovered = x.settle(row, accepted, clock)
    return x.finish(row, result, recovered, since)


def smtp_outage(x: Suite, row: Row) -> Row:
    cases = plain_cases(valid_forms(x.sizes.smtp, x.prefix("smtp"), seed=21, consent=True))
    since = time.time()
    x.mailbox.stop()
    down, stopped = time.monotonic(), dt.datetime.now(dt.UTC)
    try:
        accepted = x.check_accepted(row, cases, post(x.s, cases))
        all_decided(accepted, x.mailbox, x.crm, 180)
        # The runs that decided them have tried their emails; one that starts later meets the
        # same closed port.
        quiet(due_too=False)
        waiting = outcome(accepted, x.mailbox, x.crm, queued_after=stopped)
        queued = sum(waiting.email_states.values())
        if not queued:
            row.problems.append("no email was queued: the scenario tested nothing")
        if set(waiting.email_states) - {"pending", "claimed", "sending", "skipped"}:
            row.problems.append(f"emails did not wait while SMTP was down: {waiting.describe()}")
        if waiting.handoffs_missing:
            row.problems.append(f"handoffs held back by the SMTP outage: {waiting.describe()}")
        row.notes.append(f"while down: {waiting.describe()}")
        time.sleep(max(0.0, x.sizes.outage - (time.monotonic() - down)))
    finally:
        x.mailbox.start()
    up = time.monotonic()
    result, recovered = x.settle(row, accepted, up)
    row.notes.append(f"SMTP down {up - down:.0f} s")
    return x.finish(row, result, recovered, since)


def crm_outage(x: Suite, row: Row) -> Row:
    """Half the posts while the CRM answers 500, half while it stalls (the sender times out),
    each phase at least half the outage; then 200."""
    since = time.time()
    bodies = valid_forms(x.sizes.crm, x.prefix("crm"), seed=31)
    half = len(bodies) // 2
    started, failing = time.monotonic(), dt.datetime.now(dt.UTC)
    accepted: set[str] = set()
    try:
        accepted |= _crm_phase(x, row, "error", "500", bodies[:half])
        accepted |= _crm_phase(x, row, "stall", "stall", bodies[half:])
        waiting = outcome(accepted, x.mailbox, x.crm, queued_after=failing)
        if waiting.handoff_states["delivered"]:
            row.problems.append(f"handoffs delivered while the CRM failed: {waiting.describe()}")
        row.notes.append(f"at the end of the outage: {waiting.describe()}")
    finally:
        x.crm.set_mode("ok")
    up = time.monotonic()
    result, recovered = x.settle(row, accepted, up)
    row.notes.append(
        f"CRM failing {up - started:.0f} s; its answers: "
        + ", ".join(f"{k} x{v}" for k, v in sorted(x.crm.answers.items()))
    )
    if not sum(result.handoff_states.values()):
        row.problems.append("no handoff was queued: the scenario tested nothing")
    return x.finish(row, result, recovered, since)


def _crm_phase(
    x: Suite, row: Row, mode: str, answer: str, bodies: list[dict[str, Any]]
) -> set[str]:
    """Post while the CRM is in `mode`; stay in it until a handoff met it and half the outage
    has passed."""
    x.crm.set_mode(mode)
    phase, before = time.monotonic(), x.crm.answers[answer]
    cases = plain_cases(bodies)
    accepted = x.check_accepted(row, cases, post(x.s, cases))
    wait_for(lambda: x.crm.answers[answer] > before, f"no handoff met the CRM {mode}", 180)
    least = max(x.sizes.outage / 2, STALL_SECONDS if mode == "stall" else 0.0)
    time.sleep(max(0.0, least - (time.monotonic() - phase)))
    return accepted


def prefect_down(x: Suite, row: Row) -> Row:
    cases = plain_cases(valid_forms(x.sizes.prefect, x.prefix("prefect"), seed=41))
    quiet()
    since = time.time()
    stop_process(x.s, "prefect-server")
    down = time.monotonic()
    api = x.s.prefect_api
    try:
        accepted = x.check_accepted(row, cases, post(x.s, cases))
        stored = outcome(accepted, x.mailbox, x.crm).undecided
        if not_stored := [sid for sid, st in stored.items() if st == "not stored"]:
            row.problems.append(f"{len(not_stored)} accepted posts not stored")
        time.sleep(max(0.0, x.sizes.outage - (time.monotonic() - down)))
    finally:
        restart(x.s, "prefect-server")
        up = time.monotonic()
        wait_for(lambda: _answers(f"{api}/health"), "the Prefect server did not come back", 120)
    row.notes.append(f"server down {up - down:.0f} s, back in {time.monotonic() - up:.0f} s")
    if x.s.processes["serve"].poll() is not None:
        row.problems.append("medleads serve exited while the server was down")
    result, recovered = x.settle(row, accepted, up)
    return x.finish(row, result, recovered, since)


def serve_killed(x: Suite, row: Row, moment: str = "claim") -> Row:
    """A burst; SIGKILL to serve and its flow runs once a run holds part of it (`moment`
    "claim": submissions claimed; "delivery": their emails or handoffs claimed for sending)."""
    quiet()
    since = time.time()
    prefix = x.prefix(f"kill{moment}")
    cases = plain_cases(valid_forms(x.sizes.burst, prefix, seed=51 if moment == "claim" else 61))
    in_flight = _claimed if moment == "claim" else _delivering
    answers: list[Answer] = []
    poster = threading.Thread(target=lambda: answers.extend(post(x.s, cases, rate=100)))
    poster.start()
    killed = False
    try:
        wait_for(lambda: in_flight(prefix), f"no run was at its {moment}", 120, every=0.05)
        serve = x.s.processes["serve"]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(serve.pid, signal.SIGKILL)  # serve and the flow runs it started
        serve.wait(10)
        killed = True
        poster.join()
        row.notes.append(
            f"killed with {_claimed(prefix)} submissions claimed, "
            f"{_delivering(prefix)} emails and handoffs claimed for sending"
        )
    finally:
        poster.join()
        if killed or x.s.processes["serve"].poll() is not None:
            restart(x.s, "serve")
    up = time.monotonic()
    accepted = x.check_accepted(row, cases, answers)
    result, recovered = x.settle(row, accepted, up)
    if stuck := _claimers(set(result.undecided)):
        row.problems.append(
            "still claimed by runs that are "
            + ", ".join(f"{state} ({n} submissions)" for state, n in stuck.items())
        )
    return x.finish(row, result, recovered, since, interrupted=frozenset({"Crashed"}))


def database_down(x: Suite, row: Row) -> Row:
    """On the PostgreSQL stack: a third of a burst is posted, then the app database goes away
    (its link cut while those are being decided and delivered) and the rest is posted during the
    outage. Promised: a 202 means stored; a post that meets the outage gets 503 with
    Retry-After, never 202; once the database is back, everything accepted is decided and
    delivered with no new traffic; the refused posts, sent again as Retry-After asks, are
    accepted and settle too. Runs the outage fails are allowed to fail."""
    if x.link is None:
        row.skipped = "needs the PostgreSQL stack (its app database link can be cut)"
        return row
    prefix = x.prefix("dbdown")
    cases = plain_cases(valid_forms(x.sizes.database, prefix, seed=71, consent=True))
    first, rest = cases[: len(cases) // 3], cases[len(cases) // 3 :]
    quiet()
    since = time.time()
    accepted = x.check_accepted(row, first, post(x.s, first))
    # Cut once the runs those posts started are at work (a claim or a delivery in hand).
    watch = time.monotonic()
    while not (held := _claimed(prefix) + _delivering(prefix)) and time.monotonic() < watch + 60:
        time.sleep(0.05)
    x.link.cut()
    row.notes.append(f"cut with {held} submissions, emails and handoffs claimed")
    down = time.monotonic()
    try:
        answers = post(x.s, rest)
        time.sleep(max(0.0, x.sizes.outage - (time.monotonic() - down)))
    finally:
        x.link.restore()
    up = time.monotonic()
    refused = [c for c, a in zip(rest, answers, strict=True) if a.status == 503]
    row.tried += len(rest)
    row.as_promised += sum(a.status == 503 and bool(a.retry_after) for a in answers)
    row.server_errors += sum(
        (a.status >= 500 or a.status == 0) and not (a.status == 503 and a.retry_after)
        for a in answers
    )
    if wrong := Counter(a.status for a in answers if a.status != 503):
        row.problems.append(f"answered while the database was down: {dict(wrong)}")
    row.notes.append(
        f"database down {up - down:.0f} s: {len(refused)} of {len(rest)} posts answered 503 "
        f"with Retry-After {sorted({a.retry_after for a in answers if a.retry_after})}"
    )
    before, recovered = x.settle(row, accepted, up, "posts accepted before the outage:")
    if recovered is None:
        row.notes.append(f"posts accepted before the outage, at the deadline: {before.describe()}")
    # The callers come back, as Retry-After asks.
    again = time.monotonic()
    accepted |= x.check_accepted(row, refused, post(x.s, refused))
    later, delivered = x.settle(row, accepted, again, "all, once the refused were sent again:")
    if delivered is None:
        row.problems.append(f"refused posts sent again not settled: {later.describe()}")
    return x.finish(row, later, recovered, since, interrupted=frozenset({"Failed"}))


def _claimers(ids: set[str]) -> Counter[str]:
    """The Prefect state of the runs holding these submissions -> how many they hold."""
    from sqlmodel import col, select

    from models.tables import RawSubmission

    with reading() as session:
        holders = Counter(
            session.exec(
                select(RawSubmission.claimed_by).where(
                    col(RawSubmission.id).in_(ids), col(RawSubmission.state) == "claimed"
                )
            ).all()
        )
    states = run_states([h for h in holders if h])
    found: Counter[str] = Counter()
    for holder, n in holders.items():
        found[states.get(holder or "", "unknown run")] += n
    return found


def _claimed(prefix: str) -> int:
    from sqlalchemy import func
    from sqlmodel import col, select

    from models.tables import RawSubmission

    with reading() as session:
        return int(
            session.exec(
                select(func.count())
                .select_from(RawSubmission)
                .where(col(RawSubmission.id).startswith(f"{prefix}-"))
                .where(col(RawSubmission.state) == "claimed")
            ).one()
        )


def _delivering(prefix: str) -> int:
    from sqlalchemy import func
    from sqlmodel import col, select

    from models.tables import Handoff, RawSubmission, SentEmail

    leads = select(RawSubmission.lead_id).where(col(RawSubmission.id).startswith(f"{prefix}-"))
    found = 0
    with reading() as session:
        for table in (SentEmail, Handoff):
            model: Any = table
            found += int(
                session.exec(
                    select(func.count())
                    .select_from(model)
                    .where(col(model.lead_id).in_(leads.scalar_subquery()))
                    .where(col(model.state).in_(["claimed", "sending"]))
                ).one()
            )
    return found


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


SCENARIOS: tuple[tuple[str, Callable[[Suite, Row], Row]], ...] = (
    ("fuzzed intake", fuzzed_intake),
    ("SMTP down, then up", smtp_outage),
    ("CRM 500, timeouts, then 200", crm_outage),
    ("Prefect server down during posts", prefect_down),
    ("kill -9 of medleads serve mid-burst", serve_killed),
    ("kill -9 of medleads serve mid-delivery", functools.partial(serve_killed, moment="delivery")),
    ("database down", database_down),
)


@contextlib.contextmanager
def receivers() -> Iterator[tuple[Mailbox, Crm]]:
    mailbox, crm = Mailbox(), Crm()
    mailbox.start()
    crm.start()
    try:
        yield mailbox, crm
    finally:
        crm.stop()
        mailbox.stop()


# Scenarios run on the default stack (SQLite), but these, on a stack of their own on PostgreSQL.
ON_POSTGRES = frozenset({"database down"})


@contextlib.contextmanager
def _suite(mailbox: Mailbox, crm: Crm, sizes: Sizes, postgres: bool) -> Iterator[Suite]:
    env = {
        **STACK_ENV,
        # INFO to see what each run did (more log traffic to the server than users' WARNING).
        "PREFECT_LOGGING_LEVEL": os.environ.get("MEDLEADS_CHAOS_LOGGING_LEVEL", "WARNING"),
        "MEDLEADS_SMTP_URL": mailbox.url,
        "MEDLEADS_CRM_WEBHOOK_URL": crm.url,
        "MEDLEADS_CRM_WEBHOOK_SECRET": CRM_SECRET,
    }
    link = DatabaseLink() if postgres else None
    try:
        if link:
            link.start()
        port = link.port if link else None
        with bench_stack(postgres=postgres, env=env, app_database_port=port) as s:
            yield Suite(s, mailbox, crm, sizes, tag=str(int(time.time())), link=link)
    finally:
        if link:
            link.stop()


def measure(
    quick: bool = False,
    log: Callable[[str], None] = print,
    skip: frozenset[str] = frozenset(),
    only: str = "",
) -> list[Row]:
    """Run every scenario in order (but those in `skip`, and only those whose name contains
    `only`), on one stack, and those in ON_POSTGRES on a second one; all stopped afterwards."""
    sizes = Sizes.of(quick)
    chosen = [
        (name, scenario)
        for name, scenario in SCENARIOS
        if name not in skip and only.lower() in name.lower()
    ]
    rows: list[Row] = []
    with receivers() as (mailbox, crm):
        for postgres in (False, True):
            mine = [(name, f) for name, f in chosen if (name in ON_POSTGRES) == postgres]
            if not mine:
                continue
            with _suite(mailbox, crm, sizes, postgres) as suite:
                where = "PostgreSQL" if postgres else "SQLite"
                log(f"stack on {where} up in {suite.s.started_in:.0f} s ({suite.s.data.parent})")
                for name, scenario in mine:
                    log(f"-- {name} ...")
                    clock, since = time.monotonic(), time.time()
                    row = Row(name)
                    try:
                        scenario(suite, row)
                    except Exception as exc:  # one broken scenario must not hide the others
                        row.problems.append(f"{type(exc).__name__}: {exc}"[:300])
                    rows.append(row)
                    log(f"   {time.monotonic() - clock:.0f} s: {'met' if row.ok else 'NOT MET'}")
                    for note in row.notes:
                        log(f"   {note}")
                    for problem in row.problems:
                        log(f"   problem: {problem}")
                    keep = os.environ.get("MEDLEADS_CHAOS_KEEP_EVIDENCE")  # also when met
                    if (keep or not row.ok) and not row.skipped:
                        try:
                            kept = keep_evidence(suite.s, name, since)
                            log(f"   kept its logs and runs in {kept}")
                        except Exception as exc:
                            log(f"   could not keep its logs: {type(exc).__name__}: {exc}"[:300])
    return rows


def figures(rows: list[Row]) -> list[Figure]:
    found = []
    for row in rows:
        if row.skipped:
            found.append(Figure(BENCH, row.scenario, f"skipped: {row.skipped}"))
            continue
        recovered = "-" if row.recovered_in is None else f"{row.recovered_in:.1f} s"
        value = (
            f"tried {row.tried}, as promised {row.as_promised}, 5xx {row.server_errors}, "
            f"lost {row.lost}, duplicated {row.duplicated}, recovered in {recovered}"
        )
        target = f"all as promised, 0 5xx/lost/dup, <= {PROMISE_SECONDS:.0f} s"
        found.append(Figure(BENCH, row.scenario, value, target, row.ok))
    return found


def markdown(rows: list[Row], title: str, seconds: float) -> str:
    lines = [
        f"### {title}",
        "",
        f"Machine: {machine()}. Whole run: {seconds / 60:.1f} min.",
        "",
        "| scenario | tried | as promised | 5xx | lost | duplicated | recovered in (s) | |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append("| " + " | ".join(c.replace("|", "/") for c in row.cells()) + " |")
    return "\n".join(lines) + "\n\n"


def interrupt(signum: int, frame: object) -> None:
    """A plain `kill` stops the stack too, as Ctrl-C does."""
    raise KeyboardInterrupt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, short outages")
    parser.add_argument("--no-record", action="store_true", help="do not append to the doc")
    parser.add_argument(
        "--only", default="", metavar="TEXT", help="run the scenarios whose name contains TEXT"
    )
    args = parser.parse_args()
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    signal.signal(signal.SIGTERM, interrupt)
    started = time.perf_counter()
    rows = measure(args.quick, only=args.only)
    seconds = time.perf_counter() - started
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    title = f"make chaos, {when}" + (" (quick)" if args.quick else "")
    print_figures(figures(rows), title)
    if not args.no_record:
        with REPORT.open("a", encoding="utf-8") as f:
            f.write(markdown(rows, title, seconds))
        print(f"appended to {REPORT}")
    failed = [row.scenario for row in rows if not row.ok]
    if failed:
        print(f"promises not met: {', '.join(failed)}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
