"""Provider taxonomy codes and CMS Medicare specialty names -> the sheet's specialties and
organization types (DESIGN §2c), with where each meaning came from.

Two sources, in order: the criteria sheet's `taxonomy:` section (codes or code prefixes, the
longest prefix wins; Medicare specialty names), then the public CMS Medicare specialty / provider
taxonomy crosswalk shipped in criteria/codes/, whose descriptions are read by the product
vocabulary. The NUCC code set itself is not shipped (criteria/codes/README.md).
"""

from __future__ import annotations

import csv
import difflib
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, model_validator

from .decision import Outcome
from .text import parse_datetime, words
from .vocab import ORG_TYPES, ROLES, SPECIALTIES, RoleMatch, Vocabulary

CROSSWALK_PATH = (
    Path(__file__).resolve().parent.parent
    / "criteria"
    / "codes"
    / "cms_medicare_specialty_taxonomy_crosswalk.csv"
)
CROSSWALK_NAME = "CMS Medicare specialty/taxonomy crosswalk"

# A provider taxonomy code: three digits, then letters and digits, ending in X (CMS also lists
# one 11-character code).
_CODE = re.compile(r"^[0-9]{3}[0-9A-Z]{6,7}X$")
_PREFIX = re.compile(r"^[0-9]{2}[0-9A-Z]{0,8}$")
_SPLIT = re.compile(r"[;,|\s]+")
# Crosswalk groupings whose codes describe an organization (a facility, agency or supplier),
# not a person: only these give an organization type.
_ORGANIZATION_GROUPINGS = frozenset(
    words(g).casefold()
    for g in (
        "Agencies",
        "Ambulatory Health Care Facilities",
        "Group",
        "Hospital Units",
        "Hospitals",
        "Laboratories",
        "Managed Care Organizations",
        "Nursing and Custodial Care Facilities",
        "Nursing & Custodial Care Facilities",
        "Residential Treatment Facilities",
        "Suppliers",
        "Transportation Services",
    )
)


def _hint(value: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(value, list(known), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _key(kind: str, known: tuple[str, ...]) -> AfterValidator:
    def check(value: str) -> str:
        if value not in known:
            raise ValueError(f"unknown {kind} '{value}'{_hint(value, known)}")
        return value

    return AfterValidator(check)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Target(_Strict):
    """What a code or name means on this sheet: a specialty, an organization type, or both."""

    specialty: Annotated[str, _key("specialty", SPECIALTIES)] | None = None
    org_type: Annotated[str, _key("organization type", ORG_TYPES)] | None = None

    @model_validator(mode="before")
    @classmethod
    def _one_key(cls, data: object) -> object:
        """`207RC: cardiology` or `261QF: community_health_center`: one key names its kind."""
        if isinstance(data, str):
            if data in SPECIALTIES:
                return {"specialty": data}
            if data in ORG_TYPES:
                return {"org_type": data}
            hint = _hint(data, (*SPECIALTIES, *ORG_TYPES))
            raise ValueError(f"'{data}' is neither a specialty nor an organization type{hint}")
        return data

    @model_validator(mode="after")
    def _something(self) -> Target:
        if self.specialty is None and self.org_type is None:
            raise ValueError("give a specialty, an org_type or both")
        return self


class IndividualPractitioner(_Strict):
    """An individual practitioner (NPPES entity type 1, a clinician without a group): the role
    the provider has as the contact of their own practice, and that practice's type."""

    role: Annotated[str, _key("role", ROLES)] | None = None
    org_type: Annotated[str, _key("organization type", ORG_TYPES)] | None = None


class TaxonomySection(_Strict):
    """The sheet's `taxonomy:` section."""

    codes: dict[str, Target] = {}
    medicare_specialties: dict[str, Target] = {}
    individual_practitioner: IndividualPractitioner = IndividualPractitioner()

    @model_validator(mode="before")
    @classmethod
    def _codes_upper(cls, data: object) -> object:
        if isinstance(data, dict) and isinstance(data.get("codes"), dict):
            codes = {}
            for key, value in data["codes"].items():
                code = str(key).strip().upper()
                if not (_CODE.fullmatch(code) or _PREFIX.fullmatch(code)):
                    raise ValueError(
                        f"codes: '{key}' is not a provider taxonomy code or code prefix "
                        "(digits then letters and digits, like 207RC or 261QF0400X)"
                    )
                codes[code] = value
            return {**data, "codes": codes}
        return data


@dataclass(frozen=True, slots=True)
class Entry:
    """One crosswalk row."""

    medicare_code: str
    medicare_specialty: str
    taxonomy_code: str
    taxonomy_description: str


@dataclass(frozen=True)
class Crosswalk:
    by_code: dict[str, tuple[Entry, ...]]
    by_name: dict[str, tuple[Entry, ...]]

    @property
    def codes(self) -> list[str]:
        return sorted(self.by_code)


def name_key(name: str) -> str:
    """A Medicare specialty name compared without case, punctuation or "Physician/"."""
    folded = words(name).casefold()
    return folded.removeprefix("physician ").strip()


def parse_crosswalk(text: str) -> Crosswalk:
    by_code: dict[str, list[Entry]] = {}
    by_name: dict[str, list[Entry]] = {}
    for row in csv.DictReader(io.StringIO(text)):
        entry = Entry(
            row["medicare_specialty_code"].strip(),
            row["medicare_specialty"].strip(),
            row["taxonomy_code"].strip().upper(),
            row["taxonomy_description"].strip(),
        )
        if entry.taxonomy_code:
            by_code.setdefault(entry.taxonomy_code, []).append(entry)
        by_name.setdefault(name_key(entry.medicare_specialty), []).append(entry)
    return Crosswalk(
        {k: tuple(v) for k, v in by_code.items()}, {k: tuple(v) for k, v in by_name.items()}
    )


@lru_cache(maxsize=2)
def load_crosswalk(path: Path = CROSSWALK_PATH) -> Crosswalk:
    return parse_crosswalk(path.read_text(encoding="utf-8"))


@dataclass(frozen=True, slots=True)
class Meaning:
    """What a code or name means, and the sentence saying where that came from."""

    specialty: str | None
    org_type: str | None
    label: str
    source: str

    @property
    def known(self) -> bool:
        return self.specialty is not None or self.org_type is not None


def split_codes(text: str | None) -> list[str]:
    """Taxonomy codes from a cell ("207RC0000X; 207R00000X"), primary first, as given."""
    if not text:
        return []
    seen: list[str] = []
    for token in _SPLIT.split(text.upper()):
        if token and token not in seen:
            seen.append(token)
    return seen


def looks_like_code(text: str) -> bool:
    return bool(_CODE.fullmatch(text.strip().upper()))


def _segments(description: str) -> list[str]:
    """'Allopathic & Osteopathic Physicians/Internal Medicine, Cardiovascular Disease' ->
    most specific first: ['Cardiovascular Disease', 'Internal Medicine', 'Allopathic...']."""
    parts = [p.strip() for chunk in description.split("/") for p in chunk.split(",")]
    return [p for p in reversed(parts) if p]


class TaxonomyMap:
    """A sheet's `taxonomy:` section over the CMS crosswalk, read by the sheet's vocabulary."""

    def __init__(
        self, section: TaxonomySection, vocabulary: Vocabulary, crosswalk: Crosswalk | None = None
    ) -> None:
        self.section = section
        self.vocabulary = vocabulary
        self.crosswalk = crosswalk or load_crosswalk()
        self._prefixes = sorted(section.codes, key=len, reverse=True)
        self._names = {name_key(k): (k, v) for k, v in section.medicare_specialties.items()}
        self._code = lru_cache(maxsize=4096)(self._resolve_code)
        self._name = lru_cache(maxsize=1024)(self._resolve_name)

    def code(self, code: str) -> Meaning:
        return self._code(code.strip().upper())

    def medicare_specialty(self, name: str) -> Meaning | None:
        """The meaning of a CMS Medicare specialty name, or None when it is not one."""
        return self._name(name_key(name))

    def _crosswalk_meaning(self, code: str) -> tuple[str | None, str | None, str, str] | None:
        entries = self.crosswalk.by_code.get(code)
        if not entries:
            return None
        vocab = self.vocabulary
        description = entries[0].taxonomy_description
        specialty = org_type = None
        if words(description.split("/")[0]).casefold() in _ORGANIZATION_GROUPINGS:
            # A facility, agency or supplier: an organization type; its specialty, if any,
            # only where the sheet says ("Clinic-Center, Ambulatory Surgical" is no surgeon).
            org_type = vocab.org_type(description.split("/", 1)[-1]) or next(
                (o for e in entries if (o := vocab.org_type(e.medicare_specialty))), None
            )
        else:
            # A clinician: the most specific part of the description that names a specialty
            # ("Internal Medicine, Cardiovascular Disease" is cardiology), else Medicare's name.
            specialty = next(
                (s for part in _segments(description) if (s := vocab.specialty(part))), None
            ) or next((s for e in entries if (s := vocab.specialty(e.medicare_specialty))), None)
        medicare = "; ".join(f"{e.medicare_code} {e.medicare_specialty}" for e in entries[:3])
        label = description.split("/", 1)[-1] or entries[0].medicare_specialty
        return specialty, org_type, label, f"{CROSSWALK_NAME}: {description} (Medicare {medicare})"

    def _resolve_code(self, code: str) -> Meaning:
        from_sheet = next((p for p in self._prefixes if code.startswith(p)), None)
        crosswalk = self._crosswalk_meaning(code)
        if from_sheet is not None:
            target = self.section.codes[from_sheet]
            specialty = target.specialty or (crosswalk[0] if crosswalk else None)
            org_type = target.org_type or (crosswalk[1] if crosswalk else None)
            label = crosswalk[2] if crosswalk else code
            mapped = ", ".join(x for x in (target.specialty, target.org_type) if x is not None)
            source = f"criteria sheet taxonomy.codes {from_sheet} -> {mapped}"
            if crosswalk:
                source += f"; {crosswalk[3]}"
            return Meaning(specialty, org_type, label, source)
        if crosswalk is not None:
            return Meaning(crosswalk[0], crosswalk[1], crosswalk[2], crosswalk[3])
        return Meaning(None, None, code, "")

    def _resolve_name(self, key: str) -> Meaning | None:
        if key in self._names:
            spelled, target = self._names[key]
            return Meaning(
                target.specialty,
                target.org_type,
                spelled,
                f"criteria sheet taxonomy.medicare_specialties '{spelled}'",
            )
        entries = self.crosswalk.by_name.get(key)
        if not entries:
            return None
        first = entries[0]
        where = (
            f"{CROSSWALK_NAME}: Medicare specialty {first.medicare_code} {first.medicare_specialty}"
        )
        codes = [e.taxonomy_code for e in entries if e.taxonomy_code]
        meanings = [self.code(c) for c in codes]
        specialties = {m.specialty for m in meanings}
        org_types = {m.org_type for m in meanings}
        specialty = self.vocabulary.specialty(first.medicare_specialty)
        if len(specialties) == 1 and None not in specialties:
            specialty = specialties.pop()
            where += f" -> taxonomy {', '.join(codes[:3])}"
            if any(m.source.startswith("criteria sheet") for m in meanings):
                where += f" ({meanings[0].source.split(';')[0]})"
        org_type = org_types.pop() if len(org_types) == 1 else None
        return Meaning(specialty, org_type, first.medicare_specialty, where)


@dataclass
class ProviderFacts:
    """What provider data says about a submission, with the lines for its decision record:
    (name, outcome, detail)."""

    specialty: str | None = None
    org_type: str | None = None
    role: RoleMatch | None = None
    lines: list[tuple[str, Outcome, str]] = field(default_factory=list)
    # The specialty field was read as a taxonomy code or a Medicare specialty name.
    read_specialty_text: bool = False


def provider_facts(
    taxonomy_codes: str | None,
    specialty_text: str | None,
    entity_type: str | None,
    parent_organization: str | None,
    taxonomy: TaxonomyMap,
) -> ProviderFacts:
    """Specialty and organization type from taxonomy codes (the primary first; a later code
    fills what the primary leaves unknown) or a Medicare specialty name, and the role and
    practice type of an individual practitioner as the sheet maps them."""
    facts = ProviderFacts()
    codes = split_codes(taxonomy_codes)
    if specialty_text and looks_like_code(specialty_text):
        codes = [*codes, *split_codes(specialty_text)]
        facts.read_specialty_text = True
    for i, code in enumerate(codes):
        meaning = taxonomy.code(code)
        which = "primary taxonomy" if i == 0 else "taxonomy"
        took = []
        if facts.specialty is None and meaning.specialty is not None:
            facts.specialty = meaning.specialty
            took.append(f"specialty {meaning.specialty}")
        if facts.org_type is None and meaning.org_type is not None:
            facts.org_type = meaning.org_type
            took.append(f"organization type {meaning.org_type}")
        name = f"{which.capitalize()} {code}"
        if not meaning.source:
            detail = (
                f"{name}: not in the {CROSSWALK_NAME} and not mapped by the sheet's "
                "taxonomy.codes; its meaning is unknown."
            )
        elif took:
            detail = (
                f"{name} ({meaning.label}) gives {' and '.join(took)}; from the {meaning.source}."
            )
        elif meaning.known:
            detail = (
                f"{name} ({meaning.label}): an earlier code decided; from the {meaning.source}."
            )
        else:
            detail = (
                f"{name} ({meaning.label}) names no specialty or organization type of the "
                f"sheet; from the {meaning.source}."
            )
        outcome: Outcome = "pass" if took else ("info" if meaning.known else "unknown")
        facts.lines.append(("taxonomy", outcome, detail))
    if specialty_text and not looks_like_code(specialty_text) and facts.specialty is None:
        named = taxonomy.medicare_specialty(specialty_text)
        if named is not None and named.known:
            facts.read_specialty_text = True
            facts.specialty = named.specialty
            if facts.org_type is None:
                facts.org_type = named.org_type
            gives = " and ".join(
                f"{k} {v}"
                for k, v in (
                    ("specialty", named.specialty),
                    ("organization type", named.org_type),
                )
                if v
            )
            facts.lines.append(
                (
                    "medicare_specialty",
                    "pass",
                    f"Medicare specialty '{specialty_text[:60]}' gives {gives}; from the "
                    f"{named.source}.",
                )
            )
    if (entity_type or "").strip().lower() == "individual":
        practitioner = taxonomy.section.individual_practitioner
        if practitioner.role is not None:
            # The role key read as a title: its influence as the sheet's vocabulary sets it.
            facts.role = taxonomy.vocabulary.role(practitioner.role)
        if practitioner.org_type is not None and facts.org_type is None:
            facts.org_type = practitioner.org_type
        said = [
            f"{k} {v}"
            for k, v in (("role", practitioner.role), ("organization type", practitioner.org_type))
            if v
        ]
        detail = "An individual practitioner is a solo-practice lead with the provider as contact"
        detail += f": {' and '.join(said)} (taxonomy.individual_practitioner)" if said else ""
        if practitioner.role is None:
            detail += "; the sheet's taxonomy.individual_practitioner maps no role: role unknown"
        outcome = "info" if practitioner.role else "unknown"
        facts.lines.append(("entity_type", outcome, detail + "."))
    if parent_organization:
        facts.lines.append(
            (
                "parent_organization",
                "info",
                f"A subpart of {parent_organization[:80]} (NPPES): it belongs to the parent's "
                "account.",
            )
        )
    return facts


def npi_deactivation(
    npi: str | None, deactivated_on: str | None, reactivated_on: str | None
) -> str | None:
    """Why the NPI no longer identifies a provider, or None: a deactivation date with no
    reactivation on or after it (NPPES)."""
    if not deactivated_on:
        return None
    try:
        gone = parse_datetime(deactivated_on).date()
    except ValueError:
        who = f"NPI {npi}" if npi else "The NPI"
        return f"{who} is deactivated in NPPES (deactivation date {deactivated_on[:20]!r})."
    if reactivated_on:
        try:
            back = parse_datetime(reactivated_on).date()
        except ValueError:
            back = None
        if back is not None and back >= gone:
            return None
    who = f"NPI {npi}" if npi else "The NPI"
    return f"{who} was deactivated on {gone.isoformat()} (NPPES) and not reactivated."
