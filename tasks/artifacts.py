"""Run summaries as Prefect artifacts: counts and per-lead status, never free text."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from sqlmodel import col, func, select

from models.db import session_scope
from models.tables import Handoff, SentEmail

from .apply import SUMMARY_ROWS, ApplyResult
from .deliver import DeliveryReport
from .store import IngestReport

MAX_ROWS = SUMMARY_ROWS
MAX_FAILED_SHOWN = 20


@dataclass
class RunSummary:
    """Everything one channel run did, for the artifact, the CLI and tests."""

    channel: str
    processed: int = 0
    new_leads: int = 0
    attached: int = 0
    chunks: int = 0
    stored: int = 0
    already_stored: int = 0
    rejected: int = 0
    rejection_report: str | None = None
    emails_sent: int = 0
    emails_skipped: int = 0
    handoffs: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    bands: Counter[str] = field(default_factory=Counter)
    review_lead_ids: list[str] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    # Submissions the database refused even alone: (id, why), marked failed.
    failed: list[tuple[str, str]] = field(default_factory=list)
    # File-level remarks of the ingest: the list preset used, the columns it ignored.
    notes: list[str] = field(default_factory=list)
    # The emails and handoffs this run queued: its counts are theirs, whichever delivery pass
    # (this run's, another run's, the delivery flow's) sent them.
    email_keys: list[str] = field(default_factory=list)
    handoff_keys: list[str] = field(default_factory=list)

    def add_chunk(self, applied: ApplyResult) -> None:
        self.chunks += 1
        self.processed += len(applied.lead_ids)
        self.new_leads += applied.new_leads
        self.attached += applied.attached
        self.statuses.update(applied.statuses)
        self.bands.update(applied.bands)
        self.review_lead_ids += applied.review_lead_ids
        self.failed += applied.failed
        self.email_keys += applied.email_keys
        self.handoff_keys += applied.handoff_keys
        self.rows += applied.rows[: max(0, MAX_ROWS - len(self.rows))]

    @property
    def did_nothing(self) -> bool:
        """Nothing claimed, stored or rejected: a sweep or a late event that found no work."""
        return not (self.processed or self.stored or self.already_stored or self.rejected)

    def add_ingest(self, report: IngestReport) -> None:
        self.stored, self.already_stored = report.stored, report.already_stored
        self.rejected, self.rejection_report = report.rejected, report.rejection_report
        self.notes = list(report.notes)

    def add_delivery(self, emails: DeliveryReport, handoffs: DeliveryReport) -> None:
        self.emails_skipped += emails.skipped


def _count_done(model: Any, keys: list[str], done: str) -> int:
    total = 0
    with session_scope() as session:
        for start in range(0, len(keys), 1000):
            total += int(
                session.exec(
                    select(func.count())
                    .select_from(model)
                    .where(
                        col(model.idempotency_key).in_(keys[start : start + 1000]),
                        col(model.state) == done,
                    )
                ).one()
            )
    return total


@task(name="count-own-deliveries", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=1)
def count_own_deliveries(summary: RunSummary) -> tuple[int, int]:
    """(emails sent, handoffs delivered) of what this run queued."""
    return (
        _count_done(SentEmail, summary.email_keys, "sent"),
        _count_done(Handoff, summary.handoff_keys, "delivered"),
    )


@task(name="publish-summary", cache_policy=NO_CACHE)
def publish_summary(summary: RunSummary) -> None:
    """The run's counts and per-lead table; a run that found nothing to do publishes nothing (the
    latest summary stays the last run that did work)."""
    if summary.did_nothing:
        return
    key = f"{summary.channel}-run-summary"
    lines = [
        f"# {summary.channel} run",
        "",
        f"- submissions processed: **{summary.processed}** in {summary.chunks} chunk(s)",
        f"- new leads: {summary.new_leads}; attached to existing leads: {summary.attached}",
        f"- emails sent: {summary.emails_sent} of {len(summary.email_keys)} this run queued; "
        f"handoffs delivered: {summary.handoffs} of {len(summary.handoff_keys)}",
        f"- leads waiting for review: {len(summary.review_lead_ids)}",
    ]
    if summary.failed:
        lines.append(
            f"- **failed: {len(summary.failed)}** submission(s) the database refused, set aside "
            "so the others went on (`medleads leads failed`):"
        )
        lines += [f"  - `{sid}`: {why}" for sid, why in summary.failed[:MAX_FAILED_SHOWN]]
    if summary.stored or summary.rejected:
        lines.append(
            f"- rows stored: {summary.stored} (already stored: {summary.already_stored}); "
            f"rejected: {summary.rejected}"
            + (f" — report `{summary.rejection_report}`" if summary.rejection_report else "")
        )
    lines += ["", "| status | leads |", "|---|---|"]
    lines += [f"| {status} | {n} |" for status, n in summary.statuses.most_common()]
    lines += ["", "| fit / intent band | leads |", "|---|---|"]
    lines += [f"| {band} | {n} |" for band, n in summary.bands.most_common()]
    create_markdown_artifact(key=key, markdown="\n".join(lines), description="Counts")
    if summary.rows:
        shown = len(summary.rows)
        create_table_artifact(
            key=f"{summary.channel}-run-leads",
            table=summary.rows,
            description=(
                f"Per lead: status, bands, owner and top reason ({shown} of {summary.processed}; "
                "all: `medleads leads list`)."
            ),
        )
