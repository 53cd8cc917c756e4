"""`medleads sla` (leads past or near their first-touch SLA) and `medleads engagement FILE`."""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from .console import OutputFormat, err, out

if TYPE_CHECKING:
    from tasks.recheck import Engagement

_DELIMITERS = ",;\t|"


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
    for name in ("lead", "organization", "status", "owner", "due (UTC)", "overdue h", "escalated"):
        table.add_column(name, no_wrap=True, overflow="ellipsis", max_width=36)
    for line in lines:
        table.add_row(
            line["lead_id"][:12],
            line["organization"] or "",
            line["status"],
            line["owner"] or "",
            line["due_at"][:16].replace("T", " "),
            f"{line['overdue_hours']:g}",
            "yes" if line["escalated"] else "no",
        )
    out.print(table)


def _rows(file: Path) -> Iterator[tuple[int, dict[str, object]]]:
    """(row number, row) from a JSONL or CSV file; a JSONL line that is not an object is skipped
    with its reason on stderr."""
    text = file.read_text(encoding="utf-8-sig", errors="replace")
    if file.suffix.lower() in (".jsonl", ".ndjson", ".json"):
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except json.JSONDecodeError as exc:
                data = f"not valid JSON: {exc.msg}"
            if isinstance(data, dict):
                yield number, data
            else:
                why = data if isinstance(data, str) else "each line must be a JSON object"
                err.print(f"{file}: row {number}: {why}", markup=False)
        return
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(
            text.split("\n", 1)[0], delimiters=_DELIMITERS
        )
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO(text, newline=""), dialect=dialect)
    for row in reader:
        if any((v or "").strip() for v in row.values() if isinstance(v, str)):
            yield reader.line_num, {k: v for k, v in row.items() if k is not None}


def _parsed(file: Path, problems: list[tuple[int, str]]) -> Iterator[Engagement]:
    from tasks.recheck import engagement_from_mapping

    for number, data in _rows(file):
        try:
            yield engagement_from_mapping(number, data)
        except ValueError as exc:
            problems.append((number, str(exc)))


def engagement(
    file: Annotated[
        Path, typer.Argument(help="CSV or JSONL: email or lead_id, plus counts.", exists=True)
    ],
) -> None:
    """Record engagement (page visits, downloads, email engagement, webinar attendance, consent,
    timeframe) for known leads; they are rechecked on the next recheck run.

    Exit 0 when every row was recorded, 1 when some rows matched no lead or could not be read
    (each listed with its row number and why)."""
    from models.db import upgrade
    from tasks.recheck import record_engagement

    upgrade()
    problems: list[tuple[int, str]] = []
    report = record_engagement(_parsed(file, problems))
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
