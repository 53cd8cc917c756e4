"""Free-text signals: patient inquiries, spam, phrases, yes/no answers and counts."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qualification.signals import (
    PATIENT_CUES,
    PatientSignal,
    SpamSignal,
    detect_patient_inquiry,
    detect_spam,
    find_phrases,
    parse_bool,
    parse_count,
)

# --- patient inquiries --------------------------------------------------------------------

PATIENT_MESSAGES = [
    ("Hi, I need an appointment with Dr. Patel as soon as possible.", "own-appointment"),
    ("Can I get an appointment for next week? My knee hurts.", "own-appointment"),
    ("I would like to reschedule my appointment on Tuesday.", "own-appointment"),
    ("I need to cancel my appointment tomorrow, sorry.", "own-appointment"),
    ("How do I book a consultation with the surgeon?", "own-appointment"),
    ("Please call me, I need a refill of my blood pressure medication.", "own-prescription"),
    ("Can you refill my lisinopril? The pharmacy says it expired.", "own-prescription"),
    ("My doctor said I should ask you about my prescription.", "own-prescription"),
    ("When will my test results be ready?", "own-results"),
    ("I'm still waiting on my lab results from last month.", "own-results"),
    ("My MRI came back and I have questions about it.", "own-results"),
    ("I have been having chest pain for two days, who should I see?", "own-symptoms"),
    ("I have a rash on my arm that won't go away.", "own-symptoms"),
    ("I've been feeling dizzy since starting the new medication.", "own-symptoms"),
    ("I got a bill for $400 that my insurance should have covered.", "own-bill"),
    ("My insurance claim was denied and I don't understand why.", "own-bill"),
    ("I was charged twice for the same visit.", "own-bill"),
    ("How do I get a copy of my medical records?", "own-records"),
    ("Could you please send my records to my new doctor?", "own-records"),
    ("My son's appointment was cancelled and nobody called us.", "family-member-care"),
    ("My mother's surgery is scheduled for Friday, can she eat before?", "family-member-care"),
    ("My husband needs his prescription renewed before we travel.", "family-member-care"),
    ("Our daughter has a fever and we need to see the pediatrician today.", "family-member-care"),
    ("I need an appointment for my daughter, she is 6.", "family-member-care"),
    ("I am a patient at your Springfield office and can't log in.", "self-identified-patient"),
    ("I'm a patient of Dr. Lee, please have her call me.", "self-identified-patient"),
    ("How do I become a new patient at your clinic?", "self-identified-patient"),
]

BUSINESS_MESSAGES = [
    "Our patients can't book an appointment online",
    "We need a better intake for our patients' prescriptions",
    "I manage my practice's scheduling",
    "My team wants a demo",
    "We are a 12-provider orthopedic group looking to replace paper intake forms.",
    "Our front desk spends hours on insurance verification every week.",
    "I'd like to schedule a demo for our clinic next Tuesday.",
    "Can your software send appointment reminders to my patients by text?",
    "I run a small dermatology practice and need online check-in.",
    "We have 5 locations and our staff is overwhelmed with phone calls.",
    "Looking for pricing for 8 physicians in our group.",
    "My staff keeps losing referral paperwork, do you integrate with Epic?",
    "As the practice administrator I want to reduce no-shows at our hospital department.",
    "Does the platform let patients upload their insurance card and medication list?",
    "Our providers want patients to complete intake before the visit.",
    "I am the office manager at a pediatric clinic and want a quote.",
    "What's your pricing per provider? I have pain points with our current vendor.",
    "Please send me information about your patient intake product.",
    "My clinic needs HIPAA compliant forms.",
    "I tried to book an appointment demo with your sales team but the link was broken.",
    "I'm a physician and my patients struggle with the paperwork before their visit.",
    "We'd love to see how you handle refill requests and lab results routing.",
    "Hi, I'm the IT director; can your API pull appointment data into our EHR?",
    "My colleague recommended your intake forms for our cardiology department.",
    "What does onboarding look like for a 3-location practice?",
    "I am a patient advocate at a large health system exploring digital check-in.",
]


@pytest.mark.parametrize(("message", "cue"), PATIENT_MESSAGES)
def test_patients_writing_about_their_own_care_are_detected(message: str, cue: str) -> None:
    signal = detect_patient_inquiry(message, "Springfield Family Medicine", "practice")
    assert signal.is_patient
    assert cue in signal.cues


@pytest.mark.parametrize("message", BUSINESS_MESSAGES)
def test_business_messages_are_not_patient_inquiries(message: str) -> None:
    assert not detect_patient_inquiry(message, "Acme Orthopedics", "group_practice").is_patient


def test_the_tables_are_big_enough() -> None:
    assert len(PATIENT_MESSAGES) >= 15
    assert len(BUSINESS_MESSAGES) >= 15


def test_business_wording_outweighs_a_patient_cue() -> None:
    message = "My practice needs a way for my appointment reminders to reach patients by text."
    assert detect_patient_inquiry(message) == PatientSignal(False, ())
    mixed = "Our clinic staff keep asking: when will my lab results show up in the portal?"
    signal = detect_patient_inquiry(mixed)
    assert not signal.is_patient
    assert signal.cues == ("own-results",)


def test_an_individual_org_type_with_a_patient_cue_is_a_patient_despite_business_words() -> None:
    message = "Our clinic lost my lab results, please resend them."
    assert not detect_patient_inquiry(message, "Smith Family Clinic", "practice").is_patient
    assert detect_patient_inquiry(message, "Jane Smith", "individual").is_patient
    assert detect_patient_inquiry(message, "Jane Smith", "Patient").is_patient
    assert detect_patient_inquiry(message, "Self", None).is_patient
    assert detect_patient_inquiry(message, "N/A", None).is_patient


def test_an_individual_org_type_alone_is_not_enough() -> None:
    assert not detect_patient_inquiry("Please send a brochure.", None, "individual").is_patient


def test_saying_i_am_a_patient_wins_regardless() -> None:
    message = "I'm a patient at your clinic and our practice manager told me to write here."
    signal = detect_patient_inquiry(message, "Acme Orthopedics", "group_practice")
    assert signal == PatientSignal(True, ("self-identified-patient",))


def test_cues_are_category_labels_in_a_fixed_order() -> None:
    message = "I have a fever, my prescription ran out and I need to reschedule my appointment."
    signal = detect_patient_inquiry(message)
    assert signal.cues == ("own-appointment", "own-prescription", "own-symptoms")
    assert set(signal.cues) <= set(PATIENT_CUES)


@pytest.mark.parametrize("message", [None, "", "   ", "?!"])
def test_empty_messages_are_not_patients(message: str | None) -> None:
    assert detect_patient_inquiry(message) == PatientSignal(False, ())


# --- spam ---------------------------------------------------------------------------------

LINKS = " ".join(f"https://site{i}.example/p" for i in range(4))


@pytest.mark.parametrize(
    ("message", "organization", "contact", "expected"),
    [
        ("Please see " + LINKS, "Acme", "Bob", SpamSignal(True, ("links:4",))),
        (
            "http://a.ru http://www.b.ru www.c.ru",
            "Acme",
            "Bob",
            SpamSignal(False, ()),
        ),
        (
            "Interested in a demo, our site is https://acmeortho.com",
            "Acme Ortho",
            "Dana Smith",
            SpamSignal(False, ()),
        ),
        ("Hello", "https://best-seo.example", "Bob", SpamSignal(True, ("url-in-name",))),
        ("Hello", "Acme", "www.cheapmeds.example", SpamSignal(True, ("url-in-name",))),
        ("Hello", "Acme", "Bob http", SpamSignal(True, ("url-in-name",))),
        (
            "We offer SEO services and backlinks for clinics.",
            "Rank Co",
            "Al",
            SpamSignal(True, ("phrase:seo services", "phrase:backlinks")),
        ),
        ("Write a guest post for us", None, None, SpamSignal(True, ("phrase:guest post",))),
        ("Invest in Bitcoin today", None, None, SpamSignal(True, ("phrase:bitcoin",))),
        (
            "We can rank your website #1",
            None,
            None,
            SpamSignal(True, ("phrase:rank your website",)),
        ),
        ("Make money from home!", None, None, SpamSignal(True, ("phrase:make money",))),
        ("Our web design services", None, None, SpamSignal(True, ("phrase:web design services",))),
        ("Cheap viagra", None, None, SpamSignal(True, ("phrase:cheap", "phrase:viagra"))),
        (
            "Looking for a cheap intake option for our clinic",
            "Acme",
            "Bob",
            SpamSignal(False, ("phrase:cheap",)),
        ),
        ("We use cryptographic signatures for forms", None, None, SpamSignal(False, ())),
        ("$$$ !!! ### @@@ %%% ^^^ &&& *** ((( )))", None, None, SpamSignal(True, ("symbols",))),
        ("!!!", None, None, SpamSignal(False, ())),
        ("Call 555-123-4567 or 555-987-6543 today", None, None, SpamSignal(False, ())),
        (None, None, None, SpamSignal(False, ())),
        ("", "", "", SpamSignal(False, ())),
    ],
)
def test_spam_table(
    message: str | None, organization: str | None, contact: str | None, expected: SpamSignal
) -> None:
    assert detect_spam(message, organization, contact) == expected


def test_extra_phrases_and_max_links() -> None:
    assert detect_spam("Free samples for you", None, None, ["free samples"]) == SpamSignal(
        True, ("phrase:free samples",)
    )
    assert detect_spam("cheap", None, None, ["cheap"]).is_spam
    three = "http://a.example http://b.example http://c.example"
    assert not detect_spam(three, None, None).is_spam
    assert detect_spam(three, None, None, max_links=2) == SpamSignal(True, ("links:3",))


# --- phrases ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "phrases", "expected"),
    [
        (
            "We need billing services and staffing help",
            ["billing services", "staffing", "transcription"],
            ("billing services", "staffing"),
        ),
        (
            "billing services and staffing",
            ["staffing", "billing services"],
            ("staffing", "billing services"),
        ),
        ("MEDICAL BILLING outsourcing", ["medical billing"], ("medical billing",)),
        ("understaffing is our problem", ["staffing"], ()),
        ("staffing, staffing, staffing", ["staffing", "staffing"], ("staffing",)),
        ("medical billing", ["billing", "medical billing"], ("billing", "medical billing")),
        ("out-of-network claims", ["out of network"], ("out of network",)),
        ("anything", ["!!!"], ()),
        (None, ["staffing"], ()),
        ("staffing", [], ()),
    ],
)
def test_find_phrases(text: str | None, phrases: list[str], expected: tuple[str, ...]) -> None:
    assert find_phrases(text, phrases) == expected


# --- yes/no and counts --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        *[(v, True) for v in ["yes", "Y", "TRUE", "t", "1", "on", "checked", "X", "granted"]],
        *[(v, True) for v in ["opt-in", "Opted In", " yes "]],
        *[(v, False) for v in ["no", "N", "false", "f", "0", "off", "unchecked", "declined"]],
        *[(v, False) for v in ["opt-out", "Opted out"]],
        # Consent in words, as forms write it.
        *[(v, True) for v in ["I agree", "Yes, I agree!", "I consent", "yes please", "I accept"]],
        *[(v, False) for v in ["I do not agree", "No thanks", "do not contact"]],
        ("I agree to the terms of service", None),  # not an answer to "may we contact you"
        (True, True),
        (False, False),
        (1, True),
        (0, False),
        (2, None),
        (None, None),
        ("", None),
        ("   ", None),
        ("none", None),
        ("maybe", None),
    ],
)
def test_parse_bool(value: str | bool | int | None, expected: bool | None) -> None:
    assert parse_bool(value) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("3", 3),
        ("3.0", 3),
        (" 12 ", 12),
        ("1,200", 1200),
        ("+4", 4),
        ("-0", 0),
        (7, 7),
        (7.0, 7),
        (None, None),
        ("", None),
        ("<UNAVAIL>", None),
        ("n/a", None),
        ("N/A", None),
    ],
)
def test_parse_count(value: str | int | float | None, expected: int | None) -> None:
    assert parse_count(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("many", "'many' is not a whole number"),
        ("-2", "-2 is negative"),
        (-2, "-2 is negative"),
        (-2.0, "-2 is negative"),
        ("3.5", "'3.5' is not a whole number"),
        (3.5, "3.5 is not a whole number"),
        ("1,20", "'1,20' is not a whole number"),
        ("1e3", "'1e3' is not a whole number"),
        (float("nan"), "nan is not a whole number"),
        ("9" * 5000, "too long"),
    ],
)
def test_parse_count_rejects_what_is_not_a_count(value: str | float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_count(value)


# --- robustness ---------------------------------------------------------------------------


def test_a_megabyte_message_is_capped() -> None:
    huge = "Please send pricing. " * 50_000 + "I need a refill of my medication."
    start = time.perf_counter()
    assert not detect_patient_inquiry(huge).is_patient
    assert not detect_spam(huge, "Acme", "Bob").is_spam
    assert find_phrases(huge, ["refill"]) == ()
    assert time.perf_counter() - start < 0.5


optional_text = st.none() | st.text()


@given(optional_text, optional_text, optional_text)
def test_detect_patient_inquiry_never_raises_and_is_deterministic(
    message: str | None, organization: str | None, org_type: str | None
) -> None:
    signal = detect_patient_inquiry(message, organization, org_type)
    assert set(signal.cues) <= set(PATIENT_CUES)
    assert detect_patient_inquiry(message, organization, org_type) == signal


@given(optional_text, optional_text, optional_text, st.lists(st.text(), max_size=3))
def test_detect_spam_never_raises_and_is_deterministic(
    message: str | None, organization: str | None, contact: str | None, extra: list[str]
) -> None:
    signal = detect_spam(message, organization, contact, extra)
    assert signal.is_spam or all(cue == "phrase:cheap" for cue in signal.cues)
    assert detect_spam(message, organization, contact, extra) == signal


@given(optional_text, st.lists(st.text(), max_size=5))
def test_find_phrases_never_raises_and_returns_given_phrases(
    text: str | None, phrases: list[str]
) -> None:
    found = find_phrases(text, phrases)
    assert set(found) <= set(phrases)
    assert len(found) == len(set(found))
    assert find_phrases(text, phrases) == found


@given(st.none() | st.booleans() | st.integers() | st.text())
def test_parse_bool_never_raises_and_is_deterministic(value: str | bool | int | None) -> None:
    assert parse_bool(value) is parse_bool(value)


@given(st.none() | st.integers() | st.floats() | st.text())
def test_parse_count_returns_a_count_or_raises_value_error(
    value: str | int | float | None,
) -> None:
    try:
        count = parse_count(value)
    except ValueError as exc:
        assert str(exc)
    else:
        assert count is None or count >= 0
        assert parse_count(value) == count


@given(st.integers(min_value=0, max_value=10**12))
def test_parse_count_round_trips_formatted_numbers(n: int) -> None:
    assert parse_count(str(n)) == n
    assert parse_count(f"{n:,}") == n
    assert parse_count(f" {n}.00 ") == n
