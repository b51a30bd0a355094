"""Writers: the files round-trip, in every encoding, with ground truth numbered as joinedup's readers number rows."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from joinedup.synthetic import (
    generate_businesses,
    generate_people,
    write_csv,
    write_jsonl,
    write_parquet,
    write_xlsx,
)


def _cells(values: tuple[str, ...]) -> list[str | None]:
    return [v if v != "" else None for v in values]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252"])
def test_csv_round_trips_in_each_encoding(tmp_path: Path, encoding: str) -> None:
    rows = generate_people(2_000, seed=1, non_ascii=True, ragged_rows=3, address=True)
    path = tmp_path / "people.csv"
    truth = write_csv(path, rows, encoding=encoding)
    with open(path, encoding=encoding, newline="") as handle:
        read = list(csv.reader(handle, strict=True))
    assert read[0] == list(rows.columns)
    assert [tuple(r) for r in read[1:]] == [r.values for r in rows]
    assert truth.rows == 2_000 and truth.first_row == 2
    assert sorted(truth.errors) == sorted(r.index + 2 for r in rows if r.errors)


def test_csv_is_rfc_4180_with_crlf_and_a_bom_only_when_asked(tmp_path: Path) -> None:
    rows = generate_people(500, seed=2, address=True)
    plain = tmp_path / "plain.csv"
    write_csv(plain, rows)
    data = plain.read_bytes()
    assert not data.startswith(b"\xef\xbb\xbf")
    assert data.count(b"\r\n") == 501 and data.count(b"\n") == 501
    assert b'"Flat ' in data  # a value holding a comma is quoted
    bom = tmp_path / "bom.csv"
    write_csv(bom, rows, encoding="utf-8-sig")
    assert bom.read_bytes() == b"\xef\xbb\xbf" + data


def test_cp1252_output_really_is_windows_1252(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    write_csv(path, generate_people(5_000, seed=1, non_ascii=True), encoding="cp1252")
    data = path.read_bytes()
    assert b"\x92" in data  # the curly apostrophe of O’Brien in Windows-1252
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")


def test_jsonl_round_trips_with_nulls_for_missing_values(tmp_path: Path) -> None:
    rows = generate_people(1_000, seed=3, non_ascii=True)
    path = tmp_path / "people.jsonl"
    truth = write_jsonl(path, rows)
    lines = path.read_text(encoding="utf-8").splitlines()
    objects = [json.loads(line) for line in lines]
    assert [list(o) for o in objects[:1]] == [list(rows.columns)]
    assert [list(o.values()) for o in objects] == [_cells(r.values) for r in rows]
    # JSON Lines rows are line numbers: the first record is row 1.
    assert truth.first_row == 1 and sorted(truth.errors) == sorted(r.index + 1 for r in rows if r.errors)


def test_parquet_round_trips_as_string_columns(tmp_path: Path) -> None:
    rows = generate_businesses(70_000, seed=3)
    path = tmp_path / "businesses.parquet"
    truth = write_parquet(path, rows)
    table = pq.read_table(path)
    assert table.column_names == list(rows.columns)
    assert all(str(t) == "string" for t in table.schema.types)
    assert table.num_rows == 70_000
    got = list(zip(*(table.column(c).to_pylist() for c in rows.columns), strict=True))
    assert got == [tuple(_cells(r.values)) for r in rows]
    assert truth.first_row == 1


def test_xlsx_round_trips(tmp_path: Path) -> None:
    from openpyxl import load_workbook

    rows = generate_people(300, seed=4, non_ascii=True)
    path = tmp_path / "people.xlsx"
    truth = write_xlsx(path, rows)
    sheet = load_workbook(path, read_only=True).active
    read = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert read[0] == list(rows.columns)
    assert read[1:] == [_cells(r.values) for r in rows]
    assert truth.first_row == 2


@pytest.mark.parametrize("writer", [write_jsonl, write_parquet, write_xlsx])
def test_only_csv_can_hold_ragged_rows_and_a_failed_write_leaves_no_file(tmp_path: Path, writer) -> None:
    path = tmp_path / "out"
    with pytest.raises(ValueError, match="ragged"):
        writer(path, generate_people(100, seed=1, ragged_rows=2))
    assert not path.exists()


def test_a_name_windows_1252_cannot_hold_fails_the_cp1252_write(tmp_path: Path) -> None:
    from joinedup.synthetic import SyntheticRows
    from joinedup.synthetic.records import Record

    rows = SyntheticRows("names", ("name",), 1, lambda: iter([Record(0, ("Łukasz",))]))
    path = tmp_path / "names.csv"
    with pytest.raises(UnicodeEncodeError):
        write_csv(path, rows, encoding="cp1252")
    assert not path.exists()


def test_ground_truth_summarises_and_writes_json(tmp_path: Path) -> None:
    truth = write_csv(tmp_path / "p.csv", generate_people(5_000, seed=5, ragged_rows=2))
    data = json.loads(truth.write_json(tmp_path / "truth.json").read_text(encoding="utf-8"))
    assert data["rows"] == 5_000
    assert data["rows_with_errors"] == len(truth.bad_rows)
    assert sum(data["counts_by_rule"].values()) == len(data["errors"])
    assert data["rule_counts"]["(row)"] == {"columns": 2}
    assert sum(sum(r.values()) for r in data["rule_counts"].values()) == len(data["errors"])
