"""Evaluating the next chunk in a worker process gives exactly the decisions of evaluating in
place, and a worker that dies costs time, never a decision."""

from __future__ import annotations

import logging
import pickle
from collections.abc import Iterator

import pytest

from qualification.criteria import load_criteria
from qualification.decision import Check, Decision
from tasks.evaluation import Ahead, AheadEvaluator, evaluate_chunk
from tasks.store import Claimed
from tests.paths import DEFAULT_SHEET, ROOT

CRITERIA = load_criteria(DEFAULT_SHEET)


def claimed_samples() -> list[Claimed]:
    import json

    lines = (ROOT / "intake" / "samples" / "forms.jsonl").read_text().splitlines()
    payloads = [json.loads(line) for line in lines if line.strip()]
    return [Claimed(f"s-{n}", "form", n, p, "forms.jsonl") for n, p in enumerate(payloads, 1)]


def test_the_sheet_pickles_as_its_text_and_comes_back_the_same() -> None:
    again = pickle.loads(pickle.dumps(CRITERIA))
    assert again.version == CRITERIA.version and again.sheet == CRITERIA.sheet


def test_the_worker_decides_exactly_as_in_place() -> None:
    chunk = claimed_samples()
    with AheadEvaluator(CRITERIA, min_rows=1) as evaluator:
        evaluator.enabled = True  # also on a one-core machine
        ahead = evaluator.submit(chunk)
        assert ahead is not None
        from_worker = evaluate_chunk.fn(chunk, CRITERIA, ahead)
        second = evaluator.submit(chunk)  # the same worker serves the next chunk
        assert second is not None
        second.done.result(timeout=30)  # the worker took the one piece (its sheet sent once)
        assert second.collect(refuse) == from_worker
        assert second.rows_by_worker == len(chunk)
    assert from_worker == evaluate_chunk.fn(chunk, CRITERIA)
    assert len(from_worker) == len(chunk)
    # Equal tuples are not enough: each check is a `Check` again, read by name.
    checks = [c for d in from_worker for c in d.checks]
    assert checks and all(type(c) is Check for c in checks)
    assert [c.detail for c in from_worker[0].checks] == from_worker[0].explanations


def refuse(rows: object) -> list[Decision]:
    raise AssertionError("the worker's rows were evaluated in the flow")


def test_a_chunk_shared_between_the_worker_and_here_decides_the_same_in_order() -> None:
    chunk = claimed_samples()
    whole = evaluate_chunk.fn(chunk, CRITERIA)
    with AheadEvaluator(CRITERIA, min_rows=1, piece_rows=2) as evaluator:
        evaluator.enabled = True
        shares = []
        for _ in range(3):
            ahead = evaluator.submit(chunk)
            assert ahead is not None
            decisions = evaluate_chunk.fn(chunk, CRITERIA, ahead)
            assert decisions == whole
            assert [d.row for d in decisions] == [c.row for c in chunk]
            assert ahead.rows_by_worker + ahead.rows_by_flow == len(chunk)
            shares.append(ahead.rows_by_flow)
    # The worker starts as the first chunk is submitted: the flow takes most of that one.
    assert shares[0] > 0


def test_each_piece_is_taken_once_from_either_end() -> None:
    ahead = Ahead([({}, "form", n) for n in range(7)], piece_rows=2)
    assert [len(p) for p in ahead.pieces] == [2, 2, 2, 1]
    assert [ahead.take_front(), ahead.take_back(), ahead.take_back(), ahead.take_front()] == [
        0,
        3,
        2,
        1,
    ]
    assert ahead.take_front() is None and ahead.take_back() is None


def test_small_chunks_are_evaluated_in_place() -> None:
    with AheadEvaluator(CRITERIA) as evaluator:
        assert evaluator.submit(claimed_samples()) is None  # 16 rows: not worth a process
        assert evaluator._worker is None


class Remember(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture
def warnings() -> Iterator[list[str]]:
    handler = Remember()
    logger = logging.getLogger("tasks.evaluation")
    logger.addHandler(handler)
    yield handler.messages
    logger.removeHandler(handler)


def test_a_dead_worker_falls_back_to_evaluating_in_place(warnings: list[str]) -> None:
    chunk = claimed_samples()
    with AheadEvaluator(CRITERIA, min_rows=1) as evaluator:
        evaluator.enabled = True
        started = evaluator.submit(chunk[:1])  # start the worker and let it answer once
        assert started is not None
        started.done.result(timeout=30)
        assert len(started.collect(refuse)) == 1
        worker = evaluator._worker
        assert worker is not None
        worker.kill()
        worker.wait()
        ahead = evaluator.submit(chunk)
        assert ahead is not None
        ahead.done.exception(timeout=30)  # the worker's thread finds it dead on its first piece
        decisions = evaluate_chunk.fn(chunk, CRITERIA, ahead)
        assert decisions == evaluate_chunk.fn(chunk, CRITERIA)
        assert not evaluator.enabled  # the rest of the run evaluates in place
        assert evaluator.submit(chunk) is None
    assert len(warnings) == 1
    assert warnings[0].startswith("evaluating in place: the worker process failed")
