"""Inbound form flow: decide every stored form submission (DESIGN §2.1)."""

from __future__ import annotations

from prefect import flow

from tasks.artifacts import RunSummary

from .common import drain


@flow(name="inbound-form", log_prints=True)
def inbound_form(batch_size: int = 500, lease_minutes: float = 30) -> RunSummary:
    """Drain pending form posts: validate, consent, dedupe, score, route, confirm, hand off."""
    return drain(RunSummary("form"), batch_size, lease_minutes)
