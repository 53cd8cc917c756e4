"""Plausible contacts (issue 12): placeholder, fake and role patterns in a contact's email, phone
and name, each named, and what they do to the contact (DESIGN §3; guide §5 and §12: "invalid
contact data patterns").

- Fake on its own: a placeholder mailbox or domain (`test@test.com`, `noemail@gmail.com`,
  `maria@asdf.com`: every word of the part is a placeholder word, so `dr.test@testamentclinic.com`
  is a person), keyboard mash (`qwerty@`), a throwaway (`a@b.com`), a phone that is one repeated
  digit or running digits (`000-000-0000`, `555-555-5555`, `123-456-7890`; the whole number only:
  `(714) 456-7890` is a hospital). The field is not used, as if its syntax were wrong.
- Suspect, a named warning on its own: a domain reserved for documentation (RFC 2606 and 6761:
  `example.com`/`.net`/`.org`, `*.example`; `.test`, `.invalid` and `.localhost` already fail
  syntax), a number in the NANP fictional range 555-0100..555-0199, a placeholder or keyboard-mash
  name (a real person can be called Test). A suspect field is fake once another field is fake or
  the name is a placeholder. A reserved domain and a fictional number do not escalate each other:
  samples and demos (ours included) use both, and a real lead shows neither.
- Role: a role mailbox (`info@`, `noreply@`, `office@`, `frontdesk@`) is noted, never rejected.

The contact is invalid (`invalid_contact`) when no usable email or phone is left, or when a
placeholder name comes with another fake or suspect field.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from .closed_sets import ContactPattern
from .contact import EmailCheck, PhoneCheck
from .identity import is_reserved_domain, registered_domain
from .text import FAKE_JOINERS, FAKE_WORDS, MAX_SCAN_CHARS

__all__ = ["Flag", "Plausibility", "assess_contact"]

Field = Literal["email", "phone", "contact_name"]
Strength = Literal["fake", "suspect", "role"]


@dataclass(frozen=True, slots=True)
class Flag:
    """One pattern found in one field, described as a sentence naming the value and the pattern."""

    field: Field
    pattern: ContactPattern
    strength: Strength
    text: str
    invalid: bool


@dataclass(frozen=True, slots=True)
class Plausibility:
    """What the patterns found do: which fields still reach the contact, and whether the name
    makes the whole contact invalid."""

    flags: tuple[Flag, ...]
    email_usable: bool
    phone_usable: bool
    name_invalid: bool

    @property
    def contact_invalid(self) -> bool:
        return not (self.email_usable or self.phone_usable) or self.name_invalid

    def unusable(self, field: Field) -> Flag | None:
        """The flag that makes a field unusable, if any."""
        return next((f for f in self.flags if f.field == field and f.invalid), None)

    def sentence(self, flag: Flag) -> str:
        """The flag and what it does, for the decision record."""
        if flag.strength == "role":
            return f"{flag.text}: kept."
        if not flag.invalid:
            return f"{flag.text}: kept, a warning only."
        text = flag.text
        if flag.strength == "suspect":
            text += ", with another field that looks fake"
        if self.contact_invalid:
            return f"{text}: the contact is invalid."
        other = "phone" if flag.field == "email" else "email"
        return f"{text}: the {flag.field} is not used; the contact is reached by {other}."

    def why_invalid(self) -> str:
        """The hard stop's explanation: every pattern that made the contact invalid."""
        base = (
            "The contact looks made up"
            if self.name_invalid
            else "No valid email or phone to reach the contact"
        )
        found = [f.text[0].lower() + f.text[1:] for f in self.flags if f.invalid]
        return f"{base}: {'; '.join(found)}." if found else f"{base}."


# Compared without dots, dashes, underscores and trailing digits: "front.desk", "no-reply",
# "admin2".
_ROLE_MAILBOXES = frozenset(
    {
        "admin",
        "administrator",
        "contact",
        "contactus",
        "donotreply",
        "enquiries",
        "frontdesk",
        "frontoffice",
        "hello",
        "info",
        "information",
        "inquiries",
        "noreply",
        "office",
        "postmaster",
        "reception",
        "support",
        "webmaster",
    }
)
_DIGITS = "0123456789"

# Keys in a row on one keyboard row, typed left to right: four from the row's start ("asdf",
# "qwer", "zxcv") or any five ("ertyu"); shorter runs are names ("Wert", "Trew").
_KEYBOARD_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_MASH_RUNS = frozenset(
    {row[:4] for row in _KEYBOARD_ROWS}
    | {row[i : i + 5] for row in _KEYBOARD_ROWS for i in range(len(row) - 4)}
)
_ONE_ROW = re.compile("|".join(f"[{row}]{{4,}}" for row in _KEYBOARD_ROWS))
_LETTERS = re.compile(r"[^\W\d_]+")
_NOT_DIGIT = re.compile(r"[^0-9]+")
_FLOAT_TAIL = re.compile(r"\.0+$")
_UP = "0123456789" * 3
_DOWN = _UP[::-1]
_TITLES = frozenset({"dr", "mr", "mrs", "ms", "mx", "miss", "prof"})
_PLACEHOLDER_NAMES = frozenset({"john doe", "jane doe"})


def _mash(token: str) -> bool:
    """Keyboard mash: a run of keys on one row (above), and no key from elsewhere."""
    if _ONE_ROW.fullmatch(token) is None:
        return False
    for size in (4, 5):
        for i in range(len(token) - size + 1):
            if token[i : i + size] in _MASH_RUNS:
                return True
    return False


def _one_letter(token: str) -> bool:
    return len(token) >= 3 and token.count(token[0]) == len(token)


def _running(digits: str) -> bool:
    """Digits that go up or down one at a time, wrapping: 1234567890, 2345678901, 9876543210."""
    return len(digits) <= 20 and (digits in _UP or digits in _DOWN)


def _fake_tokens(tokens: list[str], *, repeats: bool) -> tuple[bool, bool] | None:
    """None when a token is a real word; else whether every token is keyboard mash, and whether
    one is more than a joiner. `repeats`: one letter repeated ("xxx") is fake."""
    all_mash, fake = True, False
    for token in tokens:
        if token in FAKE_WORDS:
            all_mash, fake = False, True
        elif token in FAKE_JOINERS:
            all_mash = False
        elif repeats and _one_letter(token):
            all_mash, fake = False, True
        elif _mash(token):
            fake = True
        else:
            return None
    return all_mash, fake


def _made_up(part: str, *, mailbox: bool = True) -> ContactPattern | None:
    """Whether a mailbox or a domain's name is made up, and how. One letter or digit repeated
    and running digits ("xxx@", "1234@") count in a mailbox, not in a domain: aaa.com, bbb.org
    and 163.com are real."""
    tokens = _LETTERS.findall(part)
    if not tokens:
        digits = _NOT_DIGIT.sub("", part)
        if (
            mailbox
            and len(digits) >= 3
            and (digits.count(digits[0]) == len(digits) or _running(digits))
        ):
            return ContactPattern.PLACEHOLDER_MAILBOX
        return None
    kinds = _fake_tokens(tokens, repeats=mailbox)
    if kinds is None:
        return None
    if kinds[0]:
        return ContactPattern.KEYBOARD_MASH
    if kinds[1] or "".join(tokens) in FAKE_WORDS:
        return ContactPattern.PLACEHOLDER_MAILBOX
    return None


@lru_cache(maxsize=4096)
def _domain_name(domain: str) -> tuple[str, str, bool]:
    """A domain's registered name, its first label, and whether that label is made up."""
    registered = registered_domain(domain) or domain
    label = registered.partition(".")[0]
    return registered, label, _made_up(label, mailbox=False) is not None


def _email_flags(email: EmailCheck) -> list[Flag]:
    if not email.valid or email.normalized is None or email.domain is None:
        return []
    address = email.normalized
    local = address.rpartition("@")[0].partition("+")[0]
    domain = email.domain
    mailbox = _made_up(local)
    flags: list[Flag] = []
    if is_reserved_domain(domain):
        if mailbox is not None:
            what = "keyboard mash" if mailbox is ContactPattern.KEYBOARD_MASH else "a placeholder"
            why = f"mailbox '{local}' at reserved domain '{domain}'"
            return [
                Flag("email", mailbox, "fake", f"Email {address} looks like {what} ({why})", True)
            ]
        flags.append(
            Flag(
                "email",
                ContactPattern.RESERVED_DOMAIN,
                "suspect",
                f"Email {address} is at a domain reserved for documentation ('{domain}', RFC 2606)",
                False,
            )
        )
    else:
        registered, label, at_made_up = _domain_name(domain)
        if mailbox is not None:
            what = "keyboard mash" if mailbox is ContactPattern.KEYBOARD_MASH else "a placeholder"
            where = f" at domain '{registered}'" if at_made_up else ""
            text = f"Email {address} looks like {what} (mailbox '{local}'{where})"
            return [Flag("email", mailbox, "fake", text, True)]
        if at_made_up:
            text = f"Email {address} looks like a placeholder (domain '{registered}')"
            return [Flag("email", ContactPattern.PLACEHOLDER_DOMAIN, "fake", text, True)]
        if len(local) == 1 and len(label) == 1:
            text = f"Email {address} looks like a throwaway (one-letter mailbox at '{registered}')"
            return [Flag("email", ContactPattern.THROWAWAY_ADDRESS, "fake", text, True)]
    role = local.rstrip(_DIGITS).replace(".", "").replace("-", "").replace("_", "")
    if role in _ROLE_MAILBOXES:
        text = f"Email {address} is a role mailbox ('{local}'), not a person's"
        flags.append(Flag("email", ContactPattern.ROLE_MAILBOX, "role", text, False))
    return flags


def _national_numbers(phone: PhoneCheck, raw: str) -> list[str]:
    """The digits a phone may mean without its country code (which is 1 to 3 digits long)."""
    if phone.e164 is not None:
        digits = phone.e164[1:]
        if digits.startswith("1"):
            return [digits[1:]]
        return [digits[k:] for k in (1, 2, 3)]
    digits = _NOT_DIGIT.sub("", _FLOAT_TAIL.sub("", raw.strip()))
    if len(digits) == 11 and digits.startswith("1"):
        return [digits[1:]]
    if raw.lstrip().startswith("+"):
        return [digits[k:] for k in (1, 2, 3)]
    return [digits]


def _phone_flags(phone: PhoneCheck, raw: str | None) -> list[Flag]:
    if not phone.present or raw is None:
        return []
    shown = raw.strip()[:40]
    for national in _national_numbers(phone, raw):
        if len(national) < 7:
            continue
        if national.count(national[0]) == len(national):
            text = f"Phone {shown} looks fake (one digit repeated)"
            return [Flag("phone", ContactPattern.REPEATED_DIGITS, "fake", text, True)]
        if _running(national):
            text = f"Phone {shown} looks fake (running digits)"
            return [Flag("phone", ContactPattern.SEQUENTIAL_DIGITS, "fake", text, True)]
    e164 = phone.e164
    if e164 is not None and e164.startswith("+1") and e164[5:10].startswith("55501"):
        text = f"Phone {shown} is in the NANP fictional range 555-0100 to 555-0199"
        return [Flag("phone", ContactPattern.FICTIONAL_RANGE, "suspect", text, False)]
    return []


def _name_flags(name: str | None) -> list[Flag]:
    if not name:
        return []
    tokens = _LETTERS.findall(name[:MAX_SCAN_CHARS].casefold())
    while len(tokens) > 1 and tokens[0] in _TITLES:
        del tokens[0]
    if not tokens:
        return []
    kinds = _fake_tokens(tokens, repeats=True)
    if kinds is None and " ".join(tokens) not in _PLACEHOLDER_NAMES:
        return []
    shown = name.strip()[:60]
    if kinds is not None and kinds[0]:
        text = f"Name '{shown}' looks like keyboard mash"
        return [Flag("contact_name", ContactPattern.KEYBOARD_MASH, "suspect", text, False)]
    text = f"Name '{shown}' looks like a placeholder"
    return [Flag("contact_name", ContactPattern.PLACEHOLDER_NAME, "suspect", text, False)]


def assess_contact(
    email: EmailCheck, phone: PhoneCheck, phone_raw: str | None, name: str | None
) -> Plausibility:
    """Every pattern in the contact's email, phone and name, and which fields remain usable."""
    found = [*_email_flags(email), *_phone_flags(phone, phone_raw), *_name_flags(name)]
    if not found:
        return Plausibility((), email.valid, phone.valid, False)
    if len(found) == 1:  # a suspect field needs another one to escalate
        unusable_alone = found[0].field if found[0].invalid else None
        return Plausibility(
            flags=tuple(found),
            email_usable=email.valid and unusable_alone != "email",
            phone_usable=phone.valid and unusable_alone != "phone",
            name_invalid=False,
        )
    fake_fields = {f.field for f in found if f.strength == "fake"}
    suspect_fields = {f.field for f in found if f.strength == "suspect"}
    flags: list[Flag] = []
    for flag in found:
        if flag.strength == "suspect":
            elsewhere = fake_fields - {flag.field}
            if flag.field == "contact_name":
                escalate = bool(elsewhere or suspect_fields - {"contact_name"})
            else:
                escalate = bool(elsewhere) or "contact_name" in suspect_fields
            if escalate:
                flag = dataclasses.replace(flag, invalid=True)
        flags.append(flag)
    unusable = {f.field for f in flags if f.invalid}
    return Plausibility(
        flags=tuple(flags),
        email_usable=email.valid and "email" not in unusable,
        phone_usable=phone.valid and "phone" not in unusable,
        name_invalid="contact_name" in unusable,
    )
