"""`medleads criteria check|activate|shadow|history|show` and `medleads replay`: which sheet is
live, where it came from, and what a draft sheet would change before it goes live."""

from __future__ import annotations

import datetime as dt
import getpass
import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from models.settings import get_settings
from qualification.criteria import Criteria, CriteriaError, load_criteria

from .console import OutputFormat, err, out

if TYPE_CHECKING:
    from qualification.replay import ReplayReport
    from tasks.criteria import Activation

criteria_app = typer.Typer(
    help="Check, activate and compare criteria sheets.", no_args_is_help=True
)


class Channel(StrEnum):
    form = "form"
    webinar = "webinar"
    outbound = "outbound"


By = Annotated[
    str | None,
    typer.Option("--by", help="Who activates it (default MEDLEADS_REVIEWER, else the OS user)."),
]
Note = Annotated[str | None, typer.Option("--note", help="Why, for the history.")]
Format = Annotated[OutputFormat, typer.Option("--format", help="table or jsonl.")]


def _refuse(problems: CriteriaError, console: Console = out) -> typer.Exit:
    """One `FILE: key.path: why` line per problem, exit 2 (as `criteria check` does)."""
    for problem in problems.problems:
        console.print(str(problem), markup=False)
    return typer.Exit(2)


@criteria_app.command("check")
def criteria_check(
    file: Annotated[Path, typer.Argument(help="The criteria sheet (YAML).")],
) -> None:
    """Validate a sheet: exit 0 when valid, else exit 2 with one line per problem."""
    try:
        criteria = load_criteria(file)
    except CriteriaError as exc:
        raise _refuse(exc) from None
    out.print(f"{file}: valid (version {criteria.version})", markup=False)


def _by(given: str | None) -> str:
    return given or get_settings().reviewer or getpass.getuser()


def _when(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _origin(a: Activation) -> str:
    note = f" ({a.note})" if a.note else ""
    return f"activation #{a.id} by {a.activated_by} at {_when(a.activated_at)} from {a.path}{note}"


@criteria_app.command("activate")
def criteria_activate(
    file: Annotated[Path, typer.Argument(help="The sheet to make live.")],
    by: By = None,
    note: Note = None,
) -> None:
    """Make a sheet live: validated whole (refused with every problem, exit 2, nothing
    recorded), then its text is stored; later edits to the file change nothing until the file is
    activated again."""
    from models.db import upgrade
    from tasks.criteria import activate

    upgrade()
    try:
        activation, recorded = activate(file, by=_by(by), note=note)
    except CriteriaError as exc:
        raise _refuse(exc) from None
    if recorded:
        out.print(f"live: {activation.version} ({_origin(activation)})", markup=False)
    else:
        out.print(
            f"{activation.version} is already live ({_origin(activation)}); nothing recorded",
            markup=False,
        )


@criteria_app.command("shadow")
def criteria_shadow(
    file: Annotated[Path | None, typer.Argument(help="The draft sheet to shadow.")] = None,
    off: Annotated[bool, typer.Option("--off", help="Stop shadowing.")] = False,
    by: By = None,
    note: Note = None,
) -> None:
    """Evaluate a draft sheet beside the live one on live traffic (recorded, never acted on);
    `--off` stops it. `medleads replay --shadow` shows what it would have changed."""
    from models.db import upgrade
    from tasks.criteria import activate, stop_shadow

    if (file is None) == (not off):
        err.print("give a sheet FILE to shadow, or --off to stop shadowing", markup=False)
        raise typer.Exit(2)
    upgrade()
    if off:
        stopped = stop_shadow(by=_by(by), note=note)
        if stopped is None:
            out.print("no shadow sheet is set; nothing recorded", markup=False)
        else:
            out.print(f"shadowing stopped: {stopped.version} ({_origin(stopped)})", markup=False)
        return
    assert file is not None
    try:
        activation, recorded = activate(file, role="shadow", by=_by(by), note=note)
    except CriteriaError as exc:
        raise _refuse(exc) from None
    state = "shadowing" if recorded else "already shadowing; nothing recorded:"
    out.print(f"{state} {activation.version} ({_origin(activation)})", markup=False)


@criteria_app.command("history")
def criteria_history(fmt: Format = OutputFormat.table) -> None:
    """Every activation, newest first: which sheet is live and which one shadows it."""
    from models.db import upgrade
    from tasks.criteria import history

    upgrade()
    rows = history()
    if fmt is OutputFormat.jsonl:
        for row in rows:
            sys.stdout.write(json.dumps(row.to_dict(), ensure_ascii=False) + "\n")
        return
    table = Table(title="criteria activations, newest first", title_justify="left")
    for name in ("#", "role", "version", "by", "at", "from", "note", "now"):
        table.add_column(name, overflow="fold")
    for row in rows:
        table.add_row(
            str(row.id),
            row.role,
            row.version,
            row.activated_by,
            _when(row.activated_at),
            row.path or "",
            row.note or "",
            row.state,
        )
    if rows:
        out.print(table)
    else:
        out.print(
            f"no activation yet: the live sheet is the file {get_settings().criteria}", markup=False
        )


@criteria_app.command("show")
def criteria_show() -> None:
    """The live sheet's version and where it came from (and the shadow sheet, if any)."""
    from models.db import upgrade
    from tasks.criteria import history, live_source

    upgrade()
    try:
        live, activation = live_source()
    except CriteriaError as exc:
        err.print("the live sheet cannot be used:", markup=False)
        raise _refuse(exc, err) from None
    if activation is None:
        out.print(
            f"live: {live.version} from the file {get_settings().criteria} (MEDLEADS_CRITERIA); "
            "no activation recorded yet, so edits to the file apply from the next run",
            markup=False,
        )
    else:
        out.print(f"live: {live.version} ({_origin(activation)})", markup=False)
        if activation.path:
            _note_file_change(Path(activation.path), live)
    shadow = next((a for a in history() if a.state == "shadowing"), None)
    shadowing = f"{shadow.version} ({_origin(shadow)})" if shadow else "none"
    out.print(f"shadow: {shadowing}", markup=False)


def _note_file_change(path: Path, live: Criteria) -> None:
    try:
        now = load_criteria(path)
    except CriteriaError:
        out.print(f"  the file {path} is gone or no longer a valid sheet", markup=False)
        return
    if now.version != live.version:
        out.print(
            f"  the file has changed since (now {now.version}); it is not live until activated",
            markup=False,
        )


def _since(value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        err.print(f"--since {value!r}: expected a date YYYY-MM-DD", markup=False)
        raise typer.Exit(2) from None


def replay_command(
    criteria: Annotated[
        Path | None,
        typer.Option("--criteria", help="The draft sheet to compare with the live one."),
    ] = None,
    shadow: Annotated[
        bool, typer.Option("--shadow", help="Read the recorded shadow decisions instead.")
    ] = False,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            help="Only submissions received (with --shadow: shadow decisions recorded) from "
            "this date, YYYY-MM-DD (UTC).",
        ),
    ] = None,
    channel: Annotated[Channel | None, typer.Option("--channel", help="Only this channel.")] = None,
    examples: Annotated[
        int, typer.Option("--examples", min=0, help="Example leads per transition.")
    ] = 3,
    fmt: Format = OutputFormat.table,
) -> None:
    """What a draft sheet would change: every decided submission judged again under the live
    sheet and the draft (each on the day it arrived), compared by status, bands, owner and
    reason. Reads the database only: nothing is written, sent or run."""
    from sqlalchemy.exc import SQLAlchemyError

    from tasks.replay import replay, shadow_report

    from .progress import counted_progress

    if (criteria is None) == (not shadow):
        err.print("give --criteria NEW.yaml, or --shadow for the recorded shadow decisions")
        raise typer.Exit(2)
    day = _since(since)
    picked = channel.value if channel else None
    try:
        if criteria is not None:
            try:
                draft = load_criteria(criteria)
            except CriteriaError as exc:
                raise _refuse(exc, err) from None
            try:
                with counted_progress("replaying") as progress:
                    report, live = replay(
                        draft, since=day, channel=picked, examples=examples, progress=progress
                    )
            except CriteriaError as exc:
                err.print("the live sheet cannot be used:", markup=False)
                raise _refuse(exc, err) from None
            origin = f"activation #{live.id}" if live else "the MEDLEADS_CRITERIA file"
            title = (
                f"replay under {draft.version} (draft {criteria}) against the live sheet ({origin})"
            )
        else:
            found = shadow_report(since=day, channel=picked, examples=examples)
            if found is None:
                err.print("no shadow sheet was ever set (medleads criteria shadow FILE)")
                raise typer.Exit(2)
            report, sheet = found
            state = "shadowing now" if sheet.state == "shadowing" else "shadowing stopped"
            title = f"recorded shadow decisions of {sheet.version} ({state}; {_origin(sheet)})"
    except SQLAlchemyError as exc:
        err.print(f"cannot read the database (medleads db upgrade?): {exc}", markup=False)
        raise typer.Exit(2) from None
    if fmt is OutputFormat.jsonl:
        for line in report.lines():
            sys.stdout.write(json.dumps(line, ensure_ascii=False) + "\n")
        return
    print_report(report, title)


def print_report(report: ReplayReport, title: str) -> None:
    from qualification.replay import KINDS, OWNER_MEANS

    live = ", ".join(f"{v} ({n})" for v, n in report.live_versions.most_common()) or "none"
    out.print(title, markup=False)
    out.print(
        f"{report.replayed} submissions compared (live {live}): {report.unchanged} unchanged, "
        f"{report.changed} would change",
        markup=False,
    )
    out.print(OWNER_MEANS, markup=False)
    if not report.changed:
        return
    changes = Table(title="what would change", title_justify="left")
    for name in ("what", "from", "to", "submissions"):
        changes.add_column(name, overflow="fold")
    samples = Table(title="examples", title_justify="left")
    samples.add_column("what", no_wrap=True)
    samples.add_column("lead", no_wrap=True)
    samples.add_column("organization", no_wrap=True, overflow="ellipsis", max_width=32)
    samples.add_column("from -> to", no_wrap=True)
    samples.add_column("top reason", overflow="fold")
    labels = {"band": "band (fit/intent)"}
    for kind in KINDS:
        for before, after, n in report.transitions(kind):
            changes.add_row(labels.get(kind, kind), before, after, str(n))
            for e in report.examples[(kind, before, after)]:
                samples.add_row(
                    kind,
                    (e.lead_id or "")[:12],
                    e.organization or "",
                    f"{e.before} -> {e.after}",
                    e.top_reason,
                )
    out.print(changes)
    if samples.row_count:
        out.print(samples)


def register(app: typer.Typer) -> None:
    app.add_typer(criteria_app, name="criteria")
    app.command("replay")(replay_command)
