"""`make bench-cluster`: the failover drill of issue 14 on `medleads cluster up` (DESIGN §7).

Signed form posts through the load balancer (which spreads them over both intake replicas) and
an outbound list run by the `outbound-list` deployment, at the same time; during them, kill -9 of
one Prefect API replica in the middle of the posts and of the worker running the list (and its
flow-run process) in the middle of a chunk. Nothing is started by hand afterwards: the
`intake-sweep` deployment takes over the killed run's claims once Prefect marks it Crashed.

Checked: every post answered 202, every submission stored once and decided once, every email
received once by the SMTP server and every handoff acknowledged once by the CRM stand-in (one in
flight at the kill may be resent under its key, as docs/reliability.md says), every borderline
lead's review run suspended and then resumed through the load balancer. Figures: decided/s, and
from each kill to recovery.

Run: `python -m benchmarks.cluster_drill [--quick] [--no-record]` (haproxy, PostgreSQL and Redis
as `make cluster` needs them). It uses databases and a Redis database of its own, dropped after.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import os
import signal
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .figures import Figure, print_figures

BENCH = "cluster drill"
PAGE = 200  # flow runs per API read (the server's default limit)
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DRILL_ENV = {
    "MEDLEADS_CLUSTER_PREFECT_DB": "medleads_drill_prefect",
    "MEDLEADS_CLUSTER_APP_DB": "medleads_drill_app",
    "MEDLEADS_CLUSTER_REDIS_DB": "10",
}


@dataclass(frozen=True)
class Sizes:
    posts: int
    rows: int
    rate: float  # posts per second
    seconds: float  # to settle after the last kill
    reviews: int | None  # reviews to resume through the load balancer (None: every one)
    batch: int  # the list's chunk size: enough chunks that a kill lands inside one

    @classmethod
    def of(cls, quick: bool) -> Sizes:
        if quick:
            return cls(200, 2_000, 30, 900, None, 200)
        return cls(3_000, 50_000, 50, 1_800, 30, 1_000)


@dataclass
class Drill:
    """What the drill measured; `problems` are promises broken."""

    sizes: Sizes
    figures: list[Figure] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def figure(self, name: str, value: str, target: str = "", met: bool | None = None) -> None:
        self.figures.append(Figure(BENCH, name, value, target, met))
        if met is False:
            self.problems.append(f"{name}: {value} (target {target})")


# --- processes ----------------------------------------------------------------------------------


def flow_run_process(flow_run_id: str) -> int | None:
    """The process running a flow run (its environment names the run)."""
    marker = f"PREFECT__FLOW_RUN_ID={flow_run_id}".encode()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker in (entry / "environ").read_bytes().split(b"\0"):
                    return int(entry.name)
            except OSError:
                continue
    return None


def parent(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


# --- databases ----------------------------------------------------------------------------------


def reset(t: Any) -> None:
    """Drop the topology's databases and empty its Redis databases."""
    import redis
    import sqlalchemy as sa

    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for name in (t.prefect_db, t.app_db):
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
    for url in (t.messaging_url, t.docket_url):
        client = redis.Redis.from_url(url)
        client.flushdb()
        client.close()


def states(url: str, channel: str | None = None) -> Counter[str]:
    from sqlmodel import col, func, select

    from models.db import session_scope
    from models.tables import RawSubmission

    query = select(RawSubmission.state, func.count()).group_by(col(RawSubmission.state))
    if channel:
        query = query.where(col(RawSubmission.channel) == channel)
    with session_scope(url) as session:
        return Counter({state: n for state, n in session.exec(query).all()})


def held_by(url: str, run_id: str) -> int:
    """Submissions a run has claimed and not finished."""
    from sqlmodel import col, func, select

    from models.db import session_scope
    from models.tables import RawSubmission

    with session_scope(url) as session:
        query = select(func.count()).where(
            col(RawSubmission.state) == "claimed", col(RawSubmission.claimed_by) == run_id
        )
        return int(session.exec(query).one())


def decided_more_than_once(url: str) -> int:
    from sqlmodel import col, func, select

    from models.db import session_scope
    from models.tables import DecisionRecord

    with session_scope(url) as session:
        twice = (
            select(DecisionRecord.submission_id)
            .group_by(col(DecisionRecord.submission_id))
            .having(func.count() > 1)
        )
        return len(session.exec(twice).all())


# --- the drill ------------------------------------------------------------------------------------


def _list_run(path: Path, batch: int) -> str:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name("outbound-list/outbound-list")
        run = client.create_flow_run_from_deployment(
            deployment.id, parameters={"file": str(path), "batch_size": batch}
        )
    return str(run.id)


def _run_state(run_id: str) -> str:
    from uuid import UUID

    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        state = client.read_flow_run(UUID(run_id)).state
    return state.type.value if state else "?"


def _probe_api(t: Any, seconds: float) -> tuple[int, int, float]:
    """Requests to the API through the load balancer for `seconds`: (tried, failed, seconds
    from the start to the last failure)."""
    import httpx

    tried = failed = 0
    last = 0.0
    start = time.monotonic()
    with httpx.Client(timeout=5) as client:
        while (now := time.monotonic()) - start < seconds:
            tried += 1
            try:
                ok = client.get(f"{t.api_url}/health").status_code == 200
            except httpx.HTTPError:
                ok = False
            if not ok:
                failed += 1
                last = now - start
            time.sleep(0.05)
    return tried, failed, last


def run(t: Any, mailbox: Any, crm: Any, sizes: Sizes, log: Callable[[str], None]) -> Drill:
    """The drill on a cluster that is up, with the SMTP server and CRM stand-in of the chaos
    suite as its receivers."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from cli.cluster import _pid

    from .chaos import Answer, _send, plain_cases, valid_forms
    from .outbound_list import write_list

    d = Drill(sizes)
    url = t.app_database_url
    before = states(url)
    forms_before = states(url, "form")["done"]
    folder = t.data / "drill"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"prospects-{sizes.rows}.csv"
    write_list(path, sizes.rows)
    tag = str(int(time.time()))
    bodies = valid_forms(sizes.posts, f"drill{tag}-{tag}", seed=71)
    for i, body in enumerate(bodies):  # about half the people consent to email
        body["consent_email"] = "yes" if i % 2 else ""
    cases = plain_cases(bodies)
    answers: list[Answer] = []
    kills: dict[str, float] = {}

    with temporary_settings({PREFECT_API_URL: t.api_url}):
        started = time.monotonic()
        since = time.time()
        list_run = _list_run(path, sizes.batch)
        last_post: list[float] = []

        def send() -> None:
            answers.extend(asyncio.run(_send(f"{t.intake_url}/v1/forms", cases, 8, sizes.rate)))
            last_post.append(time.monotonic())

        poster = threading.Thread(target=send)
        poster.start()

        # An API replica dies in the middle of the posts; the API is probed through the load
        # balancer for 10 s after, alongside (the list can be over in those 10 s at the quick
        # size, and its worker must still be killed mid-chunk).
        time.sleep(sizes.posts / sizes.rate / 2)
        victim = _pid(t, "api-1")
        probed: list[tuple[int, int, float]] = []
        prober = threading.Thread(target=lambda: probed.append(_probe_api(t, 10)))
        if victim is None:
            d.problems.append("api-1 was not running")
        else:
            os.kill(victim, signal.SIGKILL)
            kills["api"] = time.monotonic()
            log(f"   killed api-1 {kills['api'] - started:.0f} s in")
            prober.start()

        # The worker running the list dies in the middle of a chunk: rows the list's own run
        # holds (the minutely intake-sweep may be draining the same list on the other worker).
        def mid_chunk() -> bool:
            done = states(url, "outbound")["done"]
            return done >= sizes.rows // 5 and held_by(url, list_run) > 0

        engine = worker = None
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            if mid_chunk():
                engine = flow_run_process(list_run)
                if engine is not None:
                    worker = parent(engine)
                    break
            elif states(url, "outbound")["done"] >= sizes.rows // 5 and _run_state(list_run) in (
                "COMPLETED",
                "FAILED",
                "CRASHED",
            ):
                break  # over before a kill could land: say so below
            time.sleep(0.1)
        if engine is None or worker is None:
            d.problems.append(
                f"the list's run held no chunk to be killed in (run {_run_state(list_run)}, "
                f"rows {dict(states(url, 'outbound'))})"
            )
        else:
            mid = states(url, "outbound")
            for pid in (worker, engine):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            kills["worker"] = time.monotonic()
            log(f"   killed the list's worker {kills['worker'] - started:.0f} s in: {dict(mid)}")
            d.notes.append(
                f"worker killed with {mid['done']} rows decided and {mid['claimed']} claimed"
            )
        if prober.is_alive() or probed:
            prober.join()
            tried, failed, last = probed[0]
            d.figure(
                "API replica killed mid-burst: health checks through the load balancer",
                f"{failed} of {tried} failed in the 10 s after the kill"
                + (f", the last {last:.1f} s after it" if failed else ""),
            )
        poster.join()
        posted = (last_post[0] if last_post else time.monotonic()) - started
        statuses = Counter(a.status for a in answers)
        d.figure(
            "posts through the load balancer",
            f"{len(answers)} in {posted:.0f} s: "
            + ", ".join(f"HTTP {k} x{v}" for k, v in sorted(statuses.items())),
            f"{sizes.posts} x 202",
            statuses == Counter({202: sizes.posts}),
        )

        # Everything decided, without a run started by hand.
        expected = sizes.posts + sizes.rows
        crashed_at: float | None = None
        posts_decided: float | None = None
        deadline = time.monotonic() + sizes.seconds
        while True:
            now = states(url)
            done = now["done"] - before["done"]
            if posts_decided is None and states(url, "form")["done"] >= forms_before + sizes.posts:
                posts_decided = time.monotonic()
            if crashed_at is None and "worker" in kills and _run_state(list_run) == "CRASHED":
                crashed_at = time.monotonic()
            if done >= expected and not now["pending"] and not now["claimed"]:
                break
            if time.monotonic() > deadline:
                d.problems.append(f"not all decided within {sizes.seconds:.0f} s: {dict(now)}")
                break
            time.sleep(1)
        all_decided = time.monotonic()
        log(f"   all decided {all_decided - started:.0f} s in")
        elapsed = all_decided - started
        d.figure(
            "submissions decided (posts + list rows)",
            f"{done:,} of {expected:,} in {elapsed:.0f} s = {done / elapsed:.0f} decided/s "
            "(both kills included)",
            f"= {expected:,}",
            done == expected,
        )
        failed = now["failed"] - before["failed"]
        twice = decided_more_than_once(url)
        d.figure(
            "decided twice / failed",
            f"{twice} / {failed}",
            "0 / 0",
            twice == 0 and failed == 0,
        )
        if "worker" in kills:
            crashed = f"Crashed after {crashed_at - kills['worker']:.0f} s, " if crashed_at else ""
            d.figure(
                "worker killed mid-chunk: to recovery",
                f"{crashed}every row decided {all_decided - kills['worker']:.0f} s after the kill "
                "(claims taken over by intake-sweep)",
            )
        if "api" in kills and posts_decided is not None:
            d.figure(
                "API replica killed mid-burst: to recovery",
                f"every post decided {posts_decided - kills['api']:.0f} s after the kill "
                f"({posts_decided - started - posted:.0f} s after the last post)",
            )

        reviews = _reviews(d, t, sizes.reviews, log)
        delivered = _delivery(d, mailbox, crm, url, since)
        d.notes.append(f"reviews {reviews}, delivery {delivered}")
    return d


def _reviews(d: Drill, t: Any, sample: int | None, log: Callable[[str], None]) -> str:
    """Review runs suspended, then resumed through the load balancer (the answer a reviewer
    would give in the UI: the proposed outcome) and decided: all of them, or with `sample` the
    first that many to suspend while the rest keep waiting (each review is a flow run of 2-3
    CPU-seconds here: hundreds do not fit in a drill on two cores)."""
    from uuid import UUID

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterId,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType

    from cli.review import answer_of
    from tasks.criteria import active_criteria
    from tasks.review import pending_reviews, resume_review, reviewers_of

    def look() -> tuple[list[dict[str, Any]], list[str]]:
        """The pending reviews, and the ids of those whose run is suspended (one filtered
        query a page, not a request per review: hundreds of those would load the API)."""
        waiting = pending_reviews()
        runs = [UUID(r["flow_run_id"]) for r in waiting if r["flow_run_id"]]
        suspended: set[str] = set()
        with get_client(sync_client=True) as client:
            for start in range(0, len(runs), PAGE):
                found = client.read_flow_runs(
                    flow_run_filter=FlowRunFilter(
                        id=FlowRunFilterId(any_=runs[start : start + PAGE]),
                        state=FlowRunFilterState(
                            type=FlowRunFilterStateType(any_=[StateType.PAUSED])
                        ),
                    ),
                    limit=PAGE,
                )
                suspended |= {str(run.id) for run in found}
        return waiting, [r["review_id"] for r in waiting if r["flow_run_id"] in suspended]

    clock = time.monotonic()
    deadline = clock + 900
    while True:
        waiting, paused = look()
        enough = len(paused) == len(waiting) or (sample is not None and len(paused) >= sample)
        if enough or time.monotonic() > deadline:
            break
        time.sleep(5)
    wanted = len(waiting) if sample is None else min(sample, len(waiting))
    picked = paused[:wanted]
    d.figure(
        "borderline leads: review runs suspended",
        f"{len(paused)} of {len(waiting)} suspended {time.monotonic() - clock:.0f} s after "
        "everything was decided"
        + ("" if sample is None else f" (waited for {wanted}; the rest queue for a worker slot)"),
        "all" if sample is None else f">= {wanted}",
        len(picked) == wanted,
    )
    log(f"   {len(paused)} of {len(waiting)} reviews suspended; resuming {len(picked)} via the LB")
    reviewer = reviewers_of(active_criteria())[0]
    clock = time.monotonic()
    refused = 0
    by_id = {r["review_id"]: r for r in waiting}
    for review_id in picked:
        proposed = by_id[review_id]["proposed_status"]
        option = "approve_sql" if proposed == "sql" else "route_mql"
        try:
            resume_review(review_id, answer_of(option, reviewer, "cluster drill"))
        except (LookupError, PermissionError, ValueError) as exc:
            refused += 1
            log(f"   review {review_id[:8]} refused: {exc}")
    deadline = time.monotonic() + 900
    while True:
        still = {r["review_id"] for r in pending_reviews()} & set(picked)
        if not still or time.monotonic() > deadline:
            break
        time.sleep(2)
    d.figure(
        "borderline leads: resumed through the load balancer and decided",
        f"{len(picked) - refused} of {len(picked)} resumed, {len(still)} not decided "
        f"{time.monotonic() - clock:.0f} s later",
        f"{wanted} resumed and decided",
        refused == 0 and not still and len(picked) == wanted,
    )
    return f"{len(waiting)} borderline, {len(picked)} resumed"


def _delivery(
    d: Drill,
    mailbox: Any,
    crm: Any,
    url: str,
    since: float,
) -> str:
    """Every email received once, every handoff acknowledged once (waiting up to 5 minutes)."""
    from sqlmodel import col, select

    from models.db import session_scope
    from models.tables import Handoff, SentEmail

    from .chaos import crashed_runs, delivered

    after = dt.datetime.fromtimestamp(since, tz=dt.UTC)
    deadline = time.monotonic() + 300
    while True:
        with session_scope(url) as session:
            emails = session.exec(
                select(SentEmail.idempotency_key, SentEmail.state).where(
                    col(SentEmail.created_at) >= after
                )
            ).all()
            handoffs = session.exec(
                select(Handoff.idempotency_key, Handoff.state, Handoff.error).where(
                    col(Handoff.created_at) >= after
                )
            ).all()
        got = delivered(emails, handoffs, mailbox, crm)
        if not (got.emails_missing or got.handoffs_missing) or time.monotonic() > deadline:
            break
        time.sleep(2)
    crashed = crashed_runs(since)
    queued, in_doubt, resent = got.emails_queued, got.emails_in_doubt, got.handoffs_resent
    d.figure(
        "emails received by the SMTP server",
        f"{len(queued) - len(got.emails_missing)} of {len(queued)} once, "
        f"{len(got.emails_twice)} twice, {len(in_doubt)} in doubt (in flight at the kill)",
        f"all once, in doubt <= {crashed} (runs Crashed)",
        not got.emails_missing and not got.emails_twice and len(in_doubt) <= crashed,
    )
    d.figure(
        "handoffs acknowledged by the CRM",
        f"{len(handoffs) - len(got.handoffs_missing)} of {len(handoffs)}, "
        f"{len(got.handoffs_twice)} twice, {len(resent)} resent under their key (in flight at "
        "the kill)",
        f"all once, resent <= {crashed} (runs Crashed)",
        not got.handoffs_missing and not got.handoffs_twice and len(resent) <= crashed,
    )
    return f"{len(queued)} emails, {len(handoffs)} handoffs, {crashed} runs Crashed"


# --- one throwaway cluster ------------------------------------------------------------------------


@contextlib.contextmanager
def drill_cluster(log: Callable[[str], None] = print) -> Iterator[tuple[Any, Any, Any]]:
    """A cluster of its own (databases, Redis database, data folder) with the chaos suite's
    SMTP server and CRM stand-in as receivers; everything stopped and dropped afterwards."""
    from cli.cluster import _marked, down, topology, up
    from models.db import dispose_engines
    from models.settings import get_settings

    from .chaos import CRM_SECRET, receivers
    from .stack import SECRET

    saved = dict(os.environ)
    with (
        tempfile.TemporaryDirectory(prefix="medleads-drill-") as home,
        receivers() as (
            mailbox,
            crm,
        ),
    ):
        os.environ.update(
            {
                **DRILL_ENV,
                "MEDLEADS_DATA_DIR": str(Path(home) / "data"),
                "MEDLEADS_INTAKE_SECRET": SECRET,
                "MEDLEADS_SMTP_URL": mailbox.url,
                "MEDLEADS_CRM_WEBHOOK_URL": crm.url,
                "MEDLEADS_CRM_WEBHOOK_SECRET": CRM_SECRET,
                "MEDLEADS_DELIVERY_RETRY_SECONDS": "5",
            }
        )
        get_settings.cache_clear()
        t = topology()
        reset(t)
        os.environ["MEDLEADS_DATABASE_URL"] = t.app_database_url
        get_settings.cache_clear()
        try:
            clock = time.monotonic()
            up(log=lambda line: None)
            log(f"cluster up in {time.monotonic() - clock:.0f} s ({t.home})")
            yield t, mailbox, crm
        finally:
            down(log=lambda line: None)
            left = _marked(t)
            dispose_engines()
            reset(t)
            os.environ.clear()
            os.environ.update(saved)
            get_settings.cache_clear()
            if left:
                log(f"processes left running after down: {left}")


def measure(quick: bool = False, log: Callable[[str], None] = print) -> Drill:
    sizes = Sizes.of(quick)
    with drill_cluster(log) as (t, mailbox, crm):
        log(f"-- drill: {sizes.posts} posts and a {sizes.rows:,}-row list, two kills ...")
        d = run(t, mailbox, crm, sizes, log)
        from cli.cluster import status, up

        up(log=lambda line: None)  # the killed parts back
        back = all(p["healthy"] for p in status(t)["parts"])
        d.figure(
            "`medleads cluster up` after the drill",
            "every part healthy" if back else "not all healthy",
            "all healthy",
            back,
        )
    for note in d.notes:
        log(f"   {note}")
    return d


def main() -> None:
    from .chaos import interrupt
    from .run import RESULTS, load_average, markdown

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="200 posts and 2,000 rows")
    parser.add_argument("--no-record", action="store_true", help="do not append to RESULTS.md")
    args = parser.parse_args()
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    signal.signal(signal.SIGTERM, interrupt)  # a plain `kill` stops the cluster too
    started = time.perf_counter()
    loads = [load_average()]
    drill = measure(args.quick)
    loads.append(load_average())
    seconds = time.perf_counter() - started
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    title = f"make bench-cluster, {when}" + (" (quick)" if args.quick else "")
    print_figures(drill.figures, title)
    if not args.no_record:
        with RESULTS.open("a", encoding="utf-8") as f:
            f.write(markdown(drill.figures, title, seconds, " -> ".join(loads)))
        print(f"appended to {RESULTS}")
    if drill.problems:
        print("promises not met:\n  " + "\n  ".join(drill.problems))
        raise SystemExit(1)


if __name__ == "__main__":
    main()
