"""The labelled case set (tests/cases/*.yaml): the schema every case file must follow, how a
case becomes a submission the way its channel's reader builds one, and how the guide it cites
is checked. No database, no Prefect."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import difflib
import re
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    StringConstraints,
    ValidationError,
    model_validator,
)

from adapters.rows import FileError, SubmissionFile
from intake.app import FormPost
from qualification.closed_sets import Channel, Reason, Status
from qualification.decision import Decision
from qualification.submission import Submission as CoreSubmission
from qualification.submission import canonical_header, safe_payload, submission_from_mapping

CASES_DIR = Path(__file__).resolve().parent
# The guide lives in ../shared beside the repository (as on every developer machine and in CI).
GUIDE_DIR = CASES_DIR.parents[2] / "shared" / "guide"

# Where each channel's reader takes the arrival time from: the intake's canonical JSON key, the
# webinar export's column; an outbound list row carries none (the run's date is used).
ARRIVAL_KEY: dict[str, str | None] = {
    "form": "received_at",
    "webinar": "Registered At",
    "outbound": None,
}

Scalar = str | int | float | bool | None


def _plain(value: Any) -> Scalar:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise ValueError(
        f"must be text, a number, true/false or null, not a YAML {type(value).__name__} "
        "(quote it, e.g. '2026-11-24')"
    )


Value = Annotated[Scalar, PlainValidator(_plain)]
CaseId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{2,63}$")]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3)]


class Citation(BaseModel):
    """A place in the guide: its numbered section, the heading under it, the words relied on."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    file: str | None = None  # defaults to the case file's `guide_file`
    section: int = Field(ge=1, le=12)
    heading: Text
    quote: Text


CitationName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]+$")]
CITATIONS_FILE = "citations.yaml"


class CitationLibrary(BaseModel):
    """citations.yaml: named places in the guide that cases cite by name."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    guide_file: str
    citations: dict[CitationName, Citation]

    def resolved(self) -> dict[str, Citation]:
        return {
            name: c.model_copy(update={"file": c.file or self.guide_file})
            for name, c in self.citations.items()
        }


_DECISION_FIELDS = frozenset(f.name for f in dataclasses.fields(Decision))


def _one_or_more(allowed: type[StrEnum], what: str) -> Callable[[Any], list[str]]:
    """One value, or a list of at least two, each a member of the closed set (with a hint)."""
    names = [str(m) for m in allowed]

    def check(value: Any) -> list[str]:
        if isinstance(value, str):
            values = [value]
        elif isinstance(value, list) and len(value) >= 2:
            values = value
        else:
            raise ValueError(f"give one {what} or a list of at least two")
        for v in values:
            if v not in names:
                near = difflib.get_close_matches(str(v), names, n=1)
                hint = f"; did you mean {near[0]!r}?" if near else ""
                raise ValueError(f"{v!r} is not a {what} (one of {', '.join(names)}){hint}")
        return [str(v) for v in values]

    return check


class Expected(BaseModel):
    """What the guide means for the case. A list of statuses or reasons is allowed only where
    the guide leaves the choice to the sheet (the case's `why` says so)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    status: Annotated[list[Status], BeforeValidator(_one_or_more(Status, "status"))]
    reason: Annotated[list[Reason], BeforeValidator(_one_or_more(Reason, "reason"))] = Field(
        default_factory=list
    )
    recheck: bool | None = None  # True: a recheck date is set; False: none
    decision: dict[str, Value] = Field(default_factory=dict)  # Decision attributes that must equal
    # Another case (the same lead without a nice-to-have) this one must score above (fit + intent).
    outranks: CaseId | None = None

    @model_validator(mode="after")
    def _reason_goes_with_disqualified(self) -> Expected:
        unknown = sorted(set(self.decision) - _DECISION_FIELDS)
        if unknown:
            near = difflib.get_close_matches(unknown[0], sorted(_DECISION_FIELDS), n=1)
            hint = f"; did you mean {near[0]!r}?" if near else ""
            raise ValueError(f"decision.{unknown[0]} is not a field of the Decision{hint}")
        if self.reason and self.status != [Status.DISQUALIFIED]:
            raise ValueError("a reason is expected only with status disqualified")
        return self

    @property
    def statuses(self) -> tuple[Status, ...]:
        return tuple(self.status)

    @property
    def reasons(self) -> tuple[Reason, ...]:
        return tuple(self.reason)

    def describe(self) -> str:
        said = " or ".join(self.status)
        return f"{said} ({' or '.join(self.reason)})" if self.reason else said


class Case(BaseModel):
    """One labelled submission."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: CaseId
    channel: Channel
    submitted_at: dt.datetime
    submission: dict[str, Value]
    expected: Expected
    a_person_decides: bool = False
    guide: list[CitationName | Citation] = Field(min_length=1)  # a name from citations.yaml
    design: str | None = None  # a DESIGN.md section, where the contract spells the rule out
    why: Text
    known_miss: Text | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Case:
        if self.submitted_at.tzinfo is None:
            raise ValueError("submitted_at needs a time zone (e.g. 2026-11-24T15:00:00Z)")
        person = self.expected.status == [Status.IN_REVIEW]
        if self.a_person_decides and not person:
            raise ValueError("a case a person decides expects status in_review")
        if person and not self.a_person_decides:
            raise ValueError("expected in_review: mark the case a_person_decides: true")
        for key in self.submission:
            if canonical_header(key) == "received_at":
                raise ValueError(
                    f"submission.{key}: give the arrival time as submitted_at, not in the fields"
                )
            if canonical_header(key) == "channel":
                raise ValueError(f"submission.{key}: the channel is the case's `channel`")
        return self


class CaseFile(BaseModel):
    """A case file: a title, the guide file cited by default, an optional base submission per
    channel that each case's fields are laid over (null removes a base field), the cases."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: Text
    guide_file: str
    base: dict[Channel, dict[str, Value]] = Field(default_factory=dict)
    cases: list[dict[str, Any]] = Field(min_length=1)


class CaseFileError(Exception):
    """A case file that cannot be used; the message names the file, the case and the field."""


@dataclass(frozen=True, slots=True)
class LoadedCase:
    """A validated case with its file, its full submission fields and its citations resolved."""

    file: str
    case: Case
    fields: Mapping[str, Scalar]
    citations: tuple[Citation, ...]

    @property
    def label(self) -> str:
        return f"{self.file}::{self.case.id}"


def _where(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(top)"


def _problems(error: ValidationError) -> list[str]:
    problems = []
    for e in error.errors():
        got = e.get("input")
        if e["type"] == "string_type" and isinstance(got, dict):
            continue  # a citation given inline: the "or a name" branch of the union is noise
        loc = tuple(p for p in e["loc"] if p not in _UNION_BRANCHES)
        shown = f" (got {got!r})" if isinstance(got, str | int | float) and loc else ""
        msg = e["msg"].removeprefix("Value error, ")
        problems.append(f"{_where(loc)}: {msg}{shown}")
    return problems


_UNION_BRANCHES = frozenset({"constrained-str", "Citation"})


def _yaml(text: str, name: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CaseFileError(f"{name}: not valid YAML: {exc}") from None


def load_citations(directory: Path = CASES_DIR) -> dict[str, Citation]:
    """The named citations, each checked against the guide (when the guide is present)."""
    path = directory / CITATIONS_FILE
    try:
        library = CitationLibrary.model_validate(_yaml(path.read_text("utf-8"), path.name))
    except ValidationError as exc:
        raise CaseFileError("\n".join(f"{path.name}: {p}" for p in _problems(exc))) from None
    named = library.resolved()
    problems = [
        f"{path.name}: citations.{name}: {why}"
        for name, c in named.items()
        if (why := citation_problem(c, library.guide_file))
    ]
    if problems:
        raise CaseFileError("\n".join(problems))
    return named


def parse_case_file(
    text: str, name: str, citations: Mapping[str, Citation] | None = None
) -> list[LoadedCase]:
    """Every case of one file, validated; a problem raises CaseFileError naming the file, the
    case id (or its position) and the field, with every problem of the file listed."""
    named = load_citations() if citations is None else citations
    try:
        doc = CaseFile.model_validate(_yaml(text, name))
    except ValidationError as exc:
        raise CaseFileError("\n".join(f"{name}: {p}" for p in _problems(exc))) from None
    problems: list[str] = []
    loaded: list[LoadedCase] = []
    seen: set[str] = set()
    for index, raw in enumerate(doc.cases):
        label = (
            f"case {raw.get('id')!r}"
            if isinstance(raw, dict) and raw.get("id")
            else (f"case #{index + 1} (no id)")
        )
        if not isinstance(raw, dict):
            problems.append(f"{name}: case #{index + 1}: must be a mapping")
            continue
        try:
            case = Case.model_validate(raw)
        except ValidationError as exc:
            problems += [f"{name}: {label}: {p}" for p in _problems(exc)]
            continue
        if case.id in seen:
            problems.append(f"{name}: {label}: id: repeated in this file")
        seen.add(case.id)
        fields = {**doc.base.get(case.channel, {}), **case.submission}
        fields = {k: v for k, v in fields.items() if v is not None}
        resolved: list[Citation] = []
        for i, cited in enumerate(case.guide):
            if isinstance(cited, str):
                if cited not in named:
                    near = difflib.get_close_matches(cited, list(named), n=1)
                    hint = f" (did you mean {near[0]!r}?)" if near else ""
                    problems.append(
                        f"{name}: {label}: guide.{i}: {cited!r} is not in {CITATIONS_FILE}{hint}"
                    )
                    continue
                resolved.append(named[cited])
                continue
            cited = cited.model_copy(update={"file": cited.file or doc.guide_file})
            why = citation_problem(cited, doc.guide_file)
            if why:
                problems.append(f"{name}: {label}: guide.{i}: {why}")
            resolved.append(cited)
        loaded.append(LoadedCase(name, case, fields, tuple(resolved)))
    if problems:
        raise CaseFileError("\n".join(problems))
    return loaded


def load_cases(directory: Path = CASES_DIR) -> list[LoadedCase]:
    """Every case of every `*.yaml` file in the folder; ids are unique across files."""
    named = load_citations(directory)
    cases: list[LoadedCase] = []
    for path in sorted(directory.glob("*.yaml")):
        if path.name != CITATIONS_FILE:
            cases += parse_case_file(path.read_text(encoding="utf-8"), path.name, named)
    owners: dict[str, str] = {}
    problems = []
    for loaded in cases:
        other = owners.setdefault(loaded.case.id, loaded.file)
        if other != loaded.file:
            problems.append(f"{loaded.file}: case {loaded.case.id!r}: id: already used in {other}")
    for loaded in cases:
        target = loaded.case.expected.outranks
        if target is not None and (target not in owners or target == loaded.case.id):
            problems.append(
                f"{loaded.file}: case {loaded.case.id!r}: expected.outranks: "
                f"{target!r} is not another case of the set"
            )
    if problems:
        raise CaseFileError("\n".join(problems))
    return cases


def build_submission(loaded: LoadedCase) -> tuple[CoreSubmission, dt.date]:
    """The submission as the channel's reader builds it, and the date the channel run uses.

    A form post goes through what the intake does with `POST /v1/forms` (the `FormPost` check,
    text made safe at the door) and what the worker does with the stored payload; a webinar or
    outbound row is written as a one-row CSV under the export's own headers and read back by
    `SubmissionFile`, the reader of `medleads webinar` and `medleads outbound`."""
    case = loaded.case
    channel = str(case.channel)
    fields: dict[str, Scalar] = dict(loaded.fields)
    key = ARRIVAL_KEY[channel]
    if key is not None:
        fields[key] = case.submitted_at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    sub = _form_post(loaded, fields) if channel == "form" else _list_row(loaded, fields, channel)
    return sub, case.submitted_at.astimezone(dt.UTC).date()


def _form_post(loaded: LoadedCase, fields: dict[str, Scalar]) -> CoreSubmission:
    try:
        FormPost.model_validate(fields)
    except ValidationError as exc:
        raise CaseFileError(
            f"{loaded.label}: the intake would refuse this form: {'; '.join(_problems(exc))}"
        ) from None
    payload, problems = safe_payload(fields)
    if problems:
        raise CaseFileError(f"{loaded.label}: the intake would refuse this form: {problems}")
    return submission_from_mapping(payload, channel="form")


def _list_row(loaded: LoadedCase, fields: dict[str, Scalar], channel: str) -> CoreSubmission:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{loaded.case.id}.csv"
        with path.open("w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(list(fields))
            writer.writerow([_cell(v) for v in fields.values()])
        try:
            rows = list(SubmissionFile(path, channel=channel).rows())
        except FileError as exc:
            raise CaseFileError(f"{loaded.label}: the {channel} reader refuses it: {exc}") from None
    if len(rows) != 1 or rows[0].submission is None:
        why = rows[0].error if rows else "no row read"
        raise CaseFileError(f"{loaded.label}: the {channel} reader refuses the row: {why}")
    return rows[0].submission


def _cell(value: Scalar) -> str:
    if isinstance(value, bool):
        return "Yes" if value else "No"
    return "" if value is None else str(value)


# --- the guide ------------------------------------------------------------------------------

_SECTION = re.compile(r"^(\d{1,2})\) ")
_QUOTES = str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'"})


def _norm(text: str) -> str:
    return " ".join(text.translate(_QUOTES).split()).lower()


@dataclass(frozen=True, slots=True)
class _Section:
    headings: frozenset[str]
    text: str


_GUIDES: dict[str, dict[int, _Section] | None] = {}


def guide_sections(file: str) -> dict[int, _Section] | None:
    """The guide's numbered sections (headings and text), or None when the file is absent."""
    if file not in _GUIDES:
        path = GUIDE_DIR / file
        if not path.is_file():
            _GUIDES[file] = None
        else:
            sections: dict[int, list[str]] = {}
            current: int | None = None
            for line in path.read_text(encoding="utf-8").splitlines():
                match = _SECTION.match(line)
                if match:
                    current = int(match.group(1))
                elif line.strip() in ("Step-by-step setup", "Conclusion"):
                    current = None if line.strip() == "Conclusion" else 11
                if current is not None:
                    sections.setdefault(current, []).append(line)
            _GUIDES[file] = {
                n: _Section(frozenset(_norm(x) for x in lines if x.strip()), _norm(" ".join(lines)))
                for n, lines in sections.items()
            }
    return _GUIDES[file]


def citation_problem(citation: Citation, default_file: str) -> str | None:
    """Why a citation does not point into the guide, or None (also when the guide is absent:
    `guide_available()` tells the test to say so)."""
    file = citation.file or default_file
    sections = guide_sections(file)
    if sections is None:
        return None
    section = sections.get(citation.section)
    if section is None:
        return f"section: the guide {file} has no section {citation.section}"
    if _norm(citation.heading) not in section.headings:
        return f"heading: {citation.heading!r} is not a heading of section {citation.section}"
    if _norm(citation.quote) not in section.text:
        return f"quote: {citation.quote!r} is not in section {citation.section}"
    return None


def guide_available(file: str) -> bool:
    return guide_sections(file) is not None
