"""Shared fixtures: real SQLite and PostgreSQL databases, settings per test, one Prefect server."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from sqlalchemy import create_engine, text

from tests.smtp import smtp_server, start_smtp_server  # noqa: F401  (shared fixtures)

# Before Prefect is imported anywhere: no telemetry, quiet logs.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

# Property tests check results, not speed: no per-example deadline (a shared 2-core machine
# under load makes a 0.1 ms example take 300 ms; speed lives in benchmarks/).
settings.register_profile("medleads", deadline=None)
settings.load_profile("medleads")

PG_BASE = os.environ.get(
    "MEDLEADS_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
PG_SCHEMA = f"medleads_test_{os.getpid()}"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser and stack tests (tests/e2e) are slow: `make test` runs them, `make fast` not."""
    e2e = Path(__file__).parent / "e2e"
    for item in items:
        if e2e in item.path.parents:
            item.add_marker(pytest.mark.slow)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    from models.db import dispose_engines

    dispose_engines()


def _pg_url() -> str:
    return f"{PG_BASE}?options=-csearch_path%3D{PG_SCHEMA}"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file that each test copies (faster than migrating per test)."""
    from models.db import upgrade

    path = tmp_path_factory.mktemp("db") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A schema of its own in the machine's PostgreSQL, migrated once, dropped at the end."""
    from models.db import upgrade

    admin = create_engine(PG_BASE)
    try:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE"))
            conn.execute(text(f"CREATE SCHEMA {PG_SCHEMA}"))
    except Exception as exc:  # pragma: no cover - the machine's PostgreSQL is part of the setup
        pytest.fail(f"PostgreSQL at {PG_BASE} is not reachable: {exc}")
    upgrade(_pg_url())
    yield _pg_url()
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE"))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The same test against a real SQLite file and the machine's PostgreSQL, each empty."""
    if request.param == "sqlite":
        path = tmp_path / "medleads.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    from sqlmodel import SQLModel

    import models.tables  # noqa: F401  (registers the tables)

    url: str = request.getfixturevalue("pg_database")
    tables = ", ".join(t.name for t in SQLModel.metadata.sorted_tables)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()
    yield url


@pytest.fixture
def settings_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db_url: str) -> Iterator[Path]:
    """MEDLEADS_* settings pointing at this test's database and data folder."""
    from models.settings import get_settings

    data = tmp_path / "data"
    monkeypatch.setenv("MEDLEADS_DATA_DIR", str(data))
    monkeypatch.setenv("MEDLEADS_DATABASE_URL", db_url)
    for name in ("MEDLEADS_SMTP_URL", "MEDLEADS_CRM_WEBHOOK_URL", "MEDLEADS_CRM_WEBHOOK_SECRET"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    yield data
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[None]:
    """One real Prefect server for the session (it takes ~10 s to start)."""
    import prefect.settings
    from prefect.testing.utilities import prefect_test_harness

    # No heartbeat thread: each sync flow would otherwise wait about a second on exit.
    no_heartbeat = {prefect.settings.PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}
    with (
        prefect.settings.temporary_settings(updates=no_heartbeat),
        prefect_test_harness(server_startup_timeout=60),
    ):
        yield
