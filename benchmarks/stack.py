"""A throwaway local stack for the intake benchmarks, and the form posts they send.

`bench_stack()` starts its own Prefect server, `medleads serve` and the intake service on free
loopback ports, in a temporary data folder, on SQLite or (postgres=True) on fresh PostgreSQL
databases, and always stops every process and drops every database it made. `forms()` makes
realistic form submissions: real CMS/NPPES organizations with synthetic contacts.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID

import httpx

from cli.stack import drain_prefect_workers

from .core_speed import ROOT, organizations

PG_SERVER = "postgres@127.0.0.1:5432"
DB_PREFIX = "medleads_bench_"
SECRET = "medleads-bench-secret"
T = TypeVar("T")

# Environment of the benchmark process itself while a stack runs (restored afterwards).
_OWN_ENV = ("MEDLEADS_DATA_DIR", "MEDLEADS_DATABASE_URL", "MEDLEADS_INTAKE_SECRET")


@dataclass
class BenchStack:
    """A running stack: where it is, and the child processes to stop."""

    data: Path
    prefect_api: str
    intake_url: str
    database_url: str
    postgres: bool
    started_in: float = 0.0
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    # How each process was started, so a fault suite can start it again the same way.
    commands: dict[str, tuple[list[str], dict[str, str]]] = field(default_factory=dict)

    @property
    def logs(self) -> Path:
        return self.data.parent / "logs"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def wait_for(check: Callable[[], T | None], what: str, seconds: float, every: float = 0.25) -> T:
    """Poll `check` until it returns something truthy; fail after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} within {seconds:.0f} s")
        time.sleep(every)


# --- PostgreSQL databases ---------------------------------------------------------------------


def _pg_admin(statements: Sequence[str]) -> None:
    import psycopg

    with psycopg.connect(f"postgresql://{PG_SERVER}/postgres", autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement.encode())


def _drop_stale_databases() -> None:
    """Drop databases an earlier benchmark left behind (its process is gone)."""
    import psycopg

    with psycopg.connect(f"postgresql://{PG_SERVER}/postgres", autocommit=True) as conn:
        names = [
            r[0]
            for r in conn.execute(
                "SELECT datname FROM pg_database WHERE datname LIKE 'medleads\\_bench\\_%'"
            )
        ]
    owners = {n: n.rsplit("_", 1)[-1] for n in names}
    stale = [n for n, pid in owners.items() if not (pid.isdigit() and _pid_alive(int(pid)))]
    _pg_admin([f'DROP DATABASE IF EXISTS "{n}" WITH (FORCE)' for n in stale])


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# --- processes --------------------------------------------------------------------------------


def _spawn(
    s: BenchStack, name: str, args: list[str], env: dict[str, str]
) -> subprocess.Popen[bytes]:
    s.logs.mkdir(parents=True, exist_ok=True)
    with (s.logs / f"{name}.log").open("ab") as log:
        process = subprocess.Popen(
            args,
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: flow-run children stop with it
        )
    s.processes[name] = process
    s.commands[name] = (args, env)
    return process


def restart(s: BenchStack, name: str) -> subprocess.Popen[bytes]:
    """Start a process of the stack again, with the command and environment it first had."""
    args, env = s.commands[name]
    return _spawn(s, name, args, env)


def stop_process(s: BenchStack, name: str, first: int = signal.SIGTERM) -> None:
    """Stop one process of the stack (its whole process group)."""
    _stop(s.processes[name], first)


def _stop(process: subprocess.Popen[bytes], first: int) -> None:
    """Stop a child's process group: `first`, then SIGTERM, then SIGKILL for what is left (a
    child that inherited an ignored SIGINT, or a flow run holding on)."""
    for sig, grace in ((first, 15.0), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=grace)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)  # the group's flow-run children too


@contextmanager
def _signals_deferred() -> Iterator[None]:
    """Let cleanup finish when a second Ctrl-C or SIGTERM arrives; raise it afterwards."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in previous:
        signal.signal(sig, lambda signum, _frame: caught.append(signum))
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if caught:
            raise KeyboardInterrupt


def _deployments_served(api: str) -> bool:
    return all(
        _healthy(f"{api}/deployments/name/{name}")
        for name in ("inbound-form/inbound-form", "review-lead/review")
    )


@contextmanager
def bench_stack(
    postgres: bool = False,
    poll_seconds: float = 1.0,
    trigger_seconds: float | None = None,
    env: dict[str, str] | None = None,
    app_database_port: int | None = None,
) -> Iterator[BenchStack]:
    """A fresh stack, stopped (and its databases dropped) on exit, even on error or Ctrl-C.
    `env` adds to (or overrides) the environment of every process of the stack; on PostgreSQL,
    `app_database_port` is where the app (not Prefect) reaches the server (a proxy the caller
    can cut)."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from models.db import dispose_engines, upgrade
    from models.settings import get_settings

    started = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="medleads-bench-"))
    tag = f"{os.getpid()}"
    prefect_db, app_db = f"{DB_PREFIX}prefect_{tag}", f"{DB_PREFIX}app_{tag}"
    prefect_port, intake_port = free_port(), free_port()
    api = f"http://127.0.0.1:{prefect_port}/api"
    if postgres:
        reach = PG_SERVER
        if app_database_port:
            reach = PG_SERVER.replace(":5432", f":{app_database_port}")
        database_url = f"postgresql+psycopg://{reach}/{app_db}"
    else:
        database_url = f"sqlite:///{tmp / 'data' / 'medleads.db'}"
    s = BenchStack(
        data=tmp / "data",
        prefect_api=api,
        intake_url=f"http://127.0.0.1:{intake_port}",
        database_url=database_url,
        postgres=postgres,
    )
    saved = {name: os.environ.get(name) for name in _OWN_ENV}
    made_databases = False
    extra = env or {}
    env = {
        **os.environ,
        "PREFECT_HOME": str(tmp / "prefect"),
        "PREFECT_API_URL": api,
        "PREFECT_UI_API_URL": api,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_ENABLED": "false",
        "PREFECT_TELEMETRY_ENABLE_RESOURCE_METRICS": "false",
        "PREFECT_CLOUD_ENABLE_ORCHESTRATION_TELEMETRY": "false",
        "PREFECT_RUNNER_POLL_FREQUENCY": f"{poll_seconds:g}",
        "PREFECT_LOGGING_LEVEL": "WARNING",
        "MEDLEADS_DATA_DIR": str(s.data),
        "MEDLEADS_DATABASE_URL": database_url,
        "MEDLEADS_INTAKE_HOST": "127.0.0.1",
        "MEDLEADS_INTAKE_PORT": str(intake_port),
        "MEDLEADS_INTAKE_SECRET": SECRET,
    }
    for name in ("MEDLEADS_SMTP_URL", "MEDLEADS_CRM_WEBHOOK_URL", "MEDLEADS_CRM_WEBHOOK_SECRET"):
        env.pop(name, None)
    if trigger_seconds is not None:
        env["MEDLEADS_INTAKE_TRIGGER_SECONDS"] = f"{trigger_seconds:g}"
    env.update(extra)
    try:
        if postgres:
            _drop_stale_databases()
            made_databases = True
            ours = (prefect_db, app_db)
            _pg_admin([f'DROP DATABASE IF EXISTS "{n}" WITH (FORCE)' for n in ours])
            _pg_admin([f'CREATE DATABASE "{n}"' for n in ours])
            env["PREFECT_API_DATABASE_CONNECTION_URL"] = (
                f"postgresql+asyncpg://{PG_SERVER}/{prefect_db}"
            )
        exe = sys.executable
        server = [exe, "-m", "prefect", "server", "start", "--host", "127.0.0.1"]
        _spawn(s, "prefect-server", [*server, "--port", str(prefect_port)], env)
        os.environ.update({k: env[k] for k in _OWN_ENV})
        get_settings.cache_clear()
        upgrade(database_url)  # while the server migrates its own database
        wait_for(lambda: _healthy(f"{api}/health"), "the Prefect server did not answer", 120)
        _spawn(s, "serve", [exe, "-m", "cli.main", "serve"], env)
        _spawn(s, "intake", [exe, "-m", "cli.main", "intake"], env)
        wait_for(lambda: _deployments_served(api), "medleads serve did not register", 90)
        wait_for(lambda: _healthy(f"{s.intake_url}/v1/health"), "the intake did not answer", 60)
        s.started_in = time.perf_counter() - started
        with temporary_settings(updates={PREFECT_API_URL: api}):
            try:
                yield s
            finally:
                with contextlib.suppress(Exception):
                    drain_prefect_workers()
    except Exception:
        kept = Path(tempfile.gettempdir()) / f"medleads-bench-logs-{tag}-{int(time.time())}"
        with contextlib.suppress(OSError):
            shutil.copytree(tmp / "logs", kept)
            print(f"benchmark stack failed; its logs are in {kept}", file=sys.stderr)
        raise
    finally:
        with _signals_deferred():
            # The runner first (SIGINT, as on Ctrl-C), so in-flight runs can still report; the
            # intake flushes its last signal; the server last.
            for name, sig in (
                ("serve", signal.SIGINT),
                ("intake", signal.SIGTERM),
                ("prefect-server", signal.SIGTERM),
            ):
                if name in s.processes:
                    _stop(s.processes[name], sig)
            dispose_engines()
            dispose_readers()
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
            get_settings.cache_clear()
            if made_databases:
                ours = (prefect_db, app_db)
                _pg_admin([f'DROP DATABASE IF EXISTS "{n}" WITH (FORCE)' for n in ours])
            shutil.rmtree(tmp, ignore_errors=True)


# --- what the benchmarks post -----------------------------------------------------------------

FIRST = ("Maria", "Daniel", "Priya", "James", "Aisha", "Tom", "Wei", "Laura", "Omar", "Grace")
LAST = ("Alvarez", "Cho", "Nair", "Smith", "Okafor", "Brennan", "Zhang", "Rossi", "Haddad", "Kim")
ROLES = (
    ("Practice Administrator", 0.25),
    ("Office Manager", 0.2),
    ("Medical Director", 0.15),
    ("Director of Operations", 0.1),
    ("IT Director", 0.05),
    ("Procurement Manager", 0.05),
    ("Front Desk Coordinator", 0.1),
    ("", 0.03),
)
SPECIALTIES = (
    ("Cardiology", 0.25),
    ("Dermatology", 0.2),
    ("Orthopedics", 0.2),
    ("Sports medicine", 0.07),
    ("Podiatry", 0.05),
    ("Pediatrics", 0.05),
    ("Oncology", 0.05),
    ("", 0.04),
)
INTERESTS = (
    ("demo", 0.25),
    ("pricing", 0.15),
    ("consultation", 0.1),
    ("content", 0.25),
    ("general", 0.15),
    ("webinar", 0.05),
    ("", 0.05),
)
TIMEFRAMES = (
    ("within 60 days", 0.25),
    ("this quarter", 0.12),
    ("3-6 months", 0.23),
    ("next year", 0.05),
    ("", 0.3),
    ("not sure", 0.05),
)
PRACTICE_TYPES = (("Group practice", 0.4), ("Practice", 0.25), ("Medical group", 0.2), ("", 0.15))
MESSAGES = (
    ("I need to reschedule my appointment with Dr. Lee, my knee still hurts.", 0.02),
    ("We are looking for an outsourced billing partner.", 0.01),
    ("Our front desk spends hours on paper intake; we'd like to see how this works.", 0.32),
    ("", 0.65),
)


def _pick(rng: random.Random, table: Sequence[tuple[str, float]]) -> str:
    return rng.choices([v for v, _ in table], weights=[w for _, w in table])[0]


def forms(count: int, prefix: str, seed: int = 7) -> list[dict[str, Any]]:
    """`count` form posts: mostly in-territory organizations, a realistic spread of roles,
    specialties, intent and timing; a few repeats, bad emails, patient notes and borderline
    leads (about 2% in_review and 35% disqualified with the default sheet)."""
    from qualification.criteria import load_criteria

    rng = random.Random(seed)
    scope = set(load_criteria(ROOT / "criteria" / "default.yaml").sheet.scope.states)
    orgs = organizations()
    inside = [o for o in orgs if o["state"] in scope]
    outside = [o for o in orgs if o["state"] not in scope]
    emails: list[str] = []
    posts = []
    for i in range(count):
        org = rng.choice(inside if rng.random() < 0.85 else outside)
        slug = "".join(ch for ch in org["organization_name"].lower() if ch.isalnum())[:20]
        first, last = rng.choice(FIRST), rng.choice(LAST)
        email = f"{first.lower()}.{last.lower()}{i}@{slug or 'org'}.example.com"
        if emails and rng.random() < 0.03:
            email = rng.choice(emails)  # the same person again: attaches to their lead
        elif rng.random() < 0.02:
            email = f"{first.lower()}@@{slug}"
        emails.append(email)
        if "org_type" in org:  # a CMS hospital: usually a department of it writes in
            org_type = "Hospital department" if rng.random() < 0.7 else org["org_type"]
        else:
            org_type = _pick(rng, PRACTICE_TYPES)
        posts.append(
            {
                "submission_id": f"{prefix}-{i:05d}",
                "source": "website",
                "campaign": "bench",
                "organization_name": org["organization_name"],
                "website": f"https://www.{slug or 'org'}.example.com",
                "org_type": org_type,
                "npi": org.get("npi", ""),
                "locations_count": str(rng.choice((1, 1, 2, 3, 4, 6, 12))),
                "country": "US",
                "state": org["state"],
                "city": org["city"],
                "postal_code": org["postal_code"],
                "contact_name": f"{first} {last}",
                "contact_role": _pick(rng, ROLES),
                "email": email,
                "phone": org["phone"],
                "specialty": _pick(rng, SPECIALTIES),
                "interest_type": _pick(rng, INTERESTS),
                "message": _pick(rng, MESSAGES),
                "timeframe": _pick(rng, TIMEFRAMES),
                "consent_email": "yes" if rng.random() < 0.92 else "",
                "consent_phone": "yes" if rng.random() < 0.5 else "",
                "consent_text": "I agree to be contacted about ClearIntake.",
                "form_version": "contact-v3",
                "page_visits_high_intent": str(rng.choice((0, 0, 1, 2, 3, 5, 5))),
                "content_downloads": str(rng.choice((0, 0, 1, 2, 3))),
                "email_engagements": str(rng.choice((0, 0, 1, 2, 4))),
            }
        )
    return posts


def signed(body: dict[str, Any], secret: str = SECRET) -> tuple[bytes, dict[str, str]]:
    from adapters.signing import sign

    raw = json.dumps(body).encode()
    stamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "X-Medleads-Timestamp": stamp,
        "X-Medleads-Signature": sign(secret, stamp, raw),
    }
    return raw, headers


# --- reading the outcome ----------------------------------------------------------------------


_readers: dict[str, Any] = {}


@contextmanager
def reading() -> Iterator[Any]:
    """A read-only session on the app database that never queues for SQLite's write lock
    (the app's engine begins every transaction with BEGIN IMMEDIATE)."""
    from sqlalchemy import create_engine
    from sqlmodel import Session

    from models.db import normalize_url
    from models.settings import get_settings

    url = normalize_url(get_settings().resolved_database_url)
    if url not in _readers:
        sqlite = url.startswith("sqlite")
        _readers[url] = create_engine(
            url,
            connect_args={"timeout": 30} if sqlite else {},
            pool_pre_ping=not sqlite,  # a connection from before a database outage is dead
        )
    with Session(_readers[url]) as session:
        yield session


def dispose_readers() -> None:
    for engine in _readers.values():
        engine.dispose()
    _readers.clear()


def stored_states(prefix: str) -> dict[str, tuple[str, str | None]]:
    """submission id -> (raw submission state, lead id), for the ids under a prefix."""
    from sqlmodel import col, select

    from models.tables import RawSubmission

    with reading() as session:
        rows = session.exec(
            select(RawSubmission.id, RawSubmission.state, RawSubmission.lead_id).where(
                col(RawSubmission.id).startswith(f"{prefix}-")
            )
        ).all()
    return {sid: (state, lead) for sid, state, lead in rows}


def run_states(ids: Sequence[str]) -> dict[str, str]:
    """flow run id -> its state name."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    async def read() -> dict[str, str]:
        found: dict[str, str] = {}
        async with get_client() as client:
            for start in range(0, len(ids), 200):
                part = [UUID(i) for i in ids[start : start + 200]]
                runs = await client.read_flow_runs(
                    flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=part)), limit=200
                )
                found.update({str(r.id): (r.state.name or "?") if r.state else "?" for r in runs})
        return found

    return asyncio.run(read()) if ids else {}


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), nearest rank."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]
