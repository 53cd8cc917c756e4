"""The lead lifecycle (DESIGN §1, §4 "one road"): given a lead as it stands and a new decision
(a submission the rules decided, a recheck, a reviewer's answer, a CRM outcome), what happens.

Pure: the shell (apply, recheck, review, outcomes) does what the `Transition` says and nothing
else, so the policy lives here once.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from .closed_sets import CrmOutcome, EmailKind, ReviewOption, Status

# A repeat submission or a recheck never demotes a lead; statuses not ranked rank between mql
# and sql (in_review).
STATUS_RANK: dict[str, int] = {
    Status.NEW: 0,
    Status.DISQUALIFIED: 1,
    Status.NURTURE: 2,
    Status.MQL_NO_TIMELINE: 3,
    Status.MQL: 4,
    Status.SQL: 6,
}
_UNRANKED = 5
# Leads a person or sales holds: the rules leave them alone.
HELD_STATUSES = frozenset({Status.IN_REVIEW, Status.SQL, Status.OPPORTUNITY, Status.CLOSED_LOST})
HANDOFF_STATUSES = frozenset({Status.SQL, Status.MQL, Status.MQL_NO_TIMELINE})


def handoff_key(lead_id: str, status: str) -> str:
    """The idempotency key of a lead's handoff: one per lead and status."""
    return f"{lead_id}:{status}"


NURTURE_STATUSES = frozenset({Status.NURTURE, Status.MQL_NO_TIMELINE})
# A reviewer's answer -> the status and reason the lead takes.
REVIEW_STATUS: dict[str, tuple[Status, str]] = {
    ReviewOption.APPROVE_SQL: (Status.SQL, "review_approved_sql"),
    ReviewOption.ROUTE_MQL: (Status.MQL, "review_routed_mql"),
    ReviewOption.NURTURE: (Status.NURTURE, "review_nurture"),
    ReviewOption.NEED_MORE_INFO: (Status.MQL, "review_needs_more_info"),
}
REVIEW_EXPIRED = "review_expired"
# Who decides when nobody did in time (the review sweep's default answer).
SYSTEM_REVIEWER = "system"
# The `decided_by` of a decision that follows a CRM outcome import.
CRM_IMPORTER = "crm-import"
# Statuses whose first-touch SLA is watched, and the email that escalates a breach.
WATCHED_STATUSES: tuple[str, ...] = (
    Status.SQL,
    Status.MQL,
    Status.MQL_NO_TIMELINE,
    Status.IN_REVIEW,
)
ESCALATION_EMAIL = "sla_escalation"
# A CRM outcome -> status and reason. There is no won status (DESIGN §1): a won deal stays an
# opportunity, told apart by its reason.
CRM_STATUS: dict[str, tuple[Status, str]] = {
    CrmOutcome.OPPORTUNITY: (Status.OPPORTUNITY, "crm_opportunity"),
    CrmOutcome.CLOSED_WON: (Status.OPPORTUNITY, "closed_won"),
    CrmOutcome.CLOSED_LOST: (Status.CLOSED_LOST, "closed_lost"),
}
CLOSED_OUTCOMES = frozenset({CrmOutcome.CLOSED_WON, CrmOutcome.CLOSED_LOST})
# When two outcomes of a lead carry the same time, the later stage wins.
OUTCOME_PRECEDENCE: dict[str, int] = {
    CrmOutcome.OPPORTUNITY: 0,
    CrmOutcome.CLOSED_LOST: 1,
    CrmOutcome.CLOSED_WON: 2,
}


def is_open(status: str, reason: str | None) -> bool:
    """Whether someone still works the lead: not disqualified, lost or won."""
    if status in (Status.DISQUALIFIED, Status.CLOSED_LOST):
        return False
    return not (status == Status.OPPORTUNITY and reason == "closed_won")


def rank(status: str) -> int:
    return STATUS_RANK.get(status, _UNRANKED)


@dataclass(frozen=True, slots=True)
class Standing:
    """A lead as it stands; `status` None is a person not seen before."""

    status: str | None
    reason: str | None = None


NEW_PERSON = Standing(None)


@dataclass(frozen=True, slots=True)
class Transition:
    """What a new decision does to a lead.

    `takes_over`: the lead takes the decision's status, scores and bands. `reroute`: the status is
    new for the lead, so it gets a fresh SLA and an owner for it. `emails`: what to queue (only
    where the ledger grants email). `hand_off`: queue the CRM handoff of the new status (once per
    status). `open_review`: a person decides next. `release_owner`: the lead leaves its owner.
    `reschedule`: the lead's next recheck date comes from this decision.
    """

    status: str
    reason: str | None
    takes_over: bool
    why: str
    reroute: bool = False
    emails: tuple[EmailKind, ...] = ()
    hand_off: bool = False
    open_review: bool = False
    release_owner: bool = False
    reschedule: bool = False


def emails_for(channel: str, status: str) -> tuple[EmailKind, ...]:
    """The email a submission earns: form and webinar contacts get one tailored to what they
    did; anyone else in nurture gets the nurture email. Never for a disqualified lead."""
    if status == Status.DISQUALIFIED:
        return ()
    if channel == "form":
        return (EmailKind.CONFIRMATION,)
    if channel == "webinar":
        return (EmailKind.WEBINAR_FOLLOWUP,)
    if status in NURTURE_STATUSES:
        return (EmailKind.NURTURE,)
    return ()


def _moved(
    status: str,
    reason: str | None,
    *,
    emails: tuple[EmailKind, ...] = (),
    why: str,
    reschedule: bool = True,
) -> Transition:
    """The lead takes a new status: routed again, handed off or reviewed as the status says."""
    return Transition(
        status,
        reason,
        True,
        why,
        reroute=True,
        emails=emails,
        hand_off=status in HANDOFF_STATUSES,
        open_review=status == Status.IN_REVIEW,
        reschedule=reschedule,
    )


def _kept(
    lead: Standing, why: str, *, emails: tuple[EmailKind, ...] = (), reschedule: bool = False
) -> Transition:
    """The lead keeps its status; the decision is recorded only."""
    assert lead.status is not None
    return Transition(lead.status, lead.reason, False, why, emails=emails, reschedule=reschedule)


def after_submission(lead: Standing, status: str, reason: str, channel: str) -> Transition:
    """A submission the rules decided, for a new person or one already known (a repeat)."""
    emails = emails_for(channel, status)
    if lead.status is None:
        return _moved(status, reason, emails=emails, why=f"new lead: {status}")
    if lead.status in HELD_STATUSES:
        return _kept(
            lead, f"the lead is {lead.status} and stays with whoever holds it", emails=emails
        )
    if rank(status) > rank(lead.status) or status == Status.IN_REVIEW:
        return _moved(status, reason, emails=emails, why=f"{lead.status} -> {status}")
    return _kept(
        lead, f"a repeat never demotes ({status} is not above {lead.status})", emails=emails
    )


def after_recheck(lead: Standing, status: str, reason: str, recheck_days: int | None) -> Transition:
    """A recheck of a lead's latest facts: promote, refresh the same status, or record only.
    Unless a person or sales holds the lead, its next recheck date comes from the new decision."""
    assert lead.status is not None
    if lead.status in HELD_STATUSES:
        why = f"recorded only; the lead is {lead.status} and stays with whoever holds it."
        return _kept(lead, why)
    if rank(status) > rank(lead.status):
        return _moved(status, reason, why=f"promoted to {status}.")
    if status == lead.status:
        then = f"next recheck in {recheck_days} days." if recheck_days else "no further recheck."
        return Transition(
            status, reason, True, f"still {status} ({reason}); {then}", reschedule=True
        )
    why = f"recorded only; a recheck never demotes ({status} is below {lead.status})."
    return _kept(lead, why, reschedule=True)


def review_problem(
    option: str | None,
    reason: str | None,
    reviewer: str | None,
    *,
    note: str | None = None,
    reviewers: Collection[str] = (),
) -> str | None:
    """Why an answer cannot be applied as given and what to do instead, or None. `reviewers`:
    the sheet's reviewers (any name is accepted when it lists none)."""
    name = (reviewer or "").strip()
    if not name:
        return "a reviewer is required: pick who decides in Reviewer"
    if reviewers and name not in reviewers and name != SYSTEM_REVIEWER:
        listed = ", ".join(reviewers)
        return f"{name!r} is not a reviewer of the criteria sheet: pick one of {listed}"
    if option not in set(ReviewOption):
        return f"{option!r} is not one of {', '.join(ReviewOption)}"
    if option == ReviewOption.DISQUALIFY and reason in (None, "", "not_applicable"):
        return "disqualify needs a disqualification reason: pick one of the disqualify choices"
    if option == ReviewOption.NEED_MORE_INFO and not (note or "").strip():
        return "need_more_info needs a note saying what marketing should collect: write it in Note"
    return None


def review_status(option: str, reason: str | None, *, expired: bool) -> tuple[Status, str]:
    """The status and reason a reviewer's answer gives (the sweep's default says it expired)."""
    if option == ReviewOption.DISQUALIFY:
        assert reason
        return Status.DISQUALIFIED, reason
    status, why = REVIEW_STATUS[option]
    return status, REVIEW_EXPIRED if expired else why


def after_review(option: str, reason: str | None, *, expired: bool) -> Transition:
    """A reviewer's answer always takes over: the lead was waiting for it."""
    status, why = review_status(option, reason, expired=expired)
    return _moved(status, why, why=f"reviewer chose {option}", reschedule=False)


def newest_outcome(outcomes: list[tuple[object, str]]) -> str:
    """The outcome a lead follows, from (occurred_at, outcome) pairs: the newest, and on a tie
    the later stage."""
    return max(outcomes, key=lambda o: (o[0], OUTCOME_PRECEDENCE[o[1]]))[1]


def after_outcome(lead: Standing, outcome: str) -> Transition:
    """A CRM outcome: the lead follows it; a closed lead leaves its owner. No email, no handoff:
    the CRM already has it."""
    status, reason = CRM_STATUS[outcome]
    if (lead.status, lead.reason) == (status, reason):
        assert lead.status is not None
        return _kept(lead, f"already {status} ({reason})")
    why = f"Status {status} ({reason}): the newest CRM outcome is {outcome}."
    return Transition(
        status, reason, True, why, release_owner=outcome in CLOSED_OUTCOMES, reschedule=True
    )
