"""Signals read from free text: patient inquiries, spam, timelines, phrases, yes/no and counts."""

from __future__ import annotations

import calendar
import datetime
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import Literal

from .text import MAX_SCAN_CHARS
from .vocab import DEFAULT_VOCABULARY, trie_regex

_NON_WORD = re.compile(r"[\W_]+")
_ASCII_NON_WORD = str.maketrans({chr(c): " " for c in range(128) if not chr(c).isalnum()})


def _words(text: str) -> str:
    """Lower-case words of `text` (first 5,000 chars), single-spaced and padded with spaces."""
    return _capped_words(text[:MAX_SCAN_CHARS])


@lru_cache(maxsize=256)  # one message is read by several detectors in a row
def _capped_words(text: str) -> str:
    text = text.lower()
    if text.isascii():  # translate + split is about three times faster than the regex
        return f" {' '.join(text.translate(_ASCII_NON_WORD).split())} "
    return f" {_NON_WORD.sub(' ', text).strip()} "


@dataclass(frozen=True, slots=True)
class PatientSignal:
    """Whether a message is a person writing about their own or a relative's care."""

    is_patient: bool
    cues: tuple[str, ...]


PATIENT_CUES: tuple[str, ...] = (
    "self-identified-patient",
    "own-appointment",
    "own-prescription",
    "own-symptoms",
    "own-results",
    "own-records",
    "own-bill",
    "own-care",
    "family-member-care",
)
_I_AM = r"(?:i am|i m|im)"
# The same subject forms, written to follow a literal " i" so the scan can skip to it.
_AM, _HAVE, _WOULD = r"(?: am| m|m)", r"(?: have| ve|ve)", r"(?: would| d|d)"
_FAMILY = (
    r"(?:son|sons|daughter|daughters|mother|mom|mum|mommy|father|dad|daddy|husband|wife|"
    r"child|children|kid|kids|baby|toddler|infant|newborn|parent|parents|grandmother|"
    r"grandfather|grandma|grandpa|granddaughter|grandson|sister|brother|spouse|fiance|"
    r"fiancee|boyfriend|girlfriend|aunt|uncle|family member|elderly mother|elderly father)"
)
_APPT = (
    r"(?:appointment|appointments|appt|appts)(?! (?:reminder|reminders|scheduling|scheduler|"
    r"booking|system|systems|software|tool|tools|platform|module|feature|features|workflow|"
    r"workflows|management|types|slots|volume|data|api|integration|confirmations|no shows)\b)"
)
_WANT_APPT = (
    r"(?:to )?(?:please )?(?:(?:make|book|schedule|get|set up|request|reschedule|cancel|change|"
    r"move|have|find|get in for) )?(?:an |a |my |another |the |new |earlier |sooner )?(?:\w+ )?"
    rf"(?:{_APPT}|consultation|checkup|check up)"
)
_SYMPTOM = (
    r"(?:chest pains?|back pain|pains?(?! points?\b)|rash|rashes|fevers?|headaches?|migraines?|"
    r"cough|coughing|dizziness|dizzy|lightheaded|nausea|nauseous|vomiting|infection|swelling|"
    r"swollen|lumps?|bleeding|shortness of breath|trouble breathing|difficulty breathing|"
    r"sore throat|palpitations|numbness|tingling|blurred vision|blurry vision|anxiety|"
    r"depression|panic attacks|insomnia|itching|itchy|flu|covid|symptoms|diarrhea|"
    r"constipation|seizures?|allergic reaction|fracture|toothache|sick(?! of\b)|ill|fatigue|"
    r"broken (?:arm|leg|wrist|ankle|bone|foot|toe|finger|rib))"
)
_BODY = (
    r"(?:chest|back|knee|knees|head|stomach|throat|ear|ears|eye|eyes|skin|leg|legs|arm|arms|"
    r"foot|feet|shoulder|hip|neck|tooth|teeth|wrist|ankle|heart|hand|hands|joints)"
)
_FAMILY_CARE = (
    rf"{_FAMILY}(?: s)? (?:\w+ ){{0,3}}?(?:{_APPT}|surgery|procedure|prescriptions?|"
    r"medications?|meds|results|records|bill|doctor|doctor s|pediatrician|visit|treatment|care|"
    r"symptoms|referral|diagnosis|tests?|biopsy|mri|scan|x ray|vaccines?|vaccination|shots|"
    r"checkup|check up|exam|insurance|claim|condition|pain|rash|fever|infection|therapy|refill|"
    r"illness|injury|fracture|chart)",
    rf"{_FAMILY} (?:is|was|has been|has|had|needs|got|is being|was being|keeps) "
    r"(?:\w+ ){0,2}?(?:sick|ill|diagnosed|seen|treated|a patient|admitted|hospitalized|"
    r"in pain|injured|hurt|having|experiencing|suffering|symptoms|surgery|fever|rash|"
    r"an appointment)",
)
_NOT_A_PATIENT_NOUN = (
    r"(?! (?:advocate|advocates|advocacy|experience|engagement|access|intake|portal|person|man|"
    r"woman|guy|type|coordinator|navigator|care|safety|liaison|relations|representative|"
    r"services|centered|centric|friendly)\b)"
)

# Patterns grouped by the word that starts them; each scan jumps straight to that word.
_AFTER_MY: dict[str, tuple[str, ...]] = {
    "family-member-care": (
        *_FAMILY_CARE,
        r"(?:(?<= appointment for my )|(?<= appt for my )|(?<= prescription for my )|"
        r"(?<= refill for my )|(?<= results for my )|(?<= records for my )|"
        rf"(?<= surgery for my )){_FAMILY}",
    ),
    "own-appointment": (rf"(?:\w+ ){{0,2}}?{_APPT}", r"(?<= reschedule my )"),
    "own-prescription": (
        r"(?:\w+ ){0,2}?(?:prescription|prescriptions|rx|medication|medications|meds|medicine|"
        r"medicines|pills|insulin|inhaler|dosage|dose|refill|refills)",
        r"(?:(?<= refill my )|(?<= refill of my )|(?<= refill on my )|(?<= refill for my )|"
        r"(?<= renew my ))",
    ),
    "own-results": (
        r"(?:\w+ ){0,2}?(?:results|result|lab work|labwork|bloodwork|blood work|biopsy|mri|"
        r"ct scan|x ray|xray|ultrasound|mammogram|pathology report|lab report|scan)",
        r"(?:(?<= results of my )|(?<= results from my )|(?<= results for my ))",
    ),
    "own-records": (
        r"(?!track )(?:\w+ )?(?:records|record|chart|health information|medical history|portal|"
        r"mychart|immunizations|immunization records|vaccination records)",
        r"(?<= copy of my )",
    ),
    "own-bill": (
        r"(?:\w+ )?(?:bill|bills|billing statement|statement|balance|copay|co pay|copayment|"
        r"deductible|insurance claim|claim|insurance|eob|explanation of benefits|payment|refund|"
        r"charges)",
    ),
    "own-symptoms": (
        r"(?:symptoms|symptom|condition|diagnosis|pain|rash|fever|migraines|headaches|"
        r"blood pressure|blood sugar)",
        rf"{_BODY} (?:hurts|hurt|is hurting|keeps hurting|aches|ache|is swollen|is bleeding|"
        r"is itchy|is red|feels)",
    ),
    "own-care": (
        r"(?:doctor|doctor s|dr|physician|surgeon|provider|pcp|primary care|specialist|"
        r"cardiologist|dermatologist|oncologist|therapist|psychiatrist|dentist|nurse|gp|obgyn|"
        r"ob gyn|pediatrician|chiropractor|surgery|procedure|treatment|treatments|referral|visit|"
        r"care team|therapy|physical therapy|checkup|check up|operation|vaccine|shots|exam|"
        r"physical|mammogram|colonoscopy)",
    ),
}
_AFTER_I: dict[str, tuple[str, ...]] = {
    "self-identified-patient": (
        rf"{_AM} (?:a |an )?(?:current |new |existing |former |established |longtime |"
        rf"long time |returning |regular )?patient{_NOT_A_PATIENT_NOUN}",
        rf"{_AM} (?:one of )?(?:your|dr \w+ s|dr \w+|the doctor s) patients?",
        rf"(?: was| have been|{_HAVE} been) (?:a |an )?(?:\w+ )?patient "
        r"(?:of|at|with|there|since|for)",
        r" (?:\w+ ){0,3}?become (?:a |an )?(?:new )?patient(?! (?:centered|centric|friendly)\b)",
    ),
    "own-appointment": (
        rf"(?: need| want| wanted|{_WOULD} like|{_AM} trying| tried|{_HAVE} been trying|"
        rf" was trying|{_AM} looking| was hoping|{_AM} hoping| hope| can t| cannot| couldn t|"
        rf" could not) {_WANT_APPT}",
        rf" (?:have|had|missed|got|booked|made) (?:an |a |my )(?:\w+ )?{_APPT}",
        r" (?:make|book|schedule|get|set up|request|reschedule|cancel|change|move|find) "
        rf"(?:an |a |my |another |the |new |earlier |sooner )?(?:\w+ )?(?:{_APPT}|consultation|"
        r"checkup|check up)",
    ),
    "own-prescription": (
        rf"(?: get| have| need| want| request|{_WOULD} like|{_AM} requesting|{_AM} asking for) "
        r"(?:a |my |another |the )?(?:prescription |medication |rx )?refill",
        rf"(?: ran|{_AM} running|{_HAVE} run) out of (?:my )?(?:medication|meds|pills|insulin|"
        r"prescription)",
    ),
    "own-symptoms": (
        r"(?:m|ve)?(?: (?:am|m|have|ve|had|keep|get|got|was|been|still|started|feel|felt))*"
        r"(?: (?:having|experiencing|suffering from|getting|feeling|dealing with|"
        r"struggling with|battling|developed|had|have|got|get|with))?"
        r"(?: (?:a|an|some|really|very|severe|bad|terrible|constant|chronic|sharp|mild|this|"
        r"these|the|my|awful|horrible|persistent|recurring|weird|strange|high|lot of|lots of))"
        rf"{{0,3}} {_SYMPTOM}",
    ),
    "own-bill": (
        rf"(?: was|{_HAVE} been| got|{_AM} being) (?:double |wrongly |incorrectly )?"
        r"(?:charged|billed|overcharged|overbilled)",
    ),
    "own-care": (
        r" (?:\w+ ){0,3}?(?:see|saw|seeing|talk to|speak to|speak with) (?:a |the |my )?"
        r"(?:doctor|physician|dermatologist|cardiologist|specialist|surgeon)",
    ),
}
_AFTER_OUR: dict[str, tuple[str, ...]] = {"family-member-care": _FAMILY_CARE}
# Lookbehinds let a short lead (" me") carry cues whose distinctive word comes before it.
_AFTER_ME: dict[str, tuple[str, ...]] = {
    "own-appointment": (
        r"(?:(?<= book me)|(?<= fit me)|(?<= get me)|(?<= squeeze me)|(?<= schedule me)) in",
    ),
    "own-prescription": (r"(?<= prescribed me)",),
    "own-bill": (r"(?:(?<= charged me)|(?<= overcharged me)|(?<= overbilled me)|(?<= refund me))",),
}
_ELSEWHERE: dict[str, tuple[str, ...]] = {
    "self-identified-patient": (
        r"as (?:a|an) (?:current |new |existing |longtime )?patient (?:of|at)",
    ),
    "own-prescription": (
        r"(?:need|call in|send in) (?:a |my |another |the )?(?:prescription |medication |rx )?"
        r"refill",
    ),
}


def _scan(lead: str, patterns: dict[str, tuple[str, ...]]) -> re.Pattern[str]:
    groups = (f"(?P<{cue.replace('-', '_')}>{'|'.join(parts)})" for cue, parts in patterns.items())
    return re.compile(f"{lead}(?:{'|'.join(groups)})\\b")


_PATIENT_SCANS = (
    _scan(" my ", _AFTER_MY),
    _scan(" i", _AFTER_I),
    _scan(" our ", _AFTER_OUR),
    _scan(" me", _AFTER_ME),
    _scan(" ", _ELSEWHERE),
)
_CUE_ORDER = {cue.replace("-", "_"): i for i, cue in enumerate(PATIENT_CUES)}

_OUR_B2B = (
    "practice, practices, clinic, clinics, patient, patients, provider, providers, physicians, "
    "doctors, clinicians, nurses, front desk, front office, staff, team, teams, group, "
    "department, dept, hospital, hospitals, organization, organisation, company, office, "
    "offices, facility, facilities, health system, system, center, centre, centers, location, "
    "locations, network, sites, members, residents, employees, practitioners, surgeons, "
    "therapists, specialists, business, firm, agency, clients, customers, ehr, emr, software, "
    "vendor, current vendor, workflow, workflows, process, processes, scheduling, revenue, "
    "operations, board, leadership, medical group, schedulers, billers, coders, admin, "
    "administrative"
)
_MY_B2B = (
    "practice, practices, clinic, clinics, patients, providers, physicians, clinicians, nurses, "
    "front desk, front office, staff, team, teams, department, dept, organization, "
    "organisation, company, office, offices, employees, practitioners, business, firm, agency, "
    "clients, customers, colleagues, partners, group practice, medical group, schedulers, "
    "billers, coders, surgery center, hospitalists, associates, ehr, emr"
)
_TITLE_B2B = (
    "practice manager, office manager, practice administrator, administrator, director, ceo, "
    "cfo, coo, cio, cmo, cto, owner, founder, physician, doctor, surgeon, provider, "
    "nurse practitioner, manager, partner, vp, vice president, president, dentist, "
    "chiropractor, md, consultant, vendor, buyer"
)
_PRODUCT_B2B = (
    "demo, demos, demonstration, pricing, price list, proposal, rfp, rfi, rfq, software, saas, "
    "platform, vendor, vendors, integration, integrations, integrate, api, ehr, emr, ehrs, "
    "emrs, subscription, licenses, licensing, contract, implementation, onboarding, workflow, "
    "workflows, free trial, pilot, webinar, roi, sales rep, sales team, per provider, "
    "enterprise, hipaa compliant, no show rate, patient volume, front desk staff, "
    "practice management, revenue cycle, solution, solutions, your product, your company, "
    "partnership"
)


def _any(phrases: str) -> str:
    return trie_regex(p.strip() for p in phrases.split(","))


_B2B = re.compile(
    " (?:"
    f"our (?:{_any(_OUR_B2B)})"
    r"|my (?:doctors(?! (?:office|nurse|orders|appointment|name|note|assistant)\b)|"
    f"{_any(_MY_B2B)})"
    r"|we (?:are|re) (?:a|an|currently|evaluating|looking for (?:a |an )?(?:new |better )?"
    r"(?:solution|vendor|platform|software|system|tool|partner|way))"
    r"|we (?:currently )?(?:use|are using|re using|run|operate|employ|serve)"
    r"|we (?:see|have) (?:about |over |around |nearly )?(?:\d+|multiple|several|two|three|four|"
    r"five|six|seven|eight|nine|ten) (?:\w+ )?(?:providers|physicians|doctors|locations|clinics|"
    r"offices|sites|patients|practitioners)"
    f"|(?:{_I_AM}|as) (?:a |an |the )?(?:\\w+ )?(?:{_any(_TITLE_B2B)})(?! s\\b)"
    r"|i (?:manage|run(?! out)|own|oversee|operate|lead|direct|head up|co own|supervise)"
    f"|{_any(_PRODUCT_B2B)}"
    r")\b"
)


def detect_patient_inquiry(
    message: str | None, organization_name: str | None = None, org_type: str | None = None
) -> PatientSignal:
    """Whether a form message is a patient (or relative) asking about their own care."""
    if not message:
        return _NOT_PATIENT
    text = _words(message)
    found = {m.lastgroup for scan in _PATIENT_SCANS for m in scan.finditer(text)}
    if not found:
        return _NOT_PATIENT
    cues = tuple(PATIENT_CUES[i] for i in sorted(_CUE_ORDER[g] for g in found if g))
    if "self_identified_patient" in found or _individual(org_type, organization_name):
        return PatientSignal(True, cues)
    return PatientSignal(_B2B.search(text) is None, cues)


_NOT_PATIENT = PatientSignal(False, ())
_NO_ORGANIZATION = frozenset({"none", "n a", "na", "not applicable", "no organization"})


def _individual(org_type: str | None, organization_name: str | None) -> bool:
    if org_type is not None and DEFAULT_VOCABULARY.org_type(org_type) == "individual":
        return True
    if not organization_name:
        return False
    return (
        _words(organization_name).strip() in _NO_ORGANIZATION
        or DEFAULT_VOCABULARY.org_type(organization_name) == "individual"
    )


@dataclass(frozen=True, slots=True)
class SpamSignal:
    """Whether a submission looks like spam, with the labels of what gave it away."""

    is_spam: bool
    cues: tuple[str, ...]


SPAM_PHRASES: tuple[str, ...] = (
    "seo services",
    "backlinks",
    "guest post",
    "crypto",
    "bitcoin",
    "casino",
    "loan offer",
    "rank your website",
    "increase your traffic",
    "web design services",
    "cheap",
    "viagra",
    "lottery",
    "make money",
)
# Legitimate buyers say "cheap" too; it only counts next to another spam cue.
_WEAK_SPAM_PHRASES = frozenset({"cheap"})
_URL_IN_NAME = re.compile(r"http|www\.|://", re.IGNORECASE)
_SYMBOL_SHARE = 0.6


@lru_cache(maxsize=256)
def _needles(phrases: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """Each phrase with its normalized, space-padded form; phrases without words are dropped."""
    seen: dict[str, str] = {}
    for phrase in phrases:
        needle = _words(phrase)
        if needle.strip() and phrase not in seen:
            seen[phrase] = needle
    return tuple(seen.items())


def find_phrases(text: str | None, phrases: Sequence[str]) -> tuple[str, ...]:
    """Which `phrases` occur in `text` as whole words, case-insensitively, in the order given."""
    if not text or not phrases:
        return ()
    words = _words(text)
    return tuple(phrase for phrase, needle in _needles(tuple(phrases)) if needle in words)


def _count_links(text: str) -> int:
    lower = text.lower()  # str.count beats a regex scan; "http://www." is one link, not two
    return (
        lower.count("http://")
        + lower.count("https://")
        + lower.count("www.")
        - lower.count("://www.")
    )


def _symbol_heavy(text: str) -> bool:
    visible = len("".join(text.split()))
    if visible <= 20:
        return False
    words = _words(text)
    letters_and_digits = len(words) - words.count(" ")
    return visible - letters_and_digits > _SYMBOL_SHARE * visible


def detect_spam(
    message: str | None,
    organization_name: str | None,
    contact_name: str | None,
    extra_phrases: Sequence[str] = (),
    max_links: int = 3,
) -> SpamSignal:
    """Spam cues: many links, a URL for a name, spam phrases, or a message of mostly symbols."""
    cues: list[str] = []
    strong = False
    text = message[:MAX_SCAN_CHARS] if message else ""
    links = _count_links(text)
    if links > max_links:
        cues.append(f"links:{links}")
        strong = True
    names = (organization_name, contact_name)
    if any(name and _URL_IN_NAME.search(name[:MAX_SCAN_CHARS]) for name in names):
        cues.append("url-in-name")
        strong = True
    for phrase in find_phrases(text, (*SPAM_PHRASES, *extra_phrases)):
        cues.append(f"phrase:{phrase}")
        strong = strong or phrase not in _WEAK_SPAM_PHRASES or phrase in extra_phrases
    if text and _symbol_heavy(text):
        cues.append("symbols")
        strong = True
    return SpamSignal(strong, tuple(cues))


@dataclass(frozen=True, slots=True)
class Timeframe:
    """A buying timeline: stated with a horizon in days, explicitly none, or unknown."""

    kind: Literal["stated", "none", "unknown"]
    days: int | None
    label: str


_NOT_GIVEN = Timeframe("unknown", None, "not given")
_UNCLEAR = Timeframe("unknown", None, "unclear")
_NO_TIMELINE = Timeframe("none", None, "no timeline")
_IMMEDIATE_DAYS = 14
_OVER_EXTRA_DAYS = 175  # "more than a year" reads as about eighteen months: 365 + 175 = 540.

_SPACES = re.compile(r"\s+")
_BLANKS = frozenset({"", "-", "--", "n/a", "na", "n.a.", "null", "nil", "."})
_NONE_WORDS = re.compile(
    r"\b(?:no (?:timeline|timeframe|time frame|set timeline|specific timeline|firm timeline|"
    r"plans?|current plans|immediate plans|rush|date set)|not (?:currently|now|right now|"
    r"at this time|at the moment|yet|looking|planning|in the market|buying)|just (?:researching|"
    r"looking|browsing|exploring|curious|gathering (?:information|info))|researching|"
    r"exploring options|none|nothing planned|no need|someday|some day|eventually|"
    r"down the road)\b"
)
_UNITS: dict[str, tuple[str, Fraction]] = {}
for _names, _unit, _days in (
    (("d", "day", "days"), "day", Fraction(1)),
    (("w", "wk", "wks", "week", "weeks"), "week", Fraction(7)),
    (("m", "mo", "mos", "mth", "mths", "month", "months"), "month", Fraction(365, 12)),
    (("q", "qtr", "qtrs", "quarter", "quarters"), "quarter", Fraction(365, 4)),
    (("y", "yr", "yrs", "year", "years"), "year", Fraction(365)),
):
    for _name in _names:
        _UNITS[_name] = (_unit, _days)
_WORD_NUMBERS: dict[str, Fraction] = {
    "a": Fraction(1),
    "an": Fraction(1),
    "one": Fraction(1),
    "two": Fraction(2),
    "three": Fraction(3),
    "four": Fraction(4),
    "five": Fraction(5),
    "six": Fraction(6),
    "seven": Fraction(7),
    "eight": Fraction(8),
    "nine": Fraction(9),
    "ten": Fraction(10),
    "eleven": Fraction(11),
    "twelve": Fraction(12),
    "eighteen": Fraction(18),
    "twenty four": Fraction(24),
    "a couple of": Fraction(2),
    "a couple": Fraction(2),
    "couple of": Fraction(2),
    "couple": Fraction(2),
    "a few": Fraction(3),
    "few": Fraction(3),
    "several": Fraction(4),
    "half a": Fraction(1, 2),
    "half": Fraction(1, 2),
}
_DIGITS = r"\d{1,4}(?:\.\d{1,2})?"
_WORD_NUMBER = "|".join(sorted(_WORD_NUMBERS, key=len, reverse=True))
_UNIT_ANY = r"days?|d|weeks?|wks?|w|months?|mos?|mths?|m|quarters?|qtrs?|q|years?|yrs?|y"
_UNIT_WORD = r"days?|weeks?|wks?|months?|mos?|mths?|quarters?|qtrs?|years?|yrs?"
# Four groups: digits and unit ("6 months", "6mo"), or a number word and unit ("a year").
_QTY = rf"(?:({_DIGITS})\s*({_UNIT_ANY})|({_WORD_NUMBER})\s+({_UNIT_WORD}))\b"
_MONTHS: dict[str, int] = {}
for _number, _full in enumerate(calendar.month_name[1:], start=1):
    _MONTHS[_full.lower()] = _number
    _MONTHS[_full.lower()[:3]] = _number
_MONTHS["sept"] = 9
_MONTH_RE = "|".join(sorted(_MONTHS, key=len, reverse=True))
_YEAR_SUFFIX = r"(?:,?\s*(?:of\s+)?(?:fy\s*)?('\d{2}|\d{4}|\d{2}\b))?"

_ISO_DATE = re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b")
_US_DATE = re.compile(r"\b(\d{1,2})/(\d{1,2})/(\d{4})\b")
_QUARTER = re.compile(
    r"\b(?:q([1-4])|([1-4])(?:st|nd|rd|th)\s+quarter|(first|second|third|fourth)\s+quarter)\b"
    + _YEAR_SUFFIX
)
_YEAR_QUARTER = re.compile(r"\b(\d{4})\s*[-/]?\s*q([1-4])\b")
_RANGE = re.compile(
    rf"(?:between\s+)?({_DIGITS})\s*(?:({_UNIT_ANY})\s*)?(?:-|to|and|or)\s*({_DIGITS})\s*"
    rf"({_UNIT_ANY})\b"
)
_OVER = re.compile(
    rf"(?:more than|over|greater than|beyond|longer than|at least|>=?)\s*{_QTY}"
    rf"|{_QTY}\s*(?:\+|or more\b|or longer\b|plus\b)"
    rf"|\b(\d{{1,4}})\s*\+\s*({_UNIT_ANY})\b"
)
_SINGLE = re.compile(rf"(?<![\w.]){_QTY}")
_YEAR_AND_HALF = re.compile(r"\b(?:a |one )?year and a half\b")
_PART_OF_YEAR = re.compile(
    r"\b(early|beginning of|start of|first half of|h1|mid|middle of|second half of|h2|late|"
    r"end of|by end of|by the end of)?\s*(this year|next year|20\d{2})\b"
)
_PERIODS: dict[str, str] = {
    "this week": "this week",
    "next week": "next week",
    "this month": "this month",
    "end of month": "this month",
    "end of the month": "this month",
    "eom": "this month",
    "next month": "next month",
    "this quarter": "this quarter",
    "end of quarter": "this quarter",
    "end of the quarter": "this quarter",
    "eoq": "this quarter",
    "next quarter": "next quarter",
    "year end": "this year",
    "end of year": "this year",
    "end of the year": "this year",
    "eoy": "this year",
    "within the year": "this year",
    "this fiscal year": "this year",
    "next fiscal year": "next year",
}
_PERIOD = re.compile(r"\b(" + "|".join(sorted(_PERIODS, key=len, reverse=True)) + r")\b")
_MONTH = re.compile(
    rf"\b(?:(by|before|in|until|till|through|end of|early|mid|late|around|during|starting)\s+)?"
    rf"({_MONTH_RE})\b\.?(?:\s+(\d{{1,2}})(?:st|nd|rd|th)?\b)?{_YEAR_SUFFIX}"
)
_IMMEDIATE = re.compile(
    r"\b(?:asap|a s a p|as soon as possible|immediately|immediate|right away|right now|now|"
    r"urgent|urgently|today|tomorrow|already|within days|emergency|ready to buy|ready now)\b"
)
_SOON = re.compile(r"\b(?:soon|shortly|near term|near future|coming weeks|short term)\b")


def _end_of_month(year: int, month: int) -> datetime.date:
    return datetime.date(year, month, calendar.monthrange(year, month)[1])


def _end_of_quarter(year: int, quarter: int) -> datetime.date:
    return _end_of_month(year, quarter * 3)


def _year(text: str | None) -> int | None:
    if not text:
        return None
    digits = text.lstrip("'")
    return int(digits) + 2000 if len(digits) == 2 else int(digits)


def _until(received: datetime.date, when: datetime.date, label: str) -> Timeframe:
    return Timeframe("stated", max(0, (when - received).days), label)


def _plural(amount: str, unit: str) -> str:
    return f"{amount} {unit}" if amount in ("1", "1.0") else f"{amount} {unit}s"


def _amount(token: str) -> Fraction:
    return _WORD_NUMBERS[token] if token in _WORD_NUMBERS else Fraction(token)


def _shown(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else f"{float(value):g}"


def _quantity(groups: Sequence[str | None]) -> tuple[str, str]:
    """The number and unit tokens of a `_QTY` match, given its four groups."""
    digits, unit, word, word_unit = groups
    if digits is not None and unit is not None:
        return digits, unit
    assert word is not None and word_unit is not None
    return word, word_unit


def _span(count: Fraction, unit_token: str) -> tuple[int, str]:
    unit, per = _UNITS[unit_token]
    return math.ceil(count * per), unit


def _stated(text: str, received: datetime.date) -> Timeframe | None:
    """The first horizon the text states, trying the most specific forms first."""
    if m := _ISO_DATE.search(text):
        year, month, day = (int(g) for g in m.groups())
        try:
            when = datetime.date(year, month, day)
        except ValueError:
            pass
        else:
            return _until(received, when, f"by {when.isoformat()}")
    if m := _US_DATE.search(text):
        month, day, year = (int(g) for g in m.groups())
        try:
            when = datetime.date(year, month, day)
        except ValueError:
            pass
        else:
            return _until(received, when, f"by {when.isoformat()}")
    if m := _YEAR_QUARTER.search(text):
        year, quarter = int(m.group(1)), int(m.group(2))
        return _until(received, _end_of_quarter(year, quarter), f"by end of Q{quarter} {year}")
    if m := _QUARTER.search(text):
        ordinals = {"first": 1, "second": 2, "third": 3, "fourth": 4}
        quarter = int(m.group(1) or m.group(2) or ordinals[m.group(3)])
        stated_year = _year(m.group(4))
        if stated_year is None:
            stated_year = received.year
            if _end_of_quarter(stated_year, quarter) < received:
                stated_year += 1
        label = f"by end of Q{quarter} {stated_year}"
        return _until(received, _end_of_quarter(stated_year, quarter), label)
    if _YEAR_AND_HALF.search(text):
        return Timeframe("stated", 548, "within 18 months")
    if m := _RANGE.search(text):
        low, low_unit, high, unit_token = m.groups()
        days, unit = _span(Fraction(high), unit_token)
        if low_unit is None:
            return Timeframe("stated", days, f"within {low}-{_plural(high, unit)}")
        first = _plural(low, _UNITS[low_unit][0])
        return Timeframe("stated", days, f"within {first} to {_plural(high, unit)}")
    if m := _OVER.search(text):
        groups = m.groups()
        if groups[8] is not None:
            token, unit_token = groups[8], groups[9]
        else:
            token, unit_token = _quantity(groups[:4] if m.group(1) or m.group(3) else groups[4:8])
        count = _amount(token)
        days, unit = _span(count, unit_token)
        label = f"more than {_plural(_shown(count), unit)}"
        return Timeframe("stated", days + _OVER_EXTRA_DAYS, label)
    if m := _SINGLE.search(text):
        token, unit_token = _quantity(m.groups())
        count = _amount(token)
        days, unit = _span(count, unit_token)
        if unit == "year" and count.denominator != 1 and (count * 12).denominator == 1:
            count, unit = count * 12, "month"  # "half a year" reads better as 6 months
        return Timeframe("stated", days, f"within {_plural(_shown(count), unit)}")
    if m := _PERIOD.search(text):
        return _period(_PERIODS[m.group(1)], received)
    if m := _MONTH.search(text):
        found = _month(m, received)
        if found is not None:
            return found
    if m := _PART_OF_YEAR.search(text):
        return _part_of_year(m.group(1), m.group(2), received)
    if _IMMEDIATE.search(text):
        return Timeframe("stated", _IMMEDIATE_DAYS, "immediately")
    if _SOON.search(text):
        return Timeframe("stated", 30, "soon")
    return None


def _period(period: str, received: datetime.date) -> Timeframe:
    quarter = (received.month - 1) // 3 + 1
    if period == "this week":
        return Timeframe("stated", 7, period)
    if period == "next week":
        return Timeframe("stated", 14, period)
    if period == "this month":
        days = (_end_of_month(received.year, received.month) - received).days
        return Timeframe("stated", max(7, days), period)
    if period == "next month":
        year, month = divmod(received.year * 12 + received.month, 12)
        return _until(received, _end_of_month(year, month + 1), period)
    if period == "this quarter":
        return _until(received, _end_of_quarter(received.year, quarter), period)
    if period == "next quarter":
        year, index = divmod(received.year * 4 + quarter, 4)
        return _until(received, _end_of_quarter(year, index + 1), period)
    if period == "this year":
        days = (datetime.date(received.year, 12, 31) - received).days
        return Timeframe("stated", max(30, days), period)
    return _until(received, datetime.date(received.year + 1, 12, 31), period)


def _part_of_year(part: str | None, which: str, received: datetime.date) -> Timeframe:
    if which == "this year":
        year = received.year
    elif which == "next year":
        year = received.year + 1
    else:
        year = int(which)
    if part is None:
        if which == "this year":
            return _period("this year", received)
        label = which if which == "next year" else f"by end of {year}"
        return _until(received, datetime.date(year, 12, 31), label)
    if part in ("early", "beginning of", "start of"):
        month, label = 3, f"early {year}"
    elif part in ("first half of", "h1", "mid", "middle of"):
        month, label = 6, f"mid {year}"
    else:
        month, label = 12, f"by end of {year}"
    return _until(received, _end_of_month(year, month), label)


def _month(m: re.Match[str], received: datetime.date) -> Timeframe | None:
    prep, name, day_text, year_text = m.groups()
    if name == "may" and not (prep or day_text or year_text):
        return None  # "may" is usually the verb.
    month = _MONTHS[name]
    year = _year(year_text)
    if day_text is not None:
        try:
            when = datetime.date(year or received.year, month, int(day_text))
        except ValueError:
            return None
        if year is None and when < received:
            when = when.replace(year=when.year + 1)
        return _until(received, when, f"by {when.isoformat()}")
    if year is None:
        year = received.year
        if _end_of_month(year, month) < received:
            year += 1
    return _until(
        received, _end_of_month(year, month), f"by end of {calendar.month_name[month]} {year}"
    )


def parse_timeframe(text: str | None, received: datetime.date) -> Timeframe:
    """The buying timeline in `text`, as days from `received` when a horizon is stated."""
    if isinstance(received, datetime.datetime):
        received = received.date()
    if text is None:
        return _NOT_GIVEN
    cleaned = _SPACES.sub(" ", text[:500].lower().replace("–", "-").replace("—", "-")).strip()
    if cleaned in _BLANKS:
        return _NOT_GIVEN
    if _NONE_WORDS.search(cleaned):
        return _NO_TIMELINE
    try:
        found = _stated(cleaned, received)
    except (ValueError, OverflowError):
        found = None  # a date beyond the calendar, e.g. "Q4 9999" read on 9999-12-31
    return found or _UNCLEAR


_TRUE_WORDS = frozenset(
    {
        "yes",
        "y",
        "true",
        "t",
        "1",
        "on",
        "checked",
        "x",
        "granted",
        "opt in",
        "optin",
        "opted in",
        "agree",
        "agreed",
        "accepted",
        "consented",
    }
)
_FALSE_WORDS = frozenset(
    {
        "no",
        "n",
        "false",
        "f",
        "0",
        "off",
        "unchecked",
        "declined",
        "opt out",
        "optout",
        "opted out",
        "denied",
        "refused",
    }
)
_BOOL_SEPARATORS = re.compile(r"[\s_-]+")


def parse_bool(value: str | bool | int | None) -> bool | None:
    """True or False for explicit yes/no answers; None when missing or unrecognised."""
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return {1: True, 0: False}.get(value)
    if not isinstance(value, str):
        return None
    word = _BOOL_SEPARATORS.sub(" ", value.strip().lower()).strip()
    if word in _TRUE_WORDS:
        return True
    if word in _FALSE_WORDS:
        return False
    return None


_COUNT_BLANKS = frozenset({"", "<unavail>", "unavail", "n/a", "na", "none", "null", "nil", "-"})
_COUNT = re.compile(r"([+-]?)(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?")


def parse_count(value: str | int | float | None) -> int | None:
    """A whole, non-negative count; None when missing; ValueError when it is not a count."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"{value} is not a whole number")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"{value} is negative")
        return value
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(f"{value!r} is not a whole number")
        if value < 0:
            raise ValueError(f"{value:g} is negative")
        return int(value)
    text = value.strip()
    if text.lower() in _COUNT_BLANKS:
        return None
    m = _COUNT.fullmatch(text)
    if m is None or (m.group(3) and m.group(3).strip("0")):
        raise ValueError(f"{text[:40]!r} is not a whole number")
    try:
        number = int(m.group(2).replace(",", ""))
    except ValueError:
        raise ValueError(f"{text[:40]!r} is too long to be a count") from None
    if m.group(1) == "-" and number:
        raise ValueError(f"{text[:40]} is negative")
    return number
