"""What a draft criteria sheet would change: the same submissions judged under two sheets,
compared by status, bands, owner and reason, with a few example leads per transition."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from .criteria import Criteria
from .decision import Decision
from .evaluate import evaluate
from .routing import pick_owner
from .submission import Submission

Kind = Literal["status", "band", "owner", "reason"]
KINDS: tuple[Kind, ...] = ("status", "band", "owner", "reason")
NONE = "-"
OWNER_MEANS = (
    "owner: who routing would pick for the lead on its own under each sheet, given the owner "
    "counters as they stand (not a simulated rotation; when a decision is applied, a lead already "
    "owned in that team keeps its owner)"
)


@dataclass(frozen=True, slots=True)
class OwnerCounters:
    """The round-robin state routing reads: open leads and last-assigned sequence per owner."""

    open_leads: Mapping[str, int] = field(default_factory=dict)
    last_assigned: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one sheet does to one submission, in the terms the comparison counts."""

    status: str
    reason: str | None
    band: str  # "fit/intent", e.g. "high/mid"
    owner: str | None
    top_reason: str = ""

    def value(self, kind: Kind) -> str:
        got: str | None = getattr(self, kind)
        return got or NONE


def owner_for(decision: Decision, criteria: Criteria, counters: OwnerCounters) -> str | None:
    """The owner routing would pick for this decision alone, given the counters."""
    owner, _ = pick_owner(
        decision.route, counters.open_leads, counters.last_assigned, criteria.sheet.routing
    )
    return owner


def outcome_of(decision: Decision, owner: str | None) -> Outcome:
    return Outcome(
        status=decision.status,
        reason=decision.reason or None,
        band=f"{decision.fit_band}/{decision.intent_band}",
        owner=owner,
        top_reason=(decision.top_reasons(1) or [""])[0],
    )


@dataclass(frozen=True, slots=True)
class Compared:
    """One submission under the live sheet and under the draft."""

    submission_id: str
    lead_id: str | None
    organization: str | None
    live: Outcome
    draft: Outcome

    def transitions(self) -> list[tuple[Kind, str, str]]:
        moves: list[tuple[Kind, str, str]] = []
        for kind in KINDS:
            before, after = self.live.value(kind), self.draft.value(kind)
            if before != after:
                moves.append((kind, before, after))
        return moves

    @property
    def changed(self) -> bool:
        return bool(self.transitions())


def compare(
    sub: Submission,
    live: Criteria,
    draft: Criteria,
    counters: OwnerCounters,
    *,
    received: dt.date,
    lead_id: str | None = None,
    organization: str | None = None,
) -> Compared:
    """Judge a stored submission under both sheets on the day it arrived, so the only
    difference is the sheet."""
    before = evaluate(sub, live, today=received)
    after = evaluate(sub, draft, today=received)
    return Compared(
        submission_id=sub.submission_id,
        lead_id=lead_id,
        organization=organization,
        live=outcome_of(before, owner_for(before, live, counters)),
        draft=outcome_of(after, owner_for(after, draft, counters)),
    )


@dataclass(frozen=True, slots=True)
class Example:
    submission_id: str
    lead_id: str | None
    organization: str | None
    before: str
    after: str
    top_reason: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "lead_id": self.lead_id,
            "submission_id": self.submission_id,
            "organization": self.organization,
            "from": self.before,
            "to": self.after,
            "top_reason": self.top_reason,
        }


Transition = tuple[Kind, str, str]


@dataclass
class ReplayReport:
    """Counts of every transition (status, band, owner, reason) and the first few examples of
    each; submissions are added one at a time, so memory stays flat however many there are."""

    draft_version: str
    examples_per_transition: int = 3
    replayed: int = 0
    unchanged: int = 0
    live_versions: Counter[str] = field(default_factory=Counter)
    counts: Counter[Transition] = field(default_factory=Counter)
    examples: dict[Transition, list[Example]] = field(default_factory=dict)

    @property
    def changed(self) -> int:
        return self.replayed - self.unchanged

    def add(self, compared: Compared, live_version: str) -> None:
        self.replayed += 1
        self.live_versions[live_version] += 1
        moves = compared.transitions()
        if not moves:
            self.unchanged += 1
        for move in moves:
            self.counts[move] += 1
            kept = self.examples.setdefault(move, [])
            if len(kept) < self.examples_per_transition:
                _, before, after = move
                kept.append(
                    Example(
                        submission_id=compared.submission_id,
                        lead_id=compared.lead_id,
                        organization=compared.organization,
                        before=before,
                        after=after,
                        top_reason=compared.draft.top_reason,
                    )
                )

    def transitions(self, kind: Kind) -> list[tuple[str, str, int]]:
        """(from, to, submissions) of one kind, the most frequent first."""
        found = [(b, a, n) for (k, b, a), n in self.counts.items() if k == kind]
        return sorted(found, key=lambda t: (-t[2], t[0], t[1]))

    def example_submissions(self) -> set[str]:
        return {e.submission_id for kept in self.examples.values() for e in kept}

    def with_top_reasons(self, reasons: Mapping[str, str]) -> ReplayReport:
        """The same report with the examples' top reasons filled in by submission id (the
        recorded shadow rows keep no reasons; they are recomputed for the few examples)."""
        examples = {
            move: [replace(e, top_reason=reasons.get(e.submission_id, e.top_reason)) for e in kept]
            for move, kept in self.examples.items()
        }
        return replace(self, examples=examples)

    def lines(self) -> Iterator[dict[str, Any]]:
        """The machine-readable report: a summary, then one object per transition."""
        yield {
            "kind": "summary",
            "replayed": self.replayed,
            "unchanged": self.unchanged,
            "changed": self.changed,
            "live_versions": dict(self.live_versions),
            "draft_version": self.draft_version,
            "owner_means": OWNER_MEANS,
        }
        for kind in KINDS:
            for before, after, n in self.transitions(kind):
                yield {
                    "kind": kind,
                    "from": before,
                    "to": after,
                    "submissions": n,
                    "examples": [e.to_dict() for e in self.examples[(kind, before, after)]],
                }
