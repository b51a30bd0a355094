"""Inference proposes UK types, dates, constraints and personal columns from the data."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from joinedup.ingest.columns import match_columns
from joinedup.ingest.inference import infer_file_schema
from joinedup.schema import dump_schema, parse_schema
from joinedup.standards import generate
from tests.conftest import CliResult, write_csv

Cli = Callable[..., CliResult]


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


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(headers=st.lists(st.sampled_from(["Name", "name", "NAME", "name_2", "Name 2", "Post Code", "post_code", "postcode", "Post-code", "1", "c_1", "column", "?"]), min_size=1, max_size=6, unique=True))
def test_whatever_infer_names_check_accepts_and_ingest_matches_to_its_own_column(tmp_path: Path, headers: list[str]) -> None:
    data = write_csv(tmp_path / "h.csv", ",".join(headers) + "\n" + ",".join("x" for _ in headers))
    inferred = infer_file_schema(data)
    checked = parse_schema(dump_schema(inferred), source="inferred.yaml")
    positions, ignored = match_columns(checked, headers, data)
    assert [positions[f.name] for f in checked.fields] == list(range(len(headers))) and not ignored


def test_repeated_and_case_variant_headers_infer_a_schema_that_loads(cli: Cli, tmp_path: Path) -> None:
    data = write_csv(tmp_path / "d.csv", "Name,name,name_2,Post Code,post_code\n" + "a,b,c,d,e\n" * 3)
    schema = tmp_path / "d.yaml"
    assert cli("schema", "infer", data, "--out", schema).exit_code == 0
    assert cli("schema", "check", schema).exit_code == 0
    loaded = cli("ingest", data, "--dataset", "d", "--schema", schema, "--json")
    assert loaded.exit_code == 0, loaded.stderr
    assert loaded.json()["rows_loaded"] == 3
    titles = {f["title"] if "title" in f else f["name"]: f["name"] for f in cli("schema", "check", schema, "--json").json()["fields"]}
    [row] = cli("query", f"SELECT {', '.join(titles.values())} FROM d LIMIT 1", "--json").json()
    # Each header's values land under the field inferred for that header (names are title-cased).
    by_header = {header: str(row[name]).lower() for header, name in titles.items()}
    assert by_header == {"Name": "a", "name": "b", "name_2": "c", "Post Code": "d", "post_code": "e"}
