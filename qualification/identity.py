"""Who a submission is about (DESIGN §4): a lead is a person, an account is an organization.

A normalized email identifies a person. A phone identifies a person only when no email is given
and no other person holds it: hospitals share switchboards, so two people at one hospital are two
leads on one account. Accounts are matched by registered domain (public-suffix aware) or by
normalized organization name and state.
"""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from functools import lru_cache

from cleanco import prepare_default_terms
from publicsuffixlist import PublicSuffixList

from .contact import EmailCheck, PhoneCheck
from .text import words

_PSL = PublicSuffixList()  # the list bundled with the package: no network


@dataclass(frozen=True, slots=True)
class PersonKey:
    """The key that identifies the person: `email:...`, or `phone:...` when no email is given."""

    key: str | None
    by_phone: bool


def person_key(email: EmailCheck, phone: PhoneCheck) -> PersonKey:
    if email.valid and email.dedupe_key:
        return PersonKey(f"email:{email.dedupe_key}", False)
    if phone.valid and phone.e164:
        return PersonKey(f"phone:{phone.e164}", True)
    return PersonKey(None, False)


def match_person(
    key: str | None,
    by_phone: bool,
    lead_by_key: Mapping[str, str],
    phone_holders: Mapping[str, Collection[str]],
) -> str | None:
    """The lead a submission attaches to, or None for a new person.

    `lead_by_key` maps identity keys to leads; `phone_holders` maps a phone key to every lead whose
    contact has that phone. An email matches only its own key. A phone-only submission matches the
    phone-only person already known by that phone, else the one person who holds it; a phone two
    people hold (a switchboard) identifies nobody.
    """
    if key is None:
        return None
    known = lead_by_key.get(key)
    if known is not None or not by_phone:
        return known
    holders = set(phone_holders.get(key, ()))
    return holders.pop() if len(holders) == 1 else None


# Reserved for documentation and tests (RFC 2606, RFC 6761): no organization owns them, so the
# whole host names the organization (`hvcardiology.example.com` is not `example.com`).
_RESERVED = frozenset({"example.com", "example.net", "example.org"})
_RESERVED_SUFFIXES = tuple(f".{domain}" for domain in sorted(_RESERVED))
_RESERVED_TLDS = frozenset({"example", "test", "invalid", "localhost"})


def is_reserved_domain(host: str) -> bool:
    """A lower-case host under a name reserved for documentation and tests."""
    return (
        host in _RESERVED
        or host.endswith(_RESERVED_SUFFIXES)
        or host.rpartition(".")[2] in _RESERVED_TLDS
    )


@lru_cache(maxsize=4096)
def registered_domain(host: str | None) -> str | None:
    """`mail.stjoes.org` -> `stjoes.org`, `www.cardiology.nhs.uk` -> `cardiology.nhs.uk`."""
    if not host:
        return None
    host = host.lower().rstrip(".")
    if is_reserved_domain(host):
        return host
    return _PSL.privatesuffix(host)


def _legal_terms() -> dict[int, frozenset[tuple[str, ...]]]:
    """cleanco's legal-form terms (Inc, LLC, P.C., GmbH...), normalized, by number of words:
    looked up as sets, because cleanco's own matcher tries every term in turn (~140 µs a name)."""
    by_size: defaultdict[int, set[tuple[str, ...]]] = defaultdict(set)
    for size, parts in prepare_default_terms():
        by_size[size].add(tuple(parts))
    return {size: frozenset(by_size[size]) for size in sorted(by_size, reverse=True)}


_LEGAL_TERMS = _legal_terms()
_TERM_PUNCTUATION = str.maketrans("", "", ".,-")


@lru_cache(maxsize=65536)
def organization_name_key(name: str | None) -> str | None:
    """A name as people write it several ways: case, accents, punctuation, "&", a leading "The"
    and legal suffixes (Inc., LLC, P.C.) do not make another organization."""
    if not name:
        return None
    folded = unicodedata.normalize("NFKD", name.replace("’", "'").casefold())
    tokens = folded.encode("ascii", "ignore").decode().split()
    bare = [t.translate(_TERM_PUNCTUATION) for t in tokens]
    removed = True
    while removed and bare:
        removed = False
        for size, terms in _LEGAL_TERMS.items():
            if len(bare) > size and tuple(bare[-size:]) in terms:
                del bare[-size:], tokens[-size:]
                removed = True
                break
    found = words(" ".join(tokens)).split()
    if found[:1] == ["the"]:
        found = found[1:]
    return " ".join(found) or None


def account_keys(
    domain: str | None,
    organization_name: str | None,
    state: str | None,
    parent: str | None = None,
) -> tuple[str, ...]:
    """Keys that identify the account, strongest first: its registered domain, then its
    normalized name in its state (a name alone is too common: "Family Medicine Associates").
    An organization subpart (NPPES) belongs to its parent's account: the parent's name comes
    before its own."""
    keys: list[str] = []
    registered = registered_domain(domain)
    if registered:
        keys.append(f"domain:{registered}")
    parent_key = organization_name_key(parent)
    if parent_key:
        keys.append(f"name:{parent_key}|{(state or '').upper()}")
    name = organization_name_key(organization_name)
    if name and name != parent_key:
        keys.append(f"name:{name}|{(state or '').upper()}")
    return tuple(keys)


def match_account(
    keys: tuple[str, ...],
    account_by_key: Mapping[str, str],
    domain_of: Callable[[str], str | None],
) -> str | None:
    """The account these keys name, or None for a new one. A name in a state matches an
    account only when their domains do not disagree: two "Memorial Hospital"s in one state
    with different websites are two organizations."""
    domain = next((k.partition(":")[2] for k in keys if k.startswith("domain:")), None)
    for key in keys:
        found = account_by_key.get(key)
        if found is None:
            continue
        if key.startswith("name:") and domain and domain_of(found) not in (None, domain):
            continue
        return found
    return None
