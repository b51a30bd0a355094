"""A CSV is staged in Arrow when it fits in memory and in a table on disk when not: the rows are the same either way."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from joinedup.ingest import csv_reader
from joinedup.ingest.csv_reader import open_csv
from joinedup.ingest.pipeline import _staging_database
from joinedup.ingest.source import row_numbers
from joinedup.storage.duck import connect


def _file_with_ragged_rows(path: Path, rows: int, every: int) -> Path:
    """Rows numbered in their text; every ``every``-th has a column too many (DuckDB sets it aside)."""
    lines = ["id,name,town"]
    for i in range(1, rows + 1):
        lines.append(f"{i},Person {i},Town,extra" if i % every == 0 else f"{i},Person {i},Town {i % 7}")
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    return path


def _rows(con: duckdb.DuckDBPyConnection, relation: str) -> list[tuple[object, ...]]:
    return con.execute(f"SELECT _source_row, c0, c1, c2 FROM {relation} ORDER BY _source_row").fetchall()


@pytest.mark.parametrize("every", [997, 3])  # a few ragged rows (numbered inline) and very many (an as-of join)
def test_rows_and_their_numbers_are_the_same_in_memory_and_on_disk(tmp_path: Path, every: int) -> None:
    path = _file_with_ragged_rows(tmp_path / "people.csv", 5_000, every)
    with connect(temp_dir=tmp_path / "spill") as memory:
        staged = open_csv(memory, path, tmp_path, None, ",", None, False)
        in_memory = _rows(memory, staged.relation)
        # Staged in Arrow: no table was made (the disk path stages in jd_csv).
        assert not memory.execute("SELECT * FROM information_schema.tables WHERE table_name = 'jd_csv'").fetchall()
    with connect(temp_dir=tmp_path / "spill", database=tmp_path / "stage.duckdb") as disk:
        staged_on_disk = open_csv(disk, path, tmp_path, None, ",", None, False)
        on_disk = _rows(disk, staged_on_disk.relation)
        assert disk.execute("SELECT * FROM information_schema.tables WHERE table_name = 'jd_csv'").fetchall()
    assert in_memory == on_disk
    assert len(in_memory) == 5_000 - 5_000 // every
    # Row k of the file (the header is row 1) holds the person numbered k - 1.
    assert all(int(person) == number - 1 for number, person, *_ in in_memory)
    assert [r.source_row - 1 for r in staged.rejects] == list(range(every, 5_001, every))


@pytest.mark.parametrize("every", [997, 3])
def test_the_rows_not_marked_are_picked_as_the_relation_holds_them(tmp_path: Path, every: int) -> None:
    """The rejected pass picks the rows the valid pass did not mark out of the staged Arrow table by number."""
    path = _file_with_ragged_rows(tmp_path / "people.csv", 5_000, every)
    with connect(temp_dir=tmp_path / "spill") as con:
        staged = open_csv(con, path, tmp_path, None, ",", None, False)
        assert staged.picks is not None  # staged in Arrow: rows are taken from it
        everything = _rows(con, staged.relation)
        numbers = [n for n, *_ in everything]
        # Every row marked but every 37th and the last.
        marked = np.zeros(numbers[-1] + 1, dtype=bool)
        marked[[n for i, n in enumerate(numbers[:-1]) if i % 37]] = True
        left = {n for i, n in enumerate(numbers) if i % 37 == 0 or i == len(numbers) - 1}
        picked = _rows(con, staged.other_rows(con, marked))
        assert picked == [row for row in everything if row[0] in left]
        assert _rows(con, staged.other_rows(con, np.ones(numbers[-1] + 1, dtype=bool))) == []
        assert _rows(con, staged.other_rows(con, np.zeros(numbers[-1] + 1, dtype=bool))) == everything
    with connect(temp_dir=tmp_path / "spill", database=tmp_path / "stage.duckdb") as disk:
        on_disk = open_csv(disk, path, tmp_path, None, ",", None, False)
        assert on_disk.picks is None  # staged in a table: the relation is filtered instead
        assert _rows(disk, on_disk.other_rows(disk, marked)) == picked
        assert _rows(disk, on_disk.other_rows(disk, np.zeros(numbers[-1] + 1, dtype=bool))) == everything


def test_a_connection_can_stage_one_way_then_the_other(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A transcoded copy can be bigger than the file: the second staging may have to go to a table."""
    first = _file_with_ragged_rows(tmp_path / "first.csv", 300, 101)
    second = _file_with_ragged_rows(tmp_path / "second.csv", 200, 51)
    with connect(temp_dir=tmp_path / "spill") as con:
        expected_first = _rows(con, open_csv(con, first, tmp_path, None, ",", None, False).relation)
        monkeypatch.setattr(csv_reader, "_fits_in_memory", lambda con, readable, delimiter: False)  # as if too big
        staged = open_csv(con, second, tmp_path, None, ",", None, False)
        assert con.execute("SELECT count(*) FROM jd_csv").fetchall() == [(197,)]
        assert len(_rows(con, staged.relation)) == 197
        monkeypatch.undo()  # and back to Arrow: the view over jd_csv gives way
        assert _rows(con, open_csv(con, first, tmp_path, None, ",", None, False).relation) == expected_first


def _file_of_empty_cells(path: Path, rows: int) -> Path:
    header = "id," + ",".join(f"x{i}" for i in range(40))
    path.write_text(header + "\r\n" + "".join(f"{i}{',' * 40}\r\n" for i in range(1, rows + 1)), encoding="utf-8")
    return path


def test_a_file_of_empty_cells_is_staged_in_a_table_when_its_arrow_copy_would_not_fit(tmp_path: Path) -> None:
    """Arrow keeps an 8-byte offset for every cell, and DuckDB's memory limit does not count it.

    A cell left empty is one byte of the file (its comma) and eight in Arrow: a file of
    them within a quarter of the limit by its size takes well over a quarter in Arrow,
    outside the limit. DuckDB's own table holds it within the limit.
    """
    path = _file_of_empty_cells(tmp_path / "wide.csv", 40_000)
    limit = path.stat().st_size * 20
    with connect(memory_limit=f"{limit}B", temp_dir=tmp_path / "spill") as con:
        staged = open_csv(con, path, tmp_path, None, ",", None, False)
        assert con.execute("SELECT * FROM information_schema.tables WHERE table_name = 'jd_csv'").fetchall()
        assert con.execute(f"SELECT count(*), max(_source_row) FROM {staged.relation}").fetchall() == [(40_000, 40_001)]


def test_ingest_stages_a_file_of_empty_cells_on_disk_when_it_would_not_fit_in_memory(tmp_path: Path) -> None:
    """In an in-memory database DuckDB cannot move a staged table out of memory: such a file needs the disk."""
    reading = {"fmt": None, "delimiter": ","}
    wide = _file_of_empty_cells(tmp_path / "wide.csv", 40_000)
    narrow = _file_with_ragged_rows(tmp_path / "narrow.csv", 20_000, 997)
    # Each file is within a quarter of its limit by its size; only the narrow one is by its cells.
    assert _staging_database(wide, f"{wide.stat().st_size * 12}B", tmp_path, reading) is not None
    assert _staging_database(narrow, f"{narrow.stat().st_size * 12}B", tmp_path, reading) is None


def test_a_file_staged_in_arrow_takes_at_most_a_quarter_of_the_memory_limit(tmp_path: Path) -> None:
    """An ordinary file still goes to Arrow: the estimate is not so careful as to send everything to a table."""
    path = _file_with_ragged_rows(tmp_path / "people.csv", 20_000, 997)
    limit = 16 << 20
    with connect(memory_limit=f"{limit}B", temp_dir=tmp_path / "spill") as con:
        open_csv(con, path, tmp_path, None, ",", None, False)
        assert not con.execute("SELECT * FROM information_schema.tables WHERE table_name = 'jd_csv'").fetchall()
        [(rows,)] = con.execute("SELECT count(*) FROM jd_rows").fetchall()
        assert rows == 20_000 - 20_000 // 997


def test_row_numbers_come_from_the_arrow_buffers_as_they_are() -> None:
    numbers = pa.array(range(10), pa.int64())
    assert row_numbers([numbers.slice(3, 4), numbers.slice(0, 0), numbers.slice(8)]).tolist() == [3, 4, 5, 6, 8, 9]
    assert row_numbers([]).tolist() == []
    with pytest.raises(TypeError, match="int64 without nulls, not int32"):
        row_numbers([pa.array([1], pa.int32())])
    with pytest.raises(TypeError, match="with 1 nulls"):
        row_numbers([pa.array([1, None], pa.int64())])
