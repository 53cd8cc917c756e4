"""Helpers for tests that run their own Prefect server."""

from __future__ import annotations

import contextlib
import inspect


def drain_prefect_workers() -> None:
    """Flush Prefect's log and event workers while the server they talk to is still up; left
    for later, they retry a dead server and hang the session's harness teardown."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker
    from prefect.utilities.asyncutils import run_coro_as_sync

    async def drain() -> None:
        with contextlib.suppress(RuntimeError):  # a worker that never started
            result = APILogWorker.instance().drain()
            if inspect.isawaitable(result):
                await result
        result = EventsWorker.drain_all()
        if inspect.isawaitable(result):
            await result

    run_coro_as_sync(drain())
