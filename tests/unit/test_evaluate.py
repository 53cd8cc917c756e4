"""Evaluation rules under the default sheet: hard stops, statuses, bands, borderline, route."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from qualification.criteria import DISQUALIFICATION_REASONS, Criteria, load_criteria, parse_criteria
from qualification.decision import Decision
from qualification.evaluate import TIMING_FAR_OUT, band_of, evaluate
from qualification.submission import Submission
from tests.paths import DEFAULT_SHEET

CRITERIA = load_criteria(DEFAULT_SHEET)
TODAY = dt.date(2026, 11, 27)

# Fit 97 (cardiology 35, NY 15, group practice 20, decider 20, 4 locations 7);
# intent 65 (demo 40, 5 high-intent visits 20, 1 download 5): high/high, every SQL condition met.
SQL_LEAD = Submission(
    submission_id="t-1",
    channel="form",
    received_at="2026-11-20T14:03:00Z",
    organization_name="Hudson Valley Cardiology Associates",
    website="https://www.hvcardiology.example.com",
    org_type="Group practice",
    locations_count="4",
    country="US",
    state="NY",
    postal_code="12601",
    contact_name="Maria Alvarez",
    contact_role="Practice Administrator",
    email="malvarez@hvcardiology.example.com",
    phone="(845) 555-0142",
    specialty="Cardiology",
    interest_type="demo",
    timeframe="within 60 days",
    # SQL needs "confirmed interest in the exact service scope" (guide §4, DESIGN §3 need): the
    # request names the offer's scope; a demo request alone goes to a person.
    message="Our front desk still hands out paper intake forms; we'd like to see a demo.",
    consent_email="yes",
    consent_phone="yes",
    page_visits_high_intent="5",
    content_downloads="1",
)


def lead(**changes: str | None) -> Submission:
    return dataclasses.replace(SQL_LEAD, **changes)  # type: ignore[arg-type]


def decide(sub: Submission):  # type: ignore[no-untyped-def]
    return evaluate(sub, CRITERIA, today=TODAY)


def test_a_well_fitting_demo_request_with_a_near_timeline_is_sql() -> None:
    d = decide(SQL_LEAD)
    assert (d.status, d.reason) == ("sql", "sql_conditions_met")
    assert (d.fit_score, d.intent_score, d.fit_band, d.intent_band) == (97, 65, "high", "high")
    assert d.route.team == "sales"
    assert d.route.candidates == ("ava-patel", "ben-okafor")
    assert d.email == "malvarez@hvcardiology.example.com"
    assert d.phone == "+18455550142"
    assert d.sla_hours == 4
    assert d.discovery_questions[0].startswith("Do you collect device")
    assert d.criteria_version == CRITERIA.version


def test_every_point_of_both_scores_is_explained() -> None:
    d = decide(SQL_LEAD)
    fit_points = sum(c.points for c in d.checks if c.step == "fit")
    intent_points = sum(c.points for c in d.checks if c.step == "intent")
    assert (fit_points, intent_points) == (d.fit_score, d.intent_score)
    assert "Fit +35: cardiology is a core specialty." in d.explanations
    assert "Intent +40: asked for demo." in d.explanations
    assert any(e.startswith("Status sql") for e in d.explanations)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"message": "We offer SEO services and backlinks for clinics"}, "spam"),
        (
            {"message": "Hi, I need to reschedule my appointment, my knee still hurts."},
            "patient_inquiry",
        ),
        ({"email": "malvarez@@hv", "phone": "12"}, "invalid_contact"),
        ({"email": None, "phone": None}, "invalid_contact"),
        ({"consent_email": "no", "consent_phone": "no"}, "no_consent"),
        ({"consent_email": None, "consent_phone": None}, "no_consent"),
        ({"state": "TX"}, "out_of_geography"),
        ({"country": "Germany", "state": None, "phone": "+49 30 901820"}, "out_of_geography"),
        ({"org_type": "pharmacy"}, "wrong_org_type"),
        ({"org_type": "health plan"}, "wrong_org_type"),
        ({"specialty": "dentistry"}, "different_specialty"),
        ({"message": "We need an outsourced billing partner."}, "out_of_scope_service"),
        ({"channel": "outbound", "contact_role": "Receptionist"}, "no_decision_path"),
        # An outbound row with no role is no longer here: unknown is not failed (guide §12, "not
        # the decision role and no path to the buying committee"; DESIGN §3); see
        # tests/unit/test_needs_and_paths.py.
    ],
)
def test_each_hard_stop_disqualifies_with_its_reason(
    changes: dict[str, str | None], reason: str
) -> None:
    d = decide(lead(**changes))
    assert (d.status, d.reason) == ("disqualified", reason)
    assert d.reason_permanent is DISQUALIFICATION_REASONS[reason]
    assert d.route.team == "none"


def test_temporary_disqualifications_get_a_recheck_horizon_and_permanent_ones_none() -> None:
    assert decide(lead(consent_email="no", consent_phone="no")).recheck_days == 60
    assert decide(lead(state="TX")).recheck_days is None


def test_a_patient_inquiry_is_redacted_and_its_text_is_nowhere_in_the_record() -> None:
    text = "I need to reschedule my appointment about my chest pain"
    d = decide(lead(message=text))
    assert d.redacted
    assert not any("chest" in e or "reschedule" in e for e in d.explanations)


def test_every_failing_hard_stop_is_recorded_and_the_first_in_order_is_the_reason() -> None:
    d = decide(lead(state="TX", org_type="pharmacy", consent_email="no", consent_phone="no"))
    failed = [c.name for c in d.checks if c.step == "hard_stop" and c.outcome == "fail"]
    assert failed == ["no_consent", "out_of_geography", "wrong_org_type"]
    assert d.reason == "no_consent"


def test_outbound_rows_need_no_consent_to_be_evaluated() -> None:
    d = decide(lead(channel="outbound", consent_email=None, consent_phone=None))
    assert d.status != "disqualified"


def test_an_out_of_scope_specialty_guessed_from_the_name_is_not_a_hard_stop() -> None:
    d = decide(lead(specialty=None, organization_name="Bright Smiles Dental Group"))
    assert d.status != "disqualified"
    assert (
        "Fit +0: dentistry is not a specialty we serve (inferred from the organization name "
        "'Bright Smiles Dental Group')." in (d.explanations)
    )


@pytest.mark.parametrize(
    ("changes", "status", "reason"),
    [
        ({}, "sql", "sql_conditions_met"),
        ({"timeframe": None}, "mql_no_timeline", "interest_without_timing"),
        ({"timeframe": "not sure"}, "mql_no_timeline", "interest_without_timing"),
        ({"timeframe": "3-6 months"}, "mql", "sql_conditions_unmet"),
        (
            {"interest_type": "content", "page_visits_high_intent": "2", "content_downloads": "3"},
            "mql",
            "routing_table_mql",
        ),
        (
            {"interest_type": "pricing", "page_visits_high_intent": None, "timeframe": None},
            "mql_no_timeline",
            "interest_without_timing",
        ),
        (
            {
                "specialty": "podiatry",
                "org_type": "private practice",
                "contact_role": "Front desk",
                "locations_count": "1",
                "interest_type": "general",
                "page_visits_high_intent": None,
                "content_downloads": None,
            },
            "nurture",
            "routing_table_nurture",
        ),
    ],
)
def test_status_paths(changes: dict[str, str | None], status: str, reason: str) -> None:
    d = decide(lead(**changes))
    assert (d.status, d.reason) == (status, reason)


def test_mql_no_timeline_is_rechecked_at_the_sheet_horizon() -> None:
    d = decide(lead(timeframe=None))
    assert d.recheck_days == 90
    assert d.sla_hours == 72
    assert d.route.team == "marketing"


@pytest.mark.parametrize(
    ("score", "band"),
    [(0, "low"), (39, "low"), (40, "mid"), (69, "mid"), (70, "high"), (100, "high")],
)
def test_fit_band_edges(score: int, band: str) -> None:
    edges = CRITERIA.sheet.bands.fit
    assert band_of(score, edges) == band


@pytest.mark.parametrize(("score", "band"), [(29, "low"), (30, "mid"), (59, "mid"), (60, "high")])
def test_intent_band_edges(score: int, band: str) -> None:
    assert band_of(score, CRITERIA.sheet.bands.intent) == band


@pytest.mark.parametrize(
    ("changes", "fit", "proposed"),
    [
        # 15 adjacent + 15 territory + 20 preferred + 20 decider = 70: just high, so just SQL.
        ({"specialty": "podiatry", "locations_count": None}, 70, "sql"),
        # 15 + 15 + 20 + 12 influencer + 7 (3 locations) = 69: just mid, SQL across the edge.
        # A mid-fit form lead that gives a timeline is SQL (guide §6, inbound: "route to sales
        # if SQL criteria are met or if timing is provided"; sheet timeline_to_sales), so the
        # automatic outcome is sql on this side too; it was mql before.
        (
            {"specialty": "podiatry", "contact_role": "Medical Director", "locations_count": "3"},
            69,
            "sql",
        ),
    ],
)
def test_a_score_near_the_edge_that_decides_sql_goes_to_review(
    changes: dict[str, str | None], fit: int, proposed: str
) -> None:
    d = decide(lead(**changes))
    assert d.fit_score == fit
    assert (d.status, d.reason, d.proposed_status) == ("in_review", "near_band_edge", proposed)
    assert d.borderline
    assert d.route.team == "review"


def test_a_score_near_an_edge_that_does_not_decide_sql_is_not_borderline() -> None:
    # Fit 69 but the contact is a user: not SQL on either side of the edge.
    d = decide(lead(specialty="podiatry", contact_role="Receptionist", locations_count="10"))
    assert d.fit_score == 15 + 15 + 20 + 4 + 10
    assert not d.borderline


def test_high_intent_with_low_fit_goes_to_review() -> None:
    d = decide(
        lead(
            specialty=None, org_type=None, contact_role=None, organization_name="Lakeside Wellness"
        )
    )
    assert d.fit_band == "low" and d.intent_band == "high"
    assert d.status == "in_review"
    assert "high_intent_low_fit" in d.borderline_reasons
    assert "unknown_must_have:specialty" in d.borderline_reasons
    assert d.proposed_status == "nurture"


def test_an_unknown_must_have_with_high_intent_goes_to_review() -> None:
    d = decide(lead(contact_role=None))
    assert (d.status, d.reason) == ("in_review", "unknown_must_have:decision_role")
    assert d.proposed_status == "mql"


def test_an_unknown_must_have_with_low_intent_is_not_borderline() -> None:
    d = decide(
        lead(
            contact_role=None,
            interest_type="general",
            page_visits_high_intent=None,
            content_downloads=None,
        )
    )
    assert not d.borderline
    assert d.status == "mql"


def test_an_unavailable_owner_is_skipped_with_the_reason() -> None:
    d = decide(lead(state="MD"))
    assert d.status == "sql"
    assert d.route.candidates == ()
    assert d.route.skipped == (("dev-shah", "on leave until 2027-01-04"),)
    assert d.route.fallback == "sales-desk"
    assert "Skipped owner dev-shah: on leave until 2027-01-04." in d.explanations


def test_webinar_attendance_raises_intent_but_the_topic_alone_does_not_make_sql() -> None:
    d = decide(
        lead(
            channel="webinar",
            interest_type=None,
            specialty=None,
            webinar_session="Cutting cardiology no-shows",
            webinar_attended="yes",
            page_visits_high_intent=None,
            content_downloads=None,
            timeframe=None,
        )
    )
    assert d.specialty == "cardiology"
    assert d.interest_type == "webinar"
    assert d.intent_score == 15 + 15
    assert d.status == "mql"


def test_bad_counts_are_reported_by_field_and_treated_as_unknown() -> None:
    d = decide(lead(locations_count="many"))
    assert any(c.name == "locations_count" and c.outcome == "fail" for c in d.checks)
    assert "locations_count: 'many' is not a whole number; treated as unknown." in d.explanations


def test_a_spreadsheet_float_phone_is_recovered() -> None:
    d = decide(lead(phone="9106096740.0", state="NY"))
    assert d.phone == "+19106096740"


def test_personal_email_domains_are_kept_but_name_no_account() -> None:
    d = decide(lead(email="Dr.Rosa.Ito@Gmail.com", website=None))
    assert d.email == "dr.rosa.ito@gmail.com"
    assert d.status == "sql"
    assert d.person_key == "email:dr.rosa.ito@gmail.com"
    assert not any(k.startswith("domain:") for k in d.account_keys)


def test_the_email_identifies_the_person_and_domain_and_name_the_account() -> None:
    d = decide(SQL_LEAD)
    assert (d.person_key, d.person_by_phone) == ("email:malvarez@hvcardiology.example.com", False)
    assert d.account_keys == (
        "domain:hvcardiology.example.com",
        "name:hudson valley cardiology associates|NY",
    )


def test_a_phone_identifies_the_person_only_when_no_email_is_given() -> None:
    d = decide(lead(email=None))
    assert (d.person_key, d.person_by_phone) == ("phone:+18455550142", True)


def test_every_disqualification_reason_of_the_design_is_known() -> None:
    assert set(DISQUALIFICATION_REASONS) == {
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
    }


def test_the_stored_form_of_a_decision_is_plain_json_with_every_check() -> None:
    import json

    d = decide(SQL_LEAD)
    data = json.loads(json.dumps(d.to_dict()))
    assert data["status"] == "sql"
    assert len(data["checks"]) == len(d.checks)
    assert data["checks"][0] == {
        "step": d.checks[0].step,
        "name": d.checks[0].name,
        "outcome": d.checks[0].outcome,
        "detail": d.checks[0].detail,
        "points": d.checks[0].points,
    }
    assert data["route"]["candidates"] == ["ava-patel", "ben-okafor"]
    assert data["explanations"] == d.explanations


# --- timing: windows against the sheet's horizons (DESIGN §3) -----------------------------


def timing_line(d: Decision) -> str:
    (line,) = [c.detail for c in d.checks if c.step == "timing"]
    return line


def sheet_with(old: str, new: str) -> Criteria:
    assert old in CRITERIA.text
    return parse_criteria(CRITERIA.text.replace(old, new))


@pytest.mark.parametrize(
    ("timeframe", "received_at", "status", "reason"),
    [
        # "within 3 months" starts the day it is said: near-term for a 90-day rule.
        ("within 3 months", "2026-11-20", "sql", "sql_conditions_met"),
        ("in 3 months", "2026-11-20", "mql", "sql_conditions_unmet"),
        ("ASAP", "2026-11-20", "sql", "sql_conditions_met"),
        ("1-3 months", "2026-11-20", "sql", "sql_conditions_met"),
        ("3-6 months", "2026-11-20", "mql", "sql_conditions_unmet"),
        # Said in late November, both start on January 1; "early next year" is over by April
        # (near-term), "sometime next year" runs thirteen months: no near-term need, and it runs
        # past a year out, so far out (DESIGN §3; guide §12: nurture with a recheck).
        ("sometime next year", "2026-11-20", "nurture", TIMING_FAR_OUT),
        ("in 2027", "2026-11-20", "nurture", TIMING_FAR_OUT),
        ("early next year", "2026-11-20", "sql", "sql_conditions_met"),
        ("within 6 months", "2026-11-20", "mql", "sql_conditions_unmet"),
        ("by spring", "2026-11-20", "sql", "sql_conditions_met"),  # by the end of March
        # Said in March, both start ten months out and run past a year: far out.
        ("sometime next year", "2026-03-10", "nurture", TIMING_FAR_OUT),
        ("early next year", "2026-03-10", "nurture", TIMING_FAR_OUT),
        # Q1 said in February is this quarter; said in November, next year's first.
        ("Q1", "2026-02-10", "sql", "sql_conditions_met"),
        ("Q1", "2026-11-20", "sql", "sql_conditions_met"),
        ("Q3", "2026-11-20", "mql", "sql_conditions_unmet"),
        # Far out: nurture with a recheck, not a disqualification.
        ("in 2 years", "2026-11-20", "nurture", TIMING_FAR_OUT),
        ("12+ months", "2026-11-20", "nurture", TIMING_FAR_OUT),
        ("2028", "2026-11-20", "nurture", TIMING_FAR_OUT),
        ("not sure", "2026-11-20", "mql_no_timeline", "interest_without_timing"),
        ("just researching", "2026-11-20", "mql_no_timeline", "interest_without_timing"),
    ],
)
def test_the_status_follows_where_the_timeline_window_starts(
    timeframe: str, received_at: str, status: str, reason: str
) -> None:
    d = decide(lead(timeframe=timeframe, received_at=received_at))
    assert (d.status, d.reason) == (status, reason)


@pytest.mark.parametrize(
    ("timeframe", "received_at", "line"),
    [
        (
            "within 3 months",
            "2026-11-20",
            "Timeline 'within 3 months' = 2026-11-20..2027-02-20, starts now: near-term "
            "(starts within 90 days, over within 180 days).",
        ),
        (
            "sometime next year",
            "2026-11-20",
            "Timeline 'next year' = 2027-01-01..2027-12-31, starts in 42 days: far out (runs "
            "beyond 365 days); the offer re-engages (timing.re_engagement): nurture, recheck on "
            "2026-12-27 (the shortest recheck horizon, 30 days; the window starts within 90).",
        ),
        (
            "Q1",
            "2026-02-10",
            "Timeline 'Q1 2026' = 2026-02-10..2026-03-31, starts now: near-term (starts within 90 "
            "days, over within 180 days).",
        ),
        (
            "in 3 months",
            "2026-11-20",
            "Timeline 'in 3 months' = 2027-02-20..2027-03-19, starts in 92 days: not near-term "
            "(beyond 90 days), not far out (over within 365 days).",
        ),
        ("TBD", "2026-11-20", "Timeline 'not sure': no window, so not near-term."),
        (None, "2026-11-20", "Timeline not given: no window, so not near-term."),
    ],
)
def test_the_timing_line_says_the_window_in_words_and_dates(
    timeframe: str | None, received_at: str, line: str
) -> None:
    d = decide(lead(timeframe=timeframe, received_at=received_at))
    assert timing_line(d) == line


def test_the_near_term_sql_condition_names_the_window() -> None:
    d = decide(lead(timeframe="within 3 months"))
    assert (
        "SQL condition near_term_timeline met: Timeline 'within 3 months' = "
        "2026-11-20..2027-02-20, starts now: near-term (starts within 90 days, over within "
        "180 days)." in d.explanations
    )


def test_a_far_out_timeline_is_nurtured_and_rechecked_when_its_window_comes_near() -> None:
    d = decide(lead(timeframe="in 2 years"))
    # The window starts on 2028-11-20; 90 days before it, it is near-term.
    assert (d.status, d.reason, d.reason_permanent) == ("nurture", TIMING_FAR_OUT, None)
    assert d.recheck_days == (dt.date(2028, 8, 22) - TODAY).days
    assert timing_line(d) == (
        "Timeline 'in 2 years' = 2028-11-20..2029-11-19, starts in 731 days: far out "
        "(runs beyond 365 days); the offer re-engages (timing.re_engagement): nurture, recheck on "
        "2028-08-22 (when the window comes within 90 days; timing.far_out_recheck: window)."
    )
    assert "Status nurture: the timeline is far out; recheck on 2028-08-22." in d.explanations
    assert (d.route.team, d.sla_hours, d.borderline) == ("marketing", 168, False)


def test_a_far_out_recheck_can_follow_a_sheet_horizon_instead() -> None:
    criteria = sheet_with("far_out_recheck: window", "far_out_recheck: 180")
    d = evaluate(lead(timeframe="in 2 years"), criteria, today=TODAY)
    assert (d.status, d.recheck_days) == ("nurture", 180)
    assert timing_line(d).endswith(
        "nurture, recheck on 2027-05-26 (the sheet's 180-day horizon; timing.far_out_recheck: 180)."
    )


def test_far_out_timing_disqualifies_only_where_the_offer_has_no_re_engagement_plan() -> None:
    criteria = sheet_with("re_engagement: true", "re_engagement: false")
    d = evaluate(lead(timeframe="in 2 years"), criteria, today=TODAY)
    assert (d.status, d.reason, d.reason_permanent) == ("disqualified", "timing_too_far", False)
    assert d.recheck_days == 180
    assert timing_line(d).endswith(
        "far out (runs beyond 365 days); the offer has no re-engagement plan "
        "(timing.re_engagement: false): disqualified, recheck on 2027-05-26 "
        "(recheck.temporary_disqualification_days)."
    )
    assert d.route.team == "none"


def test_without_a_re_engagement_plan_or_a_horizon_a_far_out_lead_is_not_rechecked() -> None:
    criteria = parse_criteria(
        CRITERIA.text.replace("re_engagement: true", "re_engagement: false").replace(
            "    timing_too_far: 180   # used only with timing.re_engagement: false\n", ""
        )
    )
    d = evaluate(lead(timeframe="in 2 years"), criteria, today=TODAY)
    assert (d.status, d.reason, d.recheck_days) == ("disqualified", "timing_too_far", None)
    assert timing_line(d).endswith("disqualified, no recheck.")


def test_hard_stops_come_before_far_out_timing() -> None:
    d = decide(lead(timeframe="in 2 years", state="TX"))
    assert (d.status, d.reason) == ("disqualified", "out_of_geography")


def test_the_decision_records_the_window_and_the_days_to_its_start() -> None:
    d = decide(lead(timeframe="within 60 days"))
    assert (d.timeframe, d.timeline_days) == ("within 60 days (2026-11-20..2027-01-19)", 0)
    d = decide(lead(timeframe="next year"))
    assert (d.timeframe, d.timeline_days) == ("next year (2027-01-01..2027-12-31)", 42)
    d = decide(lead(timeframe="not sure"))
    assert (d.timeframe, d.timeline_days) == ("not sure", None)


def test_an_unknown_timeframe_is_an_unknown_must_have_and_no_timeline_is_known() -> None:
    criteria = sheet_with(
        "must_have: [specialty, org_type, decision_role, location]",
        "must_have: [specialty, org_type, decision_role, location, timeframe]",
    )
    unsure = evaluate(lead(timeframe="not sure"), criteria, today=TODAY)
    assert "unknown_must_have:timeframe" in unsure.borderline_reasons
    none = evaluate(lead(timeframe="no timeline"), criteria, today=TODAY)
    assert "unknown_must_have:timeframe" not in none.borderline_reasons
