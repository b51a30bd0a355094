"""Synthetic values: always valid, already canonical, and the same for the same seed."""

from __future__ import annotations

import random

import pytest

from joinedup.standards import STANDARD_TYPES, UK_TYPES, generate
from tests.standards.conftest import RunMacro

SEEDS = range(300)


def _values(type_name: str) -> list[str]:
    make = getattr(generate, type_name)
    rng = random.Random(20240601)
    return [make(rng) for _ in SEEDS]


@pytest.mark.parametrize("type_name", UK_TYPES)
def test_generated_values_are_valid_and_canonical(type_name: str, run_macro: RunMacro) -> None:
    values = _values(type_name)
    assert [STANDARD_TYPES[type_name].reference(v) for v in values] == values
    assert run_macro(type_name, values) == values


@pytest.mark.parametrize("type_name", UK_TYPES)
def test_generators_are_deterministic_for_a_seed(type_name: str) -> None:
    assert _values(type_name) == _values(type_name)
    make = getattr(generate, type_name)
    assert len({make(random.Random(seed)) for seed in SEEDS}) > 1


def test_every_type_has_a_generator() -> None:
    assert all(callable(getattr(generate, name, None)) for name in UK_TYPES)


def test_nhs_numbers_come_from_the_range_never_issued_to_patients() -> None:
    assert all(v.startswith("999") for v in _values("nhs_number"))


def test_every_built_in_outward_code_makes_a_valid_postcode() -> None:
    reference = STANDARD_TYPES["postcode"].reference
    assert [c for c in generate.OUTWARD_CODES if reference(f"{c} 1AA") is None] == []


def test_vat_numbers_use_both_check_schemes() -> None:
    # The two schemes differ in the mod 97 total of the weighted digits plus the last two.
    weights = (8, 7, 6, 5, 4, 3, 2)
    totals = {
        (sum(w * int(d) for w, d in zip(weights, v, strict=False)) + int(v[7:9])) % 97 for v in _values("vat_number")
    }
    assert totals == {0, 42}
