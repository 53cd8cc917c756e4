"""List presets: provider-list layouts recognised by their headers, mapped by data files."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.presets import PRESETS_DIR, Layout, PresetError, detect, get_preset, load_presets
from adapters.rows import FileError, SubmissionFile


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


HOSPITALS = (
    "Facility ID,Facility Name,Address,City/Town,State,ZIP Code,County/Parish,Telephone Number,"
    "Hospital Type,Hospital Ownership,Emergency Services,Hospital overall rating\n"
    "220071,MASSACHUSETTS GENERAL HOSPITAL,55 FRUIT STREET,BOSTON,MA,2114,SUFFOLK,"
    "(617) 726-2000,Acute Care Hospitals,Voluntary non-profit - Private,Yes,5\n"
)


def test_every_shipped_preset_loads_and_is_named_after_its_file() -> None:
    presets = load_presets()
    assert {p.name for p in presets} >= {
        "nppes",
        "nppes_orgs_slim",
        "cms_hospitals",
        "cms_dac",
        "cms_dac_slim",
    }
    assert all(p.path.parent == PRESETS_DIR for p in presets)


def test_a_hospital_file_is_recognised_without_any_map(tmp_path: Path) -> None:
    source = SubmissionFile(write(tmp_path, "h.csv", HOSPITALS), channel="outbound")
    [row] = list(source.rows())
    assert source.layout is not None and source.layout.preset.name == "cms_hospitals"
    sub = row.submission
    assert sub is not None
    assert (sub.organization_name, sub.org_type, sub.state) == (
        "MASSACHUSETTS GENERAL HOSPITAL",
        "Acute Care Hospitals",
        "MA",
    )
    assert sub.phone == "(617) 726-2000" and sub.postal_code == "2114"
    assert sub.extra["cms_certification_number"] == "220071"
    assert any("cms_hospitals" in n and "recognised by its headers" in n for n in source.notes)
    ignored = next(n for n in source.notes if n.startswith("ignored"))
    assert "County/Parish" in ignored and "Emergency Services" in ignored
    assert "Facility Name" not in ignored
    assert row.raw["County/Parish"] == "SUFFOLK" and "Address" in row.raw  # kept, not used
    assert "county_parish" in sub.extra


def test_a_forced_preset_is_named_as_forced_and_lists_what_the_file_lacks(tmp_path: Path) -> None:
    path = write(
        tmp_path, "h.csv", "Facility Name,State,Telephone Number\nX CLINIC,NY,2125550000\n"
    )
    source = SubmissionFile(path, channel="outbound", preset="cms_hospitals")
    [row] = list(source.rows())
    assert row.submission is not None and row.submission.organization_name == "X CLINIC"
    assert any("forced with --preset" in n for n in source.notes)
    assert any("lacks" in n and "Hospital Type" in n for n in source.notes)


def test_an_unknown_preset_name_is_a_file_error_listing_the_known_ones(tmp_path: Path) -> None:
    source = SubmissionFile(write(tmp_path, "h.csv", HOSPITALS), preset="nppes_v9")
    with pytest.raises(FileError, match=r"no list preset named 'nppes_v9' \(known: .*nppes"):
        list(source.rows())


def test_an_explicit_map_turns_detection_off(tmp_path: Path) -> None:
    source = SubmissionFile(
        write(tmp_path, "h.csv", HOSPITALS), header_map={"Facility Name": "organization_name"}
    )
    [row] = list(source.rows())
    assert source.layout is None and row.submission is not None
    assert row.submission.org_type == "Acute Care Hospitals"  # through the generic aliases


def test_an_ordinary_export_matches_no_preset() -> None:
    assert detect(["Email", "Company", "Phone", "First Name"]) is None


def test_header_case_and_spacing_do_not_matter_for_detection() -> None:
    found = detect(["facility id", " FACILITY NAME", "Hospital  Type", "hospital ownership"])
    assert found is not None and found.name == "cms_hospitals"


def test_float_artefacts_lose_their_trailing_zero_and_values_translate() -> None:
    layout = Layout(
        get_preset("nppes"),
        ["NPI", "Entity Type Code", "Provider Business Practice Location Address Postal Code"],
    )
    out = layout.apply(
        {
            "NPI": "1497758544.0",
            "Entity Type Code": "2.0",
            "Provider Business Practice Location Address Postal Code": "688482168.0",
        }
    )
    assert (out["npi"], out["entity_type"], out["postal_code"]) == (
        "1497758544",
        "organization",
        "688482168",
    )


def test_taxonomy_codes_put_the_primary_first_and_drop_repeats() -> None:
    header = []
    for n in (1, 2, 3):
        header += [
            f"Healthcare Provider Taxonomy Code_{n}",
            f"Healthcare Provider Primary Taxonomy Switch_{n}",
        ]
    layout = Layout(get_preset("nppes"), header)
    cells = {
        "Healthcare Provider Taxonomy Code_1": "207R00000X",
        "Healthcare Provider Primary Taxonomy Switch_1": "N",
        "Healthcare Provider Taxonomy Code_2": "207RC0000X",
        "Healthcare Provider Primary Taxonomy Switch_2": "Y",
        "Healthcare Provider Taxonomy Code_3": "207r00000x",
        "Healthcare Provider Primary Taxonomy Switch_3": "N",
    }
    assert layout.apply(cells)["taxonomy_codes"] == "207RC0000X; 207R00000X"


def test_a_bad_preset_file_is_refused_naming_the_file_and_key(tmp_path: Path) -> None:
    folder = tmp_path / "presets"
    folder.mkdir()
    (folder / "vendor_x.yaml").write_text(
        "name: vendor_x\ntitle: X\nsource: x\ndetect: []\nfields: {}\n", encoding="utf-8"
    )
    with pytest.raises(PresetError, match=r"vendor_x.yaml: detect: List should have at least 1"):
        load_presets(folder)


def test_a_new_vendor_layout_is_a_file_not_code(tmp_path: Path) -> None:
    folder = tmp_path / "presets"
    folder.mkdir()
    (folder / "vendor_x.yaml").write_text(
        "name: vendor_x\ntitle: Vendor X\nsource: x\ndetect: [Acct, Dr Name]\n"
        "fields:\n  organization_name: '{Acct}'\n  contact_name: '{Dr Name}'\n"
        "  phone: '{Tel|Phone}'\n",
        encoding="utf-8",
    )
    found = detect(["Acct", "Dr Name", "Phone", "Fax"], folder)
    assert found is not None and found.name == "vendor_x"
    layout = Layout(found, ["Acct", "Dr Name", "Phone", "Fax"])
    out = layout.apply({"Acct": "Acme Derm", "Dr Name": "Ann Lee", "Phone": "2125550100.0"})
    assert out["phone"] == "2125550100" and out["organization_name"] == "Acme Derm"
    assert layout.ignored == ["Fax"]


def test_a_template_drops_the_separator_of_an_empty_column_and_never_rewrites_cells() -> None:
    header = [
        "Entity Type Code",
        "Provider First Name",
        "Provider Middle Name",
        "Provider Last Name (Legal Name)",
        "Provider Name Suffix Text",
        "Provider Credential Text",
        "Provider Organization Name (Legal Business Name)",
    ]
    layout = Layout(get_preset("nppes"), header)
    person = {
        "Entity Type Code": "1",
        "Provider First Name": "EDDY",
        "Provider Last Name (Legal Name)": "KARNABI",
        "Provider Credential Text": "MD",
    }
    assert layout.apply(person)["organization_name"] == "EDDY KARNABI, MD"
    assert layout.apply({**person, "Provider Credential Text": ""})["organization_name"] == (
        "EDDY KARNABI"
    )
    org = {"Entity Type Code": "2", header[-1]: "SMITH,JONES & CO, INC"}
    assert layout.apply(org)["organization_name"] == "SMITH,JONES & CO, INC"
    assert "contact_name" not in layout.apply(org)  # no authorized official given


def test_a_forced_preset_names_a_canonical_looking_column_it_leaves_out(tmp_path: Path) -> None:
    path = write(tmp_path, "v.csv", "Facility Name,Email\nX CLINIC,a@x-clinic.example.com\n")
    source = SubmissionFile(path, channel="outbound", preset="cms_hospitals")
    [row] = list(source.rows())
    assert row.submission is not None and row.submission.email is None
    assert any("does not read Email" in n and "--map" in n for n in source.notes)
