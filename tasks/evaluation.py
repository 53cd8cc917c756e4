"""Evaluate a chunk of claimed submissions with the pure core (one task per chunk).

A long list uses the machine's second core: while one chunk is applied, the next one is
evaluated in a worker process (`AheadEvaluator`); the evaluate task then only collects it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import subprocess
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from qualification.criteria import Criteria
from qualification.decision import Decision
from qualification.evaluate import evaluate_rows

from .evaluate_worker import receive, send
from .store import Claimed

log = logging.getLogger(__name__)

# Below this a chunk is evaluated in place: the worker process costs ~0.5 s to start.
AHEAD_MIN_ROWS = 500


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def _rows(chunk: list[Claimed]) -> list[tuple[dict[str, Any], str, int | None]]:
    return [(c.payload, c.channel, c.row) for c in chunk]


class AheadEvaluator:
    """Evaluates chunks in one worker process (`python -m tasks.evaluate_worker`), started on
    the first chunk large enough; a thread here waits on it, so the flow goes on meanwhile.

    A plain subprocess rather than multiprocessing: spawn would re-import the caller's main
    script in the worker, and fork is unsafe beside Prefect's threads.
    """

    def __init__(self, criteria: Criteria, min_rows: int = AHEAD_MIN_ROWS) -> None:
        self.criteria = criteria
        self.min_rows = min_rows
        self.enabled = (os.cpu_count() or 1) > 1
        self._worker: subprocess.Popen[bytes] | None = None
        self._thread: ThreadPoolExecutor | None = None

    def submit(self, chunk: list[Claimed]) -> Future[list[Decision]] | None:
        """Start evaluating `chunk` in the worker; None when it is better done in place."""
        if not self.enabled or len(chunk) < self.min_rows:
            return None
        if self._worker is None:
            try:
                self._worker = subprocess.Popen(
                    [sys.executable, "-m", "tasks.evaluate_worker"],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                )
            except OSError as exc:
                log.warning("evaluating in place: the worker process did not start (%s)", exc)
                self.enabled = False
                return None
            self._thread = ThreadPoolExecutor(1, thread_name_prefix="medleads-evaluate")
        assert self._thread is not None
        return self._thread.submit(self._round_trip, _rows(chunk), _today())

    def _round_trip(
        self, rows: list[tuple[dict[str, Any], str, int | None]], today: dt.date
    ) -> list[Decision]:
        worker = self._worker
        assert worker is not None and worker.stdin is not None and worker.stdout is not None
        try:
            send(worker.stdin, (rows, self.criteria, today))
            decisions: list[Decision] = receive(worker.stdout)
        except Exception:
            self.enabled = False  # a dead or confused worker: the rest is evaluated in place
            raise
        return decisions

    def close(self) -> None:
        if self._thread is not None:
            self._thread.shutdown(wait=True, cancel_futures=True)
            self._thread = None
        if self._worker is not None:
            worker, self._worker = self._worker, None
            if worker.stdin is not None:
                with contextlib.suppress(OSError):
                    worker.stdin.close()  # end of input: the worker returns
            try:
                worker.wait(timeout=10)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
            if worker.stdout is not None:
                worker.stdout.close()

    def __enter__(self) -> AheadEvaluator:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


@task(name="evaluate-chunk", cache_policy=NO_CACHE)
def evaluate_chunk(
    chunk: list[Claimed],
    criteria: Criteria,
    ahead: Future[list[Decision]] | None = None,
    ahead_from: int = 0,
) -> list[Decision]:
    """The chunk's decisions: `ahead` holds those of `chunk[ahead_from:]`, evaluated by the
    worker (the first rows are evaluated here meanwhile); without it, all are evaluated here.
    A worker that failed (killed, out of memory) costs time, never a decision."""

    def here(rows: list[Claimed]) -> list[Decision]:
        return evaluate_rows(_rows(rows), criteria, _today()) if rows else []

    if ahead is None:
        return here(chunk)
    head, rest = here(chunk[:ahead_from]), chunk[ahead_from:]
    try:
        decisions = ahead.result()
        if len(decisions) == len(rest):
            return head + decisions
        log.warning("the worker returned %d decisions for %d rows", len(decisions), len(rest))
    except Exception as exc:
        log.warning("evaluating in place: the worker process failed (%s)", type(exc).__name__)
    return head + here(rest)
