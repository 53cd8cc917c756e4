"""The outbound-list flow on N generated rows: wall time, flow runs and task runs created.

Run: `python -m benchmarks.outbound_list --rows 10000` (uses PREFECT_API_URL, or a temporary
local Prefect server when unset; a fresh SQLite database under a temporary data folder).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import datetime as dt
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from .core_speed import rows


def write_list(path: Path, count: int) -> None:
    data = rows(count)
    first = next(data)
    with path.open("w", newline="", encoding="utf-8") as f:
        # CMS rows carry org_type, NPPES rows npi and contact_role: one header for both.
        fields = list(dict.fromkeys([*first, "org_type", "npi", "contact_role"]))
        writer = csv.DictWriter(f, fields, restval="")
        writer.writeheader()
        writer.writerow(first)
        writer.writerows(data)


async def run_counts(since: float) -> tuple[int, int]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterStartTime,
        TaskRunFilter,
        TaskRunFilterStartTime,
    )

    # Prefect's filters take plain datetimes at run time (its pendulum types are deprecated).
    start: Any = dt.datetime.fromtimestamp(since, tz=dt.UTC)
    async with get_client() as client:
        flows = await client.count_flow_runs(
            flow_run_filter=FlowRunFilter(start_time=FlowRunFilterStartTime(after_=start))
        )
        body = {
            "task_runs": TaskRunFilter(start_time=TaskRunFilterStartTime(after_=start)).model_dump(
                mode="json"
            )
        }
        response = await client._client.post("/task_runs/count", json=body)
        tasks = int(response.json())
    return flows, tasks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=1000)
    args = parser.parse_args()
    console = Console()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["MEDLEADS_DATA_DIR"] = str(Path(tmp) / "data")
        os.environ.pop("MEDLEADS_DATABASE_URL", None)
        from flows.outbound_list import outbound_list
        from models.db import upgrade

        upgrade()
        path = Path(tmp) / "outbound.csv"
        write_list(path, args.rows)
        started = time.time()
        clock = time.perf_counter()
        summary = outbound_list(file=str(path), batch_size=args.batch_size)
        wall = time.perf_counter() - clock
        flows, tasks = asyncio.run(run_counts(started - 1))
    console.print(
        f"outbound list of {args.rows:,} rows in chunks of {args.batch_size}: {wall:.1f} s wall "
        f"({args.rows / wall:,.0f} rows/s); {flows} flow run(s), {tasks} task run(s); "
        f"processed {summary.processed:,}, rejected {summary.rejected}, "
        f"handoffs {summary.handoffs:,}; statuses {dict(summary.statuses.most_common())}"
    )


if __name__ == "__main__":
    main()
