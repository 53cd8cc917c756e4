"""`make chaos --quick` as a test: one throwaway stack through every fault of
benchmarks/chaos.py, and the promises of docs/reliability.md checked scenario by scenario."""

from __future__ import annotations

import pytest

from benchmarks.chaos import KINDS, PROMISE_SECONDS, SCENARIOS, Row, measure


@pytest.fixture(scope="module")
def rows() -> dict[str, Row]:
    return {row.scenario: row for row in measure(quick=True)}


@pytest.mark.parametrize("scenario", [name for name, _ in SCENARIOS])
def test_nothing_accepted_is_lost_or_sent_twice_and_all_recovers_in_five_minutes(
    rows: dict[str, Row], scenario: str
) -> None:
    row = rows[scenario]
    if row.skipped:
        pytest.skip(row.skipped)
    assert row.tried > 0, "the scenario posted nothing"
    assert row.problems == []
    assert (row.server_errors, row.lost, row.duplicated) == (0, 0, 0)
    assert row.as_promised == row.tried, "every post answered as the README promises"
    assert row.recovered_in is not None and row.recovered_in <= PROMISE_SECONDS


def test_every_poison_class_is_tried_and_answered_as_promised(rows: dict[str, Row]) -> None:
    fuzz = rows["fuzzed intake"]
    assert fuzz.tried >= 300
    assert set(fuzz.by_kind) == set(KINDS)
    assert all(tried > 0 and promised == tried for tried, promised in fuzz.by_kind.values())
