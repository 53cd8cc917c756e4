"""The cyclic garbage collector held back while a long list is ingested or drained.

By default CPython runs a collection every 700 new container objects and, every hundred of those,
a full one that rescans everything alive. A chunk of decisions is ~150 objects a lead, so a
40,000-row list ran 16 full collections that took a fifth of the flow process's CPU (measured).
Inside `fewer_collections()` a collection runs every 10,000 new objects and a full one rarely;
reference counting frees a chunk as before (the collector only finds cycles).
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

THRESHOLDS = (10_000, 20, 100)

_lock = threading.Lock()
_holders = 0
_saved = gc.get_threshold()


@contextlib.contextmanager
def fewer_collections() -> Iterator[None]:
    """The thresholds raised for the duration; nested or in several threads at once, the first
    one in raises them and the last one out restores what they were."""
    global _holders, _saved
    with _lock:
        if _holders == 0:
            _saved = gc.get_threshold()
            gc.set_threshold(*(max(s, t) for s, t in zip(_saved, THRESHOLDS, strict=True)))
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0:
                gc.set_threshold(*_saved)
