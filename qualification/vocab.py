"""Vocabularies of specialties, org types and buyer roles, matched by precompiled trie regexes."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

from .closed_sets import Influence
from .text import MAX_SCAN_CHARS, PLACEHOLDERS, words

INFLUENCES: tuple[Influence, ...] = tuple(Influence)

_CACHE_SIZE = 16384


SPECIALTIES: tuple[str, ...] = (
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

SPECIALTY_LABELS: dict[str, str] = {
    "cardiology": "Cardiology",
    "dermatology": "Dermatology",
    "orthopedics": "Orthopedics",
    "sports_medicine": "Sports medicine",
    "podiatry": "Podiatry",
    "rheumatology": "Rheumatology",
    "gastroenterology": "Gastroenterology",
    "neurology": "Neurology",
    "oncology": "Oncology",
    "ophthalmology": "Ophthalmology",
    "optometry": "Optometry",
    "otolaryngology": "Otolaryngology (ENT)",
    "pediatrics": "Pediatrics",
    "primary_care": "Primary care",
    "internal_medicine": "Internal medicine",
    "obstetrics_gynecology": "Obstetrics & gynecology",
    "urology": "Urology",
    "pulmonology": "Pulmonology",
    "endocrinology": "Endocrinology",
    "nephrology": "Nephrology",
    "psychiatry": "Psychiatry",
    "behavioral_health": "Behavioral health",
    "physical_therapy": "Physical therapy",
    "chiropractic": "Chiropractic",
    "pain_management": "Pain management",
    "radiology": "Radiology",
    "general_surgery": "General surgery",
    "plastic_surgery": "Plastic surgery",
    "allergy_immunology": "Allergy & immunology",
    "dentistry": "Dentistry",
    "urgent_care": "Urgent care",
    "sleep_medicine": "Sleep medicine",
    "vascular_surgery": "Vascular surgery",
    "infectious_disease": "Infectious disease",
    "hematology": "Hematology",
    "geriatrics": "Geriatrics",
    "physical_medicine_rehabilitation": "Physical medicine & rehabilitation",
    "anesthesiology": "Anesthesiology",
    "emergency_medicine": "Emergency medicine",
    "multispecialty": "Multispecialty",
}

_SPECIALTY_SYNONYMS: dict[str, str] = {
    "cardiology": (
        "cardiology, cardiologist, cardiologists, cardiac, cardio, cardiovascular, "
        "cardiovascular disease, heart center, heart centre, heart and vascular, "
        "heart and vascular center, heart institute, heart clinic, heart specialists, heart care, "
        "heart failure, heart rhythm, electrophysiology, cardiac electrophysiology, "
        "clinical cardiac electrophysiology, interventional cardiology, cardiothoracic, "
        "cardiothoracic surgery, echocardiography"
    ),
    "dermatology": (
        "dermatology, derm, dermatologist, dermatologists, dermatologic, dermatological, "
        "dermatopathology, skin clinic, skin care center, skin center, skin cancer center, "
        "skin institute, skin specialists, mohs, mohs surgery, cosmetic dermatology"
    ),
    "orthopedics": (
        "orthopedics, orthopaedics, orthopedic, orthopaedic, ortho, orthopedist, orthopaedist, "
        "orthopedic surgery, orthopaedic surgery, orthopedic surgeon, orthopaedic surgeon, "
        "joint replacement, spine center, spine institute, spine surgery, bone and joint, "
        "hand surgery, hand and upper extremity"
    ),
    "sports_medicine": (
        "sports medicine, sports med, sports injury, sports injuries, sports medicine physician"
    ),
    "podiatry": (
        "podiatry, podiatrist, podiatrists, podiatric, podiatric medicine, foot and ankle, "
        "foot care, foot clinic, foot specialists, foot surgery"
    ),
    "rheumatology": (
        "rheumatology, rheumatologist, rheumatologic, arthritis center, arthritis clinic, "
        "lupus clinic"
    ),
    "gastroenterology": (
        "gastroenterology, gastroenterologist, gastroenterologists, gastro, gastrointestinal, "
        "digestive health, digestive disease, digestive diseases, endoscopy, endoscopy center, "
        "colonoscopy, hepatology, hepatologist, liver clinic, liver center"
    ),
    "neurology": (
        "neurology, neurologist, neurologists, neurological, neurologic, neuro, neuroscience, "
        "neurosciences, neurosurgery, neurosurgeon, neurological surgery, brain and spine, "
        "epilepsy, stroke center, headache center, headache clinic, movement disorders, "
        "neurophysiology, neuromuscular"
    ),
    "oncology": (
        "oncology, oncologist, oncologists, medical oncology, radiation oncology, "
        "surgical oncology, gynecologic oncology, gynecological oncology, hematology oncology, "
        "hematology and oncology, hem onc, cancer center, cancer centre, cancer institute, "
        "cancer care, cancer treatment, chemotherapy"
    ),
    "ophthalmology": (
        "ophthalmology, ophthalmologist, ophthalmologists, ophthalmic, eye center, eye institute, "
        "eye clinic, eye surgery, eye surgeons, eye physicians, retina, retinal, "
        "retina specialists, cataract, glaucoma, lasik, cornea"
    ),
    "optometry": (
        "optometry, optometrist, optometrists, optometric, eye care, eyecare, vision center, "
        "vision care, eyewear, optical, optician"
    ),
    "otolaryngology": (
        "otolaryngology, otolaryngologist, otorhinolaryngology, ear nose and throat, "
        "ear nose throat, head and neck surgery, audiology, audiologist, hearing center, "
        "hearing clinic, sinus center, sinus clinic"
    ),
    "pediatrics": (
        "pediatrics, paediatrics, pediatric, paediatric, pediatrician, pediatricians, "
        "pediatric medicine, childrens, childrens health, kids clinic, neonatology, neonatal, "
        "nicu, adolescent medicine"
    ),
    "primary_care": (
        "primary care, primary care physician, pcp, family practice, family medicine, "
        "family physician, family doctor, general practice, general practitioner, family health, "
        "general medicine, preventive medicine, concierge medicine, direct primary care"
    ),
    "internal_medicine": (
        "internal medicine, internist, internists, internal med, adult medicine, hospitalist, "
        "hospitalists, hospital medicine"
    ),
    "obstetrics_gynecology": (
        "obstetrics gynecology, obstetrics and gynecology, obstetrics and gynaecology, obstetrics, "
        "gynecology, gynaecology, obstetrician, gynecologist, ob gyn, obgyn, ob and gyn, ob, "
        "womens health, womens care, womens center, midwifery, midwife, nurse midwife, "
        "maternal fetal medicine, mfm, reproductive endocrinology, fertility, fertility center, "
        "ivf, urogynecology"
    ),
    "urology": (
        "urology, urologist, urologists, urologic, urological, mens health, kidney stone, "
        "kidney stones, prostate"
    ),
    "pulmonology": (
        "pulmonology, pulmonologist, pulmonologists, pulmonary, pulmonary disease, "
        "pulmonary medicine, lung center, lung clinic, respiratory, critical care, "
        "critical care medicine, intensivist, intensivists"
    ),
    "endocrinology": (
        "endocrinology, endocrinologist, endocrinologists, endocrine, diabetes, diabetes center, "
        "diabetes care, thyroid, metabolism, obesity medicine, medical weight loss"
    ),
    "nephrology": (
        "nephrology, nephrologist, nephrologists, kidney, kidney care, kidney center, renal, "
        "dialysis, dialysis center"
    ),
    "psychiatry": (
        "psychiatry, psychiatrist, psychiatrists, psychiatric, psychopharmacology, "
        "neuropsychiatry, child and adolescent psychiatry, addiction psychiatry, "
        "geriatric psychiatry"
    ),
    "behavioral_health": (
        "behavioral health, behavioural health, mental health, clinical psychologist, "
        "psychologist, psychologists, psychology, clinical social worker, "
        "licensed clinical social worker, lcsw, social worker, counseling, counselling, counselor, "
        "counsellor, licensed professional counselor, lpc, psychotherapy, psychotherapist, "
        "marriage and family therapist, marriage and family therapy, lmft, addiction medicine, "
        "addiction treatment, substance abuse, substance use, drug rehab, eating disorders, "
        "applied behavior analysis, aba"
    ),
    "physical_therapy": (
        "physical therapy, physical therapist, physical therapists, "
        "physical therapist in private practice, physiotherapy, physiotherapist, "
        "occupational therapy, occupational therapist, occupational therapist in private practice, "
        "speech therapy, speech therapist, speech language pathology, speech language pathologist, "
        "hand therapy, dpt"
    ),
    "chiropractic": ("chiropractic, chiropractor, chiropractors, chiro, chiropractic medicine"),
    "pain_management": (
        "pain management, pain medicine, pain clinic, pain center, pain institute, "
        "pain specialists, interventional pain, interventional pain management"
    ),
    "radiology": (
        "radiology, radiologist, radiologists, diagnostic radiology, interventional radiology, "
        "vascular and interventional radiology, neuroradiology, teleradiology, imaging, "
        "medical imaging, diagnostic imaging, imaging center, mri, ct scan, x ray, ultrasound, "
        "sonography, mammography, nuclear medicine"
    ),
    "general_surgery": (
        "general surgery, general surgeon, general surgeons, surgery, surgeon, surgeons, surgical, "
        "surgical associates, bariatric surgery, colorectal surgery, colon and rectal surgery, "
        "trauma surgery, breast surgery, thoracic surgery"
    ),
    "plastic_surgery": (
        "plastic surgery, plastic surgeon, plastic surgeons, plastic and reconstructive, "
        "plastic and reconstructive surgery, reconstructive surgery, cosmetic surgery, "
        "facial plastic surgery, aesthetic surgery, aesthetic medicine, aesthetics, med spa, "
        "medspa, medical spa, cosmetic"
    ),
    "allergy_immunology": (
        "allergy, allergies, allergist, allergists, allergy and immunology, allergy and asthma, "
        "asthma and allergy, asthma, immunology, immunologist, clinical immunology"
    ),
    "dentistry": (
        "dentistry, dentist, dentists, dental, dds, dmd, orthodontics, orthodontist, "
        "orthodontists, orthodontic, endodontics, endodontist, periodontics, periodontist, "
        "prosthodontics, oral surgery, oral surgeon, oral and maxillofacial surgery, "
        "maxillofacial surgery, pediatric dentistry, pediatric dentist, family dentistry, "
        "cosmetic dentistry, dental implants"
    ),
    "urgent_care": (
        "urgent care, urgent care center, walk in clinic, immediate care, express care, "
        "convenient care, retail clinic"
    ),
    "sleep_medicine": (
        "sleep medicine, sleep center, sleep clinic, sleep lab, sleep disorders, "
        "sleep disorder center, sleep apnea, sleep specialist"
    ),
    "vascular_surgery": (
        "vascular surgery, vascular surgeon, vascular surgeons, vascular, vascular institute, "
        "endovascular, vein center, vein clinic, vein institute, vein care, vein specialists"
    ),
    "infectious_disease": (
        "infectious disease, infectious diseases, infectious disease specialist, travel medicine, "
        "hiv, hiv clinic, hiv care"
    ),
    "hematology": (
        "hematology, haematology, hematologist, blood disorders, hemophilia, thrombosis, "
        "coagulation, anticoagulation clinic"
    ),
    "geriatrics": (
        "geriatrics, geriatric, geriatric medicine, geriatrician, gerontology, senior care, "
        "senior health, elder care, eldercare"
    ),
    "physical_medicine_rehabilitation": (
        "physical medicine, physical medicine and rehabilitation, pm and r, pmr, physiatry, "
        "physiatrist, rehabilitation medicine, rehabilitation, rehab, inpatient rehabilitation"
    ),
    "anesthesiology": (
        "anesthesiology, anaesthesiology, anesthesia, anaesthesia, anesthesiologist, "
        "anesthesiologists, anesthetist, nurse anesthetist, "
        "certified registered nurse anesthetist, crna"
    ),
    "emergency_medicine": (
        "emergency medicine, emergency department, emergency room, emergency physician, "
        "emergency physicians, emergency care, trauma center, freestanding emergency"
    ),
    "multispecialty": (
        "multispecialty, multi specialty, multispecialty group, multi specialty group, "
        "multispecialty clinic, multiple specialties"
    ),
}

# Short forms that are ordinary English words in lower case; matched in capitals only
# (the whole field in any case still maps through the exact lookup).
_SPECIALTY_ACRONYMS: dict[str, str] = {
    "ENT": "otolaryngology",
    "Ent": "otolaryngology",
    "GI": "gastroenterology",
    "ER": "emergency_medicine",
    "PT": "physical_therapy",
    "OT": "physical_therapy",
    "GP": "primary_care",
}

ORG_TYPES: tuple[str, ...] = (
    "practice",
    "group_practice",
    "hospital_department",
    "hospital",
    "health_system",
    "academic_medical_center",
    "ambulatory_surgery_center",
    "urgent_care_center",
    "community_health_center",
    "home_health",
    "skilled_nursing",
    "behavioral_health_facility",
    "laboratory",
    "imaging_center",
    "pharmacy",
    "payer",
    "vendor",
    "government_agency",
    "education",
    "individual",
    "other",
)

_ORG_TYPE_SYNONYMS: dict[str, str] = {
    "practice": (
        "practice, private practice, solo practice, independent practice, physician practice, "
        "medical practice, specialty practice, dental practice, dental office, clinic, clinics, "
        "medical clinic, specialty clinic, medical office, physicians office, doctors office, "
        "office, associates, pllc, dds, dmd"
    ),
    "group_practice": (
        "group practice, medical group, physician group, physicians group, multispecialty group, "
        "multi specialty group, specialty group, single specialty group, provider group, "
        "medical associates, group, independent physician association, ipa"
    ),
    "hospital_department": (
        "hospital department, department, department of, dept of, division of, "
        "hospital based clinic, hospital based practice, hospital outpatient department, "
        "outpatient department, hopd, service line, inpatient unit"
    ),
    "hospital": (
        "hospital, hospitals, medical center, medical centre, acute care hospital, "
        "acute care hospitals, critical access hospital, critical access hospitals, "
        "acute care department of defense, acute care veterans administration, childrens, "
        "childrens hospital, childrens hospitals, community hospital, general hospital, long term, "
        "long term acute care, rural emergency hospital, infirmary, foundation hospital, "
        "medical centers"
    ),
    "health_system": (
        "health system, health systems, healthcare system, health care system, hospital system, "
        "health network, healthcare network, idn, integrated delivery network, "
        "integrated delivery system, healthsystem"
    ),
    "academic_medical_center": (
        "academic medical center, academic medical centre, academic health center, "
        "academic health system, university hospital, university medical center, "
        "teaching hospital, university health, university health system, university hospitals"
    ),
    "ambulatory_surgery_center": (
        "ambulatory surgery center, ambulatory surgical center, ambulatory surgery centers, "
        "surgery center, surgery centre, surgical center, surgicenter, asc, "
        "outpatient surgery center, day surgery, endoscopy center"
    ),
    "urgent_care_center": (
        "urgent care, urgent care center, walk in clinic, immediate care, retail clinic, "
        "convenient care, express care"
    ),
    "community_health_center": (
        "community health center, community health centre, community health, fqhc, "
        "federally qualified health center, fqhc look alike, rural health clinic, rhc, "
        "free clinic, community clinic"
    ),
    "home_health": (
        "home health, home health agency, home healthcare, home health care, home care, hospice, "
        "palliative care, home infusion, visiting nurse, visiting nurse association, vna, "
        "private duty nursing, nursing services, visiting nurse service"
    ),
    "skilled_nursing": (
        "skilled nursing, skilled nursing facility, snf, nursing home, nursing facility, "
        "long term care, ltc, assisted living, senior living, memory care, post acute, "
        "post acute care, continuing care retirement community, convalescent, "
        "long term health care"
    ),
    "behavioral_health_facility": (
        "behavioral health, behavioral health facility, behavioral health center, "
        "behavioural health, mental health center, community mental health center, cmhc, "
        "psychiatric, psychiatric hospital, psychiatric hospitals, psychiatric facility, "
        "addiction treatment center, substance abuse treatment, residential treatment center, "
        "treatment center, recovery center, detox, mental health, psychiatry center, "
        "psychiatric center, psychiatric institute, behavioral center, counseling center, "
        "counseling services"
    ),
    "laboratory": (
        "laboratory, laboratories, lab, labs, clinical laboratory, reference laboratory, "
        "diagnostic laboratory, pathology lab, clia lab"
    ),
    "imaging_center": (
        "imaging center, imaging centre, imaging, diagnostic imaging, radiology center, "
        "mri center, independent diagnostic testing facility, idtf, mri, open mri"
    ),
    "pharmacy": (
        "pharmacy, pharmacies, drugstore, drug store, specialty pharmacy, compounding pharmacy, "
        "apothecary"
    ),
    "payer": (
        "payer, payers, payor, payors, insurance, insurer, insurance company, insurance agency, "
        "health plan, health insurance, managed care, managed care organization, mco, "
        "medicare advantage, hmo, ppo, tpa, third party administrator, blue cross, blue shield, "
        "bcbs, pharmacy benefit manager, pbm"
    ),
    "vendor": (
        "vendor, vendors, supplier, consultancy, consulting, consultant, agency, marketing agency, "
        "staffing agency, staffing, software, software company, saas, technology company, "
        "tech company, it services, solutions, startup, reseller, distributor, manufacturer, "
        "medical device, pharmaceutical company, pharma, biotech, hospital supply, "
        "hospital supplies, medical supply, medical supplies, medical equipment, "
        "durable medical equipment, dme, home medical equipment"
    ),
    "government_agency": (
        "government, government agency, federal agency, state agency, public health, "
        "public health department, department of health, dept of health, health department, "
        "department of veterans affairs, veterans affairs, veterans administration, "
        "department of defense, cdc, hhs, ministry of health, county health, county of, city of, "
        "indian health service, military, town of, village of, township, fire department, "
        "fire district, fire protection district"
    ),
    "education": (
        "education, school, schools, university, college, community college, medical school, "
        "school of medicine, nursing school, school of nursing, student, students, "
        "training program, residency program"
    ),
    "individual": (
        "patient or caregiver, caregiver, family member, private individual, individual patient, "
        "i am a patient, im a patient, personal use, consumer"
    ),
    "other": (
        "other, association, society, foundation, nonprofit, non profit, research institute, "
        "clinical research, cro, church, media, publisher, accountable care organization, aco, "
        "ambulance, ambulance service, emergency medical services, ems"
    ),
}

_ORG_TYPE_ACRONYMS: dict[str, str] = {
    "VA": "government_agency",
    "CMS": "government_agency",
    "PA": "practice",
    "P A": "practice",
    "PC": "practice",
    "P C": "practice",
    "PSC": "practice",
}
# Generic words that name an organization type only when nothing more specific is present:
# "University of Alabama Hospital" is a hospital, "Kaiser Foundation Hospital" too.
_ORG_TYPE_WEAK = (
    "associates, office, group, university, college, school, schools, student, students, "
    "foundation, association, society, solutions, consulting, consultant, agency, software, "
    "startup, media, publisher, education, other"
)
# Whole-field only: in a longer name these words say nothing about the organization.
_ORG_TYPE_EXACT: dict[str, str] = {
    "individual": "individual",
    "patient": "individual",
    "self": "individual",
    "myself": "individual",
    "me": "individual",
    "personal": "individual",
}

ROLES: tuple[str, ...] = (
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

_ROLE_INFLUENCE: dict[str, Influence] = {
    "owner_physician": Influence.DECIDER,
    "executive": Influence.DECIDER,
    "practice_administrator": Influence.DECIDER,
    "operations_leader": Influence.DECIDER,
    "clinical_director": Influence.INFLUENCER,
    "procurement": Influence.INFLUENCER,
    "it_leadership": Influence.INFLUENCER,
    "physician": Influence.INFLUENCER,
    "clinical_staff": Influence.USER,
    "front_office": Influence.USER,
    "student": Influence.USER,
    "other": Influence.UNKNOWN,
}

# Role precedence: a lower tier wins over a higher one wherever it appears in the title.
_OVERRIDE, _OWNERSHIP, _TITLED, _GENERIC, _STAFF = range(5)

_ROLE_SYNONYMS: tuple[tuple[int, str, str], ...] = (
    (
        _OVERRIDE,
        "front_office",
        "executive assistant, administrative assistant, assistant to the, assistant to, "
        "personal assistant, admin assistant",
    ),
    (
        _OVERRIDE,
        "other",
        "product owner, account executive, sales executive",
    ),
    (
        _OWNERSHIP,
        "owner_physician",
        "owner, owners, co owner, coowner, practice owner, business owner, physician owner, "
        "owner physician, doctor owner, owner operator, founder, co founder, cofounder, "
        "founding physician, partner, managing partner, senior partner, founding partner, "
        "physician partner, managing member, proprietor, principal, shareholder",
    ),
    (
        _TITLED,
        "executive",
        "ceo, chief executive officer, chief executive, president, coo, chief operating officer, "
        "cfo, chief financial officer, chief administrative officer, chief strategy officer, "
        "chief growth officer, chief revenue officer, chief business officer, "
        "chief experience officer, chief transformation officer, executive director, "
        "managing director, general manager, chairman, chairman of the board, chair of the board, "
        "board member, executive vice president, senior vice president, evp, svp, treasurer, "
        "secretary, corporate secretary, authorized official, officer",
    ),
    (
        _TITLED,
        "practice_administrator",
        "practice administrator, practice manager, office manager, administrator, clinic manager, "
        "clinic administrator, clinic director, practice director, "
        "director of practice operations, director of practice management, "
        "practice operations manager, business manager, business office manager, "
        "front office manager, front desk manager, office administrator, medical office manager, "
        "practice lead, site manager, center manager, administrative director, "
        "hospital administrator, facility administrator, practice management",
    ),
    (
        _TITLED,
        "operations_leader",
        "director of operations, operations director, operations manager, vp operations, "
        "vp of operations, vice president operations, vice president of operations, "
        "head of operations, operations, operations lead, revenue cycle director, "
        "director of revenue cycle, revenue cycle manager, vp revenue cycle, "
        "head of revenue cycle, revenue cycle, billing manager, billing director, "
        "director of billing, director of patient access, patient access director, "
        "patient access manager",
    ),
    (
        _TITLED,
        "clinical_director",
        "medical director, clinical director, director of clinical operations, "
        "chief medical officer, cmo, chief nursing officer, cno, chief clinical officer, "
        "chief quality officer, chief of staff, pharmacist in charge, director of nursing, "
        "nursing director, nurse manager, nurse director, nurse executive, head nurse, "
        "charge nurse, clinical manager, clinical supervisor, clinical lead, lead physician, "
        "physician lead, department chair, department head, chair of, chief of, division chief, "
        "division director, section chief, program director, vp nursing, vp of nursing, "
        "vice president of nursing, vp medical affairs, director of medical affairs, "
        "medical affairs",
    ),
    (
        _TITLED,
        "procurement",
        "procurement, purchasing, purchasing agent, supply chain, sourcing, strategic sourcing, "
        "buyer, contracts manager, contract manager, contracting, materials manager, "
        "materials management, value analysis, vendor management, vendor relations, "
        "category manager",
    ),
    (
        _TITLED,
        "it_leadership",
        "cio, chief information officer, cto, chief technology officer, cmio, "
        "chief medical information officer, cnio, chief nursing information officer, ciso, "
        "chief information security officer, chief digital officer, it director, director of it, "
        "it manager, vp of it, head of it, it lead, director of information systems, "
        "director of information technology, information technology, information systems, "
        "informatics, clinical informatics, informaticist, nurse informaticist, it administrator, "
        "systems administrator, system administrator, network administrator, it analyst, "
        "it support, ehr analyst, interface analyst, applications manager",
    ),
    (
        _TITLED,
        "student",
        "student, students, medical student, med student, nursing student, pa student, "
        "graduate student, phd student, resident, resident physician, chief resident, fellow, "
        "clinical fellow, research fellow, intern, trainee, postdoc, postdoctoral, extern",
    ),
    (
        _GENERIC,
        "operations_leader",
        "director, senior director, head, head of",
    ),
    (
        _GENERIC,
        "executive",
        "vp, vice president, avp, chief",
    ),
    (
        _STAFF,
        "physician",
        "physician, physicians, doctor, dr, md, m d, surgeon, attending, attending physician, "
        "hospitalist, provider, specialist, dentist, dds, dmd, podiatrist, dpm, optometrist, "
        "chiropractor, psychiatrist, psychologist, cardiologist, dermatologist, orthopedist, "
        "orthopaedist, orthopedic surgeon, orthopaedic surgeon, neurologist, neurosurgeon, "
        "oncologist, ophthalmologist, otolaryngologist, pediatrician, internist, "
        "gastroenterologist, rheumatologist, urologist, pulmonologist, endocrinologist, "
        "nephrologist, radiologist, anesthesiologist, pathologist, allergist, immunologist, "
        "hematologist, geriatrician, physiatrist, obstetrician, gynecologist, ob gyn, obgyn, "
        "family physician, general practitioner, pcp",
    ),
    (
        _STAFF,
        "clinical_staff",
        "nurse, nurses, rn, registered nurse, lpn, lvn, licensed practical nurse, "
        "nurse practitioner, np, fnp, aprn, crnp, cnm, crna, cna, physician assistant, "
        "physician associate, pa c, medical assistant, cma, certified medical assistant, "
        "technician, tech, technologist, radiologic technologist, lab tech, phlebotomist, "
        "therapist, physical therapist, occupational therapist, speech therapist, "
        "respiratory therapist, doctor of physical therapy, dpt, slp, pharmacist, "
        "pharmacy technician, dietitian, nutritionist, audiologist, counselor, social worker, "
        "lcsw, case manager, care coordinator, nurse navigator, scribe, medical scribe, "
        "dental hygienist, hygienist, dental assistant, optician, paramedic, emt, clinician, "
        "athletic trainer, sonographer, surgical tech, midwife, clinical staff, staff nurse, "
        "prosthetist, orthotist",
    ),
    (
        _STAFF,
        "front_office",
        "front desk, front office, receptionist, reception, scheduler, scheduling, "
        "scheduling coordinator, patient access, patient access representative, patient services, "
        "patient service representative, billing specialist, biller, billing, medical biller, "
        "coder, medical coder, coding specialist, coordinator, patient coordinator, "
        "intake coordinator, intake, referral coordinator, medical secretary, unit secretary, "
        "ward clerk, clerk, office assistant, assistant, admin, call center, customer service, "
        "patient representative, insurance verification, authorization specialist, credentialing, "
        "credentialing specialist, enrollment specialist, office staff, operations coordinator, "
        "operations assistant, operations specialist, revenue cycle specialist, "
        "revenue cycle analyst",
    ),
    (
        _STAFF,
        "other",
        "patient, consultant, recruiter, sales, marketing, retired",
    ),
)

_ROLE_ACRONYMS: dict[str, tuple[str, int]] = {
    "DO": ("physician", _STAFF),
    "D O": ("physician", _STAFF),
    "OD": ("physician", _STAFF),
    "MA": ("clinical_staff", _STAFF),
    "PA": ("clinical_staff", _STAFF),
    "PT": ("clinical_staff", _STAFF),
    "OT": ("clinical_staff", _STAFF),
    "GP": ("physician", _STAFF),
    "DON": ("clinical_director", _TITLED),
    "IT": ("it_leadership", _TITLED),
}

_DEPUTY_PREFIX = re.compile(
    r"(?:^|\s)(?:assistant|asst|associate|assoc|deputy|junior|jr)\s$", re.IGNORECASE | re.ASCII
)
_CLINICAL_AREA = re.compile(
    r"\b(?:nursing|nurse|nurses|clinical|medical|physician|physicians|patient care|pharmacy|"
    r"laboratory|lab|quality|surgical|health services)\b",
    re.IGNORECASE | re.ASCII,
)


@dataclass(frozen=True, slots=True)
class RoleMatch:
    """A contact role mapped onto a canonical role and its decision influence."""

    role: str | None
    influence: Influence


_NO_ROLE = RoleMatch(None, Influence.UNKNOWN)


def _fold(phrase: str) -> str:
    return words(phrase).casefold()


def trie_regex(words: Iterable[str]) -> str:
    """A regex matching any of `words`, preferring the longest at a given position.

    Far faster than a flat alternation of hundreds of words, which `re` tries one by one.
    """
    root: dict[str, dict[str, object]] = {}
    for word in words:
        node = root
        for ch in word:
            node = node.setdefault(ch, {})  # type: ignore[assignment]
        node[""] = {}

    def emit(node: dict[str, dict[str, object]]) -> str:
        branches = [
            re.escape(ch) + emit(child)  # type: ignore[arg-type]
            for ch, child in sorted(node.items())
            if ch
        ]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        if "" in node:
            # Greedy optional: the longer synonym is tried first, the shorter on backtrack.
            return body + "?" if body.startswith("(?:") and len(branches) > 1 else f"(?:{body})?"
        return body

    return emit(root)


@dataclass(frozen=True, slots=True)
class _Matcher:
    """One vocabulary compiled: a search regex and the tables that resolve its matches."""

    search: re.Pattern[str]
    overlapping: re.Pattern[str]
    folded: dict[str, tuple[str, int]]
    cased: dict[str, tuple[str, int]]
    exact: dict[str, tuple[str, int]]

    def resolve(self, token: str) -> tuple[str, int] | None:
        return self.cased.get(token) or self.folded.get(token.casefold())


def _compile(
    folded: dict[str, tuple[str, int]],
    cased: dict[str, tuple[str, int]],
    exact_only: dict[str, tuple[str, int]],
) -> _Matcher:
    alternatives = [f"(?i:{trie_regex(folded)})"]
    alternatives += [re.escape(a) for a in sorted(cased, key=len, reverse=True)]
    body = "|".join(alternatives)
    exact = {**folded, **{k.casefold(): v for k, v in cased.items()}, **exact_only}
    return _Matcher(
        search=re.compile(rf"\b(?:{body})\b", re.ASCII),
        overlapping=re.compile(rf"\b(?=((?:{body}))\b)", re.ASCII),
        folded=folded,
        cased=cased,
        exact=exact,
    )


def _add(
    table: dict[str, tuple[str, int]], phrase: str, key: str, tier: int, *, base: bool
) -> None:
    folded = _fold(phrase)
    if not folded:
        raise ValueError(f"synonym {phrase!r} has no letters or digits")
    if base and folded in table and table[folded][0] != key:
        raise ValueError(f"synonym {phrase!r} maps to both {table[folded][0]!r} and {key!r}")
    table[folded] = (key, tier)


def _split(phrases: str) -> list[str]:
    return [p.strip() for p in phrases.split(",")]


def _base_table(synonyms: Mapping[str, str]) -> dict[str, tuple[str, int]]:
    table: dict[str, tuple[str, int]] = {}
    for key, phrases in synonyms.items():
        for phrase in (key, *_split(phrases)):
            _add(table, phrase, key, 0, base=True)
    return table


def _with_extras(
    base: dict[str, tuple[str, int]],
    extras: Mapping[str, str] | None,
    known: tuple[str, ...],
    kind: str,
    tier: int,
) -> dict[str, tuple[str, int]]:
    table = dict(base)
    for phrase, key in (extras or {}).items():
        if key not in known:
            raise ValueError(f"synonym {phrase!r} maps to unknown {kind} {key!r}")
        _add(table, phrase, key, tier, base=False)
    return table


_SPECIALTY_TABLE = _base_table(_SPECIALTY_SYNONYMS)
for _key, _label in SPECIALTY_LABELS.items():
    _add(_SPECIALTY_TABLE, _label, _key, 0, base=True)
_ORG_TYPE_TABLE = _base_table(_ORG_TYPE_SYNONYMS)
for _phrase in _split(_ORG_TYPE_WEAK):
    _ORG_TYPE_TABLE[_phrase] = (_ORG_TYPE_TABLE[_phrase][0], 1)
_ROLE_TABLE: dict[str, tuple[str, int]] = {}
for _key in ROLES:
    _add(_ROLE_TABLE, _key, _key, _TITLED, base=True)
for _tier, _key, _phrases in _ROLE_SYNONYMS:
    for _phrase in _split(_phrases):
        _add(_ROLE_TABLE, _phrase, _key, _tier, base=True)

_SPECIALTY_SET = frozenset(SPECIALTIES)
_ORG_TYPE_SET = frozenset(ORG_TYPES)
_ROLE_SET = frozenset(ROLES)


class Vocabulary:
    """Base vocabularies plus a criteria sheet's extra synonyms."""

    def __init__(
        self,
        specialty_synonyms: Mapping[str, str] | None = None,
        org_type_synonyms: Mapping[str, str] | None = None,
        role_synonyms: Mapping[str, str] | None = None,
        role_influence: Mapping[str, Influence] | None = None,
    ) -> None:
        self._specialties = _compile(
            _with_extras(_SPECIALTY_TABLE, specialty_synonyms, SPECIALTIES, "specialty", 0),
            {k: (v, 0) for k, v in _SPECIALTY_ACRONYMS.items()},
            {},
        )
        self._org_types = _compile(
            _with_extras(_ORG_TYPE_TABLE, org_type_synonyms, ORG_TYPES, "organization type", 0),
            {k: (v, 0) for k, v in _ORG_TYPE_ACRONYMS.items()},
            {k: (v, 0) for k, v in _ORG_TYPE_EXACT.items()},
        )
        # A sheet's own role wording is deliberate, so it outranks the built-in titles.
        self._roles = _compile(
            _with_extras(_ROLE_TABLE, role_synonyms, ROLES, "role", _OVERRIDE),
            dict(_ROLE_ACRONYMS),
            {},
        )
        self._influence: dict[str, Influence] = dict(_ROLE_INFLUENCE)
        for key, influence in (role_influence or {}).items():
            if key not in _ROLE_SET:
                raise ValueError(f"role influence given for unknown role {key!r}")
            if influence not in INFLUENCES:
                raise ValueError(f"role {key!r} has unknown influence {influence!r}")
            self._influence[key] = influence
        self._specialty: Callable[[str], str | None] = lru_cache(_CACHE_SIZE)(self._find_specialty)
        self._org_type: Callable[[str], str | None] = lru_cache(_CACHE_SIZE)(self._find_org_type)
        self._role: Callable[[str], RoleMatch] = lru_cache(_CACHE_SIZE)(self._find_role)

    def specialty(self, text: str | None) -> str | None:
        """The specialty named earliest in `text` (longest synonym at that spot), or None."""
        return self._specialty(text[:MAX_SCAN_CHARS]) if text else None

    def org_type(self, text: str | None) -> str | None:
        """The organization type: the whole field if a synonym, else the most specific found."""
        return self._org_type(text[:MAX_SCAN_CHARS]) if text else None

    def role(self, text: str | None) -> RoleMatch:
        """The buyer role of a job title and its decision influence."""
        return self._role(text[:MAX_SCAN_CHARS]) if text else _NO_ROLE

    def _find_specialty(self, text: str) -> str | None:
        norm = words(text)
        folded = norm.casefold()
        if folded in PLACEHOLDERS:
            return None
        hit = self._specialties.exact.get(folded)
        if hit is None:
            m = self._specialties.search.search(norm)
            hit = None if m is None else self._specialties.resolve(m.group())
        return None if hit is None else hit[0]

    def _find_org_type(self, text: str) -> str | None:
        norm = words(text)
        folded = norm.casefold()
        if folded in PLACEHOLDERS:
            return None
        hit = self._org_types.exact.get(folded)
        if hit is not None:
            return hit[0]
        best: tuple[int, int, str] | None = None
        for m in self._org_types.overlapping.finditer(norm):
            token = m.group(1)
            found = self._org_types.resolve(token)
            if found is not None and (best is None or (found[1], -len(token)) < best[:2]):
                best = (found[1], -len(token), found[0])
        return None if best is None else best[2]

    def _find_role(self, text: str) -> RoleMatch:
        norm = words(text)
        folded = norm.casefold()
        if folded in PLACEHOLDERS:
            return _NO_ROLE
        start = 0
        hit = self._roles.exact.get(folded)
        if hit is None:
            best: tuple[int, int, str] | None = None
            for m in self._roles.search.finditer(norm):
                found = self._roles.resolve(m.group())
                if found is not None and (best is None or (found[1], m.start()) < best[:2]):
                    best = (found[1], m.start(), found[0])
            if best is None:
                return RoleMatch("other", self._influence["other"])
            tier, start, key = best
        else:
            key, tier = hit
        if tier == _GENERIC and (_CLINICAL_AREA.search(norm) or self._specialty(text) is not None):
            key = "clinical_director"
        influence = self._influence[key]
        if influence == "decider" and start and _DEPUTY_PREFIX.search(norm, 0, start):
            influence = Influence.INFLUENCER
        return RoleMatch(key, influence)


DEFAULT_VOCABULARY = Vocabulary()


def is_specialty(key: str) -> bool:
    """Whether `key` is a canonical specialty key."""
    return key in _SPECIALTY_SET


def is_org_type(key: str) -> bool:
    """Whether `key` is a canonical organization type key."""
    return key in _ORG_TYPE_SET


def is_role(key: str) -> bool:
    """Whether `key` is a canonical role key."""
    return key in _ROLE_SET
