"""What `medleads cluster` writes and sets before it starts anything (no processes here; the
running cluster is tests/e2e/test_cluster.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cli.cluster import (
    API_PORTS,
    INTAKE_PORTS,
    LB_API_PORT,
    LB_INTAKE_PORT,
    child_env,
    haproxy_config,
    parts,
    server_env,
    topology,
)
from models.settings import get_settings


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("MEDLEADS_DATA_DIR", str(tmp_path))
    for name in ("MEDLEADS_CLUSTER_POSTGRES", "MEDLEADS_CLUSTER_REDIS", "MEDLEADS_CLUSTER_APP_DB"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    yield tmp_path / "cluster"
    get_settings.cache_clear()


def test_every_role_the_status_reports_is_a_process_or_a_server(home: Path) -> None:
    t = topology()
    assert t.home == home.resolve()
    roles = [p.role for p in parts(t)]
    assert roles.count("api") == 2 and roles.count("intake") == 2 and roles.count("worker") == 2
    assert roles.count("services") == 1 and roles.count("load_balancer") == 1
    api = [p for p in parts(t) if p.role == "api"]
    assert all("--no-services" in p.args for p in api)


def test_haproxy_checks_health_and_passes_websockets(home: Path) -> None:
    config = haproxy_config(topology())
    assert f"bind 127.0.0.1:{LB_API_PORT}" in config
    assert f"bind 127.0.0.1:{LB_INTAKE_PORT}" in config
    assert "option httpchk GET /api/health" in config
    assert "option httpchk GET /v1/health" in config
    assert "timeout tunnel" in config  # an upgraded (websocket) connection stays open
    for port in (*API_PORTS, *INTAKE_PORTS):
        assert f"127.0.0.1:{port} check" in config


def test_servers_use_postgres_and_redis_for_everything_prefect_keeps(home: Path) -> None:
    env = server_env(topology())
    assert env["PREFECT_SERVER_DATABASE_CONNECTION_URL"].startswith("postgresql+asyncpg://")
    assert env["PREFECT_MESSAGING_BROKER"] == "prefect_redis.messaging"
    assert env["PREFECT_MESSAGING_CACHE"] == "prefect_redis.messaging"
    assert env["PREFECT_SERVER_EVENTS_CAUSAL_ORDERING"] == "prefect_redis.ordering"
    assert env["PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE"] == "prefect_redis.lease_storage"
    assert env["PREFECT_REDIS_MESSAGING_URL"].startswith("redis://")
    assert env["PREFECT_SERVER_DOCKET_URL"] != env["PREFECT_REDIS_MESSAGING_URL"]
    assert env["PREFECT_SERVER_DATABASE_MIGRATE_ON_START"] == "false"


def test_every_process_talks_to_the_load_balancer_and_carries_the_marker(home: Path) -> None:
    t = topology()
    env = child_env(t, "s3cret")
    assert env["PREFECT_API_URL"] == f"http://127.0.0.1:{LB_API_PORT}/api"
    assert env["MEDLEADS_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert env["MEDLEADS_INTAKE_SECRET"] == "s3cret"
    assert env["MEDLEADS_CLUSTER"] == str(t.home)
