"""One form at a time through a warm stack: how long from the post until its decision is
stored, and which step of the path takes that time (measured from Prefect's and the app's own
timestamps, per form).

Run: `python -m benchmarks.form_latency [--postgres] [--forms 20]`. It starts its own stack
(as benchmarks.intake_burst does) and stops it after.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import itertools
import signal
import statistics
import time
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import httpx

from .figures import Figure, print_figures
from .intake_burst import channel_runs_settled, interrupt, pending_events, warm_up
from .stack import BenchStack, bench_stack, forms, percentile, reading, signed, wait_for

BENCH = "one form"
DEPLOYMENT = "inbound-form/inbound-form"
# The path a form takes, in order; each step ends where the next begins.
STEPS = (
    ("answer", "the intake stores the post and answers 202"),
    ("trigger window", "the intake waits out its window, then emits the pending event"),
    ("event -> run created", "Prefect's trigger service creates the inbound-form run"),
    ("run created -> picked up", "the runner's next poll submits it (Pending)"),
    ("flow-run process start", "a new process imports the flow and reports Running"),
    ("flow until decision stored", "claim, evaluate and apply in the flow run"),
    ("decision -> seen", "apply's commit, and this benchmark's 50 ms poll"),
)


@dataclass
class Timeline:
    """Unix times of one form's way through the stack."""

    posted: float
    answered: float
    event: float
    created: float
    pending: float
    running: float
    decided: float
    seen: float

    @property
    def total(self) -> float:
        return self.seen - self.posted

    def steps(self) -> list[float]:
        marks = [
            self.posted,
            self.answered,
            self.event,
            self.created,
            self.pending,
            self.running,
            self.decided,
            self.seen,
        ]
        return [b - a for a, b in itertools.pairwise(marks)]


def _decided(submission_id: str) -> tuple[float, str] | None:
    """When the submission's decision was stored, and the flow run that decided it."""
    from models.tables import RawSubmission

    with reading() as session:
        row = session.get(RawSubmission, submission_id)
        if row is None or row.state != "done" or row.processed_at is None:
            return None
        stamp = row.processed_at
        moment = (stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)).timestamp()
        return moment, row.claimed_by or ""


async def _run_times(run_id: str) -> tuple[str, float, float, float]:
    """(deployment name, created, first Pending, first Running) of a flow run."""
    from prefect.client.orchestration import get_client

    async with get_client() as client:
        run = await client.read_flow_run(UUID(run_id))
        states = await client.read_flow_run_states(run.id)
        deployment = (
            (await client.read_deployment(run.deployment_id)).name if run.deployment_id else ""
        )
    first = {s.type.value: s.timestamp.timestamp() for s in reversed(states) if s.timestamp}
    assert run.created is not None
    return deployment, run.created.timestamp(), first["PENDING"], first["RUNNING"]


def _add_events(timelines: list[Timeline]) -> None:
    """Each form's pending event: the first one emitted after it was answered."""
    since, until = timelines[0].posted - 1, timelines[-1].seen + 1

    def stored() -> list[float]:
        times = asyncio.run(pending_events(since, until))
        return times if len(times) >= len(timelines) else []

    times = wait_for(stored, "Prefect did not store every pending event", 30, every=1)
    for t in timelines:
        t.event = min(e for e in times if e >= t.answered - 0.05)


def one_form(s: BenchStack, body: dict[str, Any], client: httpx.Client) -> Timeline | None:
    """The form's timeline, or None when a run other than the one its event started (the
    minutely intake sweep) decided it."""
    sid = body["submission_id"]
    raw, headers = signed(body)
    posted = time.time()
    client.post(f"{s.intake_url}/v1/forms", content=raw, headers=headers).raise_for_status()
    answered = time.time()
    decided, run_id = wait_for(lambda: _decided(sid), f"form {sid} not decided", 120, every=0.05)
    seen = time.time()
    deployment, created, pending, running = asyncio.run(_run_times(run_id))
    if deployment != DEPLOYMENT.split("/")[1] or created < posted:
        return None
    return Timeline(
        posted=posted,
        answered=answered,
        event=float("nan"),  # filled in once Prefect has stored the events
        created=created,
        pending=pending,
        running=running,
        decided=decided,
        seen=seen,
    )


def measure(
    postgres: bool = False, count: int = 20, trigger_seconds: float | None = None
) -> list[Figure]:
    """Post `count` forms one after another, each once the previous run has finished."""
    bench = f"{BENCH} ({'PostgreSQL' if postgres else 'SQLite'})"
    tag = f"{int(time.time())}"
    clock = time.perf_counter()
    timelines: list[Timeline] = []
    swept = 0
    with (
        bench_stack(postgres=postgres, trigger_seconds=trigger_seconds) as s,
        httpx.Client(timeout=10) as client,
    ):
        warm_up(s, f"warm-{tag}")
        for body in forms(count, f"latency-{tag}", seed=5):
            timeline = one_form(s, body, client)
            if timeline is None:
                swept += 1
            else:
                timelines.append(timeline)
            channel_runs_settled(60)  # the next form must not queue behind this run's end
        _add_events(timelines)
        started_in = s.started_in
    total = time.perf_counter() - clock
    latencies = [t.total for t in timelines]
    p50, p95 = percentile(latencies, 50), percentile(latencies, 95)
    steps = zip(*(t.steps() for t in timelines), strict=True)
    medians = [statistics.median(step) for step in steps]
    share = {name: m / sum(medians) for (name, _), m in zip(STEPS, medians, strict=True)}
    ranked = sorted(share.items(), key=lambda kv: -kv[1])
    figures = [
        Figure(bench, f"post -> decision p50 ({len(timelines)} forms)", f"{p50:.2f} s"),
        Figure(bench, "post -> decision p95", f"{p95:.2f} s"),
    ]
    if swept:
        figures.append(Figure(bench, "decided by the minutely intake sweep instead", str(swept)))
    for (name, what), median in zip(STEPS, medians, strict=True):
        figures.append(
            Figure(bench, f"  {name} (median)", f"{median:.2f} s ({share[name]:.0%}): {what}")
        )
    figures += [
        Figure(
            bench,
            "dominated by",
            ", ".join(f"{name} {part:.0%}" for name, part in ranked[:3]),
        ),
        Figure(bench, "benchmark wall time", f"{total:.0f} s (stack start {started_in:.0f} s)"),
    ]
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--postgres", action="store_true", help="Prefect and app DB on PostgreSQL")
    parser.add_argument("--forms", type=int, default=20)
    parser.add_argument(
        "--trigger-seconds", type=float, help="the intake's trigger window (default: the setting)"
    )
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, interrupt)
    figures = measure(args.postgres, args.forms, args.trigger_seconds)
    print_figures(figures, f"One form at a time ({'PostgreSQL' if args.postgres else 'SQLite'})")


if __name__ == "__main__":
    main()
