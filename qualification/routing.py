"""Owner choice: eligible owners by team, territory and specialty, fair round robin, fallback."""

from __future__ import annotations

from collections.abc import Mapping

from .criteria import Routing
from .decision import RoutePlan

TEAM_BY_STATUS: dict[str, str] = {
    "sql": "sales",
    "mql": "marketing",
    "mql_no_timeline": "marketing",
    "nurture": "marketing",
    "in_review": "review",
    "disqualified": "none",
}


def plan_route(
    status: str, state: str | None, specialty: str | None, routing: Routing
) -> RoutePlan:
    """Eligible owners for a lead in sheet order, with each skipped owner and why."""
    team = TEAM_BY_STATUS.get(status, "none")
    if team not in ("sales", "marketing"):
        return RoutePlan(team=team)  # type: ignore[arg-type]
    fallback: str = getattr(routing.fallback, team)
    candidates: list[str] = []
    skipped: list[tuple[str, str]] = []
    for owner in routing.owners:
        if owner.team != team or owner.id == fallback:
            continue
        if owner.territories and state not in owner.territories:
            continue
        if owner.specialties and specialty not in owner.specialties:
            continue
        if not owner.available:
            skipped.append((owner.id, owner.unavailable_reason))
            continue
        candidates.append(owner.id)
    return RoutePlan(
        team=team,  # type: ignore[arg-type]
        candidates=tuple(candidates),
        skipped=tuple(skipped),
        fallback=fallback,
    )


def pick_owner(
    plan: RoutePlan,
    open_leads: Mapping[str, int],
    last_assigned: Mapping[str, int],
    routing: Routing,
) -> tuple[str | None, list[tuple[str, str]]]:
    """Choose the owner: fewest open leads relative to capacity, then longest since last lead.

    `last_assigned` holds a monotonically increasing sequence number per owner (0 = never),
    which keeps the rotation fair when several runs assign at once from the same counters.
    Owners at capacity are skipped with a reason; the fallback takes the lead when none is left.
    """
    if plan.team not in ("sales", "marketing"):
        return None, []
    skipped = list(plan.skipped)
    eligible: list[str] = []
    for owner_id in plan.candidates:
        capacity = routing.by_id[owner_id].capacity
        if open_leads.get(owner_id, 0) >= capacity:
            skipped.append((owner_id, f"at capacity ({capacity} open leads)"))
        else:
            eligible.append(owner_id)
    if not eligible:
        return plan.fallback, skipped
    chosen = min(
        eligible,
        key=lambda o: (
            open_leads.get(o, 0) / routing.by_id[o].capacity,
            last_assigned.get(o, 0),
            plan.candidates.index(o),
        ),
    )
    return chosen, skipped
