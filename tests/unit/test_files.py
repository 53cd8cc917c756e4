"""Reading messy submission files: every bad row named, good rows never held back."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.rows import FileError, SubmissionFile
from qualification.submission import MAX_FIELD_CHARS, canonical_header, submission_from_mapping

HEADER = "Company,Email,Phone,State,ZIP,Title\n"


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8", newline="")
    else:
        path.write_bytes(content)
    return path


def read(path: Path, **kwargs: object) -> tuple[SubmissionFile, list]:  # type: ignore[type-arg]
    source = SubmissionFile(path, **kwargs)  # type: ignore[arg-type]
    return source, list(source.rows())


@pytest.mark.parametrize(
    ("header", "canonical"),
    [
        ("E-mail Address", "email"),
        ("\ufeffCompany", "organization_name"),
        ("ZIP Code", "postal_code"),
        ("Telephone Number", "phone"),
        ("City/Town", "city"),
        ("organization_name", "organization_name"),
        ("Favourite colour", "favourite_colour"),
    ],
)
def test_headers_map_onto_canonical_fields(header: str, canonical: str) -> None:
    assert canonical_header(header) == canonical


def test_a_plain_csv_reads_into_submissions_with_spreadsheet_row_numbers(tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", HEADER + "Acme Cardiology,a@acme.example.com,,NY,10001,CEO\n")
    _, rows = read(path, channel="outbound")
    (row,) = rows
    assert row.row == 2
    assert row.submission.organization_name == "Acme Cardiology"
    assert row.submission.channel == "outbound"
    assert row.submission.phone is None


def test_the_same_row_gets_the_same_generated_id(tmp_path: Path) -> None:
    line = "Acme Cardiology,a@acme.example.com,,NY,10001,CEO\n"
    _, rows = read(write(tmp_path, "dup.csv", HEADER + line + line))
    assert rows[0].submission.submission_id == rows[1].submission.submission_id
    assert rows[0].submission.submission_id.startswith("sub-")


def test_an_empty_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FileError, match="the file is empty"):
        read(write(tmp_path, "empty.csv", ""))


def test_a_file_of_only_a_bom_and_blank_lines_is_empty(tmp_path: Path) -> None:
    with pytest.raises(FileError, match="the file is empty"):
        read(write(tmp_path, "empty.csv", b"\xef\xbb\xbf\r\n\r\n"))


def test_a_header_only_file_reads_no_rows_and_says_so(tmp_path: Path) -> None:
    source, rows = read(write(tmp_path, "h.csv", HEADER))
    assert rows == []
    assert "no data rows (header only)" in source.notes


def test_a_missing_required_column_is_named(tmp_path: Path) -> None:
    with pytest.raises(FileError, match="missing required column organization_name"):
        read(write(tmp_path, "m.csv", "Email,Phone\na@b.example.com,\n"))
    with pytest.raises(FileError, match="missing required column email or phone"):
        read(write(tmp_path, "m2.csv", "Company,State\nAcme,NY\n"))


def test_a_semicolon_file_is_read_with_its_own_delimiter(tmp_path: Path) -> None:
    content = (
        "Company;Email;State\nAcme Derm;x@acme.example.com;NJ\nBeta Ortho;y@beta.example.com;NY\n"
    )
    _, rows = read(write(tmp_path, "semi.csv", content))
    assert [r.submission.state for r in rows] == ["NJ", "NY"]


def test_a_wrong_delimiter_that_hides_every_column_says_so(tmp_path: Path) -> None:
    # A file whose header holds one column with delimiters inside (tab-separated read as one).
    content = "Company Email\nAcme\n"
    with pytest.raises(FileError, match="missing required column"):
        read(write(tmp_path, "one.csv", content))


def test_a_bom_is_stripped_from_the_first_header(tmp_path: Path) -> None:
    _, rows = read(
        write(
            tmp_path,
            "bom.csv",
            b"\xef\xbb\xbf" + HEADER.encode() + b"Acme,a@acme.example.com,,NY,10001,CEO\n",
        )
    )
    assert rows[0].submission.organization_name == "Acme"


def test_cp1252_bytes_are_read_as_cp1252(tmp_path: Path) -> None:
    content = (HEADER + "Clínica Café,a@acme.example.com,,NY,10001,Directora\n").encode("cp1252")
    _, rows = read(write(tmp_path, "cp.csv", content))
    assert rows[0].submission.organization_name == "Clínica Café"


def test_a_ragged_row_is_rejected_by_number_and_the_next_row_still_reads(tmp_path: Path) -> None:
    content = (
        HEADER
        + "Acme,a@acme.example.com,,NY,10001,CEO,surplus\nBeta,b@beta.example.com,,NJ,07042,COO\n"
    )
    _, rows = read(write(tmp_path, "r.csv", content))
    assert rows[0].submission is None
    assert rows[0].row == 2
    assert rows[0].error == "7 values for 6 columns (a stray delimiter?)"
    assert rows[1].submission.organization_name == "Beta"


def test_a_one_megabyte_field_rejects_its_row_only(tmp_path: Path) -> None:
    huge = "x" * 1_000_000
    content = (
        HEADER
        + f"Acme,a@acme.example.com,,NY,10001,{huge}\nBeta,b@beta.example.com,,NJ,07042,COO\n"
    )
    _, rows = read(write(tmp_path, "big.csv", content))
    assert rows[0].submission is None
    assert rows[0].column == "contact_role"
    assert rows[0].error == (
        f"column 'Title' holds 1,000,000 characters; the limit is {MAX_FIELD_CHARS:,}"
    )
    assert rows[1].submission is not None


def test_unknown_columns_are_kept_and_reported_once(tmp_path: Path) -> None:
    content = "Company,Email,Shoe Size\nAcme,a@acme.example.com,42\nBeta,b@beta.example.com,43\n"
    source, rows = read(write(tmp_path, "u.csv", content))
    assert rows[1].submission.extra == {"shoe_size": "43"}
    assert source.notes == ["unknown columns kept with the raw submission: shoe_size"]


def test_placeholders_and_blank_cells_become_missing(tmp_path: Path) -> None:
    content = HEADER + "Acme,<UNAVAIL>,  n/a ,NY,,CEO\n"
    _, rows = read(write(tmp_path, "p.csv", content))
    sub = rows[0].submission
    assert (sub.email, sub.phone, sub.postal_code) == (None, None, None)


def test_first_and_last_name_columns_make_the_contact_name(tmp_path: Path) -> None:
    content = "Company,First Name,Last Name,Email\nAcme,Grace,Holt,g@acme.example.com\n"
    _, rows = read(write(tmp_path, "n.csv", content))
    assert rows[0].submission.contact_name == "Grace Holt"


def test_header_map_overrides_apply(tmp_path: Path) -> None:
    content = "Facility Name,Telephone Number\nSoutheast Health,(334) 793-8701\n"
    _, rows = read(
        write(tmp_path, "cms.csv", content), header_map={"Facility Name": "organization_name"}
    )
    assert rows[0].submission.organization_name == "Southeast Health"


def test_jsonl_bad_lines_are_reported_by_line_number_and_good_lines_read(tmp_path: Path) -> None:
    content = (
        '{"organization_name": "Acme", "email": "a@acme.example.com"}\n'
        '{not json\n[1, 2]\n\n{"organization_name": "Beta"}\n'
    )
    _, rows = read(write(tmp_path, "s.jsonl", content))
    assert [(r.row, r.error) for r in rows if r.submission is None] == [
        (2, "not valid JSON: Expecting property name enclosed in double quotes at column 2"),
        (3, "each line must be a JSON object"),
    ]
    assert [r.submission.organization_name for r in rows if r.submission] == ["Acme", "Beta"]


def test_a_missing_file_is_a_file_error(tmp_path: Path) -> None:
    with pytest.raises(FileError, match="No such file"):
        read(tmp_path / "missing.csv")


def test_a_json_submission_keeps_an_explicit_id_and_channel() -> None:
    sub = submission_from_mapping({"submission_id": "abc", "channel": "Webinar", "Company": "Acme"})
    assert (sub.submission_id, sub.channel, sub.organization_name) == ("abc", "webinar", "Acme")
