"""Read submission files (CSV or JSONL) as a stream, reporting every bad row by number.

Real exports are messy: a BOM, cp1252 bytes, semicolons, ragged rows, huge cells. A bad row is
reported and skipped; it never stops the rows after it.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from qualification.submission import (
    CANONICAL_FIELDS,
    Submission,
    canonical_header,
    missing_columns,
    submission_from_mapping,
)

MAX_FIELD_CHARS = 65_536
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
    """An open submission file; iterate `rows()` once. `notes` collects file-level remarks."""

    path: Path
    channel: str | None = None
    header_map: Mapping[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    kind: str = ""

    def rows(self) -> Iterator[RowResult]:
        suffix = self.path.suffix.lower()
        try:
            handle = self.path.open("rb")
        except OSError as exc:
            raise FileError(f"{self.path}: {exc.strerror or exc}") from None
        with handle:
            head = handle.read(_SNIFF_BYTES)
            if not head.strip(b"\xef\xbb\xbf \r\n\t"):
                raise FileError(f"{self.path}: the file is empty")
            handle.seek(0)
            text = io.TextIOWrapper(
                handle, encoding="utf-8-sig", errors="medleads-cp1252", newline=""
            )
            if suffix in (".jsonl", ".ndjson", ".json"):
                self.kind = "jsonl"
                yield from self._jsonl(text)
            else:
                self.kind = "csv"
                sample = head.decode("utf-8-sig", errors="medleads-cp1252")
                yield from self._csv(text, sample)

    def _jsonl(self, text: IO[str]) -> Iterator[RowResult]:
        for number, line in enumerate(text, start=1):
            if not line.strip():
                continue
            if len(line) > MAX_FIELD_CHARS * 4:
                yield RowResult(number, None, f"line is {len(line):,} characters; too large")
                continue
            try:
                data = json.loads(line)
            except json.JSONDecodeError as exc:
                yield RowResult(number, None, f"not valid JSON: {exc.msg} at column {exc.colno}")
                continue
            if not isinstance(data, dict):
                yield RowResult(number, None, "each line must be a JSON object")
                continue
            yield self._build(number, {str(k): v for k, v in data.items()})

    def _csv(self, text: IO[str], sample: str) -> Iterator[RowResult]:
        csv.field_size_limit(MAX_FIELD_CHARS * 64)
        try:
            dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(
                sample.split("\n", 20)[0] if sample.count("\n") < 2 else sample,
                delimiters=_DELIMITERS,
            )
        except csv.Error:
            dialect = csv.excel
        reader = csv.reader(text, dialect)
        try:
            header = next(reader)
        except StopIteration:
            raise FileError(f"{self.path}: the file is empty") from None
        except csv.Error as exc:
            raise FileError(f"{self.path}: row 1: the header cannot be read: {exc}") from None
        names = [self.header_map.get(h, canonical_header(h)) for h in header]
        problems = missing_columns(names)
        if problems:
            hint = ""
            if len(header) == 1 and any(d in header[0] for d in _DELIMITERS):
                hint = f" (the header is one column {header[0][:60]!r}: check the delimiter)"
            raise FileError(f"{self.path}: missing required column {', '.join(problems)}{hint}")
        seen: set[str] = set()
        for original, name in zip(header, names, strict=True):
            if name in seen and name:
                self.notes.append(f"column {original!r} repeats {name}; the first non-empty wins")
            seen.add(name)
        unknown = sorted(
            {n for n in names if n and n not in CANONICAL_FIELDS} - {"first_name", "last_name"}
        )
        if unknown:
            self.notes.append(f"unknown columns kept with the raw submission: {', '.join(unknown)}")
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
                yield RowResult(number, None, f"cannot be read as CSV: {exc}")
                continue
            if not any(v.strip() for v in values):
                continue
            got_rows = True
            if len(values) > width and any(v.strip() for v in values[width:]):
                yield RowResult(
                    number, None, f"{len(values)} values for {width} columns (a stray delimiter?)"
                )
                continue
            too_long = next(
                (i for i, v in enumerate(values[:width]) if len(v) > MAX_FIELD_CHARS), None
            )
            if too_long is not None:
                yield RowResult(
                    number,
                    None,
                    f"column {header[too_long]!r} holds {len(values[too_long]):,} characters; "
                    f"the limit is {MAX_FIELD_CHARS:,}",
                    column=names[too_long],
                )
                continue
            raw: dict[str, object] = {}
            for name, value in zip(names, values, strict=False):
                if not raw.get(name):
                    raw[name] = value
            yield self._build(number, raw, mapped=True)
        if not got_rows:
            self.notes.append("no data rows (header only)")

    def _build(self, number: int, raw: dict[str, object], mapped: bool = False) -> RowResult:
        too_long = next(
            (k for k, v in raw.items() if isinstance(v, str) and len(v) > MAX_FIELD_CHARS), None
        )
        if too_long is not None:
            size = len(str(raw[too_long]))
            return RowResult(
                number,
                None,
                f"field {too_long!r} holds {size:,} characters; the limit is {MAX_FIELD_CHARS:,}",
                column=too_long,
            )
        header_map = None if mapped else self.header_map
        sub = submission_from_mapping(raw, channel=self.channel, row=number, header_map=header_map)
        return RowResult(number, sub, raw={k: str(v) for k, v in raw.items() if v is not None})
