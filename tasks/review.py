"""Reviews of borderline leads: open one run each, show the scorecard, apply a decision once."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.input import RunInput
from prefect.settings import PREFECT_UI_URL
from pydantic import ConfigDict, Field, create_model
from sqlmodel import Session, col, select

from adapters.prefect_api import (
    create_flow_run_from_deployment,
    read_deployment_id,
    read_flow_run_state,
    resume_flow_run,
    resumed_answers,
    retag_flow_run,
)
from models.db import session_scope
from models.settings import PROJECT_ROOT, get_settings
from models.tables import (
    Contact,
    DecisionRecord,
    Handoff,
    Lead,
    Organization,
    Review,
    ReviewEvent,
    SentEmail,
    utcnow,
)
from qualification.closed_sets import ReviewVia
from qualification.criteria import Criteria
from qualification.lifecycle import SYSTEM_REVIEWER, after_review, handoff_key, review_problem
from qualification.review_choices import (
    CHOICES,
    STATUS_TEXT,
    borderline_words,
    choice_label,
    parse_choice,
)
from qualification.routing import plan_route
from qualification.text import markdown_inert, one_line, safe_text
from tasks.runlog import run_logger

from .apply import _Chunk, consent_state, route_new_status, standing_record
from .criteria import active_criteria

REVIEW_DEPLOYMENT = "review-lead/review"
# The tag of a review run waiting for a person (the inbox filter); a decided run loses it.
PENDING_TAG = "review-pending"
DECIDED_TAG = "review-decided"


def answer_key(refusals: int) -> str:
    """The suspend key of a review run's wait for its (refusals + 1)th answer: each refused
    answer moves on to a new key, so an answer is read for the wait it was given to."""
    return f"review-{refusals}"


def _schema_without_extras(schema: dict[str, Any]) -> None:
    schema.pop("additionalProperties", None)


class ReviewAnswer(RunInput):
    """The resume form. Its fields are plain text to pydantic, so a stored answer always loads;
    the schema Prefect validates against (enums from `review_input`) and `review_problem` after
    resume are what refuse a wrong one. `via` is not a form field: the CLI and the sweep add it
    to the answer they send, the UI sends none (extra keys are kept, not shown)."""

    model_config = ConfigDict(extra="allow", json_schema_extra=_schema_without_extras)

    decision: str
    reviewer: str
    note: str = ""


def review_input(reviewers: list[str], description: str) -> type[ReviewAnswer]:
    """The form for one review: a choice per option and per disqualification reason, and the
    sheet's reviewers to pick from (free text only when it lists none)."""
    picked: dict[str, Any] = {"enum": list(reviewers)} if reviewers else {}
    model = create_model(
        "ReviewAnswer",
        __base__=ReviewAnswer,
        decision=(
            str,
            Field(
                title="Decision",
                description="What happens to the lead; a disqualification names its reason.",
                json_schema_extra={"enum": list(CHOICES)},
            ),
        ),
        reviewer=(
            str,
            Field(
                title="Reviewer",
                description="Who decides (the criteria sheet's reviewers).",
                min_length=1,
                json_schema_extra=picked,
            ),
        ),
        note=(
            str,
            Field(
                default="",
                title="Note",
                description="Kept with the decision and sent to the owner; required with "
                "need_more_info (what marketing should collect).",
            ),
        ),
    )
    model._description = description
    return model


@dataclass(frozen=True)
class ReviewView:
    review_id: str
    lead_id: str
    state: str
    refusals: int
    markdown: str
    timeout_seconds: int
    label: str = ""
    last_refusal: str | None = None
    reviewers: list[str] = field(default_factory=list)

    @property
    def waiting(self) -> str:
        """The Suspended state's message: why the run waits, or why the last answer failed."""
        if self.last_refusal:
            return f"last answer refused: {self.last_refusal}; choose again"
        return f"waiting for a reviewer: {self.label} (review {self.review_id[:8]})"


@dataclass(frozen=True)
class ReviewOutcome:
    """What happened to an answer: applied, refused (and why), or the review was already decided."""

    applied: bool
    refused: bool
    message: str
    status: str | None = None
    already_decided: bool = False
    # Given to a wait that is over (applied or refused already, by the run or outside it).
    stale: bool = False


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


def _scorecard(
    session: Session,
    review: Review,
    lead: Lead,
    org: Organization | None,
    record: dict[str, Any],
    last_refusal: str | None = None,
    *,
    full: bool = True,
) -> str:
    """Everything a reviewer needs, as the resume form's description (Markdown, every value
    inert). The phone shows only where the ledger grants phone contact; the message not at all
    when the patient rule redacted it."""
    checks = [c for c in record.get("checks", []) if c["step"] not in ("routing", "nice_to_have")]
    steps = [
        (step, [c["detail"] for c in group]) for step, group in groupby(checks, lambda c: c["step"])
    ]
    borderline = [c["detail"] for c in checks if c["step"] == "borderline"]
    contact = session.get(Contact, lead.contact_id)
    phone = "no phone given"
    if contact and contact.phone:
        phone = (
            contact.phone
            if consent_state(session, contact.id, "phone")
            else "phone withheld (no phone consent)"
        )
    if lead.redacted:
        message = "withheld: it reads like a patient inquiry (patient rule)"
    else:
        message = record.get("discovery_notes") or "none"
    proposed = review.proposed_status or "?"
    return _templates.get_template("scorecard.md.j2").render(
        last_refusal=last_refusal,
        organization=org.name if org else None,
        why=borderline_words(review.reasons, borderline),
        proposed=proposed,
        proposed_meaning=STATUS_TEXT.get(proposed, "no automatic outcome"),
        fit_score=lead.fit_score,
        fit_band=lead.fit_band,
        intent_score=lead.intent_score,
        intent_band=lead.intent_band,
        contact_name=contact.name if contact else None,
        email=contact.email if contact else None,
        phone=phone,
        message=message,
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
        short_id=review.id[:8],
        full=full,
    )


def _label(review: Review, org: Organization | None) -> str:
    """How a person names a review: its short id (every `review` command takes it), the
    organization and the proposed status."""
    name = one_line(org.name) if org and org.name else "unnamed organization"
    if len(name) > 60:
        name = name[:59] + "…"
    due = f", due {review.due_at:%m-%d %H:%M} UTC" if review.due_at else ""
    return f"review {review.id[:8]}: {name} (proposed {review.proposed_status or '?'}{due})"


def inbox_url() -> str:
    """The Runs page filtered to review runs waiting for a person (the `review-pending` tag)."""
    base = str(PREFECT_UI_URL.value() or "http://127.0.0.1:4200").rstrip("/")
    return f"{base}/runs?tag={PENDING_TAG}"


def _queue_reviewer_email(
    session: Session, review: Review, lead: Lead, org: Organization | None, kind: str, to: list[str]
) -> None:
    """Queue the notification, reminder or escalation email once per recipient."""
    proposed = review.proposed_status or "?"
    lines = [
        f"The rules proposed: {proposed} ({STATUS_TEXT.get(proposed, 'no automatic outcome')})",
        f"Fit {lead.fit_score} ({lead.fit_band}), intent {lead.intent_score} ({lead.intent_band})",
    ]
    record = session.get(DecisionRecord, review.decision_id or "")
    checks = record.record.get("checks", []) if record else []
    why = borderline_words(
        review.reasons, [c["detail"] for c in checks if c["step"] == "borderline"]
    )
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
                    "lead_label": _label(review, org),
                    "scorecard": lines,
                    "reason": " ".join(why),
                    "review_url": review_url(review.flow_run_id),
                    "inbox_url": inbox_url(),
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
    start_review_runs(review_ids)
    return review_ids


def start_review_runs(review_ids: list[str]) -> dict[str, str | None]:
    """Each review's flow run, created from the deployment where it has none yet (idempotent;
    the deployment is looked up once); None for a review not pending, or waiting for the sweep
    because the deployment is not running."""
    runs: dict[str, str | None] = {}
    labels: dict[str, str] = {}
    with session_scope() as session:
        for review_id in review_ids:
            review = session.get(Review, review_id)
            if review is None or review.flow_run_id or review.state != "pending":
                runs[review_id] = review.flow_run_id if review else None
                continue
            lead = session.get(Lead, review.lead_id)
            assert lead is not None
            labels[review_id] = _label(review, session.get(Organization, lead.organization_id))
    if not labels:
        return runs
    deployment_id = read_deployment_id(REVIEW_DEPLOYMENT)
    if deployment_id is None:
        run_logger(__name__).warning(
            "deployment %s is not running; %d review(s) wait for the sweep to start them (%s)",
            REVIEW_DEPLOYMENT,
            len(labels),
            ", ".join(review_id[:8] for review_id in list(labels)[:5])
            + (", ..." if len(labels) > 5 else ""),
        )
        return runs | dict.fromkeys(labels)
    reviewers = list(active_criteria().sheet.review.reviewers)
    for review_id, name in labels.items():
        run_id = create_flow_run_from_deployment(
            deployment_id,
            parameters={"review_id": review_id},
            name=name,
            idempotency_key=f"review-{review_id}",
            tags=["review", PENDING_TAG],
        )
        with session_scope() as session:
            review = session.get(Review, review_id)
            assert review is not None
            review.flow_run_id = str(run_id)
            lead = session.get(Lead, review.lead_id)
            assert lead is not None
            org = session.get(Organization, lead.organization_id)
            _queue_reviewer_email(session, review, lead, org, "notify", reviewers)
        runs[review_id] = str(run_id)
    return runs


def _last_refusal(session: Session, review_id: str) -> str | None:
    event = session.exec(
        select(ReviewEvent)
        .where(col(ReviewEvent.review_id) == review_id, col(ReviewEvent.kind) == "refused")
        .order_by(col(ReviewEvent.id).desc())
    ).first()
    return event.detail if event else None


def reviewers_of(criteria: Criteria) -> list[str]:
    """Who may decide: the sheet's reviewers, then its fallback reviewer."""
    sheet = criteria.sheet.review
    return list(dict.fromkeys([*sheet.reviewers, sheet.fallback_reviewer]))


def review_view(review_id: str, criteria: Criteria) -> tuple[ReviewView, str]:
    """The form's view and the whole scorecard of a review."""
    with session_scope() as session:
        review = session.get(Review, review_id)
        if review is None:
            raise ValueError(f"no review {review_id}")
        lead = session.get(Lead, review.lead_id)
        assert lead is not None
        org = session.get(Organization, lead.organization_id)
        record = session.get(DecisionRecord, review.decision_id or "")
        refusal = _last_refusal(session, review.id) if review.refusals else None
        data = record.record if record else {}
        # The form's description stays short (the UI shows it in a small box); the whole
        # scorecard with every check is the run's artifact and `medleads review show`.
        markdown = _scorecard(session, review, lead, org, data, refusal, full=False)
        scorecard = _scorecard(session, review, lead, org, data, refusal)
        timeout = int((criteria.sheet.review.default_after_hours + 24) * 3600)
        view = ReviewView(
            review.id,
            lead.id,
            review.state,
            review.refusals,
            markdown,
            timeout,
            label=f"{org.name if org and org.name else 'lead'}, proposed {review.proposed_status}",
            last_refusal=refusal,
            reviewers=reviewers_of(criteria),
        )
    return view, scorecard


def full_scorecard(review_id: str) -> str:
    """What `medleads review show` prints: the scorecard with every check."""
    return review_view(review_id, active_criteria())[1]


@task(name="prepare-review", cache_policy=NO_CACHE)
def prepare_review(review_id: str) -> ReviewView:
    """The resume form's description, and the whole scorecard as the run's artifact."""
    view, scorecard = review_view(review_id, active_criteria())
    if view.state == "pending":
        create_markdown_artifact(
            key=f"review-{review_id[:8]}-scorecard",
            markdown=scorecard,
            description="What the reviewer sees, with every check the rules made",
        )
    return view


def already_decided(review: Review) -> str:
    """The refusal of a second decision: who decided, how and when."""
    return (
        f"review {review.id[:8]} was already decided: {review.option} by "
        f"{review.decided_by} via {review.via} at {review.decided_at:%Y-%m-%d %H:%M} UTC"
    )


def _problem(answer: dict[str, Any], reviewers: list[str], via: str) -> str | None:
    if answer.get("reviewer") == SYSTEM_REVIEWER and via != ReviewVia.SWEEP:
        return f"{SYSTEM_REVIEWER!r} is the review sweep's default: pick yourself in Reviewer"
    parsed = parse_choice(answer.get("decision"))
    if parsed is None and answer.get("decision") is not None:
        return f"{answer.get('decision')!r} is not one of the choices: pick one from Decision"
    option, reason = parsed or (None, None)
    return review_problem(
        option,
        reason or answer.get("disqualification_reason"),
        answer.get("reviewer"),
        note=answer.get("note"),
        reviewers=reviewers,
    )


@task(name="decide-review", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=1)
def decide_review(
    review_id: str, answer: dict[str, Any], answered_round: int | None = None
) -> ReviewOutcome:
    """Apply a reviewer's answer exactly once; a second answer or a bad one is refused.
    `answered_round`: the number of refusals when the answer was given (the wait it answers);
    an answer to a wait already dealt with is stale and changes nothing (the run and the
    sweep can both hold the same answer)."""
    # The note and name travel into the decision record and the handoff: stored text is safe.
    answer = {k: safe_text(v) if isinstance(v, str) else v for k, v in answer.items()}
    criteria = active_criteria()
    with session_scope() as session:
        query = select(Review).where(col(Review.id) == review_id)
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update()
        review = session.exec(query).one()
        # The path sets `via`: the CLI, the sweep and API callers add it; the UI form has none.
        via = str(answer.get("via") or ReviewVia.UI)
        if via not in set(ReviewVia):
            via = ReviewVia.API
        # The sweep's answers are the system's (its Reviewer is the fallback reviewer only
        # because the form lists the sheet's people and nobody else).
        actor = (
            SYSTEM_REVIEWER
            if via == ReviewVia.SWEEP
            else str(answer.get("reviewer") or "").strip() or "unknown"
        )
        if review.state != "pending":
            return ReviewOutcome(
                applied=False, refused=True, message=already_decided(review), already_decided=True
            )
        if answered_round is not None and answered_round != review.refusals:
            return ReviewOutcome(
                applied=False,
                refused=True,
                message=f"answer {answered_round + 1} was refused already: "
                f"{_last_refusal(session, review.id)}",
                stale=True,
            )
        problem = _problem(answer, reviewers_of(criteria), via)
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
                    option=str(answer.get("decision") or "")[:32] or None,
                    note=answer.get("note"),
                    detail=problem,
                )
            )
            return ReviewOutcome(applied=False, refused=True, message=problem)
        option, reason = parse_choice(answer.get("decision")) or ("", None)
        answer = {**answer, "decision": option, "disqualification_reason": reason}
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
            snapshot=_scorecard(session, review, lead, org, base),
            created_at=now,
        )
    )
    return status


def _handoff_line(session: Session, lead: Lead) -> str:
    handoff = session.exec(
        select(Handoff).where(col(Handoff.idempotency_key) == handoff_key(lead.id, lead.status))
    ).first()
    if handoff is None:
        return f"none ({lead.status} is not handed to the CRM)"
    if handoff.state == "delivered" and handoff.delivered_at:
        when = f"{handoff.delivered_at:%Y-%m-%d %H:%M} UTC"
        return f"delivered to {handoff.sink or 'the CRM'} at {when}"
    if handoff.error:
        return f"{handoff.state}, will be retried ({handoff.error})"
    return f"{handoff.state} (the delivery flow sends it)"


@task(name="publish-review-outcome", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=1)
def publish_review_outcome(review_id: str) -> str:
    """What the decision did, as the run's artifact and state message; the run leaves the
    `review-pending` inbox."""
    owners = active_criteria().sheet.routing.by_id
    with session_scope() as session:
        review = session.get(Review, review_id)
        assert review is not None
        lead = session.get(Lead, review.lead_id)
        assert lead is not None
        org = session.get(Organization, lead.organization_id)
        event = session.exec(
            select(ReviewEvent)
            .where(col(ReviewEvent.review_id) == review_id, col(ReviewEvent.kind) == "decision")
            .order_by(col(ReviewEvent.id).desc())
        ).first()
        handoff = _handoff_line(session, lead)
        owner = owners.get(lead.owner_id or "")
        owner_text = f"{owner.name} ({owner.team})" if owner else (lead.owner_id or "none")
        name = org.name if org and org.name else "unnamed organization"
        choice = (
            choice_label(review.option, event.reason if event else None)
            if review.option and (review.option != "disqualify" or (event and event.reason))
            else review.option or "?"
        )
        rows = [
            ("Organization", name),
            ("Lead status", f"{lead.status} ({lead.reason})"),
            ("Owner", owner_text),
            ("Handoff", handoff),
            ("Decided by", f"{review.decided_by} via {review.via}"),
            ("Decided at", f"{review.decided_at:%Y-%m-%d %H:%M} UTC" if review.decided_at else "?"),
            ("Choice", choice),
            ("Note", (event.note if event else None) or "none"),
        ]
        line = (
            f"{one_line(name)}: lead is now {lead.status} ({lead.reason}), owner {owner_text}, "
            f"handoff {handoff}; decided by {review.decided_by} via {review.via}"
        )
    table = "\n".join(
        ["| | |", "|---|---|", *(f"| **{k}** | {markdown_inert(v)} |" for k, v in rows)]
    )
    create_markdown_artifact(
        key=f"review-{review_id[:8]}",
        markdown=f"# Review {review_id[:8]}: decided\n\n{table}\n",
        description=f"Outcome of review {review_id[:8]}",
    )
    if review.flow_run_id:
        retag_flow_run(review.flow_run_id, add=[DECIDED_TAG], remove=[PENDING_TAG])
    get_run_logger().info("review %s decided: %s", review_id[:8], line)
    return line


MIN_PREFIX = 4


def find_review(session: Session, given: str) -> Review:
    """The review a person means by a review id, a lead id or the start of either (the short id
    in emails and run names is the review id's first 8 characters). A lead's pending review
    comes before its decided ones."""
    prefix = given.strip().lower().removeprefix("review ").rstrip(":")
    if len(prefix) < MIN_PREFIX:
        raise LookupError(f"review {given!r}: give at least {MIN_PREFIX} characters of its id")
    by_review = session.exec(select(Review).where(col(Review.id).startswith(prefix)).limit(2)).all()
    if len(by_review) == 1:
        return by_review[0]
    if len(by_review) > 1:
        raise LookupError(f"more than one review starts with {given!r}: give more of its id")
    leads = session.exec(select(Lead.id).where(col(Lead.id).startswith(prefix)).limit(2)).all()
    if len(leads) > 1:
        raise LookupError(f"more than one lead starts with {given!r}: give more of its id")
    if leads:
        reviews = session.exec(
            select(Review)
            .where(col(Review.lead_id) == leads[0])
            .order_by(col(Review.state) == "pending", col(Review.created_at))
        ).all()
        if reviews:
            return reviews[-1]
    raise LookupError(f"no review {given!r} (a review id, a lead id, or their start)")


def resume_review(review_id: str, answer: dict[str, Any]) -> str:
    """Resume a review's suspended run through the Prefect API, exactly as the UI does."""
    with session_scope() as session:
        review = find_review(session, review_id)
        review_id = review.id
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


def answer_review(review_id: str, answer: dict[str, Any]) -> ReviewOutcome:
    """Resume the review's run with this answer (Prefect records it; the run then closes) and
    apply it here and now, not when the run gets a process again (a resumed run queues behind
    every review run not yet started: minutes, on a busy cluster)."""
    with session_scope() as session:
        review = find_review(session, review_id)
        review_id, answered_round = review.id, review.refusals
    resume_review(review_id, answer)
    return apply_answer(review_id, answer, answered_round)


def apply_answer(review_id: str, answer: dict[str, Any], answered_round: int) -> ReviewOutcome:
    """Apply an answer a person gave the review's run, outside the run; a decided review's run
    leaves the inbox now (its outcome artifact comes when the run completes)."""
    outcome = decide_review.fn(review_id, answer, answered_round)
    if outcome.applied:
        with session_scope() as session:
            review = session.get(Review, review_id)
            flow_run_id = review.flow_run_id if review else None
        if flow_run_id:
            retag_flow_run(flow_run_id, add=[DECIDED_TAG], remove=[PENDING_TAG])
    return outcome


def apply_resumed_answers() -> dict[str, ReviewOutcome]:
    """review id -> what came of it, for every pending review whose run a person resumed (in
    the UI, through the API) and that has not applied the answer itself yet."""
    with session_scope() as session:
        waiting = session.exec(
            select(Review.id, Review.flow_run_id, Review.refusals).where(
                col(Review.state) == "pending", col(Review.flow_run_id).is_not(None)
            )
        ).all()
    rounds = {str(run): (review_id, refusals) for review_id, run, refusals in waiting}
    answers = resumed_answers({run: answer_key(n) for run, (_, n) in rounds.items()})
    done: dict[str, ReviewOutcome] = {}
    for run, answer in answers.items():
        review_id, answered_round = rounds[run]
        done[review_id] = apply_answer(review_id, answer, answered_round)
    return done


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
        "decision": choice_label(option),
        # A name the form accepts; the run records the sweep's decision as `system`.
        "reviewer": criteria.sheet.review.fallback_reviewer,
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
