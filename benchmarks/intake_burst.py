"""A burst of signed form posts through the real stack: intake latency, nothing lost, how fast
everything is decided, and how few Prefect runs it takes; then one flow run per lead, for scale.

Run: `python -m benchmarks.intake_burst [--postgres] [--posts 1000] [--rate 125] [--naive 30]`.
It starts its own Prefect server, `medleads serve` and intake on free loopback ports in a
temporary folder (SQLite, or fresh PostgreSQL databases with --postgres) and stops them after.
The naive comparison uses 10 leads by default: each costs a flow run of ~4-5 s here, one at a
time, and `make bench` has to stay short.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import signal
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import httpx

from .figures import Figure, count_task_runs, print_figures
from .stack import (
    BenchStack,
    bench_stack,
    forms,
    percentile,
    reading,
    run_states,
    signed,
    stored_states,
    wait_for,
)

BENCH = "intake burst"
CHANNEL_DEPLOYMENT = "inbound-form/inbound-form"
REVIEW_DEPLOYMENT = "review-lead/review"


@dataclass
class Posted:
    """What the client saw: per post its send time, latency and answer."""

    sent: list[float]
    latency: list[float]
    status: list[int]
    accepted: list[str]
    first: float
    last: float

    @property
    def rate(self) -> float:
        return len(self.sent) / (self.last - self.first)


async def _post_all(url: str, bodies: list[dict[str, Any]], rate: float, clients: int) -> Posted:
    """Open loop: post i is sent at start + i/rate by one of `clients` connections."""
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    gate = asyncio.Semaphore(clients)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        start = time.perf_counter() + 0.2

        async def one(i: int, body: dict[str, Any]) -> tuple[float, float, int, str | None]:
            await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
            raw, headers = signed(body)
            async with gate:
                sent = time.perf_counter()
                try:
                    answer = await client.post(url, content=raw, headers=headers)
                except httpx.HTTPError:
                    return sent, time.perf_counter() - sent, 0, None
                took = time.perf_counter() - sent
            sid = answer.json().get("submission_id") if answer.status_code == 202 else None
            return sent, took, answer.status_code, sid

        results = await asyncio.gather(*(one(i, b) for i, b in enumerate(bodies)))
    sent = [r[0] for r in results]
    return Posted(
        sent=sent,
        latency=[r[1] for r in results],
        status=[r[2] for r in results],
        accepted=[r[3] for r in results if r[3]],
        first=min(sent),
        last=max(r[0] + r[1] for r in results),
    )


def _borderline_runs(prefix: str) -> dict[str, str | None]:
    """in_review lead id -> its review's flow run id (None until the review run exists)."""
    from sqlmodel import col, select

    from models.tables import Lead, RawSubmission, Review

    with reading() as session:
        leads = set(
            session.exec(
                select(Lead.id)
                .join(RawSubmission, col(RawSubmission.lead_id) == col(Lead.id))
                .where(col(RawSubmission.id).startswith(f"{prefix}-"))
                .where(col(Lead.status) == "in_review")
            ).all()
        )
        reviews = session.exec(
            select(Review.lead_id, Review.flow_run_id).where(col(Review.lead_id).in_(leads))
        ).all()
    found: dict[str, str | None] = dict.fromkeys(leads)
    found.update({lead: run for lead, run in reviews})
    return found


def _statuses(prefix: str) -> Counter[str]:
    from sqlmodel import col, select

    from models.tables import Lead, RawSubmission

    with reading() as session:
        rows = session.exec(
            select(Lead.id, Lead.status)
            .join(RawSubmission, col(RawSubmission.lead_id) == col(Lead.id))
            .where(col(RawSubmission.id).startswith(f"{prefix}-"))
            .distinct()
        ).all()
    return Counter(status for _, status in rows)


async def _deployment_ids() -> dict[str, str]:
    from prefect.client.orchestration import get_client

    async with get_client() as client:
        names = (
            CHANNEL_DEPLOYMENT,
            REVIEW_DEPLOYMENT,
            "intake-sweep/intake-sweep",
            "webinar/webinar",
            "review-sweep/review-sweep",
            "sla-watch/sla-watch",
            "recheck/recheck",
        )
        return {str((await client.read_deployment_by_name(n)).id): n for n in names}


async def _runs_since(since: float) -> tuple[Counter[str], int]:
    """Flow runs started since `since`, by deployment, and the task runs started since."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterStartTime

    names = await _deployment_ids()
    after: Any = dt.datetime.fromtimestamp(since, tz=dt.UTC)
    by_deployment: Counter[str] = Counter()
    async with get_client() as client:
        offset = 0
        while True:
            page = await client.read_flow_runs(
                flow_run_filter=FlowRunFilter(start_time=FlowRunFilterStartTime(after_=after)),
                limit=200,
                offset=offset,
            )
            # The server matches a run not started yet on its expected start: keep started ones.
            by_deployment.update(
                names.get(str(r.deployment_id), "other")
                for r in page
                if r.start_time is not None and r.start_time >= after
            )
            if len(page) < 200:
                break
            offset += 200
        tasks = await count_task_runs(client, after)
    return by_deployment, tasks


def channel_runs_settled(seconds: float) -> None:
    """Wait until no inbound-form run is scheduled, pending or running (a run queued behind the
    deployment's concurrency limit retries about every 30 s)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterId,
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType

    busy = FlowRunFilterStateType(any_=[StateType.SCHEDULED, StateType.PENDING, StateType.RUNNING])
    with get_client(sync_client=True) as client:
        channel = client.read_deployment_by_name(CHANNEL_DEPLOYMENT).id
        wait_for(
            lambda: (
                not client.count_flow_runs(
                    flow_run_filter=FlowRunFilter(state=FlowRunFilterState(type=busy)),
                    deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[channel])),
                )
            ),
            "inbound-form runs still queued",
            seconds,
            every=0.2,
        )


async def task_times(since: float) -> dict[str, tuple[int, float, float]]:
    """Task name -> (runs, total seconds, longest seconds) of task runs started since `since`."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import TaskRunFilter, TaskRunFilterStartTime

    after: Any = dt.datetime.fromtimestamp(since, tz=dt.UTC)
    spans: dict[str, list[float]] = {}
    async with get_client() as client:
        offset = 0
        while True:
            page = await client.read_task_runs(
                task_run_filter=TaskRunFilter(start_time=TaskRunFilterStartTime(after_=after)),
                limit=200,
                offset=offset,
            )
            for run in page:
                if run.start_time and run.end_time:
                    name = run.name.rsplit("-", 1)[0]
                    spans.setdefault(name, []).append(
                        (run.end_time - run.start_time).total_seconds()
                    )
            if len(page) < 200:
                break
            offset += 200
    return {name: (len(v), sum(v), max(v)) for name, v in spans.items()}


async def pending_events(since: float, until: float) -> list[float]:
    """When each `medleads.submissions.pending` event occurred (unix seconds)."""
    from prefect.client.orchestration import get_client

    body = {
        "filter": {
            "occurred": {
                "since": dt.datetime.fromtimestamp(since, tz=dt.UTC).isoformat(),
                "until": dt.datetime.fromtimestamp(until, tz=dt.UTC).isoformat(),
            },
            "event": {"name": ["medleads.submissions.pending"]},
        },
        "limit": 50,
    }
    times: list[float] = []
    async with get_client() as client:
        answer = (await client._client.post("/events/filter", json=body)).json()
        while True:
            times += [
                dt.datetime.fromisoformat(e["occurred"]).timestamp() for e in answer["events"]
            ]
            if not answer.get("next_page"):
                break
            answer = (await client._client.get(answer["next_page"])).json()
    return sorted(times)


def warm_up(s: BenchStack, prefix: str) -> None:
    """One form through the whole path, so the burst does not pay for cold caches."""
    (body,) = forms(1, prefix, seed=3)
    raw, headers = signed(body)
    httpx.post(f"{s.intake_url}/v1/forms", content=raw, headers=headers, timeout=10)
    wait_for(
        lambda: stored_states(prefix).get(body["submission_id"], ("",))[0] == "done",
        "the warm-up form was not decided",
        120,
    )
    channel_runs_settled(120)


def naive(s: BenchStack, count: int, prefix: str) -> tuple[float, float, float]:
    """`count` leads, one inbound-form flow run each (created through the Prefect API, one at a
    time: the deployment runs one at a time). Returns (leads/s, flow runs per lead, seconds)."""
    from prefect.client.orchestration import get_client

    from adapters.submissions import store_submissions
    from intake.app import FORM_SOURCE
    from qualification.submission import submission_from_mapping

    bodies = forms(count, prefix, seed=11)
    started_at = time.time()
    clock = time.perf_counter()
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name(CHANNEL_DEPLOYMENT)
        for body in bodies:
            store_submissions([(submission_from_mapping(body, channel="form"), body)], FORM_SOURCE)
            run = client.create_flow_run_from_deployment(
                deployment.id, idempotency_key=f"naive-{body['submission_id']}"
            )

            def final(run_id: Any = run.id) -> bool:
                state = client.read_flow_run(run_id).state
                return bool(state and state.is_final())

            wait_for(final, "a naive flow run did not finish", 120, every=0.1)
    wait_for(
        lambda: all(st == "done" for st, _ in stored_states(prefix).values()),
        "the naive leads were not decided",
        60,
    )
    seconds = time.perf_counter() - clock
    runs, _ = asyncio.run(_runs_since(started_at))
    made = runs[CHANNEL_DEPLOYMENT] + runs[REVIEW_DEPLOYMENT]
    return count / seconds, made / count, seconds


def measure(
    postgres: bool = False,
    posts: int = 1000,
    rate: float = 125.0,
    clients: int = 16,
    naive_leads: int = 10,
    trigger_seconds: float | None = None,
) -> list[Figure]:
    """Start a stack, post the burst, wait for every decision and review run; then the naive
    comparison on the same stack. Everything is stopped and dropped afterwards."""
    db = "PostgreSQL" if postgres else "SQLite"
    bench = f"{BENCH} ({db})"
    tag = f"{int(time.time())}"
    prefix = f"burst-{tag}"
    clock = time.perf_counter()
    with bench_stack(postgres=postgres, trigger_seconds=trigger_seconds) as s:
        warm_up(s, f"warm-{tag}")
        bodies = forms(posts, prefix)
        t0 = time.time()
        posted = asyncio.run(_post_all(f"{s.intake_url}/v1/forms", bodies, rate, clients))
        accepted = set(posted.accepted)

        def all_decided() -> bool:
            states = stored_states(prefix)
            return all(states.get(sid, ("",))[0] == "done" for sid in accepted)

        wait_for(all_decided, "not every posted form was decided", 300, every=0.25)
        decided_at = time.perf_counter()
        decided_after, decided_in = decided_at - posted.last, decided_at - posted.first

        def all_suspended() -> dict[str, str | None] | None:
            runs = _borderline_runs(prefix)
            ids = [r for r in runs.values() if r]
            if len(ids) < len(runs):
                return None
            states = run_states(ids)
            return runs if all(states.get(r) == "Suspended" for r in ids) else None

        borderline = wait_for(all_suspended, "review runs not all Suspended", 300, every=1)
        suspended_after = time.perf_counter() - posted.last
        channel_runs_settled(180)
        runs, tasks = asyncio.run(_runs_since(t0))
        events = asyncio.run(pending_events(t0, time.time()))
        spent = asyncio.run(task_times(t0))
        states = stored_states(prefix)
        lost = sum(1 for sid in accepted if states.get(sid, ("", None))[0] != "done")
        refused = sum(1 for st in posted.status if st != 202)
        statuses = _statuses(prefix)
        naive_rate, naive_runs, naive_seconds = (
            naive(s, naive_leads, f"naive-{tag}") if naive_leads else (0.0, 0.0, 0.0)
        )
        started_in = s.started_in
    total = time.perf_counter() - clock
    p50, p99 = percentile(posted.latency, 50) * 1000, percentile(posted.latency, 99) * 1000
    burst_rate = len(accepted) / decided_in
    flow_runs = sum(runs.values())
    figures = [
        Figure(bench, "intake latency p50", f"{p50:.1f} ms"),
        Figure(bench, "intake latency p99", f"{p99:.1f} ms", "< 100 ms", p99 < 100),
        Figure(
            bench,
            "posts/s achieved",
            f"{posted.rate:.0f} ({posts} posts)",
            ">= 100/s",
            posted.rate >= 100,
        ),
        Figure(bench, "refused or failed posts", str(refused), "0", refused == 0),
        Figure(bench, "lost (202 but not stored and decided)", str(lost), "0", lost == 0),
        Figure(
            bench,
            "last post -> all decided (borderline: in_review)",
            f"{decided_after:.1f} s",
            "<= 60 s",
            decided_after <= 60,
        ),
        Figure(
            bench,
            f"last post -> {len(borderline)} review runs Suspended",
            f"{suspended_after:.1f} s",
            "<= 300 s",
            suspended_after <= 300,
        ),
        Figure(
            bench,
            "flow runs (by deployment)",
            f"{flow_runs}: " + ", ".join(f"{n.split('/')[0]} {c}" for n, c in runs.items()),
            f"< {posts // 10}",
            flow_runs < posts // 10,
        ),
        Figure(bench, "task runs", str(tasks), f"< {posts // 2}", tasks < posts // 2),
        Figure(bench, "pending events emitted by the intake", str(len(events))),
        Figure(
            bench,
            "task time (runs, total, longest)",
            "; ".join(
                f"{name} {n}x {total:.1f}s max {most:.1f}s"
                for name, (n, total, most) in sorted(spent.items(), key=lambda kv: -kv[1][1])[:6]
            ),
        ),
        Figure(bench, "statuses", ", ".join(f"{k} {v}" for k, v in statuses.most_common())),
        Figure(bench, "burst: submissions decided/s (first post -> all)", f"{burst_rate:.1f}"),
    ]
    if naive_leads:
        figures += [
            Figure(
                bench,
                f"naive: one flow run per lead ({naive_leads} leads)",
                f"{naive_rate:.2f} decided/s, {naive_runs:.2f} flow runs/lead "
                f"({naive_seconds:.0f} s)",
            ),
            Figure(bench, "burst vs naive decided/s", f"{burst_rate / naive_rate:.0f}x"),
        ]
    figures.append(
        Figure(bench, "benchmark wall time", f"{total:.0f} s (stack start {started_in:.0f} s)")
    )
    return figures


def interrupt(signum: int, frame: object) -> None:
    """A plain `kill` stops the stack too, as Ctrl-C does."""
    raise KeyboardInterrupt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--postgres", action="store_true", help="Prefect and app DB on PostgreSQL")
    parser.add_argument("--posts", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=125.0, help="posts per second offered")
    parser.add_argument("--clients", type=int, default=16, help="concurrent connections")
    parser.add_argument("--naive", type=int, default=10, help="leads for the naive comparison")
    parser.add_argument(
        "--trigger-seconds", type=float, help="the intake's trigger window (default: the setting)"
    )
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, interrupt)
    figures = measure(
        args.postgres, args.posts, args.rate, args.clients, args.naive, args.trigger_seconds
    )
    print_figures(figures, f"Intake burst ({'PostgreSQL' if args.postgres else 'SQLite'})")


if __name__ == "__main__":
    main()
