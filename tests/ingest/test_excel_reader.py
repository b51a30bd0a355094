"""Workbooks as real systems write them: inline and empty strings, 1904 dates, error cells, empty sheets."""

from __future__ import annotations

from pathlib import Path

import pytest

from joinedup.errors import InputError
from joinedup.estate import Catalogue, Estate
from joinedup.ingest import ingest
from joinedup.ingest.quarantine import read_quarantine
from joinedup.schema import parse_schema
from joinedup.storage.query import referenced_datasets, run_query
from tests.ingest.workbooks import error, inline, number, row, shared, workbook

SCHEMA = parse_schema(
    "fields:\n- {name: id, type: integer}\n- {name: name, type: string}\n- {name: born, type: date}\n"
)


def load(estate: Estate, path: Path, **options):
    return ingest(estate, path, dataset="people", principal="tester", schema=SCHEMA, **options)


def stored(estate: Estate) -> list[tuple]:
    sql = "SELECT _source_row, id, name, born FROM people ORDER BY id"
    return [
        (r["_source_row"], r["id"], r["name"], str(r["born"]))
        for r in run_query(estate, sql, datasets=referenced_datasets(estate, sql)).records()
    ]


HEADER = row(1, inline("A1", "id"), shared("B1", 0), inline("C1", "born"))


def test_inline_strings_and_an_empty_shared_string_load(estate: Estate, tmp_path: Path) -> None:
    path = workbook(
        tmp_path / "p.xlsx",
        [
            HEADER,
            row(2, number("A2", 1), inline("B2", "Zoë"), number("C2", 29000, date=True)),
            row(3, number("A3", 2), shared("B3", 1)),
        ],
        strings=["name", ""],
    )
    result = load(estate, path)
    assert result.rows_loaded == 2
    assert stored(estate) == [(2, 1, "Zoë", "1979-05-25"), (3, 2, None, "None")]


def test_dates_in_a_1904_workbook_are_counted_from_1904(estate: Estate, tmp_path: Path) -> None:
    path = workbook(
        tmp_path / "mac.xlsx",
        [HEADER, row(2, number("A2", 1), inline("B2", "Sam"), number("C2", 29000, date=True))],
        strings=["name"],
        date1904=True,
    )
    load(estate, path)
    assert stored(estate) == [(2, 1, "Sam", "1983-05-26")]


def test_an_error_cell_quarantines_its_row_naming_the_cell(estate: Estate, tmp_path: Path) -> None:
    path = workbook(
        tmp_path / "p.xlsx",
        [HEADER, row(2, number("A2", 1), error("B2", "#N/A")), row(3, number("A3", 2), inline("B3", "Sam"))],
        strings=["name"],
    )
    result = load(estate, path)
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (2, 1, 1)
    [bad] = read_quarantine(estate, "people").rows
    assert bad["_source_row"] == 2
    assert bad["_errors"][0]["rule"] == "excel_error"
    assert bad["_errors"][0]["message"] == "column 'name' (cell B2) holds the Excel error #N/A"


def test_an_empty_sheet_is_one_line_naming_the_other_sheets(estate: Estate, tmp_path: Path) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    book.active.title = "Cover"
    book.create_sheet("Data").append(["id", "name", "born"])
    book.save(tmp_path / "p.xlsx")
    with pytest.raises(
        InputError,
        match=r"sheet 'Cover' is empty: expected a header row naming the columns; pass --sheet \(other sheets: Data\)",
    ):
        load(estate, tmp_path / "p.xlsx")
    assert Catalogue(estate).find("people") is None
    assert load(estate, tmp_path / "p.xlsx", sheet="Data").rows_read == 0
