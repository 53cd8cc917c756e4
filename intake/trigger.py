"""Tell Prefect that submissions are pending: at most one event per channel per time window,
and none while a run that will drain the channel is already waiting to start."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, Protocol

from adapters.prefect_api import PrefectNotConfigured, emit_to_prefect, run_waiting
from qualification.closed_sets import Event

log = logging.getLogger(__name__)

EVENT = Event.SUBMISSIONS_PENDING


class Emit(Protocol):
    def __call__(
        self, event: str, resource: dict[str, str], *, payload: dict[str, Any]
    ) -> object: ...


class Trigger:
    """Counts stored submissions per channel; a background thread signals them in batches.

    `notify` only bumps a counter, so a request never waits on Prefect or fails because of it.
    """

    def __init__(
        self,
        window: float = 1.0,
        emit: Emit = emit_to_prefect,
        waiting: Callable[[str], bool] = run_waiting,
    ) -> None:
        if window < 0:
            raise ValueError("the trigger window must not be negative")
        self.window = window
        self.emitted: dict[str, int] = {}
        self.failed: dict[str, int] = {}
        self.coalesced: dict[str, int] = {}  # windows left to a run already waiting to start
        self._emit = emit
        self._waiting = waiting
        self._pending: dict[str, int] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing = False

    def notify(self, channel: str, count: int = 1) -> None:
        with self._lock:
            self._pending[channel] = self._pending.get(channel, 0) + count
        self._wake.set()

    def flush(self) -> None:
        """Emit one event per channel with pending work now."""
        with self._lock:
            pending, self._pending = self._pending, {}
        for channel, count in pending.items():
            self._send(channel, count)

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._run, name="medleads-intake-trigger", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Signal what is still pending and end the thread."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait()
            # Wait out the window first, so everything stored meanwhile rides on one event.
            self._stopping.wait(self.window)
            self._wake.clear()
            self.flush()
        self.flush()

    def _send(self, channel: str, count: int) -> None:
        try:
            waiting = self._waiting(channel)
        except Exception as exc:  # cannot tell: signal, as without the check
            log.debug("could not read %s runs from Prefect (%s)", channel, type(exc).__name__)
            waiting = False
        if waiting:
            with self._lock:
                self.coalesced[channel] = self.coalesced.get(channel, 0) + 1
            return
        resource = {
            "prefect.resource.id": f"medleads.channel.{channel}",
            "medleads.channel": channel,
        }
        try:
            self._emit(EVENT, resource, payload={"count": count})
        except Exception as exc:
            with self._lock:
                self.failed[channel] = self.failed.get(channel, 0) + 1
                first, self._failing = not self._failing, True
            # Exception texts can carry URLs with credentials: name the type only.
            why = str(exc) if isinstance(exc, PrefectNotConfigured) else type(exc).__name__
            log.log(
                logging.WARNING if first else logging.DEBUG,
                "could not signal %d pending %s submission(s) to Prefect (%s); "
                "the scheduled intake sweep will process them",
                count,
                channel,
                why,
            )
            return
        with self._lock:
            self.emitted[channel] = self.emitted.get(channel, 0) + 1
            recovered, self._failing = self._failing, False
        if recovered:
            log.info("signalling pending submissions to Prefect again")
