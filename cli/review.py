"""`medleads review`: pending reviews, and decisions given through the Prefect API like the UI."""

from __future__ import annotations

import csv
import getpass
import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from models.db import session_scope
from models.settings import get_settings
from models.tables import Lead

from .console import OutputFormat, err, out

review_app = typer.Typer(help="Borderline leads waiting for a person.", no_args_is_help=True)
ReviewerOpt = Annotated[
    str | None,
    typer.Option("--reviewer", help="Who decides (default MEDLEADS_REVIEWER, else the OS user)."),
]
NoteOpt = Annotated[str, typer.Option("--note", help="A note kept with the decision.")]
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


# Accounts that are not a person: a decision is never recorded in their name by default.
SYSTEM_ACCOUNTS = frozenset({"root", "admin", "administrator", "ubuntu", "debian", "nobody"})


class ReviewerError(ValueError):
    """No reviewer of the criteria sheet to record the decision as."""


def reviewer_name(given: str | None) -> str:
    """The sheet's reviewer a CLI decision is recorded as: --reviewer, else MEDLEADS_REVIEWER,
    else the OS user (never a system account such as root), matched on the full address or
    its local part (`revops` -> revops@example.com)."""
    from tasks.criteria import active_criteria
    from tasks.review import reviewers_of

    reviewers = reviewers_of(active_criteria())
    listed = ", ".join(reviewers)
    name, source = given, "--reviewer"
    if not name and get_settings().reviewer:
        name, source = get_settings().reviewer, "MEDLEADS_REVIEWER"
    if not name:
        user = getpass.getuser()
        if user.lower() in SYSTEM_ACCOUNTS:
            raise ReviewerError(
                f"the OS user {user!r} is not a person: say who decides with --reviewer "
                f"(one of {listed})"
            )
        name, source = user, "the OS user"
    wanted = name.strip().lower()
    found = [r for r in reviewers if wanted in (r.lower(), r.lower().partition("@")[0])]
    if len(found) != 1:
        raise ReviewerError(
            f"{name!r} ({source}) is not a reviewer of the criteria sheet: one of {listed}"
        )
    return found[0]


def answer_of(
    option: str, reviewer: str | None, note: str, reason: str | None = None
) -> dict[str, Any]:
    """A CLI answer in the shape of the review form (`via` says it came from the CLI)."""
    from qualification.review_choices import choice_label

    return {
        "decision": choice_label(option, reason),
        "reviewer": reviewer_name(reviewer),
        "note": note,
        "via": "cli",
    }


def cli_answer(
    option: str, reviewer: str | None, note: str, reason: str | None = None
) -> dict[str, Any]:
    """`answer_of`, or exit 2 saying why no reviewer can be recorded."""
    try:
        return answer_of(option, reviewer, note, reason)
    except ReviewerError as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(2) from None


def decide(review_id: str, answer: dict[str, Any]) -> bool:
    """Answer one review (its run resumed, the answer applied at once); print what happened.
    False when it was refused."""
    from tasks.review import answer_review, find_review

    try:
        outcome = answer_review(review_id, answer)
    except (LookupError, PermissionError, ValueError) as exc:
        err.print(f"review {review_id}: refused: {exc}", markup=False)
        return False
    label = answer["decision"].partition(":")[0]
    if not outcome.applied:
        err.print(f"review {review_id}: {label} refused: {outcome.message}", markup=False)
        return False
    with session_scope() as session:
        review = find_review(session, review_id)
        lead = session.get(Lead, review.lead_id)
        assert lead is not None
        out.print(
            f"review {review.id[:8]}: {label}, recorded as reviewer {answer['reviewer']}\n"
            f"  lead is now {lead.status} ({lead.reason}), owner {lead.owner_id or 'none'}",
            markup=False,
        )
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
    review_id: Annotated[str, typer.Argument(help="A review id, a lead id, or their start.")],
) -> None:
    """What the reviewer sees in the Prefect UI: organization, contact, message, scorecard."""
    from rich.markdown import Markdown

    from tasks.review import find_review, full_scorecard, review_url

    with session_scope() as session:
        try:
            review = find_review(session, review_id)
        except LookupError as exc:
            err.print(str(exc), markup=False)
            raise typer.Exit(2) from None
        state, flow_run_id, full = review.state, review.flow_run_id, review.id
    out.print(Markdown(full_scorecard(full)))
    out.print(f"State: {state}; run: {review_url(flow_run_id)}", markup=False)


@review_app.command("approve")
def review_approve(review_id: str, reviewer: ReviewerOpt = None, note: NoteOpt = "") -> None:
    """Approve as SQL: hand off to sales."""
    if not decide(review_id, cli_answer("approve_sql", reviewer, note)):
        raise typer.Exit(1)


@review_app.command("reject")
def review_reject(
    review_id: str,
    reason: Annotated[str, typer.Option("--reason", help="A disqualification reason code.")],
    reviewer: ReviewerOpt = None,
    note: NoteOpt = "",
) -> None:
    """Disqualify with a reason."""
    from qualification.criteria import DISQUALIFICATION_REASONS

    if reason not in DISQUALIFICATION_REASONS:
        err.print(
            f"--reason {reason!r}: one of {', '.join(DISQUALIFICATION_REASONS)}", markup=False
        )
        raise typer.Exit(2)
    if not decide(review_id, cli_answer("disqualify", reviewer, note, reason)):
        raise typer.Exit(1)


@review_app.command("route")
def review_route(
    review_id: str,
    route_as: Annotated[RouteAs, typer.Option("--as", help="mql, nurture or more-info.")],
    reviewer: ReviewerOpt = None,
    note: NoteOpt = "",
) -> None:
    """Route as MQL, to nurture, or back to marketing for more information."""
    option = {"mql": "route_mql", "nurture": "nurture", "more-info": "need_more_info"}[route_as]
    if not decide(review_id, cli_answer(option, reviewer, note)):
        raise typer.Exit(1)


@review_app.command("bulk")
def review_bulk(
    file: Annotated[
        Path, typer.Option("--file", exists=True, help="CSV: review_id,decision,reason,note")
    ],
    reviewer: ReviewerOpt = None,
) -> None:
    """Apply a CSV of decisions; each line is applied and reported on its own."""
    from qualification.criteria import DISQUALIFICATION_REASONS

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
            reason = (row.get("reason") or "").strip()
            if option == "disqualify" and reason not in DISQUALIFICATION_REASONS:
                err.print(
                    f"{file}: row {number}: reason {reason!r}: disqualify needs one of "
                    f"{', '.join(DISQUALIFICATION_REASONS)}",
                    markup=False,
                )
                failed += 1
                continue
            try:
                answer = answer_of(
                    option,
                    (row.get("reviewer") or "").strip() or reviewer,
                    row.get("note") or "",
                    reason if option == "disqualify" else None,
                )
            except ReviewerError as exc:
                err.print(f"{file}: row {number}: {exc}", markup=False)
                failed += 1
                continue
            if not decide(review_id, answer):
                failed += 1
    if failed:
        raise typer.Exit(1)
