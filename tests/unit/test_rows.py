"""The one row reader behind every file input: rows by spreadsheet number, bad rows named."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from adapters.rows import FileError, Row, read_rows
from qualification.submission import MAX_FIELD_CHARS


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


def lower(header: str) -> str:
    return header.strip().lower()


def cells(rows: list[Row]) -> list[tuple[int, dict[str, str]]]:
    return [(r.number, dict(r.cells)) for r in rows if r.cells is not None]


def errors(rows: list[Row]) -> list[tuple[int, str, str | None]]:
    return [(r.number, r.error, r.column) for r in rows if r.cells is None]


class ListError(Exception):
    """A caller's own file error."""


def test_a_csv_reads_into_cells_by_column_name_with_spreadsheet_row_numbers(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, "a.csv", "Email,Stage\na@x.example.com,won\n\nb@x.example.com,lost\n")
    assert cells(list(read_rows(path, name=lower))) == [
        (2, {"email": "a@x.example.com", "stage": "won"}),
        (4, {"email": "b@x.example.com", "stage": "lost"}),
    ]


def test_a_bom_is_not_part_of_the_first_header(tmp_path: Path) -> None:
    path = write(tmp_path, "bom.csv", b"\xef\xbb\xbfEmail,Stage\r\na@x.example.com,won\r\n")
    assert cells(list(read_rows(path))) == [(2, {"Email": "a@x.example.com", "Stage": "won"})]


def test_a_cp1252_byte_in_a_utf8_file_reads_as_cp1252(tmp_path: Path) -> None:
    content = "Name,City\nJosé,Zürich\n".encode() + b"Caf\xe9 \x96 fine,Montr\xe9al\n"
    path = write(tmp_path, "mixed.csv", content)
    assert cells(list(read_rows(path))) == [
        (2, {"Name": "José", "City": "Zürich"}),
        (3, {"Name": "Café – fine", "City": "Montréal"}),
    ]


def test_a_semicolon_file_is_read_with_its_own_delimiter(tmp_path: Path) -> None:
    path = write(tmp_path, "semi.csv", "Email;Amount\na@x.example.com;1,500\n")
    assert cells(list(read_rows(path))) == [(2, {"Email": "a@x.example.com", "Amount": "1,500"})]


def test_a_ragged_row_among_a_few_does_not_hide_the_delimiter(tmp_path: Path) -> None:
    path = write(
        tmp_path, "semi.csv", "Email;Stage\na@x.example.com;won;surplus\nb@y.example.com;lost\n"
    )
    rows = list(read_rows(path))
    assert errors(rows) == [(2, "3 values for 2 columns (a stray delimiter?)", None)]
    assert cells(rows) == [(3, {"Email": "b@y.example.com", "Stage": "lost"})]


def test_a_ragged_row_is_an_error_by_number_and_the_next_row_still_reads(tmp_path: Path) -> None:
    path = write(tmp_path, "r.csv", "Email,Stage\na@x.example.com,won,surplus\nb@y.example.com,\n")
    rows = list(read_rows(path))
    assert errors(rows) == [(2, "3 values for 2 columns (a stray delimiter?)", None)]
    assert cells(rows) == [(3, {"Email": "b@y.example.com", "Stage": ""})]


def test_an_over_long_cell_is_an_error_naming_its_column_and_only_its_row(tmp_path: Path) -> None:
    huge = "x" * (MAX_FIELD_CHARS + 1)
    path = write(tmp_path, "big.csv", f"Email,Notes\na@x.example.com,{huge}\nb@y.example.com,ok\n")
    rows = list(read_rows(path, name=lower))
    assert errors(rows) == [
        (2, f"column 'Notes' holds 65,537 characters; the limit is {MAX_FIELD_CHARS:,}", "notes")
    ]
    assert cells(rows) == [(3, {"email": "b@y.example.com", "notes": "ok"})]


def test_jsonl_bad_lines_are_errors_by_line_number_and_good_lines_read(tmp_path: Path) -> None:
    content = '{"Email": "a@x.example.com", "Visits": 3, "Opted In": true, "Note": null}\n{oops\n'
    content += '"just text"\n\n{"Email": "b@y.example.com"}\n'
    rows = list(read_rows(write(tmp_path, "e.jsonl", content), name=lower))
    assert errors(rows) == [
        (2, "not valid JSON: Expecting property name enclosed in double quotes at column 2", None),
        (3, "each line must be a JSON object", None),
    ]
    assert cells(rows) == [
        (1, {"email": "a@x.example.com", "visits": "3", "opted in": "true"}),
        (5, {"email": "b@y.example.com"}),
    ]


def test_an_over_long_jsonl_field_is_an_error_naming_it(tmp_path: Path) -> None:
    huge = "x" * (MAX_FIELD_CHARS + 1)
    path = write(tmp_path, "big.jsonl", f'{{"Notes": "{huge}"}}\n')
    assert errors(list(read_rows(path, name=lower))) == [
        (1, f"field 'Notes' holds 65,537 characters; the limit is {MAX_FIELD_CHARS:,}", "notes")
    ]


@pytest.mark.parametrize("content", [b"", b"\xef\xbb\xbf\r\n  \r\n"], ids=["nothing", "bom-blank"])
@pytest.mark.parametrize("name", ["empty.csv", "empty.jsonl"])
def test_an_empty_file_raises_the_callers_error(tmp_path: Path, content: bytes, name: str) -> None:
    path = write(tmp_path, name, content)
    with pytest.raises(ListError, match=f"{path}: the file is empty"):
        list(read_rows(path, error=ListError))


def test_a_missing_file_raises_a_file_error(tmp_path: Path) -> None:
    with pytest.raises(FileError, match="No such file"):
        list(read_rows(tmp_path / "missing.csv"))


def test_the_header_check_sees_the_header_as_spelled_and_as_named(tmp_path: Path) -> None:
    seen: list[tuple[list[str], list[str]]] = []

    def check(header: Sequence[str], names: Sequence[str]) -> None:
        seen.append((list(header), list(names)))
        if "outcome" not in names:
            raise ListError("missing required column outcome")

    path = write(tmp_path, "h.csv", " Email ,Stage\na@x.example.com,won\n")
    with pytest.raises(ListError, match="missing required column outcome"):
        list(read_rows(path, name=lower, check_header=check))
    assert seen == [([" Email ", "Stage"], ["email", "stage"])]


def test_repeated_columns_keep_the_first_non_empty_cell_and_are_noted(tmp_path: Path) -> None:
    notes: list[str] = []
    path = write(tmp_path, "rep.csv", "Email,E-MAIL\n,b@y.example.com\na@x.example.com,c@z.com\n")
    rows = list(read_rows(path, name=lambda h: h.lower().replace("-", ""), notes=notes))
    assert cells(rows) == [(2, {"email": "b@y.example.com"}), (3, {"email": "a@x.example.com"})]
    assert notes == ["column 'E-MAIL' repeats email; the first non-empty wins"]


def test_a_header_only_file_reads_no_rows_and_says_so(tmp_path: Path) -> None:
    notes: list[str] = []
    assert list(read_rows(write(tmp_path, "h.csv", "Email,Stage\n"), notes=notes)) == []
    assert notes == ["no data rows (header only)"]
