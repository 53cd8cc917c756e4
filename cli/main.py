"""The `medleads` command line (DESIGN §2b)."""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from collections import Counter
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from adapters.rows import FileError, RowResult, SubmissionFile
from models.settings import PROJECT_ROOT, get_settings
from qualification.criteria import Criteria, CriteriaError, load_criteria
from qualification.decision import Decision
from qualification.evaluate import evaluate

from .channels import register as register_channels
from .cluster import cluster_app
from .console import OutputFormat, err, out
from .criteria import register as register_criteria
from .delivery import delivery_app
from .demo import demo
from .leads import db_app, leads_app
from .report import register as register_report
from .review import review_app
from .sla import register as register_sla

app = typer.Typer(
    help="Qualify and route B2B healthcare sales leads, with every decision explained.",
    no_args_is_help=True,
    add_completion=False,
)
register_criteria(app)
app.add_typer(leads_app, name="leads")
app.add_typer(db_app, name="db")
app.add_typer(review_app, name="review")
app.add_typer(delivery_app, name="delivery")
app.add_typer(cluster_app, name="cluster")
register_channels(app)
register_sla(app)
register_report(app)
app.command("demo")(demo)


@app.command("serve")
def serve_command(
    sweep_minutes: Annotated[float, typer.Option(help="Minutes between review sweeps.")] = 5,
) -> None:
    """Serve the review and review-sweep deployments (keep it running)."""
    from flows.serve import main as serve_main

    serve_main(sweep_minutes)


SAMPLES = PROJECT_ROOT / "intake" / "samples"


class Channel(StrEnum):
    form = "form"
    webinar = "webinar"
    outbound = "outbound"


def _load(path: Path | None) -> Criteria:
    target = path or get_settings().criteria
    try:
        return load_criteria(target)
    except CriteriaError as exc:
        for problem in exc.problems:
            err.print(str(problem), markup=False)
        raise typer.Exit(2) from None


def _parse_map(pairs: list[str]) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for pair in pairs:
        source, sep, target = pair.partition("=")
        if not sep or not source.strip() or not target.strip():
            err.print(f"--map {pair!r}: expected SOURCE_HEADER=canonical_field", markup=False)
            raise typer.Exit(2)
        mapping[source.strip()] = target.strip()
    return mapping


def _evaluated(
    rows: Iterator[RowResult], criteria: Criteria, today: dt.date
) -> Iterator[tuple[RowResult, Decision | None]]:
    for result in rows:
        if result.submission is None:
            yield result, None
        else:
            yield result, evaluate(result.submission, criteria, today=today)


def _rejected_line(result: RowResult) -> dict[str, object]:
    return {
        "row": result.row,
        "status": None,
        "reason": None,
        "error": result.error,
        "column": result.column,
    }


def _table(title: str) -> Table:
    table = Table(title=title, title_justify="left", show_lines=False)
    for name in ("row", "organization", "status", "reason", "fit", "intent", "review", "route"):
        table.add_column(name, no_wrap=True, overflow="ellipsis", max_width=36)
    return table


def _add_row(table: Table, d: Decision) -> None:
    table.add_row(
        str(d.row or ""),
        (d.organization_name or "")[:40],
        d.status,
        d.reason,
        f"{d.fit_score} {d.fit_band}",
        f"{d.intent_score} {d.intent_band}",
        "yes" if d.borderline else "",
        d.route.team if d.route.team != "none" else "",
    )


def run_evaluate(
    file: Path,
    criteria: Criteria,
    fmt: OutputFormat,
    channel: str | None,
    header_map: dict[str, str],
    today: dt.date,
    preset: str | None = None,
) -> tuple[Counter[str], int]:
    """Evaluate a file and print it; returns counts by status and the number of bad rows."""
    source = SubmissionFile(file, channel=channel, header_map=header_map, preset=preset)
    counts: Counter[str] = Counter()
    bad = 0
    table = _table(f"{file.name} under criteria {criteria.version}")
    try:
        for result, decision in _evaluated(source.rows(), criteria, today):
            if decision is None:
                bad += 1
                where = f" column {result.column}:" if result.column else ""
                err.print(f"{file}: row {result.row}:{where} {result.error}", markup=False)
                if fmt is OutputFormat.jsonl:
                    sys.stdout.write(json.dumps(_rejected_line(result)) + "\n")
                continue
            counts[decision.status] += 1
            if fmt is OutputFormat.jsonl:
                sys.stdout.write(json.dumps(decision.summary(), ensure_ascii=False) + "\n")
            else:
                _add_row(table, decision)
    except FileError as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(2) from None
    for note in source.notes:
        err.print(f"{file}: {note}", markup=False)
    if fmt is OutputFormat.table:
        out.print(table)
        summary = ", ".join(f"{status} {n}" for status, n in counts.most_common())
        out.print(f"{sum(counts.values())} evaluated ({summary or 'none'}); {bad} rejected rows")
    return counts, bad


@app.command("evaluate")
def evaluate_command(
    file: Annotated[Path, typer.Argument(help="Submissions as CSV (any common export) or JSONL.")],
    criteria: Annotated[
        Path | None, typer.Option("--criteria", help="Criteria sheet; default MEDLEADS_CRITERIA.")
    ] = None,
    fmt: Annotated[
        OutputFormat, typer.Option("--format", help="table or jsonl.")
    ] = OutputFormat.table,
    channel: Annotated[
        Channel | None, typer.Option("--channel", help="Channel for rows that name none.")
    ] = None,
    mapping: Annotated[
        list[str] | None,
        typer.Option(
            "--map", help="Map a header onto a canonical field: 'Facility Name=organization_name'."
        ),
    ] = None,
    today: Annotated[
        str | None,
        typer.Option("--today", help="Evaluation date (YYYY-MM-DD) for rows without received_at."),
    ] = None,
    preset: Annotated[
        str | None,
        typer.Option(
            "--preset",
            help="List preset to read the file with (`medleads presets`); default: the one "
            "the headers match, unless --map is given.",
        ),
    ] = None,
) -> None:
    """Run the pure qualification core on a file: no database, no Prefect.

    Exit 0 when every row was evaluated, 1 when some rows were rejected (each reported on
    stderr with its row number), 2 when the file or the sheet cannot be used.
    """
    sheet = _load(criteria)
    try:
        day = dt.date.fromisoformat(today) if today else dt.date.today()
    except ValueError:
        err.print(f"--today {today!r}: expected YYYY-MM-DD", markup=False)
        raise typer.Exit(2) from None
    _, bad = run_evaluate(
        file,
        sheet,
        fmt,
        channel.value if channel else None,
        _parse_map(mapping or []),
        day,
        preset,
    )
    if bad:
        raise typer.Exit(1)


@app.command("intake")
def intake_command() -> None:
    """Run the HTTP intake service (MEDLEADS_INTAKE_HOST:MEDLEADS_INTAKE_PORT)."""
    from intake.app import run

    run()


@app.command("stop")
def stop_command() -> None:
    """Stop what `medleads demo` started (Prefect server, serve, intake)."""
    from .stack import stop

    stopped = stop()
    out.print(f"stopped: {', '.join(stopped) or 'nothing was running'}", markup=False)


def main() -> None:
    # Files with personal data (the SQLite database, logs, reports, the outbox) are the owner's
    # only: 0600, folders 0700, for this process and the ones it starts (serve, intake, flows).
    os.umask(0o077)
    app()


if __name__ == "__main__":
    main()
