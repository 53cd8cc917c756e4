"""`medleads sla` (leads past or near their first-touch SLA) and `medleads engagement FILE`."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from adapters.rows import FileError, delimiter_hint, read_rows
from qualification.submission import canonical_header

from .console import OutputFormat, err, out

if TYPE_CHECKING:
    from tasks.recheck import Engagement


def sla_words(overdue_hours: float) -> str:
    """`overdue 2.5 h`, `due in 3.8 h`, `due now`: never a negative overdue."""
    if overdue_hours > 0:
        return f"overdue {overdue_hours:.1f} h"
    if overdue_hours < 0:
        return f"due in {-overdue_hours:.1f} h"
    return "due now"


def sla(
    fmt: Annotated[
        OutputFormat, typer.Option("--format", help="table or jsonl.")
    ] = OutputFormat.table,
    within: Annotated[
        float, typer.Option("--within", min=0, help="Also list leads due within this many hours.")
    ] = 4,
) -> None:
    """Leads without a first touch that are past their SLA or due soon, earliest due first."""
    from tasks.sla import sla_lines

    lines = sla_lines(within)
    if fmt is OutputFormat.jsonl:
        for line in lines:
            sys.stdout.write(json.dumps(line, ensure_ascii=False) + "\n")
        return
    breached = sum(1 for line in lines if line["sla_state"] == "breached")
    table = Table(
        title=f"{breached} past SLA, {len(lines) - breached} due soon", title_justify="left"
    )
    for name in ("lead", "organization", "status", "owner", "due (UTC)", "SLA", "escalated"):
        table.add_column(name, no_wrap=True, overflow="ellipsis", max_width=36)
    for line in lines:
        table.add_row(
            line["lead_id"][:12],
            line["organization"] or "",
            line["status"],
            line["owner"] or "",
            line["due_at"][:16].replace("T", " "),
            sla_words(line["overdue_hours"]),
            "yes" if line["escalated"] else "no",
        )
    out.print(table)


def _parsed(file: Path, problems: list[tuple[int, str]], notes: list[str]) -> Iterator[Engagement]:
    """Engagement rows of a CSV or JSONL file; a row that cannot be read or used goes to
    `problems` with its number and why."""
    from tasks.recheck import engagement_from_mapping

    def check(header: Sequence[str], names: Sequence[str]) -> None:
        if not {canonical_header(n) for n in names} & {"email", "lead_id"}:
            hint = delimiter_hint(header)
            raise FileError(f"{file}: missing required column email or lead_id{hint}")

    for row in read_rows(file, check_header=check, notes=notes):
        if row.cells is None:
            problems.append((row.number, row.error))
            continue
        try:
            yield engagement_from_mapping(row.number, row.cells)
        except ValueError as exc:
            problems.append((row.number, str(exc)))


def engagement(
    file: Annotated[
        Path, typer.Argument(help="CSV or JSONL: email or lead_id, plus counts.", exists=True)
    ],
) -> None:
    """Record engagement (page visits, downloads, email engagement, webinar attendance, consent,
    timeframe) for known leads; they are rechecked on the next recheck run.

    Exit 0 when every row was recorded, 1 when some rows matched no lead or could not be read
    (each listed with its row number and why), 2 when the file cannot be used."""
    from models.db import upgrade
    from tasks.recheck import record_engagement

    upgrade()
    problems: list[tuple[int, str]] = []
    notes: list[str] = []
    try:
        report = record_engagement(_parsed(file, problems, notes))
    except FileError as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(2) from None
    for note in notes:
        err.print(f"{file}: {note}", markup=False)
    out.print(
        f"recorded {report.recorded} engagement row(s) for {len(report.lead_ids)} lead(s) "
        f"(already recorded {report.already_recorded}); they are rechecked on the next run",
        markup=False,
    )
    for number, why in sorted(report.not_rechecked):
        out.print(f"{file}: row {number}: recorded, not rechecked: {why}", markup=False)
    for number, why in sorted(problems + report.unmatched):
        err.print(f"{file}: row {number}: {why}", markup=False)
    if problems or report.unmatched:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("sla")(sla)
    app.command("engagement")(engagement)
