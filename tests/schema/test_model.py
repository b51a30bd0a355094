"""Schemas: Table Schema compatible, UK types, clear one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from joinedup.errors import SchemaError
from joinedup.ingest.validate import build_query
from joinedup.schema import Schema, dump_schema, load_schema, parse_schema

FRICTIONLESS = """
{
  "fields": [
    {"name": "id", "type": "integer", "constraints": {"required": true, "unique": true}},
    {"name": "when", "type": "date", "format": "%d/%m/%Y"},
    {"name": "score", "type": "number", "constraints": {"minimum": 0, "maximum": 10}},
    {
        "name": "code",
        "type": "string",
        "constraints": {"pattern": "[A-Z]{3}", "enum": ["ABC", "DEF"], "minLength": 3, "maxLength": 3}
    },
    {"name": "ok", "type": "boolean", "trueValues": ["Y"], "falseValues": ["N"]}
  ],
  "primaryKey": "id",
  "missingValues": ["", "NA"]
}
"""


def test_a_frictionless_table_schema_loads_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text(FRICTIONLESS)
    schema = load_schema(path)
    assert schema.primary_key == ("id",)
    assert schema.missing_values == ("", "NA")
    assert schema.field("when").format == "%d/%m/%Y"
    assert schema.field("score").constraints.maximum == 10
    assert schema.field("ok").true_values == ("Y",)
    again = parse_schema(dump_schema(schema))
    assert again == schema and again.digest() == schema.digest()


def test_uk_types_and_personal_data() -> None:
    schema = parse_schema(
        """
fields:
  - {name: nhs_number, type: nhs_number, category: identifier}
  - {name: ethnicity, type: string, personal: true, category: racial_or_ethnic_origin}
  - {name: ward, type: gss_code}
"""
    )
    assert schema.field("nhs_number").personal  # a category implies personal
    assert schema.field("ethnicity").special_category
    assert [f.name for f in schema.personal_fields] == ["nhs_number", "ethnicity"]


def test_digest_changes_with_the_schema() -> None:
    a = parse_schema("fields: [{name: a, type: string}]")
    b = parse_schema("fields: [{name: a, type: integer}]")
    assert a.digest() != b.digest()
    assert a.digest() == Schema.from_dict(a.to_dict()).digest()


@pytest.mark.parametrize(
    "text, message",
    [
        ("fields: []", "fields: expected a non-empty list of fields"),
        ("- a\n- b", "expected a mapping with a 'fields' list"),
        ("fields: [{name: a, type: geopoint}]", "fields[0].type: 'geopoint' is not a supported type"),
        ("fields: [{name: a, type: nhs}]", "did you mean 'nhs_number'?"),
        ("fields: [{name: a, typ: string}]", "fields[0].typ: unknown key (did you mean 'type'?)"),
        (
            "fields: [{name: a, constraints: {requried: true}}]",
            "fields[0].constraints.requried: unknown key (did you mean 'required'?)",
        ),
        ("fields: [{name: a}, {name: a}]", "fields[1].name: 'a' is used by more than one field"),
        ("fields: [{name: Name}, {name: NAME}]", "fields[1].name: 'NAME' differs from 'Name' only in case"),
        ("fields: [{name: a}]\nprimaryKey: [b]", "primaryKey: 'b' is not a field"),
        ("fields: [{name: a, type: date, format: any}]", "joinedup never guesses day and month"),
        ("fields: [{name: a, type: date, format: dd/mm/yyyy}]", "expected 'default' (ISO 8601) or a strptime pattern"),
        ("fields: [{name: a, category: shoe_size}]", "fields[0].category: 'shoe_size' is not a category"),
        ("fields: [{name: a, personal: false, category: name}]", "is false but the field has personal data category"),
        ("fields: [{name: a, constraints: {pattern: '[unclosed'}}]", "not a valid regular expression"),
        ("fields: [{name: a, type: string, constraints: {minimum: 1}}]", "only applies to"),
        ("fields: [{name: a, type: date, constraints: {maximum: 'soon'}}]", "expected an ISO 8601 date"),
        (
            "fields: [{name: a, type: date, format: '%d/%m/%Y', constraints: {maximum: '2026/11/23'}}]",
            "expected an ISO 8601 date or one in the form %d/%m/%Y, got '2026/11/23'",
        ),
        ("fields: [{name: _ingest}]", "kept for joinedup's own columns"),
        ("fields: [{name: a, type: integer, format: email}]", "takes no format"),
        ("fields: [{name: a\n", "line 2: not valid YAML"),
        # Ingest runs DuckDB, so DuckDB's strptime and RE2 decide, not Python's.
        ("fields: [{name: a, type: date, format: '%Q'}]", "'%Q' is not a valid pattern"),
        (
            "fields: [{name: a, constraints: {pattern: 'a{99999}'}}]",
            "not a valid regular expression: invalid repetition size",
        ),
        ("fields: [{name: a, constraints: {pattern: '(?<=x)a'}}]", "not a valid regular expression"),
        (
            "fields: [{name: a, type: integer, constraints: {enum: [1, 'a']}}]",
            "fields[0].constraints.enum[1]: 'a' is not a whole number",
        ),
        ("fields: [{name: a, type: number, constraints: {enum: [1.5, '1) OR (1=1']}}]", "is not a number"),
        (
            "fields: [{name: a, type: number, constraints: {maximum: .inf}}]",
            "fields[0].constraints.maximum: expected a finite number, got inf",
        ),
        (
            "fields: [{name: a, type: number, constraints: {minimum: -.inf}}]",
            "fields[0].constraints.minimum: expected a finite number",
        ),
        (
            "fields: [{name: a, type: number, constraints: {minimum: .nan}}]",
            "fields[0].constraints.minimum: expected a finite number, got nan",
        ),
        (
            "fields: [{name: a, type: integer, constraints: {maximum: .inf}}]",
            "fields[0].constraints.maximum: expected an integer",
        ),
    ],
)
def test_each_mistake_is_one_line_naming_where(text: str, message: str) -> None:
    with pytest.raises(SchemaError) as caught:
        parse_schema(text, source="s.yaml")
    assert message in str(caught.value)
    assert str(caught.value).startswith("s.yaml: ")
    assert "\n" not in str(caught.value)


def test_missing_schema_file(tmp_path: Path) -> None:
    with pytest.raises(SchemaError, match="schema file not found"):
        load_schema(tmp_path / "none.yaml")


@settings(max_examples=60, deadline=None)
@given(
    kind=st.sampled_from(["number", "integer", "year"]),
    bound=st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(min_value=-(10**40), max_value=10**40)),
)
@example(kind="number", bound=float("inf"))
@example(kind="number", bound=float("nan"))
def test_any_bound_check_accepts_makes_a_query_ingest_can_run(kind: str, bound: float) -> None:
    text = json.dumps({"fields": [{"name": "a", "type": kind, "constraints": {"minimum": bound, "maximum": bound}}]})
    try:
        schema = parse_schema(
            text.replace("NaN", ".nan").replace("-Infinity", "-.inf").replace("Infinity", ".inf"), source="s.yaml"
        )
    except SchemaError as refused:
        assert str(refused).startswith("s.yaml: fields[0].constraints.minimum: ")
        return
    con = duckdb.connect()
    con.execute("CREATE TABLE src AS SELECT 2 AS _source_row, '5' AS c0")
    assert len(con.execute(build_query(schema, {"a": "c0"}, "src")).fetchall()) == 1
