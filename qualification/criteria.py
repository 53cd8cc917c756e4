"""The criteria sheet: the operator-edited YAML that drives every decision, validated whole."""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from .closed_sets import PERMANENT_REASONS, Channel, Influence, Reason
from .contact import check_email, check_state, normalize_country
from .phrases import PhraseMatcher
from .taxonomy import TaxonomyMap, TaxonomySection
from .vocab import ORG_TYPES, ROLES, SPECIALTIES, Vocabulary

Band = Literal["low", "mid", "high"]
Action = Literal["nurture", "mql", "sql"]
InterestType = Literal["demo", "pricing", "consultation", "content", "webinar", "general"]
Team = Literal["sales", "marketing"]
MustHave = Literal["specialty", "org_type", "decision_role", "location", "timeframe"]
NiceToHave = Literal[
    "current_vendor", "budget_range", "locations_count", "website", "npi", "phone", "timeframe"
]
ReviewDefault = Literal["nurture", "mql"]

CHANNELS: tuple[str, ...] = tuple(Channel)
INTEREST_TYPES: tuple[str, ...] = (
    "demo",
    "pricing",
    "consultation",
    "content",
    "webinar",
    "general",
)
BANDS: tuple[str, ...] = ("low", "mid", "high")

# Each disqualification reason is permanent or temporary; temporary ones are rechecked.
DISQUALIFICATION_REASONS: dict[str, bool] = {r: r in PERMANENT_REASONS for r in Reason}
TEMPORARY_REASONS: tuple[str, ...] = tuple(
    r for r, permanent in DISQUALIFICATION_REASONS.items() if not permanent
)


def _suggest(value: str, known: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(value, known, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _vocab_key(kind: str, known: tuple[str, ...]) -> AfterValidator:
    def check(value: str) -> str:
        if value not in known:
            raise ValueError(f"unknown {kind} '{value}'{_suggest(value, known)}")
        return value

    return AfterValidator(check)


def _country(value: str) -> str:
    code = normalize_country(value)
    if code is None:
        raise ValueError(f"'{value}' is not a known country")
    return code


def _us_state(value: str) -> str:
    result = check_state(value, "US")
    if not result.valid or result.code is None:
        raise ValueError(f"'{value}' is not a US state or territory code")
    return result.code


def _email(value: str) -> str:
    result = check_email(value)
    if not result.valid or result.normalized is None:
        raise ValueError(f"'{value}' is not a valid email address ({result.error})")
    return result.normalized


Specialty = Annotated[str, _vocab_key("specialty", SPECIALTIES)]
OrgType = Annotated[str, _vocab_key("organization type", ORG_TYPES)]
Role = Annotated[str, _vocab_key("role", ROLES)]
Country = Annotated[str, AfterValidator(_country)]
State = Annotated[str, AfterValidator(_us_state)]
Email = Annotated[str, AfterValidator(_email)]
Points = Annotated[int, Field(ge=0, le=100)]
Percent = Annotated[int, Field(ge=0, le=100)]
Days = Annotated[int, Field(ge=1, le=3650)]
Hours = Annotated[float, Field(gt=0, le=24 * 365)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Offer(Strict):
    name: str = Field(min_length=1)
    summary: str = ""


class SpecialtyScope(Strict):
    core: list[Specialty] = Field(min_length=1)
    adjacent: list[Specialty] = []


class OrgTypeScope(Strict):
    preferred: list[OrgType] = Field(min_length=1)
    accepted: list[OrgType] = []


class Scope(Strict):
    countries: list[Country] = Field(min_length=1)
    states: list[State] = []
    specialties: SpecialtyScope
    org_types: OrgTypeScope
    out_of_scope_services: list[str] = []

    @model_validator(mode="after")
    def _no_overlap(self) -> Scope:
        both = set(self.specialties.core) & set(self.specialties.adjacent)
        if both:
            raise ValueError(f"specialties both core and adjacent: {', '.join(sorted(both))}")
        both = set(self.org_types.preferred) & set(self.org_types.accepted)
        if both:
            raise ValueError(f"org types both preferred and accepted: {', '.join(sorted(both))}")
        return self


class Defaults(Strict):
    country: Country = "US"
    phone_region: Country = "US"


class HardStops(Strict):
    out_of_geography: bool = True
    wrong_org_type: bool = True
    different_specialty: bool = True
    out_of_scope_service: bool = True
    invalid_contact: bool = True
    patient_inquiry: bool = True
    spam: bool = True
    no_consent_channels: list[Channel] = [Channel.FORM, Channel.WEBINAR]
    no_decision_path_channels: list[Channel] = [Channel.OUTBOUND]


class SpamRules(Strict):
    phrases: list[str] = []
    max_links: int = Field(default=3, ge=0)


class SpecialtyPoints(Strict):
    core: Points
    adjacent: Points = 0


class GeographyPoints(Strict):
    in_territory: Points


class OrgTypePoints(Strict):
    preferred: Points
    accepted: Points = 0


class RolePoints(Strict):
    decider: Points
    influencer: Points = 0
    user: Points = 0


class LocationStep(Strict):
    min: int = Field(ge=1)
    points: Points


class FitWeights(Strict):
    specialty: SpecialtyPoints
    geography: GeographyPoints
    org_type: OrgTypePoints
    role: RolePoints
    locations: list[LocationStep] = []

    @model_validator(mode="after")
    def _steps_ascend(self) -> FitWeights:
        mins = [s.min for s in self.locations]
        if mins != sorted(set(mins)):
            raise ValueError("locations steps must have strictly increasing 'min'")
        return self

    @property
    def maximum(self) -> int:
        steps = max((s.points for s in self.locations), default=0)
        return (
            max(self.specialty.core, self.specialty.adjacent)
            + self.geography.in_territory
            + max(self.org_type.preferred, self.org_type.accepted)
            + max(self.role.decider, self.role.influencer, self.role.user)
            + steps
        )


class PerCount(Strict):
    each: Points
    max: Points


class IntentWeights(Strict):
    interest_type: dict[InterestType, Points]
    content_downloads: PerCount
    page_visits_high_intent: PerCount
    email_engagements: PerCount
    webinar_attended: Points = 0

    @property
    def maximum(self) -> int:
        return (
            max(self.interest_type.values(), default=0)
            + self.content_downloads.max
            + self.page_visits_high_intent.max
            + self.email_engagements.max
            + self.webinar_attended
        )


class BandEdges(Strict):
    mid: Percent
    high: Percent

    @model_validator(mode="after")
    def _ordered(self) -> BandEdges:
        if not 0 < self.mid < self.high:
            raise ValueError(f"needs 0 < mid < high, got mid {self.mid} and high {self.high}")
        return self


class Bands(Strict):
    fit: BandEdges
    intent: BandEdges


class RoutingRow(Strict):
    low: Action
    mid: Action
    high: Action


class RoutingTable(Strict):
    low: RoutingRow
    mid: RoutingRow
    high: RoutingRow

    def action(self, fit_band: str, intent_band: str) -> Action:
        row: RoutingRow = getattr(self, fit_band)
        result: Action = getattr(row, intent_band)
        return result


class NeedClass(Strict):
    """A kind of request (DESIGN §3, need): its phrases and synonyms, and the disqualification
    reason a match gives. `yields_to_offer`: not a hard stop when the message also matches the
    offer's scope (a practice replacing its EHR that also asks for digital intake): the request is
    mixed and a person decides."""

    reason: Reason
    label: str = ""
    phrases: list[str] = Field(min_length=1)
    yields_to_offer: bool = False

    @field_validator("reason")
    @classmethod
    def _from_words(cls, value: Reason) -> Reason:
        if value in (Reason.DUPLICATE, Reason.TIMING_TOO_FAR):
            raise ValueError(f"{value} is not decided by the words of a request")
        return value


NeedClassName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]


class Needs(Strict):
    """What a request asks for, matched by meaning (qualification/phrases.py): the offer's own
    scope (a positive match confirms interest in the exact scope, an SQL condition) and classes of
    other needs, each a hard stop with its reason. With no `offer_scope`, the interest type alone
    confirms the scope (sheets written before need classes). `buying_cues`: words in which the
    lead states its own buying need ("we might buy", "for our practice"); with the offer's scope
    in the same message, a need class that does not yield makes the request mixed (a person
    decides) rather than a hard stop."""

    offer_scope: list[str] = []
    buying_cues: list[str] = []
    classes: dict[NeedClassName, NeedClass] = {}
    max_gap_words: int = Field(default=2, ge=0, le=5)
    typos: bool = True


class DecisionPath(Strict):
    """A stated path to the buying committee (a decider or approver named in a field or in the
    message) makes the contact count as at least `path_counts_as`. A contact on a
    `hard_stops.no_decision_path_channels` channel whose role is unknown and who names no path is
    not disqualified: it goes to discovery with `unknown_role_status` (a low-fit lead stays
    nurture)."""

    path_counts_as: Literal["influencer", "decider"] = "influencer"
    unknown_role_status: Literal["mql", "nurture", "in_review"] = "mql"


class NiceSignal(Strict):
    points: Points
    phrases: list[str] = []


class NiceToHavePoints(Strict):
    """Intent points for nice-to-haves (guide §2: they help prioritize after initial fit), on top
    of the signals that add up to 100; the intent score stays capped at 100. A budget signal is a
    budget_range given (not "none" or "unknown") or a phrase; the others are phrases."""

    budget_signal: NiceSignal = NiceSignal(points=0)
    facility_expansion: NiceSignal = NiceSignal(points=0)
    vendor_switching: NiceSignal = NiceSignal(points=0)


class TimelineToSales(Strict):
    """Guide §6, inbound: route to sales if SQL criteria are met or if timing is provided. A lead
    on one of `channels` whose routing table says mql, whose fit band is one of `fit_bands` and
    which gives a timeline that is not far out becomes SQL. No channels: off."""

    channels: list[Channel] = []
    fit_bands: list[Band] = ["mid"]


class SqlConditions(Strict):
    interest_types: list[InterestType] = Field(min_length=1)
    decision_influence: list[Influence] = Field(min_length=1)
    near_term_days: Days
    discovery_interest_types: list[InterestType] = ["demo", "consultation"]
    phone_consent_counts_as_discovery: bool = True


class Timing(Strict):
    """How a timeline's window (DESIGN §3) is judged: near-term when it starts within
    `sql_conditions.near_term_days` and is over within `near_term_end_days` (default twice the
    near-term horizon: a window that merely starts soon but runs on for a year names no
    near-term need); far out when it is not near-term and runs beyond `too_far_days`. Far out
    is nurture with a recheck date when the offer has a re-engagement plan, else a
    `timing_too_far` disqualification (guide §12). The recheck comes when the window comes
    within the near-term horizon (`window`) or after a number of days from
    `recheck.horizons_days`."""

    too_far_days: Days
    near_term_end_days: Days | None = None
    re_engagement: bool = True
    far_out_recheck: Literal["window"] | int = "window"

    def near_term_end(self, near_term_days: int) -> int:
        """The last day, from the submission, by which a near-term window is over."""
        return self.near_term_end_days or 2 * near_term_days

    @field_validator("far_out_recheck", mode="before")
    @classmethod
    def _window_or_days(cls, value: object) -> object:
        if value == "window" or (type(value) is int and 1 <= value <= 3650):
            return value
        raise ValueError(
            f"{str(value)[:40]!r} is neither 'window' nor a number of days "
            "(one of recheck.horizons_days)"
        )


class Borderline(Strict):
    band_margin: int = Field(default=0, ge=0, le=50)
    high_intent_low_fit: bool = True
    unknown_must_have_intent_bands: list[Band] = ["high"]


class Owner(Strict):
    id: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9-]*$")
    name: str = Field(min_length=1)
    email: Email
    team: Team
    territories: list[State] = []
    specialties: list[Specialty] = []
    capacity: int = Field(default=50, ge=1)
    available: bool = True
    unavailable_reason: str = ""

    @model_validator(mode="after")
    def _reason_when_unavailable(self) -> Owner:
        if not self.available and not self.unavailable_reason.strip():
            raise ValueError("an unavailable owner needs an unavailable_reason")
        return self


class Fallback(Strict):
    sales: str
    marketing: str


class Routing(Strict):
    owners: list[Owner] = Field(min_length=1)
    fallback: Fallback

    @cached_property
    def by_id(self) -> dict[str, Owner]:
        return {o.id: o for o in self.owners}


class Review(Strict):
    reviewers: list[Email] = Field(min_length=1)
    fallback_reviewer: Email
    reminder_hours: Hours
    escalate_hours: Hours
    default_after_hours: Hours
    default_action: ReviewDefault = "nurture"

    @model_validator(mode="after")
    def _ordered(self) -> Review:
        if not self.reminder_hours < self.escalate_hours < self.default_after_hours:
            raise ValueError("needs reminder_hours < escalate_hours < default_after_hours")
        return self


class Slas(Strict):
    sql: Hours
    mql: Hours
    mql_no_timeline: Hours
    nurture: Hours
    in_review: Hours


class Recheck(Strict):
    horizons_days: list[Days] = [30, 60, 90, 180]
    mql_no_timeline_days: Days
    temporary_disqualification_days: dict[str, Days]

    @model_validator(mode="after")
    def _known(self) -> Recheck:
        problems = []
        allowed = set(self.horizons_days)
        if self.mql_no_timeline_days not in allowed:
            problems.append(f"mql_no_timeline_days {self.mql_no_timeline_days} is not a horizon")
        for reason, days in self.temporary_disqualification_days.items():
            if reason not in TEMPORARY_REASONS:
                problems.append(
                    f"'{reason}' is not a temporary disqualification reason "
                    f"({', '.join(TEMPORARY_REASONS)})"
                )
            elif days not in allowed:
                problems.append(f"{reason}: {days} days is not one of horizons_days")
        if problems:
            raise ValueError("; ".join(problems))
        return self


class DiscoveryQuestions(Strict):
    default: list[str] = Field(min_length=1)
    by_specialty: dict[Specialty, list[str]] = {}


class VocabularyExtras(Strict):
    specialty_synonyms: dict[str, Specialty] = {}
    org_type_synonyms: dict[str, OrgType] = {}
    role_synonyms: dict[str, Role] = {}
    role_influence: dict[Role, Influence] = {}


class Webinar(Strict):
    follow_up_question: str = "What timing are you working to, and who else would decide?"


class CriteriaSheet(Strict):
    """The validated sheet; construct through `parse_criteria` or `load_criteria`."""

    label: str = ""
    offer: Offer
    scope: Scope
    defaults: Defaults = Defaults()
    hard_stops: HardStops = HardStops()
    spam: SpamRules = SpamRules()
    must_have: list[MustHave] = []
    nice_to_have: list[NiceToHave] = []
    fit: FitWeights
    intent: IntentWeights
    bands: Bands
    routing_table: RoutingTable
    sql_conditions: SqlConditions
    timing: Timing
    borderline: Borderline = Borderline()
    routing: Routing
    review: Review
    slas: Slas
    recheck: Recheck
    discovery_questions: DiscoveryQuestions
    vocabulary: VocabularyExtras = VocabularyExtras()
    webinar: Webinar = Webinar()
    # Provider taxonomy codes and Medicare specialty names -> specialties and org types.
    taxonomy: TaxonomySection = TaxonomySection()
    needs: Needs = Needs()
    decision_path: DecisionPath = DecisionPath()
    nice_to_have_points: NiceToHavePoints = NiceToHavePoints()
    timeline_to_sales: TimelineToSales = TimelineToSales()


@dataclass(frozen=True)
class Problem:
    file: str
    path: str
    why: str

    def __str__(self) -> str:
        return f"{self.file}: {self.path}: {self.why}"


class CriteriaError(Exception):
    """A sheet was refused; `problems` lists every one found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass(frozen=True)
class Criteria:
    """A validated sheet with its version and the vocabulary it extends."""

    sheet: CriteriaSheet
    content_hash: str
    source: str
    vocabulary: Vocabulary
    text: str = field(default="", repr=False, compare=False)
    # The sheet's need classes, offer scope and nice-to-have phrases, compiled once.
    phrases: PhraseMatcher = field(
        default_factory=lambda: PhraseMatcher({}), repr=False, compare=False
    )
    # The need classes by name, `scope.out_of_scope_services` folded in (`need_classes`).
    needs: Mapping[str, NeedClass] = field(default_factory=dict, repr=False, compare=False)

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        """Pickled as its text (the vocabulary holds caches that do not pickle), so a sheet can
        go to a worker process; parsing it there gives the same sheet and version."""
        return (_unpickle, (self.text, self.source))

    @property
    def label(self) -> str:
        return self.sheet.label

    @cached_property
    def taxonomy(self) -> TaxonomyMap:
        """The sheet's `taxonomy:` section over the CMS crosswalk."""
        return TaxonomyMap(self.sheet.taxonomy, self.vocabulary)

    @property
    def version(self) -> str:
        return f"{self.label}@{self.content_hash}" if self.label else self.content_hash


def _path(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(p) for p in loc) or "(top level)"


def _why(error: Mapping[str, Any], known_keys: tuple[str, ...]) -> str:
    kind = error["type"]
    if kind == "missing":
        return "required key is missing"
    if kind == "extra_forbidden":
        key = str(error["loc"][-1])
        return f"unknown key{_suggest(key, known_keys)}"
    message = str(error["msg"])
    return message.removeprefix("Value error, ")


def _known_keys(model: type[BaseModel], loc: tuple[int | str, ...]) -> tuple[str, ...]:
    """The keys a model accepts at the parent of `loc`, for 'did you mean' hints."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(part, int) or not isinstance(current, type):
            continue
        if not issubclass(current, BaseModel) or part not in current.model_fields:
            return ()
        annotation = current.model_fields[part].annotation
        args = getattr(annotation, "__args__", ())
        current = next(
            (a for a in (annotation, *args) if isinstance(a, type) and issubclass(a, BaseModel)),
            None,
        )
    if isinstance(current, type) and issubclass(current, BaseModel):
        return tuple(current.model_fields)
    return ()


def _cross_checks(sheet: CriteriaSheet) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    if sheet.fit.maximum != 100:
        problems.append(
            (
                "fit",
                f"the highest points per signal add up to {sheet.fit.maximum}; "
                "they must add up to 100",
            )
        )
    if sheet.intent.maximum != 100:
        problems.append(
            (
                "intent",
                f"the highest points per signal add up to {sheet.intent.maximum}; "
                "they must add up to 100",
            )
        )
    owners = sheet.routing.by_id
    if len(owners) != len(sheet.routing.owners):
        seen: set[str] = set()
        for i, o in enumerate(sheet.routing.owners):
            if o.id in seen:
                problems.append((f"routing.owners.{i}.id", f"duplicate owner id '{o.id}'"))
            seen.add(o.id)
    for team in ("sales", "marketing"):
        owner_id = getattr(sheet.routing.fallback, team)
        owner = owners.get(owner_id)
        if owner is None:
            hint = _suggest(owner_id, tuple(owners))
            problems.append((f"routing.fallback.{team}", f"no owner with id '{owner_id}'{hint}"))
        elif owner.team != team:
            problems.append(
                (f"routing.fallback.{team}", f"owner '{owner_id}' is in team {owner.team}")
            )
        elif not owner.available:
            problems.append(
                (f"routing.fallback.{team}", f"fallback owner '{owner_id}' must be available")
            )
    scoped = set(sheet.scope.states)
    for i, o in enumerate(sheet.routing.owners):
        outside = [s for s in o.territories if scoped and s not in scoped]
        if outside:
            problems.append(
                (f"routing.owners.{i}.territories", f"outside scope.states: {', '.join(outside)}")
            )
    if sheet.recheck.mql_no_timeline_days > sheet.timing.too_far_days:
        problems.append(("recheck.mql_no_timeline_days", "is later than timing.too_far_days"))
    far_out = sheet.timing.far_out_recheck
    if far_out != "window" and far_out not in sheet.recheck.horizons_days:
        problems.append(
            (
                "timing.far_out_recheck",
                f"{far_out} days is not one of recheck.horizons_days "
                f"({', '.join(map(str, sheet.recheck.horizons_days))}); or say 'window'",
            )
        )
    if sheet.sql_conditions.near_term_days >= sheet.timing.too_far_days:
        problems.append(("timing.too_far_days", "must be more than sql_conditions.near_term_days"))
    end = sheet.timing.near_term_end_days
    if end is not None and end < sheet.sql_conditions.near_term_days:
        problems.append(
            ("timing.near_term_end_days", "must be at least sql_conditions.near_term_days")
        )
    return problems


def parse_criteria(text: str, source: str = "<criteria>") -> Criteria:
    """Validate a sheet's YAML text; raise CriteriaError listing every problem."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(file)"
        problem = getattr(exc, "problem", None) or str(exc)
        raise CriteriaError([Problem(source, where, f"not valid YAML: {problem}")]) from None
    if not isinstance(data, dict):
        raise CriteriaError([Problem(source, "(top level)", "the sheet must be a YAML mapping")])
    try:
        sheet = CriteriaSheet.model_validate(data)
    except ValidationError as exc:
        problems = [
            Problem(source, _path(e["loc"]), _why(e, _known_keys(CriteriaSheet, e["loc"])))
            for e in exc.errors()
        ]
        raise CriteriaError(problems) from None
    cross = _cross_checks(sheet)
    vocabulary: Vocabulary | None = None
    try:
        vocabulary = Vocabulary(
            specialty_synonyms=sheet.vocabulary.specialty_synonyms,
            org_type_synonyms=sheet.vocabulary.org_type_synonyms,
            role_synonyms=sheet.vocabulary.role_synonyms,
            role_influence=sheet.vocabulary.role_influence,
        )
    except ValueError as exc:
        cross.append(("vocabulary", str(exc)))
    if cross or vocabulary is None:
        raise CriteriaError([Problem(source, path, why) for path, why in cross])
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]
    return Criteria(
        sheet=sheet,
        content_hash=digest,
        source=source,
        vocabulary=vocabulary,
        text=text,
        phrases=sheet_phrases(sheet),
        needs=need_classes(sheet),
    )


OFFER_SCOPE = "offer_scope"
BUYING_CUES = "buying_cues"
LEGACY_OUT_OF_SCOPE = "out_of_scope_service"


def need_classes(sheet: CriteriaSheet) -> dict[str, NeedClass]:
    """The sheet's need classes, with `scope.out_of_scope_services` (the older list) folded into
    an `out_of_scope_service` class."""
    classes = dict(sheet.needs.classes)
    legacy = sheet.scope.out_of_scope_services
    if legacy:
        known = classes.get(LEGACY_OUT_OF_SCOPE)
        classes[LEGACY_OUT_OF_SCOPE] = NeedClass(
            reason=Reason.OUT_OF_SCOPE_SERVICE,
            label=known.label if known else "a service the offer does not include",
            phrases=[*(known.phrases if known else []), *legacy],
            yields_to_offer=known.yields_to_offer if known else False,
        )
    return classes


def sheet_phrases(sheet: CriteriaSheet) -> PhraseMatcher:
    """One matcher for the offer scope (group `offer_scope`), the buying cues (`buying_cues`),
    each need class (`need:NAME`) and
    each nice-to-have (`nice:NAME`)."""
    groups: dict[str, list[str]] = {
        OFFER_SCOPE: list(sheet.needs.offer_scope),
        BUYING_CUES: list(sheet.needs.buying_cues),
    }
    for name, need in need_classes(sheet).items():
        groups[f"need:{name}"] = list(need.phrases)
    nice = sheet.nice_to_have_points
    for name in NiceToHavePoints.model_fields:
        groups[f"nice:{name}"] = list(getattr(nice, name).phrases)
    return PhraseMatcher(groups, max_gap=sheet.needs.max_gap_words, typos=sheet.needs.typos)


@lru_cache(maxsize=4)
def _unpickle(text: str, source: str) -> Criteria:
    """A worker process gets the same sheet with every chunk: parse it once."""
    return parse_criteria(text, source)


def load_criteria(path: str | Path) -> Criteria:
    """Read and validate a sheet file."""
    file = Path(path)
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise CriteriaError([Problem(str(path), "(file)", exc.strerror or str(exc))]) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CriteriaError(
            [Problem(str(path), "(file)", f"not UTF-8 text (byte {exc.start})")]
        ) from None
    return parse_criteria(text, str(path))
