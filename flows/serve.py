"""Serve every medleads deployment from one process (`medleads serve`).

Form and webinar runs start on the intake's `medleads.submissions.pending` events (coalesced by
the intake, queued one at a time here); sweeps, recheck (daily at 06:00 UTC: each lead waits
for its own horizon) and the SLA watch run on schedules; reviews are started per borderline
lead. PREFECT_RUNNER_POLL_FREQUENCY sets how fast a scheduled run starts.
"""

from __future__ import annotations

import sys
from typing import Any, cast

from prefect import serve
from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
from prefect.deployments.runner import RunnerDeployment
from prefect.events.schemas.deployment_triggers import DeploymentEventTrigger

from models.settings import get_settings

from .inbound_form import inbound_form
from .intake_sweep import intake_sweep
from .outbound_list import outbound_list
from .recheck import recheck
from .report import report
from .review import review_lead
from .review_sweep import review_sweep
from .sla_watch import sla_watch
from .webinar import webinar

PENDING_EVENT = "medleads.submissions.pending"


def _on_pending(channel: str) -> DeploymentEventTrigger:
    return DeploymentEventTrigger(
        name=f"{channel} submissions pending",
        expect={PENDING_EVENT},
        match={"prefect.resource.id": f"medleads.channel.{channel}"},
    )


def _one_at_a_time() -> ConcurrencyLimitConfig:
    # Each run drains everything pending, so queued runs find little left; none is dropped.
    return ConcurrencyLimitConfig(limit=1, collision_strategy=ConcurrencyLimitStrategy.ENQUEUE)


def _deployment(flow: Any, **kwargs: Any) -> RunnerDeployment:
    return cast(RunnerDeployment, flow.to_deployment(**kwargs))


def deployments(
    sweep_minutes: float = 5, intake_sweep_minutes: float = 1
) -> list[RunnerDeployment]:
    return [
        _deployment(
            inbound_form,
            name="inbound-form",
            triggers=[_on_pending("form")],
            concurrency_limit=_one_at_a_time(),
            tags=["channel"],
            description="Decide every stored form post; started by the intake's events.",
        ),
        _deployment(
            webinar,
            name="webinar",
            triggers=[_on_pending("webinar")],
            concurrency_limit=_one_at_a_time(),
            tags=["channel"],
            description="Decide webinar callbacks (or an attendee list given as `file`).",
        ),
        _deployment(
            outbound_list,
            name="outbound-list",
            tags=["channel"],
            description="Run on demand with `file`: a prospect CSV (no email without consent).",
        ),
        _deployment(review_lead, name="review", tags=["review"]),
        _deployment(
            review_sweep, name="review-sweep", interval=sweep_minutes * 60, tags=["review"]
        ),
        _deployment(
            intake_sweep,
            name="intake-sweep",
            interval=intake_sweep_minutes * 60,
            concurrency_limit=_one_at_a_time(),
            tags=["channel"],
            description="Process submissions stored while Prefect was unreachable.",
        ),
        _deployment(
            recheck,
            name="recheck",
            cron="0 6 * * *",
            concurrency_limit=_one_at_a_time(),
            tags=["recheck"],
            description="Re-evaluate mql_no_timeline and temporary disqualifications when due.",
        ),
        _deployment(
            sla_watch,
            name="sla-watch",
            interval=900,
            concurrency_limit=_one_at_a_time(),
            tags=["sla"],
            description="Escalate leads past their SLA without a first touch.",
        ),
        _deployment(
            report,
            name="report",
            cron="0 7 * * *",
            concurrency_limit=_one_at_a_time(),
            tags=["report"],
            description="The lead report as artifacts, with its chart in data/reports.",
        ),
    ]


def main(
    sweep_minutes: float = 5, intake_sweep_minutes: float = 1, only: list[str] | None = None
) -> None:
    """Serve every deployment, or only those named in `only` (e.g. ["review"])."""
    chosen = [
        d for d in deployments(sweep_minutes, intake_sweep_minutes) if not only or d.name in only
    ]
    # At most this many flow-run processes at once: a burst with many borderline leads otherwise
    # starts one process per review run together (36 at once measured, load 20 on 2 cores).
    serve(*chosen, limit=get_settings().serve_limit)


if __name__ == "__main__":
    main(only=sys.argv[1:] or None)
