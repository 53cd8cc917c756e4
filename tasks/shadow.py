"""Shadow evaluation: a draft sheet judged beside the live one on live traffic, recorded as
ShadowDecision rows and never acted on. It cannot change or fail what the live sheet decides."""

from __future__ import annotations

import datetime as dt
from typing import Any, TypeVar, cast

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.utilities.annotations import quote
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from models.db import session_scope
from models.tables import ShadowDecision, utcnow
from qualification.criteria import Criteria
from qualification.decision import Decision
from qualification.evaluate import evaluate_rows
from qualification.replay import Compared, OwnerCounters, outcome_of, owner_for

from .criteria import shadow_criteria
from .replay import owner_counters
from .runlog import run_logger
from .store import Claimed

TABLE: Any = ShadowDecision.__table__  # type: ignore[attr-defined]
T = TypeVar("T")


def shadow_chunk(
    chunk: list[Claimed], decisions: list[Decision], live: Criteria, url: str | None = None
) -> int:
    """After the live sheet decided a chunk: when a shadow sheet is set, record what it would
    decide (one task run per chunk, none while no shadow sheet is set). Never raises; returns
    the rows recorded."""
    try:
        shadow = shadow_criteria(url)
        if shadow is None or not chunk:
            return 0
        return record_shadow(_quoted(chunk), _quoted(decisions), _quoted(live), shadow[0], url)
    except Exception as exc:
        run_logger(__name__).warning("shadow sheet not evaluated on a chunk: %s", exc)
        return 0


def _quoted(value: T) -> T:
    # Prefect unwraps a quote when it resolves a task's parameters, without walking every nested
    # value of a large chunk; typed as the value so the task's signature stays checked.
    return cast(T, quote(value))


@task(name="shadow-evaluate", cache_policy=NO_CACHE)
def record_shadow(
    chunk: list[Claimed],
    decisions: list[Decision],
    live: Criteria,
    shadow: Criteria,
    url: str | None = None,
) -> int:
    """Evaluate the chunk under the shadow sheet and insert one row per submission in bulk (a
    retry inserts nothing twice). A failure is logged as a warning, never raised."""
    try:
        return _record(chunk, decisions, live, shadow, url)
    except Exception as exc:
        run_logger(__name__).warning("shadow sheet %s failed on a chunk: %s", shadow.version, exc)
        return 0


def _record(
    chunk: list[Claimed],
    decisions: list[Decision],
    live: Criteria,
    shadow: Criteria,
    url: str | None,
) -> int:
    # The same day the live evaluation used (tasks/evaluation.py).
    today = dt.datetime.now(dt.UTC).date()
    drafts = evaluate_rows([(c.payload, c.channel, c.row) for c in chunk], shadow, today)
    now = utcnow()
    with session_scope(url) as session:
        counters = owner_counters(session.connection())
        rows = [
            _row(claimed, (decision, live), (draft, shadow), counters, now)
            for claimed, decision, draft in zip(chunk, decisions, drafts, strict=True)
        ]
        insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        statement = (
            insert(TABLE)
            .on_conflict_do_nothing(index_elements=["submission_id", "shadow_version"])
            .returning(TABLE.c.id)
        )
        return len(session.execute(statement, rows).all())


def _row(
    claimed: Claimed,
    live: tuple[Decision, Criteria],
    draft: tuple[Decision, Criteria],
    counters: OwnerCounters,
    now: dt.datetime,
) -> dict[str, Any]:
    # Both owners are routing's pick given the counters before this chunk was applied, so the
    # comparison shows only what the sheet changes.
    compared = Compared(
        submission_id=claimed.id,
        lead_id=None,
        organization=None,
        live=outcome_of(live[0], owner_for(*live, counters)),
        draft=outcome_of(draft[0], owner_for(*draft, counters)),
    )
    return {
        "submission_id": claimed.id,
        "lead_id": None,
        "active_version": live[1].version,
        "shadow_version": draft[1].version,
        "active_status": compared.live.status,
        "shadow_status": compared.draft.status,
        "active_reason": compared.live.reason,
        "shadow_reason": compared.draft.reason,
        "active_band": compared.live.band,
        "shadow_band": compared.draft.band,
        "active_owner": compared.live.owner,
        "shadow_owner": compared.draft.owner,
        "changed": compared.changed,
        "created_at": now,
    }
