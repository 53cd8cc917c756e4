"""Bad files through the ingest task: a clear message, and good rows still stored."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import func, select

from adapters.rows import FileError
from models.db import session_scope
from models.tables import RawSubmission
from tasks.store import ingest_file

HEADER = "Company,Email,State,Title\n"
GOOD = "Acme Cardiology,a@acme.example.com,NY,CEO\n"
OTHER = "Beta Dermatology,b@beta.example.com,NJ,COO\n"


def stored(url: str) -> int:
    with session_scope(url) as session:
        return int(session.exec(select(func.count()).select_from(RawSubmission)).one())


def report_lines(report: str | None) -> list[str]:
    assert report is not None
    return Path(report).read_text().splitlines()[1:]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b"Email;State\na@b.example.com;NY\n", "missing required column organization_name"),
        (b"Company\tEmail\nAcme\ta@acme.example.com\n", None),
    ],
    ids=["empty", "missing-column", "tab-delimited"],
)
def test_a_file_level_problem_is_named_and_stores_nothing(
    settings_env: Path, db_url: str, tmp_path: Path, content: bytes, message: str | None
) -> None:
    path = tmp_path / "list.csv"
    path.write_bytes(content)
    if message is None:  # a tab-delimited file is read with its own delimiter
        assert ingest_file.fn(str(path), "outbound", url=db_url).stored == 1
        return
    with pytest.raises(FileError, match=message):
        ingest_file.fn(str(path), "outbound", url=db_url)
    assert stored(db_url) == 0


def test_a_header_only_file_stores_nothing_and_says_so(
    settings_env: Path, db_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "h.csv"
    path.write_text(HEADER)
    report = ingest_file.fn(str(path), "outbound", url=db_url)
    assert (report.stored, report.rejected) == (0, 0)
    assert "no data rows (header only)" in report.notes


@pytest.mark.parametrize(
    ("content", "good", "rejected"),
    [
        ((HEADER + GOOD + GOOD + OTHER).encode(), 2, ["3,,duplicates row 2"]),
        ((HEADER + GOOD + "x," * 20 + "\n" + OTHER).encode(), 2, None),
        (
            (HEADER + f"Acme,a@acme.example.com,NY,{'x' * 1_000_000}\n" + OTHER).encode(),
            1,
            ["2,contact_role,\"column 'Title' holds 1,000,000 characters; the limit is 65,536\""],
        ),
        (b"\xef\xbb\xbf" + (HEADER + GOOD + OTHER).encode(), 2, []),
        (
            (HEADER + "Clínica Cardiología,a@acme.example.com,NY,CEO\n" + OTHER).encode("cp1252"),
            2,
            [],
        ),
    ],
    ids=["duplicated-row", "ragged-row", "one-megabyte-field", "bom", "cp1252"],
)
def test_bad_rows_are_reported_by_row_and_good_rows_are_stored(
    settings_env: Path,
    db_url: str,
    tmp_path: Path,
    content: bytes,
    good: int,
    rejected: list[str] | None,
) -> None:
    path = tmp_path / "list.csv"
    path.write_bytes(content)
    report = ingest_file.fn(str(path), "outbound", url=db_url)
    assert report.stored == stored(db_url) == good
    if rejected == []:
        assert report.rejected == 0 and report.rejection_report is None
    elif rejected is None:
        (line,) = report_lines(report.rejection_report)
        assert line.startswith("3,,21 values for 4 columns")
    else:
        assert report_lines(report.rejection_report) == rejected


def test_the_cp1252_name_is_stored_as_written(
    settings_env: Path, db_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "cp.csv"
    path.write_bytes((HEADER + "Clínica Cardiología,a@acme.example.com,NY,CEO\n").encode("cp1252"))
    ingest_file.fn(str(path), "outbound", url=db_url)
    with session_scope(db_url) as session:
        row = session.exec(select(RawSubmission)).one()
    assert row.payload["organization_name"] == "Clínica Cardiología"
    assert row.row == 2


def test_ingesting_the_same_file_twice_stores_each_row_once(
    settings_env: Path, db_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "list.csv"
    path.write_text(HEADER + GOOD + OTHER)
    first = ingest_file.fn(str(path), "outbound", url=db_url)
    second = ingest_file.fn(str(path), "outbound", url=db_url)
    assert (first.stored, second.stored, second.already_stored) == (2, 0, 2)
    assert stored(db_url) == 2
