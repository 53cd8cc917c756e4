"""Bulk writes the same on SQLite and PostgreSQL, each the fast way for its database.

SQLAlchemy sends an `insert()` without RETURNING on psycopg as `executemany`: one INSERT per row
(pipelined), each parameter converted in Python, and an `IN (...)` of a thousand ids as a
thousand parameters the driver re-parses each time (measured: most of a chunk's database time
on PostgreSQL). On PostgreSQL these helpers use COPY for new rows, `= ANY(array)` for lists of
keys and one `UPDATE ... FROM unnest(...)` per chunk; SQLite, in-process, keeps `executemany`
and `IN`. Values go through the columns' own SQLAlchemy types either way (JSON, UTC datetimes).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from operator import itemgetter
from typing import Any

from sqlalchemy import (
    ARRAY,
    Column,
    ColumnElement,
    Integer,
    MetaData,
    String,
    Table,
    TypeDecorator,
    any_,
    bindparam,
    insert,
    text,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Dialect, Engine
from sqlmodel import Session

# Below this many rows, four statements (temporary table, COPY, INSERT, TRUNCATE) cost more than
# one INSERT: the intake stores one post at a time.
COPY_MIN_ROWS = 50


def is_postgres(bind: Session | Engine) -> bool:
    engine = bind.get_bind() if isinstance(bind, Session) else bind
    return engine.dialect.name == "postgresql"


def among(session: Session | Engine, column: Any, values: Collection[Any]) -> ColumnElement[bool]:
    """`column IN values`: on PostgreSQL one array parameter (`= ANY(...)`), so a thousand keys
    are one value for the driver, not a thousand placeholders in a query it parses again."""
    if not is_postgres(session):
        return column.in_(values)  # type: ignore[no-any-return]
    array = bindparam(None, list(values), type_=_array_of(column))
    return column == any_(array)  # type: ignore[no-any-return]


def _array_of(column: Any) -> ARRAY[Any]:
    """The array type of a string or integer column (SQLModel's own string types included)."""
    kind = column.type.impl if isinstance(column.type, TypeDecorator) else column.type
    if isinstance(kind, Integer):
        return ARRAY(Integer())
    if isinstance(kind, String):
        return ARRAY(String())
    raise TypeError(f"column {column.key} is not a string or integer column")


def bulk_insert(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert rows (dicts sharing their keys) in the session's transaction: COPY on PostgreSQL,
    one executemany elsewhere. Column defaults are filled as SQLAlchemy's INSERT fills them; a
    refused row raises SQLAlchemy's DBAPIError subclass, parameters hidden, as an INSERT would."""
    if not rows:
        return
    if not is_postgres(session):
        session.execute(insert(table), rows)
        return
    dialect = session.get_bind().dialect
    given = [c for c in table.columns if c.key in rows[0]]
    defaulted = [c for c in table.columns if c.key not in rows[0] and _python_default(c)]
    columns = given + defaulted
    names = ", ".join(dialect.identifier_preparer.quote(c.name) for c in columns)
    statement = f"COPY {dialect.identifier_preparer.format_table(table)} ({names}) FROM STDIN"
    # The given values in one C call per row (a Python call per value was ~4% of a list run's
    # flow process); only the columns whose type converts (JSON, UTC datetimes) get a call.
    keys = [c.key for c in given]
    fetch = itemgetter(*keys) if len(keys) > 1 else (lambda row: tuple(row[k] for k in keys))
    converting = [(i, p) for i, c in enumerate(given) if (p := _bind_processor(c, dialect))]
    defaults = [_default_of(c, dialect) for c in defaulted]
    driver = session.connection().connection.driver_connection
    assert driver is not None
    try:
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                values = list(fetch(row))
                for i, process in converting:
                    values[i] = process(values[i])
                if defaults:
                    values += [make(row) for make in defaults]
                copy.write_row(values)
    except dialect.loaded_dbapi.Error as error:
        raise _wrapped(error, statement, dialect) from error


def bulk_insert_new(session: Session, table: Table, rows: list[dict[str, Any]], key: str) -> int:
    """Insert the rows whose `key` is not stored yet (a stored one is left untouched); returns
    how many were new. On PostgreSQL: COPY into a temporary table, then one INSERT ... SELECT
    ... ON CONFLICT DO NOTHING. Elsewhere, and for a few rows (an intake post), one
    INSERT ... ON CONFLICT DO NOTHING (batched by SQLAlchemy)."""
    if not rows:
        return 0
    if not is_postgres(session) or len(rows) < COPY_MIN_ROWS:
        from sqlalchemy.dialects.postgresql import insert as pg_insert
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        insert_for = pg_insert if is_postgres(session) else sqlite_insert
        statement = insert_for(table).on_conflict_do_nothing(index_elements=[key])
        return len(session.execute(statement.returning(table.c[key]), rows).all())
    preparer = session.get_bind().dialect.identifier_preparer
    target = preparer.format_table(table)
    staging = table.to_metadata(MetaData(), name=f"staging_{table.name}")
    session.execute(
        text(f"CREATE TEMPORARY TABLE IF NOT EXISTS {staging.name} (LIKE {target}) ON COMMIT DROP")
    )
    bulk_insert(session, staging, rows)
    names = ", ".join(preparer.quote(c.name) for c in table.columns)
    added = session.connection().execute(
        text(
            f"INSERT INTO {target} ({names}) SELECT {names} FROM {staging.name} "
            f"ON CONFLICT ({preparer.quote(table.c[key].name)}) DO NOTHING"
        )
    )
    session.execute(text(f"TRUNCATE {staging.name}"))  # a second batch in this transaction
    return int(added.rowcount)


def _python_default(column: Column[Any]) -> bool:
    default = column.default
    return default is not None and (default.is_scalar or default.is_callable)


def _bind_processor(column: Column[Any], dialect: Dialect) -> Any:
    """How the column's type converts a value for the driver (None when it passes as is)."""
    return column.type.dialect_impl(dialect).bind_processor(dialect)


def _default_of(column: Column[Any], dialect: Dialect) -> Any:
    """A row's value for a column it does not give, as an INSERT fills it: the column's Python
    default, through the type's bind processing (JSON, UTC datetimes)."""
    process = _bind_processor(column, dialect)
    default: Any = column.default
    if default.is_scalar:
        value = process(default.arg) if process else default.arg
        return lambda row: value
    make = default.arg  # SQLAlchemy wraps a callable default to take the execution context
    if process is None:
        return lambda row: make(None)
    return lambda row: process(make(None))


def _wrapped(error: Exception, statement: str, dialect: Dialect) -> sa_exc.DBAPIError:
    """The driver's error as SQLAlchemy raises it for an execute (OperationalError stays
    transient for the callers that retry), without parameters."""
    return sa_exc.DBAPIError.instance(  # type: ignore[return-value]
        statement,
        None,
        error,
        dialect.loaded_dbapi.Error,
        hide_parameters=True,
        dialect=dialect,
    )


def bulk_update(
    session: Session,
    table: Table,
    key: str,
    rows: Iterable[Mapping[str, Any]],
    fixed: Mapping[str, Any],
) -> None:
    """Set columns row by row, matched on `key`: each row gives the key and its own values,
    `fixed` the values every row takes. One `UPDATE ... FROM unnest(...)` on PostgreSQL, one
    executemany elsewhere."""
    rows = list(rows)
    if not rows:
        return
    own = [name for name in rows[0] if name != key]
    if not is_postgres(session):
        statement = (
            table.update()
            .where(table.c[key] == bindparam(f"b_{key}"))
            .values(
                **{n: bindparam(f"b_{n}") for n in own},
                **{n: bindparam(f"f_{n}", v) for n, v in fixed.items()},
            )
        )
        session.execute(statement, [{f"b_{n}": row[n] for n in (key, *own)} for row in rows])
        return
    dialect = session.get_bind().dialect
    quote = dialect.identifier_preparer.quote
    arrays = [key, *own]
    unnest = ", ".join(f":a_{n}" for n in arrays)
    sets = [f"{quote(table.c[n].name)} = v.{quote(n)}" for n in own]
    sets += [f"{quote(table.c[n].name)} = :f_{n}" for n in fixed]
    sql = (
        f"UPDATE {dialect.identifier_preparer.format_table(table)} AS t SET {', '.join(sets)} "
        f"FROM unnest({unnest}) AS v({', '.join(quote(n) for n in arrays)}) "
        f"WHERE t.{quote(table.c[key].name)} = v.{quote(key)}"
    )
    params = [
        bindparam(f"a_{n}", [row[n] for row in rows], type_=_array_of(table.c[n])) for n in arrays
    ]
    params += [bindparam(f"f_{n}", v, type_=table.c[n].type) for n, v in fixed.items()]
    session.execute(text(sql).bindparams(*params))
