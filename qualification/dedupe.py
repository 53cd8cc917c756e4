"""Dedupe keys: what identifies a lead across submissions (DESIGN §4)."""

from __future__ import annotations

from .contact import EmailCheck, PhoneCheck


def dedupe_keys(email: EmailCheck, phone: PhoneCheck, domain: str | None) -> tuple[str, ...]:
    """Keys in order of strength: the contact's email, their phone, the organization's domain.

    A personal email domain (gmail.com) says nothing about the organization, so it never becomes
    a domain key; the email address itself still identifies the person.
    """
    keys: list[str] = []
    if email.valid and email.dedupe_key:
        keys.append(f"email:{email.dedupe_key}")
    if phone.valid and phone.e164:
        keys.append(f"phone:{phone.e164}")
    if domain:
        keys.append(f"domain:{domain}")
    return tuple(keys)
