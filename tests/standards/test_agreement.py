"""The SQL macros and the Python reference give the same answer for any input, and both are idempotent."""

from __future__ import annotations

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from joinedup.standards import STANDARD_TYPES, trimmed_macro
from joinedup.standards.facts import BLANKS
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


TRIMMING_TYPES = [name for name in STANDARD_TYPES if trimmed_macro(name) != STANDARD_TYPES[name].macro]


def test_the_rules_that_trim_first_have_a_variant_for_trimmed_text() -> None:
    assert set(TRIMMING_TYPES) == {"uprn", "usrn", "gss_code", "country_code", "iso_date", "iso_datetime"}
    assert trimmed_macro("nhs_number") == "jd_nhs_number"


@pytest.mark.parametrize("type_name", TRIMMING_TYPES)
@BATCHES
@given(data=st.data())
def test_the_trimmed_variant_agrees_with_the_macro_on_trimmed_text(
    type_name: str, data: st.DataObject, con: duckdb.DuckDBPyConnection
) -> None:
    # Ingest trims every value once and then calls the variant: the answer must be the macro's.
    blanks = st.text(alphabet=BLANKS, max_size=3)
    values = data.draw(
        st.lists(st.builds(lambda a, v, b: a + v + b, blanks, near_valid(type_name), blanks), min_size=1, max_size=50)
    )
    rows = con.execute(
        f"SELECT {STANDARD_TYPES[type_name].macro}(v), {trimmed_macro(type_name)}(trim(v, ?)) "
        "FROM unnest(CAST(? AS VARCHAR[])) WITH ORDINALITY AS t(v, i) ORDER BY i",
        [BLANKS, values],
    ).fetchall()
    assert len(rows) == len(values)
    disagreements = [(v, whole, trimmed) for v, (whole, trimmed) in zip(values, rows, strict=True) if whole != trimmed]
    assert not disagreements, f"(input, jd_<type>, jd_trimmed_<type> after trim): {disagreements}"
