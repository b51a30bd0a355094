"""The registry: every type is complete, its example is valid, and its macro is installed."""

from __future__ import annotations

import re

import duckdb
import pytest

from joinedup.schema import CATEGORIES
from joinedup.standards import STANDARD_TYPES, UK_TYPES, StandardType, install_macros, reference
from joinedup.standards.sql import MACRO_SQL, ZONED_MACRO_SQL
from tests.standards.conftest import RunMacro

TYPES = list(STANDARD_TYPES.values())


def test_uk_types_are_the_identifiers_not_the_formats() -> None:
    assert set(UK_TYPES) == set(STANDARD_TYPES) - {"iso_date", "iso_datetime", "person_name"}
    assert {
        "nhs_number",
        "ni_number",
        "postcode",
        "uprn",
        "usrn",
        "company_number",
        "vat_number",
        "utr",
        "gss_code",
        "country_code",
    } == set(UK_TYPES)


@pytest.mark.parametrize("rule", TYPES, ids=lambda r: r.name)
def test_each_type_is_fully_described(rule: StandardType) -> None:
    assert STANDARD_TYPES[rule.name] is rule
    assert rule.macro == f"jd_{rule.name}"
    assert rule.reference is getattr(reference, f"canonical_{rule.name}")
    assert rule.title and rule.expected and "\n" not in rule.expected
    assert rule.sql_type == ("BIGINT" if rule.name in ("uprn", "usrn") else "VARCHAR")
    assert rule.personal_category is None or rule.personal_category in CATEGORIES


@pytest.mark.parametrize("rule", TYPES, ids=lambda r: r.name)
def test_each_example_is_valid_and_canonical(rule: StandardType, run_macro: RunMacro) -> None:
    assert rule.reference(rule.example) == rule.example
    assert run_macro(rule.name, [rule.example]) == [rule.example]


def test_install_macros_defines_every_macro_and_can_run_twice() -> None:
    con = duckdb.connect(":memory:")
    try:
        install_macros(con)
        install_macros(con)
        names = {
            row[0]
            for row in con.execute(
                "SELECT function_name FROM duckdb_functions() WHERE function_name LIKE 'jd_%'"
            ).fetchall()
        }
    finally:
        con.close()
    assert {t.macro for t in TYPES} <= names
    assert {"jd_local_to_utc", "jd_iso_datetime_in", "jd_trimmed_iso_datetime_in"} <= names
    assert len(MACRO_SQL) == len(TYPES)


def test_macros_avoid_sql_that_does_not_translate_to_spark() -> None:
    # sqlglot cannot carry these to Spark; DuckDB 2.0 also rejects the arrow lambda.
    for statement in MACRO_SQL + ZONED_MACRO_SQL:
        assert not re.search(r"list_sum|list_reduce|->|\[\s*\d*\s*:\s*\d*\s*\]", statement), statement[:80]
