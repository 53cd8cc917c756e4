"""Migration 0004 moves existing data onto accounts and people (DESIGN §4)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, text

from models.db import alembic_config, normalize_url
from tests.conftest import PG_BASE

NOW = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def old_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database migrated only up to 0003 (before accounts)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'old.db'}"
        command.upgrade(alembic_config(url), "0003")
        yield url
        return
    schema = f"medleads_migration_{tmp_path.name[-12:].lower().replace('-', '_')}"
    admin = create_engine(PG_BASE)
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    url = f"{PG_BASE}?options=-csearch_path%3D{schema}"
    command.upgrade(alembic_config(url), "0003")
    yield url
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
    admin.dispose()


def test_organizations_move_onto_registered_domains_and_phone_keys_stop_naming_people(
    old_database: str,
) -> None:
    engine = create_engine(normalize_url(old_database))
    orgs = [
        ("o1", "St. Joseph Hospital", "stjoes.org", "IL"),
        ("o2", "St Joseph Hospital Inc.", "mail.stjoes.org", "IL"),  # same account
        ("o3", "ST JOSEPH HOSPITAL", None, "IL"),  # same name and state, no domain
        ("o4", "St Joseph Hospital", None, "TX"),  # another state: another account
        ("o5", "St Joseph Hospital", "osfhealthcare.org", "IL"),  # another website: another one
    ]
    with engine.begin() as conn:
        for org_id, name, domain, state in orgs:
            conn.execute(
                text(
                    "INSERT INTO organization (id, name, domain, state, created_at) "
                    "VALUES (:i, :n, :d, :s, :t)"
                ),
                {"i": org_id, "n": name, "d": domain, "s": state, "t": NOW},
            )
        for n, (org_id, email) in enumerate(
            [("o1", "ann@stjoes.org"), ("o2", "bob@stjoes.org"), ("o3", None), ("o4", None)]
        ):
            conn.execute(
                text(
                    "INSERT INTO contact (id, organization_id, email, phone, created_at) "
                    "VALUES (:i, :o, :e, '+13125550100', :t)"
                ),
                {"i": f"c{n}", "o": org_id, "e": email, "t": NOW},
            )
            conn.execute(
                text(
                    "INSERT INTO lead (id, organization_id, contact_id, channel, status, "
                    "fit_score, intent_score, fit_band, intent_band, borderline, redacted, "
                    "created_at, updated_at) VALUES (:i, :o, :c, 'outbound', 'mql', 0, 0, "
                    "'low', 'low', false, false, :t, :t)"
                ),
                {"i": f"l{n}", "o": org_id, "c": f"c{n}", "t": NOW},
            )
        conn.execute(
            text("INSERT INTO lead_key (key, lead_id) VALUES ('email:ann@stjoes.org', 'l0')")
        )
        conn.execute(
            text("INSERT INTO lead_key (key, lead_id) VALUES ('phone:+13125550100', 'l0')")
        )
    command.upgrade(alembic_config(old_database), "head")
    with engine.connect() as conn:
        accounts = conn.execute(
            text("SELECT id, domain, name_key FROM organization ORDER BY id")
        ).all()
        lead_orgs = dict(conn.execute(text("SELECT id, organization_id FROM lead")).all())
        contact_orgs = set(conn.execute(text("SELECT organization_id FROM contact")).scalars())
        keys = set(conn.execute(text("SELECT key FROM lead_key")).scalars())
    engine.dispose()
    assert accounts == [
        ("o1", "stjoes.org", "st joseph hospital|IL"),
        ("o4", None, "st joseph hospital|TX"),
        ("o5", "osfhealthcare.org", "st joseph hospital|IL"),
    ]
    assert lead_orgs == {"l0": "o1", "l1": "o1", "l2": "o1", "l3": "o4"}
    assert contact_orgs == {"o1", "o4"}
    assert keys == {"email:ann@stjoes.org"}
