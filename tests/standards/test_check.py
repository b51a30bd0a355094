"""``check``: one value through the SQL macro, as ingest would see it."""

from __future__ import annotations

import pytest

from joinedup.errors import NotFoundError
from joinedup.standards import STANDARD_TYPES, CheckResult, check


def test_a_valid_value_comes_back_canonical() -> None:
    assert check("nhs_number", "943 476 5919") == CheckResult(
        type="nhs_number",
        value="943 476 5919",
        valid=True,
        canonical="9434765919",
        expected=STANDARD_TYPES["nhs_number"].expected,
    )


def test_an_invalid_value_says_what_was_expected() -> None:
    result = check("postcode", "QA1 1AA")
    assert not result.valid
    assert result.canonical is None
    assert result.value == "QA1 1AA"
    assert "outward code" in result.expected


def test_bigint_types_answer_as_text() -> None:
    assert check("uprn", "000100023336956").canonical == "100023336956"


def test_formats_can_be_checked_too() -> None:
    assert check("person_name", "  o'brien-SMITH ").canonical == "o'brien-SMITH"
    assert check("person_name", "  O'BRIEN-SMITH ").canonical == "O'Brien-Smith"
    assert check("iso_datetime", "2017-08-09 14:58:07+01:00").canonical == "2017-08-09T13:58:07Z"


def test_an_unknown_type_is_refused_with_the_known_types() -> None:
    with pytest.raises(NotFoundError) as refused:
        check("nhs", "9434765919")
    message = str(refused.value)
    assert "'nhs'" in message
    assert "nhs_number" in message and "postcode" in message
    assert "\n" not in message
