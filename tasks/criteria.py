"""The live criteria sheet and its history: the newest activation's stored text, else the file.

A sheet becomes live only through `medleads criteria activate`, which stores its text; editing the
file changes nothing until it is activated again. Before the first activation the sheet is the
MEDLEADS_CRITERIA file, re-read whenever it changes (the behaviour of earlier versions).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Connection, Engine, create_engine, event, insert, select
from sqlalchemy.pool import NullPool

from models.db import get_engine, normalize_url, session_scope
from models.settings import get_settings
from models.tables import CriteriaActivation, utcnow
from qualification.criteria import Criteria, load_criteria, parse_criteria

TABLE: Any = CriteriaActivation.__table__  # type: ignore[attr-defined]
SHADOW_ROLES = ("shadow", "shadow_off")
_META = [c for c in TABLE.c if c.name != "sheet_text"]


@dataclass(frozen=True, slots=True)
class Activation:
    """One row of the history, without the sheet text."""

    id: int
    role: str
    version: str
    label: str | None
    path: str | None
    activated_by: str
    note: str | None
    activated_at: dt.datetime
    state: str = ""  # "live" or "shadowing" in the history, else ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "role": self.role,
            "version": self.version,
            "label": self.label,
            "path": self.path,
            "activated_by": self.activated_by,
            "note": self.note,
            "activated_at": self.activated_at.isoformat(),
            "state": self.state,
        }


_readers: dict[str, Engine] = {}


def _reader(target: str) -> Engine:
    """For SQLite, an engine whose connections refuse writes and never take the write lock: the
    application's engine starts every transaction with BEGIN IMMEDIATE, which would wait for
    (and, from the same thread, deadlock with) a session that is writing."""
    if not target.startswith("sqlite"):
        return get_engine(target)
    if target not in _readers:
        engine = create_engine(target, poolclass=NullPool, connect_args={"timeout": 30})

        def on_connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA query_only=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        event.listen(engine, "connect", on_connect)
        # A deferred BEGIN: one consistent snapshot, and no lock in WAL mode.
        event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN"))
        _readers[target] = engine
    return _readers[target]


@contextmanager
def reading(url: str | None = None) -> Iterator[Connection]:
    """A connection in a read-only transaction, rolled back at the end: the database itself
    refuses any write made through it."""
    target = normalize_url(url or get_settings().resolved_database_url)
    with _reader(target).connect() as conn, conn.begin() as transaction:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield conn
        transaction.rollback()


@lru_cache(maxsize=8)
def _load(path: str, mtime_ns: int) -> Criteria:
    return load_criteria(path)


def file_criteria(path: str | Path | None = None) -> Criteria:
    """The sheet at `path` or MEDLEADS_CRITERIA; re-read when the file changes."""
    target = Path(path or get_settings().criteria)
    return _load(str(target), target.stat().st_mtime_ns)


def _activation(row: Any) -> Activation:
    return Activation(**{c.name: getattr(row, c.name) for c in _META})


def newest(conn: Connection, roles: tuple[str, ...]) -> Activation | None:
    """The most recent activation with one of these roles."""
    row = conn.execute(
        select(*_META).where(TABLE.c.role.in_(roles)).order_by(TABLE.c.id.desc()).limit(1)
    ).first()
    return _activation(row) if row else None


# Parsed stored sheets by (row id, version): the version is a hash of the text, so a key can
# never name two different sheets, even across databases.
_parsed: dict[tuple[int, str], Criteria] = {}


def stored_criteria(conn: Connection, activation: Activation) -> Criteria:
    """The sheet an activation stored, validated as when it was activated (cached)."""
    key = (activation.id, activation.version)
    cached = _parsed.get(key)
    if cached is None:
        text = conn.execute(select(TABLE.c.sheet_text).where(TABLE.c.id == activation.id)).scalar()
        source = f"{activation.path or 'criteria'} (activation {activation.id})"
        cached = parse_criteria(text or "", source)
        if len(_parsed) >= 16:
            _parsed.clear()
        _parsed[key] = cached
    return cached


def live_criteria(conn: Connection) -> tuple[Criteria, Activation | None]:
    """The live sheet and the activation it came from (None: the MEDLEADS_CRITERIA file)."""
    current = newest(conn, ("active",))
    if current is None:
        return file_criteria(), None
    return stored_criteria(conn, current), current


def active_criteria(path: str | Path | None = None, url: str | None = None) -> Criteria:
    """The live sheet: the newest `active` activation's stored text; with no activation yet,
    the MEDLEADS_CRITERIA file. `path` reads that file instead."""
    if path is not None:
        return file_criteria(path)
    with reading(url) as conn:
        return live_criteria(conn)[0]


def shadow_criteria(url: str | None = None) -> tuple[Criteria, Activation] | None:
    """The draft sheet evaluated beside the live one, or None when shadowing is off."""
    with reading(url) as conn:
        current = newest(conn, SHADOW_ROLES)
        if current is None or current.role != "shadow":
            return None
        return stored_criteria(conn, current), current


def read_sheet(path: str | Path) -> tuple[Criteria, str]:
    """Validate a sheet file and return it with the exact text its version hashes."""
    load_criteria(path)  # every problem of the file, as `criteria check` lists them
    text = Path(path).read_bytes().decode("utf-8-sig")
    return parse_criteria(text, str(path)), text


def activate(
    path: str | Path,
    *,
    role: Literal["active", "shadow"] = "active",
    by: str,
    note: str | None = None,
    url: str | None = None,
) -> tuple[Activation, bool]:
    """Record a sheet as live (role active) or as the shadow sheet (role shadow).

    Raises CriteriaError (nothing recorded) for a bad sheet. Activating the version already in
    that role records nothing: returns (that activation, False)."""
    criteria, text = read_sheet(path)
    roles = ("active",) if role == "active" else SHADOW_ROLES
    with session_scope(url) as session:
        conn = session.connection()
        current = newest(conn, roles)
        if current is not None and current.role == role and current.version == criteria.version:
            return current, False
        return _record(conn, role, criteria.version, criteria.label, path, text, by, note), True


def stop_shadow(*, by: str, note: str | None = None, url: str | None = None) -> Activation | None:
    """Stop shadowing (a shadow_off row naming the sheet it stops); None when none was set."""
    with session_scope(url) as session:
        conn = session.connection()
        current = newest(conn, SHADOW_ROLES)
        if current is None or current.role != "shadow":
            return None
        return _record(
            conn, "shadow_off", current.version, current.label, current.path, "", by, note
        )


def _record(
    conn: Connection,
    role: str,
    version: str,
    label: str | None,
    path: str | Path | None,
    text: str,
    by: str,
    note: str | None,
) -> Activation:
    values: dict[str, Any] = {
        "role": role,
        "version": version,
        "label": label or None,
        "path": str(Path(path).resolve()) if path else None,
        "sheet_text": text,
        "activated_by": by,
        "note": note,
        "activated_at": utcnow(),
    }
    new_id = conn.execute(insert(TABLE).values(values).returning(TABLE.c.id)).scalar_one()
    row = conn.execute(select(*_META).where(TABLE.c.id == new_id)).one()
    return _activation(row)


def history(url: str | None = None) -> list[Activation]:
    """Every activation, newest first; the live one and the current shadow are marked."""
    with reading(url) as conn:
        rows = [_activation(r) for r in conn.execute(select(*_META).order_by(TABLE.c.id.desc()))]
    marked: list[Activation] = []
    seen_active = seen_shadow = False
    for row in rows:
        state = ""
        if row.role == "active" and not seen_active:
            seen_active, state = True, "live"
        elif row.role in SHADOW_ROLES and not seen_shadow:
            seen_shadow = True
            state = "shadowing" if row.role == "shadow" else ""
        marked.append(replace(row, state=state) if state else row)
    return marked


def live_source(url: str | None = None) -> tuple[Criteria, Activation | None]:
    """The live sheet and where it came from, for `medleads criteria show`."""
    with reading(url) as conn:
        return live_criteria(conn)
