"""Comparing two sheets on the same submissions: transitions, examples and what `owner` means."""

from __future__ import annotations

import datetime as dt

from adapters.rows import SubmissionFile
from qualification.criteria import load_criteria, parse_criteria
from qualification.replay import (
    Compared,
    Outcome,
    OwnerCounters,
    ReplayReport,
    compare,
)
from tests.paths import DEFAULT_SHEET, SAMPLES

LIVE = load_criteria(DEFAULT_SHEET)
# A demo request is worth 30 intent points instead of 40 (the intent maximum stays 100: pricing
# still gives 40).
# form-0001 gives a budget range and a current system ("Paper + PDF", vendor switching), nice-to-
# haves worth 10 intent points each (DESIGN §3, issue 12): the draft scores them 0 as well, so the
# demo request moves as it did before nice-to-haves scored.
DRAFT = parse_criteria(
    DEFAULT_SHEET.read_text()
    .replace("demo: 40,", "demo: 30,")
    .replace("budget_signal:\n    points: 10", "budget_signal:\n    points: 0")
    .replace("vendor_switching:\n    points: 10", "vendor_switching:\n    points: 0"),
    "draft.yaml",
)
FORMS = [r.submission for r in SubmissionFile(SAMPLES / "forms.jsonl", channel="form").rows()]


def received(sub) -> dt.date:  # type: ignore[no-untyped-def]
    return dt.date.fromisoformat(sub.received_at[:10])


NO_COUNTERS = OwnerCounters()


def replay_forms(draft=DRAFT, counters=NO_COUNTERS) -> ReplayReport:  # type: ignore[no-untyped-def]
    report = ReplayReport(draft_version=draft.version)
    for sub in FORMS:
        assert sub is not None
        report.add(compare(sub, LIVE, draft, counters, received=received(sub)), LIVE.version)
    return report


def test_a_lower_demo_weight_moves_three_demo_requests_down_one_intent_band() -> None:
    report = replay_forms()

    assert (report.replayed, report.unchanged, report.changed) == (16, 13, 3)
    assert report.transitions("status") == [
        ("in_review", "mql", 1),
        ("in_review", "nurture", 1),
        ("sql", "mql", 1),
    ]
    assert report.transitions("band") == [("high/high", "high/mid", 2), ("low/high", "low/mid", 1)]
    assert {e.submission_id for e in report.examples[("band", "high/high", "high/mid")]} == {
        "form-0001",
        "form-0006",
    }
    assert report.example_submissions() == {"form-0001", "form-0005", "form-0006"}
    assert report.live_versions == {LIVE.version: 16}


def test_reasons_and_owners_follow_the_new_status() -> None:
    report = replay_forms()

    assert report.transitions("reason") == [
        ("high_intent_low_fit", "routing_table_nurture", 1),
        ("near_band_edge", "routing_table_mql", 1),
        ("sql_conditions_met", "routing_table_mql", 1),
    ]
    # A lead in review has no owner; sql goes to sales, mql and nurture to marketing.
    assert report.transitions("owner") == [("-", "mia-chen", 2), ("ava-patel", "mia-chen", 1)]


def test_owner_is_routings_pick_for_the_lead_alone_given_the_counters() -> None:
    busy = OwnerCounters(open_leads={"mia-chen": 10}, last_assigned={"mia-chen": 5})
    report = replay_forms(counters=busy)
    assert report.transitions("owner") == [("-", "noah-kim", 2), ("ava-patel", "noah-kim", 1)]


def test_the_live_sheet_against_itself_changes_nothing() -> None:
    report = replay_forms(draft=LIVE)
    assert (report.replayed, report.unchanged) == (16, 16)
    assert not report.counts and not report.examples
    assert [line["kind"] for line in report.lines()] == ["summary"]


def outcome(status: str, band: str = "high/high") -> Outcome:
    return Outcome(status=status, reason=None, band=band, owner=None, top_reason=f"why {status}")


def test_examples_stop_at_n_per_transition_while_counts_go_on() -> None:
    report = ReplayReport(draft_version="v2", examples_per_transition=2)
    for i in range(5):
        report.add(Compared(f"s{i}", f"lead{i}", "Org", outcome("mql"), outcome("sql")), "v1")

    assert report.counts[("status", "mql", "sql")] == 5
    kept = report.examples[("status", "mql", "sql")]
    assert [e.submission_id for e in kept] == ["s0", "s1"]
    assert kept[0].top_reason == "why sql"  # the draft's reason for the new status
    (line,) = [x for x in report.lines() if x["kind"] == "status"]
    assert line["submissions"] == 5 and len(line["examples"]) == 2


def test_missing_top_reasons_are_filled_in_by_submission() -> None:
    report = ReplayReport(draft_version="v2")
    bare = Outcome("sql", None, "high/high", None)
    report.add(Compared("s1", None, None, Outcome("mql", None, "high/mid", None), bare), "v1")

    filled = report.with_top_reasons({"s1": "Intent +40: asked for demo."})

    assert filled.examples[("status", "mql", "sql")][0].top_reason == "Intent +40: asked for demo."
    assert report.examples[("status", "mql", "sql")][0].top_reason == ""
