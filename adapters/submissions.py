"""Raw submissions into the database, stored verbatim and idempotently, and rejection reports."""

from __future__ import annotations

import contextlib
import csv
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from sqlmodel import Session

from models.bulk import bulk_insert_new
from models.db import session_scope
from models.settings import get_settings
from models.tables import RawSubmission, utcnow
from qualification.submission import Submission
from qualification.text import csv_cell, parse_datetime


def insert_ignoring_duplicates(session: Session, rows: list[dict[str, Any]]) -> int:
    """Bulk insert raw submissions; an id already stored is left untouched. Returns new rows."""
    table = RawSubmission.__table__  # type: ignore[attr-defined]
    return bulk_insert_new(session, table, rows, "id")


def raw_row(sub: Submission, payload: Mapping[str, Any], source: str | None) -> dict[str, Any]:
    now = utcnow()
    received = now
    if sub.received_at:
        with contextlib.suppress(ValueError):
            received = parse_datetime(sub.received_at)
    return {
        "id": sub.submission_id,
        "channel": sub.channel,
        "payload": {**payload, "submission_id": sub.submission_id, "channel": sub.channel},
        "source_name": source,
        "row": sub.row,
        "received_at": received,
        "stored_at": now,
        "state": "pending",
    }


def store_submissions(
    items: Iterable[tuple[Submission, Mapping[str, Any]]],
    source: str | None = None,
    url: str | None = None,
) -> tuple[int, list[str]]:
    """Store submissions verbatim (idempotent by submission id); returns (new, all ids)."""
    rows = [raw_row(sub, payload, source) for sub, payload in items]
    with session_scope(url) as session:
        new = insert_ignoring_duplicates(session, rows)
    return new, [r["id"] for r in rows]


def write_rejections(path: Path, rejections: list[tuple[int, str, str]]) -> Path:
    folder = get_settings().data_dir / "reports"
    folder.mkdir(parents=True, exist_ok=True)
    stamp = utcnow().strftime("%Y%m%dT%H%M%S")
    target = folder / f"{path.stem}-{stamp}-rejections.csv"
    with target.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["row", "column", "why"])
        writer.writerows([csv_cell(cell) for cell in row] for row in rejections)
    return target
