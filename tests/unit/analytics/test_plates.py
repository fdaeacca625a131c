"""Plate normalisation, patterns and fuzzy matching with OCR confusions."""

from __future__ import annotations

import time

import pytest

from rtcc.analytics.plates import (
    distance,
    edits,
    fold,
    normalise,
    one_edit_neighbourhood,
    parse_pattern,
    prefix_upper_bound,
    score,
)
from rtcc.core.errors import InvalidArgument


def test_plates_are_normalised_to_upper_case_without_separators() -> None:
    assert normalise("7kx-12 3") == "7KX123"


@pytest.mark.parametrize("query", ["7KX'; DROP TABLE x;--", "AB%", "AB_1", "中文", "A\\B", ""])
def test_injection_and_foreign_characters_are_refused(query: str) -> None:
    with pytest.raises(InvalidArgument):
        normalise(query)


def test_confusable_characters_fold_to_one_representative() -> None:
    assert fold("OIBSZ") == "01852"
    assert fold("B0S5") == fold("8O55")


def test_prefix_upper_bound_is_just_past_every_extension() -> None:
    bound = prefix_upper_bound("7KX")
    assert "7KX" < "7KXZZZ" < bound
    assert not "7KY" < bound


def test_wildcard_pattern_matches_single_and_runs() -> None:
    pattern = parse_pattern("7K?12*")
    assert pattern.literal_prefix == "7K"
    assert pattern.regex.match("7KX12")
    assert pattern.regex.match("7KX12ABC")
    assert not pattern.regex.match("7KXX12")


@pytest.mark.parametrize("query", ["*?*?*", "A*B*C*D", "A**B", "??", "*", "?A?"])
def test_pathological_wildcards_are_refused(query: str) -> None:
    with pytest.raises(InvalidArgument, match="pattern"):
        parse_pattern(query)


def test_pattern_matching_stays_linear_on_long_input() -> None:
    pattern = parse_pattern("A*A*B")
    start = time.perf_counter()
    assert not pattern.regex.match("A" * 5000)
    assert time.perf_counter() - start < 0.1


def test_ocr_confusions_cost_less_than_other_edits() -> None:
    assert distance("8OS123", "BO5123") == pytest.approx(0.5)
    assert distance("ABC123", "ABD123") == 1.0
    assert edits("8OS123", "BO5123") == 0
    assert edits("ABC123", "ABC12") == 1


def test_one_edit_neighbourhood_holds_every_single_edit() -> None:
    near = one_edit_neighbourhood(fold("7KX123"))
    for variant in ("7KX12", "7KX1234", "7KY123", "KX123", "7KXI23"):
        assert fold(variant) in near
    assert fold("7KY124") not in near
    assert len(near) < 600


def test_score_prefers_closer_and_more_confident_reads() -> None:
    exact = score("7KX123", "7KX123", [0.99] * 6, 0.99)
    confused = score("7KX123", "7KXI23", [0.9, 0.9, 0.9, 0.4, 0.9, 0.9], 0.8)
    other = score("7KX123", "7KY123", [0.99] * 6, 0.99)
    assert exact > confused > other > 0
