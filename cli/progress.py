"""A progress bar for long channel runs in a terminal: rows of the file decided so far, read from
the database while the flow runs in this process."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlmodel import col, func, select

from models.db import session_scope
from models.tables import RawSubmission

from .console import err

FINISHED = ("done", "failed", "rejected")


def rows_finished(source_name: str) -> int:
    """Rows of a file (by its stored source name) that are decided, failed or rejected."""
    with session_scope() as session:
        return int(
            session.exec(
                select(func.count())
                .select_from(RawSubmission)
                .where(
                    col(RawSubmission.source_name) == source_name,
                    col(RawSubmission.state).in_(FINISHED),
                )
            ).one()
        )


def data_rows(file: Path) -> int:
    """About how many rows a CSV or JSONL file holds (lines after a CSV header)."""
    with file.open("rb") as f:
        lines = sum(1 for line in f if line.strip())
    return max(0, lines - (0 if file.suffix.lower() in (".jsonl", ".ndjson") else 1))


@contextmanager
def file_progress(file: Path, every: float = 0.5) -> Iterator[None]:
    """Show rows finished / rows in the file while the body runs; nothing when stderr is not a
    terminal."""
    if not err.is_terminal:
        yield
        return
    stop = threading.Event()
    columns = (
        TextColumn(f"{file.name}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task("rows", total=data_rows(file))

        def poll() -> None:
            while not stop.wait(every):
                try:
                    bar.update(task, completed=rows_finished(file.name))
                except Exception:  # a progress bar never fails the run
                    continue

        thread = threading.Thread(target=poll, daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(timeout=5)


@contextmanager
def counted_progress(label: str) -> Iterator[Callable[[int, int], None]]:
    """A bar told `(done, total)` by the work itself (`medleads replay`); nothing when stderr
    is not a terminal."""
    if not err.is_terminal:
        yield lambda done, total: None
        return
    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task(label, total=None)

        def tell(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield tell
