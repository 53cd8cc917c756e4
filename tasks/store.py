"""Prefect tasks over raw submissions: ingest a file in bulk, claim pending ones atomically."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE
from sqlalchemy import func, update
from sqlalchemy import select as sa_select
from sqlmodel import and_, col, or_, select

from adapters.prefect_api import finished_flow_runs
from adapters.rows import FileError, SubmissionFile
from adapters.submissions import insert_ignoring_duplicates, raw_row, write_rejections
from models.bulk import among, is_postgres
from models.db import get_engine, session_scope
from models.tables import RawSubmission, utcnow
from qualification.submission import Submission, submission_from_mapping

from .collector import fewer_collections
from .runlog import run_logger

STORE_CHUNK = 1000
# Submissions a list run decides per chunk: each chunk costs ~6 task runs, which the Prefect server
# records at ~50 ms of its CPU each; at 5,000 a 100,000-row list makes 124 task runs instead of
# 587, and the server's and PostgreSQL's CPU together fell by 40% (measured; peak memory rose
# from ~240 MB to 440-550 MB with a chunk applied and the next one evaluated).
LIST_BATCH = 5000


@dataclass(frozen=True, slots=True)
class Claimed:
    """A claimed raw submission, ready to evaluate."""

    id: str
    channel: str
    row: int | None
    payload: dict[str, Any]
    source_name: str | None

    def submission(self) -> Submission:
        return submission_from_mapping(self.payload, channel=self.channel, row=self.row)


@dataclass
class IngestReport:
    """What an ingest stored, skipped as already stored, and rejected (with the report path)."""

    file: str
    stored: int = 0
    already_stored: int = 0
    rejected: int = 0
    notes: list[str] = field(default_factory=list)
    rejection_report: str | None = None


def _retry_unless_file_error(task: Any, run: Any, state: Any) -> bool:
    """A file that cannot be read stays unreadable: retry only what may pass (the database)."""
    try:
        state.result()
    except (FileError, OSError):
        return False
    except Exception:
        return True
    return False


@task(
    name="ingest-file",
    cache_policy=NO_CACHE,
    retries=1,
    retry_condition_fn=_retry_unless_file_error,
)
def ingest_file(
    path: str, channel: str, url: str | None = None, preset: str | None = None
) -> IngestReport:
    """Stream a file into raw submissions in bulk; every bad row goes to a rejection report.
    A list preset (`preset` by name, else one recognised by the headers) maps its columns."""
    source = SubmissionFile(Path(path), channel=channel, preset=preset)
    source_name = Path(path).name
    report = IngestReport(file=path)
    rejections: list[tuple[int, str, str]] = []
    batch: list[dict[str, Any]] = []
    seen: dict[str, int] = {}

    def flush() -> None:
        with session_scope(url) as session:
            new = insert_ignoring_duplicates(session, batch)
        report.stored += new
        report.already_stored += len(batch) - new
        batch.clear()

    with fewer_collections():  # a list of 100,000 rows makes millions of objects
        try:
            for result in source.rows():
                if result.submission is None:
                    rejections.append((result.row, result.column or "", result.error or ""))
                    continue
                sub = result.submission
                first = seen.setdefault(sub.submission_id, result.row)
                if first != result.row:
                    rejections.append((result.row, "", f"duplicates row {first}"))
                    continue
                batch.append(raw_row(sub, result.raw, source_name))
                if len(batch) >= STORE_CHUNK:
                    flush()
            flush()
        except FileError as exc:
            report.notes.append(str(exc))
            raise
    report.notes.extend(source.notes)
    report.rejected = len(rejections)
    if rejections:
        report.rejection_report = str(write_rejections(Path(path), rejections))
    return report


@task(name="claim-pending", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=1)
def claim_pending(
    channel: str,
    size: int,
    claimer: str,
    lease_minutes: float = 30,
    url: str | None = None,
    holding: frozenset[str] = frozenset(),
) -> list[Claimed]:
    """Atomically claim up to `size` pending submissions of a channel.

    Two runs never get the same submission. A submission whose decision the database refused
    comes back when its next attempt is due (a bounded number of times). A claim held by a run
    Prefect reports finished (a killed run once it is marked Crashed), older than the lease (a
    crashed run Prefect cannot tell about) or held by the same claimer (a retried run) can be
    claimed again, so nothing is stranded (apply skips what its run no longer holds); `holding`
    names the claimer's submissions still in hand (a chunk claimed ahead of time is not the one
    being applied).
    """
    now = utcnow()
    stale = now - dt.timedelta(minutes=lease_minutes)
    others = _other_claimers(channel, claimer, url)
    gone = finished_flow_runs(others)
    if gone:
        run_logger(__name__).warning(
            "taking over the %s submissions claimed by flow runs Prefect reports finished "
            "(crashed or killed): %s",
            channel,
            ", ".join(f"{run} ({others[run]})" for run in sorted(gone)),
        )
    claimable = or_(
        col(RawSubmission.state) == "pending",
        and_(  # refused before, due for another attempt
            col(RawSubmission.state) == "failed",
            col(RawSubmission.next_attempt_at).is_not(None),
            col(RawSubmission.next_attempt_at) <= now,
        ),
        and_(
            col(RawSubmission.state) == "claimed",
            or_(
                RawSubmission.claimed_by == claimer,
                col(RawSubmission.claimed_at) < stale,
                col(RawSubmission.claimed_by).in_(gone),
            ),
        ),
    )
    engine = get_engine(url)
    if holding:
        claimable = and_(claimable, ~among(engine, col(RawSubmission.id), holding))
    pick = (
        select(RawSubmission.id)
        .where(RawSubmission.channel == channel, claimable)
        .order_by(col(RawSubmission.stored_at), col(RawSubmission.id))
        .limit(size)
    )
    if is_postgres(engine):
        pick = pick.with_for_update(skip_locked=True)
    with session_scope(url) as session:
        # One UPDATE with the pick as a subquery: atomic under SQLite's write lock, and on
        # PostgreSQL rows locked by another claimer are skipped.
        session.execute(
            update(RawSubmission)
            .where(col(RawSubmission.id).in_(pick.scalar_subquery()), claimable)
            .values(state="claimed", claimed_by=claimer, claimed_at=now)
            .execution_options(synchronize_session=False)
        )
        mine = and_(col(RawSubmission.state) == "claimed", col(RawSubmission.claimed_by) == claimer)
        if holding:
            mine = and_(mine, ~among(engine, col(RawSubmission.id), holding))
        # Plain columns, not ORM objects (building those cost ~0.1 ms a row).
        table = RawSubmission.__table__  # type: ignore[attr-defined]
        columns = (table.c.id, table.c.channel, table.c.row, table.c.payload, table.c.source_name)
        rows = session.execute(sa_select(*columns).where(mine).limit(size)).all()
        claimed = [Claimed(i, ch, row, dict(payload), src) for i, ch, row, payload, src in rows]
    claimed.sort(key=lambda c: (c.row or 0, c.id))
    return claimed


def _other_claimers(channel: str, claimer: str, url: str | None) -> dict[str, int]:
    """Who else holds claimed submissions of the channel, and how many."""
    with session_scope(url) as session:
        held = (
            sa_select(col(RawSubmission.claimed_by), func.count())
            .where(
                col(RawSubmission.channel) == channel,
                col(RawSubmission.state) == "claimed",
                col(RawSubmission.claimed_by) != claimer,
            )
            .group_by(RawSubmission.claimed_by)
        )
        return {c: n for c, n in session.execute(held).all() if c}
