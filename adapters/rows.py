"""Read CSV or JSONL files as a stream of rows, reporting every bad row by number.

Real exports are messy: a BOM, cp1252 bytes, semicolons, ragged rows, huge cells. `read_rows` is
the one reader of every file input (lists, CRM outcomes, engagement): a bad row is reported and
skipped; it never stops the rows after it. `SubmissionFile` builds submissions on top of it.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from adapters.presets import Layout, PresetError, detect, get_preset, preset_summary
from qualification.submission import (
    CANONICAL_FIELDS,
    MAX_FIELD_CHARS,
    Submission,
    canonical_header,
    field_problems,
    missing_columns,
    submission_from_mapping,
)
from qualification.text import safe_text

JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")
_SNIFF_BYTES = 64 * 1024
_DELIMITERS = ",;\t|"


def _cp1252_fallback(exc: UnicodeError) -> tuple[str, int]:
    """Decode bytes that are not UTF-8 as cp1252, so mixed exports still read."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    bad = exc.object[exc.start : exc.end]
    return bad.decode("cp1252", errors="replace"), exc.end


codecs.register_error("medleads-cp1252", _cp1252_fallback)


class FileError(Exception):
    """The whole file cannot be read (empty, no header, a required column missing)."""


HeaderCheck = Callable[[Sequence[str], Sequence[str]], None]
"""Sees a CSV header as the file spells it and as named; raises the caller's file error when the
file cannot be used, and may add the caller's notes."""


@dataclass(frozen=True, slots=True)
class Row:
    """One data row: its cells by column name, or why it cannot be read (never both).

    `number` is the spreadsheet row (the header is row 1) or the JSONL line; `column` names the
    column at fault when one is."""

    number: int
    cells: Mapping[str, str] | None
    error: str = ""
    column: str | None = None


def as_spelled(header: str) -> str:
    """A header as the file spells it, without a BOM or surrounding spaces."""
    return header.replace("\ufeff", "").strip()


def delimiter_hint(header: Sequence[str]) -> str:
    """For a missing-column message: a header read as one column holding delimiters."""
    if len(header) == 1 and any(d in header[0] for d in _DELIMITERS):
        return f" (the header is one column {header[0][:60]!r}: check the delimiter)"
    return ""


def read_rows(
    path: Path,
    *,
    name: Callable[[str], str] = as_spelled,
    check_header: HeaderCheck | None = None,
    error: type[Exception] = FileError,
    notes: list[str] | None = None,
    on_header: Callable[[Sequence[str]], None] | None = None,
) -> Iterator[Row]:
    """Stream a CSV (any of `,;\\t|`, BOM, cp1252 bytes) or JSONL file (by its suffix).

    `name` turns a header or a JSONL key into the caller's column name; where two columns get
    the same name the first non-empty cell wins. `error` is raised when the file cannot be read
    at all (missing, empty, unreadable header). File-level remarks (repeated columns, header
    only) are appended to `notes`. `on_header` sees a CSV header before any column is named
    (a list preset is chosen there)."""
    notes = [] if notes is None else notes
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise error(f"{path}: {exc.strerror or exc}") from None
    with handle:
        head = handle.read(_SNIFF_BYTES)
        if not head.strip(b"\xef\xbb\xbf \r\n\t"):
            raise error(f"{path}: the file is empty")
        handle.seek(0)
        text = io.TextIOWrapper(handle, encoding="utf-8-sig", errors="medleads-cp1252", newline="")
        if path.suffix.lower() in JSONL_SUFFIXES:
            yield from _jsonl(text, name)
        else:
            sample = head.decode("utf-8-sig", errors="medleads-cp1252")
            yield from _csv(path, text, sample, name, check_header, error, notes, on_header)


def _too_long(what: str, spelled: str, size: int) -> str:
    return f"{what} {spelled!r} holds {size:,} characters; the limit is {MAX_FIELD_CHARS:,}"


def _first_non_empty(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """The row's cells, each made safe at the door (`safe_text`: NFC, no NUL or control
    characters, no lone surrogates)."""
    cells: dict[str, str] = {}
    for column, value in pairs:
        if not cells.get(column):
            cells[column] = safe_text(value) if value else value
    return cells


def _cell(value: object) -> str:
    """A JSON value as cell text: strings as they are, anything else as JSON spells it."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _jsonl(text: IO[str], name: Callable[[str], str]) -> Iterator[Row]:
    for number, line in enumerate(text, start=1):
        if not line.strip():
            continue
        if len(line) > MAX_FIELD_CHARS * 4:
            yield Row(number, None, f"line is {len(line):,} characters; too large")
            continue
        try:
            data = json.loads(line.rstrip("\r\n"))
        except json.JSONDecodeError as exc:
            yield Row(number, None, f"not valid JSON: {exc.msg} at column {exc.colno}")
            continue
        if not isinstance(data, dict):
            yield Row(number, None, "each line must be a JSON object")
            continue
        cells = {str(k): _cell(v) for k, v in data.items() if v is not None}
        too_long = next((k for k, v in cells.items() if len(v) > MAX_FIELD_CHARS), None)
        if too_long is not None:
            why = _too_long("field", too_long, len(cells[too_long]))
            yield Row(number, None, why, column=name(too_long))
            continue
        yield Row(number, _first_non_empty((name(k), v) for k, v in cells.items()))


def _dialect(sample: str) -> type[csv.Dialect] | csv.Dialect:
    """The delimiter that splits the sample's lines alike; failing that (a ragged row among a
    few), the one of the header line; failing that, a comma."""
    header = sample.split("\n", 1)[0]
    for text in (sample, header) if sample.count("\n") >= 2 else (header,):
        try:
            return csv.Sniffer().sniff(text, delimiters=_DELIMITERS)
        except csv.Error:
            continue
    return csv.excel


def _csv(
    path: Path,
    text: IO[str],
    sample: str,
    name: Callable[[str], str],
    check_header: HeaderCheck | None,
    error: type[Exception],
    notes: list[str],
    on_header: Callable[[Sequence[str]], None] | None = None,
) -> Iterator[Row]:
    csv.field_size_limit(MAX_FIELD_CHARS * 64)
    reader = csv.reader(text, _dialect(sample))
    try:
        header = next(reader)
    except StopIteration:
        raise error(f"{path}: the file is empty") from None
    except csv.Error as exc:
        raise error(f"{path}: row 1: the header cannot be read: {exc}") from None
    if on_header is not None:
        on_header(header)
    names = [name(h) for h in header]
    seen: set[str] = set()
    for original, column in zip(header, names, strict=True):
        if column in seen and column:
            notes.append(f"column {original!r} repeats {column}; the first non-empty wins")
        seen.add(column)
    if check_header is not None:
        check_header(header, names)
    width = len(header)
    got_rows = False
    number = 1
    while True:
        number += 1
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            yield Row(number, None, f"cannot be read as CSV: {exc}")
            continue
        if not any(v.strip() for v in values):
            continue
        got_rows = True
        if len(values) > width and any(v.strip() for v in values[width:]):
            yield Row(
                number, None, f"{len(values)} values for {width} columns (a stray delimiter?)"
            )
            continue
        too_long = next((i for i, v in enumerate(values[:width]) if len(v) > MAX_FIELD_CHARS), None)
        if too_long is not None:
            why = _too_long("column", header[too_long], len(values[too_long]))
            yield Row(number, None, why, column=names[too_long])
            continue
        yield Row(number, _first_non_empty(zip(names, values, strict=False)))
    if not got_rows:
        notes.append("no data rows (header only)")


@dataclass(frozen=True, slots=True)
class RowResult:
    """One data row: a submission, or the reason it was rejected (never both)."""

    row: int
    submission: Submission | None
    error: str | None = None
    column: str | None = None
    raw: Mapping[str, str] = field(default_factory=dict)


@dataclass
class SubmissionFile:
    """An open submission file; iterate `rows()` once. `notes` collects file-level remarks.

    A CSV whose headers match a list preset (adapters/presets.py) is read through it, unless
    `header_map` (`--map`) is given; `preset` forces one by name. `layout` is the preset bound
    to the file once its header is read."""

    path: Path
    channel: str | None = None
    header_map: Mapping[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    preset: str | None = None
    layout: Layout | None = field(default=None, init=False)
    header: list[str] = field(default_factory=list, init=False)

    def rows(self) -> Iterator[RowResult]:
        if self.preset is not None and self.path.suffix.lower() in JSONL_SUFFIXES:
            raise FileError(f"{self.path}: --preset {self.preset}: presets read CSV files only")
        rows = read_rows(
            self.path,
            name=self._name,
            check_header=self._check,
            notes=self.notes,
            on_header=self._choose,
        )
        for row in rows:
            if row.cells is None:
                yield RowResult(row.number, None, row.error, row.column)
                continue
            cells = row.cells
            if self.layout is not None:
                cells = self.layout.raw(row.cells, self.layout.apply(row.cells))
            sub = submission_from_mapping(cells, channel=self.channel, row=row.number)
            problems = field_problems(sub)
            if problems:
                column, why = problems[0]
                yield RowResult(row.number, None, f"column {column!r} {why}", column)
                continue
            yield RowResult(row.number, sub, raw=cells)

    def mapping(self) -> list[tuple[str, str]]:
        """(field, where it comes from) once the header is read: the preset's templates, or the
        file's columns by the canonical name they map to."""
        if self.layout is not None:
            return self.layout.mapping()
        return [(self._name(h), as_spelled(h)) for h in self.header if as_spelled(h)]

    def _choose(self, header: Sequence[str]) -> None:
        self.header = list(header)
        try:
            if self.preset is not None:
                self.layout = Layout(get_preset(self.preset), header, forced=True)
            elif not self.header_map:
                found = detect(header)
                self.layout = None if found is None else Layout(found, header)
        except PresetError as exc:
            raise FileError(f"{self.path}: {exc}") from None

    def _name(self, header: str) -> str:
        if self.layout is not None:
            return as_spelled(header)
        return self.header_map.get(header, canonical_header(header))

    def _check(self, header: Sequence[str], names: Sequence[str]) -> None:
        if self.layout is not None:
            self.notes.extend(preset_summary(self.layout))
            filled = self.layout.fields()
            problems = missing_columns(filled)
            if "organization_name" in problems:
                raise FileError(
                    f"{self.path}: preset {self.layout.preset.name}: no column gives "
                    "organization_name"
                )
            if problems:
                self.notes.append(
                    f"preset {self.layout.preset.name}: the file has no {', '.join(problems)} "
                    "column: its rows cannot be reached until a contact channel is added"
                )
            return
        problems = missing_columns(list(names))
        if problems:
            raise FileError(
                f"{self.path}: missing required column {', '.join(problems)}"
                + delimiter_hint(header)
            )
        unknown = sorted(
            {n for n in names if n and n not in CANONICAL_FIELDS} - {"first_name", "last_name"}
        )
        if unknown:
            self.notes.append(f"unknown columns kept with the raw submission: {', '.join(unknown)}")
