"""`medleads report` (the figures, as tables, CSV or markdown, with a chart) and
`medleads outcomes import FILE` (CRM outcomes fed back to the leads)."""

from __future__ import annotations

import csv
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from .console import err, out

if TYPE_CHECKING:
    from reports.figures import Report


class ReportFormat(StrEnum):
    table = "table"
    csv = "csv"
    markdown = "markdown"


class ReportChannel(StrEnum):
    form = "form"
    webinar = "webinar"
    outbound = "outbound"


outcomes_app = typer.Typer(help="CRM outcomes fed back to the leads.", no_args_is_help=True)


def report(
    since: Annotated[
        str | None, typer.Option(help="Only leads that arrived on or after this date (UTC).")
    ] = None,
    channel: Annotated[ReportChannel | None, typer.Option(help="Only leads of a channel.")] = None,
    fmt: Annotated[
        ReportFormat,
        typer.Option("--format", help="table, csv (section,key,metric,value) or markdown."),
    ] = ReportFormat.table,
    chart: Annotated[
        Path | None,
        typer.Option(help="Write the PNG chart here (default: data/reports/report-<time>.png)."),
    ] = None,
    no_chart: Annotated[bool, typer.Option("--no-chart", help="Draw no chart.")] = False,
) -> None:
    """Funnel, disqualifications, bands, reviews, SLAs, owner load, fallbacks, rechecks and
    conversion from CRM outcomes, for every lead or those since a date or of a channel."""
    from models.db import session_scope, upgrade
    from reports.figures import build_report, parse_since
    from reports.render import default_chart_path, render_chart
    from tasks.criteria import active_criteria
    from tasks.review import review_clock

    try:
        start = parse_since(since) if since else None
    except ValueError:
        err.print(f"--since {since!r}: expected YYYY-MM-DD", markup=False)
        raise typer.Exit(2) from None
    upgrade()
    with session_scope() as session:
        figures = build_report(
            session,
            since=start,
            channel=channel.value if channel else None,
            roster=active_criteria().sheet.routing,
            now=review_clock(),
        )
    if chart is None and not no_chart:
        chart = default_chart_path(figures.generated_at)
    # An absolute path: the markdown's image shows from wherever the file is opened.
    written = render_chart(figures, chart.resolve()) if chart and not no_chart else None
    if fmt is ReportFormat.csv:
        print_csv(figures)
    elif fmt is ReportFormat.markdown:
        from reports.render import report_markdown

        sys.stdout.write(report_markdown(figures, str(written) if written else None))
    else:
        print_tables(figures)
    if written:
        err.print(f"chart: {written}", markup=False)
    elif chart:
        err.print("no chart: there are no leads to draw", markup=False)


def print_csv(figures: Report) -> None:
    from qualification.text import csv_cell
    from reports.render import empty_message, long_rows

    writer = csv.DictWriter(sys.stdout, ["section", "key", "metric", "value"], lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: csv_cell(v) for k, v in row.items()} for row in long_rows(figures))
    if figures.leads == 0:
        err.print(empty_message(figures), markup=False)


def print_tables(figures: Report) -> None:
    from reports.figures import sections
    from reports.render import display, empty_message

    out.print(
        f"medleads report, {figures.scope} (generated {figures.generated_at:%Y-%m-%d %H:%M} UTC)",
        markup=False,
    )
    if figures.leads == 0:
        out.print(empty_message(figures), markup=False)
        return
    for section in sections(figures):
        out.print()
        if not section.rows:
            out.print(f"{section.title}: none. {section.note}", markup=False)
            continue
        table = Table(title=section.title, title_justify="left", caption=section.note)
        table.caption_justify = "left"
        columns = list(section.rows[0])
        for name in columns:
            numeric = name not in section.keys and name not in ("kind", "override", "eligible")
            table.add_column(name, justify="right" if numeric else "left", overflow="fold")
        for row in section.rows:
            table.add_row(*(display(c, row.get(c)) for c in columns))
        out.print(table)


@outcomes_app.command("import")
def outcomes_import(
    file: Annotated[
        Path,
        typer.Argument(
            help="CRM export (CSV or JSONL): lead_id or email, outcome, optional crm_id, amount, "
            "occurred_at.",
            exists=True,
            dir_okay=False,
        ),
    ],
) -> None:
    """Import opportunity / closed_won / closed_lost outcomes: each lead's status follows its
    newest outcome (closed_won keeps status opportunity, reason closed_won), with a decision
    record by crm-import. Re-importing a file changes nothing.

    Exit 0 when every row was imported (or was already), 1 when some rows were rejected (each
    listed with row, column and why, and written to data/reports/), 2 when the file cannot be
    used."""
    from models.db import upgrade
    from tasks.outcomes import OutcomeFileError, import_outcomes

    upgrade()
    try:
        result = import_outcomes(file)
    except OutcomeFileError as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(2) from None
    for note in result.notes:
        err.print(f"{file}: {note}", markup=False)
    moves = ", ".join(f"{t} {n}" for t, n in sorted(result.transitions.items())) or "none"
    out.print(
        f"imported {result.imported} outcome(s) for {len(set(result.lead_ids))} lead(s); "
        f"already imported {result.already_imported}; rejected {len(result.rejections)}",
        markup=False,
    )
    out.print(
        f"  status changes: {moves}; closed leads released by their owner: {result.released}",
        markup=False,
    )
    for r in result.rejections:
        where = f" column {r.column}:" if r.column else ""
        err.print(f"{file}: row {r.row}:{where} {r.why}", markup=False)
    if result.rejection_report:
        out.print(f"  rejected rows (row, column, why): {result.rejection_report}", markup=False)
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("report")(report)
    app.add_typer(outcomes_app, name="outcomes")
