"""``joinedup schema``: infer says what its proposal would do; headerless files are refused."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from joinedup.schema import Schema
from joinedup.standards import generate
from tests.conftest import CliResult, write_csv

Cli = Callable[..., CliResult]


def _foreign_export(tmp_path: Path) -> Path:
    import random

    rng = random.Random(3)
    lines = ["id,born,street_number,nhs_number,seen"]
    for i in range(60):
        born = f"{i % 12 + 1:02d}/{i % 15 + 13}/19{40 + i % 50}" if i % 20 else f"{i % 15 + 13}/02/1945"
        nhs = generate.nhs_number(rng) if i != 7 else "123"
        lines.append(f"{i},{born},{i + 1}{'A' if i == 11 else ''},{nhs},2020-01-{i % 28 + 1:02d}")
    lines.append("61,02/20/1945,5")  # ragged: a field missing
    return write_csv(tmp_path / "foreign.csv", "\n".join(lines))


def test_infer_reports_what_ingest_would_do_and_ingest_does_exactly_that(cli: Cli, tmp_path: Path) -> None:
    data = _foreign_export(tmp_path)
    schema = tmp_path / "foreign.yaml"
    proposed = cli("schema", "infer", data, "--out", schema, "--json")
    assert proposed.exit_code == 0, proposed.stderr
    report = proposed.json()
    loaded = cli("ingest", data, "--dataset", "abroad", "--schema", schema, "--json").json()
    for key in ("rows_read", "rows_loaded", "rows_quarantined", "rule_counts"):
        assert report[key] == loaded[key], key
    assert report["rule_counts"] == {"(row)": {"columns": 1}, "born": {"date": 3}, "nhs_number": {"nhs_number": 1}}
    assert (report["rows_read"], report["rows_loaded"], report["rows_quarantined"]) == (61, 56, 5)


def test_infer_to_standard_output_keeps_the_schema_alone_there(cli: Cli, tmp_path: Path) -> None:
    data = _foreign_export(tmp_path)
    result = cli("schema", "infer", data, "--json")
    assert result.exit_code == 0
    assert [f["name"] for f in result.json()["fields"]] == ["id", "born", "street_number", "nhs_number", "seen"]
    assert "ingest would load 56 of 61 rows and quarantine 5" in result.stderr
    human = cli("schema", "infer", data)
    assert human.stdout.startswith("fields:") and "born" in human.stderr and "would be quarantined" in human.stderr


def test_a_csv_without_a_header_row_is_refused_without_quoting_its_values(cli: Cli, tmp_path: Path) -> None:
    data = write_csv(
        tmp_path / "people.csv", "1,Sam,Jackson,943 476 5919,12/03/1980\n2,Ann,Lee,401 023 2137,11/03/1980"
    )
    result = cli("schema", "infer", data, "--out", tmp_path / "people.yaml")
    assert result.exit_code != 0 and not (tmp_path / "people.yaml").exists()
    assert "row 1 looks like data, not a header" in result.stderr
    assert "column 4 is an NHS number" in result.stderr and "column 5 is a date" in result.stderr
    for value in ("Sam", "Jackson", "943", "12/03/1980"):
        assert value not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_header_of_names_found_again_below_it_is_refused(cli: Cli, tmp_path: Path) -> None:
    rows = "\n".join(f"{['Sam', 'Ann', 'Omar'][i % 3]},{['Lee', 'Khan'][i % 2]}" for i in range(12))
    result = cli("schema", "infer", write_csv(tmp_path / "names.csv", "Sam,Lee\n" + rows))
    assert result.exit_code != 0 and "column 1 is a value found again below it" in result.stderr


def test_ordinary_headers_and_year_columns_are_accepted(cli: Cli, tmp_path: Path) -> None:
    text = "area,2019,2020\nLeeds,1,2\nYork,3,4\narea,2019,2020\n"  # a second export pasted below the first
    result = cli("schema", "infer", write_csv(tmp_path / "wide.csv", text), "--json")
    assert result.exit_code == 0, result.stderr
    assert [f["name"] for f in result.json()["fields"]] == ["area", "c_2019", "c_2020"]


MESSY_PEOPLE = """person_id,name,nhs_number,postcode,date_of_birth,sex
1,ann lee,943 476 5919,sw1a 1aa,1980-03-12,F
2,Omar Khan,401 023 2137,LS1 4AP,1990-01-01,M"""


def test_export_table_schema_is_accepted_by_frictionless_and_round_trips(
    cli: Cli, tmp_path: Path, people_schema: Path
) -> None:
    import frictionless

    data = write_csv(tmp_path / "people.csv", MESSY_PEOPLE)
    assert cli("ingest", data, "--dataset", "people", "--schema", people_schema).exit_code == 0
    exported = cli("schema", "export", "--dataset", "people", "--table-schema", "--json")
    assert exported.exit_code == 0, exported.stderr
    descriptor = exported.json()
    assert frictionless.Schema.validate_descriptor(descriptor).valid
    target = tmp_path / "people.table.json"
    written = cli("schema", "export", "--dataset", "people", "--table-schema", "--out", target, "--json").json()
    assert frictionless.Schema.validate_descriptor(json.loads(target.read_text())).valid
    checked = cli("schema", "check", target, "--json")
    assert checked.exit_code == 0, checked.stderr
    native = cli("schema", "export", "--dataset", "people", "--json").json()
    assert checked.json() == native
    assert written["digest"] == Schema.from_dict(native).digest()
    # Ingest reads the exported form back with the stored schema's digest: a new version, no new schema version.
    again = cli("ingest", data, "--dataset", "people", "--schema", target, "--json")
    assert again.exit_code == 0, again.stderr
    assert again.json()["schema_version"] == 1


def test_export_converts_a_schema_file_without_an_estate(cli: Cli, tmp_path: Path, people_schema: Path) -> None:
    result = cli("schema", "export", people_schema, "--table-schema", estate_path=tmp_path / "no-estate-here")
    assert result.exit_code == 0, result.stderr
    assert "joinedup:type: nhs_number" in result.stdout and "type: nhs_number" not in result.stdout.replace(
        "joinedup:type: nhs_number", ""
    )


def test_export_of_a_dataset_needs_a_principal_who_may_read_it(cli: Cli, tmp_path: Path, people_schema: Path) -> None:
    data = write_csv(tmp_path / "people.csv", MESSY_PEOPLE)
    assert cli("ingest", data, "--dataset", "people", "--schema", people_schema).exit_code == 0
    assert cli("principal", "add", "alice", "--role", "analyst", "--dataset", "people").exit_code == 0
    assert cli("principal", "add", "bob", "--role", "analyst", "--dataset", "visits").exit_code == 0
    assert cli("schema", "export", "--dataset", "people", "--as", "alice").exit_code == 0
    refused = cli("schema", "export", "--dataset", "people", "--as", "bob")
    assert refused.exit_code == 3 and "may not read the schema of 'people'" in refused.stderr
    unknown = cli("schema", "export", "--dataset", "people", "--as", "mallory")
    assert unknown.exit_code == 3 and "not a registered principal" in unknown.stderr
    assert "unknown dataset 'nobody'" in cli("schema", "export", "--dataset", "nobody").stderr


def test_an_excel_sheet_without_a_header_row_is_refused(cli: Cli, tmp_path: Path) -> None:
    from datetime import date

    import openpyxl

    book = openpyxl.Workbook()
    book.active.append([1, "Sam", "Jackson", date(1980, 3, 12)])
    book.active.append([2, "Ann", "Lee", date(1981, 4, 1)])
    book.save(tmp_path / "people.xlsx")
    result = cli("schema", "infer", tmp_path / "people.xlsx")
    assert result.exit_code != 0 and "column 4 is a date" in result.stderr and "Sam" not in result.stderr


def test_a_persons_name_over_a_column_of_names_is_refused_but_a_title_is_not(cli: Cli, tmp_path: Path) -> None:
    people = ["Ann Lee", "Omar Khan", "Siobhan Kelly", "Dai Jones", "Bill Smith"]
    rows = "\n".join(f"{people[i % 5]},{i}" for i in range(10))
    refused = cli("schema", "infer", write_csv(tmp_path / "a.csv", "Sam Jackson,1\n" + rows))
    assert refused.exit_code != 0 and "column 1 is a person's name above more of them" in refused.stderr
    accepted = cli("schema", "infer", write_csv(tmp_path / "b.csv", "Full Name,Case Ref\n" + rows), "--json")
    assert accepted.exit_code == 0, accepted.stderr
    assert accepted.json()["fields"][0]["category"] == "name"


def test_a_header_naming_a_role_over_names_is_accepted_beside_other_headers(cli: Cli, tmp_path: Path) -> None:
    rows = "\n".join(f"{['Ann Lee', 'Omar Khan'][i % 2]},Mother" for i in range(10))
    result = cli("schema", "infer", write_csv(tmp_path / "c.csv", "Main Carer,Relationship\n" + rows))
    assert result.exit_code == 0, result.stderr


HEADERLESS_PEOPLE = [
    ["Jackson", "Samantha", "12A High Street", "Leeds"],
    ["Ward", "Jane", "4 Low Road", "York"],  # a surname that is also a header word
    ["Brown", "Bob", "7 Mill Lane", "Hull"],
    ["O'Neill", "Siobhan", "Flat 2, 19 Park Avenue", "Milton Keynes"],
]


def _assert_refused_quietly(result: CliResult, rows: list[list[str]]) -> None:
    assert result.exit_code != 0 and "row 1 looks like data, not a header" in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    for value in rows[0]:
        assert value not in result.stderr and value.lower() not in result.stderr


@pytest.mark.parametrize(
    "rows",
    [
        HEADERLESS_PEOPLE,
        [row[:2] for row in HEADERLESS_PEOPLE],  # surname and given name alone
        [row[:2] for row in HEADERLESS_PEOPLE[1:]],  # the first surname is a header word: Ward
        [[row[3], row[2]] for row in HEADERLESS_PEOPLE],  # town, then address
        [[row[2]] for row in HEADERLESS_PEOPLE],  # addresses alone
    ],
    ids=["names-addresses-towns", "names", "ward-first", "towns-addresses", "addresses"],
)
def test_a_headerless_file_of_names_addresses_and_towns_is_refused(
    cli: Cli, tmp_path: Path, rows: list[list[str]]
) -> None:
    text = "\n".join(",".join(f'"{cell}"' if "," in cell else cell for cell in row) for row in rows)
    out = tmp_path / "nh.yaml"
    result = cli("schema", "infer", write_csv(tmp_path / "nohdr.csv", text), "--out", out)
    _assert_refused_quietly(result, rows)
    assert not out.exists()


def test_a_headerless_excel_sheet_of_names_and_addresses_is_refused(cli: Cli, tmp_path: Path) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    for row in HEADERLESS_PEOPLE:
        book.active.append(row)
    book.save(tmp_path / "people.xlsx")
    _assert_refused_quietly(cli("schema", "infer", tmp_path / "people.xlsx"), HEADERLESS_PEOPLE)


@pytest.mark.parametrize(
    "header",
    [
        "Surname,Forename,Address,Town",
        "ID,Name,Postcode,Town",
        "surname,given_name,Street,Place",
        "Region,Area,Ward",
        "Ward,Councillor",
        "Provider,Scheme,Tenure,Landlord",
    ],
)
def test_real_headers_over_names_addresses_and_towns_still_infer(cli: Cli, tmp_path: Path, header: str) -> None:
    width = len(header.split(","))
    rows = [
        ["Jackson", "Samantha", "12A High Street", "Leeds"],
        ["Smith", "Jane", "4 Low Road", "York"],
        ["Brown", "Bob", "7 Mill Lane", "Hull"],
    ]
    if header.startswith("ID"):
        rows = [["1", "Sam Jackson", "LS1 4AP", "Leeds"], ["2", "Jane Smith", "YO1 7HH", "York"]]
    text = header + "\n" + "\n".join(",".join(row[:width]) for row in rows)
    result = cli("schema", "infer", write_csv(tmp_path / "people.csv", text), "--json")
    assert result.exit_code == 0, result.stderr
    assert len(result.json()["fields"]) == width
