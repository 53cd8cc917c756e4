"""The criteria sheet: the shipped sheets are valid; a broken one is refused with every problem."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from qualification.criteria import CriteriaError, load_criteria, parse_criteria
from tests.paths import DEFAULT_SHEET, EXAMPLE_SHEETS

DEFAULT_TEXT = DEFAULT_SHEET.read_text()


def edited(change: dict[str, object]) -> str:
    """The default sheet with top-level sections replaced (a None value deletes the key)."""
    data = yaml.safe_load(DEFAULT_TEXT)
    for key, value in change.items():
        if value is None:
            data.pop(key)
        else:
            data[key] = value
    return yaml.safe_dump(data, sort_keys=False)


def problems_of(text: str) -> list[str]:
    with pytest.raises(CriteriaError) as info:
        parse_criteria(text, "sheet.yaml")
    return [str(p) for p in info.value.problems]


@pytest.mark.parametrize("path", [DEFAULT_SHEET, *EXAMPLE_SHEETS], ids=lambda p: p.name)
def test_the_shipped_sheets_are_valid(path: Path) -> None:
    criteria = load_criteria(path)
    assert criteria.sheet.fit.maximum == 100
    assert criteria.sheet.intent.maximum == 100


def test_there_is_a_second_example_sheet_for_a_different_offer() -> None:
    offers = {load_criteria(p).sheet.offer.name for p in [DEFAULT_SHEET, *EXAMPLE_SHEETS]}
    assert len(offers) >= 2


def test_the_version_is_the_label_and_a_content_hash_that_changes_with_the_content() -> None:
    a = parse_criteria(DEFAULT_TEXT)
    b = parse_criteria(DEFAULT_TEXT + "\n# a comment\n")
    assert a.version.startswith("intake-2026-q4@")
    assert a.content_hash != b.content_hash
    assert parse_criteria(DEFAULT_TEXT).version == a.version


def test_a_sheet_without_a_label_is_versioned_by_its_hash_alone() -> None:
    criteria = parse_criteria(edited({"label": None}))
    assert criteria.version == criteria.content_hash


def test_every_problem_of_a_broken_sheet_is_listed_with_its_key_path() -> None:
    data = yaml.safe_load(DEFAULT_TEXT)
    data["scope"]["specialties"]["core"][0] = "cardiolgy"
    data["scope"]["states"].append("XX")
    data["bands"]["fit"] = {"mid": 80, "high": 70}
    data["fit"]["specialty"]["core"] = "lots"
    data["routing_table"]["mid"]["high"] = "maybe"
    data["slas"].pop("sql")
    data["sql_conditons"] = {}
    data["routing"]["owners"][0]["email"] = "not-an-email"
    problems = problems_of(yaml.safe_dump(data))
    expected = [
        "sheet.yaml: scope.states.12: 'XX' is not a US state or territory code",
        "sheet.yaml: scope.specialties.core.0: "
        "unknown specialty 'cardiolgy' (did you mean 'cardiology'?)",
        "sheet.yaml: bands.fit: needs 0 < mid < high, got mid 80 and high 70",
        "sheet.yaml: routing_table.mid.high: Input should be 'nurture', 'mql' or 'sql'",
        "sheet.yaml: slas.sql: required key is missing",
        "sheet.yaml: sql_conditons: unknown key (did you mean 'sql_conditions'?)",
    ]
    for line in expected:
        assert line in problems
    assert any(
        p.startswith("sheet.yaml: fit.specialty.core: Input should be a valid integer")
        for p in problems
    )
    assert any(
        p.startswith("sheet.yaml: routing.owners.0.email: 'not-an-email' is not a valid")
        for p in problems
    )
    assert len(problems) >= 8


def test_weights_that_do_not_add_up_to_100_are_refused() -> None:
    data = yaml.safe_load(DEFAULT_TEXT)
    data["fit"]["specialty"]["core"] = 30
    data["intent"]["webinar_attended"] = 25
    assert problems_of(yaml.safe_dump(data)) == [
        "sheet.yaml: fit: the highest points per signal add up to 95; they must add up to 100",
        "sheet.yaml: intent: the highest points per signal add up to 110; they must add up to 100",
    ]


def test_a_fallback_owner_must_exist_in_the_right_team_and_be_available() -> None:
    data = yaml.safe_load(DEFAULT_TEXT)
    data["routing"]["fallback"] = {"sales": "mia-chen", "marketing": "markting-desk"}
    problems = problems_of(yaml.safe_dump(data))
    assert problems == [
        "sheet.yaml: routing.fallback.sales: owner 'mia-chen' is in team marketing",
        "sheet.yaml: routing.fallback.marketing: no owner with id 'markting-desk' "
        "(did you mean 'marketing-desk'?)",
    ]


def test_an_unavailable_owner_needs_a_reason() -> None:
    data = yaml.safe_load(DEFAULT_TEXT)
    data["routing"]["owners"][0]["available"] = False
    assert problems_of(yaml.safe_dump(data)) == [
        "sheet.yaml: routing.owners.0: an unavailable owner needs an unavailable_reason"
    ]


def test_recheck_horizons_must_be_among_the_allowed_ones() -> None:
    data = yaml.safe_load(DEFAULT_TEXT)
    data["recheck"]["temporary_disqualification_days"]["spam"] = 30
    data["recheck"]["temporary_disqualification_days"]["no_consent"] = 45
    (problem,) = problems_of(yaml.safe_dump(data))
    assert "'spam' is not a temporary disqualification reason" in problem
    assert "no_consent: 45 days is not one of horizons_days" in problem


def test_the_default_sheet_re_engages_far_out_leads_and_rechecks_them_by_their_window() -> None:
    timing = load_criteria(DEFAULT_SHEET).sheet.timing
    assert (timing.too_far_days, timing.re_engagement, timing.far_out_recheck) == (
        365,
        True,
        "window",
    )


def test_timing_keys_default_to_re_engaging_by_the_window() -> None:
    timing = parse_criteria(edited({"timing": {"too_far_days": 365}})).sheet.timing
    assert (timing.re_engagement, timing.far_out_recheck) == (True, "window")


@pytest.mark.parametrize(
    ("timing", "expected"),
    [
        (
            {"too_far_days": 365, "re_engagement": "perhaps"},
            "timing.re_engagement: Input should be a valid boolean",
        ),
        (
            {"too_far_days": 365, "far_out_recheck": "windw"},
            "timing.far_out_recheck: 'windw' is neither 'window' nor a number of days",
        ),
        (
            {"too_far_days": 365, "far_out_recheck": 45},
            "timing.far_out_recheck: 45 days is not one of recheck.horizons_days "
            "(30, 60, 90, 180); or say 'window'",
        ),
        (
            {"too_far_days": 90},
            "timing.too_far_days: must be more than sql_conditions.near_term_days",
        ),
        (
            {"too_far_days": 365, "re_engagment": True},
            "unknown key (did you mean 're_engagement'?)",
        ),
    ],
)
def test_bad_timing_keys_are_refused_with_their_path(
    timing: dict[str, object], expected: str
) -> None:
    problems = problems_of(edited({"timing": timing}))
    assert any(expected in p for p in problems), problems


def test_a_yaml_syntax_error_names_the_line() -> None:
    text = textwrap.dedent(
        """\
        label: x
        offer:
          name: [unclosed
        """
    )
    (problem,) = problems_of(text)
    assert problem.startswith("sheet.yaml: line ")
    assert "not valid YAML" in problem


def test_a_sheet_that_is_not_a_mapping_is_refused() -> None:
    assert problems_of("- a\n- b\n") == [
        "sheet.yaml: (top level): the sheet must be a YAML mapping"
    ]


def test_a_missing_file_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    with pytest.raises(CriteriaError) as info:
        load_criteria(tmp_path / "nope.yaml")
    assert "No such file" in str(info.value)


def test_a_vocabulary_synonym_must_point_at_a_known_key() -> None:
    data = yaml.safe_load(DEFAULT_TEXT)
    data["vocabulary"]["specialty_synonyms"]["ticker clinic"] = "cardio"
    (problem,) = problems_of(yaml.safe_dump(data))
    assert problem.startswith(
        "sheet.yaml: vocabulary.specialty_synonyms.ticker clinic: unknown specialty 'cardio'"
    )


def test_sheet_synonyms_extend_the_vocabulary() -> None:
    criteria = load_criteria(DEFAULT_SHEET)
    assert criteria.vocabulary.specialty("Heart health program") == "cardiology"
