"""`medleads delivery`: where every email and CRM handoff stands, and putting parked ones back."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from rich.table import Table
from sqlalchemy import func, update
from sqlmodel import col, select

from models.db import session_scope
from models.tables import Handoff, SentEmail

from .console import OutputFormat, out

delivery_app = typer.Typer(
    help="Emails and CRM handoffs: pending, retrying, parked, sent.", invoke_without_command=True
)
KINDS: dict[str, Any] = {"email": SentEmail, "handoff": Handoff}
# Items a person may need to look at; sent, delivered and skipped ones are only counted.
OPEN_STATES = ("pending", "claimed", "sending", "parked", "unknown")


def delivery_lines() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(counts by kind and state, one line per item not yet sent)."""
    counts: list[dict[str, Any]] = []
    items: list[dict[str, Any]] = []
    with session_scope() as session:
        for kind, model in KINDS.items():
            tried = col(model.attempts) > 0
            for state, retried, n in session.execute(
                select(model.state, tried, func.count())
                .group_by(model.state, tried)
                .order_by(model.state)
            ).all():
                shown = "retrying" if state == "pending" and retried else state
                counts.append({"kind": kind, "state": shown, "items": n})
            rows = session.execute(
                select(model)
                .where(col(model.state).in_(OPEN_STATES))
                .order_by(col(model.created_at), col(model.id))
            ).scalars()
            for row in rows:
                retrying = row.state == "pending" and row.attempts > 0
                items.append(
                    {
                        "kind": kind,
                        "id": row.id,
                        "idempotency_key": row.idempotency_key,
                        "lead_id": row.lead_id,
                        "state": "retrying" if retrying else row.state,
                        "attempts": row.attempts,
                        "next_attempt_at": (
                            row.next_attempt_at.isoformat() if row.next_attempt_at else None
                        ),
                        "error": row.error,
                    }
                )
    return counts, items


@delivery_app.callback()
def delivery(
    ctx: typer.Context,
    fmt: Annotated[
        OutputFormat, typer.Option("--format", help="table or jsonl.")
    ] = OutputFormat.table,
) -> None:
    """Counts by state, then every email and handoff not yet sent: waiting for its first try,
    retrying after a transient failure (with its next attempt), parked (refused, or still
    failing after the last attempt) or unknown (in flight at a crash)."""
    if ctx.invoked_subcommand is not None:
        return
    counts, items = delivery_lines()
    if fmt is OutputFormat.jsonl:
        for line in items:
            sys.stdout.write(json.dumps(line, ensure_ascii=False) + "\n")
        return
    summary = ", ".join(f"{c['kind']} {c['state']} {c['items']}" for c in counts)
    out.print(summary or "nothing queued", markup=False)
    if not items:
        return
    table = Table(title=f"{len(items)} not sent", title_justify="left")
    for name in ("kind", "id", "lead", "state", "attempts", "next attempt", "why"):
        table.add_column(name, overflow="fold")
    for line in items:
        table.add_row(
            line["kind"],
            str(line["id"]),
            line["lead_id"][:12],
            line["state"],
            str(line["attempts"]),
            (line["next_attempt_at"] or "")[:16],
            line["error"] or "",
        )
    out.print(table)


@delivery_app.command("retry")
def delivery_retry(
    item: Annotated[
        str | None, typer.Argument(help="email:ID or handoff:ID (as `medleads delivery` shows).")
    ] = None,
    every: Annotated[bool, typer.Option("--all", help="Every parked email and handoff.")] = False,
) -> None:
    """Put parked items back: they are tried on the next delivery run (within a minute)."""
    if not every and not item:
        raise typer.BadParameter("give email:ID or handoff:ID, or --all")
    targets = list(KINDS.items())
    ids: list[int] | None = None
    if item:
        kind, _, number = item.partition(":")
        if kind not in KINDS or not number.isdigit():
            raise typer.BadParameter(f"{item!r}: use email:ID or handoff:ID")
        targets, ids = [(kind, KINDS[kind])], [int(number)]
    changed = 0
    with session_scope() as session:
        for _, model in targets:
            query = update(model).where(col(model.state) == "parked")
            if ids is not None:
                query = query.where(col(model.id).in_(ids))
            result = session.execute(
                query.values(state="pending", attempts=0, next_attempt_at=None, error=None)
            )
            changed += int(getattr(result, "rowcount", 0) or 0)
    out.print(f"{changed} item(s) back in the queue", markup=False)
