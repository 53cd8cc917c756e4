"""The decision record: what was checked, with points and reasons, readable without the code."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Literal, NamedTuple

from .closed_sets import Status as StatusName
from .jsontext import EncodedJson, dumps

# The type checker's view of the statuses; `STATUSES` comes from the one declaration, and a test
# keeps the two in step.
Status = Literal[
    "new",
    "mql",
    "mql_no_timeline",
    "sql",
    "in_review",
    "nurture",
    "disqualified",
    "opportunity",
    "closed_lost",
]
STATUSES: tuple[str, ...] = tuple(StatusName)
Step = Literal[
    "validation",
    "consent",
    "hard_stop",
    "fit",
    "intent",
    "band",
    "timing",
    "sql",
    "borderline",
    "status",
    "routing",
    "nice_to_have",
    "review",
]
Outcome = Literal["pass", "fail", "unknown", "info"]


class Check(NamedTuple):
    """One line of the record: a validation, hard stop, scoring signal or rule. A named tuple:
    a decision has about twenty, and a frozen dataclass cost four times as much to build and
    to send from the evaluation worker (measured)."""

    step: Step
    name: str
    outcome: Outcome
    detail: str
    points: int = 0


@dataclass(frozen=True, slots=True)
class RoutePlan:
    """Who may own the lead, in order, and who was skipped and why; the fallback last."""

    team: Literal["sales", "marketing", "review", "none"]
    candidates: tuple[str, ...] = ()
    skipped: tuple[tuple[str, str], ...] = ()
    fallback: str | None = None

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return RoutePlan, (self.team, self.candidates, self.skipped, self.fallback)


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of evaluating one submission under one criteria sheet version."""

    submission_id: str
    row: int | None
    channel: str
    status: Status
    reason: str
    reason_permanent: bool | None
    fit_score: int
    intent_score: int
    fit_band: str
    intent_band: str
    borderline: bool
    borderline_reasons: tuple[str, ...]
    proposed_status: Status | None
    email: str | None
    phone: str | None
    consent_email: bool
    consent_phone: bool
    # Consent the submission states, as the core read it: (channel, granted) for each channel it
    # answers; what the consent ledger records.
    consent_given: tuple[tuple[str, bool], ...]
    consent_text: str | None
    form_version: str | None
    # The person: the key that identifies them (email, or phone when no email is given).
    person_key: str | None
    person_by_phone: bool
    contact_name: str | None
    # The account: keys that identify the organization (registered domain, name and state).
    account_keys: tuple[str, ...]
    organization_name: str | None
    domain: str | None
    locations_count: int | None
    source: str | None
    campaign: str | None
    specialty: str | None
    org_type: str | None
    role: str | None
    influence: str
    country: str | None
    state: str | None
    interest_type: str | None
    # The timeline as a window in words and dates ("next year (2027-01-01..2027-12-31)"), or why
    # there is none ("not given", "not sure", "unclear", "no timeline"); `timeline_days` counts
    # from the submission to the window's start (0: it starts when said), None without a window.
    timeframe: str
    timeline_days: int | None
    sla_hours: float | None
    recheck_days: int | None
    route: RoutePlan
    discovery_questions: tuple[str, ...]
    # What the person wrote and told us, for the owner (None when the submission is redacted).
    discovery_notes: str | None
    current_vendor: str | None
    budget_range: str | None
    webinar_session: str | None
    webinar_attended: bool
    redacted: bool
    checks: tuple[Check, ...]
    criteria_version: str
    # Where a path to the buying committee was named ("'our CMO signs off' (message)").
    decision_path: str | None = None
    # The words of the request that matched the offer's scope, and where.
    scope_match: str | None = None
    # The nice-to-haves found ("budget_signal: budget range '$40k' given").
    nice_to_haves: tuple[str, ...] = ()
    # `to_dict()` as JSON text, once encoded (`record_json`): a long list's evaluation worker
    # encodes it, off the process that applies the chunk. A cache, not part of the decision.
    encoded: str | None = field(default=None, compare=False, repr=False)

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # A long list's decisions cross from the evaluation worker as pickles: the constructor
        # with the values in order, not the slots dataclass's state (it calls `fields()` for
        # every object, measured as most of the cost of receiving a chunk).
        # Its checks go as plain tuples, made named tuples again in one pass.
        values = tuple(
            tuple(map(tuple, self.checks)) if name == "checks" else getattr(self, name)
            for name in DECISION_FIELDS
        )
        return _decision, values

    @property
    def explanations(self) -> list[str]:
        return [c.detail for c in self.checks]

    def top_reasons(self, limit: int = 3) -> list[str]:
        return top_reasons([_check_dict(c) for c in self.checks], limit)

    def record_json(self) -> EncodedJson:
        """`to_dict()` as the JSON text a record column stores, encoded once."""
        if self.encoded is None:
            object.__setattr__(self, "encoded", dumps(self.to_dict()))
        assert self.encoded is not None
        return EncodedJson(self.encoded)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for storage (a shallow walk: `asdict` deep-copies and is ~10x slower)."""
        data = {name: getattr(self, name) for name in RECORD_FIELDS}
        data["route"] = {
            "team": self.route.team,
            "candidates": list(self.route.candidates),
            "skipped": [list(s) for s in self.route.skipped],
            "fallback": self.route.fallback,
        }
        data["checks"] = [
            {
                "step": c.step,
                "name": c.name,
                "outcome": c.outcome,
                "detail": c.detail,
                "points": c.points,
            }
            for c in self.checks
        ]
        data["consent_given"] = [list(c) for c in self.consent_given]
        for name in ("borderline_reasons", "account_keys", "discovery_questions", "nice_to_haves"):
            data[name] = list(data[name])
        data["explanations"] = self.explanations
        return data

    def summary(self) -> dict[str, Any]:
        """The machine-readable line of `medleads evaluate --format jsonl` (DESIGN §2b)."""
        return {
            "row": self.row,
            "submission_id": self.submission_id,
            "channel": self.channel,
            "status": self.status,
            "reason": self.reason,
            "fit_score": self.fit_score,
            "intent_score": self.intent_score,
            "fit_band": self.fit_band,
            "intent_band": self.intent_band,
            "borderline": self.borderline,
            "borderline_reasons": list(self.borderline_reasons),
            "proposed_status": self.proposed_status,
            "criteria_version": self.criteria_version,
            "email": self.email,
            "phone": self.phone,
            "specialty": self.specialty,
            "org_type": self.org_type,
            "route_team": self.route.team,
            "timeframe": self.timeframe,
            "timeline_days": self.timeline_days,
            "explanations": self.explanations,
        }


DECISION_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Decision))
_CHECKS_AT = DECISION_FIELDS.index("checks")


def _decision(*values: Any) -> Decision:
    """A pickled decision rebuilt (`Decision.__reduce__`). Its checks, sent as plain tuples,
    become named tuples through `tuple.__new__` (C code; `Check._make` runs Python per check)."""
    new = tuple.__new__
    checks = tuple([new(Check, c) for c in values[_CHECKS_AT]])
    return Decision(*values[:_CHECKS_AT], checks, *values[_CHECKS_AT + 1 :])  # type: ignore[call-arg]


RECORD_FIELDS: tuple[str, ...] = tuple(n for n in DECISION_FIELDS if n != "encoded")


def _check_dict(c: Check) -> dict[str, Any]:
    return {
        "step": c.step,
        "name": c.name,
        "outcome": c.outcome,
        "detail": c.detail,
        "points": c.points,
    }


def top_reasons(checks: Sequence[Mapping[str, Any]], limit: int = 3) -> list[str]:
    """What decided (a reviewer, a failed hard stop or status rule), then the biggest gains."""
    reviewed = [c["detail"] for c in checks if c["step"] == "review"]
    rules = reviewed[-1:] + [
        c["detail"]
        for c in checks
        if c["step"] in ("hard_stop", "status") and c["outcome"] == "fail"
    ]
    scored = sorted(
        (c for c in checks if c["step"] in ("fit", "intent") and c["points"] > 0),
        key=lambda c: -int(c["points"]),
    )
    return (rules + [c["detail"] for c in scored])[:limit]
