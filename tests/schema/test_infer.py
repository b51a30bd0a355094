"""Inference proposes UK types, dates, constraints and personal columns from the data."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from joinedup.errors import InputError
from joinedup.estate import Estate
from joinedup.ingest import ingest
from joinedup.ingest.columns import match_columns
from joinedup.ingest.inference import infer_file_schema, propose_file_schema
from joinedup.schema import Schema, dump_schema, parse_schema, to_table_schema
from joinedup.standards import generate
from joinedup.storage.query import run_query
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
    assert personal == {
        "nhs": "identifier",
        "ni": "identifier",
        "post_code": "address",
        "uprn": "address",
        "ethnicity": "racial_or_ethnic_origin",
    }
    assert schema.field("post_code").title == "post code"


def test_ambiguous_day_month_is_flagged_and_leading_zeros_stay_text(tmp_path: Path) -> None:
    text = "when,code,sex,status\n" + "\n".join(
        f"0{i % 9 + 1}/0{i % 9 + 1}/2020,00{i},{'MF'[i % 2]},{'AB'[i % 2]}" for i in range(40)
    )
    schema = infer_file_schema(write_csv(tmp_path / "d.csv", text))
    when = schema.field("when")
    assert when.format == "%d/%m/%Y" and "check before ingesting" in (when.description or "")
    assert schema.field("code").type == "string"
    assert schema.field("status").constraints.enum == ("A", "B")
    # A personal column never lists its values in the schema, however few there are.
    assert schema.field("sex").category == "demographic" and schema.field("sex").constraints.enum is None


def test_month_first_dates_with_typos_are_read_in_the_order_most_values_fit(tmp_path: Path) -> None:
    # An American export: month first, and three typos whose first part is above 12.
    dates = [f"{i % 12 + 1:02d}/{i % 15 + 13}/19{40 + i % 50}" for i in range(97)] + [
        "14/02/1945",
        "13/03/1950",
        "25/12/1960",
    ]
    schema = infer_file_schema(write_csv(tmp_path / "us.csv", "born\n" + "\n".join(dates)))
    born = schema.field("born")
    assert (born.type, born.format) == ("date", "%m/%d/%Y")
    assert "3 of 100 values do not fit %m/%d/%Y" in (born.description or "")


def test_day_first_dates_say_how_many_do_not_fit(tmp_path: Path) -> None:
    dates = [f"{i % 15 + 13}/{i % 12 + 1:02d}/2001" for i in range(99)] + ["31/02/2001"]
    born = infer_file_schema(write_csv(tmp_path / "uk.csv", "seen\n" + "\n".join(dates))).field("seen")
    assert born.format == "%d/%m/%Y" and "1 of 100 values do not fit" in (born.description or "")


def test_street_numbers_like_12a_stay_text(tmp_path: Path) -> None:
    numbers = [str(i + 1) for i in range(98)] + ["12A", "7 b"]
    schema = infer_file_schema(
        write_csv(tmp_path / "a.csv", "street_number,count\n" + "\n".join(f"{n},{i}" for i, n in enumerate(numbers)))
    )
    assert schema.field("street_number").type == "string"
    assert "mix digits and letters" in (schema.field("street_number").description or "")
    assert schema.field("count").type == "integer"  # exponents are numbers, not letters: 1e5 stays a number


def test_no_enum_lists_peoples_names(tmp_path: Path) -> None:
    staff = ["Jane Smith", "Omar Khan", '"Smith, Ann"']
    rows = [f"{staff[i % 3]},{staff[i % 3]},{'ABC'[i % 3]}" for i in range(90)]
    schema = infer_file_schema(write_csv(tmp_path / "c.csv", "caseworker,handled,team\n" + "\n".join(rows)))
    assert schema.field("caseworker").constraints.enum is None and schema.field("caseworker").category == "name"
    assert schema.field("handled").constraints.enum is None and not schema.field("handled").personal
    assert "people's names" in (schema.field("handled").description or "")
    assert schema.field("team").constraints.enum == ("A", "B", "C")


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


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    headers=st.lists(
        st.sampled_from(
            [
                "Name",
                "name",
                "NAME",
                "name_2",
                "Name 2",
                "Post Code",
                "post_code",
                "postcode",
                "Post-code",
                "1st",
                "c_1st",
                "column",
                "?",
            ]
        ),
        min_size=1,
        max_size=6,
        unique=True,
    )
)
def test_whatever_infer_names_check_accepts_and_ingest_matches_to_its_own_column(
    tmp_path: Path, headers: list[str]
) -> None:
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
    titles = {
        f["title"] if "title" in f else f["name"]: f["name"]
        for f in cli("schema", "check", schema, "--json").json()["fields"]
    }
    [row] = cli("query", f"SELECT {', '.join(titles.values())} FROM d LIMIT 1", "--json").json()
    # Each header's values land under the field inferred for that header (names are title-cased).
    by_header = {header: str(row[name]).lower() for header, name in titles.items()}
    assert by_header == {"Name": "a", "name": "b", "name_2": "c", "Post Code": "d", "post_code": "e"}


_CELLS = [
    "",
    "12",
    "12A",
    "007",
    "1.5",
    "1e5",
    "02/20/1945",
    "20/02/1945",
    "03/04/2001",
    "2020-01-31",
    "943 476 5919",
    "SW1A 1AA",
    "Jane Smith",
    "yes",
    "no",
    "M",
    "F",
    "x",
    "N/A",
    "-3",
]


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(columns=st.lists(st.lists(st.sampled_from(_CELLS), min_size=25, max_size=25), min_size=1, max_size=4))
def test_whatever_infer_proposes_reads_back_and_its_report_accounts_for_every_row(
    tmp_path: Path, columns: list[list[str]]
) -> None:
    # A row number first: a line of nothing but empty cells is a blank line, which CSV readers skip.
    header = ",".join(["row", *(f"col_{i}" for i in range(len(columns)))])
    lines = [",".join([str(r), *(column[r] for column in columns)]) for r in range(25)]
    proposal = propose_file_schema(write_csv(tmp_path / "any.csv", header + "\n" + "\n".join(lines)))
    assert parse_schema(dump_schema(proposal.schema)) == proposal.schema
    assert Schema.from_dict(to_table_schema(proposal.schema)).digest() == proposal.schema.digest()
    assert proposal.rows_read == 25 == proposal.rows_loaded + proposal.rows_quarantined
    assert sum(sum(rules.values()) for rules in proposal.rule_counts.values()) >= proposal.rows_quarantined


def test_date_times_without_an_offset_are_proposed_as_uk_local_time(tmp_path: Path) -> None:
    text = "local,utc\n" + "\n".join(
        f"2024-07-{i % 28 + 1:02d} 12:00:00,2024-07-{i % 28 + 1:02d}T12:00:00Z" for i in range(30)
    )
    schema = infer_file_schema(write_csv(tmp_path / "d.csv", text))
    local, utc = schema.field("local"), schema.field("utc")
    assert (local.type, local.timezone) == ("datetime", "Europe/London")
    assert "UK local time" in (local.description or "")
    assert (utc.type, utc.timezone) == ("datetime", None)


def test_numbers_are_never_proposed_where_they_would_lose_digits(tmp_path: Path) -> None:
    text = (
        "id,big,amt,huge,price\n"
        "1,9007199254740993,12345678901234567.89,99999999999999999999,0.1\n"
        "2,9223372036854775807,0.1,1,12.5\n"
        "3,1,1,2,123456789012.345\n"
    )
    path = write_csv(tmp_path / "big.csv", text)
    proposal = propose_file_schema(path)
    fields = {f.name: f for f in proposal.schema.fields}
    assert fields["big"].type == "integer"  # every value fits a BIGINT, 19 digits included
    assert fields["amt"].type == "string" and "more than 15 significant digits" in (fields["amt"].description or "")
    assert fields["huge"].type == "string" and "too large for a 64-bit integer" in (fields["huge"].description or "")
    assert fields["price"].type == "number"  # 15 significant digits: exact in a double
    assert proposal.rows_loaded == 3


def test_whatever_infer_proposes_loads_every_digit_of_big_numbers(estate: Estate, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "big.csv", "id,big,amt\n1,9007199254740993,12345678901234567.89\n2,5,0.5\n")
    schema = infer_file_schema(path)
    ingest(estate, path, dataset="big", principal="tester", schema=schema)
    rows = run_query(estate, "SELECT big, amt FROM big ORDER BY id", datasets={"big": 1}).records()
    assert [str(r["big"]) for r in rows] == ["9007199254740993", "5"]
    assert [str(r["amt"]) for r in rows] == ["12345678901234567.89", "0.5"]


@pytest.mark.parametrize("header", ["born", "dob", "birth_date", "date_of_birth", "Born"])
def test_a_column_of_birth_dates_is_a_date_of_birth(tmp_path: Path, header: str) -> None:
    rows = "\n".join(f"{i},19{50 + i}-03-1{i % 10}" for i in range(12))
    schema = infer_file_schema(write_csv(tmp_path / "b.csv", f"id,{header}\n{rows}"))
    born = schema.fields[1]
    assert born.type == "date" and born.personal and born.category == "date_of_birth"


def test_text_reference_codes_are_proposed_unique_and_as_the_key_when_named_so(tmp_path: Path) -> None:
    rows = "\n".join(f"R{i:03d},CR-2020-{i:04d},{i % 3},Team {'ABC'[i % 3]}" for i in range(1, 13))
    schema = infer_file_schema(write_csv(tmp_path / "r.csv", "case_ref,file_code,n,team\n" + rows))
    assert schema.primary_key == ("case_ref",)
    assert schema.field("case_ref").type == "string" and schema.field("case_ref").constraints.required
    assert schema.field("file_code").constraints.unique  # a code, but not named as the key
    assert not schema.field("n").constraints.unique and not schema.field("team").constraints.unique


def test_unique_words_and_personal_codes_are_not_proposed_unique(tmp_path: Path) -> None:
    towns = ["Leeds", "York", "Hull", "Bath", "Ely", "Wells", "Truro", "Derby", "Ripon", "Exeter", "Lincoln", "Durham"]
    rows = "\n".join(f"{town},{i}A High Street" for i, town in enumerate(towns, start=1))
    schema = infer_file_schema(write_csv(tmp_path / "t.csv", "place,address\n" + rows))
    assert not schema.field("place").constraints.unique and not schema.field("address").constraints.unique


def test_a_duckdb_failure_while_inferring_is_one_line_without_the_files_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import duckdb

    import joinedup.ingest.inference as inference

    def failing(*args: object, **kwargs: object) -> None:
        # DuckDB's own message quotes the value it could not convert.
        raise duckdb.ConversionException("Conversion Error: Could not convert string 'Sam Jackson' to INT32")

    monkeypatch.setattr(inference, "profile_columns", failing)
    path = write_csv(tmp_path / "p.csv", "id,name\n1,Sam Jackson\n")
    with pytest.raises(InputError) as caught:
        infer_file_schema(path)
    message = str(caught.value)
    assert message == f"{path}: cannot check its rows (Conversion Error)"
    assert "Sam" not in message
