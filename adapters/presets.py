"""List presets: the layouts of public and resold provider lists, recognised by their headers.

A preset is a YAML file in `criteria/presets/` (DESIGN §2c): the headers that identify the
layout and, for each canonical field, where its value comes from. A new vendor layout is a new
file, not code. Templates name columns in braces (`"{Provider First Name} {Provider Last Name}"`,
`{A|B}` takes the first of two spellings that the file has); a field may list alternatives (the
first non-empty wins, each optionally `when` a column holds given values) and translate values
(`values: {"1": individual}`). Numbers that a spreadsheet saved as floats ("688482168.0") lose
their ".0" before anything reads them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from qualification.submission import CANONICAL_FIELDS, canonical_header, clean_value

PRESETS_DIR = Path(__file__).resolve().parent.parent / "criteria" / "presets"
PRESET_FIELD = "list_preset"

_COLUMN = re.compile(r"\{([^{}]+)\}")
_FLOAT = re.compile(r"^([0-9]+)\.0+$")
_NUMBERED = re.compile(r"^(.*?)(\d+)$")


class PresetError(Exception):
    """A preset file is not usable, or a named preset does not exist."""


def fold(header: str) -> str:
    """A header compared without case, BOM or repeated spaces."""
    return " ".join(header.replace("\ufeff", "").split()).casefold()


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Choice(_Strict):
    """One way to fill a field: a template, used only `when` the named columns hold a value
    listed (compared without case) and the `present` columns are not empty."""

    value: str
    when: dict[str, list[str]] = {}
    present: list[str] = []

    @field_validator("when", mode="before")
    @classmethod
    def _listify(cls, value: object) -> object:
        if isinstance(value, dict):
            return {k: v if isinstance(v, list) else [v] for k, v in value.items()}
        return value


class FieldSpec(_Strict):
    """Where a canonical field comes from: the first non-empty choice, then `values` (when
    given) translates it; a value the table does not list leaves the field empty."""

    first_of: list[Choice] = Field(min_length=1)
    values: dict[str, str] | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: object) -> object:
        if isinstance(data, str):
            return {"first_of": [{"value": data}]}
        if isinstance(data, list):
            return {"first_of": [{"value": c} if isinstance(c, str) else c for c in data]}
        if isinstance(data, dict) and "value" in data:
            choice = {k: data[k] for k in ("value", "when", "present") if k in data}
            rest = {k: v for k, v in data.items() if k not in choice}
            return {"first_of": [choice], **rest}
        if isinstance(data, dict) and isinstance(data.get("first_of"), list):
            choices = [{"value": c} if isinstance(c, str) else c for c in data["first_of"]]
            return {**data, "first_of": choices}
        return data


class Repeated(_Strict):
    """A group of numbered columns (`{n}` from 1 to `count`): codes, and optionally the column
    whose "Y" marks the primary one."""

    code: str = Field(pattern=r"\{n\}")
    primary: str | None = Field(default=None, pattern=r"\{n\}")
    count: int = Field(ge=1, le=100)


class PresetSpec(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str = Field(min_length=1)
    source: str = Field(min_length=1)
    detect: list[str] = Field(min_length=1)
    fields: dict[str, FieldSpec]
    taxonomy: Repeated | None = None
    notes: list[str] = []

    @field_validator("fields")
    @classmethod
    def _field_names(cls, value: dict[str, FieldSpec]) -> dict[str, FieldSpec]:
        for name in value:
            if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
                raise ValueError(f"field {name!r} is not a snake_case name")
        return value


@dataclass(frozen=True)
class Preset:
    spec: PresetSpec
    path: Path

    @property
    def name(self) -> str:
        return self.spec.name

    def detected_by(self, folded: set[str]) -> bool:
        return all(any(fold(a) in folded for a in d.split("|")) for d in self.spec.detect)

    def referenced(self) -> list[str]:
        """Every column name (with its alternatives) the preset reads."""
        names: list[str] = list(self.spec.detect)
        for spec in self.spec.fields.values():
            for choice in spec.first_of:
                names += _COLUMN.findall(choice.value)
                names += list(choice.when) + choice.present
        group = self.spec.taxonomy
        if group is not None:
            for n in range(1, group.count + 1):
                names.append(group.code.replace("{n}", str(n)))
                if group.primary:
                    names.append(group.primary.replace("{n}", str(n)))
        return names


def _load(path: Path) -> Preset:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise PresetError(f"{path}: cannot be read: {exc}") from None
    try:
        spec = PresetSpec.model_validate(data)
    except ValidationError as exc:
        why = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg']}"
            for e in exc.errors()
        )
        raise PresetError(f"{path}: {why}") from None
    if spec.name != path.stem:
        raise PresetError(f"{path}: name {spec.name!r} differs from the file name {path.stem!r}")
    return Preset(spec, path)


@lru_cache(maxsize=8)
def load_presets(folder: Path = PRESETS_DIR) -> tuple[Preset, ...]:
    """Every preset of the folder, in name order; a bad file is an error naming it."""
    return tuple(_load(p) for p in sorted(folder.glob("*.yaml")))


def get_preset(name: str, folder: Path = PRESETS_DIR) -> Preset:
    presets = {p.name: p for p in load_presets(folder)}
    if name not in presets:
        known = ", ".join(sorted(presets)) or "none"
        raise PresetError(f"no list preset named {name!r} (known: {known})")
    return presets[name]


def detect(header: Sequence[str], folder: Path = PRESETS_DIR) -> Preset | None:
    """The preset whose identifying headers the file has; the most specific when several do."""
    folded = {fold(h) for h in header}
    found = [p for p in load_presets(folder) if p.detected_by(folded)]
    return max(found, key=lambda p: len(p.spec.detect), default=None)


def summarize_columns(names: Iterable[str], limit: int = 40) -> str:
    """Column names for a note: numbered runs folded ("Other Provider Identifier_1.._50")."""
    runs: dict[str, list[int]] = {}
    order: list[str] = []
    for name in names:
        m = _NUMBERED.match(name)
        stem, number = (m.group(1), int(m.group(2))) if m and m.group(1) else (name, -1)
        key = stem if number >= 0 else name
        if key not in runs:
            runs[key] = []
            order.append(key)
        if number >= 0:
            runs[key].append(number)
    parts = []
    for key in order:
        numbers = runs[key]
        if len(numbers) > 1:
            parts.append(f"{key}{min(numbers)}..{max(numbers)}")
        elif numbers:
            parts.append(f"{key}{numbers[0]}")
        else:
            parts.append(key)
    shown = parts[:limit]
    more = f" and {len(parts) - limit} more" if len(parts) > limit else ""
    return ", ".join(shown) + more


@dataclass
class Layout:
    """A preset bound to one file's header: which columns it reads, which it ignores."""

    preset: Preset
    header: Sequence[str]
    forced: bool = False
    spelled: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for h in self.header:
            self.spelled.setdefault(fold(h), h.replace("\ufeff", "").strip())
        # Every reference resolved once: a 330-column file is read row after row.
        self._columns: dict[str, str | None] = {
            r: self._resolve(r) for r in self.preset.referenced()
        }
        self._plan = [
            (
                name,
                [
                    (
                        choice.value,
                        _COLUMN.findall(choice.value),
                        [
                            (c, frozenset(v.casefold() for v in accepted))
                            for c, accepted in choice.when.items()
                        ],
                        choice.present,
                    )
                    for choice in spec.first_of
                ],
                None if spec.values is None else {k.casefold(): v for k, v in spec.values.items()},
            )
            for name, spec in self.preset.spec.fields.items()
        ]

    def column(self, reference: str) -> str | None:
        """The file's spelling of a referenced column (`A|B`: the first the file has)."""
        cached = getattr(self, "_columns", {})
        return cached[reference] if reference in cached else self._resolve(reference)

    def _resolve(self, reference: str) -> str | None:
        for alternative in reference.split("|"):
            found = self.spelled.get(fold(alternative))
            if found is not None:
                return found
        return None

    @property
    def used(self) -> list[str]:
        found = {self.column(r) for r in self.preset.referenced()}
        return [h for h in self.spelled.values() if h in found]

    @property
    def ignored(self) -> list[str]:
        used = set(self.used)
        return [h for h in self.spelled.values() if h and h not in used]

    @cached_property
    def kept(self) -> list[str]:
        """Ignored columns whose cells are stored with the raw submission as the file spells
        them: all but those whose name would read as a canonical field."""
        return [h for h in self.ignored if canonical_header(h) not in CANONICAL_FIELDS]

    def raw(self, cells: Mapping[str, str], mapped: Mapping[str, str]) -> dict[str, str]:
        """What is stored for a row: the preset's fields and every non-empty ignored cell."""
        kept = {h: cells[h] for h in self.kept if cells.get(h) and h not in mapped}
        return {**kept, **mapped}

    @property
    def missing(self) -> list[str]:
        """Columns the preset identifies the layout by that the file lacks (a forced preset)."""
        return [d for d in self.preset.spec.detect if self.column(d) is None]

    def fields(self) -> list[str]:
        """The fields this file can fill: some column a field reads is present."""
        names = [
            name
            for name, spec in self.preset.spec.fields.items()
            if any(
                not _COLUMN.findall(c.value)
                or any(self.column(r) is not None for r in _COLUMN.findall(c.value))
                for c in spec.first_of
            )
        ]
        group = self.preset.spec.taxonomy
        if group is not None and self.column(group.code.replace("{n}", "1")) is not None:
            names.append("taxonomy_codes")
        return names

    def mapping(self) -> list[tuple[str, str]]:
        """(field, where it comes from) for a person checking the list."""
        rows = []
        for name, spec in self.preset.spec.fields.items():
            sources = []
            for choice in spec.first_of:
                text = _COLUMN.sub(
                    lambda m: "{" + (self.column(m.group(1)) or "?") + "}", choice.value
                )
                conds = [
                    f"{self.column(c) or c} = {'/'.join(v)}" for c, v in choice.when.items()
                ] + [f"{self.column(c) or c} given" for c in choice.present]
                if conds:
                    text += f" when {', '.join(conds)}"
                sources.append(text)
            if spec.values:
                sources.append("values " + ", ".join(f"{k}={v}" for k, v in spec.values.items()))
            rows.append((name, " | ".join(sources)))
        group = self.preset.spec.taxonomy
        if group is not None:
            src = f"{group.code.replace('{n}', '1..' + str(group.count))}"
            if group.primary:
                src += f", primary first by {group.primary.replace('{n}', 'n')} = Y"
            rows.append(("taxonomy_codes", src))
        return rows

    def _cell(self, cells: Mapping[str, str], reference: str) -> str:
        column = self.column(reference)
        if column is None:
            return ""
        raw = cells.get(column)
        if not raw:
            return ""
        text = clean_value(raw) or ""
        m = _FLOAT.fullmatch(text)
        return m.group(1) if m else text

    def _render(self, cells: Mapping[str, str], template: str, references: list[str]) -> str:
        """The template filled in; the separator before an empty column goes with it
        ("{First} {Middle} {Last}, {Credential}" without a middle name or credential reads
        "EDDY KARNABI"). Cell text itself is never rewritten."""
        if not references:
            return template
        parts = _COLUMN.split(template)  # literal, reference, literal, ..., literal
        pieces: list[str] = []
        for i, reference in enumerate(references):
            value = self._cell(cells, reference)
            if value:
                separator = parts[2 * i] if pieces or i == 0 else ""
                pieces.append(separator + value)
        if not pieces:
            return ""
        if self._cell(cells, references[-1]):
            pieces.append(parts[-1])
        return " ".join("".join(pieces).split())

    def apply(self, cells: Mapping[str, str]) -> dict[str, str]:
        """A row's cells (by the file's headers) as canonical fields."""
        out: dict[str, str] = {}
        for name, choices, table in self._plan:
            value = ""
            for template, references, when, present in choices:
                if not all(self._cell(cells, c) for c in present):
                    continue
                if not all(self._cell(cells, c).casefold() in ok for c, ok in when):
                    continue
                value = self._render(cells, template, references)
                if value:
                    break
            if value and table is not None:
                value = table.get(value.casefold(), "")
            if value:
                out[name] = value
        codes = self._codes(cells)
        if codes:
            out["taxonomy_codes"] = "; ".join(codes)
        out[PRESET_FIELD] = self.preset.name
        return out

    def _codes(self, cells: Mapping[str, str]) -> list[str]:
        group = self.preset.spec.taxonomy
        if group is None:
            return []
        codes: list[str] = []
        primary: list[str] = []
        for n in range(1, group.count + 1):
            code = self._cell(cells, group.code.replace("{n}", str(n))).upper()
            if not code or code in codes or code in primary:
                continue
            flag = self._cell(cells, group.primary.replace("{n}", str(n))) if group.primary else ""
            (primary if flag.upper() == "Y" else codes).append(code)
        return primary + codes


def preset_summary(layout: Layout) -> list[str]:
    """File-level notes: which preset, why, and what it leaves out."""
    spec = layout.preset.spec
    how = "forced with --preset" if layout.forced else "recognised by its headers"
    notes = [f"list preset {spec.name} ({spec.title}), {how}"]
    if layout.missing:
        notes.append(
            f"the file lacks columns preset {spec.name} expects: {', '.join(layout.missing)}"
        )
    ignored = layout.ignored
    if ignored:
        notes.append(
            f"ignored {len(ignored)} column(s) (not used; their non-empty cells are kept with the "
            f"raw submission): {summarize_columns(ignored)}"
        )
    dropped = [h for h in ignored if h not in layout.kept]
    if dropped:
        notes.append(
            f"preset {spec.name} does not read {', '.join(dropped[:10])}: a column named like a "
            "canonical field that the preset does not map is not stored (use --map instead)"
        )
    notes.extend(spec.notes)
    return notes
