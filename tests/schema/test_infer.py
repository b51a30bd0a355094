"""Inference proposes UK types, dates, constraints and personal columns from the data."""

from __future__ import annotations

from pathlib import Path

from joinedup.ingest.inference import infer_file_schema
from joinedup.standards import generate
from tests.conftest import write_csv


def test_uk_identifiers_are_recognised(tmp_path: Path) -> None:
    import random

    rng = random.Random(7)
    lines = ["ref,nhs,ni,post code,ward code,uprn,when,seen,amount,flag,ethnicity"]
    for i in range(60):
        lines.append(
            f"{i},{generate.nhs_number(rng)},{generate.ni_number(rng)},{generate.postcode(rng)},"
            f"{generate.gss_code(rng)},{generate.uprn(rng)},2020-01-{i % 28 + 1:02d},"
            f"{i % 28 + 1:02d}/11/2020,{i}.5,{'yes' if i % 2 else 'no'},White British"
        )
    schema = infer_file_schema(write_csv(tmp_path / "d.csv", "\n".join(lines)))
    types = {f.name: (f.type, f.format) for f in schema.fields}
    assert types == {
        "ref": ("integer", "default"),
        "nhs": ("nhs_number", "default"),
        "ni": ("ni_number", "default"),
        "post_code": ("postcode", "default"),
        "ward_code": ("gss_code", "default"),
        "uprn": ("uprn", "default"),
        "when": ("date", "default"),
        "seen": ("date", "%d/%m/%Y"),
        "amount": ("number", "default"),
        "flag": ("boolean", "default"),
        "ethnicity": ("string", "default"),
    }
    assert schema.primary_key == ("ref",)
    personal = {f.name: f.category for f in schema.fields if f.personal}
    assert personal == {"nhs": "identifier", "ni": "identifier", "post_code": "address", "uprn": "address", "ethnicity": "racial_or_ethnic_origin"}
    assert schema.field("post_code").title == "post code"


def test_ambiguous_day_month_is_flagged_and_leading_zeros_stay_text(tmp_path: Path) -> None:
    text = "when,code,sex\n" + "\n".join(f"0{i % 9 + 1}/0{i % 9 + 1}/2020,00{i},{'MF'[i % 2]}" for i in range(40))
    schema = infer_file_schema(write_csv(tmp_path / "d.csv", text))
    when = schema.field("when")
    assert when.format == "%d/%m/%Y" and "check before ingesting" in (when.description or "")
    assert schema.field("code").type == "string"
    assert schema.field("sex").constraints.enum == ("F", "M")
    assert schema.field("sex").category == "demographic"


def test_a_number_column_is_not_taken_for_a_uprn_without_the_header_saying_so(tmp_path: Path) -> None:
    text = "count\n" + "\n".join(str(i + 1) for i in range(50))
    assert infer_file_schema(write_csv(tmp_path / "d.csv", text)).field("count").type == "integer"


def test_a_header_naming_a_personal_identifier_marks_it_personal_even_when_values_are_bad(tmp_path: Path) -> None:
    # A small, messy file: every value invalid, so no UK type is proposed, but the
    # header says what the column is, and its values must not get statistics.
    text = "nhs_number,ni_number,postcode,colour\n" + "".join(f"12345,XX{i},QQQ {i},blue\n" for i in range(4))
    schema = infer_file_schema(write_csv(tmp_path / "messy.csv", text))
    fields = {f.name: f for f in schema.fields}
    assert [fields[n].personal for n in ("nhs_number", "ni_number", "postcode", "colour")] == [True, True, True, False]
    assert fields["postcode"].category == "address"


def test_unique_and_enum_are_proposed_only_where_they_hold_by_nature(tmp_path: Path) -> None:
    rows = [
        f"{i},{generate.postcode(rng)},2020-01-{i + 1:02d},Council"
        for i, rng in enumerate(__import__("random").Random(k) for k in range(25))
    ]
    schema = infer_file_schema(write_csv(tmp_path / "p.csv", "id,postcode,seen,owner\n" + "\n".join(rows) + "\n"))
    fields = {f.name: f for f in schema.fields}
    assert not fields["postcode"].constraints.unique and not fields["seen"].constraints.unique
    assert fields["owner"].constraints.enum is None  # one value seen is not a list of allowed values
    assert schema.primary_key == ("id",)


def test_headers_about_places_or_organisations_are_not_taken_for_personal_identifiers(tmp_path: Path) -> None:
    text = "nhs_trust,ni_region,postcode_district\n" + "".join(f"Trust {i},Belfast,SW{i}\n" for i in range(4))
    fields = infer_file_schema(write_csv(tmp_path / "orgs.csv", text)).fields
    assert [f.personal for f in fields] == [False, False, False]


def test_date_times_without_an_offset_are_proposed_as_uk_local_time(tmp_path: Path) -> None:
    text = "local,utc\n" + "\n".join(f"2024-07-{i % 28 + 1:02d} 12:00:00,2024-07-{i % 28 + 1:02d}T12:00:00Z" for i in range(30))
    schema = infer_file_schema(write_csv(tmp_path / "d.csv", text))
    local, utc = schema.field("local"), schema.field("utc")
    assert (local.type, local.timezone) == ("datetime", "Europe/London")
    assert "UK local time" in (local.description or "")
    assert (utc.type, utc.timezone) == ("datetime", None)
