"""`make bench`: every benchmark in one run, one table, appended to benchmarks/RESULTS.md.

Run: `python -m benchmarks.run [--quick] [--skip-postgres] [--only outbound]`. Each benchmark
measures its own baseline in the same run and prints ratios to it; the targets are those of
DESIGN §7 and issue 6. `--quick` uses small sizes (a smoke test of the harness, not a
measurement); `--only` runs the steps whose name contains the text. The load average is recorded
with the figures: the machine may be shared.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

from .figures import Figure, print_figures

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def machine() -> str:
    memory = ""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            total_kb = int(f.readline().split()[1])
        memory = f", {total_kb / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return (
        f"{platform.node() or 'unknown host'}: {platform.machine()}, {os.cpu_count()} cores"
        f"{memory}, {platform.system()} {platform.release()}, Python "
        f"{platform.python_version()}, Prefect {version('prefect')}"
    )


def load_average() -> str:
    """The machine's 1-minute load average: other work on a shared machine skews the figures."""
    try:
        return f"{os.getloadavg()[0]:.1f}"
    except OSError:
        return "unknown"


def markdown(figures: list[Figure], title: str, seconds: float, load: str) -> str:
    lines = [
        f"## {title}",
        "",
        f"Machine: {machine()}. Whole run: {seconds / 60:.1f} min. Load average (1 min) {load}.",
        "",
        "| benchmark | figure | value | target | |",
        "|---|---|---|---|---|",
    ]
    for f in figures:
        cells = (f.bench, f.name, f.value, f.target, f.verdict)
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    return "\n".join(lines) + "\n\n"


def steps(quick: bool, postgres: bool) -> list[tuple[str, Callable[[], list[Figure]]]]:
    from . import core_speed, form_latency, intake_burst, outbound_list

    sizes = (2_000, 10_000) if quick else (10_000, 100_000)
    burst = 200 if quick else 1_000
    plan: list[tuple[str, Callable[[], list[Figure]]]] = [
        ("pure core", lambda: core_speed.measure_figures(5_000 if quick else 20_000)),
        ("outbound, SQLite", lambda: outbound_list.measure(False, sizes)),
        ("burst, SQLite", lambda: intake_burst.measure(False, posts=burst)),
        ("one form latency, SQLite", lambda: form_latency.measure(False)),
    ]
    if postgres:
        plan += [
            ("outbound, PostgreSQL", lambda: outbound_list.measure(True, sizes[-1:])),
            ("burst, PostgreSQL", lambda: intake_burst.measure(True, posts=burst)),
        ]
    return plan


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes; not a measurement")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--no-record", action="store_true", help="do not append to RESULTS.md")
    parser.add_argument("--only", help="run only the steps whose name contains this text")
    args = parser.parse_args()
    # Offline machines: Prefect's telemetry would log an error from every temporary server.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    started = time.perf_counter()
    figures: list[Figure] = []
    loads = [load_average()]
    for name, step in steps(args.quick, not args.skip_postgres):
        if args.only and args.only not in name:
            continue
        print(f"-- {name} ...", flush=True)
        clock = time.perf_counter()
        try:
            figures += step()
        except Exception as exc:  # one broken benchmark must not hide the others' figures
            figures.append(Figure(name, "benchmark failed", f"{type(exc).__name__}: {exc}"[:200]))
        loads.append(load_average())
        print(f"   {time.perf_counter() - clock:.0f} s, load average {loads[-1]}", flush=True)
    seconds = time.perf_counter() - started
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    title = f"make bench, {when}" + (" (quick)" if args.quick else "")
    if args.only:
        title += f" (only {args.only})"
    load = " -> ".join(loads) + " at the start and after each step (2 cores)"
    print_figures(figures, title)
    print(f"whole run {seconds / 60:.1f} min on {machine()}; load average {load}")
    if not args.no_record:
        if not RESULTS.exists():
            RESULTS.write_text("# Benchmark results\n\nAppended by `make bench`, newest last.\n\n")
        with RESULTS.open("a", encoding="utf-8") as f:
            f.write(markdown(figures, title, seconds, load))
        print(f"appended to {RESULTS}")


if __name__ == "__main__":
    main()
