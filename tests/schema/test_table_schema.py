"""Table Schema export: the ``frictionless`` package accepts it, and it reads back unchanged."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import frictionless
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from joinedup.errors import SchemaError
from joinedup.schema import Schema, parse_schema, to_table_schema
from joinedup.schema.table_schema import UK_PATTERNS
from joinedup.standards import STANDARD_TYPES, UK_TYPES, generate
from tests.conftest import PEOPLE_SCHEMA

EVERY_KIND = (
    PEOPLE_SCHEMA
    + """
  - {name: seen, type: date, format: "%d/%m/%Y", constraints: {minimum: "2000-01-31", maximum: "2026-11-23"}}
  - {name: at, type: datetime, format: "%d/%m/%Y %H:%M", timezone: Europe/London,
     constraints: {minimum: "2020-01-01T09:30:00"}}
  - {name: email, type: string, format: email}
  - {name: ok, type: boolean, trueValues: ["Y"], falseValues: ["N"]}
  - {name: amount, type: number, groupChar: ",", bareNumber: false, constraints: {minimum: 0}}
  - {name: ward, type: gss_code, constraints: {pattern: "E05[0-9]{6}"}}
"""
    + "".join(f"  - {{name: x_{t}, type: {t}}}\n" for t in UK_TYPES)
)


def _schema() -> Schema:
    text = EVERY_KIND.replace("primaryKey: [person_id]\n", "") + "primaryKey: [person_id]\n"
    return parse_schema(text)


def test_frictionless_accepts_the_export_and_refuses_the_native_form() -> None:
    schema = _schema()
    assert not frictionless.Schema.validate_descriptor(schema.to_dict()).valid
    report = frictionless.Schema.validate_descriptor(to_table_schema(schema))
    assert report.valid, report.flatten(["message"])


def test_the_export_reads_back_to_the_same_schema_and_digest() -> None:
    schema = _schema()
    again = parse_schema(json.dumps(to_table_schema(schema)), json_only=True)
    assert again == schema and again.digest() == schema.digest()
    exported = {f["name"]: f for f in to_table_schema(schema)["fields"]}
    assert exported["nhs_number"]["type"] == "string" and exported["nhs_number"]["joinedup:type"] == "nhs_number"
    assert exported["name"]["joinedup:format"] == "person_name" and "format" not in exported["name"]
    assert exported["name"]["joinedup:personal"] is True and exported["name"]["joinedup:category"] == "name"
    assert exported["ward"]["constraints"]["pattern"] == "E05[0-9]{6}"  # the field's own pattern is kept
    assert exported["seen"]["constraints"] == {"minimum": "31/01/2000", "maximum": "23/11/2026"}
    assert exported["at"]["constraints"] == {"minimum": "01/01/2020 09:30"}


def test_frictionless_validates_data_with_the_export_as_joinedup_would(tmp_path: Path) -> None:
    schema = parse_schema(PEOPLE_SCHEMA)
    rows = [
        "person_id,name,nhs_number,postcode,date_of_birth,sex",
        "1,ann lee,943 476 5919,sw1a 1aa,1980-03-12,F",
        "2,Omar Khan,943-476-5919, SW1A1AA ,1990-01-01,M",
        "3,Bad Shape,94347,SW1A,1990-01-01,M",
    ]
    (tmp_path / "people.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    resource = frictionless.Resource(
        path="people.csv", basepath=str(tmp_path), schema=frictionless.Schema.from_descriptor(to_table_schema(schema))
    )
    errors = resource.validate().flatten(["rowNumber", "fieldName", "type"])
    assert errors == [[4, "nhs_number", "constraint-error"], [4, "postcode", "constraint-error"]]


@settings(max_examples=200, deadline=None)
@given(
    type_=st.sampled_from(UK_TYPES),
    seed=st.integers(0, 2**32),
    gaps=st.lists(st.sampled_from(["", " ", "-", "\t", " - "]), min_size=14, max_size=14),
    lower=st.booleans(),
)
def test_every_value_joinedup_accepts_matches_its_types_pattern(
    type_: str, seed: int, gaps: list[str], lower: bool
) -> None:
    value = getattr(generate, type_)(random.Random(seed))
    spread = "".join(ch + gap for ch, gap in zip(value, gaps, strict=False)) + value[len(gaps) :]
    for candidate in (value, spread, " " + value + " "):
        text = candidate.lower() if lower else candidate
        if STANDARD_TYPES[type_].reference(text) is not None:
            assert re.fullmatch(UK_PATTERNS[type_], text), (type_, text)


@settings(max_examples=300, deadline=None)
@given(type_=st.sampled_from(UK_TYPES), text=st.text(alphabet="0123456789 -ABCDEGHIKNPRSWZgkx", max_size=16))
@example(type_="company_number", text="IP00525R").via("a society's number, once refused by the export")
@example(type_="company_number", text="rs 01234 a").via("a society's number, spaced and in lower case")
@example(type_="company_number", text="R1234567").via("a company registered before partition")
def test_any_text_joinedup_accepts_matches_its_types_pattern(type_: str, text: str) -> None:
    if STANDARD_TYPES[type_].reference(text) is not None:
        assert re.fullmatch(UK_PATTERNS[type_], text)


@pytest.mark.parametrize(
    "field, message",
    [
        ({"name": "a", "type": "integer", "joinedup:type": "nhs_number"}, "fields[0].joinedup:type: does not fit here"),
        ({"name": "a", "type": "string", "joinedup:type": "shoe_size"}, "fields[0].joinedup:type: does not fit here"),
        ({"name": "a", "type": "string", "joinedup:colour": "red"}, "fields[0].joinedup:colour: does not fit here"),
        ({"name": "a", "personal": False, "joinedup:personal": True}, "fields[0].joinedup:personal: does not fit here"),
        (
            {"name": "a", "type": "string", "joinedup:category": "shoe_size"},
            "fields[0].category: 'shoe_size' is not a category",
        ),
    ],
)
def test_extension_properties_that_do_not_fit_are_refused(field: dict[str, object], message: str) -> None:
    with pytest.raises(SchemaError, match=re.escape(message)):
        Schema.from_dict({"fields": [field]}, "s.json")


def test_frictionless_reads_date_bounds_in_the_fields_format(tmp_path: Path) -> None:
    schema = parse_schema(
        'fields: [{name: seen, type: date, format: "%d/%m/%Y", constraints: {maximum: "2026-11-23"}}]'
    )
    (tmp_path / "seen.csv").write_text("seen\n01/02/2020\n24/11/2026\n", encoding="utf-8")
    resource = frictionless.Resource(
        path="seen.csv", basepath=str(tmp_path), schema=frictionless.Schema.from_descriptor(to_table_schema(schema))
    )
    assert resource.validate().flatten(["rowNumber", "type", "note"]) == [
        [3, "constraint-error", 'constraint "maximum" is "23/11/2026"']
    ]


@pytest.mark.parametrize("number", ["IP00525R", "SP01234A", "NP12345Z", "RS00001B", "R1234567", "SC123456", "00012345"])
def test_frictionless_accepts_every_kind_of_company_number_joinedup_does(tmp_path: Path, number: str) -> None:
    assert STANDARD_TYPES["company_number"].reference(number) is not None
    schema = parse_schema("fields: [{name: company, type: company_number}]")
    (tmp_path / "c.csv").write_text(f"company\n{number}\nNOT A NUMBER\n", encoding="utf-8")
    resource = frictionless.Resource(
        path="c.csv", basepath=str(tmp_path), schema=frictionless.Schema.from_descriptor(to_table_schema(schema))
    )
    assert resource.validate().flatten(["rowNumber", "type"]) == [[3, "constraint-error"]]


@pytest.mark.parametrize(
    "field",
    [
        '{name: at, type: datetime, timezone: Europe/London, constraints: {minimum: "2020-01-01T09:30:00+01:00"}}',
        '{name: at, type: datetime, timezone: Europe/London, constraints: {maximum: "2030-01-01T09:30:00"}}',
        '{name: at, type: datetime, constraints: {minimum: "2020-01-01T09:30:00"}}',
        '{name: at, type: datetime, format: "%d/%m/%Y %H:%M%z", constraints: {minimum: "2020-01-01T09:30:00"}}',
    ],
    ids=["zone-aware-bound", "zone-naive-bound", "no-zone-naive-bound", "offset-format-naive-bound"],
)
def test_date_time_bounds_frictionless_cannot_compare_stay_in_the_extension(tmp_path: Path, field: str) -> None:
    schema = parse_schema(f"fields: [{field}]")
    exported = to_table_schema(schema)
    [at] = exported["fields"]
    assert "minimum" not in at.get("constraints", {}) and "maximum" not in at.get("constraints", {})
    assert {"joinedup:minimum", "joinedup:maximum"} & set(at)
    again = parse_schema(json.dumps(exported), json_only=True)
    assert again == schema and again.digest() == schema.digest()
    values = ["2019-06-01T10:00:00", "2021-06-01T10:00:00+01:00", "2021-06-01T10:00:00Z"]
    if "%z" in field:
        values = ["01/06/2019 10:00+0000", "01/06/2021 10:00+0100"]
    (tmp_path / "at.csv").write_text("at\n" + "\n".join(values) + "\n", encoding="utf-8")
    resource = frictionless.Resource(
        path="at.csv", basepath=str(tmp_path), schema=frictionless.Schema.from_descriptor(exported)
    )
    report = resource.validate()  # raised TypeError comparing naive and aware datetimes before
    assert not any(task.errors for task in report.tasks) and not report.errors, report.flatten(["type", "note"])


def test_date_time_bounds_frictionless_can_compare_are_exported_as_constraints(tmp_path: Path) -> None:
    schema = parse_schema('fields: [{name: at, type: datetime, constraints: {minimum: "2020-01-01T09:30:00+01:00"}}]')
    [at] = to_table_schema(schema)["fields"]
    assert at["constraints"] == {"minimum": "2020-01-01T09:30:00+01:00"} and "joinedup:minimum" not in at
    (tmp_path / "at.csv").write_text("at\n2019-06-01T10:00:00Z\n2021-06-01T10:00:00Z\n", encoding="utf-8")
    resource = frictionless.Resource(
        path="at.csv", basepath=str(tmp_path), schema=frictionless.Schema.from_descriptor(to_table_schema(schema))
    )
    assert resource.validate().flatten(["rowNumber", "type"]) == [[2, "constraint-error"]]
