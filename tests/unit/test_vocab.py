"""Specialty, organization-type and role vocabularies: tables, traps, extras, robustness."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qualification.vocab import (
    DEFAULT_VOCABULARY,
    ORG_TYPES,
    ROLES,
    SPECIALTIES,
    SPECIALTY_LABELS,
    RoleMatch,
    Vocabulary,
    is_org_type,
    is_role,
    is_specialty,
)

V = DEFAULT_VOCABULARY


def test_canonical_specialty_keys_are_exactly_the_product_list() -> None:
    assert SPECIALTIES == (
        "cardiology",
        "dermatology",
        "orthopedics",
        "sports_medicine",
        "podiatry",
        "rheumatology",
        "gastroenterology",
        "neurology",
        "oncology",
        "ophthalmology",
        "optometry",
        "otolaryngology",
        "pediatrics",
        "primary_care",
        "internal_medicine",
        "obstetrics_gynecology",
        "urology",
        "pulmonology",
        "endocrinology",
        "nephrology",
        "psychiatry",
        "behavioral_health",
        "physical_therapy",
        "chiropractic",
        "pain_management",
        "radiology",
        "general_surgery",
        "plastic_surgery",
        "allergy_immunology",
        "dentistry",
        "urgent_care",
        "sleep_medicine",
        "vascular_surgery",
        "infectious_disease",
        "hematology",
        "geriatrics",
        "physical_medicine_rehabilitation",
        "anesthesiology",
        "emergency_medicine",
        "multispecialty",
    )


def test_every_specialty_has_a_label() -> None:
    assert set(SPECIALTY_LABELS) == set(SPECIALTIES)
    assert SPECIALTY_LABELS["cardiology"] == "Cardiology"
    assert SPECIALTY_LABELS["orthopedics"] == "Orthopedics"
    assert SPECIALTY_LABELS["physical_medicine_rehabilitation"] == (
        "Physical medicine & rehabilitation"
    )


def test_org_type_and_role_keys() -> None:
    assert ORG_TYPES[:4] == ("practice", "group_practice", "hospital_department", "hospital")
    assert ORG_TYPES[-2:] == ("individual", "other")
    assert len(ORG_TYPES) == 21
    assert ROLES == (
        "owner_physician",
        "executive",
        "practice_administrator",
        "operations_leader",
        "clinical_director",
        "procurement",
        "it_leadership",
        "physician",
        "clinical_staff",
        "front_office",
        "student",
        "other",
    )


@pytest.mark.parametrize("key", SPECIALTIES)
def test_a_specialty_key_label_and_spaced_form_map_to_themselves(key: str) -> None:
    assert V.specialty(key) == key
    assert V.specialty(key.replace("_", " ").upper()) == key
    assert V.specialty(SPECIALTY_LABELS[key]) == key


@pytest.mark.parametrize("key", ORG_TYPES)
def test_an_org_type_key_maps_to_itself(key: str) -> None:
    assert V.org_type(key) == key
    assert V.org_type(key.replace("_", " ").title()) == key


@pytest.mark.parametrize("key", ROLES)
def test_a_role_key_maps_to_itself(key: str) -> None:
    assert V.role(key).role == key


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("cardiology", "cardiology"),
        ("Cardiologist", "cardiology"),
        ("Interventional Cardiology", "cardiology"),
        ("Heart & Vascular Institute", "cardiology"),
        ("Heart and Vascular Center of Ohio", "cardiology"),
        ("CARDIAC ELECTROPHYSIOLOGY", "cardiology"),
        ("heart", None),
        ("Heart Health", None),
        ("Dermatology", "dermatology"),
        ("derm", "dermatology"),
        ("Mohs surgery", "dermatology"),
        ("Skin Care Center of Austin", "dermatology"),
        ("hyperdermic needles", None),
        ("dermal filler training", None),
        ("Orthopaedic Surgery", "orthopedics"),
        ("ortho", "orthopedics"),
        ("Bone and Joint Clinic", "orthopedics"),
        ("Orthodontics", "dentistry"),
        ("orthodontist", "dentistry"),
        ("Orthopedics & Sports Medicine", "orthopedics"),
        ("Sports Medicine", "sports_medicine"),
        ("Podiatry", "podiatry"),
        ("Foot and Ankle Specialists", "podiatry"),
        ("Rheumatology", "rheumatology"),
        ("GI", "gastroenterology"),
        ("Digestive Health Associates", "gastroenterology"),
        ("Neurosurgery", "neurology"),
        ("HEMATOLOGY/ONCOLOGY", "oncology"),
        ("Radiation Oncology", "oncology"),
        ("HEMATOLOGY", "hematology"),
        ("Retina specialists", "ophthalmology"),
        ("Springfield Eye Center", "ophthalmology"),
        ("OPTOMETRY", "optometry"),
        ("ENT", "otolaryngology"),
        ("ent", "otolaryngology"),
        ("Ear, Nose & Throat", "otolaryngology"),
        ("entrance", None),
        ("Pediatrics", "pediatrics"),
        ("Pediatric Dentistry", "dentistry"),
        ("FAMILY PRACTICE", "primary_care"),
        ("GENERAL PRACTICE", "primary_care"),
        ("family medicine", "primary_care"),
        ("INTERNAL MEDICINE", "internal_medicine"),
        ("HOSPITALIST", "internal_medicine"),
        ("OBSTETRICS/GYNECOLOGY", "obstetrics_gynecology"),
        ("OB/GYN", "obstetrics_gynecology"),
        ("ob-gyn", "obstetrics_gynecology"),
        ("Women's Health", "obstetrics_gynecology"),
        ("Urology", "urology"),
        ("PULMONARY DISEASE", "pulmonology"),
        ("CRITICAL CARE (INTENSIVISTS)", "pulmonology"),
        ("ENDOCRINOLOGY", "endocrinology"),
        ("NEPHROLOGY", "nephrology"),
        ("PSYCHIATRY", "psychiatry"),
        ("CLINICAL PSYCHOLOGIST", "behavioral_health"),
        ("CLINICAL SOCIAL WORKER", "behavioral_health"),
        ("LICENSED CLINICAL SOCIAL WORKER", "behavioral_health"),
        ("mental health", "behavioral_health"),
        ("PHYSICAL THERAPIST IN PRIVATE PRACTICE", "physical_therapy"),
        ("OCCUPATIONAL THERAPIST IN PRIVATE PRACTICE", "physical_therapy"),
        ("CHIROPRACTIC", "chiropractic"),
        ("INTERVENTIONAL PAIN MANAGEMENT", "pain_management"),
        ("DIAGNOSTIC RADIOLOGY", "radiology"),
        ("GENERAL SURGERY", "general_surgery"),
        ("PLASTIC AND RECONSTRUCTIVE SURGERY", "plastic_surgery"),
        ("med spa", "plastic_surgery"),
        ("ALLERGY/IMMUNOLOGY", "allergy_immunology"),
        ("oral surgery", "dentistry"),
        ("Urgent Care", "urgent_care"),
        ("SLEEP MEDICINE", "sleep_medicine"),
        ("VASCULAR SURGERY", "vascular_surgery"),
        ("Infectious Disease", "infectious_disease"),
        ("GERIATRIC MEDICINE", "geriatrics"),
        ("PHYSICAL MEDICINE AND REHABILITATION", "physical_medicine_rehabilitation"),
        ("PM&R", "physical_medicine_rehabilitation"),
        ("ANESTHESIOLOGY", "anesthesiology"),
        ("CERTIFIED REGISTERED NURSE ANESTHETIST", "anesthesiology"),
        ("EMERGENCY MEDICINE", "emergency_medicine"),
        ("ER", "emergency_medicine"),
        ("The er visit", None),
        ("multi-specialty", "multispecialty"),
        ("MULTISPECIALTY CLINIC OR GROUP PRACTICE", "multispecialty"),
        ("NURSE PRACTITIONER", None),
        ("PHYSICIAN ASSISTANT", None),
        ("", None),
        ("   ", None),
        ("n/a", None),
        (None, None),
    ],
)
def test_specialty_table(text: str | None, expected: str | None) -> None:
    assert V.specialty(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # The earliest specialty in the text wins.
        ("Webinar: cutting no-shows in dermatology and plastic surgery", "dermatology"),
        ("Plastic surgery meets dermatology", "plastic_surgery"),
        # At the same position the longest synonym wins.
        ("Interventional pain management for the spine", "pain_management"),
        ("Surgical Oncology Associates", "oncology"),
        ("Cosmetic Dermatology of Miami", "dermatology"),
    ],
)
def test_specialty_earliest_match_then_longest(text: str, expected: str) -> None:
    assert V.specialty(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("group_practice", "group_practice"),
        ("Group Practice", "group_practice"),
        ("Private practice", "practice"),
        ("Solo practice", "practice"),
        ("Clinic", "practice"),
        ("Springfield Dermatology Associates", "practice"),
        ("Physician practice", "practice"),
        ("Lakeside Medical Group", "group_practice"),
        ("Multispecialty group", "group_practice"),
        ("Hospital department", "hospital_department"),
        ("Department of Cardiology", "hospital_department"),
        ("Mercy Hospital - Department of Radiology", "hospital_department"),
        ("Cardiology service line", "hospital_department"),
        ("Hospital", "hospital"),
        ("St. Mary's Medical Center", "hospital"),
        ("Acute Care Hospitals", "hospital"),
        ("Critical Access Hospitals", "hospital"),
        ("Childrens", "hospital"),
        ("Acute Care - Department of Defense", "hospital"),
        ("Acute Care - Veterans Administration", "hospital"),
        ("Psychiatric", "behavioral_health_facility"),
        ("Psychiatric hospital", "behavioral_health_facility"),
        ("Health system", "health_system"),
        ("Mayo Clinic Health System", "health_system"),
        ("IDN", "health_system"),
        ("Academic medical center", "academic_medical_center"),
        ("University Hospital", "academic_medical_center"),
        ("ASC", "ambulatory_surgery_center"),
        ("Northside Surgery Center", "ambulatory_surgery_center"),
        ("Patient First Urgent Care", "urgent_care_center"),
        ("FQHC", "community_health_center"),
        ("Eastside Community Health Center", "community_health_center"),
        ("Home health", "home_health"),
        ("Sunrise Home Health Agency", "home_health"),
        ("Hospice", "home_health"),
        ("SNF", "skilled_nursing"),
        ("Nursing home", "skilled_nursing"),
        ("Quest reference laboratory", "laboratory"),
        ("Imaging center", "imaging_center"),
        ("Pharmacy", "pharmacy"),
        ("Insurance", "payer"),
        ("Health plan", "payer"),
        ("Payor", "payer"),
        ("Vendor", "vendor"),
        ("Consultancy", "vendor"),
        ("Smith Consulting Group", "vendor"),
        ("Digital marketing agency", "vendor"),
        ("Software company", "vendor"),
        ("State Department of Health", "government_agency"),
        ("VA", "government_agency"),
        ("University", "education"),
        ("Nursing school", "education"),
        ("Patient", "individual"),
        ("individual", "individual"),
        ("Self", "individual"),
        ("Patient or caregiver", "individual"),
        ("Other", "other"),
        ("Orange County Dermatology", None),
        ("", None),
        ("N/A", None),
        (None, None),
    ],
)
def test_org_type_table(text: str | None, expected: str | None) -> None:
    assert V.org_type(text) == expected


@pytest.mark.parametrize(
    ("text", "role", "influence"),
    [
        ("Physician owner", "owner_physician", "decider"),
        ("Managing Partner", "owner_physician", "decider"),
        ("Founder", "owner_physician", "decider"),
        ("OWNER", "owner_physician", "decider"),
        ("MANAGING MEMBER", "owner_physician", "decider"),
        ("Cardiologist and Owner", "owner_physician", "decider"),
        ("Medical Director and Owner", "owner_physician", "decider"),
        ("CEO", "executive", "decider"),
        ("Chief Operating Officer", "executive", "decider"),
        ("PRESIDENT", "executive", "decider"),
        ("Executive Director", "executive", "decider"),
        ("VP of Sales", "executive", "decider"),
        ("ASSISTANT SECRETARY OF ENROLLMENT", "executive", "influencer"),
        ("Practice Administrator", "practice_administrator", "decider"),
        ("Office Manager", "practice_administrator", "decider"),
        ("ADMINISTRATOR", "practice_administrator", "decider"),
        ("RN, Practice Manager", "practice_administrator", "decider"),
        ("Assistant practice manager", "practice_administrator", "influencer"),
        ("Asst. Administrator", "practice_administrator", "influencer"),
        ("Director of Operations", "operations_leader", "decider"),
        ("VP, Operations", "operations_leader", "decider"),
        ("Revenue Cycle Director", "operations_leader", "decider"),
        ("DIRECTOR", "operations_leader", "decider"),
        ("Director of Patient Access", "operations_leader", "decider"),
        ("Associate Director of Operations", "operations_leader", "influencer"),
        ("Deputy CEO", "executive", "influencer"),
        ("Medical Director", "clinical_director", "influencer"),
        ("Chief Medical Officer", "clinical_director", "influencer"),
        ("CMO", "clinical_director", "influencer"),
        ("Director of Nursing", "clinical_director", "influencer"),
        ("Chief of Cardiology", "clinical_director", "influencer"),
        ("Director of Cardiology", "clinical_director", "influencer"),
        ("Head of Nursing", "clinical_director", "influencer"),
        ("Department Chair, Orthopedics", "clinical_director", "influencer"),
        ("Procurement Manager", "procurement", "influencer"),
        ("Director, Supply Chain", "procurement", "influencer"),
        ("Buyer", "procurement", "influencer"),
        ("CIO", "it_leadership", "influencer"),
        ("IT Director", "it_leadership", "influencer"),
        ("Director of Information Systems", "it_leadership", "influencer"),
        ("CMIO", "it_leadership", "influencer"),
        ("IT", "it_leadership", "influencer"),
        ("Physician", "physician", "influencer"),
        ("Jane Doe, MD", "physician", "influencer"),
        ("DO", "physician", "influencer"),
        ("Orthopedic Surgeon", "physician", "influencer"),
        ("Cardiologist", "physician", "influencer"),
        ("Registered Nurse", "clinical_staff", "user"),
        ("RN", "clinical_staff", "user"),
        ("LPN", "clinical_staff", "user"),
        ("Medical Assistant", "clinical_staff", "user"),
        ("MA", "clinical_staff", "user"),
        ("Nurse Practitioner", "clinical_staff", "user"),
        ("Physician Assistant", "clinical_staff", "user"),
        ("PA-C", "clinical_staff", "user"),
        ("Physical Therapist", "clinical_staff", "user"),
        ("Front Desk", "front_office", "user"),
        ("Receptionist", "front_office", "user"),
        ("Scheduler", "front_office", "user"),
        ("Billing Specialist", "front_office", "user"),
        ("Referral Coordinator", "front_office", "user"),
        ("Executive Assistant to the CEO", "front_office", "user"),
        ("Medical Student", "student", "user"),
        ("Resident Physician", "student", "user"),
        ("Fellow", "student", "user"),
        ("Intern", "student", "user"),
        ("PHARMACIST-IN-CHARGE", "clinical_director", "influencer"),
        ("PROSTHETIST/ORTHOTIST", "clinical_staff", "user"),
        ("Marketing", "other", "unknown"),
        ("Product Owner", "other", "unknown"),
        ("Astronaut", "other", "unknown"),
        ("", None, "unknown"),
        ("n/a", None, "unknown"),
        (None, None, "unknown"),
    ],
)
def test_role_table(text: str | None, role: str | None, influence: str) -> None:
    assert V.role(text) == RoleMatch(role, influence)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # A generic word ("foundation", "university", "association") yields to a specific one.
        ("Kaiser Foundation Hospital - Oakland", "hospital"),
        ("University of Alabama Hospital", "hospital"),
        ("Lindsborg Community Hospital Association", "hospital"),
        ("Indiana University Health", "academic_medical_center"),
        ("Metro Health Foundation", "other"),
        # A longer synonym beats a shorter one of the same strength.
        ("Binson's Hospital Supplies, Inc.", "vendor"),
        ("DeWitt Hospital & Nursing Home", "skilled_nursing"),
        # Professional-entity suffixes mark a practice when nothing else does.
        ("Daniel Pistone, MD PA", "practice"),
        ("Westheimer Vision Associates, PC", "practice"),
        ("James C Lyles, DDS, Inc.", "practice"),
        ("Pekin MRI, LLC", "imaging_center"),
        ("Town of Billings", "government_agency"),
    ],
)
def test_org_type_prefers_the_most_specific_synonym(text: str, expected: str) -> None:
    assert V.org_type(text) == expected


def test_internal_medicine_is_not_an_intern() -> None:
    assert V.role("Internal Medicine Physician") == RoleMatch("physician", "influencer")


def test_sheet_synonyms_extend_every_vocabulary() -> None:
    vocab = Vocabulary(
        specialty_synonyms={"Heart health program": "cardiology"},
        org_type_synonyms={"wellness collective": "group_practice"},
        role_synonyms={"Practice Lead RN": "practice_administrator"},
        role_influence={"clinical_director": "decider"},
    )
    assert vocab.specialty("Our heart health program") == "cardiology"
    assert vocab.org_type("Northside Wellness Collective") == "group_practice"
    assert vocab.role("Practice lead RN") == RoleMatch("practice_administrator", "decider")
    assert vocab.role("Medical Director") == RoleMatch("clinical_director", "decider")
    # The default vocabulary is untouched.
    assert V.specialty("Heart health program") is None
    assert V.role("Medical Director").influence == "influencer"


def test_sheet_role_synonyms_outrank_built_in_titles() -> None:
    vocab = Vocabulary(role_synonyms={"care navigator": "front_office"})
    assert V.role("Director, Care Navigator").role == "operations_leader"
    assert vocab.role("Director, Care Navigator").role == "front_office"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"specialty_synonyms": {"ticker clinic": "cardio"}}, "'ticker clinic'.*'cardio'"),
        ({"org_type_synonyms": {"big box": "store"}}, "'big box'.*'store'"),
        ({"role_synonyms": {"boss": "boss_role"}}, "'boss'.*'boss_role'"),
        ({"role_influence": {"chief": "decider"}}, "'chief'"),
        ({"role_influence": {"physician": "maybe"}}, "'maybe'"),
        ({"specialty_synonyms": {"--": "cardiology"}}, "'--'"),
    ],
)
def test_bad_extras_raise_value_error_naming_the_culprit(
    kwargs: dict[str, dict[str, str]], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Vocabulary(**kwargs)  # type: ignore[arg-type]


def test_is_helpers() -> None:
    assert is_specialty("cardiology") and not is_specialty("Cardiology")
    assert is_org_type("group_practice") and not is_org_type("group practice")
    assert is_role("owner_physician") and not is_role("owner")


def test_a_huge_field_is_capped_not_scanned_whole() -> None:
    text = "lorem ipsum " * 100_000 + "cardiology"
    start = time.perf_counter()
    assert V.specialty(text) is None
    assert V.org_type(text) is None
    assert V.role(text) == RoleMatch("other", "unknown")
    assert time.perf_counter() - start < 0.5


def test_repeated_lookups_are_cached() -> None:
    vocab = Vocabulary()
    first = vocab.role("Practice Manager")
    assert vocab.role("Practice Manager") is first


@given(st.text())
def test_lookups_never_raise_and_are_deterministic(text: str) -> None:
    fresh = Vocabulary()
    specialty = V.specialty(text)
    assert specialty is None or is_specialty(specialty)
    assert fresh.specialty(text) == specialty
    org_type = V.org_type(text)
    assert org_type is None or is_org_type(org_type)
    assert fresh.org_type(text) == org_type
    role = V.role(text)
    assert role.role is None or is_role(role.role)
    assert role.influence in ("decider", "influencer", "user", "unknown")
    assert fresh.role(text) == role


@given(st.lists(st.sampled_from(["cardiology", "Practice Manager", "clinic", "ENT", "DO", "&"])))
def test_joined_vocabulary_words_never_raise(words: list[str]) -> None:
    text = " ".join(words)
    V.specialty(text)
    V.org_type(text)
    V.role(text)
