"""Reviews of borderline leads: open one run each, show the scorecard, apply a decision once."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from itertools import groupby
from typing import Any, Literal

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.input import RunInput
from prefect.settings import PREFECT_UI_URL
from pydantic import Field
from sqlmodel import Session, col, select

from adapters.prefect_api import (
    create_flow_run_from_deployment,
    read_deployment_id,
    read_flow_run_state,
    resume_flow_run,
)
from models.db import session_scope
from models.settings import PROJECT_ROOT, get_settings
from models.tables import (
    DecisionRecord,
    Lead,
    Organization,
    Review,
    ReviewEvent,
    SentEmail,
    utcnow,
)
from qualification.criteria import Criteria
from qualification.lifecycle import SYSTEM_REVIEWER, after_review, review_problem
from qualification.routing import plan_route
from qualification.text import markdown_inert, safe_text

from .apply import _Chunk, route_new_status, standing_record
from .criteria import active_criteria

REVIEW_DEPLOYMENT = "review-lead/review"
Option = Literal["approve_sql", "route_mql", "nurture", "disqualify", "need_more_info"]
Reason = Literal[
    "not_applicable",
    "out_of_geography",
    "out_of_scope_service",
    "wrong_org_type",
    "different_specialty",
    "no_consent",
    "invalid_contact",
    "no_decision_path",
    "timing_too_far",
    "patient_inquiry",
    "duplicate",
    "spam",
]
Via = Literal["ui", "cli", "api", "sweep"]


class ReviewInput(RunInput):
    """The answer; fields a reviewer may leave alone have defaults (the UI omits them)."""

    decision: Option
    disqualification_reason: Reason = "not_applicable"
    reviewer: str = Field(min_length=1, description="Your name")
    note: str = ""
    via: Via = "ui"


@dataclass(frozen=True)
class ReviewView:
    review_id: str
    lead_id: str
    state: str
    refusals: int
    markdown: str
    timeout_seconds: int


@dataclass(frozen=True)
class ReviewOutcome:
    """What happened to an answer: applied, refused (and why), or the review was already decided."""

    applied: bool
    refused: bool
    message: str
    status: str | None = None


# Every value in the scorecard renders as itself in the resume form: submitter text (a name, a
# website quoted by a check) can add no link, image, heading or emphasis.
_templates = Environment(
    loader=FileSystemLoader(PROJECT_ROOT / "templates" / "review"),
    undefined=StrictUndefined,
    autoescape=False,
    trim_blocks=True,
    lstrip_blocks=True,
    finalize=markdown_inert,
)


def review_url(flow_run_id: str | None) -> str:
    base = str(PREFECT_UI_URL.value() or "http://127.0.0.1:4200").rstrip("/")
    return f"{base}/runs/flow-run/{flow_run_id}" if flow_run_id else base


def _scorecard(review: Review, lead: Lead, org: Organization | None, record: dict[str, Any]) -> str:
    checks = [c for c in record.get("checks", []) if c["step"] not in ("routing", "nice_to_have")]
    steps = [
        (step, [c["detail"] for c in group]) for step, group in groupby(checks, lambda c: c["step"])
    ]
    return _templates.get_template("scorecard.md.j2").render(
        organization=org.name if org else None,
        reasons=review.reasons or ["borderline"],
        proposed=review.proposed_status or "?",
        fit_score=lead.fit_score,
        fit_band=lead.fit_band,
        intent_score=lead.intent_score,
        intent_band=lead.intent_band,
        channel=lead.channel,
        role=record.get("role"),
        influence=record.get("influence"),
        specialty=record.get("specialty"),
        org_type=record.get("org_type"),
        state=record.get("state"),
        country=record.get("country"),
        interest=record.get("interest_type"),
        timeframe=record.get("timeframe"),
        criteria_version=record.get("criteria_version"),
        due_at=f"{review.due_at:%Y-%m-%d %H:%M} UTC" if review.due_at else "not set",
        steps=steps,
        review_id=review.id,
    )


def _label(org: Organization | None, lead: Lead) -> str:
    return f"{org.name if org and org.name else 'lead'} (lead {lead.id[:8]})"


def _run_name(org: Organization | None, lead: Lead) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", (org.name or "lead").lower() if org else "lead").strip("-")
    return f"review-{slug[:40]}-{lead.id[:8]}"


def _queue_reviewer_email(
    session: Session, review: Review, lead: Lead, org: Organization | None, kind: str, to: list[str]
) -> None:
    """Queue the notification, reminder or escalation email once per recipient."""
    lines = [
        f"Status the rules proposed: {review.proposed_status}",
        f"Fit {lead.fit_score} ({lead.fit_band}), intent {lead.intent_score} ({lead.intent_band})",
    ]
    for address in to:
        key = f"review:{review.id}:{kind}:{address}"
        if session.exec(select(SentEmail.id).where(col(SentEmail.idempotency_key) == key)).first():
            continue
        session.add(
            SentEmail(
                idempotency_key=key,
                lead_id=lead.id,
                kind="reviewer_notification",
                to_address=address,
                template_context={
                    "reviewer_name": address.split("@")[0],
                    "lead_label": _label(org, lead),
                    "scorecard": lines,
                    "reason": "; ".join(review.reasons) or "borderline",
                    "review_url": review_url(review.flow_run_id),
                    "due_at": f"{review.due_at:%Y-%m-%d %H:%M} UTC" if review.due_at else "",
                    "is_reminder": kind == "reminder",
                    "is_escalation": kind == "escalation",
                },
            )
        )


@task(name="open-reviews", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=2)
def open_reviews(lead_ids: list[str]) -> list[str]:
    """One review (and one flow run of the review deployment) per borderline lead, idempotent."""
    criteria = active_criteria()
    review_ids: list[str] = []
    with session_scope() as session:
        for lead_id in lead_ids:
            lead = session.get(Lead, lead_id)
            if lead is None or lead.status != "in_review":
                continue
            review = session.exec(
                select(Review).where(col(Review.lead_id) == lead_id, col(Review.state) == "pending")
            ).first()
            if review is None:
                record = session.get(DecisionRecord, lead.last_decision_id or "")
                data = record.record if record else {}
                now = utcnow()
                review = Review(
                    lead_id=lead_id,
                    decision_id=lead.last_decision_id,
                    proposed_status=data.get("proposed_status"),
                    reasons=list(data.get("borderline_reasons", [])),
                    created_at=now,
                    due_at=now + dt.timedelta(hours=criteria.sheet.slas.in_review),
                )
                session.add(review)
            review_ids.append(review.id)
    for review_id in review_ids:
        start_review_run(review_id)
    return review_ids


def start_review_run(review_id: str) -> str | None:
    """Create the review's flow run from the deployment (idempotent); None if not deployed."""
    with session_scope() as session:
        review = session.get(Review, review_id)
        if review is None or review.flow_run_id or review.state != "pending":
            return review.flow_run_id if review else None
        lead = session.get(Lead, review.lead_id)
        assert lead is not None
        org = session.get(Organization, lead.organization_id)
        name = _run_name(org, lead)
    deployment_id = read_deployment_id(REVIEW_DEPLOYMENT)
    if deployment_id is None:
        get_run_logger().warning(
            "deployment %s is not running; review %s waits for the sweep to start it",
            REVIEW_DEPLOYMENT,
            review_id,
        )
        return None
    run_id = create_flow_run_from_deployment(
        deployment_id,
        parameters={"review_id": review_id},
        name=name,
        idempotency_key=f"review-{review_id}",
        tags=["review"],
    )
    with session_scope() as session:
        review = session.get(Review, review_id)
        assert review is not None
        review.flow_run_id = str(run_id)
        lead = session.get(Lead, review.lead_id)
        assert lead is not None
        org = session.get(Organization, lead.organization_id)
        reviewers = active_criteria().sheet.review.reviewers
        _queue_reviewer_email(session, review, lead, org, "notify", list(reviewers))
    return str(run_id)


@task(name="prepare-review", cache_policy=NO_CACHE)
def prepare_review(review_id: str) -> ReviewView:
    """The scorecard a reviewer sees (the resume form's description)."""
    criteria = active_criteria()
    with session_scope() as session:
        review = session.get(Review, review_id)
        if review is None:
            raise ValueError(f"no review {review_id}")
        lead = session.get(Lead, review.lead_id)
        assert lead is not None
        org = session.get(Organization, lead.organization_id)
        record = session.get(DecisionRecord, review.decision_id or "")
        markdown = _scorecard(review, lead, org, record.record if record else {})
        timeout = int((criteria.sheet.review.default_after_hours + 24) * 3600)
        return ReviewView(review.id, lead.id, review.state, review.refusals, markdown, timeout)


def already_decided(review: Review) -> str:
    """The refusal of a second decision: who decided, how and when."""
    return (
        f"review {review.id[:8]} was already decided: {review.option} by "
        f"{review.decided_by} via {review.via} at {review.decided_at:%Y-%m-%d %H:%M} UTC"
    )


def _problem(answer: dict[str, Any]) -> str | None:
    return review_problem(
        answer.get("decision"), answer.get("disqualification_reason"), answer.get("reviewer")
    )


@task(name="decide-review", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=1)
def decide_review(review_id: str, answer: dict[str, Any]) -> ReviewOutcome:
    """Apply a reviewer's answer exactly once; a second answer or a bad one is refused."""
    # The note and name travel into the decision record and the handoff: stored text is safe.
    answer = {k: safe_text(v) if isinstance(v, str) else v for k, v in answer.items()}
    criteria = active_criteria()
    with session_scope() as session:
        query = select(Review).where(col(Review.id) == review_id)
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update()
        review = session.exec(query).one()
        actor = str(answer.get("reviewer") or "").strip() or "unknown"
        via = str(answer.get("via") or "ui")
        if review.state != "pending":
            return ReviewOutcome(applied=False, refused=True, message=already_decided(review))
        problem = _problem(answer)
        lead = session.get(Lead, review.lead_id)
        assert lead is not None
        if problem:
            review.refusals += 1
            session.add(
                ReviewEvent(
                    review_id=review.id,
                    kind="refused",
                    actor=actor,
                    via=via,
                    option=answer.get("decision"),
                    note=answer.get("note"),
                    detail=problem,
                )
            )
            return ReviewOutcome(applied=False, refused=True, message=problem)
        status = _apply(session, criteria, review, lead, answer, actor, via)
        return ReviewOutcome(
            applied=True, refused=False, message=f"lead is now {status}", status=status
        )


def _apply(
    session: Session,
    criteria: Criteria,
    review: Review,
    lead: Lead,
    answer: dict[str, Any],
    actor: str,
    via: str,
) -> str:
    option = str(answer["decision"])
    expired = via == "sweep" and actor == SYSTEM_REVIEWER
    transition = after_review(option, answer.get("disqualification_reason"), expired=expired)
    status, reason = transition.status, transition.reason
    previous = session.get(DecisionRecord, review.decision_id or "")
    base = dict(previous.record) if previous else {}
    org = session.get(Organization, lead.organization_id)
    detail = f"Reviewer {actor} chose {option} via {via}" + (
        f": {answer.get('note')}" if answer.get("note") else "."
    )
    check = {"step": "review", "name": option, "outcome": "pass", "detail": detail, "points": 0}
    if status == "disqualified":
        check["outcome"] = "fail"
    now = utcnow()
    record_data = {
        **base,
        "status": status,
        "reason": reason,
        "borderline": False,
        "checks": [*base.get("checks", []), check],
        "explanations": [*base.get("explanations", []), detail],
    }
    route = plan_route(status, base.get("state"), base.get("specialty"), criteria.sheet.routing)
    # Routed under the live sheet: the decision records that version (the rules' evaluation
    # keeps the version it was made under).
    record_data["criteria_version"] = criteria.version
    record_data["evaluated_criteria_version"] = base.get("criteria_version")
    record = standing_record(
        lead,
        status=status,
        reason=reason,
        decided_by=actor,
        record=record_data,
        criteria_version=criteria.version,
        now=now,
        submission_id=previous.submission_id if previous else None,
    )
    session.add(record)
    lead.status, lead.reason, lead.borderline = status, reason, False
    lead.last_decision_id = record.id
    lead.criteria_version = criteria.version
    lead.updated_at = now
    chunk = _Chunk.for_lead(session, criteria, lead)
    route_new_status(chunk, lead, route, record, now, transition)
    chunk.write()
    review.state, review.decided_at, review.decided_by = "decided", now, actor
    review.option, review.via = option, via
    session.add(
        ReviewEvent(
            review_id=review.id,
            kind="decision",
            actor=actor,
            via=via,
            option=option,
            reason=reason if status == "disqualified" else None,
            note=answer.get("note"),
            snapshot=_scorecard(review, lead, org, base),
            created_at=now,
        )
    )
    return status


def resume_review(review_id: str, answer: dict[str, Any]) -> str:
    """Resume a review's suspended run through the Prefect API, exactly as the UI does."""
    with session_scope() as session:
        matches = session.exec(
            select(Review).where(col(Review.id).startswith(review_id)).limit(2)
        ).all()
        if len(matches) != 1:
            raise LookupError(f"{'no' if not matches else 'more than one'} review {review_id!r}")
        review = matches[0]
        if review.state != "pending":
            raise PermissionError(already_decided(review))
        if not review.flow_run_id:
            raise LookupError(
                f"review {review.id[:8]} has no flow run yet (is `medleads serve` running?)"
            )
        flow_run_id = review.flow_run_id
    state = read_flow_run_state(flow_run_id)
    if not (state and state.is_paused()):
        raise PermissionError(
            f"review {review_id[:8]}: its run is {state.name if state else 'unknown'}, "
            "not waiting for a decision"
        )
    result = resume_flow_run(flow_run_id, answer)
    if result.status.value != "ACCEPT":
        why = getattr(result.details, "reason", None) or result.status.value
        raise ValueError(f"refused by Prefect: {why}")
    return flow_run_id


def pending_reviews() -> list[dict[str, Any]]:
    """Pending reviews with age and SLA state (ok, reminded, escalated, overdue)."""
    sheet = active_criteria().sheet.review
    now = review_clock()
    with session_scope() as session:
        rows = session.exec(
            select(Review, Lead, Organization)
            .join(Lead, col(Lead.id) == col(Review.lead_id))
            .join(Organization, col(Organization.id) == col(Lead.organization_id))
            .where(col(Review.state) == "pending")
            .order_by(col(Review.created_at))
        ).all()
    lines = []
    for review, lead, org in rows:
        age = (now - review.created_at).total_seconds()
        if age >= sheet.default_after_hours * 3600:
            sla = "expired"
        elif review.due_at and now > review.due_at:
            sla = "overdue"
        elif review.escalated_at:
            sla = "escalated"
        elif review.reminded_at:
            sla = "reminded"
        else:
            sla = "ok"
        lines.append(
            {
                "review_id": review.id,
                "lead_id": lead.id,
                "flow_run_id": review.flow_run_id,
                "organization": org.name,
                "proposed_status": review.proposed_status,
                "reasons": review.reasons,
                "age_seconds": int(age),
                "sla_state": sla,
                "due_at": review.due_at.isoformat() if review.due_at else None,
            }
        )
    return lines


def review_clock() -> dt.datetime:
    """Now, moved by MEDLEADS_CLOCK_OFFSET_HOURS (tests and drills move time by setting)."""
    return utcnow() + dt.timedelta(hours=get_settings().clock_offset_hours)


def expiry_answer(criteria: Criteria) -> dict[str, Any]:
    option = "route_mql" if criteria.sheet.review.default_action == "mql" else "nurture"
    return {
        "decision": option,
        "reviewer": SYSTEM_REVIEWER,
        "note": "review_expired",
        "via": "sweep",
    }


def record_step(review_id: str, kind: str) -> bool:
    """Record a reminder or escalation once, queueing its emails; False if already done."""
    criteria = active_criteria().sheet.review
    with session_scope() as session:
        review = session.get(Review, review_id)
        if review is None or review.state != "pending":
            return False
        column = "reminded_at" if kind == "reminder" else "escalated_at"
        if getattr(review, column):
            return False
        setattr(review, column, utcnow())
        lead = session.get(Lead, review.lead_id)
        assert lead is not None
        org = session.get(Organization, lead.organization_id)
        to = list(criteria.reviewers) if kind == "reminder" else [criteria.fallback_reviewer]
        _queue_reviewer_email(session, review, lead, org, kind, to)
        session.add(
            ReviewEvent(
                review_id=review.id,
                kind=kind,
                actor=SYSTEM_REVIEWER,
                via="sweep",
                detail=", ".join(to),
            )
        )
    return True
