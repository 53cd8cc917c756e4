"""`medleads outbound --dry-run FILE`: what a list would become, with nothing stored.

A person checks a purchased list before loading it: the preset recognised, where each field
comes from, counts by status and reason, and the first rows' decisions with their reasons.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

import typer

from adapters.rows import FileError, SubmissionFile
from models.settings import get_settings
from qualification.criteria import CriteriaError, load_criteria
from qualification.decision import Decision
from qualification.evaluate import evaluate

from .console import err, out


def _why(d: Decision) -> list[str]:
    """The lines a person checks: what the provider data meant (taxonomy, Medicare specialty,
    entity type, subpart), then the failed hard stop or the status rule."""
    provider = [
        c.detail
        for c in d.checks
        if c.step == "validation"
        and c.name in ("taxonomy", "medicare_specialty", "entity_type", "parent_organization")
    ]
    deciding = [c.detail for c in d.checks if c.step == "hard_stop" and c.outcome == "fail"]
    if not deciding:
        deciding = [c.detail for c in d.checks if c.step == "status"][:1]
    return provider[:3] + deciding[:1]


def _facts(d: Decision) -> str:
    """Specialty, organization type and role, with the taxonomy line when one decided them."""
    parts = [d.specialty or "specialty ?", d.org_type or "org type ?", d.role or "role ?"]
    return ", ".join(parts)


def dry_run(
    file: Path,
    *,
    channel: str,
    preset: str | None,
    criteria_path: Path | None,
    today: dt.date,
    show: int,
) -> Counter[str]:
    """Evaluate every row of the file as the channel flow would, print the report, store
    nothing. Returns the counts by status."""
    try:
        criteria = load_criteria(criteria_path or get_settings().criteria)
    except CriteriaError as exc:
        for problem in exc.problems:
            err.print(str(problem), markup=False)
        raise typer.Exit(2) from None
    source = SubmissionFile(file, channel=channel, preset=preset)
    statuses: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    rejected: list[tuple[int, str]] = []
    first: list[Decision] = []
    try:
        for result in source.rows():
            if result.submission is None:
                rejected.append((result.row, result.error or ""))
                continue
            decision = evaluate(result.submission, criteria, today=today)
            statuses[decision.status] += 1
            reasons[f"{decision.status}: {decision.reason}"] += 1
            if len(first) < show:
                first.append(decision)
    except FileError as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(2) from None

    out.print(
        f"dry run of {file.name} under criteria {criteria.version}: nothing stored", markup=False
    )
    if source.layout is None:
        out.print("list preset: none recognised (columns mapped by their names)", markup=False)
    for note in source.notes:
        out.print(f"  {note}", markup=False)
    out.print("column mapping (field <- source):", markup=False)
    for name, where in source.mapping():
        out.print(f"  {name} <- {where}", markup=False)
    total = sum(statuses.values())
    out.print(f"{total} row(s) evaluated, {len(rejected)} rejected", markup=False)
    out.print(
        "by status: " + (", ".join(f"{s} {n}" for s, n in statuses.most_common()) or "none"),
        markup=False,
    )
    out.print("by status and reason:", markup=False)
    for key, n in reasons.most_common():
        out.print(f"  {n:>6}  {key}", markup=False)
    for row, why in rejected[:show]:
        out.print(f"  rejected row {row}: {why}", markup=False)
    out.print(f"first {len(first)} row(s):", markup=False)
    for d in first:
        out.print(
            f"  row {d.row}: {(d.organization_name or '?')[:50]} / {(d.contact_name or '?')[:30]}"
            f" -> {d.status} {d.reason} (fit {d.fit_score} {d.fit_band}; {_facts(d)})",
            markup=False,
        )
        for line in _why(d):
            out.print(f"      {line}", markup=False)
    return statuses
