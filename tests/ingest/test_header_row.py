"""A header below a title, notes or blank rows: found by `schema infer`, set by --header-row, counted in lineage."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

from joinedup.errors import InputError, SchemaError
from joinedup.estate import Catalogue, Estate
from joinedup.ingest import ingest
from joinedup.ingest.header_row import find_header_row
from joinedup.ingest.inference import infer_file_schema
from joinedup.ingest.quarantine import read_quarantine
from joinedup.schema import parse_schema
from joinedup.storage.query import referenced_datasets, run_query
from tests.conftest import write_csv

REPORT = """
Residents report,,
"Produced by the council, March 2026",,

person_id,name,postcode
1,Sam Jackson,SW1A 1AA
2,Bill Smith,E1 6AN
3,Ann Lee,E1 6AN,extra
4,Dai Jones,CF10 1AA
"""


def source_rows(estate: Estate, dataset: str) -> list[int]:
    sql = f"SELECT _source_row FROM {dataset} ORDER BY 1"
    return [r["_source_row"] for r in run_query(estate, sql, datasets=referenced_datasets(estate, sql)).records()]


@pytest.mark.parametrize(
    "rows, expected",
    [
        ([["id", "name"], ["1", "Sam"]], 1),
        ([["Report"], [], ["id", "name"], ["1", "Sam"]], 3),
        ([["Report", None, None], ["Notes: draft"], ["id", "name", "dob"], ["1", "Sam", None]], 3),
        ([["id", None, "dob"], ["1", "Sam", "2000"]], None),  # a blank name: no telling
        ([["2024", "2025"], ["1", "2"]], None),  # numbers are not names
        ([["id", "name"]], None),  # nothing under it
        ([["name", "2019"], ["Sam", "yes"]], None),  # never a data row taken for the header
    ],
)
def test_the_header_is_the_first_full_width_row_of_names(rows: list[list[str | None]], expected: int | None) -> None:
    assert find_header_row(rows) == expected


WORDS = st.text(st.characters(categories=["L"]), min_size=1, max_size=8)


@st.composite
def exports(draw: st.DrawFn) -> tuple[list[list[str | None]], int]:
    """A table of ``width`` columns under titles, notes and blank rows that fill fewer cells."""
    width = draw(st.integers(2, 6))
    above = draw(
        st.lists(
            st.lists(st.one_of(st.none(), WORDS), max_size=width).filter(lambda r: sum(1 for c in r if c) < width),
            max_size=4,
        )
    )
    header = draw(st.lists(WORDS, min_size=width, max_size=width))
    data = draw(
        st.lists(st.lists(st.integers(0, 999).map(str), min_size=width, max_size=width), min_size=1, max_size=5)
    )
    return [*above, header, *data], len(above) + 1


@given(exports())
def test_the_header_is_found_below_any_narrower_rows(export: tuple[list[list[str | None]], int]) -> None:
    rows, header = export
    assert find_header_row(rows) == header


def test_schema_infer_finds_the_header_and_ingest_counts_the_rows_above_it(estate: Estate, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "report.csv", REPORT)
    schema = infer_file_schema(path)
    assert schema.names == ["person_id", "name", "postcode"]
    assert schema.to_dict()["headerRow"] == 4
    result = ingest(estate, path, dataset="residents", principal="tester", schema=schema)
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (4, 3, 1)
    assert result.rows_above_header == 3
    # Row numbers are the file's own: the header is line 4, the first data row line 5.
    assert source_rows(estate, "residents") == [5, 6, 8]
    assert [r["_source_row"] for r in read_quarantine(estate, "residents").rows] == [7]
    version = Catalogue(estate).get("residents").current
    assert version.rows_above_header == 3  # kept in the catalogue's lineage, not only in the summary


QUOTED_BREAKS = (
    '"Residents report\nsecond line of the title",,\n'
    '"Notes: draft\nnot for circulation",,\n'
    '"person\nid",name,postcode\n'
    "1,Sam Jackson,SW1A 1AA\n"
    "2,Bill Smith,E1 6AN\n"
    "3,Ann Lee,not a postcode\n"
)


@pytest.mark.parametrize("line_end", ["\n", "\r\n"])
def test_the_header_row_counts_records_when_quoted_line_breaks_sit_above_and_in_it(
    estate: Estate, tmp_path: Path, line_end: str
) -> None:
    path = tmp_path / "quoted.csv"
    path.write_bytes(QUOTED_BREAKS.replace("\n", line_end).encode())
    schema = infer_file_schema(path)
    # Row 3 is the third CSV record (the fifth physical line): a quoted line break starts no row.
    assert schema.header_row == 3
    fields = 'fields:\n- {name: person_id, title: "person\\nid", type: integer}\n- {name: postcode, type: postcode}\n'
    result = ingest(estate, path, dataset="r", principal="tester", schema=parse_schema(fields + "headerRow: 3\n"))
    # Sam's row is neither dropped nor taken for the header: rows read = loaded + quarantined.
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined, result.rows_above_header) == (3, 2, 1, 2)
    assert source_rows(estate, "r") == [4, 5]
    assert [r["_source_row"] for r in read_quarantine(estate, "r").rows] == [6]


def test_header_row_option_overrides_the_schema(estate: Estate, tmp_path: Path) -> None:
    schema = parse_schema("fields:\n- {name: person_id, type: integer}\n- {name: name, type: string}\nheaderRow: 2\n")
    path = write_csv(tmp_path / "r.csv", REPORT)
    with pytest.raises(InputError, match=r"row 2: column 2 has no name in the header"):
        ingest(estate, path, dataset="r", principal="tester", schema=schema)
    result = ingest(estate, path, dataset="r", principal="tester", schema=schema, header_row=4)
    assert (result.rows_loaded, result.rows_above_header) == (3, 3)


def test_a_title_above_the_header_without_a_header_row_says_how_to_fix_it(estate: Estate, tmp_path: Path) -> None:
    schema = parse_schema("fields:\n- {name: person_id, type: integer}\n")
    path = write_csv(tmp_path / "r.csv", REPORT)
    with pytest.raises(
        InputError, match=r"row 1: column 2 has no name in the header; if the header is lower down, pass --header-row N"
    ):
        ingest(estate, path, dataset="r", principal="tester", schema=schema)


def test_an_excel_header_below_a_title_is_found_and_loaded(estate: Estate, tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet["B1"] = "Quarterly return"  # a title not in the first column
    sheet.append([])
    sheet.append(["person_id", "name"])
    sheet.append([1, "Sam"])
    sheet.append([2, "Bill"])
    book.save(tmp_path / "r.xlsx")
    schema = infer_file_schema(tmp_path / "r.xlsx")
    assert schema.header_row == 3
    result = ingest(estate, tmp_path / "r.xlsx", dataset="r", principal="tester", schema=schema)
    assert (result.rows_loaded, result.rows_above_header) == (2, 2)
    assert source_rows(estate, "r") == [4, 5]
    with pytest.raises(
        InputError, match=r"row 2 of sheet 'Sheet' is empty: expected the header row naming the columns"
    ):
        ingest(estate, tmp_path / "r.xlsx", dataset="r", principal="tester", schema=schema, header_row=2)


def test_header_row_is_omitted_from_the_schema_when_it_is_1_and_checked_when_given() -> None:
    assert "headerRow" not in parse_schema("fields:\n- {name: a}\n").to_dict()
    assert parse_schema("fields:\n- {name: a}\nheaderRow: 3\n").header_row == 3
    with pytest.raises(SchemaError, match=r"headerRow: expected a row number \(1 or more\), not 0"):
        parse_schema("fields:\n- {name: a}\nheaderRow: 0\n")


def test_a_header_row_for_a_parquet_file_is_refused(estate: Estate, tmp_path: Path) -> None:
    pq.write_table(pa.table({"a": [1]}), tmp_path / "a.parquet")
    schema = parse_schema("fields:\n- {name: a, type: integer}\n")
    with pytest.raises(InputError, match="a parquet file has no header row"):
        ingest(estate, tmp_path / "a.parquet", dataset="a", principal="tester", schema=schema, header_row=2)


def test_the_cli_takes_header_row_for_infer_and_ingest(cli, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "r.csv", REPORT)
    schema = tmp_path / "s.yaml"
    inferred = cli("schema", "infer", path, "--header-row", "4", "--out", schema)
    assert inferred.exit_code == 0, inferred.stderr
    assert "headerRow: 4" in schema.read_text()
    loaded = cli("ingest", path, "--dataset", "residents", "--schema", schema, "--header-row", "4", "--json")
    assert loaded.exit_code == 0, loaded.stderr
    assert loaded.json()["rows_above_header"] == 3


def test_a_data_row_taken_for_the_header_is_counted_not_echoed(estate: Estate, tmp_path: Path) -> None:
    schema = parse_schema("fields:\n- {name: id, type: integer}\n- {name: name, type: string}\n")
    path = write_csv(tmp_path / "nohead.csv", "3,Al,M1 1AE\n4,Bo,M1 1AE\n")
    with pytest.raises(SchemaError) as raised:
        ingest(estate, path, dataset="r", principal="tester", schema=schema)
    message = str(raised.value)
    assert "row 1, taken as the header, has 3 columns and looks like data" in message
    assert "--header-row" in message and "\n" not in message
    assert "Al" not in message and "M1 1AE" not in message
    # Two equal values in such a row are not echoed either.
    path = write_csv(tmp_path / "twins.csv", "5,Sam,Sam\n6,Jo,Jo\n")
    with pytest.raises(InputError, match=r"row 1: columns 2 and 3 of the header have the same value") as raised:
        ingest(estate, path, dataset="r", principal="tester", schema=schema)
    assert "Sam" not in str(raised.value)
    # A header of names is still listed, to show what did not match.
    path = write_csv(tmp_path / "names.csv", "person,surname\n1,Al\n")
    with pytest.raises(SchemaError, match=r"\(columns: person, surname\)"):
        ingest(estate, path, dataset="r", principal="tester", schema=schema)
    assert Catalogue(estate).find("r") is None  # the estate is unchanged
