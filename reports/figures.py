"""The lead report's figures: funnel, disqualifications, bands, reviews, timings, owners,
fallbacks, rechecks and conversion from CRM outcomes. `build_report` is a plain function over a
session; `sections` lays the figures out as tables for the CLI and the report flow."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, case, func
from sqlalchemy import select as sa_select
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

from models.tables import (
    Assignment,
    DecisionRecord,
    Lead,
    Outcome,
    OwnerState,
    Review,
    ReviewEvent,
    SentEmail,
    utcnow,
)
from qualification.closed_sets import ReviewOption
from qualification.criteria import DISQUALIFICATION_REASONS, Routing
from qualification.lifecycle import (
    CRM_IMPORTER,
    ESCALATION_EMAIL,
    SYSTEM_REVIEWER,
    WATCHED_STATUSES,
    review_status,
)
from qualification.text import parse_datetime

STAGES: tuple[str, ...] = ("new", "mql", "sql", "opportunity")
# A lead is counted at a stage when an applied decision gave it a status of that stage or a later
# one, so the funnel never widens: mql_no_timeline is an MQL, an opportunity was an SQL.
STAGE_STATUSES: dict[str, tuple[str, ...]] = {
    "mql": ("mql", "mql_no_timeline"),
    "sql": ("sql",),
    "opportunity": ("opportunity",),
}
CONVERTED: tuple[str, ...] = ("opportunity", "closed_won")
CHANNELS: tuple[str, ...] = ("form", "webinar", "outbound")
BANDS: tuple[str, ...] = ("low", "mid", "high")
ALL = "*"
NO_CAMPAIGN = "(none)"
NO_SIGNAL = "(none)"


@dataclass(frozen=True)
class FunnelRow:
    channel: str
    campaign: str
    new: int
    mql: int
    sql: int
    opportunity: int


@dataclass(frozen=True)
class Timing:
    """Durations in seconds over the leads that have one; percentiles by nearest rank."""

    leads: int
    p50: float | None
    p95: float | None


@dataclass(frozen=True)
class Sla:
    with_sla: int = 0
    touched_in_time: int = 0
    touched_late: int = 0
    untouched_past_due: int = 0
    escalated: int = 0

    @property
    def breached(self) -> int:
        return self.touched_late + self.untouched_past_due


@dataclass(frozen=True)
class OwnerLoad:
    owner_id: str
    team: str
    open_leads: int
    assigned: int
    via_fallback: int
    eligible: bool


@dataclass(frozen=True)
class Fairness:
    """Assignments among a team's eligible owners: max/min (None when an owner got none) and the
    Gini coefficient (0: all got the same number; 1: one owner got everything)."""

    team: str
    owners: int
    min_assigned: int
    max_assigned: int
    max_min_ratio: float | None
    gini: float | None


@dataclass(frozen=True)
class ReviewRow:
    proposed: str
    decided: str
    reason: str
    decided_by: str  # "person" or "sweep default"
    reviews: int

    @property
    def override(self) -> bool:
        return self.proposed != self.decided


@dataclass(frozen=True)
class Conversion:
    key: tuple[str, ...]
    leads: int
    opportunities: int
    won: int
    lost: int

    @property
    def rate(self) -> float | None:
        return self.opportunities / self.leads if self.leads else None


@dataclass
class Report:
    generated_at: dt.datetime
    since: dt.datetime | None = None
    channel: str | None = None
    leads: int = 0
    outcomes: int = 0
    funnel: list[FunnelRow] = field(default_factory=list)
    disqualified: dict[str, int] = field(default_factory=dict)
    bands: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)
    reviews: list[ReviewRow] = field(default_factory=list)
    first_owner: Timing = Timing(0, None, None)
    first_touch: Timing = Timing(0, None, None)
    sla: Sla = Sla()
    owners: list[OwnerLoad] = field(default_factory=list)
    fairness: list[Fairness] = field(default_factory=list)
    fallback: dict[tuple[str, str], int] = field(default_factory=dict)
    fallback_leads: int = 0
    promotions: dict[tuple[str, str], int] = field(default_factory=dict)
    conversion_by_band: list[Conversion] = field(default_factory=list)
    conversion_by_rule: list[Conversion] = field(default_factory=list)
    conversion_by_signal: list[Conversion] = field(default_factory=list)

    @property
    def human_reviews(self) -> int:
        return sum(r.reviews for r in self.reviews if r.decided_by == "person")

    @property
    def human_overrides(self) -> int:
        return sum(r.reviews for r in self.reviews if r.decided_by == "person" and r.override)

    @property
    def scope(self) -> str:
        parts = [f"since {self.since:%Y-%m-%d}" if self.since else "all time"]
        if self.channel:
            parts.append(f"channel {self.channel}")
        return ", ".join(parts)


def parse_since(text: str) -> dt.datetime:
    """YYYY-MM-DD (midnight UTC) or an ISO date and time (UTC when it names no zone)."""
    return parse_datetime(text)


def percentile(values: Sequence[float], p: int) -> float | None:
    """Nearest rank: the smallest value with at least p% of the values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-p * len(ordered) // 100))
    return ordered[rank - 1]


def gini(values: Sequence[int]) -> float | None:
    total = sum(values)
    if not values or total == 0:
        return None
    spread = sum(abs(a - b) for a in values for b in values)
    return spread / (2 * len(values) * total)


def _timing(seconds: list[float]) -> Timing:
    return Timing(len(seconds), percentile(seconds, 50), percentile(seconds, 95))


def build_report(
    session: Session,
    *,
    since: dt.datetime | None = None,
    channel: str | None = None,
    roster: Routing | None = None,
    now: dt.datetime | None = None,
) -> Report:
    """Every figure for the leads that arrived since `since` on `channel` (both optional).
    `roster` (the sheet's routing) says which owners are eligible for the fairness figure."""
    report = Report(generated_at=now or utcnow(), since=since, channel=channel)
    where: list[ColumnElement[bool]] = []
    if since is not None:
        where.append(col(Lead.created_at) >= since)
    if channel is not None:
        where.append(col(Lead.channel) == channel)
    cohort = sa_select(col(Lead.id)).where(*where)
    report.leads = int(
        session.execute(sa_select(func.count()).where(*where).select_from(Lead)).scalar_one()
    )
    report.outcomes = int(
        session.execute(
            sa_select(func.count()).where(col(Outcome.lead_id).in_(cohort)).select_from(Outcome)
        ).scalar_one()
    )
    report.funnel = _funnel(session, where)
    report.disqualified = {
        str(reason): int(n)
        for reason, n in session.execute(
            sa_select(col(Lead.reason), func.count())
            .where(col(Lead.status) == "disqualified", *where)
            .group_by(col(Lead.reason))
            .order_by(func.count().desc(), col(Lead.reason))
        ).all()
    }
    report.bands = _bands(session, where)
    report.reviews = _reviews(session, where)
    report.first_owner, report.first_touch, report.sla = _timings(
        session, where, cohort, report.generated_at
    )
    report.owners = _owners(session, where, cohort, roster)
    report.fairness = _fairness(report.owners)
    report.fallback, report.fallback_leads = _fallback(session, cohort)
    report.promotions = _promotions(session, cohort)
    by_band, by_rule, by_signal = _conversions(session, where, cohort)
    report.conversion_by_band, report.conversion_by_rule = by_band, by_rule
    report.conversion_by_signal = by_signal
    return report


def _stage_rank() -> ColumnElement[int]:
    return case(
        (col(DecisionRecord.status).in_(STAGE_STATUSES["opportunity"]), 3),
        (col(DecisionRecord.status).in_(STAGE_STATUSES["sql"]), 2),
        (col(DecisionRecord.status).in_(STAGE_STATUSES["mql"]), 1),
        else_=0,
    )


def _channel_order(name: str) -> tuple[int, str]:
    return (CHANNELS.index(name) if name in CHANNELS else len(CHANNELS), name)


def _funnel(session: Session, where: list[ColumnElement[bool]]) -> list[FunnelRow]:
    reached = (
        sa_select(col(DecisionRecord.lead_id), func.max(_stage_rank()).label("stage"))
        .where(col(DecisionRecord.applied).is_(True))
        .group_by(col(DecisionRecord.lead_id))
        .subquery()
    )
    stage = func.coalesce(reached.c.stage, 0)
    rows = session.execute(
        sa_select(
            col(Lead.channel),
            col(Lead.campaign),
            func.count(),
            *(func.sum(case((stage >= rank, 1), else_=0)) for rank in (1, 2, 3)),
        )
        .select_from(Lead)
        .outerjoin(reached, reached.c.lead_id == col(Lead.id))
        .where(*where)
        .group_by(col(Lead.channel), col(Lead.campaign))
    ).all()
    counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for channel, campaign, *numbers in rows:
        for key in ((channel, campaign or NO_CAMPAIGN), (channel, ALL), (ALL, ALL)):
            counts[key] = [a + int(b or 0) for a, b in zip(counts[key], numbers, strict=True)]
    ordered = sorted(
        (k for k in counts if k[0] != ALL),
        key=lambda k: (_channel_order(k[0]), k[1] != ALL, k[1]),
    )
    if counts:
        ordered.append((ALL, ALL))
    return [FunnelRow(ch, cp, *counts[(ch, cp)]) for ch, cp in ordered]


def _bands(
    session: Session, where: list[ColumnElement[bool]]
) -> dict[tuple[str, str], dict[str, int]]:
    cells: dict[tuple[str, str], dict[str, int]] = {}
    for fit, intent, status, n in session.execute(
        sa_select(col(Lead.fit_band), col(Lead.intent_band), col(Lead.status), func.count())
        .where(*where)
        .group_by(col(Lead.fit_band), col(Lead.intent_band), col(Lead.status))
    ).all():
        cells.setdefault((fit, intent), {})[status] = int(n)
    rank = {band: i for i, band in enumerate(BANDS)}
    return {
        key: dict(sorted(cells[key].items()))
        for key in sorted(cells, key=lambda k: (-rank.get(k[0], -1), -rank.get(k[1], -1)))
    }


def decided_status(option: str, reason: str | None, via: str, actor: str | None) -> tuple[str, str]:
    """The status and reason a review decision gave (the lifecycle's mapping)."""
    if option not in set(ReviewOption) or (option == ReviewOption.DISQUALIFY and not reason):
        return "?", reason or option
    expired = via == "sweep" and actor == SYSTEM_REVIEWER
    return review_status(option, reason, expired=expired)


def _reviews(session: Session, where: list[ColumnElement[bool]]) -> list[ReviewRow]:
    rows = session.execute(
        sa_select(
            col(Review.proposed_status),
            col(Review.option),
            col(Review.via),
            col(Review.decided_by),
            col(ReviewEvent.reason),
        )
        .select_from(Review)
        .join(Lead, col(Lead.id) == col(Review.lead_id))
        .outerjoin(
            ReviewEvent,
            and_(col(ReviewEvent.review_id) == col(Review.id), col(ReviewEvent.kind) == "decision"),
        )
        .where(col(Review.state) == "decided", *where)
    ).all()
    counts: Counter[tuple[str, str, str, str]] = Counter()
    for proposed, option, via, actor, reason in rows:
        status, why = decided_status(str(option), reason, str(via), actor)
        by = "sweep default" if via == "sweep" and actor == SYSTEM_REVIEWER else "person"
        counts[(proposed or "?", status, why, by)] += 1
    return [
        ReviewRow(*key, reviews=n)
        for key, n in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    ]


def _timings(
    session: Session,
    where: list[ColumnElement[bool]],
    cohort: Any,
    now: dt.datetime,
) -> tuple[Timing, Timing, Sla]:
    first_owner = [
        max(0.0, (assigned - created).total_seconds())
        for created, assigned in session.execute(
            sa_select(col(Lead.created_at), func.min(col(Assignment.assigned_at)))
            .join(Assignment, col(Assignment.lead_id) == col(Lead.id))
            .where(*where)
            .group_by(col(Lead.id), col(Lead.created_at))
        ).all()
    ]
    first_touch = [
        max(0.0, (touched - created).total_seconds())
        for created, touched in session.execute(
            sa_select(col(Lead.created_at), col(Lead.first_touch_at)).where(
                col(Lead.first_touch_at).is_not(None), *where
            )
        ).all()
    ]
    due, touched = col(Lead.sla_due_at), col(Lead.first_touch_at)
    counts = session.execute(
        sa_select(
            func.count(),
            func.sum(case((touched <= due, 1), else_=0)),
            func.sum(case((touched > due, 1), else_=0)),
            func.sum(
                case(
                    (
                        and_(
                            touched.is_(None),
                            due < now,
                            col(Lead.status).in_(WATCHED_STATUSES),
                        ),
                        1,
                    ),
                    else_=0,
                )
            ),
        ).where(due.is_not(None), *where)
    ).one()
    escalated = session.execute(
        sa_select(func.count(func.distinct(col(SentEmail.lead_id)))).where(
            col(SentEmail.kind) == ESCALATION_EMAIL, col(SentEmail.lead_id).in_(cohort)
        )
    ).scalar_one()
    with_sla, in_time, late, past_due = (int(n or 0) for n in counts)
    sla = Sla(with_sla, in_time, late, past_due, int(escalated))
    return _timing(first_owner), _timing(first_touch), sla


def _owners(
    session: Session, where: list[ColumnElement[bool]], cohort: Any, roster: Routing | None
) -> list[OwnerLoad]:
    teams: dict[str, str] = {}
    open_leads: Counter[str] = Counter()
    for owner, team, n in session.execute(
        sa_select(col(Lead.owner_id), col(Lead.team), func.count())
        .where(col(Lead.owner_id).is_not(None), *where)
        .group_by(col(Lead.owner_id), col(Lead.team))
    ).all():
        open_leads[owner] += int(n)
        teams.setdefault(owner, team or "")
    assigned: Counter[str] = Counter()
    fallback: Counter[str] = Counter()
    for owner, team, n, via_fallback in session.execute(
        sa_select(
            col(Assignment.owner_id),
            col(Assignment.team),
            func.count(),
            func.sum(case((col(Assignment.via_fallback).is_(True), 1), else_=0)),
        )
        .where(col(Assignment.lead_id).in_(cohort))
        .group_by(col(Assignment.owner_id), col(Assignment.team))
    ).all():
        assigned[owner] += int(n)
        fallback[owner] += int(via_fallback or 0)
        teams[owner] = team
    for state in session.exec(select(OwnerState)).all():
        teams.setdefault(state.id, state.team)
    eligible: set[str]
    if roster is not None:
        fallbacks = {roster.fallback.sales, roster.fallback.marketing}
        for owner in roster.owners:
            teams[owner.id] = owner.team
        eligible = {o.id for o in roster.owners if o.available and o.id not in fallbacks}
    else:
        eligible = {o for o in teams if not fallback[o]}
    return [
        OwnerLoad(o, teams[o], open_leads[o], assigned[o], fallback[o], o in eligible)
        for o in sorted(teams, key=lambda o: (teams[o], o not in eligible, o))
    ]


def _fairness(owners: Iterable[OwnerLoad]) -> list[Fairness]:
    by_team: dict[str, list[int]] = defaultdict(list)
    for owner in owners:
        if owner.eligible:
            by_team[owner.team].append(owner.assigned)
    result = []
    for team in sorted(by_team):
        values = by_team[team]
        low, high = min(values), max(values)
        result.append(
            Fairness(team, len(values), low, high, high / low if low else None, gini(values))
        )
    return result


def _fallback(session: Session, cohort: Any) -> tuple[dict[tuple[str, str], int], int]:
    via_fallback = [col(Assignment.via_fallback).is_(True), col(Assignment.lead_id).in_(cohort)]
    rows = session.execute(
        sa_select(
            col(Assignment.owner_id),
            col(Assignment.team),
            func.count(func.distinct(col(Assignment.lead_id))),
        )
        .where(*via_fallback)
        .group_by(col(Assignment.owner_id), col(Assignment.team))
        .order_by(col(Assignment.team), col(Assignment.owner_id))
    ).all()
    total = session.execute(
        sa_select(func.count(func.distinct(col(Assignment.lead_id)))).where(*via_fallback)
    ).scalar_one()
    return {(str(owner), str(team)): int(n) for owner, team, n in rows}, int(total)


def _promotions(session: Session, cohort: Any) -> dict[tuple[str, str], int]:
    """Recheck decisions that were applied and changed the status of the lead's previous applied
    decision (a recheck that keeps the status is applied too, and is not a promotion)."""
    previous = (
        func.lag(col(DecisionRecord.status))
        .over(
            partition_by=col(DecisionRecord.lead_id),
            order_by=(col(DecisionRecord.created_at), col(DecisionRecord.id)),
        )
        .label("previous")
    )
    ordered = (
        sa_select(
            col(DecisionRecord.lead_id),
            col(DecisionRecord.decided_by),
            col(DecisionRecord.status),
            previous,
        )
        .where(col(DecisionRecord.applied).is_(True), col(DecisionRecord.lead_id).in_(cohort))
        .subquery()
    )
    rows = session.execute(
        sa_select(ordered.c.previous, ordered.c.status, func.count())
        .where(
            ordered.c.decided_by == "recheck",
            ordered.c.previous.is_not(None),
            ordered.c.previous != ordered.c.status,
        )
        .group_by(ordered.c.previous, ordered.c.status)
        .order_by(func.count().desc(), ordered.c.previous, ordered.c.status)
    ).all()
    return {(str(a), str(b)): int(n) for a, b, n in rows}


def top_signal(checks: Any) -> str:
    """The fit or intent signal that scored the most points (the first one on a tie)."""
    best: tuple[int, str] | None = None
    for check in checks if isinstance(checks, list) else []:
        if not isinstance(check, Mapping) or check.get("step") not in ("fit", "intent"):
            continue
        points = int(check.get("points") or 0)
        if points > 0 and (best is None or points > best[0]):
            best = (points, f"{check['step']} {check.get('name')}")
    return best[1] if best else NO_SIGNAL


def _conversions(
    session: Session, where: list[ColumnElement[bool]], cohort: Any
) -> tuple[list[Conversion], list[Conversion], list[Conversion]]:
    outcome = col(Outcome.outcome)
    flags = (
        sa_select(
            col(Outcome.lead_id),
            func.max(case((outcome.in_(CONVERTED), 1), else_=0)).label("opportunity"),
            func.max(case((outcome == "closed_won", 1), else_=0)).label("won"),
            func.max(case((outcome == "closed_lost", 1), else_=0)).label("lost"),
        )
        .group_by(col(Outcome.lead_id))
        .subquery()
    )
    sums = [func.coalesce(func.sum(c), 0) for c in (flags.c.opportunity, flags.c.won, flags.c.lost)]
    by_band = [
        Conversion((fit, intent), int(n), int(o), int(w), int(lo))
        for fit, intent, n, o, w, lo in session.execute(
            sa_select(col(Lead.fit_band), col(Lead.intent_band), func.count(), *sums)
            .select_from(Lead)
            .outerjoin(flags, flags.c.lead_id == col(Lead.id))
            .where(*where)
            .group_by(col(Lead.fit_band), col(Lead.intent_band))
        ).all()
    ]
    rank = {band: i for i, band in enumerate(BANDS)}
    by_band.sort(key=lambda c: (-rank.get(c.key[0], -1), -rank.get(c.key[1], -1)))
    # The decision that qualified each lead: its newest applied decision not made by the import.
    table = DecisionRecord.__table__  # type: ignore[attr-defined]
    ranked = (
        sa_select(
            table.c.lead_id,
            table.c.status,
            table.c.reason,
            table.c.record["checks"].label("checks"),
            func.row_number()
            .over(
                partition_by=table.c.lead_id,
                order_by=(table.c.created_at.desc(), table.c.id.desc()),
            )
            .label("position"),
        )
        .where(
            table.c.applied.is_(True),
            table.c.decided_by != CRM_IMPORTER,
            table.c.lead_id.in_(cohort),
        )
        .subquery()
    )
    rows = session.execute(
        sa_select(
            ranked.c.status,
            ranked.c.reason,
            ranked.c.checks,
            flags.c.opportunity,
            flags.c.won,
            flags.c.lost,
        )
        .select_from(ranked)
        .outerjoin(flags, flags.c.lead_id == ranked.c.lead_id)
        .where(ranked.c.position == 1),
        execution_options={"yield_per": 1000},
    )
    rules: dict[tuple[str, ...], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    signals: dict[tuple[str, ...], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for status, reason, checks, opportunity, won, lost in rows:
        numbers = (1, int(opportunity or 0), int(won or 0), int(lost or 0))
        for target, key in (
            (rules, (str(status), str(reason or ""))),
            (signals, (top_signal(checks),)),
        ):
            target[key] = [a + b for a, b in zip(target[key], numbers, strict=True)]

    def ordered(counts: dict[tuple[str, ...], list[int]]) -> list[Conversion]:
        found = [Conversion(key, *numbers) for key, numbers in counts.items()]
        return sorted(found, key=lambda c: (-(c.rate or 0), -c.leads, c.key))

    return by_band, ordered(rules), ordered(signals)


# ---- the figures as sections of rows, shared by the CLI and the flow ----


@dataclass(frozen=True)
class Section:
    """One table of the report: `keys` name the columns that identify a row, the rest are
    figures. The CSV long format has one line per row and figure: section, key, metric, value,
    where key joins the row's key columns with "|"."""

    name: str
    title: str
    note: str
    keys: tuple[str, ...]
    rows: list[dict[str, Any]]


def _hours(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 3600, 3)


def _conversion_rows(names: Sequence[str], rows: Sequence[Conversion]) -> list[dict[str, Any]]:
    return [
        {
            **dict(zip(names, c.key, strict=True)),
            "leads": c.leads,
            "opportunities": c.opportunities,
            "won": c.won,
            "lost": c.lost,
            "opportunity_rate": c.rate,
        }
        for c in rows
    ]


def _reason_kind(reason: str) -> str:
    if reason not in DISQUALIFICATION_REASONS:
        return ""
    return "permanent" if DISQUALIFICATION_REASONS[reason] else "temporary"


def sections(report: Report) -> list[Section]:
    """The report as tables, in reading order, each with the definition of its figures."""
    statuses = sorted({s for cell in report.bands.values() for s in cell})
    no_outcomes = "" if report.outcomes else " No CRM outcomes imported yet."
    converted = "opportunity_rate = leads with an opportunity or closed_won outcome / leads."
    return [
        Section(
            "summary",
            "Summary",
            f"Leads that arrived in the report's scope ({report.scope}).",
            ("figure",),
            [
                {"figure": "leads", "value": report.leads},
                {"figure": "crm_outcomes", "value": report.outcomes},
                {"figure": "reviews_decided_by_a_person", "value": report.human_reviews},
                {"figure": "reviewer_overrides", "value": report.human_overrides},
                {"figure": "sla_breaches", "value": report.sla.breached},
                {"figure": "fallback_leads", "value": report.fallback_leads},
                {"figure": "recheck_promotions", "value": sum(report.promotions.values())},
            ],
        ),
        Section(
            "funnel",
            "Funnel by channel and campaign",
            "A lead counts at a stage when an applied decision ever gave it that stage's status "
            "or a later one (mql: mql or mql_no_timeline; sql; opportunity: from CRM outcomes). "
            "new counts every lead. '*' rows add up a channel or everything.",
            ("channel", "campaign"),
            [
                {
                    "channel": f.channel,
                    "campaign": f.campaign,
                    "new": f.new,
                    "mql": f.mql,
                    "sql": f.sql,
                    "opportunity": f.opportunity,
                }
                for f in report.funnel
            ],
        ),
        Section(
            "disqualified",
            "Disqualified leads by reason",
            "Leads whose current status is disqualified; temporary reasons are rechecked.",
            ("reason",),
            [
                {
                    "reason": reason,
                    "kind": _reason_kind(reason),
                    "leads": n,
                }
                for reason, n in report.disqualified.items()
            ],
        ),
        Section(
            "bands",
            "Status by score band",
            "Leads by fit band x intent band, and their current status.",
            ("fit_band", "intent_band"),
            [
                {
                    "fit_band": fit,
                    "intent_band": intent,
                    "leads": sum(cell.values()),
                    **{s: cell.get(s, 0) for s in statuses},
                }
                for (fit, intent), cell in report.bands.items()
            ],
        ),
        Section(
            "reviews",
            "Reviews: what the rules proposed and what was decided",
            "Decided reviews by the status the rules proposed, the status decided and its "
            "reason; an override is a decision other than the proposal. 'sweep default' is the "
            "sheet's default applied when nobody decided in time.",
            ("proposed", "decided", "reason", "decided_by"),
            [
                {
                    "proposed": r.proposed,
                    "decided": r.decided,
                    "reason": r.reason,
                    "decided_by": r.decided_by,
                    "reviews": r.reviews,
                    "override": "yes" if r.override else "no",
                }
                for r in report.reviews
            ],
        ),
        Section(
            "timing",
            "Time to first owner and first touch",
            "Hours from the lead's arrival to its first owner assignment, and to the first touch "
            "recorded for its current status (`medleads leads touch`); nearest-rank percentiles "
            "over the leads that have one.",
            ("measure",),
            [
                {
                    "measure": name,
                    "leads": t.leads,
                    "p50_hours": _hours(t.p50),
                    "p95_hours": _hours(t.p95),
                }
                for name, t in (
                    ("first_owner", report.first_owner),
                    ("first_touch", report.first_touch),
                )
            ],
        ),
        Section(
            "sla",
            "First-touch SLA",
            "Leads with a first-touch deadline; breached = touched after it, or untouched and "
            "past it while still waiting (sql, mql, mql_no_timeline, in_review); escalated = "
            "leads the SLA watch escalated.",
            ("scope",),
            [
                {
                    "scope": "leads",
                    "with_sla": report.sla.with_sla,
                    "touched_in_time": report.sla.touched_in_time,
                    "touched_late": report.sla.touched_late,
                    "untouched_past_due": report.sla.untouched_past_due,
                    "breached": report.sla.breached,
                    "escalated": report.sla.escalated,
                }
            ],
        ),
        Section(
            "owners",
            "Owner load",
            "open_leads: leads the owner holds now; assigned: assignments ever made to the owner "
            "(a reassignment counts again); via_fallback: of those, made because no eligible "
            "owner was left. Eligible: available and not a team's fallback owner.",
            ("owner", "team"),
            [
                {
                    "owner": o.owner_id,
                    "team": o.team,
                    "open_leads": o.open_leads,
                    "assigned": o.assigned,
                    "via_fallback": o.via_fallback,
                    "eligible": "yes" if o.eligible else "no",
                }
                for o in report.owners
            ],
        ),
        Section(
            "fairness",
            "Fairness of assignments",
            "Among each team's eligible owners: max/min of assignments (n/a when an owner got "
            "none) and the Gini coefficient (0: every owner got the same number; 1: one owner "
            "got everything). Territories, specialties and capacities make some spread expected.",
            ("team",),
            [
                {
                    "team": f.team,
                    "owners": f.owners,
                    "min_assigned": f.min_assigned,
                    "max_assigned": f.max_assigned,
                    "max_min_ratio": f.max_min_ratio,
                    "gini": f.gini,
                }
                for f in report.fairness
            ],
        ),
        Section(
            "fallback",
            "Leads that fell to a fallback owner",
            "Leads with at least one assignment to the fallback owner because no eligible owner "
            f"was left; {report.fallback_leads} lead(s) in all.",
            ("owner", "team"),
            [
                {"owner": owner, "team": team, "leads": n}
                for (owner, team), n in report.fallback.items()
            ],
        ),
        Section(
            "recheck_promotions",
            "Recheck promotions",
            "Recheck decisions that changed the lead's status, by transition.",
            ("from", "to"),
            [{"from": a, "to": b, "leads": n} for (a, b), n in report.promotions.items()],
        ),
        Section(
            "conversion_by_band",
            "Conversion by band",
            f"Leads by fit x intent band; {converted}{no_outcomes}",
            ("fit_band", "intent_band"),
            _conversion_rows(("fit_band", "intent_band"), report.conversion_by_band),
        ),
        Section(
            "conversion_by_rule",
            "Conversion by status rule",
            "Leads by the status and reason of the decision that qualified them (their newest "
            f"applied decision before any CRM outcome); {converted}{no_outcomes}",
            ("status", "reason"),
            _conversion_rows(("status", "reason"), report.conversion_by_rule),
        ),
        Section(
            "conversion_by_signal",
            "Conversion by top scoring signal",
            "Leads by the fit or intent signal that scored the most points in that decision; "
            f"{converted}{no_outcomes}",
            ("signal",),
            _conversion_rows(("signal",), report.conversion_by_signal),
        ),
    ]
