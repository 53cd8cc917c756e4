"""Serve the deployments that must run here: the review flow (suspends need a deployment) and
its sweep. `medleads serve` runs this; PREFECT_RUNNER_POLL_FREQUENCY sets how fast runs start."""

from __future__ import annotations

from typing import cast

from prefect import serve
from prefect.deployments.runner import RunnerDeployment

from .review import review_lead
from .review_sweep import review_sweep


def deployments(sweep_minutes: float = 5) -> list[RunnerDeployment]:
    return [
        cast(RunnerDeployment, review_lead.to_deployment(name="review", tags=["review"])),
        cast(
            RunnerDeployment,
            review_sweep.to_deployment(
                name="review-sweep", interval=sweep_minutes * 60, tags=["review"]
            ),
        ),
    ]


def main(sweep_minutes: float = 5) -> None:
    serve(*deployments(sweep_minutes))


if __name__ == "__main__":
    main()
