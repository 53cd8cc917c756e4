"""Evaluate a chunk of claimed submissions with the pure core (one task per chunk).

A long list uses the machine's second core: while one chunk is applied, the next one is
evaluated in a worker process (`AheadEvaluator`), a piece at a time from its front; the evaluate
task then evaluates, from the back, the pieces the worker has not reached, and collects the rest.
Neither side waits for the other while pieces remain, whichever is slower on a given machine.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from qualification.criteria import Criteria
from qualification.decision import Decision
from qualification.evaluate import evaluate_rows

from .evaluate_worker import receive_bytes, send, unpickle
from .store import Claimed

log = logging.getLogger(__name__)

# Below this a chunk is evaluated in place: the worker process costs ~0.5 s to start.
AHEAD_MIN_ROWS = 500
# Rows the worker takes at a time (~0.1 s of evaluation): small enough that the two sides finish
# a chunk within a piece of each other, large enough that a round trip (~2% of a piece) is noise.
PIECE_ROWS = 250

Rows = list[tuple[dict[str, Any], str, int | None]]


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def _rows(chunk: list[Claimed]) -> Rows:
    return [(c.payload, c.channel, c.row) for c in chunk]


class Ahead:
    """One chunk shared between the worker and the flow, in pieces: the worker's thread takes
    pieces from the front, `collect` takes the rest from the back; each piece is evaluated once.
    """

    def __init__(self, rows: Rows, piece_rows: int = PIECE_ROWS) -> None:
        self.pieces = [rows[i : i + piece_rows] for i in range(0, len(rows), piece_rows)]
        self.results: list[list[Decision] | None] = [None] * len(self.pieces)
        self._lock = threading.Lock()
        self._front = 0  # the next piece the worker takes
        self._back = len(self.pieces)  # pieces from here on are the flow's
        self.done: Future[None] = Future()
        self.rows_by_worker = 0
        self.rows_by_flow = 0

    def take_front(self) -> int | None:
        with self._lock:
            if self._front >= self._back:
                return None
            self._front += 1
            return self._front - 1

    def take_back(self) -> int | None:
        with self._lock:
            if self._back <= self._front:
                return None
            self._back -= 1
            return self._back

    def collect(self, evaluate: Callable[[Rows], list[Decision]]) -> list[Decision]:
        """Every decision of the chunk, in order: evaluate the pieces the worker has not taken
        (from the back), then wait for the worker's. A worker that failed costs time, never a
        decision: its pieces are evaluated here."""
        while (index := self.take_back()) is not None:
            self.results[index] = evaluate(self.pieces[index])
            self.rows_by_flow += len(self.pieces[index])
        try:
            self.done.result()
        except Exception as exc:
            log.warning("evaluating in place: the worker process failed (%s)", type(exc).__name__)
        decisions: list[Decision] = []
        for index, piece in enumerate(self.pieces):
            result = self.results[index]
            if result is None or len(result) != len(piece):
                if result is not None:
                    log.warning(
                        "the worker returned %d decisions for %d rows", len(result), len(piece)
                    )
                result = evaluate(piece)
            decisions.extend(result)
        return decisions


class AheadEvaluator:
    """Evaluates chunks in one worker process (`python -m tasks.evaluate_worker`), started on
    the first chunk large enough; a thread here feeds it a piece at a time, so the flow goes on
    meanwhile and can take the pieces the worker has not reached.

    A plain subprocess rather than multiprocessing: spawn would re-import the caller's main
    script in the worker, and fork is unsafe beside Prefect's threads.
    """

    def __init__(
        self, criteria: Criteria, min_rows: int = AHEAD_MIN_ROWS, piece_rows: int = PIECE_ROWS
    ) -> None:
        self.criteria = criteria
        self.min_rows = min_rows
        self.piece_rows = piece_rows
        self.enabled = (os.cpu_count() or 1) > 1
        self._worker: subprocess.Popen[bytes] | None = None
        self._thread: ThreadPoolExecutor | None = None
        self._sheet_sent = False

    def submit(self, chunk: list[Claimed]) -> Ahead | None:
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
        ahead = Ahead(_rows(chunk), self.piece_rows)
        self._thread.submit(self._feed, ahead, _today())
        return ahead

    def _feed(self, ahead: Ahead, today: dt.date) -> None:
        """Round trips for the pieces at the front until the flow has taken the rest. The next
        request goes out before the last answer is unpickled, so the worker never waits on it."""
        worker = self._worker
        try:
            assert worker is not None and worker.stdin is not None and worker.stdout is not None
            if not self.enabled:
                raise RuntimeError("the worker failed on an earlier chunk")
            index = ahead.take_front()
            if index is not None:
                self._request(worker.stdin, ahead.pieces[index], today)
            while index is not None:
                answer = receive_bytes(worker.stdout)
                following = ahead.take_front()
                if following is not None:
                    self._request(worker.stdin, ahead.pieces[following], today)
                ahead.results[index] = unpickle(answer)
                ahead.rows_by_worker += len(ahead.pieces[index])
                index = following
        except Exception as exc:
            self.enabled = False  # a dead or confused worker: the rest is evaluated in place
            ahead.done.set_exception(exc)
            return
        ahead.done.set_result(None)

    def _request(self, stream: Any, rows: Rows, today: dt.date) -> None:
        # The sheet once per worker (it is parsed again when unpickled, ~4 ms, caches cold).
        send(stream, (rows, None if self._sheet_sent else self.criteria, today))
        self._sheet_sent = True

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
    chunk: list[Claimed], criteria: Criteria, ahead: Ahead | None = None
) -> list[Decision]:
    """The chunk's decisions: with `ahead` (the chunk submitted to the worker), the pieces the
    worker has not reached are evaluated here and the rest collected; without it, all here."""

    def here(rows: Rows) -> list[Decision]:
        return evaluate_rows(rows, criteria, _today()) if rows else []

    if ahead is None:
        return here(_rows(chunk))
    return ahead.collect(here)
