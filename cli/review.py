"""`medleads review`: pending reviews, and decisions given through the Prefect API like the UI."""

from __future__ import annotations

import csv
import getpass
import json
import sys
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from models.db import session_scope
from models.settings import get_settings
from models.tables import Lead, Review

from .console import OutputFormat, err, out

review_app = typer.Typer(help="Borderline leads waiting for a person.", no_args_is_help=True)
ReviewerOpt = Annotated[
    str | None,
    typer.Option("--reviewer", help="Who decides (default MEDLEADS_REVIEWER, else the OS user)."),
]
NoteOpt = Annotated[str, typer.Option("--note", help="A note kept with the decision.")]
WaitOpt = Annotated[
    float, typer.Option("--wait", help="Seconds to wait for the decision to be applied (0: none).")
]
BULK_OPTIONS = {
    "approve": "approve_sql",
    "approve_sql": "approve_sql",
    "sql": "approve_sql",
    "mql": "route_mql",
    "route_mql": "route_mql",
    "nurture": "nurture",
    "reject": "disqualify",
    "disqualify": "disqualify",
    "more_info": "need_more_info",
    "need_more_info": "need_more_info",
}


class RouteAs(StrEnum):
    mql = "mql"
    nurture = "nurture"
    more_info = "more-info"


def reviewer_name(given: str | None) -> str:
    return given or get_settings().reviewer or getpass.getuser()


def answer_of(
    option: str, reviewer: str | None, note: str, reason: str | None = None
) -> dict[str, Any]:
    """A CLI answer in the shape of the review form."""
    answer: dict[str, Any] = {
        "decision": option,
        "reviewer": reviewer_name(reviewer),
        "note": note,
        "via": "cli",
    }
    if reason is not None:
        answer["disqualification_reason"] = reason
    return answer


def _wait_applied(review_id: str, seconds: float) -> str | None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with session_scope() as session:
            review = session.get(Review, review_id)
            if review and review.state == "decided":
                lead = session.get(Lead, review.lead_id)
                return (
                    f"{lead.status} ({lead.reason}), owner {lead.owner_id or 'none'}"
                    if lead
                    else ""
                )
        time.sleep(0.5)
    return None


def decide(review_id: str, answer: dict[str, Any], wait: float) -> bool:
    """Resume one review; print what happened. False when it was refused."""
    from tasks.review import resume_review

    try:
        resume_review(review_id, answer)
    except (LookupError, PermissionError, ValueError) as exc:
        err.print(f"review {review_id}: refused: {exc}", markup=False)
        return False
    with session_scope() as session:
        from sqlmodel import col, select

        full = session.exec(select(Review.id).where(col(Review.id).startswith(review_id))).one()
    out.print(f"review {full[:8]}: {answer['decision']} sent as {answer['reviewer']}", markup=False)
    if wait > 0:
        applied = _wait_applied(full, wait)
        if applied is None:
            err.print(
                f"review {full[:8]}: not applied within {wait:.0f} s (is medleads serve running?)",
                markup=False,
            )
            return False
        out.print(f"  lead is now {applied}", markup=False)
    return True


@review_app.command("list")
def review_list(
    fmt: Annotated[
        OutputFormat, typer.Option("--format", help="table or jsonl.")
    ] = OutputFormat.table,
) -> None:
    """Pending reviews with their age and SLA state."""
    from tasks.review import pending_reviews

    lines = pending_reviews()
    if fmt is OutputFormat.jsonl:
        for line in lines:
            sys.stdout.write(json.dumps(line, ensure_ascii=False) + "\n")
        return
    table = Table(title=f"{len(lines)} review(s) waiting", title_justify="left")
    for name in ("review", "organization", "proposed", "why", "age", "SLA", "run"):
        table.add_column(name, no_wrap=True, overflow="ellipsis", max_width=40)
    for line in lines:
        table.add_row(
            line["review_id"][:8],
            line["organization"] or "",
            line["proposed_status"] or "",
            ", ".join(line["reasons"]),
            f"{line['age_seconds'] / 3600:.1f} h",
            line["sla_state"],
            (line["flow_run_id"] or "not started")[:8],
        )
    out.print(table)


@review_app.command("show")
def review_show(
    review_id: Annotated[str, typer.Argument(help="A review id or its start.")],
) -> None:
    """The scorecard the reviewer sees, plus the message and contact details."""
    from sqlmodel import col, select

    from models.tables import Contact, DecisionRecord
    from tasks.review import prepare_review, review_url

    with session_scope() as session:
        review = session.exec(select(Review).where(col(Review.id).startswith(review_id))).first()
        if review is None:
            err.print(f"no review {review_id!r}", markup=False)
            raise typer.Exit(2)
        lead = session.get(Lead, review.lead_id)
        contact = session.get(Contact, lead.contact_id) if lead else None
        record = session.get(DecisionRecord, review.decision_id or "")
        notes = record.record.get("discovery_notes") if record else None
    view = prepare_review.fn(review.id)
    out.print(view.markdown, markup=False)
    if contact:
        out.print(f"Contact: {contact.name} <{contact.email}> {contact.phone or ''}", markup=False)
    if notes and not (lead and lead.redacted):
        out.print(f"Message: {notes[:2000]}", markup=False)
    out.print(f"State: {review.state}; run: {review_url(review.flow_run_id)}", markup=False)


@review_app.command("approve")
def review_approve(
    review_id: str, reviewer: ReviewerOpt = None, note: NoteOpt = "", wait: WaitOpt = 60
) -> None:
    """Approve as SQL: hand off to sales."""
    if not decide(review_id, answer_of("approve_sql", reviewer, note), wait):
        raise typer.Exit(1)


@review_app.command("reject")
def review_reject(
    review_id: str,
    reason: Annotated[str, typer.Option("--reason", help="A disqualification reason code.")],
    reviewer: ReviewerOpt = None,
    note: NoteOpt = "",
    wait: WaitOpt = 60,
) -> None:
    """Disqualify with a reason."""
    from qualification.criteria import DISQUALIFICATION_REASONS

    if reason not in DISQUALIFICATION_REASONS:
        err.print(
            f"--reason {reason!r}: one of {', '.join(DISQUALIFICATION_REASONS)}", markup=False
        )
        raise typer.Exit(2)
    if not decide(review_id, answer_of("disqualify", reviewer, note, reason), wait):
        raise typer.Exit(1)


@review_app.command("route")
def review_route(
    review_id: str,
    route_as: Annotated[RouteAs, typer.Option("--as", help="mql, nurture or more-info.")],
    reviewer: ReviewerOpt = None,
    note: NoteOpt = "",
    wait: WaitOpt = 60,
) -> None:
    """Route as MQL, to nurture, or back to marketing for more information."""
    option = {"mql": "route_mql", "nurture": "nurture", "more-info": "need_more_info"}[route_as]
    if not decide(review_id, answer_of(option, reviewer, note), wait):
        raise typer.Exit(1)


@review_app.command("bulk")
def review_bulk(
    file: Annotated[
        Path, typer.Option("--file", exists=True, help="CSV: review_id,decision,reason,note")
    ],
    reviewer: ReviewerOpt = None,
    wait: WaitOpt = 60,
) -> None:
    """Apply a CSV of decisions; each line is applied and reported on its own."""
    failed = 0
    with file.open(newline="", encoding="utf-8-sig") as f:
        for number, row in enumerate(csv.DictReader(f), start=2):
            option = BULK_OPTIONS.get((row.get("decision") or "").strip().lower())
            review_id = (row.get("review_id") or "").strip()
            if not review_id or option is None:
                err.print(
                    f"{file}: row {number}: needs review_id and a decision "
                    f"({', '.join(sorted(set(BULK_OPTIONS)))})",
                    markup=False,
                )
                failed += 1
                continue
            reason = (row.get("reason") or "").strip() or "not_applicable"
            answer = answer_of(
                option,
                (row.get("reviewer") or "").strip() or reviewer,
                row.get("note") or "",
                reason if option == "disqualify" else None,
            )
            if not decide(review_id, answer, wait):
                failed += 1
    if failed:
        raise typer.Exit(1)
