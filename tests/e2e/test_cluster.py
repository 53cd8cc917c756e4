"""`medleads cluster up` on this machine: every part healthy with the status contract, then the
failover drill of issue 14 (benchmarks/cluster_drill.py, at its quick size: 200 signed posts
through the load balancer and a 2,000-row outbound list at once, kill -9 of an API replica mid-burst
and of the worker running the list mid-chunk): everything decided once with no run started by
hand, every email and handoff delivered once, every borderline lead suspended and resumed through
the load balancer; `up` again brings the killed parts back and `down` leaves nothing running.
`make bench-cluster` runs the same drill at full size (3,000 posts, 50,000 rows)."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from typer.testing import CliRunner

from benchmarks.cluster_drill import Sizes, drill_cluster
from benchmarks.cluster_drill import run as run_drill
from cli.main import app

Cluster = tuple[Any, Any, Any]  # topology, SMTP server, CRM stand-in


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    if shutil.which("haproxy") is None:
        pytest.skip("haproxy is not installed (make cluster-deps installs it as root)")
    lines: list[str] = []
    with drill_cluster(lines.append) as parts:
        yield parts
    assert not [line for line in lines if "left running" in line], lines


def test_every_part_is_healthy_and_status_prints_the_contract(cluster: Cluster) -> None:
    t = cluster[0]
    result = CliRunner().invoke(app, ["cluster", "status", "--format", "json"])
    assert result.exit_code == 0, result.stdout
    report = json.loads(result.stdout)
    assert set(report) == {"parts", "prefect_api_url", "intake_url", "database_url"}
    roles = Counter(p["role"] for p in report["parts"])
    assert roles == {
        "postgres": 1,
        "redis": 1,
        "api": 2,
        "services": 1,
        "worker": 2,
        "intake": 2,
        "load_balancer": 1,
    }
    for part in report["parts"]:
        assert set(part) == {"name", "role", "pid", "url", "healthy"}
        assert part["healthy"] is True and isinstance(part["pid"], int), part
    assert report["prefect_api_url"] == t.api_url


def test_the_failover_drill_loses_nothing_and_does_nothing_twice(cluster: Cluster) -> None:
    from cli.cluster import status, up

    t, mailbox, crm = cluster
    drill = run_drill(t, mailbox, crm, Sizes.of(quick=True), log=print)
    for f in drill.figures:
        print(f"{f.name}: {f.value} {f.verdict}")
    for note in drill.notes:
        print(note)
    assert not drill.problems, drill.problems
    up(log=lambda line: None)  # the killed worker and API replica back
    assert all(p["healthy"] for p in status(t)["parts"])
