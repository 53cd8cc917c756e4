"""Signals read from free text: patient inquiries, spam, phrases, yes/no answers and counts
(timelines are read in `timeframes`)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

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


def business_context(message: str | None) -> bool:
    """Whether a message speaks as a business (our patients, our practice, a demo, our EHR...):
    what tells a practice writing about patients from a patient or caregiver."""
    return bool(message) and _B2B.search(_words(message or "")) is not None


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
        "i agree",
        "i do",
        "i consent",
        "consent",
        "consent given",
        "yes i agree",
        "yes i consent",
        "yes please",
        "accept",
        "i accept",
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
        "i do not agree",
        "i disagree",
        "disagree",
        "no thanks",
        "no thank you",
        "do not contact",
    }
)
_BOOL_SEPARATORS = re.compile(r"[\s_,.!'-]+")


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
