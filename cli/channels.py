"""`medleads outbound|webinar|forms FILE`: run a channel flow on a file and print what it did."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from adapters.rows import FileError
from models.db import upgrade
from tasks.artifacts import RunSummary
from tasks.store import LIST_BATCH

from .console import err, out

FileArg = Annotated[
    Path,
    typer.Argument(
        help="CSV (any common export) or JSONL.", exists=True, dir_okay=False, readable=True
    ),
]
BatchOpt = Annotated[int, typer.Option("--batch-size", min=1, help="Submissions per chunk.")]
PresetOpt = Annotated[
    str | None,
    typer.Option(
        "--preset",
        help="List preset to read the file with (see `medleads presets`); default: the one "
        "the headers match, if any.",
    ),
]


def print_summary(summary: RunSummary) -> None:
    out.print(
        f"{summary.channel}: {summary.processed} processed in {summary.chunks} chunk(s); "
        f"{summary.new_leads} new lead(s), {summary.attached} attached to existing leads",
        markup=False,
    )
    if summary.stored or summary.already_stored or summary.rejected:
        out.print(
            f"  rows stored {summary.stored}, already stored {summary.already_stored}, "
            f"rejected {summary.rejected}",
            markup=False,
        )
    for note in summary.notes:
        out.print(f"  {note}", markup=False)
    if summary.rejection_report:
        out.print(f"  rejected rows (row, column, why): {summary.rejection_report}", markup=False)
    statuses = ", ".join(f"{s} {n}" for s, n in summary.statuses.most_common()) or "none"
    out.print(f"  statuses: {statuses}", markup=False)
    out.print(
        f"  emails sent {summary.emails_sent} (skipped for consent {summary.emails_skipped}); "
        f"handoffs delivered {summary.handoffs}; waiting for review {len(summary.review_lead_ids)}",
        markup=False,
    )


def _run(channel: str, file: Path, batch_size: int, preset: str | None = None) -> RunSummary:
    from .progress import file_progress

    upgrade()
    try:
        with file_progress(file):
            if channel == "outbound":
                from flows.outbound_list import outbound_list

                summary = outbound_list(
                    file=str(file.resolve()), batch_size=batch_size, preset=preset
                )
            else:
                from flows.webinar import webinar

                summary = webinar(file=str(file.resolve()), batch_size=batch_size)
    except FileError as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(2) from None
    except OSError as exc:
        err.print(f"{file}: cannot be read: {exc.strerror or exc}", markup=False)
        raise typer.Exit(2) from None
    print_summary(summary)
    return summary


def outbound(
    file: FileArg,
    batch_size: BatchOpt = LIST_BATCH,
    preset: PresetOpt = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Evaluate the list and report (preset, column mapping, counts by status and "
            "reason, the first rows' decisions) without storing anything or running a flow.",
        ),
    ] = False,
    show: Annotated[int, typer.Option("--show", min=0, help="Rows shown by --dry-run.")] = 10,
    criteria: Annotated[
        Path | None, typer.Option("--criteria", help="Criteria sheet for --dry-run.")
    ] = None,
) -> None:
    """Run the outbound-list flow on a prospect CSV (no email without recorded consent)."""
    if dry_run:
        from .dry_run import dry_run as run_dry

        run_dry(
            file,
            channel="outbound",
            preset=preset,
            criteria_path=criteria,
            today=dt.date.today(),
            show=show,
        )
        return
    _run("outbound", file, batch_size, preset)


def presets() -> None:
    """List the list presets: name, what layout, and the headers that identify it."""
    from adapters.presets import PresetError, load_presets

    try:
        found = load_presets()
    except PresetError as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(2) from None
    for p in found:
        out.print(f"{p.name}: {p.spec.title}", markup=False)
        out.print(f"  source: {p.spec.source}", markup=False)
        out.print(f"  recognised by: {', '.join(p.spec.detect)}", markup=False)


def webinar(file: FileArg, batch_size: BatchOpt = 500) -> None:
    """Run the webinar flow on an attendee/registrant list."""
    _run("webinar", file, batch_size)


def forms(file: FileArg, batch_size: BatchOpt = 500) -> None:
    """Store form posts from a JSONL/CSV export (as the intake would), then run the form flow."""
    from adapters.rows import SubmissionFile
    from adapters.submissions import store_submissions
    from flows.inbound_form import inbound_form

    upgrade()
    source = SubmissionFile(file, channel="form")
    try:
        good = [(r.submission, r.raw) for r in source.rows() if r.submission is not None]
    except FileError as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(2) from None
    new, _ = store_submissions(good, source=file.name)
    out.print(f"stored {new} new form submission(s) of {len(good)}", markup=False)
    print_summary(inbound_form(batch_size=batch_size))


def register(app: typer.Typer) -> None:
    app.command("outbound")(outbound)
    app.command("presets")(presets)
    app.command("webinar")(webinar)
    app.command("forms")(forms)
