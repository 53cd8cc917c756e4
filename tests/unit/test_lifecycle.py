"""The lifecycle rules, once, in the core: which decision takes over, which email, which status."""

from __future__ import annotations

import pytest

from qualification.closed_sets import EmailKind, ReviewOption, Status
from qualification.lifecycle import (
    NEW_PERSON,
    Standing,
    after_outcome,
    after_recheck,
    after_review,
    after_submission,
    review_problem,
)


def test_a_new_person_takes_the_rules_decision_and_is_handed_off_when_qualified() -> None:
    t = after_submission(NEW_PERSON, "sql", "sql_conditions_met", "form")
    assert (t.status, t.takes_over, t.reroute, t.hand_off) == ("sql", True, True, True)
    assert t.emails == (EmailKind.CONFIRMATION,)


@pytest.mark.parametrize(
    ("standing", "new", "takes_over"),
    [
        ("nurture", "mql", True),
        ("mql", "sql", True),
        ("mql", "in_review", True),
        ("mql", "nurture", False),
        ("disqualified", "nurture", True),
        ("sql", "in_review", False),
        ("in_review", "sql", False),
        ("opportunity", "sql", False),
        ("closed_lost", "mql", False),
    ],
)
def test_a_repeat_submission_never_demotes_and_leaves_held_leads_alone(
    standing: str, new: str, takes_over: bool
) -> None:
    t = after_submission(Standing(standing, "x"), new, "why", "outbound")
    assert t.takes_over is takes_over
    assert t.status == (new if takes_over else standing)
    assert t.open_review is (takes_over and new == "in_review")


@pytest.mark.parametrize(
    ("channel", "status", "emails"),
    [
        ("form", "nurture", (EmailKind.CONFIRMATION,)),
        ("webinar", "mql", (EmailKind.WEBINAR_FOLLOWUP,)),
        ("outbound", "mql_no_timeline", (EmailKind.NURTURE,)),
        ("outbound", "sql", ()),
        ("form", "disqualified", ()),
    ],
)
def test_the_email_a_submission_earns(channel: str, status: str, emails: tuple[str, ...]) -> None:
    assert after_submission(NEW_PERSON, status, "r", channel).emails == emails


def test_a_recheck_promotes_refreshes_or_only_records() -> None:
    promoted = after_recheck(Standing("mql_no_timeline"), "sql", "sql_conditions_met", None)
    assert (promoted.takes_over, promoted.reroute, promoted.hand_off) == (True, True, True)
    still = after_recheck(Standing("mql_no_timeline"), "mql_no_timeline", "no_timeline", 60)
    assert (still.takes_over, still.reroute, still.hand_off) == (True, False, False)
    assert "next recheck in 60 days" in still.why
    lower = after_recheck(Standing("mql_no_timeline"), "nurture", "low_fit", None)
    assert not lower.takes_over and "never demotes" in lower.why
    held = after_recheck(Standing("sql"), "mql", "x", None)
    assert not held.takes_over and held.status == "sql"


@pytest.mark.parametrize(
    ("option", "reason", "expired", "status", "why"),
    [
        ("approve_sql", None, False, "sql", "review_approved_sql"),
        ("route_mql", None, False, "mql", "review_routed_mql"),
        ("need_more_info", None, False, "mql", "review_needs_more_info"),
        ("nurture", None, True, "nurture", "review_expired"),
        ("disqualify", "wrong_org_type", False, "disqualified", "wrong_org_type"),
    ],
)
def test_a_reviewer_answer_gives_the_status(
    option: str, reason: str | None, expired: bool, status: str, why: str
) -> None:
    t = after_review(option, reason, expired=expired)
    assert (t.status, t.reason, t.takes_over, t.reroute) == (status, why, True, True)
    assert t.hand_off is (status in ("sql", "mql"))


@pytest.mark.parametrize(
    ("option", "reason", "reviewer", "note", "problem"),
    [
        ("approve_sql", None, " ", "", "a reviewer is required: pick who decides"),
        ("disqualify", "not_applicable", "ann", "", "disqualify needs a disqualification reason"),
        ("disqualify", None, "ann", "", "disqualify needs a disqualification reason"),
        ("promote", None, "ann", "", "'promote' is not one of"),
        ("need_more_info", None, "ann", " ", "need_more_info needs a note saying what"),
        ("need_more_info", None, "ann", "their bed count", None),
        ("approve_sql", None, "ann", "", None),
    ],
)
def test_an_answer_that_cannot_be_applied_says_why_and_what_to_do(
    option: str, reason: str | None, reviewer: str, note: str, problem: str | None
) -> None:
    found = review_problem(option, reason, reviewer, note=note)
    assert (found or "").startswith(problem or "") and (found is None) is (problem is None)


def test_a_reviewer_outside_the_sheet_is_refused_but_the_sweep_is_not() -> None:
    sheet = ["revops@example.com"]
    found = review_problem("nurture", None, "mallory", reviewers=sheet)
    assert found == (
        "'mallory' is not a reviewer of the criteria sheet: pick one of revops@example.com"
    )
    assert review_problem("nurture", None, "revops@example.com", reviewers=sheet) is None
    assert review_problem("nurture", None, "system", reviewers=sheet) is None
    assert review_problem("nurture", None, "anyone", reviewers=[]) is None


def test_every_review_option_maps_to_a_status() -> None:
    for option in ReviewOption:
        reason = "spam" if option == ReviewOption.DISQUALIFY else None
        assert after_review(option, reason, expired=False).status in set(Status)


def test_a_crm_outcome_moves_the_lead_and_a_closed_one_releases_its_owner() -> None:
    won = after_outcome(Standing("sql", "sql_conditions_met"), "closed_won")
    assert (won.status, won.reason, won.release_owner, won.hand_off) == (
        "opportunity",
        "closed_won",
        True,
        False,
    )
    opp = after_outcome(Standing("sql"), "opportunity")
    assert (opp.status, opp.release_owner) == ("opportunity", False)
    same = after_outcome(Standing("opportunity", "crm_opportunity"), "opportunity")
    assert not same.takes_over
