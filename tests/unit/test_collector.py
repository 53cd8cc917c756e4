"""The garbage collector held back while a list is ingested or drained, then as it was."""

from __future__ import annotations

import gc
import threading

import pytest

from tasks.collector import THRESHOLDS, fewer_collections


@pytest.fixture
def default_thresholds():
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield
    gc.set_threshold(*before)


def test_thresholds_are_raised_inside_and_restored_after(default_thresholds) -> None:
    with fewer_collections():
        assert gc.get_threshold() == THRESHOLDS
    assert gc.get_threshold() == (700, 10, 10)


def test_restored_after_an_error(default_thresholds) -> None:
    with pytest.raises(RuntimeError), fewer_collections():
        raise RuntimeError("a chunk failed")
    assert gc.get_threshold() == (700, 10, 10)


def test_higher_thresholds_set_by_the_host_are_kept(default_thresholds) -> None:
    gc.set_threshold(50_000, 5, 500)
    with fewer_collections():
        assert gc.get_threshold() == (50_000, THRESHOLDS[1], 500)
    assert gc.get_threshold() == (50_000, 5, 500)


def test_nested_and_overlapping_holders_restore_once_the_last_leaves(default_thresholds) -> None:
    inside, release = threading.Event(), threading.Event()

    def other_drain() -> None:
        with fewer_collections():
            inside.set()
            release.wait(10)

    with fewer_collections():
        thread = threading.Thread(target=other_drain)
        thread.start()
        assert inside.wait(10)
        with fewer_collections():
            assert gc.get_threshold() == THRESHOLDS
    # The first holder left while the thread still holds: still raised.
    assert gc.get_threshold() == THRESHOLDS
    release.set()
    thread.join(10)
    assert gc.get_threshold() == (700, 10, 10)
