"""The logger of the Prefect run in progress (its lines show on the run's page), or a module's
logger outside a run (a task's `.fn` called directly, a CLI command)."""

from __future__ import annotations

import logging

from prefect import get_run_logger
from prefect.exceptions import MissingContextError


def run_logger(fallback: str) -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
    try:
        return get_run_logger()
    except MissingContextError:
        return logging.getLogger(fallback)
