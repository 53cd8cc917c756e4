"""The active criteria sheet, read once per file version."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from models.settings import get_settings
from qualification.criteria import Criteria, load_criteria


@lru_cache(maxsize=8)
def _load(path: str, mtime_ns: int) -> Criteria:
    return load_criteria(path)


def active_criteria(path: str | Path | None = None) -> Criteria:
    """The sheet at `path` or MEDLEADS_CRITERIA; re-read when the file changes."""
    target = Path(path or get_settings().criteria)
    return _load(str(target), target.stat().st_mtime_ns)
