"""Ingest: every row validated and standardised, the invalid ones quarantined with every reason."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from joinedup.errors import InputError, NotFoundError, SchemaError
from joinedup.estate import Catalogue, Estate
from joinedup.ingest import ingest
from joinedup.ingest.quarantine import read_quarantine
from joinedup.schema import load_schema, parse_schema
from joinedup.storage.query import referenced_datasets, run_query
from tests.conftest import write_csv
from tests.ingest.stats import assert_no_statistics_of, columns_with_statistics

GOOD = """
person_id,name,nhs_number,postcode,date_of_birth,sex
1,  SAM JACKSON ,943 476 5919,sw1a1aa,1980-02-29,F
2,Bill Smith,4010232137,E1 6AN,1975-08-09,M
"""


def load(estate: Estate, path: Path, schema: Path | None, dataset: str = "people"):
    return ingest(estate, path, dataset=dataset, principal="tester", schema=load_schema(schema) if schema else None)


def rows(estate: Estate, sql: str) -> list[dict]:
    return run_query(estate, sql, datasets=referenced_datasets(estate, sql)).records()


def test_valid_rows_are_standardised_and_stored_as_version_1(
    estate: Estate, tmp_path: Path, people_schema: Path
) -> None:
    result = load(estate, write_csv(tmp_path / "people.csv", GOOD), people_schema)
    assert (result.version, result.rows_read, result.rows_loaded, result.rows_quarantined) == (1, 2, 2, 0)
    stored = rows(estate, "SELECT * FROM people ORDER BY person_id")
    assert stored[0]["name"] == "Sam Jackson"
    assert stored[0]["nhs_number"] == "9434765919"
    assert stored[0]["postcode"] == "SW1A 1AA"
    assert str(stored[0]["date_of_birth"]) == "1980-02-29"
    assert stored[0]["_source_row"] == 2 and stored[1]["_source_row"] == 3
    assert stored[0]["_ingest"] == 1


def test_every_failing_rule_of_a_row_is_listed_with_row_column_rule_and_value(
    estate: Estate, tmp_path: Path, people_schema: Path
) -> None:
    text = GOOD + "3,,4010232138,SW1A 1AC,2023-02-30,Q\n4,Ann Lee,,,1990-01-01,F\n"
    result = load(estate, write_csv(tmp_path / "people.csv", text), people_schema)
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (4, 3, 1)
    assert result.rows_read == result.rows_loaded + result.rows_quarantined
    [bad] = read_quarantine(estate, "people").rows
    assert bad["_source_row"] == 4
    reasons = {(e["column"], e["rule"], e["value"]) for e in bad["_errors"]}
    assert reasons == {
        ("name", "required", None),
        ("nhs_number", "nhs_number", "4010232138"),
        ("date_of_birth", "date", "2023-02-30"),
        ("sex", "enum", "Q"),
        ("postcode", "postcode", "SW1A 1AC"),
    }
    assert bad["nhs_number"] == "4010232138"  # the original text is kept
    assert result.counts_by_rule == {"date": 1, "enum": 1, "nhs_number": 1, "postcode": 1, "required": 1}
    assert result.rule_counts["sex"] == {"enum": 1}


def test_later_duplicates_of_the_primary_key_name_the_row_they_duplicate(
    estate: Estate, tmp_path: Path, people_schema: Path
) -> None:
    text = GOOD + "1,Sam Jackson,9434765919,SW1A 1AA,1980-02-29,F\n2,Bill,,,,\n"
    result = load(estate, write_csv(tmp_path / "people.csv", text), people_schema)
    assert result.rows_loaded == 2 and result.rows_quarantined == 2
    quarantined = read_quarantine(estate, "people").rows
    assert [r["_source_row"] for r in quarantined] == [4, 5]
    assert quarantined[0]["_errors"][0]["rule"] == "primaryKey"
    assert quarantined[0]["_errors"][0]["message"] == "duplicates the primary key of row 2"
    assert quarantined[1]["_errors"][0]["message"] == "duplicates the primary key of row 3"


def test_a_ragged_row_is_quarantined_and_later_rows_keep_their_numbers(
    estate: Estate, tmp_path: Path, people_schema: Path
) -> None:
    text = (
        "person_id,name,nhs_number,postcode,date_of_birth,sex\n"
        '1,"Jackson,\nSam",9434765919,SW1A 1AA,1980-02-29,F\n'
        "2,Too,Many,Fields,Here,M,extra\n"
        "3,Short,row\n"
        "4,Ann Lee,4010232137,E1 6AN,1990-01-01,F\n"
    )
    result = load(estate, write_csv(tmp_path / "people.csv", text), people_schema)
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (4, 2, 2)
    assert [r["_source_row"] for r in rows(estate, "SELECT _source_row FROM people ORDER BY 1")] == [2, 5]
    quarantined = read_quarantine(estate, "people").rows
    assert [r["_source_row"] for r in quarantined] == [3, 4]
    assert quarantined[0]["_line"] == "2,Too,Many,Fields,Here,M,extra"
    assert "7 fields" in quarantined[0]["_errors"][0]["message"]
    assert result.rule_counts["(row)"] == {"columns": 2}


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252", "utf-16"])
def test_common_encodings_are_detected(estate: Estate, tmp_path: Path, people_schema: Path, encoding: str) -> None:
    text = GOOD + "3,Siobhán O’Brien,,,1970-05-05,F\n"
    result = load(estate, write_csv(tmp_path / "people.csv", text, encoding=encoding), people_schema)
    assert result.rows_loaded == 3, result.rule_counts
    assert result.encoding == encoding
    assert rows(estate, "SELECT name FROM people WHERE person_id = 3") == [{"name": "Siobhán O’Brien"}]


def test_a_windows_1252_file_is_read_whole_whether_its_first_odd_byte_is_in_the_header_or_a_late_row(
    estate: Estate, tmp_path: Path
) -> None:
    # UTF-8 files are staged while the encoding is checked; when the check finds
    # Windows-1252, the file is staged again from a transcoded copy, from scratch.
    schema = tmp_path / "s.yaml"
    schema.write_text("fields:\n- {name: id, type: integer}\n- {name: 'amount (£)', type: string}\n")
    header_odd = write_csv(tmp_path / "a.csv", "id,amount (£)\n1,ten\n2,twenty\n", encoding="cp1252")
    late_odd = write_csv(
        tmp_path / "b.csv",
        "id,amount (£)\n" + "".join(f"{i},x\n" for i in range(1, 5000)) + "5000,£5\n",
        encoding="cp1252",
    )
    first = load(estate, header_odd, schema, dataset="a")
    second = load(estate, late_odd, schema, dataset="b")
    assert (first.encoding, first.rows_read, first.rows_loaded) == ("cp1252", 2, 2)
    assert (second.encoding, second.rows_read, second.rows_loaded) == ("cp1252", 5000, 5000)
    assert rows(estate, 'SELECT "amount (£)" AS a FROM b WHERE id = 5000') == [{"a": "£5"}]
    assert not list(estate.tmp_dir.iterdir())


def test_excel_parquet_and_json_lines_load_like_csv(estate: Estate, tmp_path: Path, people_schema: Path) -> None:
    import openpyxl
    import pyarrow as pa

    records = [
        {
            "person_id": 1,
            "name": "Sam Jackson",
            "nhs_number": "943 476 5919",
            "postcode": "sw1a 1aa",
            "date_of_birth": "1980-02-29",
            "sex": "F",
        },
        {
            "person_id": 2,
            "name": "Bill Smith",
            "nhs_number": "4010232138",
            "postcode": "E1 6AN",
            "date_of_birth": "1975-08-09",
            "sex": "M",
        },
    ]
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(list(records[0]))
    for r in records:
        sheet.append(list(r.values()))
    book.save(tmp_path / "people.xlsx")
    pq.write_table(pa.Table.from_pylist(records), tmp_path / "people.parquet")
    (tmp_path / "people.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n{broken\n", encoding="utf-8")

    for number, name in enumerate(["people.xlsx", "people.parquet", "people.jsonl"], start=1):
        result = load(estate, tmp_path / name, people_schema)
        assert result.version == number
        assert result.rows_loaded == 1, (name, result.rule_counts)
        [bad, *rest] = read_quarantine(estate, "people").rows
        assert bad["_errors"][0]["column"] == "nhs_number"
        expected_row = {"people.xlsx": 3, "people.parquet": 2, "people.jsonl": 2}[name]
        assert bad["_source_row"] == expected_row
        if name == "people.jsonl":
            assert rest[0]["_source_row"] == 3 and rest[0]["_errors"][0]["rule"] == "json"
        assert rows(estate, "SELECT postcode FROM people") == [{"postcode": "SW1A 1AA"}]


def test_a_new_ingest_is_a_new_version_and_old_versions_are_kept(
    estate: Estate, tmp_path: Path, people_schema: Path
) -> None:
    load(estate, write_csv(tmp_path / "v1.csv", GOOD), people_schema)
    second = load(estate, write_csv(tmp_path / "v2.csv", GOOD + "3,New Person,,,2000-01-01,X\n"), None)
    assert second.version == 2
    info = Catalogue(estate).get("people")
    assert [v.rows_loaded for v in info.versions] == [2, 3]
    assert [v.source_name for v in info.versions] == ["v1.csv", "v2.csv"]
    assert info.versions[0].source_sha256 != info.versions[1].source_sha256
    assert rows(estate, "SELECT count(*) AS n FROM people") == [{"n": 3}]
    first = run_query(estate, "SELECT count(*) AS n FROM people", datasets={"people": 1})
    assert first.rows == [(2,)]


def test_missing_file_and_missing_column_change_nothing(estate: Estate, tmp_path: Path, people_schema: Path) -> None:
    with pytest.raises(InputError, match="file not found"):
        load(estate, tmp_path / "absent.csv", people_schema)
    lacking = write_csv(tmp_path / "lacking.csv", "person_id,name\n1,Sam\n")
    with pytest.raises(SchemaError, match="'nhs_number' is not a column of the file"):
        load(estate, lacking, people_schema)
    assert Catalogue(estate).find("people") is None
    assert not estate.table_path("people").exists()


def test_no_schema_for_a_new_dataset_is_a_clear_error(estate: Estate, tmp_path: Path) -> None:
    with pytest.raises(SchemaError, match="has no schema yet"):
        load(estate, write_csv(tmp_path / "p.csv", GOOD), None)


def test_a_byte_cp1252_leaves_undefined_quarantines_its_row(
    estate: Estate, tmp_path: Path, people_schema: Path
) -> None:
    path = tmp_path / "odd.csv"
    path.write_bytes(GOOD.strip().replace("\n", "\r\n").encode() + b"\r\n3,Bad \x81 byte,,,,\r\n")
    result = load(estate, path, people_schema)
    assert (result.encoding, result.rows_loaded, result.rows_quarantined) == ("cp1252", 2, 1)
    assert result.rule_counts == {"(row)": {"encoding": 1}}


def test_personal_columns_carry_no_statistics(estate: Estate, tmp_path: Path, people_schema: Path) -> None:
    load(estate, write_csv(tmp_path / "people.csv", GOOD + "3,,bad,,,\n"), people_schema)
    personal = {"name", "nhs_number", "postcode", "date_of_birth"}
    assert_no_statistics_of(estate.table_path("people"), personal)
    assert_no_statistics_of(estate.quarantine_path("people"), personal | {"_errors", "_line"})
    assert "person_id" in columns_with_statistics(estate.table_path("people"))


def test_quarantine_of_an_unknown_dataset_or_version(estate: Estate, tmp_path: Path, people_schema: Path) -> None:
    with pytest.raises(NotFoundError, match="unknown dataset 'nobody'"):
        read_quarantine(estate, "nobody")
    load(estate, write_csv(tmp_path / "people.csv", GOOD), people_schema)
    with pytest.raises(NotFoundError, match="no version 7"):
        read_quarantine(estate, "people", 7)
    assert read_quarantine(estate, "people").rows == []


def test_dates_in_a_declared_uk_format(estate: Estate, tmp_path: Path) -> None:
    schema = parse_schema("fields: [{name: seen, type: date, format: '%d/%m/%Y'}]")
    path = write_csv(tmp_path / "d.csv", "seen\n09/08/2017\n2017-08-09\n31/02/2017\n")
    result = ingest(estate, path, dataset="dates", principal="tester", schema=schema)
    assert result.rows_loaded == 1 and result.rows_quarantined == 2
    assert [str(r["seen"]) for r in rows(estate, "SELECT seen FROM dates")] == ["2017-08-09"]


def test_numbers_booleans_and_bounds(estate: Estate, tmp_path: Path) -> None:
    schema = parse_schema(
        """
fields:
  - {name: amount, type: number, groupChar: ",", bareNumber: false, constraints: {minimum: 0}}
  - {name: count, type: integer}
  - {name: active, type: boolean}
"""
    )
    path = write_csv(tmp_path / "n.csv", 'amount,count,active\n"£1,234.50",3,yes\n-5,1.5,maybe\n')
    result = ingest(estate, path, dataset="numbers", principal="tester", schema=schema)
    assert result.rows_loaded == 1
    assert rows(estate, "SELECT amount, count, active FROM numbers") == [{"amount": 1234.5, "count": 3, "active": True}]
    assert result.rule_counts == {"active": {"boolean": 1}, "amount": {"minimum": 1}, "count": {"integer": 1}}


@pytest.mark.parametrize("ragged", [3, 1200])
def test_row_numbers_stay_right_around_many_ragged_rows(estate: Estate, tmp_path: Path, ragged: int) -> None:
    schema = parse_schema("fields: [{name: n, type: integer}, {name: row, type: integer}]")
    lines, bad = ["n,row"], []
    for i in range(4000):
        row = i + 2
        if i % (4000 // ragged) == 1 and len(bad) < ragged:
            lines.append(f"{i},{row},extra")
            bad.append(row)
        else:
            lines.append(f"{i},{row}")
    result = ingest(
        estate, write_csv(tmp_path / "r.csv", "\n".join(lines)), dataset="rows", principal="tester", schema=schema
    )
    assert result.rows_quarantined == ragged
    mismatched = rows(estate, "SELECT count(*) AS n FROM rows WHERE _source_row <> row")
    assert mismatched == [{"n": 0}]
    assert [r["_source_row"] for r in read_quarantine(estate, "rows").rows] == bad


def test_row_numbers_stay_right_after_runs_of_ragged_lines(estate: Estate, tmp_path: Path) -> None:
    """Past a thousand set-aside lines the numbering is an as-of join: lines set aside one after another tie."""
    schema = parse_schema("fields: [{name: n, type: integer}, {name: row, type: integer}]")
    lines, bad = ["n,row"], []
    for i in range(3000):
        row = i + 2
        if i < 1100 or 2000 <= i < 2003 or i == 2500:  # a long run at the top, a short one, a single line
            lines.append(f"{i},{row},extra")
            bad.append(row)
        else:
            lines.append(f"{i},{row}" if i != 1500 else f"x,{row}")  # one row fails its type instead
    result = ingest(
        estate, write_csv(tmp_path / "r.csv", "\n".join(lines)), dataset="rows", principal="tester", schema=schema
    )
    assert result.rows_quarantined == len(bad) + 1
    assert rows(estate, "SELECT count(*) AS n FROM rows WHERE _source_row <> row") == [{"n": 0}]
    assert rows(estate, "SELECT min(_source_row) AS first FROM rows") == [{"first": 1102}]
    quarantined = read_quarantine(estate, "rows").rows
    assert [r["_source_row"] for r in quarantined] == sorted([*bad, 1502])
    assert [r["row"] for r in quarantined if r["_source_row"] == 1502] == ["1502"]


def test_a_schema_with_no_rules_loads_every_row(estate: Estate, tmp_path: Path) -> None:
    # Inference often proposes only unconstrained text columns; such a schema once broke the query.
    schema = tmp_path / "plain.json"
    schema.write_text(json.dumps({"fields": [{"name": n, "type": "string"} for n in ("a", "b", "c")]}))
    result = load(estate, write_csv(tmp_path / "simple.csv", "a,b,c\n1,2,3\n,x,\n"), schema, dataset="simple")
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (2, 2, 0)
    assert [r["b"] for r in rows(estate, "SELECT b FROM simple ORDER BY _source_row")] == ["2", "x"]
