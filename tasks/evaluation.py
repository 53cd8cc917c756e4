"""Evaluate a chunk of claimed submissions with the pure core (one task per chunk)."""

from __future__ import annotations

import datetime as dt

from prefect import task
from prefect.cache_policies import NO_CACHE

from qualification.criteria import Criteria
from qualification.decision import Decision
from qualification.evaluate import evaluate

from .store import Claimed


@task(name="evaluate-chunk", cache_policy=NO_CACHE)
def evaluate_chunk(chunk: list[Claimed], criteria: Criteria) -> list[Decision]:
    today = dt.datetime.now(dt.UTC).date()
    return [evaluate(c.submission(), criteria, today=today) for c in chunk]
