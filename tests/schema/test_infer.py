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
