"""Webinar flow: an attendee list or stored registration callbacks (DESIGN §2.2)."""

from __future__ import annotations

from prefect import flow

from tasks.artifacts import RunSummary
from tasks.store import ingest_file

from .common import drain


@flow(name="webinar", log_prints=True)
def webinar(
    file: str | None = None, batch_size: int = 500, lease_minutes: float = 30
) -> RunSummary:
    """Store an attendee list (when given), then decide every pending webinar submission."""
    summary = RunSummary("webinar")
    if file:
        summary.add_ingest(ingest_file(file, "webinar"))
    return drain(summary, batch_size, lease_minutes)
