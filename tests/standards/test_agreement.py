"""The SQL macros and the Python reference give the same answer for any input, and both are idempotent."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from joinedup.standards import STANDARD_TYPES
from tests.standards.conftest import RunMacro
from tests.standards.strategies import near_valid

# Each example is a batch of values checked in one query, so fewer examples cover a lot of ground.
BATCHES = settings(max_examples=40, deadline=None)


@pytest.mark.parametrize("type_name", list(STANDARD_TYPES))
@BATCHES
@given(data=st.data())
def test_sql_macro_agrees_with_reference(type_name: str, data: st.DataObject, run_macro: RunMacro) -> None:
    values = data.draw(st.lists(st.one_of(st.none(), near_valid(type_name)), min_size=1, max_size=50))
    reference = STANDARD_TYPES[type_name].reference
    expected = [reference(v) for v in values]  # type: ignore[arg-type]
    actual = run_macro(type_name, values)
    disagreements = [(v, e, a) for v, e, a in zip(values, expected, actual, strict=True) if e != a]
    assert not disagreements, f"(input, reference, sql): {disagreements}"


@pytest.mark.parametrize("type_name", list(STANDARD_TYPES))
@BATCHES
@given(data=st.data())
def test_canonical_forms_are_fixed_points(type_name: str, data: st.DataObject, run_macro: RunMacro) -> None:
    values = data.draw(st.lists(near_valid(type_name), min_size=1, max_size=50))
    reference = STANDARD_TYPES[type_name].reference
    canonical = [c for c in (reference(v) for v in values) if c is not None]
    assert [reference(c) for c in canonical] == canonical
    assert run_macro(type_name, canonical) == canonical
