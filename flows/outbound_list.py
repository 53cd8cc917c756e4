"""Outbound list flow: stream a prospect CSV, never email without consent (DESIGN §2.3)."""

from __future__ import annotations

from prefect import flow

from tasks.artifacts import RunSummary
from tasks.store import LIST_BATCH, ingest_file

from .common import drain


@flow(name="outbound-list", log_prints=True)
def outbound_list(
    file: str, batch_size: int = LIST_BATCH, lease_minutes: float = 30, preset: str | None = None
) -> RunSummary:
    """Store every row (rejections reported by row), then decide them a chunk at a time."""
    summary = RunSummary("outbound")
    summary.add_ingest(ingest_file(file, "outbound", preset=preset))
    return drain(summary, batch_size, lease_minutes)
