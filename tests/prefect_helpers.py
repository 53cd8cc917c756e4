"""Helpers for tests that run their own Prefect server."""

from __future__ import annotations

from cli.stack import drain_prefect_workers

__all__ = ["drain_prefect_workers"]
