"""The intake sweep: process whatever the intake stored but no triggered run picked up (§8)."""

from __future__ import annotations

from prefect import flow

from tasks.artifacts import RunSummary

from .common import drain

CHANNELS = ("form", "webinar", "outbound")


@flow(name="intake-sweep", log_prints=False)
def intake_sweep(batch_size: int = 500, lease_minutes: float = 30) -> dict[str, int]:
    """Drain every channel's pending submissions (stored while Prefect was down, or missed)."""
    return {
        channel: drain(RunSummary(channel), batch_size, lease_minutes).processed
        for channel in CHANNELS
    }
