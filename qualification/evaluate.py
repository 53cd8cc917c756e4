"""Evaluate one submission under a criteria sheet: hard stops, scores, bands, status, route."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .contact import (
    EmailCheck,
    PhoneCheck,
    check_email,
    check_npi,
    check_phone,
    check_postal_code,
    check_state,
    normalize_country,
    website_domain,
)
from .criteria import (
    BUYING_CUES,
    DISQUALIFICATION_REASONS,
    INTEREST_TYPES,
    OFFER_SCOPE,
    BandEdges,
    Criteria,
    CriteriaSheet,
)
from .decision import Check, Decision, Outcome, RoutePlan, Status
from .decision_path import DecisionPath, find_decision_path
from .identity import account_keys, person_key
from .phrases import Hit
from .plausible import Field, Plausibility, assess_contact
from .routing import plan_route
from .signals import (
    business_context,
    detect_patient_inquiry,
    detect_spam,
    parse_bool,
    parse_count,
)
from .submission import Submission, submission_from_mapping
from .taxonomy import npi_deactivation, provider_facts
from .text import parse_datetime
from .timeframes import Timeframe, parse_timeframe
from .vocab import RoleMatch

# The reason of a lead whose timeline's window starts beyond the sheet's far horizon, nurtured
# until a recheck (DESIGN §3); with no re-engagement plan it is `timing_too_far` instead.
TIMING_FAR_OUT = "timing_far_out"
# An outbound contact whose role is unknown and who names no path to the buying committee: not
# disqualified, sent to discovery with the sheet's decision_path.unknown_role_status.
DECISION_PATH_UNKNOWN = "decision_path_unknown"
# A lead that is mql but gives a timeline, sent to sales (guide §6; sheet timeline_to_sales).
TIMELINE_PROVIDED = "timeline_provided"
# The borderline reason of a lead that would be SQL but whose request names nothing of the
# offer's scope: a person decides.
SCOPE_UNCONFIRMED = "scope_unconfirmed"
# The borderline reason of a mixed request: the message names the offer's scope as a need of the
# lead's own and also another need (a service we do not offer, a student, a vendor): a person
# decides which one the lead is.
MIXED_REQUEST = "mixed_request"
# Words that, just before a need class's words, say the lead does not have that need ("we are
# not replacing our EHR"); "t" is the end of "don't", "aren't".
_NEGATIONS = frozenset({"not", "no", "never", "nor", "without", "t"})
# Where the words of a request are read for the offer's scope (the need classes read the message).
PAGE_TOPIC_FIELDS: tuple[str, ...] = ("page_topics",)
_WORD = re.compile(r"[^\W_]+")
_NOT_GIVEN = frozenset(
    {"none", "no", "no budget", "0", "0 0", "not sure", "unsure", "unknown", "tbd", "n a", "na"}
)

HARD_STOP_ORDER: tuple[str, ...] = (
    "spam",
    "patient_inquiry",
    "invalid_contact",
    "no_consent",
    "out_of_geography",
    "wrong_org_type",
    "different_specialty",
    "out_of_scope_service",
    "no_decision_path",
)


@dataclass(slots=True)
class _Facts:
    """What evaluation learned about a submission before applying any rule."""

    email: EmailCheck
    phone: PhoneCheck
    plausible: Plausibility
    country: str | None
    state: str | None
    domain: str | None
    specialty: str | None
    specialty_source: str | None
    specialty_text: str | None
    org_type: str | None
    org_type_text: str | None
    role: RoleMatch
    role_text: str | None
    # The decision influence that counts: the role's, raised by a named path to the committee.
    influence: str
    path: DecisionPath | None
    # The request's first match with the offer's scope, and where it was found.
    scope: tuple[Hit, str] | None
    # Need classes the message matches (group "need:NAME").
    needs: tuple[Hit, ...]
    # Nice-to-haves found: name -> what showed it.
    nice: dict[str, str]
    # Where the message states the lead's own buying need (needs.buying_cues), if it does.
    buying: Hit | None
    interest: str | None
    timeframe: Timeframe
    consent_email: bool
    consent_phone: bool
    locations: int | None
    downloads: int | None
    visits: int | None
    engagements: int | None
    attended: bool
    # Mixed requests found by the hard stops: what the message names besides the offer's scope.
    mixed: list[str] = field(default_factory=list)


def _received_date(sub: Submission, today: dt.date) -> dt.date:
    if sub.received_at:
        try:
            return parse_datetime(sub.received_at).date()
        except ValueError:
            pass
    return today


def _count(sub: Submission, name: str, checks: list[Check]) -> int | None:
    raw: str | None = getattr(sub, name)
    try:
        return parse_count(raw)
    except ValueError as exc:
        checks.append(Check("validation", name, "fail", f"{name}: {exc}; treated as unknown."))
        return None


def _flag_checks(plausible: Plausibility, field: Field, checks: list[Check]) -> None:
    """A line per pattern found in a field: `fail` when it makes the field or the contact
    invalid, `info` for a warning or a role mailbox (no status change)."""
    for flag in plausible.flags:  # usually none
        if flag.field == field:
            outcome: Outcome = "fail" if flag.invalid else "info"
            name = f"{field}:{flag.pattern}"
            checks.append(Check("validation", name, outcome, plausible.sentence(flag)))


def _gather(sub: Submission, c: Criteria, today: dt.date, checks: list[Check]) -> _Facts:
    sheet = c.sheet
    vocab = c.vocabulary
    email = check_email(sub.email)
    country = normalize_country(sub.country) if sub.country else sheet.defaults.country
    phone = check_phone(sub.phone, country or sheet.defaults.phone_region)
    plausible = assess_contact(email, phone, sub.phone, sub.contact_name)

    unusable = plausible.unusable("email") if plausible.flags else None
    if unusable is not None:
        email = EmailCheck(True, False, None, None, None, False, unusable.text)
    elif email.valid:
        kind = "personal domain, kept" if email.personal_domain else "work domain"
        checks.append(Check("validation", "email", "pass", f"Email is valid ({kind})."))
    elif email.present:
        checks.append(Check("validation", "email", "fail", f"email: not valid: {email.error}"))
    else:
        checks.append(Check("validation", "email", "unknown", "email: not given."))
    _flag_checks(plausible, "email", checks)

    if sub.country and country is None:
        checks.append(
            Check(
                "validation", "country", "fail", f"country: '{sub.country}' is not a known country."
            )
        )
    unusable = plausible.unusable("phone") if plausible.flags else None
    if unusable is not None:
        phone = PhoneCheck(True, False, None, phone.extension, phone.recovered_float, unusable.text)
    elif phone.valid:
        how = " (recovered from a spreadsheet number)" if phone.recovered_float else ""
        checks.append(Check("validation", "phone", "pass", f"Phone is valid: {phone.e164}{how}."))
    elif phone.present:
        checks.append(Check("validation", "phone", "fail", f"phone: not valid: {phone.error}"))
    _flag_checks(plausible, "phone", checks)
    _flag_checks(plausible, "contact_name", checks)

    state_check = check_state(sub.state, country)
    state = state_check.code if state_check.valid else None
    if state_check.present and not state_check.valid:
        checks.append(Check("validation", "state", "fail", f"state: {state_check.error}"))
    if sub.postal_code:
        postal = check_postal_code(sub.postal_code, country)
        if not postal.valid:
            checks.append(
                Check("validation", "postal_code", "fail", f"postal_code: {postal.error}")
            )
    if sub.npi:
        npi = check_npi(sub.npi)
        outcome: Outcome = "pass" if npi.valid else "fail"
        detail = "NPI check digit is valid." if npi.valid else f"npi: {npi.error}"
        checks.append(Check("validation", "npi", outcome, detail))

    domain = website_domain(sub.website)
    if sub.website and domain is None:
        checks.append(
            Check("validation", "website", "fail", f"website: '{sub.website[:80]}' has no domain.")
        )
    if domain is None and email.valid and not email.personal_domain:
        domain = email.domain

    provider = provider_facts(
        sub.taxonomy_codes, sub.specialty, sub.entity_type, sub.parent_organization, c.taxonomy
    )
    for name, outcome_, detail in provider.lines:
        checks.append(Check("validation", name, outcome_, detail))
    specialty = provider.specialty or vocab.specialty(sub.specialty)
    source = "given" if specialty else None
    specialty_text = sub.specialty
    for text, where in (
        (sub.organization_name, "organization name"),
        (sub.webinar_session, "webinar topic"),
    ):
        if specialty is None and text:
            specialty = vocab.specialty(text)
            source = where if specialty else None
            specialty_text = text if specialty else None
    given = source == "given"
    if sub.specialty and not given and not provider.read_specialty_text:
        checks.append(
            Check(
                "validation",
                "specialty",
                "unknown",
                f"specialty: '{sub.specialty[:60]}' is not in the vocabulary.",
            )
        )

    org_type = vocab.org_type(sub.org_type) or provider.org_type
    org_type_text = None
    if org_type is None and sub.organization_name:
        org_type = vocab.org_type(sub.organization_name)
        org_type_text = sub.organization_name if org_type else None
    role = provider.role or vocab.role(sub.contact_role)
    path = find_decision_path(sub, vocab)
    influence: str = role.influence
    if path is not None and _rank(influence) < _rank(sheet.decision_path.path_counts_as):
        influence = sheet.decision_path.path_counts_as
    scope, needs, nice, buying = _read_request(sub, c)

    interest = (sub.interest_type or "").strip().lower() or None
    if interest is not None and interest not in INTEREST_TYPES:
        checks.append(
            Check(
                "validation",
                "interest_type",
                "fail",
                f"interest_type: '{interest[:40]}' is not one of {', '.join(INTEREST_TYPES)}.",
            )
        )
        interest = None
    if interest is None and sub.channel == "webinar":
        interest = "webinar"

    timeframe = parse_timeframe(sub.timeframe, _received_date(sub, today))
    consent_email = parse_bool(sub.consent_email) is True
    consent_phone = parse_bool(sub.consent_phone) is True
    return _Facts(
        email=email,
        phone=phone,
        plausible=plausible,
        country=country,
        state=state,
        domain=domain,
        specialty=specialty,
        specialty_source=source,
        specialty_text=specialty_text,
        org_type=org_type,
        org_type_text=org_type_text,
        role=role,
        role_text=sub.contact_role,
        influence=influence,
        path=path,
        scope=scope,
        needs=needs,
        nice=nice,
        buying=buying,
        interest=interest,
        timeframe=timeframe,
        consent_email=consent_email,
        consent_phone=consent_phone,
        locations=_count(sub, "locations_count", checks),
        downloads=_count(sub, "content_downloads", checks),
        visits=_count(sub, "page_visits_high_intent", checks),
        engagements=_count(sub, "email_engagements", checks),
        attended=parse_bool(sub.webinar_attended) is True,
    )


_RANK = {"unknown": 0, "user": 1, "influencer": 2, "decider": 3}


def _rank(influence: str) -> int:
    return _RANK.get(influence, 0)


def article(word: str) -> str:
    """'an influencer', 'a decider', 'a user', 'an unknown'."""
    vowel = word[:1].lower() in "aeiou" and not word.lower().startswith(("us", "uni", "eu"))
    return f"{'an' if vowel else 'a'} {word}"


def _quote(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return f"'{text[:limit]}{'...' if len(text) > limit else ''}'"


def _read_request(
    sub: Submission, c: Criteria
) -> tuple[tuple[Hit, str] | None, tuple[Hit, ...], dict[str, str], Hit | None]:
    """What the request asks for: its first match with the offer's scope (message, webinar
    topic, page topics) and where; the need classes its message (a form's message, a webinar's
    question or notes) matches, unless negated; the nice-to-haves; the buying cue."""
    found = c.phrases.find(sub.message)
    scope: tuple[Hit, str] | None = next(
        ((h, "message") for h in found if h.group == OFFER_SCOPE), None
    )
    if scope is None:
        topics = [(sub.webinar_session, "webinar topic")]
        topics += [(sub.extra.get(name), name.replace("_", " ")) for name in PAGE_TOPIC_FIELDS]
        for text, where in topics:
            hit = next((h for h in c.phrases.find(text) if h.group == OFFER_SCOPE), None)
            if hit is not None:
                scope = (hit, where)
                break
    needs = tuple(
        h for h in found if h.group.startswith("need:") and not _negated(sub.message or "", h)
    )
    buying = next((h for h in found if h.group == BUYING_CUES), None)
    nice: dict[str, str] = {}
    budget = (sub.budget_range or "").strip()
    if budget and " ".join(budget.lower().replace("/", " ").split()) not in _NOT_GIVEN:
        nice["budget_signal"] = f"budget range {_quote(budget, 40)} given"
    # Guide §3: the current system or vendor is asked "if the offer supports vendor switching";
    # one named is the vendor switching signal.
    vendor = (sub.current_vendor or "").strip()
    if vendor and " ".join(vendor.lower().replace("/", " ").split()) not in _NOT_GIVEN:
        nice["vendor_switching"] = f"current vendor {_quote(vendor, 40)} named"
    for hit in found:
        name = hit.group.removeprefix("nice:")
        if hit.group.startswith("nice:") and name not in nice:
            nice[name] = f"{_quote(hit.text)} in the message"
    return scope, needs, nice, buying


def _negated(message: str, hit: Hit) -> bool:
    """Whether one of the three words before the hit says the lead does not have the need."""
    at = message.lower().find(hit.text.lower())
    if at < 0:
        return False
    before = _WORD.findall(message[:at].lower())[-3:]
    return any(w in _NEGATIONS for w in before)


def _consent(f: _Facts, sub: Submission, checks: list[Check]) -> None:
    for channel, granted, raw in (
        ("email", f.consent_email, sub.consent_email),
        ("phone", f.consent_phone, sub.consent_phone),
    ):
        if granted:
            checks.append(
                Check("consent", channel, "pass", f"Consent to {channel} contact recorded.")
            )
        elif raw is None:
            checks.append(Check("consent", channel, "unknown", f"No {channel} consent recorded."))
        else:
            checks.append(
                Check("consent", channel, "fail", f"{channel.capitalize()} consent declined.")
            )


def _consent_given(sub: Submission) -> tuple[tuple[str, bool], ...]:
    """Each consent the submission answers, yes or no; a value that is neither is not consent."""
    given = []
    for channel, raw in (("email", sub.consent_email), ("phone", sub.consent_phone)):
        granted = parse_bool(raw)
        if granted is not None:
            given.append((channel, granted))
    return tuple(given)


def _hard_stops(f: _Facts, sub: Submission, c: Criteria, checks: list[Check]) -> dict[str, str]:
    """Every hard stop that fails, keyed by reason code, with the sentence that explains it."""
    sheet = c.sheet
    stops = sheet.hard_stops
    scope = sheet.scope
    failed: dict[str, str] = {}
    if stops.spam:
        spam = detect_spam(
            sub.message,
            sub.organization_name,
            sub.contact_name,
            sheet.spam.phrases,
            sheet.spam.max_links,
        )
        if spam.is_spam:
            failed["spam"] = f"Looks like spam ({', '.join(spam.cues)})."
    if stops.patient_inquiry:
        patient = detect_patient_inquiry(sub.message, sub.organization_name, f.org_type)
        if patient.is_patient:
            failed["patient_inquiry"] = (
                "A patient writing about their own care "
                f"({', '.join(patient.cues)}); the message is redacted."
            )
    deactivated = npi_deactivation(sub.npi, sub.npi_deactivated_on, sub.npi_reactivated_on)
    if stops.invalid_contact and deactivated:
        failed["invalid_contact"] = deactivated
    elif stops.invalid_contact and f.plausible.contact_invalid:
        failed["invalid_contact"] = f.plausible.why_invalid()
    if sub.channel in stops.no_consent_channels and not (f.consent_email or f.consent_phone):
        failed["no_consent"] = f"No email or phone consent on a {sub.channel} submission."
    if stops.out_of_geography:
        if f.country is not None and f.country not in scope.countries:
            failed["out_of_geography"] = (
                f"Country {f.country} is outside {', '.join(scope.countries)}."
            )
        elif f.state is not None and scope.states and f.state not in scope.states:
            failed["out_of_geography"] = f"State {f.state} is outside the coverage area."
    allowed_types = (*scope.org_types.preferred, *scope.org_types.accepted)
    if stops.wrong_org_type and f.org_type is not None and f.org_type not in allowed_types:
        failed["wrong_org_type"] = f"Organization type {f.org_type} is not one we sell to."
    allowed = (*scope.specialties.core, *scope.specialties.adjacent)
    if stops.different_specialty and f.specialty_source == "given" and f.specialty not in allowed:
        failed["different_specialty"] = f"Specialty {f.specialty} is outside the offer."
    for hit in f.needs:
        _need_stop(hit, f, sub, c, failed, checks)
    if (
        sub.channel in stops.no_decision_path_channels
        and f.path is None
        and f.influence != "unknown"
        and f.influence not in sheet.sql_conditions.decision_influence
    ):
        failed["no_decision_path"] = (
            f"Contact role {f.role.role} ({_quote(sub.contact_role or '', 40)}) is "
            f"{article(f.influence)}, not on the decision path, and no path to the buying "
            "committee is named (no decision maker or approver field, no one named in the "
            "message as deciding or signing)."
        )
    return failed


def _need_stop(
    hit: Hit, f: _Facts, sub: Submission, c: Criteria, failed: dict[str, str], checks: list[Check]
) -> None:
    """A need class the message matches: a hard stop with the class's reason (when the sheet's
    hard_stops leave that reason on), unless the message also names the offer's scope as the
    lead's own need (the class yields to the offer, or the message states a buying need): then
    the request is mixed and a person decides. A webinar topic or page topic is where the lead
    came from, not what it asks: it does not outweigh the lead's own words."""
    name = hit.group.removeprefix("need:")
    need = c.needs.get(name)
    if need is None:
        return
    reason = str(need.reason)
    label = need.label or name.replace("_", " ")
    switch = getattr(c.sheet.hard_stops, reason, True)
    if switch is False or reason in failed:
        return
    if reason == "patient_inquiry" and business_context(sub.message):
        checks.append(
            Check(
                "hard_stop",
                f"need:{name}",
                "info",
                f"The message matches need class {name} ({label}) but speaks as a "
                "business (our patients, our practice...): not a patient inquiry.",
            )
        )
        return
    in_message = f.scope is not None and f.scope[1] == "message"
    if in_message and (need.yields_to_offer or f.buying is not None):
        assert f.scope is not None
        said = "" if reason == "patient_inquiry" else f" ({_quote(hit.text)} in the message)"
        own = ""
        if not need.yields_to_offer and f.buying is not None:
            own = f", stated as its own need ({_quote(f.buying.text)})"
        f.mixed.append(
            f"the message names the offer's scope ({_quote(f.scope[0].text)}){own} and need "
            f"class {name} ({label}){said}: both were found"
        )
        checks.append(
            Check(
                "hard_stop",
                f"need:{name}",
                "info",
                f"The message matches need class {name} ({label}){said}, but it names the "
                f"offer's scope too ({_quote(f.scope[0].text)}){own}: not a hard stop, a mixed "
                "request.",
            )
        )
        return
    if reason == "patient_inquiry":
        # The words stay out of the record: the message is redacted.
        failed[reason] = f"{label.capitalize()} (need class {name}); the message is redacted."
        return
    said = f"{_quote(hit.text)} in the message, need class {name}"
    failed[reason] = f"Asks for {label} ({said})."


def _fit(f: _Facts, sheet: CriteriaSheet, checks: list[Check]) -> int:
    w = sheet.fit
    scope = sheet.scope
    total = 0

    def add(name: str, points: int, outcome: Outcome, detail: str) -> None:
        nonlocal total
        total += points
        checks.append(Check("fit", name, outcome, f"Fit +{points}: {detail}", points))

    how = (
        ""
        if f.specialty_source in (None, "given")
        else f" (inferred from the {f.specialty_source} {_quote(f.specialty_text or '', 60)})"
    )
    org_how = (
        f" (inferred from the organization name {_quote(f.org_type_text, 60)})"
        if f.org_type_text
        else ""
    )
    if f.specialty in scope.specialties.core:
        add("specialty", w.specialty.core, "pass", f"{f.specialty} is a core specialty{how}.")
    elif f.specialty in scope.specialties.adjacent:
        add(
            "specialty",
            w.specialty.adjacent,
            "pass",
            f"{f.specialty} is an adjacent specialty{how}.",
        )
    elif f.specialty is None:
        add("specialty", 0, "unknown", "specialty unknown.")
    else:
        add("specialty", 0, "fail", f"{f.specialty} is not a specialty we serve{how}.")

    in_country = f.country in scope.countries
    if in_country and (not scope.states or f.state in scope.states):
        add(
            "geography",
            w.geography.in_territory,
            "pass",
            f"{f.state or f.country} is in the territory.",
        )
    elif f.country is None or (scope.states and f.state is None):
        add("geography", 0, "unknown", "location unknown.")
    else:
        add("geography", 0, "fail", f"{f.state or f.country} is outside the territory.")

    if f.org_type in scope.org_types.preferred:
        add(
            "org_type",
            w.org_type.preferred,
            "pass",
            f"{f.org_type} is a preferred organization type{org_how}.",
        )
    elif f.org_type in scope.org_types.accepted:
        add(
            "org_type",
            w.org_type.accepted,
            "pass",
            f"{f.org_type} is an accepted organization type{org_how}.",
        )
    elif f.org_type is None:
        add("org_type", 0, "unknown", "organization type unknown.")
    else:
        add(
            "org_type",
            0,
            "fail",
            f"{f.org_type} is not an organization type we sell to{org_how}.",
        )

    influence = f.influence
    role_points = {"decider": w.role.decider, "influencer": w.role.influencer, "user": w.role.user}
    role = _role_words(f)
    if f.path is not None and influence != f.role.influence:
        by_title = (
            "decision influence unknown by title"
            if f.role.influence == "unknown"
            else f"{article(f.role.influence)} by title"
        )
        add(
            "role",
            role_points[influence],
            "pass",
            f"{role}: {by_title}, but a path to the buying committee is named, "
            f"{f.path.described()}: counts as {article(influence)}.",
        )
    elif influence == "unknown":
        add("role", 0, "unknown", f"{role}: decision influence unknown.")
    else:
        add("role", role_points[influence], "pass", f"{role} is {article(influence)}.")
        if f.path is not None:
            checks.append(
                Check(
                    "fit",
                    "decision_path",
                    "info",
                    f"Path to the buying committee named: {f.path.described()}.",
                )
            )

    if f.locations is not None and w.locations:
        step = max(
            (s for s in w.locations if f.locations >= s.min), key=lambda s: s.min, default=None
        )
        points = step.points if step else 0
        add("locations", points, "pass", f"{f.locations} location(s).")
    elif w.locations:
        add("locations", 0, "unknown", "number of locations unknown.")
    return min(total, 100)


def _intent(f: _Facts, sheet: CriteriaSheet, checks: list[Check]) -> int:
    w = sheet.intent
    total = 0

    def add(name: str, points: int, detail: str) -> None:
        nonlocal total
        total += points
        outcome: Outcome = "pass" if points else "info"
        checks.append(Check("intent", name, outcome, f"Intent +{points}: {detail}", points))

    if f.interest is not None:
        add("interest_type", w.interest_type.get(f.interest, 0), f"asked for {f.interest}.")  # type: ignore[call-overload]
    else:
        add("interest_type", 0, "no interest type given.")
    for name, count, rule, noun in (
        ("content_downloads", f.downloads, w.content_downloads, "content download(s)"),
        (
            "page_visits_high_intent",
            f.visits,
            w.page_visits_high_intent,
            "high-intent page visit(s)",
        ),
        ("email_engagements", f.engagements, w.email_engagements, "program email engagement(s)"),
    ):
        if count:
            add(name, min(count * rule.each, rule.max), f"{count} {noun}.")
    if f.attended:
        add("webinar_attended", w.webinar_attended, "attended the webinar.")
    for name, shown in f.nice.items():
        points = getattr(sheet.nice_to_have_points, name).points
        add(name, points, f"nice-to-have {name.replace('_', ' ')}: {shown}.")
    return min(total, 100)


def band_of(score: int, edges: BandEdges) -> str:
    """low below `mid`, high from `high` up, mid between."""
    return "high" if score >= edges.high else "mid" if score >= edges.mid else "low"


def _end_days(timeframe: Timeframe) -> int | None:
    """Days from the day it was said to the window's last day."""
    if timeframe.days is None or timeframe.start is None or timeframe.end is None:
        return None
    return timeframe.days + (timeframe.end - timeframe.start).days


def _near_term(timeframe: Timeframe, sheet: CriteriaSheet) -> bool:
    """The window starts within the near-term horizon and is over soon enough ("within 3
    months" starts now; "sometime next year" said in November starts in five weeks but runs for
    thirteen months: no near-term need)."""
    days, end = timeframe.days, _end_days(timeframe)
    return (
        days is not None
        and end is not None
        and days <= sheet.sql_conditions.near_term_days
        and end <= sheet.timing.near_term_end(sheet.sql_conditions.near_term_days)
    )


def _far_out(timeframe: Timeframe, sheet: CriteriaSheet) -> bool:
    """Not near-term, and the window runs beyond the far-out horizon (the buyer may not be
    ready before then)."""
    end = _end_days(timeframe)
    return end is not None and end > sheet.timing.too_far_days and not _near_term(timeframe, sheet)


def _window_verdict(timeframe: Timeframe, sheet: CriteriaSheet) -> str:
    """The timeline in words and dates and where it falls against the sheet's horizons."""
    near, far = sheet.sql_conditions.near_term_days, sheet.timing.too_far_days
    last = sheet.timing.near_term_end(near)
    said = timeframe.described()
    if timeframe.kind != "stated":
        return f"{said}: no window, so not near-term"
    if _near_term(timeframe, sheet):
        return f"{said}: near-term (starts within {near} days, over within {last} days)"
    if _far_out(timeframe, sheet):
        return f"{said}: far out (runs beyond {far} days)"
    why = f"beyond {near} days" if (timeframe.days or 0) > near else f"runs beyond {last} days"
    return f"{said}: not near-term ({why}), not far out (over within {far} days)"


def _far_out_recheck(timeframe: Timeframe, sheet: CriteriaSheet, today: dt.date) -> tuple[int, str]:
    """Days from today to the recheck of a far-out lead, and why that day, as the sheet says."""
    rule, shortest = sheet.timing.far_out_recheck, min(sheet.recheck.horizons_days)
    if rule == "window":
        near = sheet.sql_conditions.near_term_days
        assert timeframe.start is not None
        days = (timeframe.start - dt.timedelta(days=near) - today).days
        why = f"when the window comes within {near} days; timing.far_out_recheck: window"
        if days < shortest:  # a long window that already starts soon
            days = shortest
            why = f"the shortest recheck horizon, {shortest} days; the window starts within {near}"
    else:
        days, why = rule, f"the sheet's {rule}-day horizon; timing.far_out_recheck: {rule}"
    return max(days, shortest), why


def _role_words(f: _Facts) -> str:
    if f.role.role is None:
        return "role not given"
    if not f.role_text:  # inferred, not written (an NPPES individual's sheet-mapped role)
        return f"role {f.role.role}"
    return f"role {f.role.role} ({_quote(f.role_text, 40)})"


def _sql_conditions(f: _Facts, sheet: CriteriaSheet) -> list[tuple[str, bool, str]]:
    rules = sheet.sql_conditions
    near = _near_term(f.timeframe, sheet)
    discovery = f.interest in rules.discovery_interest_types or (
        rules.phone_consent_counts_as_discovery and f.consent_phone and f.phone.valid
    )
    path = f"; path named: {f.path.described()}" if f.path else ""
    return [
        ("interest_in_scope", _in_scope(f, sheet), _scope_words(f, sheet)),
        (
            "decision_process",
            f.influence in rules.decision_influence,
            f"contact is {article(f.influence)} ({_role_words(f)}{path})",
        ),
        ("near_term_timeline", near, _window_verdict(f.timeframe, sheet)),
        ("discovery_available", discovery, "asked for a meeting or gave phone consent"),
        ("eligibility_rechecked", True, "no hard stop applies"),
    ]


def _scope_required(sheet: CriteriaSheet) -> bool:
    """Whether the sheet lists its offer's scope: then a request must match it positively."""
    return bool(sheet.needs.offer_scope)


def _in_scope(f: _Facts, sheet: CriteriaSheet) -> bool:
    asked = f.interest in sheet.sql_conditions.interest_types
    return asked and (f.scope is not None or not _scope_required(sheet))


def _scope_words(f: _Facts, sheet: CriteriaSheet) -> str:
    asked = f"interest: {f.interest or 'none'}"
    if f.interest not in sheet.sql_conditions.interest_types:
        asked += f" (SQL needs one of {', '.join(sheet.sql_conditions.interest_types)})"
    if f.scope is not None:
        hit, where = f.scope
        return f"{asked}; the request names the offer's scope: {_quote(hit.text)} ({where})"
    if not _scope_required(sheet):
        return f"{asked}; the sheet lists no offer scope (needs.offer_scope)"
    return (
        f"{asked}; nothing in the request (message, webinar topic, page topics) names the "
        "offer's scope (needs.offer_scope)"
    )


def _unknown_must_haves(f: _Facts, sheet: CriteriaSheet) -> list[str]:
    known = {
        "specialty": f.specialty is not None,
        "org_type": f.org_type is not None,
        "decision_role": f.influence != "unknown",
        "location": f.country is not None and (not sheet.scope.states or f.state is not None),
        "timeframe": f.timeframe.kind in ("stated", "none"),
    }
    return [m for m in sheet.must_have if not known[m]]


def _nice_to_have(sub: Submission, sheet: CriteriaSheet, checks: list[Check]) -> None:
    for item in sheet.nice_to_have:
        given = bool(getattr(sub, item, None))
        outcome: Outcome = "pass" if given else "unknown"
        detail = f"Nice to have {item}: {'given' if given else 'not given'}."
        checks.append(Check("nice_to_have", item, outcome, detail))


def _route_checks(route: RoutePlan, checks: list[Check]) -> None:
    if route.team not in ("sales", "marketing"):
        return
    names = ", ".join(route.candidates) or "none"
    checks.append(
        Check(
            "routing",
            route.team,
            "info",
            f"Route to {route.team}: eligible owners {names}; fallback {route.fallback}.",
        )
    )
    for owner_id, why in route.skipped:
        checks.append(Check("routing", owner_id, "info", f"Skipped owner {owner_id}: {why}."))


def evaluate(sub: Submission, criteria: Criteria, *, today: dt.date) -> Decision:
    """Decide one submission. Pure: the same submission, sheet and date give the same decision."""
    sheet = criteria.sheet
    checks: list[Check] = []
    f = _gather(sub, criteria, today, checks)
    _consent(f, sub, checks)

    failed = _hard_stops(f, sub, criteria, checks)
    for name in HARD_STOP_ORDER:
        if name in failed:
            checks.append(Check("hard_stop", name, "fail", f"Hard stop {name}: {failed[name]}"))
    if not failed:
        checks.append(Check("hard_stop", "all", "pass", "No hard stop applies."))

    fit = _fit(f, sheet, checks)
    intent = _intent(f, sheet, checks)
    bands = sheet.bands
    fit_band = band_of(fit, bands.fit)
    intent_band = band_of(intent, bands.intent)
    action = sheet.routing_table.action(fit_band, intent_band)
    conditions = _sql_conditions(f, sheet)
    far_out = not failed and _far_out(f.timeframe, sheet)
    bands_said = f"Fit {fit} is {fit_band}, intent {intent} is {intent_band}"
    if failed:
        first = next(n for n in HARD_STOP_ORDER if n in failed)
        said = (
            f"{bands_said}: the routing table would say {action}, but it does not apply: "
            f"the hard stop {first} disqualifies first."
        )
    elif far_out:
        said = (
            f"{bands_said}: the routing table would say {action}, but it does not apply: "
            "the timeline is far out."
        )
    else:
        said = f"{bands_said}: the routing table says {action}."
    checks.append(Check("band", "routing_table", "info", said))

    reason = ""
    status: Status
    recheck_days: int | None = None
    if failed:
        reason = next(n for n in HARD_STOP_ORDER if n in failed)
        status = "disqualified"
    elif far_out:
        status, reason, recheck_days = _timing_far_out(f.timeframe, sheet, today, checks)
    else:
        checks.append(
            Check(
                "timing",
                "window",
                "pass" if _near_term(f.timeframe, sheet) else "info",
                f"{_window_verdict(f.timeframe, sheet)}.",
            )
        )
        status, reason = _status(action, conditions, f, sub, sheet, fit_band, checks)
        status, reason = _discovery(status, reason, f, sub, sheet, checks)

    borderline_reasons: list[str] = []
    proposed: Status | None = None
    if status != "disqualified" and not far_out:
        borderline_reasons = _borderline(
            fit, intent, fit_band, intent_band, action, conditions, f, sheet, checks
        )
        if reason == DECISION_PATH_UNKNOWN and sheet.decision_path.unknown_role_status == (
            "in_review"
        ):
            borderline_reasons.insert(0, DECISION_PATH_UNKNOWN)
        if f.mixed:
            borderline_reasons.insert(0, MIXED_REQUEST)
            checks.append(
                Check(
                    "borderline",
                    MIXED_REQUEST,
                    "unknown",
                    f"Borderline: a mixed request; {'; '.join(f.mixed)}. A person decides "
                    "which need the lead has.",
                )
            )
        if _scope_unconfirmed(status, reason, conditions, f, sheet):
            borderline_reasons.insert(0, SCOPE_UNCONFIRMED)
            checks.append(
                Check(
                    "borderline",
                    SCOPE_UNCONFIRMED,
                    "unknown",
                    "Borderline: everything else says SQL, but the request does not name the "
                    "offer's scope (a demo or pricing request alone does not confirm the exact "
                    "scope): a person decides.",
                )
            )
        if borderline_reasons:
            proposed = status
            status = "in_review"
            reason = borderline_reasons[0]
            checks.append(
                Check(
                    "status",
                    "borderline",
                    "info",
                    f"Status in_review: a person decides (automatic outcome would be {proposed}).",
                )
            )

    permanent: bool | None = None
    if status == "disqualified":
        permanent = DISQUALIFICATION_REASONS[reason]
        if not permanent and recheck_days is None:
            recheck_days = sheet.recheck.temporary_disqualification_days.get(reason)
        kind = "permanent" if permanent else "temporary"
        checks.append(Check("status", reason, "fail", f"Status disqualified: {reason} ({kind})."))
    elif status == "mql_no_timeline":
        recheck_days = sheet.recheck.mql_no_timeline_days

    _nice_to_have(sub, sheet, checks)
    route = plan_route(status, f.state, f.specialty, sheet.routing)
    _route_checks(route, checks)

    questions = sheet.discovery_questions
    discovery = tuple(questions.by_specialty.get(f.specialty, []) if f.specialty else []) + tuple(
        questions.default
    )
    sla = getattr(sheet.slas, status, None)
    person = person_key(f.email, f.phone)
    redacted = "patient_inquiry" in failed
    return Decision(
        submission_id=sub.submission_id,
        row=sub.row,
        channel=sub.channel,
        status=status,
        reason=reason,
        reason_permanent=permanent,
        fit_score=fit,
        intent_score=intent,
        fit_band=fit_band,
        intent_band=intent_band,
        borderline=bool(borderline_reasons),
        borderline_reasons=tuple(borderline_reasons),
        proposed_status=proposed,
        email=f.email.normalized,
        phone=f.phone.e164,
        consent_email=f.consent_email,
        consent_phone=f.consent_phone,
        consent_given=_consent_given(sub),
        consent_text=sub.consent_text,
        form_version=sub.form_version,
        person_key=person.key,
        person_by_phone=person.by_phone,
        contact_name=sub.contact_name,
        account_keys=account_keys(
            f.domain, sub.organization_name, f.state, sub.parent_organization
        ),
        organization_name=sub.organization_name,
        domain=f.domain,
        locations_count=f.locations,
        source=sub.source,
        campaign=sub.campaign,
        specialty=f.specialty,
        org_type=f.org_type,
        role=f.role.role,
        influence=f.influence,
        country=f.country,
        state=f.state,
        interest_type=f.interest,
        timeframe=f.timeframe.summary,
        timeline_days=f.timeframe.days,
        sla_hours=sla,
        recheck_days=recheck_days,
        route=route,
        discovery_questions=discovery
        if status == "sql" or proposed == "sql" or SCOPE_UNCONFIRMED in borderline_reasons
        else (),
        discovery_notes=None if redacted else sub.message,
        current_vendor=sub.current_vendor,
        budget_range=sub.budget_range,
        webinar_session=sub.webinar_session,
        webinar_attended=f.attended,
        redacted=redacted,
        checks=tuple(checks),
        criteria_version=criteria.version,
        decision_path=None if f.path is None or redacted else f.path.described(),
        scope_match=None
        if f.scope is None or redacted
        else f"{_quote(f.scope[0].text)} ({f.scope[1]})",
        nice_to_haves=() if redacted else tuple(f"{k}: {v}" for k, v in f.nice.items()),
    )


def _timing_far_out(
    timeframe: Timeframe, sheet: CriteriaSheet, today: dt.date, checks: list[Check]
) -> tuple[Status, str, int | None]:
    """A window starting beyond the far horizon: nurture with a recheck date where the offer
    re-engages, else disqualified as timing_too_far (guide §12), rechecked only if the sheet
    gives that reason a recheck horizon."""
    verdict = _window_verdict(timeframe, sheet)
    if sheet.timing.re_engagement:
        days, why = _far_out_recheck(timeframe, sheet, today)
        on = today + dt.timedelta(days=days)
        checks.append(
            Check(
                "timing",
                "far_out",
                "info",
                f"{verdict}; the offer re-engages (timing.re_engagement): nurture, "
                f"recheck on {on} ({why}).",
            )
        )
        checks.append(
            Check(
                "status",
                TIMING_FAR_OUT,
                "info",
                f"Status nurture: the timeline is far out; recheck on {on}.",
            )
        )
        return "nurture", TIMING_FAR_OUT, days
    later = sheet.recheck.temporary_disqualification_days.get("timing_too_far")
    then = (
        f"recheck on {today + dt.timedelta(days=later)} (recheck.temporary_disqualification_days)"
        if later
        else "no recheck"
    )
    checks.append(
        Check(
            "timing",
            "too_far",
            "fail",
            f"{verdict}; the offer has no re-engagement plan (timing.re_engagement: false): "
            f"disqualified, {then}.",
        )
    )
    return "disqualified", "timing_too_far", later


def _status(
    action: str,
    conditions: list[tuple[str, bool, str]],
    f: _Facts,
    sub: Submission,
    sheet: CriteriaSheet,
    fit_band: str,
    checks: list[Check],
) -> tuple[Status, str]:
    status, reason = _table_status(action, conditions, f, sheet, checks)
    rule = sheet.timeline_to_sales
    if (
        status == "mql"
        and sub.channel in rule.channels
        and fit_band in rule.fit_bands
        and f.timeframe.kind == "stated"
    ):
        checks.append(
            Check(
                "status",
                TIMELINE_PROVIDED,
                "pass",
                f"Status sql: a timeline is provided ({f.timeframe.described()}) on a "
                f"{sub.channel} lead with {fit_band} fit (timeline_to_sales; guide §6: route to "
                "sales if SQL criteria are met or if timing is provided).",
            )
        )
        return "sql", TIMELINE_PROVIDED
    return status, reason


def _discovery(
    status: Status,
    reason: str,
    f: _Facts,
    sub: Submission,
    sheet: CriteriaSheet,
    checks: list[Check],
) -> tuple[Status, str]:
    """An outbound contact whose role is unknown and who names no path: not disqualified, sent
    to discovery with the sheet's status; a low-fit lead (nurture) stays nurture."""
    if (
        sub.channel not in sheet.hard_stops.no_decision_path_channels
        or f.influence != "unknown"
        or f.path is not None
    ):
        return status, reason
    if status == "nurture":
        checks.append(
            Check(
                "status",
                DECISION_PATH_UNKNOWN,
                "unknown",
                f"The contact's role is unknown ({_role_words(f)}) and no path to the buying "
                "committee is named: unknown, not failed, so not no_decision_path; the lead "
                "stays nurture (the routing table says nurture).",
            )
        )
        return status, reason
    wanted = sheet.decision_path.unknown_role_status
    new: Status = "mql" if wanted == "in_review" else wanted
    then = "a person decides" if wanted == "in_review" else f"status {wanted}"
    checks.append(
        Check(
            "status",
            DECISION_PATH_UNKNOWN,
            "unknown",
            f"The contact's role is unknown ({_role_words(f)}) and no path to the buying "
            f"committee is named: unknown, not failed, so not no_decision_path; discovery asks "
            f"who decides: {then} (decision_path.unknown_role_status).",
        )
    )
    return new, DECISION_PATH_UNKNOWN


def _scope_unconfirmed(
    status: Status,
    reason: str,
    conditions: list[tuple[str, bool, str]],
    f: _Facts,
    sheet: CriteriaSheet,
) -> bool:
    """An otherwise-SQL lead whose request names nothing of the offer's scope."""
    if not _scope_required(sheet) or f.scope is not None:
        return False
    if f.interest not in sheet.sql_conditions.interest_types and reason != TIMELINE_PROVIDED:
        return False
    if reason == TIMELINE_PROVIDED:
        return True
    unmet = [name for name, met, _ in conditions if not met]
    return status in ("mql", "mql_no_timeline") and unmet == ["interest_in_scope"]


def _table_status(
    action: str,
    conditions: list[tuple[str, bool, str]],
    f: _Facts,
    sheet: CriteriaSheet,
    checks: list[Check],
) -> tuple[Status, str]:
    interest_in_scope = f.interest in sheet.sql_conditions.interest_types
    no_timing = f.timeframe.kind != "stated"
    if action == "nurture":
        checks.append(
            Check("status", "low_band", "info", "Status nurture: the routing table says nurture.")
        )
        return "nurture", "routing_table_nurture"
    if action == "sql":
        for name, met, detail in conditions:
            outcome: Outcome = "pass" if met else "fail"
            verdict = "met" if met else "not met"
            checks.append(Check("sql", name, outcome, f"SQL condition {name} {verdict}: {detail}."))
        unmet = [name for name, met, _ in conditions if not met]
        if not unmet:
            checks.append(
                Check(
                    "status",
                    "sql_conditions_met",
                    "pass",
                    "Status sql: every SQL condition is met.",
                )
            )
            return "sql", "sql_conditions_met"
        asked = f.interest in sheet.sql_conditions.interest_types
        # Interest without timing (guide §4) is about the interest shown; whether the request
        # names the exact scope matters for SQL, not for this status.
        if (
            asked
            and no_timing
            and [u for u in unmet if u != "interest_in_scope"] == ["near_term_timeline"]
        ):
            checks.append(
                Check(
                    "status",
                    "interest_without_timing",
                    "info",
                    f"Status mql_no_timeline: asked for {f.interest}, but "
                    f"{_window_verdict(f.timeframe, sheet)} (interest without timing).",
                )
            )
            return "mql_no_timeline", "interest_without_timing"
        checks.append(
            Check(
                "status",
                "sql_conditions_unmet",
                "info",
                f"Status mql: SQL conditions not met: {_unmet_words(conditions)}.",
            )
        )
        return "mql", "sql_conditions_unmet"
    if interest_in_scope and no_timing:
        checks.append(
            Check(
                "status",
                "interest_without_timing",
                "info",
                f"Status mql_no_timeline: asked for {f.interest}, but "
                f"{_window_verdict(f.timeframe, sheet)} (interest without timing).",
            )
        )
        return "mql_no_timeline", "interest_without_timing"
    checks.append(
        Check("status", "routing_table_mql", "info", "Status mql: the routing table says mql.")
    )
    return "mql", "routing_table_mql"


def _unmet_words(conditions: list[tuple[str, bool, str]]) -> str:
    """The unmet SQL conditions, the timing one with the rule that fired."""
    return ", ".join(
        f"{name} ({detail})" if name == "near_term_timeline" else name
        for name, met, detail in conditions
        if not met
    )


def _near_sql_edge(
    fit: int, intent: int, fit_band: str, intent_band: str, action: str, sheet: CriteriaSheet
) -> str | None:
    """Why a score sits within the margin of an edge that decides SQL, or None."""
    margin = sheet.borderline.band_margin
    table = sheet.routing_table
    for label, score, edges in (
        ("fit", fit, sheet.bands.fit),
        ("intent", intent, sheet.bands.intent),
    ):
        for edge_name, edge in (("mid", edges.mid), ("high", edges.high)):
            if not edge - margin <= score < edge + margin:
                continue
            across = band_of(edge - 1 if score >= edge else edge, edges)
            alt = (
                table.action(across, intent_band)
                if label == "fit"
                else table.action(fit_band, across)
            )
            if alt != action and "sql" in (alt, action):
                return (
                    f"Borderline: {label} {score} is within {margin} of the {edge_name} edge "
                    f"({edge}); across it the routing table says {alt}."
                )
    return None


def _borderline(
    fit: int,
    intent: int,
    fit_band: str,
    intent_band: str,
    action: str,
    conditions: list[tuple[str, bool, str]],
    f: _Facts,
    sheet: CriteriaSheet,
    checks: list[Check],
) -> list[str]:
    rules = sheet.borderline
    reasons: list[str] = []
    if rules.band_margin and all(met for _, met, _ in conditions):
        why = _near_sql_edge(fit, intent, fit_band, intent_band, action, sheet)
        if why:
            reasons.append("near_band_edge")
            checks.append(Check("borderline", "near_band_edge", "info", why))
    if rules.high_intent_low_fit and intent_band == "high" and fit_band == "low":
        reasons.append("high_intent_low_fit")
        checks.append(
            Check(
                "borderline", "high_intent_low_fit", "info", "Borderline: high intent but low fit."
            )
        )
    if intent_band in rules.unknown_must_have_intent_bands:
        for missing in _unknown_must_haves(f, sheet):
            reasons.append(f"unknown_must_have:{missing}")
            checks.append(
                Check(
                    "borderline",
                    f"unknown_must_have:{missing}",
                    "unknown",
                    f"Borderline: must-have {missing} is unknown, not failed.",
                )
            )
    return reasons


def evaluate_many(
    submissions: Iterable[Submission], criteria: Criteria, *, today: dt.date
) -> Iterator[Decision]:
    """Evaluate a stream of submissions lazily (constant memory)."""
    for sub in submissions:
        yield evaluate(sub, criteria, today=today)


def evaluate_rows(
    rows: list[tuple[dict[str, Any], str, int | None]], criteria: Criteria, today: dt.date
) -> list[Decision]:
    """Decide a batch of stored submissions given as (payload, channel, row): what a worker
    process runs for a chunk."""
    return [
        evaluate(submission_from_mapping(payload, channel=channel, row=row), criteria, today=today)
        for payload, channel, row in rows
    ]
