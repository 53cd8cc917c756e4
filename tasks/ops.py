"""The daily ops summary artifact: what arrived, what was decided, who waits, what broke."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from prefect import task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from sqlmodel import col, func, select

from models.db import session_scope
from models.tables import DecisionRecord, Handoff, RawSubmission, SentEmail
from qualification.text import markdown_inert

from .review import inbox_url, pending_reviews, review_clock
from .sla import sla_lines

OPS_KEY = "ops-daily-summary"


@dataclass
class OpsSummary:
    since: dt.datetime
    until: dt.datetime
    arrivals: Counter[str] = field(default_factory=Counter)
    decisions: Counter[str] = field(default_factory=Counter)
    reviews: list[dict[str, Any]] = field(default_factory=list)
    breaches: list[dict[str, Any]] = field(default_factory=list)
    failures: dict[str, int] = field(default_factory=dict)


def _grouped(session: Any, column: Any, stamp: Any, since: dt.datetime) -> Counter[str]:
    rows = session.exec(select(column, func.count()).where(stamp >= since).group_by(column)).all()
    return Counter({str(key): int(n) for key, n in rows})


def ops_summary(hours: float = 24) -> OpsSummary:
    """The last `hours` of arrivals and decisions, and what waits or failed now."""
    until = review_clock()
    summary = OpsSummary(since=until - dt.timedelta(hours=hours), until=until)
    with session_scope() as session:
        summary.arrivals = _grouped(
            session, col(RawSubmission.channel), col(RawSubmission.stored_at), summary.since
        )
        summary.decisions = _grouped(
            session, col(DecisionRecord.status), col(DecisionRecord.created_at), summary.since
        )
        for name, model, state in (
            ("submissions failed", RawSubmission, "failed"),
            ("emails parked", SentEmail, "parked"),
            ("handoffs parked", Handoff, "parked"),
        ):
            summary.failures[name] = int(
                session.exec(
                    select(func.count()).select_from(model).where(col(model.state) == state)
                ).one()
            )
    summary.reviews = pending_reviews()
    summary.breaches = [line for line in sla_lines(0) if line["sla_state"] == "breached"]
    return summary


def ops_markdown(s: OpsSummary) -> str:
    """The summary as Markdown; organization names are inert, no person's data."""

    def counts(counter: Counter[str]) -> str:
        return ", ".join(f"{k} {n}" for k, n in counter.most_common()) or "none"

    lines = [
        f"# Ops summary {s.until:%Y-%m-%d %H:%M} UTC",
        "",
        # A blank line before each list: a renderer without CommonMark's "a list interrupts a
        # paragraph" (Prefect's V2 UI) runs the line and its bullets together otherwise.
        f"Since {s.since:%Y-%m-%d %H:%M} UTC:",
        "",
        f"- **arrivals:** {sum(s.arrivals.values())} ({counts(s.arrivals)})",
        f"- **decisions:** {sum(s.decisions.values())} ({counts(s.decisions)})",
        "",
        "Now:",
        "",
        f"- **reviews waiting:** {len(s.reviews)} ([inbox]({inbox_url()}))",
        f"- **SLA breaches:** {len(s.breaches)}",
        "- **failures:** " + ", ".join(f"{k} {n}" for k, n in s.failures.items()),
    ]
    if s.reviews:
        lines += ["", "| review | organization | proposed | age | SLA |", "|---|---|---|---|---|"]
        lines += [
            f"| {r['review_id'][:8]} | {markdown_inert(r['organization'] or '')} | "
            f"{r['proposed_status'] or ''} | {r['age_seconds'] / 3600:.1f} h | {r['sla_state']} |"
            for r in s.reviews
        ]
    if s.breaches:
        lines += ["", "| lead | organization | status | owner | overdue |", "|---|---|---|---|---|"]
        lines += [
            f"| {b['lead_id'][:12]} | {markdown_inert(b['organization'] or '')} | {b['status']} | "
            f"{b['owner'] or ''} | {b['overdue_hours']:.1f} h |"
            for b in s.breaches
        ]
    return "\n".join(lines) + "\n"


@task(name="publish-ops-summary", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=2)
def publish_ops_summary(hours: float = 24) -> str:
    """Publish the `ops-daily-summary` artifact; returns its one-line gist."""
    s = ops_summary(hours)
    create_markdown_artifact(
        key=OPS_KEY, markdown=ops_markdown(s), description=f"Ops summary, last {hours:g} h"
    )
    return (
        f"{sum(s.arrivals.values())} arrivals, {sum(s.decisions.values())} decisions, "
        f"{len(s.reviews)} reviews waiting, {len(s.breaches)} SLA breaches, "
        f"{sum(s.failures.values())} failures"
    )
