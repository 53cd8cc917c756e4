"""`medleads cluster up|down|status`: Prefect's distributed topology on one machine, on loopback.

Each part is a real process, as a team would run it across hosts (DESIGN §7):
- PostgreSQL (this machine's server): one database for Prefect, one for medleads;
- Redis (this machine's server): Prefect's messaging broker and cache, causal ordering, lease
  storage and docket (prefect-redis);
- two Prefect API replicas (`prefect server start --no-services`) and one
  `prefect server services start`;
- HAProxy in front of the API replicas and of two intake replicas (health checks, websockets);
- a process work pool with two workers, deployments from prefect.yaml (`prefect deploy --all`);
  the channel deployments may run several drains at once (claims split the work);
- two intake replicas sharing the app database.

Pid files, logs and the HAProxy config live under `<data dir>/cluster/`. Every process gets
MEDLEADS_CLUSTER=<that folder> in its environment, flow-run processes included, so `down` can
find and end whatever the cluster started and nothing else.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.table import Table

from models.settings import PROJECT_ROOT, get_settings

from .console import err, out
from .stack import _healthy, _pid_alive

cluster_app = typer.Typer(
    help="Prefect's distributed topology on this machine: PostgreSQL, Redis, API replicas "
    "behind HAProxy, a services process, process workers, intake replicas.",
    no_args_is_help=True,
)

HOST = "127.0.0.1"
API_PORTS = (4301, 4302)
INTAKE_PORTS = (8801, 8802)
LB_API_PORT = 4300
LB_INTAKE_PORT = 8800
WORKERS = 2
POOL = "medleads"  # the work pool prefect.yaml names
REVIEW_QUEUE = "reviews"  # the review deployment's work queue (prefect.yaml)
CHANNEL_DEPLOYMENTS = ("inbound-form", "webinar")
# What this process started: they outlive `up` by design; kept so Popen does not warn, and
# reaped by `down` when it runs in the same process (tests).
_children: list[subprocess.Popen[bytes]] = []


def _env(name: str, default: str) -> str:
    return os.environ.get(name) or default


@dataclass(frozen=True)
class Topology:
    """Where everything is; the defaults suit this machine (trust auth on loopback)."""

    home: Path
    postgres: str  # server URL without a database
    redis: str  # server URL without a database number
    prefect_db: str
    app_db: str
    messaging_db: int
    docket_db: int
    channel_runs: int  # drains of one channel at once
    worker_limit: int  # flow-run processes per worker at once

    @property
    def run(self) -> Path:
        return self.home / "run"

    @property
    def logs(self) -> Path:
        return self.home / "logs"

    @property
    def data(self) -> Path:
        return self.home / "data"  # the app's data dir (outbox, handoffs, reports)

    @property
    def api_url(self) -> str:
        return f"http://{HOST}:{LB_API_PORT}/api"

    @property
    def intake_url(self) -> str:
        return f"http://{HOST}:{LB_INTAKE_PORT}"

    @property
    def prefect_database_url(self) -> str:
        return (
            f"{self.postgres.replace('postgresql://', 'postgresql+asyncpg://')}/{self.prefect_db}"
        )

    @property
    def app_database_url(self) -> str:
        return f"{self.postgres.replace('postgresql://', 'postgresql+psycopg://')}/{self.app_db}"

    @property
    def messaging_url(self) -> str:
        return f"{self.redis}/{self.messaging_db}"

    @property
    def docket_url(self) -> str:
        return f"{self.redis}/{self.docket_db}"


def topology() -> Topology:
    return Topology(
        home=(get_settings().data_dir / "cluster").resolve(),
        postgres=_env("MEDLEADS_CLUSTER_POSTGRES", "postgresql://postgres@127.0.0.1:5432"),
        redis=_env("MEDLEADS_CLUSTER_REDIS", "redis://127.0.0.1:6379"),
        prefect_db=_env("MEDLEADS_CLUSTER_PREFECT_DB", "medleads_cluster_prefect"),
        app_db=_env("MEDLEADS_CLUSTER_APP_DB", "medleads_cluster_app"),
        messaging_db=int(_env("MEDLEADS_CLUSTER_REDIS_DB", "4")),
        docket_db=int(_env("MEDLEADS_CLUSTER_REDIS_DB", "4")) + 1,
        channel_runs=int(_env("MEDLEADS_CLUSTER_CHANNEL_RUNS", "2")),
        worker_limit=int(_env("MEDLEADS_CLUSTER_WORKER_LIMIT", "4")),
    )


def server_env(t: Topology) -> dict[str, str]:
    """What every Prefect server process (API replicas, services) shares."""
    return {
        "PREFECT_SERVER_DATABASE_CONNECTION_URL": t.prefect_database_url,
        "PREFECT_SERVER_DATABASE_MIGRATE_ON_START": "false",  # `up` migrates once
        "PREFECT_MESSAGING_BROKER": "prefect_redis.messaging",
        "PREFECT_MESSAGING_CACHE": "prefect_redis.messaging",
        "PREFECT_SERVER_EVENTS_CAUSAL_ORDERING": "prefect_redis.ordering",
        "PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE": "prefect_redis.lease_storage",
        "PREFECT_REDIS_MESSAGING_URL": t.messaging_url,
        "PREFECT_SERVER_DOCKET_URL": t.docket_url,
        "PREFECT_UI_API_URL": t.api_url,
        # A run waiting for a channel's slot retries after this long (30 s by default).
        "PREFECT_SERVER_DEPLOYMENTS_CONCURRENCY_SLOT_WAIT_SECONDS": "5",
    }


def child_env(t: Topology, secret: str) -> dict[str, str]:
    """What every process of the cluster shares: the load-balanced API and the app database."""
    env = {
        **os.environ,
        "MEDLEADS_CLUSTER": str(t.home),
        "PREFECT_HOME": str(t.home / "prefect"),
        "PREFECT_API_URL": t.api_url,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": "WARNING",
        # Heartbeats every 30 s: a run whose worker was killed is marked Crashed ~90 s later.
        "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": "30",
        "PREFECT_WORKER_QUERY_SECONDS": "2",
        "MEDLEADS_PROJECT_DIR": str(PROJECT_ROOT),
        "MEDLEADS_DATA_DIR": str(t.data),
        "MEDLEADS_DATABASE_URL": t.app_database_url,
        "MEDLEADS_INTAKE_SECRET": secret,
    }
    env.pop("PREFECT_API_KEY", None)
    return env


# --- processes ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Part:
    """One process of the cluster (or a server it uses) and how to tell it is healthy."""

    name: str
    role: str
    url: str | None
    args: tuple[str, ...] = ()
    health: str | None = None  # an URL that answers 200 when healthy


def parts(t: Topology) -> list[Part]:
    """The processes `up` starts, in start order."""
    exe = sys.executable
    found: list[Part] = []
    for n, port in enumerate(API_PORTS, 1):
        url = f"http://{HOST}:{port}/api"
        api = (exe, "-m", "prefect", "server", "start", "--no-services", "--host", HOST)
        found.append(Part(f"api-{n}", "api", url, (*api, "--port", str(port)), f"{url}/health"))
    found.append(
        Part("services", "services", None, (exe, "-m", "prefect", "server", "services", "start"))
    )
    for n, port in enumerate(INTAKE_PORTS, 1):
        url = f"http://{HOST}:{port}"
        found.append(
            Part(
                f"intake-{n}", "intake", url, (exe, "-m", "cli.main", "intake"), f"{url}/v1/health"
            )
        )
    haproxy = shutil.which("haproxy") or "haproxy"
    found.append(
        Part(
            "load-balancer",
            "load_balancer",
            f"http://{HOST}:{LB_API_PORT}",
            (haproxy, "-db", "-f", str(t.home / "haproxy.cfg")),
            f"{t.api_url}/health",
        )
    )
    for n in range(1, WORKERS + 1):
        worker = (
            *(exe, "-m", "prefect", "worker", "start", "--pool", POOL, "--name", f"worker-{n}"),
            *("--limit", str(t.worker_limit)),
        )
        found.append(Part(f"worker-{n}", "worker", None, worker))
    return found


def haproxy_config(t: Topology) -> str:
    """HTTP load balancing with health checks; websockets (Prefect's events) pass as tunnels."""
    apis = "\n".join(f"    server api-{n} {HOST}:{p} check" for n, p in enumerate(API_PORTS, 1))
    intakes = "\n".join(
        f"    server intake-{n} {HOST}:{p} check" for n, p in enumerate(INTAKE_PORTS, 1)
    )
    return f"""# Written by `medleads cluster up`.
global
    maxconn 2048

defaults
    mode http
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    timeout tunnel 1h
    option redispatch
    retries 2

frontend prefect_api
    bind {HOST}:{LB_API_PORT}
    default_backend prefect_api

backend prefect_api
    balance roundrobin
    option httpchk GET /api/health
    default-server inter 1s fall 2 rise 2
{apis}

frontend intake
    bind {HOST}:{LB_INTAKE_PORT}
    default_backend intake

backend intake
    balance roundrobin
    option httpchk GET /v1/health
    default-server inter 1s fall 2 rise 2
{intakes}
"""


def _pid(t: Topology, name: str) -> int | None:
    try:
        pid = int((t.run / f"{name}.pid").read_text())
    except (OSError, ValueError):
        return None
    return pid if _pid_alive(pid) else None


def _start(t: Topology, part: Part, env: dict[str, str]) -> None:
    if _pid(t, part.name) is not None:
        return
    extra: dict[str, str] = {}
    if part.role in ("api", "services"):
        extra = server_env(t)
    if part.role == "intake":
        assert part.url is not None
        extra = {"MEDLEADS_INTAKE_HOST": HOST, "MEDLEADS_INTAKE_PORT": part.url.rsplit(":", 1)[1]}
    with (t.logs / f"{part.name}.log").open("ab") as log:
        process = subprocess.Popen(
            part.args,
            cwd=PROJECT_ROOT,
            env={**env, **extra},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    (t.run / f"{part.name}.pid").write_text(str(process.pid))
    _children.append(process)


def _wait_for(url: str, what: str, seconds: float, t: Topology, name: str | None = None) -> None:
    """Until `url` answers 200; fails at once when the part's process (`name`) has died."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if _healthy(url):
            return
        if name is not None and _pid(t, name) is None:
            raise RuntimeError(f"{what} exited before answering {url}; see {t.logs / name}.log")
        time.sleep(0.5)
    raise RuntimeError(f"{what} did not answer {url} within {seconds:.0f} s; see {t.logs}")


def _run(t: Topology, env: dict[str, str], what: str, *args: str) -> None:
    """A one-off command (migration, work pool, deploy); its output goes to the cluster log."""
    with (t.logs / "setup.log").open("ab") as log:
        done = subprocess.run(
            args, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, check=False
        )
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed (exit {done.returncode}); see {t.logs / 'setup.log'}")


# --- up -------------------------------------------------------------------------------------


def _create_database(t: Topology, name: str) -> None:
    import sqlalchemy as sa

    admin = sa.create_engine(
        f"{t.postgres.replace('postgresql://', 'postgresql+psycopg://')}/postgres",
        isolation_level="AUTOCOMMIT",
    )
    try:
        with admin.connect() as conn:
            exists = conn.execute(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
            ).scalar()
            if not exists:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()


def _secret(t: Topology) -> str:
    """MEDLEADS_INTAKE_SECRET when set, else one generated once and kept (0600) for the cluster."""
    given = os.environ.get("MEDLEADS_INTAKE_SECRET")
    if given:
        return given
    path = t.home / "intake.secret"
    if path.exists():
        return path.read_text().strip()
    value = secrets.token_urlsafe(32)
    path.write_text(value)
    path.chmod(0o600)
    return value


def up(log: Any = print) -> Topology:
    """Start what is not running yet (safe to call again) and wait until each part answers."""
    t = topology()
    if shutil.which("haproxy") is None:
        raise RuntimeError("haproxy is not installed: run `make cluster-deps` (apt-get, as root)")
    for folder in (t.home, t.run, t.logs, t.data):
        folder.mkdir(parents=True, exist_ok=True)
    secret = _secret(t)
    env = child_env(t, secret)
    log(f"databases {t.prefect_db} and {t.app_db} on {t.postgres}")
    _create_database(t, t.prefect_db)
    _create_database(t, t.app_db)
    from models.db import upgrade

    upgrade(t.app_database_url)
    if not any(_pid(t, p.name) for p in parts(t) if p.role == "api"):
        log("migrating Prefect's database once (replicas start with migrate-on-start off)")
        _run(
            t,
            {**env, **server_env(t)},
            "prefect migration",
            sys.executable,
            "-m",
            "prefect",
            "server",
            "database",
            "upgrade",
            "-y",
        )
    (t.home / "haproxy.cfg").write_text(haproxy_config(t))
    todo = parts(t)
    for part in todo:
        if part.role == "worker":
            continue
        _start(t, part, env)
        log(f"started {part.name}")
        if part.role == "api" and part.health:
            # One replica at a time: replicas starting together race to register Prefect's
            # block types and the loser exits (a unique violation on block_type).
            _wait_for(part.health, part.name, 180, t, part.name)
    for part in todo:
        if part.health:
            _wait_for(part.health, part.name, 180, t, part.name)
    log(f"Prefect API behind the load balancer: {t.api_url}")
    _run(
        t,
        env,
        "work pool",
        sys.executable,
        "-m",
        "prefect",
        "work-pool",
        "create",
        POOL,
        "--type",
        "process",
        "--overwrite",
    )
    _review_queue(t)
    log("deploying prefect.yaml (prefect deploy --all)")
    _run(
        t,
        env,
        "prefect deploy",
        sys.executable,
        "-m",
        "prefect",
        "--no-prompt",
        "deploy",
        "--all",
        "--prefect-file",
        str(PROJECT_ROOT / "prefect.yaml"),
    )
    _cluster_profile(t)
    workers = [p for p in todo if p.role == "worker"]
    for part in workers:
        _start(t, part, env)
        log(f"started {part.name}")
    deadline = time.monotonic() + 120
    while not {p.name for p in workers} <= _online_workers(t):  # their first heartbeat
        if time.monotonic() > deadline:
            raise RuntimeError(f"the workers did not come online in the pool; see {t.logs}")
        time.sleep(1)
    return t


def _cluster_profile(t: Topology) -> None:
    """Several drains per channel (claims split the work), review runs bounded by the workers
    rather than by a deployment limit, and Prefect's crash detection."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import DeploymentUpdate
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from adapters.prefect_api import ensure_crash_detection

    with temporary_settings({PREFECT_API_URL: t.api_url}):
        with get_client(sync_client=True) as client:
            # Review runs: no deployment limit here. With one, every run waiting for a slot
            # asks the API again every few seconds: 360 waiting reviews made ~70 state
            # proposals a second and starved everything (measured in the drill). The workers'
            # --limit bounds the processes instead, and the review queue's priority keeps
            # channel runs first.
            limits: dict[str, int | None] = {
                **{f"{name}/{name}": t.channel_runs for name in CHANNEL_DEPLOYMENTS},
                "review-lead/review": None,
            }
            for name, limit in limits.items():
                deployment = client.read_deployment_by_name(name)
                client.update_deployment(deployment.id, DeploymentUpdate(concurrency_limit=limit))
        ensure_crash_detection(30)


# --- status ---------------------------------------------------------------------------------


@dataclass
class PartStatus:
    name: str
    role: str
    pid: int | None
    url: str | None
    healthy: bool


def _postgres_status(t: Topology) -> PartStatus:
    import sqlalchemy as sa

    pid: int | None = None
    healthy = False
    engine = sa.create_engine(t.app_database_url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            healthy = conn.execute(sa.text("SELECT 1")).scalar() == 1
            with contextlib.suppress(sa.exc.DBAPIError, OSError, ValueError):
                folder = conn.execute(sa.text("SHOW data_directory")).scalar()
                pid = int((Path(str(folder)) / "postmaster.pid").read_text().split()[0])
    except sa.exc.DBAPIError:
        healthy = False
    finally:
        engine.dispose()
    return PartStatus("postgres", "postgres", pid, _public(t.app_database_url), healthy)


def _redis_status(t: Topology) -> PartStatus:
    import redis

    pid: int | None = None
    healthy = False
    try:
        client = redis.Redis.from_url(t.messaging_url, socket_timeout=3)
        healthy = bool(client.ping())
        pid = int(client.info("server")["process_id"])
        client.close()
    except (redis.RedisError, OSError, KeyError, ValueError):
        healthy = False
    return PartStatus("redis", "redis", pid, t.messaging_url, healthy)


def _review_queue(t: Topology) -> None:
    """The review deployment's work queue, polled after the default one (priority 10)."""
    body = {"name": REVIEW_QUEUE, "priority": 10}
    queues = f"{t.api_url}/work_pools/{POOL}/queues"
    response = httpx.post(queues, json=body, timeout=10)
    if response.status_code == 409:  # there already: keep its priority right
        response = httpx.patch(f"{queues}/{REVIEW_QUEUE}", json={"priority": 10}, timeout=10)
    response.raise_for_status()


def _online_workers(t: Topology) -> set[str]:
    """Workers Prefect reports ONLINE in the pool (their heartbeats arrive)."""
    try:
        response = httpx.post(f"{t.api_url}/work_pools/{POOL}/workers/filter", json={}, timeout=5)
        response.raise_for_status()
    except httpx.HTTPError:
        return set()
    return {w["name"] for w in response.json() if w.get("status") == "ONLINE"}


def _public(url: str) -> str:
    """A database URL without its password, if any."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def status(t: Topology | None = None) -> dict[str, Any]:
    """Each part, its pid and health, and the URLs a user points at."""
    t = t or topology()
    found = [_postgres_status(t), _redis_status(t)]
    online = _online_workers(t)
    for part in parts(t):
        pid = _pid(t, part.name)
        healthy = pid is not None
        if part.role == "load_balancer":
            healthy = healthy and _healthy(f"{t.api_url}/health")
            healthy = healthy and _healthy(f"{t.intake_url}/v1/health")
        elif part.health:
            healthy = healthy and _healthy(part.health)
        elif part.role == "worker":
            healthy = healthy and part.name in online
        found.append(PartStatus(part.name, part.role, pid, part.url, healthy))
    return {
        "parts": [asdict(p) for p in found],
        "prefect_api_url": t.api_url,
        "intake_url": t.intake_url,
        "database_url": _public(t.app_database_url),
    }


# --- down -----------------------------------------------------------------------------------


def _marked(t: Topology) -> list[int]:
    """Processes carrying this cluster's MEDLEADS_CLUSTER marker (flow runs included)."""
    marker = f"MEDLEADS_CLUSTER={t.home}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
    return found


def _end(pid: int, sig: int) -> None:
    with contextlib.suppress(OSError):
        os.killpg(pid, sig)
    with contextlib.suppress(OSError):
        os.kill(pid, sig)


def down(log: Any = print) -> list[str]:
    """Stop every process of the cluster: workers and intakes first (so runs can report), then
    the services, the API replicas and the load balancer; then whatever still carries the
    cluster's marker (a flow run a worker started). The databases and Redis stay."""
    t = topology()
    order = {"worker": 0, "intake": 1, "services": 2, "api": 3, "load_balancer": 4}
    stopped: list[str] = []
    for part in sorted(parts(t), key=lambda p: order[p.role]):
        pid = _pid(t, part.name)
        (t.run / f"{part.name}.pid").unlink(missing_ok=True)
        if pid is None:
            continue
        # Workers shut down cleanly on SIGINT (as on Ctrl-C); servers on SIGTERM.
        _end(pid, signal.SIGINT if part.role == "worker" else signal.SIGTERM)
        deadline = time.monotonic() + 20
        while _pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if _pid_alive(pid):
            _end(pid, signal.SIGKILL)
        stopped.append(part.name)
        log(f"stopped {part.name}")
    left = _marked(t)
    for pid in left:
        _end(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10  # SIGKILL is not instant: return once they are gone
    while left and _marked(t) and time.monotonic() < deadline:
        time.sleep(0.1)
    for child in _children:
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=5)
    if left:
        log(f"ended {len(left)} leftover process(es) of the cluster")
    return stopped


# --- commands -------------------------------------------------------------------------------


class StatusFormat(StrEnum):
    table = "table"
    json = "json"


@cluster_app.command("up")
def up_command() -> None:
    """Start the cluster (safe to run again): prints where the API and the intake answer."""
    try:
        t = up(log=lambda line: err.print(line))
    except RuntimeError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    out.print(f"Prefect API {t.api_url} (UI {t.api_url.removesuffix('/api')})")
    out.print(f"intake {t.intake_url}; app database {_public(t.app_database_url)}")
    out.print("`medleads cluster status` shows each part; `medleads cluster down` stops them.")


@cluster_app.command("down")
def down_command() -> None:
    """Stop every process of the cluster (the databases and Redis stay)."""
    stopped = down(log=lambda line: err.print(line))
    out.print(f"stopped {len(stopped)} part(s)" if stopped else "nothing was running")


@cluster_app.command("status")
def status_command(
    output: Annotated[StatusFormat, typer.Option("--format")] = StatusFormat.table,
) -> None:
    """Each part, its pid and whether it is healthy; exit 1 when a part is not."""
    report = status()
    if output == StatusFormat.json:
        sys.stdout.write(json.dumps(report) + "\n")
    else:
        table = Table(title="medleads cluster")
        for column in ("part", "role", "pid", "url", "healthy"):
            table.add_column(column)
        for p in report["parts"]:
            table.add_row(
                p["name"],
                p["role"],
                str(p["pid"] or "-"),
                p["url"] or "-",
                "yes" if p["healthy"] else "[red]no[/red]",
            )
        out.print(table)
        out.print(f"Prefect API {report['prefect_api_url']}; intake {report['intake_url']}")
    if not all(p["healthy"] for p in report["parts"]):
        raise typer.Exit(1)
