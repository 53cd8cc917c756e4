"""Serve every medleads deployment from one process (`medleads serve`).

Form and webinar runs start on the intake's `medleads.submissions.pending` events (coalesced by
the intake, queued one at a time here); sweeps, recheck (daily at 06:00 UTC: each lead waits
for its own horizon) and the SLA watch run on schedules; reviews are started per borderline
lead. PREFECT_RUNNER_POLL_FREQUENCY sets how fast a scheduled run starts.
"""

from __future__ import annotations

import importlib
import logging
import sys
from pathlib import Path
from typing import Any, cast

import yaml
from prefect import serve
from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
from prefect.deployments.runner import RunnerDeployment
from prefect.events.schemas.deployment_triggers import DeploymentEventTrigger
from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY

from adapters.prefect_api import ensure_crash_detection
from models.settings import PROJECT_ROOT, get_settings

log = logging.getLogger(__name__)

# The one declaration of the deployments: `prefect deploy --all` reads it for a work pool, and
# `medleads serve` builds the same deployments from it.
DEPLOYMENTS_FILE = PROJECT_ROOT / "prefect.yaml"


def deployment_specs() -> list[dict[str, Any]]:
    specs: list[dict[str, Any]] = yaml.safe_load(DEPLOYMENTS_FILE.read_text())["deployments"]
    return specs


def entrypoint_flow(entrypoint: str) -> Any:
    """`flows/review.py:review_lead` -> the flow object."""
    path, _, name = entrypoint.partition(":")
    module = importlib.import_module(".".join(Path(path).with_suffix("").parts))
    return getattr(module, name)


def _trigger(spec: dict[str, Any]) -> DeploymentEventTrigger:
    return DeploymentEventTrigger(
        name=spec.get("name"), expect=set(spec["expect"]), match=spec.get("match", {})
    )


def _deployment(spec: dict[str, Any], intervals: dict[str, float]) -> RunnerDeployment:
    kwargs: dict[str, Any] = {
        "name": spec["name"],
        "tags": spec.get("tags"),
        "description": spec.get("description"),
        "triggers": [_trigger(t) for t in spec.get("triggers", [])] or None,
    }
    if limit := spec.get("concurrency_limit"):
        kwargs["concurrency_limit"] = ConcurrencyLimitConfig(
            limit=limit["limit"],
            collision_strategy=ConcurrencyLimitStrategy(limit["collision_strategy"]),
        )
    for schedule in spec.get("schedules", []):
        if "interval" in schedule:
            kwargs["interval"] = intervals.get(spec["name"], schedule["interval"])
        else:
            kwargs["cron"] = schedule["cron"]
    flow = entrypoint_flow(spec["entrypoint"])
    return cast(RunnerDeployment, flow.to_deployment(**kwargs))


def deployments(
    sweep_minutes: float = 5, intake_sweep_minutes: float = 1
) -> list[RunnerDeployment]:
    """Every deployment of prefect.yaml; the sweeps' intervals can be shortened (tests, drills)."""
    intervals = {"review-sweep": sweep_minutes * 60, "intake-sweep": intake_sweep_minutes * 60}
    return [_deployment(spec, intervals) for spec in deployment_specs()]


def main(
    sweep_minutes: float = 5, intake_sweep_minutes: float = 1, only: list[str] | None = None
) -> None:
    """Serve every deployment, or only those named in `only` (e.g. ["review"])."""
    chosen = [
        d for d in deployments(sweep_minutes, intake_sweep_minutes) if not only or d.name in only
    ]
    frequency = PREFECT_FLOWS_HEARTBEAT_FREQUENCY.value()
    if frequency:
        try:
            ensure_crash_detection(frequency)
        except Exception as exc:  # serving matters more; a killed run then stays Running longer
            log.warning("crash detection not set up (%s)", type(exc).__name__)
    # At most this many flow-run processes at once: a burst with many borderline leads otherwise
    # starts one process per review run together (36 at once measured, load 20 on 2 cores).
    serve(*chosen, limit=get_settings().serve_limit)


if __name__ == "__main__":
    main(only=sys.argv[1:] or None)
