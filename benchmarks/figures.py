"""One shape for every benchmark's results, so `make bench` can print them in one table."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Figure:
    """One measured figure: which benchmark, what, the value, the target and whether it was met.

    `met` is None for figures that have no target (context such as a baseline or a count).
    """

    bench: str
    name: str
    value: str
    target: str = ""
    met: bool | None = None

    @property
    def verdict(self) -> str:
        return {True: "met", False: "NOT MET", None: ""}[self.met]


def print_figures(figures: list[Figure], title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for column in ("benchmark", "figure", "value", "target", ""):
        table.add_column(column)
    for f in figures:
        table.add_row(f.bench, f.name, f.value, f.target, f.verdict)
    console = Console()
    if not console.is_terminal:
        console = Console(width=180)  # a log or a pipe: no wrapping inside the cells
    console.print(table)


async def count_task_runs(client: Any, after: Any) -> int:
    """Task runs started after `after`, an aware datetime (the Python client has no count call
    for task runs; Prefect's filter types still name pendulum's DateTime)."""
    from prefect.client.schemas.filters import TaskRunFilter, TaskRunFilterStartTime

    task_filter = TaskRunFilter(start_time=TaskRunFilterStartTime(after_=after))
    body = {"task_runs": task_filter.model_dump(mode="json")}
    return int((await client._client.post("/task_runs/count", json=body)).json())
