"""The path to the buying committee (DESIGN §3, buyer role and decision path): who decides or
signs, read from the fields that name them and from the words of the message. A job title alone
is not the decision path (guide §9, "using only job titles for buyer fit")."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .submission import Submission
from .text import MAX_SCAN_CHARS, PLACEHOLDERS
from .vocab import Vocabulary

# Fields of a submission that name who decides or signs, as importers and forms spell them
# (decision_maker_role and approver are canonical; the others are kept in `extra`).
PATH_FIELDS: tuple[tuple[str, str], ...] = (
    ("decision_maker_role", "decision maker"),
    ("approver", "approver"),
)
COMMITTEE_FIELDS: tuple[str, ...] = (
    "committee_notes",
    "buying_committee",
    "decision_process",
    "decision_notes",
    "reports_to",
)
# Answers that name no one.
_NO_ONE = frozenset(
    {
        *PLACEHOLDERS,
        "no",
        "not sure",
        "unsure",
        "tbd",
        "tba",
        "dont know",
        "don t know",
        "do not know",
        "no idea",
        "nobody",
        "no one",
        "none yet",
    }
)
_WORDS = re.compile(r"[^\W_]+")

# People and bodies that decide, beyond the vocabulary's roles.
_DECIDING_BODIES = (
    r"(?:owners?|partners?|board|committee|leadership|management|boss|physicians?|doctors?|"
    r"providers?|founders?|dr \w+|administration|executive team|c suite|finance|purchasing|"
    r"procurement)"
)
_WHO = r"(?P<who>(?:\w+ ){0,3}?\w+)"  # before the verb: as few words as fit
_WHO_END = r"(?P<who>(?:\w+ ){0,3}\w+)"  # at the end: up to four words
_DET = r"(?:the|our|my|their|a)"
_DECIDES = (
    r"(?:signs|sign|will sign|signs off|sign off|will sign off|approves|approve|will approve|"
    r"has to approve|must approve|needs to approve|makes the (?:final )?(?:call|decision)|"
    r"make the (?:final )?(?:call|decision)|has the final say|has final say|has final approval|"
    r"decides|decide|will decide|chooses|choose|selects|select|picks|pick|signs the contracts?|"
    r"approves purchases|owns the budget|holds the budget|controls the budget)"
)
_PATH_PATTERNS: tuple[re.Pattern[str], ...] = tuple(
    re.compile(p)
    for p in (
        rf"\b(?:i|we) (?:\w+ )?(?:report|reports|answer) (?:directly )?to {_DET} {_WHO_END}\b",
        rf"\b{_DET} {_WHO} (?:who |that |which )?(?:usually |ultimately |then )?{_DECIDES}\b",
        rf"\bfinal (?:decision|approval|call|say|sign off|signoff) (?:\w+ ){{0,2}}?"
        rf"(?:with|by|from) {_DET} {_WHO_END}\b",
        rf"\b(?:decision|decisions|purchase|purchases|purchasing) (?:is|are|will be|get|gets) "
        rf"(?:made|approved|signed) by {_DET} {_WHO_END}\b",
        rf"\b(?:need|needs|require|requires|get|getting|with) (?:sign off|signoff|approval|"
        rf"buy in) (?:from|of) {_DET} {_WHO_END}\b",
        rf"\b(?:i|we) (?:will|ll|can|would) (?:loop in|bring in|involve|include) "
        rf"{_DET} {_WHO_END}\b",
        r"\b(?P<who>(?:buying|purchasing|selection|evaluation|steering|capital|value analysis) "
        r"committee)\b",
    )
)
_BODY = re.compile(rf"\b{_DECIDING_BODIES}\b")


@dataclass(frozen=True, slots=True)
class DecisionPath:
    """Where a path to the buying committee was named, the words, and the role they name (a
    vocabulary role key, or None for a body such as "the board")."""

    source: str
    text: str
    role: str | None

    def described(self) -> str:
        return f"'{self.text}' ({self.source})"


def _named(value: str | None) -> bool:
    if not value:
        return False
    folded = " ".join(_WORDS.findall(value.lower()))
    return folded not in _NO_ONE


def _who(phrase: str, vocab: Vocabulary) -> tuple[bool, str | None]:
    """Whether the words name someone who decides or influences, and their role."""
    match = vocab.role(phrase)
    if match.influence in ("decider", "influencer"):
        return True, match.role
    return _BODY.search(phrase) is not None, None


_SENTENCE = re.compile(r"[^.!?;\n]+")


def _fold(text: str) -> str:
    return " ".join(_WORDS.findall(text.lower().replace("\u2019", "").replace("'", "")))


# Word stems every path pattern contains one of: a message without any is read no further.
_TRIGGERS = (
    "report", "answer", "sign", "approv", "decid", "decision", "final", "choose", "chooses",
    "select", "pick", "purchas", "budget", "buy in", "loop in", "bring in", "involve", "include",
    "committee", "make the", "makes the",
)  # fmt: skip


def _from_text(text: str, source: str, vocab: Vocabulary) -> DecisionPath | None:
    """The sentence of `text` that names who decides or signs."""
    lower = text[:MAX_SCAN_CHARS].lower()
    if not any(t in lower for t in _TRIGGERS):
        return None
    for sentence in _SENTENCE.finditer(text[:MAX_SCAN_CHARS]):
        words = _fold(sentence.group())
        for pattern in _PATH_PATTERNS:
            for m in pattern.finditer(words):
                named, role = _who(m.group("who"), vocab)
                if named:
                    return DecisionPath(source, " ".join(sentence.group().split())[:160], role)
    return None


def find_decision_path(sub: Submission, vocab: Vocabulary) -> DecisionPath | None:
    """The first path to the buying committee the submission names: a field that names the
    decider or approver, committee notes, then the message."""
    for name, label in PATH_FIELDS:
        value: str | None = getattr(sub, name)
        if _named(value):
            assert value is not None
            match = vocab.role(value)
            role = match.role if match.influence != "unknown" else None
            return DecisionPath(label, value[:120], role)
    for name in COMMITTEE_FIELDS:
        note = sub.extra.get(name)
        if _named(note):
            assert note is not None
            found = _from_text(note, name.replace("_", " "), vocab)
            return found or DecisionPath(name.replace("_", " "), note[:120], None)
    if sub.message:
        return _from_text(sub.message, "message", vocab)
    return None
