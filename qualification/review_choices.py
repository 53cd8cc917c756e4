"""The reviewer's choices in words (DESIGN §5): one choice per option, and one per
disqualification reason, so a disqualification cannot be chosen without its reason."""

from __future__ import annotations

from .closed_sets import Reason, ReviewOption, Status

# What each option does, shown next to it in the form and the email.
OPTION_TEXT: dict[ReviewOption, str] = {
    ReviewOption.APPROVE_SQL: "hand off to sales now (status sql)",
    ReviewOption.ROUTE_MQL: "marketing follows up (status mql)",
    ReviewOption.NURTURE: "nurture program, no sales time (status nurture)",
    ReviewOption.NEED_MORE_INFO: "marketing collects what is missing; say what in the note",
    ReviewOption.DISQUALIFY: "no follow-up (status disqualified)",
}
# What each disqualification reason means to a reviewer.
REASON_TEXT: dict[Reason, str] = {
    Reason.OUT_OF_GEOGRAPHY: "outside the territories we serve",
    Reason.OUT_OF_SCOPE_SERVICE: "asks for a service we do not offer",
    Reason.WRONG_ORG_TYPE: "not an organization type we sell to",
    Reason.DIFFERENT_SPECIALTY: "a specialty we do not serve",
    Reason.NO_CONSENT: "no consent to contact them",
    Reason.INVALID_CONTACT: "the contact details do not reach a person",
    Reason.NO_DECISION_PATH: "nobody here decides or can reach who does",
    Reason.TIMING_TOO_FAR: "buying too far out to work now (rechecked later)",
    Reason.PATIENT_INQUIRY: "a patient, not a buyer",
    Reason.DUPLICATE: "another lead already covers this person",
    Reason.SPAM: "not a real inquiry",
}
# What the automatic outcome (the status the rules proposed) means.
STATUS_TEXT: dict[str, str] = {
    Status.SQL: "hand off to sales",
    Status.MQL: "marketing follow-up",
    Status.MQL_NO_TIMELINE: "marketing follow-up, no timeline yet",
    Status.NURTURE: "nurture program",
    Status.DISQUALIFIED: "no follow-up",
}


def choice_label(option: str, reason: str | None = None) -> str:
    """The form's value for an option (and, for disqualify, its reason), code first."""
    if option == ReviewOption.DISQUALIFY:
        assert reason is not None
        return f"disqualify ({reason}): {REASON_TEXT[Reason(reason)]}"
    return f"{option}: {OPTION_TEXT[ReviewOption(option)]}"


CHOICES: dict[str, tuple[ReviewOption, Reason | None]] = {
    **{
        choice_label(option): (option, None)
        for option in ReviewOption
        if option != ReviewOption.DISQUALIFY
    },
    **{choice_label(ReviewOption.DISQUALIFY, r): (ReviewOption.DISQUALIFY, r) for r in Reason},
}


def parse_choice(choice: str | None) -> tuple[str, str | None] | None:
    """(option, reason) of a form value or a bare code (`approve_sql`, `disqualify:spam`); None
    when it is neither."""
    if choice is None:
        return None
    if choice in CHOICES:
        option, reason = CHOICES[choice]
        return str(option), str(reason) if reason else None
    code, _, given = choice.strip().partition(":")
    if code in set(ReviewOption) - {ReviewOption.DISQUALIFY} and not given:
        return code, None
    if code == ReviewOption.DISQUALIFY and given.strip() in set(Reason):
        return code, given.strip()
    return None


def borderline_words(reasons: list[str], details: list[str]) -> list[str]:
    """Why a person decides, in words, from the borderline reason codes (the decision record's
    borderline lines, `details`, say what a code alone cannot: which edge a score is near)."""
    said: list[str] = []
    unknown = [c.partition(":")[2].replace("_", " ") for c in reasons if ":" in c]
    for code in reasons:
        if code == "high_intent_low_fit":
            said.append("high intent but low fit.")
        elif code == "near_band_edge":
            near = [d for d in details if "edge" in d]
            said.append(near[0].removeprefix("Borderline: ") if near else "a score near an edge.")
        elif ":" not in code:
            said.append(code.replace("_", " ") + ".")
    if unknown:
        said.append(f"unknown, not failed: must-have {', '.join(unknown)}.")
    return said or ["borderline."]
