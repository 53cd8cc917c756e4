"""Issue 12 under the default sheet: the decision path beyond job titles, scope confirmation with
need classes, nice-to-haves that score, and explanations that show where each value came from.
Messages are paraphrases, not the sheet's phrases."""

from __future__ import annotations

import csv
import dataclasses

import pytest

from qualification.criteria import BUYING_CUES, CriteriaError, parse_criteria
from qualification.decision import Decision
from qualification.evaluate import (
    DECISION_PATH_UNKNOWN,
    MIXED_REQUEST,
    SCOPE_UNCONFIRMED,
    TIMELINE_PROVIDED,
    article,
    evaluate,
)
from qualification.phrases import PhraseMatcher
from qualification.submission import Submission, submission_from_mapping
from tests.paths import DEFAULT_SHEET, SHARED_DATA
from tests.unit.test_evaluate import CRITERIA, SQL_LEAD, TODAY


def lead(**changes: str | None) -> Submission:
    return dataclasses.replace(SQL_LEAD, **changes)  # type: ignore[arg-type]


def decide(sub: Submission, criteria=CRITERIA) -> Decision:  # type: ignore[no-untyped-def]
    return evaluate(sub, criteria, today=TODAY)


def outbound(**changes: str | None) -> Submission:
    """An outbound list row: no interest, no message, no consent."""
    base = {
        "channel": "outbound",
        "interest_type": None,
        "message": None,
        "timeframe": None,
        "consent_email": None,
        "consent_phone": None,
    }
    return lead(**{**base, **changes})


# --- 1. Decision path, not job title (guide §9, §12; DESIGN §3) ---


def test_an_outbound_row_with_no_role_goes_to_discovery_not_no_decision_path() -> None:
    d = decide(outbound(contact_role=None))
    assert (d.status, d.reason) == ("mql", DECISION_PATH_UNKNOWN)
    assert d.influence == "unknown"
    [line] = [c for c in d.checks if c.name == DECISION_PATH_UNKNOWN]
    assert "unknown, not failed" in line.detail
    assert "decision_path.unknown_role_status" in line.detail


def test_an_unrecognised_title_is_unknown_too() -> None:
    d = decide(outbound(contact_role="Happiness Wrangler"))
    assert d.reason == DECISION_PATH_UNKNOWN and d.status == "mql"


def test_the_sheet_says_which_status_discovery_is() -> None:
    text = DEFAULT_SHEET.read_text().replace(
        "unknown_role_status: mql", "unknown_role_status: in_review"
    )
    sheet = parse_criteria(text, "review.yaml")
    d = decide(outbound(contact_role=None), sheet)
    assert (d.status, d.reason, d.proposed_status) == ("in_review", DECISION_PATH_UNKNOWN, "mql")


def test_a_low_fit_row_with_no_role_stays_nurture_and_says_why() -> None:
    d = decide(
        outbound(
            contact_role=None,
            specialty=None,
            org_type=None,
            locations_count=None,
            organization_name="Lakeside Wellness",
        )
    )
    assert d.fit_band == "low"
    assert (d.status, d.reason) == ("nurture", "routing_table_nurture")
    assert any(c.name == DECISION_PATH_UNKNOWN for c in d.checks)


def test_a_known_role_outside_the_path_with_no_path_named_is_no_decision_path() -> None:
    d = decide(outbound(contact_role="Front Desk Coordinator"))
    assert (d.status, d.reason) == ("disqualified", "no_decision_path")
    [stop] = [c for c in d.checks if c.step == "hard_stop" and c.outcome == "fail"]
    assert "'Front Desk Coordinator'" in stop.detail and "a user" in stop.detail
    assert "no path to the buying committee is named" in stop.detail


@pytest.mark.parametrize(
    "message",
    [
        "I report to the administrator who chooses vendors.",
        "Happy to talk. Our CMO signs off on anything patient-facing.",
        "The practice owner makes the final call on software.",
        "Final approval sits with our medical director.",
        "Purchasing decisions are made by the board.",
        "I'd need sign-off from our COO before we commit.",
    ],
)
def test_a_path_named_in_the_message_puts_a_coordinator_on_the_path(message: str) -> None:
    d = decide(outbound(contact_role="Office Coordinator", message=message))
    assert d.status != "disqualified"
    assert d.influence == "influencer"
    assert d.decision_path is not None and "(message)" in d.decision_path
    [role] = [c for c in d.checks if c.step == "fit" and c.name == "role"]
    assert role.points == 12
    assert "a user by title, but a path to the buying committee is named" in role.detail
    assert d.decision_path.split(" (")[0].strip("'") in message


@pytest.mark.parametrize(
    "message",
    [
        "I don't know who decides.",
        "Not sure who would sign this.",
        "Our patients choose their own appointment times.",
        "I'm the one who keeps the schedule.",
    ],
)
def test_words_that_name_no_decider_are_not_a_path(message: str) -> None:
    d = decide(outbound(contact_role="Office Coordinator", message=message))
    assert d.decision_path is None
    assert d.reason == "no_decision_path"


@pytest.mark.parametrize(
    ("field", "value", "source"),
    [
        ("decision_maker_role", "Practice owner", "decision maker"),
        ("approver", "CFO", "approver"),
        ("Decision Maker", "Dr. Patel, managing partner", "decision maker"),
        ("committee_notes", "Capital committee meets monthly; CFO and CMO approve.", "committee"),
    ],
)
def test_a_path_named_in_a_field_counts(field: str, value: str, source: str) -> None:
    row = {
        "organization_name": "Hudson Valley Cardiology Associates",
        "org_type": "group practice",
        "state": "NY",
        "specialty": "cardiology",
        "contact_role": "Receptionist",
        "phone": "(845) 454-0142",
        field: value,
    }
    d = decide(submission_from_mapping(row, channel="outbound"))
    assert d.reason != "no_decision_path"
    assert d.decision_path is not None and source in d.decision_path


def test_a_placeholder_in_the_decision_maker_field_names_no_one() -> None:
    d = decide(outbound(contact_role="Receptionist", decision_maker_role="not sure"))
    assert d.reason == "no_decision_path"


def test_a_named_path_meets_the_decision_process_condition_on_a_form() -> None:
    d = decide(lead(contact_role="Scheduler", approver="Practice administrator"))
    assert (d.status, d.reason) == ("sql", "sql_conditions_met")
    [cond] = [c for c in d.checks if c.name == "decision_process"]
    assert cond.outcome == "pass" and "path named: 'Practice administrator' (approver)" in (
        cond.detail
    )


# --- 2. Scope confirmation with need classes (guide §4, §5, §12; DESIGN §3 need) ---


@pytest.mark.parametrize(
    "message",
    [
        "Patients still fill out clipboards in our waiting room.",
        "We want people to check in from their phones before they arrive.",
        "Looking to digitize new-patient paperwork and scan insurance cards.",
        "Can your intake tool pre-fill medical history?",
        "Our new patient paperwrok is out of control.",  # a typo
    ],
)
def test_a_request_that_names_the_offers_scope_confirms_it(message: str) -> None:
    d = decide(lead(message=message))
    assert (d.status, d.reason) == ("sql", "sql_conditions_met")
    assert d.scope_match is not None and d.scope_match.endswith("(message)")


def test_a_webinar_topic_can_confirm_the_scope() -> None:
    d = decide(lead(message=None, webinar_session="Digital check-in for cardiology practices"))
    assert d.scope_match == "'Digital check-in' (webinar topic)"


def test_page_topics_can_confirm_the_scope() -> None:
    sub = dataclasses.replace(
        lead(message=None), extra={"page_topics": "pricing; online intake forms"}
    )
    assert decide(sub).scope_match == "'online intake' (page topics)"


@pytest.mark.parametrize(
    "message",
    [None, "Please send more information.", "We'd like to see what you have."],
)
def test_an_unclear_request_that_is_otherwise_sql_goes_to_a_person(message: str | None) -> None:
    d = decide(lead(message=message))
    assert (d.status, d.reason) == ("in_review", SCOPE_UNCONFIRMED)
    [cond] = [c for c in d.checks if c.name == "interest_in_scope"]
    assert cond.outcome == "fail" and "names the offer's scope" in cond.detail
    assert any("a person decides" in c.detail for c in d.checks if c.name == SCOPE_UNCONFIRMED)
    assert d.discovery_questions  # the reviewer sees what sales would ask


@pytest.mark.parametrize(
    ("message", "need"),
    [
        ("We need to replace our electronic health record system.", "out_"),
        ("Are you able to take over our medical billing?", "out_"),
        ("We're migrating EHRs next spring and want a partner.", "out_"),
        ("Do you have any openings? I'm a certified MA looking for work.", "job_"),
        ("Please find my resume attached for the coordinator role.", "job_"),
        ("We'd love to introduce our company's SEO-free marketing services.", "vendor_"),
        ("Would you consider a reseller arrangement for our scheduling product?", "vendor_"),
        ("I'm a graduate student researching patient intake for my thesis.", "student_"),
        ("Could I interview you for a class project on clinic software?", "student_"),
        ("Looking for a replacement for our Epic instance.", "out_"),
        ("We need temporary nurses for the winter.", "out_"),
        ("Is there an opening for a medical assistant?", "job_"),
        ("We sell PPE and would like to be your supplier.", "vendor_"),
        # Paraphrases of each class in words the labelled cases do not use.
        ("Can you send per diem nurses for flu season?", "out_"),
        ("We need locums coverage while our cardiologist is on leave.", "out_"),
        ("Looking for temp staff for the holidays.", "out_"),
        ("Our providers want their dictation typed up within a day.", "out_"),
        ("Could you transcribe recordings of our clinic visits?", "out_"),
        ("Can you take over billing for our practice?", "out_"),
        ("We'd like help with accounts receivable and denial management.", "out_"),
        ("We are evaluating a new electronic health record for 2027.", "out_"),
        ("We're in the middle of an EMR selection.", "out_"),
        ("Any positions available on your implementation team?", "job_"),
        ("I'd like to work at ClearIntake; who should I talk to?", "job_"),
        ("Could I interview your staff for my research paper on portals?", "student_"),
        ("We are writing a paper on digital front doors.", "student_"),
    ],
)
def test_other_needs_are_hard_stops_with_their_reason(message: str, need: str) -> None:
    # Guide §5: "requests that indicate a different need than the offer scope".
    d = decide(lead(message=message))
    assert (d.status, d.reason) == ("disqualified", "out_of_scope_service")
    [stop] = [c for c in d.checks if c.step == "hard_stop" and c.outcome == "fail"]
    assert f"need class {need}" in stop.detail


def test_a_parent_asking_about_a_dermatologist_for_their_child_is_a_caregiver_inquiry() -> None:
    d = decide(
        lead(
            organization_name="none",
            org_type=None,
            contact_role=None,
            specialty=None,
            message="Does anyone there see kids? Looking for a dermatologist for my son's eczema.",
        )
    )
    assert (d.status, d.reason) == ("disqualified", "patient_inquiry")
    assert d.redacted and d.discovery_notes is None
    assert all("eczema" not in e for e in d.explanations)


@pytest.mark.parametrize(
    "message",
    [
        "Can you recommend a specialist for my 70-year-old father's knee?",
        "My wife needs a cardiologist who sees patients on Saturdays.",
        "Could you recommend a physician near Albany for my 3 year old son?",
    ],
)
def test_a_caregiver_asking_for_a_doctor_in_other_words_is_a_caregiver_inquiry(
    message: str,
) -> None:
    d = decide(lead(organization_name="none", org_type=None, contact_role=None, message=message))
    assert (d.status, d.reason) == ("disqualified", "patient_inquiry")


def test_a_caregiver_asking_whether_a_doctor_takes_medicare_is_a_caregiver_inquiry() -> None:
    d = decide(lead(message="My mother needs a cardiologist, do you take Medicare?"))
    assert d.reason == "patient_inquiry" and d.redacted


@pytest.mark.parametrize(
    "message",
    [
        "We apply for grants every year; our intake forms are a mess.",
        "We are hiring for a new location and need digital intake.",
        "Our patients take Medicare and fill out forms on paper.",
        # Words near the new need phrases, in requests that are the offer's own.
        "Our staff transcribe paper intake packets into the EHR by hand.",
        "Paper forms were a temporary fix for our doctors; we want digital intake now.",
        "Our billing team keeps chasing wrong insurance details; we need insurance card capture.",
        "We recommend our patients fill in forms at home; we want online registration.",
        "We interview new patients on paper clipboards and want online intake.",
        "Parents of our 5-year-old patients fill out intake forms on paper.",
    ],
)
def test_a_practice_using_words_of_other_needs_is_still_a_lead(message: str) -> None:
    assert decide(lead(message=message)).status == "sql"


def test_a_practice_writing_about_its_patients_children_is_not_a_caregiver() -> None:
    d = decide(lead(message="Our parents fill out intake forms for their child at every visit."))
    assert d.reason != "patient_inquiry"


def test_an_other_need_beside_the_offers_scope_is_a_mixed_request_a_person_decides() -> None:
    d = decide(lead(message="We're replacing our EHR this year and want digital check-in too."))
    assert (d.status, d.reason, d.proposed_status) == ("in_review", MIXED_REQUEST, "sql")
    assert any(
        c.name == "need:out_of_scope_service" and "not a hard stop" in c.detail for c in d.checks
    )
    [line] = [c for c in d.checks if c.name == MIXED_REQUEST]
    assert "'digital check-in'" in line.detail and "'replacing our EHR'" in line.detail
    assert "both were found" in line.detail and "A person decides" in line.detail


@pytest.mark.parametrize(
    "message",
    [
        # A student or vendor cue, the offer's scope and a buying need of the lead's own.
        "I'm a graduate student, and I'm also the office manager; we want patient intake online "
        "for our clinic.",
        "My dissertation is on check-in kiosks, and I run the practice; we plan to buy a kiosk.",
        # A yielding class (an off-scope service) beside the offer's scope.
        "We're moving to a new practice management system and want digital intake with it.",
        "Alongside outsourced billing and coding, we need patient registration online.",
    ],
)
def test_a_cue_of_another_need_with_an_in_scope_buying_need_is_mixed(message: str) -> None:
    d = decide(lead(message=message))
    assert (d.status, d.reason) == ("in_review", MIXED_REQUEST)


@pytest.mark.parametrize(
    "message",
    [
        # Scope words as a topic, no buying need of the lead's own: still a hard stop.
        "For my capstone I'm comparing patient intake tools; can I ask you some questions?",
        "We resell intake kiosks and would like a reseller agreement.",
    ],
)
def test_a_cue_of_another_need_with_scope_words_as_a_topic_is_still_a_hard_stop(
    message: str,
) -> None:
    assert decide(lead(message=message)).status == "disqualified"


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ("Can you help with accounts receivable?", "out_of_scope_service"),
        ("My mom needs a dermatologist near Albany, who is good?", "patient_inquiry"),
    ],
)
def test_a_webinar_topic_does_not_outweigh_the_attendees_own_question(
    message: str, reason: str
) -> None:
    # The session's topic says where the attendee came from, not what the question asks.
    d = decide(
        lead(
            channel="webinar",
            message=message,
            webinar_session="Digital check-in for cardiology practices",
        )
    )
    assert (d.status, d.reason) == ("disqualified", reason)


@pytest.mark.parametrize(
    "message",
    [
        "We are not replacing our EHR; we want online intake that feeds it.",
        "We don't need a billing company, just digital check-in for patients.",
    ],
)
def test_a_need_the_lead_says_it_does_not_have_is_not_a_cue(message: str) -> None:
    d = decide(lead(message=message))
    assert (d.status, d.reason) == ("sql", "sql_conditions_met")


def test_a_job_seeker_does_not_yield_to_the_offers_scope() -> None:
    d = decide(lead(message="I'm looking for a job doing patient intake at your company."))
    assert d.reason == "out_of_scope_service"


def test_the_older_out_of_scope_list_still_works() -> None:
    text = DEFAULT_SHEET.read_text().replace(
        "  # (Services we do not offer are the need class out_of_scope_service under `needs`.)\n",
        "  out_of_scope_services: [courier service]\n",
    )
    sheet = parse_criteria(text, "legacy.yaml")
    d = decide(lead(message="We need a courier service for lab samples."), sheet)
    assert d.reason == "out_of_scope_service"
    d = decide(lead(message="Can you replace our EHR?"), sheet)  # the class's phrases still count
    assert d.reason == "out_of_scope_service"


def test_a_sheet_without_an_offer_scope_lets_the_interest_type_confirm_it() -> None:
    start = DEFAULT_SHEET.read_text().index("  offer_scope:\n")
    end = DEFAULT_SHEET.read_text().index("  # Other needs:")
    text = DEFAULT_SHEET.read_text()
    sheet = parse_criteria(text[:start] + text[end:], "no-scope.yaml")
    d = decide(lead(message=None), sheet)
    assert (d.status, d.reason) == ("sql", "sql_conditions_met")
    [cond] = [c for c in d.checks if c.name == "interest_in_scope"]
    assert "the sheet lists no offer scope" in cond.detail


def test_a_need_class_must_name_a_reason_from_the_closed_set() -> None:
    text = DEFAULT_SHEET.read_text().replace(
        "      reason: out_of_scope_service\n      label: a job",
        "      reason: job\n      label: a job",
    )
    with pytest.raises(CriteriaError) as info:
        parse_criteria(text, "bad.yaml")
    assert any(p.path == "needs.classes.job_seeker.reason" for p in info.value.problems)


def test_the_phrase_matcher_reads_inflections_gaps_fillers_and_typos() -> None:
    m = PhraseMatcher(
        {"ehr": ["replace electronic health record"], "cv": ["my resume"], "x": ["check-in"]}
    )
    assert [h.group for h in m.find("Replacing our old electronic health records")] == ["ehr"]
    assert [h.text for h in m.find("attached is my updated resume")] == ["my updated resume"]
    assert m.find("the resume of a patient") == ()  # "my" is what makes it a phrase
    assert [h.text for h in m.find("online check in")] == ["check in"]
    assert m.find("electronic records, health replaced") == ()  # order matters
    assert m.find("replace it, then many other words, then electronic health record") == ()
    assert [h.text for h in m.find("replase our electronic helth record")] == [
        "replase our electronic helth record"
    ]


# --- 3. Nice-to-haves count (guide §2, §3, §6; DESIGN §3) ---


def test_budget_facility_and_vendor_switching_score_and_travel_in_the_decision() -> None:
    base = decide(lead(message="We want digital intake."))
    d = decide(
        lead(
            message="Funding is approved, we're opening a second site in spring and want to "
            "move away from our current intake vendor.",
            budget_range="$30k",
        )
    )
    assert d.intent_score == min(100, base.intent_score + 30)
    names = {c.name for c in d.checks if c.step == "intent" and c.points == 10}
    assert {"budget_signal", "facility_expansion", "vendor_switching"} <= names
    assert [n.split(":")[0] for n in d.nice_to_haves] == [
        "budget_signal",
        "facility_expansion",
        "vendor_switching",
    ]
    assert d.to_dict()["nice_to_haves"] == list(d.nice_to_haves)


@pytest.mark.parametrize("budget", ["none", "Not sure", "N/A", "tbd"])
def test_a_budget_field_that_says_none_is_no_budget_signal(budget: str) -> None:
    assert decide(lead(budget_range=budget)).nice_to_haves == ()


def test_the_operator_sets_the_nice_to_have_weights() -> None:
    text = DEFAULT_SHEET.read_text().replace(
        "  budget_signal:\n    points: 10", "  budget_signal:\n    points: 25"
    )
    sheet = parse_criteria(text, "budget.yaml")
    [check] = [
        c for c in decide(lead(budget_range="$50k"), sheet).checks if c.name == "budget_signal"
    ]
    assert check.points == 25


def test_a_mid_fit_form_lead_that_gives_a_timeline_goes_to_sales() -> None:
    # Fit 61 (podiatry 15, NY 15, group practice 20, a scheduler is a user 4, 4 locations 7) is
    # mid; intent 31 (content 10, 4 visits 16, 1 download 5) is mid: the routing table says mql.
    d = decide(
        lead(
            specialty="podiatry",
            contact_role="Scheduler",
            interest_type="content",
            page_visits_high_intent="4",
            timeframe="in 4 months",
            message="Exploring online intake forms.",
        )
    )
    assert d.fit_band == "mid"
    assert (d.status, d.reason) == ("sql", TIMELINE_PROVIDED)
    [line] = [c for c in d.checks if c.name == TIMELINE_PROVIDED]
    assert "guide §6" in line.detail and "in 4 months" in line.detail
    assert d.route.team == "sales"


def test_without_a_timeline_the_same_lead_stays_mql() -> None:
    d = decide(
        lead(
            specialty="podiatry",
            contact_role="Scheduler",
            interest_type="content",
            page_visits_high_intent="4",
            timeframe=None,
            message="Exploring online intake forms.",
        )
    )
    assert d.status == "mql"


def test_the_timeline_rule_is_the_sheets_to_turn_off() -> None:
    text = DEFAULT_SHEET.read_text().replace(
        "  channels: [form]\n  fit_bands: [mid]", "  channels: []"
    )
    sheet = parse_criteria(text, "off.yaml")
    d = decide(
        lead(
            specialty="podiatry",
            contact_role="Scheduler",
            interest_type="content",
            page_visits_high_intent="4",
            timeframe="in 4 months",
            message="Exploring online intake forms.",
        ),
        sheet,
    )
    assert d.status == "mql"


# --- 4. Explanations a person trusts ---


def test_a_disqualified_lead_says_why_the_routing_table_did_not_apply() -> None:
    d = decide(lead(state="TX"))
    [band] = [c for c in d.checks if c.step == "band"]
    assert "the routing table would say sql, but it does not apply" in band.detail
    assert "out_of_geography" in band.detail
    assert not any("the routing table says sql" in e for e in d.explanations)


def test_a_far_out_lead_says_the_timing_rule_fired() -> None:
    d = decide(lead(timeframe="in 2 years"))
    [band] = [c for c in d.checks if c.step == "band"]
    assert "the timeline is far out" in band.detail
    assert any(c.step == "timing" and c.name == "far_out" for c in d.checks)


@pytest.mark.parametrize(("word", "said"), [("influencer", "an"), ("user", "a"), ("decider", "a")])
def test_articles(word: str, said: str) -> None:
    assert article(word) == f"{said} {word}"


def test_no_explanation_says_a_before_a_vowel() -> None:
    for role in ("Medical Director", "Receptionist", "Practice Administrator", None):
        for e in decide(lead(contact_role=role)).explanations:
            assert " a influencer" not in e and " an user" not in e


def test_an_inferred_org_type_shows_the_name_it_came_from() -> None:
    d = decide(lead(org_type=None, organization_name="Acme Onsite Employer Clinic"))
    assert any(
        "(inferred from the organization name 'Acme Onsite Employer Clinic')" in e
        for e in d.explanations
        if e.startswith("Fit +")
    )


def test_the_role_line_shows_the_title_it_came_from() -> None:
    d = decide(lead(contact_role="Dir. of Ops"))
    [role] = [c for c in d.checks if c.step == "fit" and c.name == "role"]
    assert "'Dir. of Ops'" in role.detail


# The names of real organizations and the titles of their officials (CMS hospitals, NPPES
# organizations): the words a need class or buying cue finds in them, each of which names that
# need on its own (a medical equipment supplier, a credentialing or revenue-cycle officer), and
# the one near-spelling the typo rule lets through ("STANDING ROCK SERVICE" for "staffing
# service"). Need classes read only the message, but a name pasted into a message must not
# become a cue by a phrase added for a paraphrase.
_REAL_NAME_HITS = {"medical equipment", "credentialing", "revenue cycle", "staffing service"}


def test_real_organization_names_and_titles_hold_no_new_need_cue() -> None:
    columns = {
        "orgs/cms_hospitals_slim.csv": ("Facility Name",),
        "orgs/nppes_orgs_slim.csv": ("org_name", "other_org_name", "auth_official_title"),
    }
    if not all((SHARED_DATA / name).exists() for name in columns):
        pytest.skip("../shared/data is not present")
    found: set[str] = set()
    names = 0
    for name, cols in columns.items():
        with (SHARED_DATA / name).open(encoding="utf-8", newline="") as f:
            for row in csv.DictReader(f):
                for col in cols:
                    names += 1
                    for hit in CRITERIA.phrases.find(row[col]):
                        if hit.group.startswith("need:") or hit.group == BUYING_CUES:
                            found.add(hit.phrase)
    assert names > 5000
    assert found <= _REAL_NAME_HITS, found - _REAL_NAME_HITS
