"""Writing generated rows as the files legacy systems export: CSV, JSON Lines, Excel, Parquet.

Every writer streams: rows go to disk as they are generated, so the size of a
file is bounded by the disk, not memory. Each returns the :class:`GroundTruth`
of the file it wrote, numbered the way joinedup's reader for that format
numbers rows. Missing values are empty cells in CSV and nulls elsewhere.
"""

from __future__ import annotations

import contextlib
import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import pyarrow as pa
import pyarrow.parquet as pq

from joinedup.synthetic.records import GroundTruth, Record, SyntheticRows

CsvEncoding = Literal["utf-8", "utf-8-sig", "cp1252"]
_PARQUET_BATCH = 65_536


def write_csv(path: Path, rows: SyntheticRows, encoding: CsvEncoding = "utf-8") -> GroundTruth:
    """RFC 4180 CSV: a header row, CRLF line ends, fields quoted only when they need it.

    ``utf-8-sig`` writes a byte order mark, as Excel does. ``cp1252`` fails
    loudly on a character Windows-1252 lacks rather than writing a ``?``.
    """
    truth = GroundTruth(rows.columns, first_row=2)
    with _removed_on_error(path), open(path, "w", encoding=encoding, errors="strict", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow(rows.columns)
        for record in rows:
            writer.writerow(record.values)
            truth.add(record)
    return truth


def write_jsonl(path: Path, rows: SyntheticRows) -> GroundTruth:
    """One JSON object per line (UTF-8); every value a string or null, as a text export holds them."""
    truth = GroundTruth(rows.columns, first_row=1)
    with _removed_on_error(path), open(path, "w", encoding="utf-8", newline="") as handle:
        for record in _whole(rows):
            handle.write(json.dumps(dict(zip(rows.columns, _nullable(record), strict=True)), ensure_ascii=False))
            handle.write("\n")
            truth.add(record)
    return truth


def write_xlsx(path: Path, rows: SyntheticRows, sheet: str = "Sheet1") -> GroundTruth:
    """An Excel workbook written row by row (openpyxl's write-only mode), every cell text."""
    from openpyxl import Workbook

    truth = GroundTruth(rows.columns, first_row=2)
    book = Workbook(write_only=True)
    worksheet = book.create_sheet(sheet)
    with _removed_on_error(path):
        try:
            worksheet.append(list(rows.columns))
            for record in _whole(rows):
                worksheet.append(_nullable(record))
                truth.add(record)
        except BaseException:
            worksheet.close()  # finish openpyxl's streaming writer, or it complains when collected
            raise
        book.save(path)
    return truth


def write_parquet(path: Path, rows: SyntheticRows) -> GroundTruth:
    """A Parquet file of string columns, written in row groups as the rows come."""
    truth = GroundTruth(rows.columns, first_row=1)
    schema = pa.schema([(name, pa.string()) for name in rows.columns])
    with _removed_on_error(path), pq.ParquetWriter(path, schema) as writer:
        batch: list[list[str | None]] = []
        for record in _whole(rows):
            batch.append(_nullable(record))
            truth.add(record)
            if len(batch) == _PARQUET_BATCH:
                writer.write_batch(_batch(batch, schema))
                batch = []
        if batch or truth.rows == 0:
            writer.write_batch(_batch(batch, schema))
    return truth


@contextlib.contextmanager
def _removed_on_error(path: Path) -> Iterator[None]:
    """A write that fails leaves no half-written file to be mistaken for a whole one."""
    try:
        yield
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def _whole(rows: SyntheticRows) -> Iterator[Record]:
    for record in rows:
        if record.ragged:
            raise ValueError(
                f"record {record.index} is a ragged row, which only CSV can hold; generate with ragged_rows=0"
            )
        yield record


def _nullable(record: Record) -> list[str | None]:
    return [value if value != "" else None for value in record.values]


def _batch(rows: list[list[str | None]], schema: pa.Schema) -> pa.RecordBatch:
    columns = [pa.array([row[i] for row in rows], pa.string()) for i in range(len(schema))]
    return pa.RecordBatch.from_arrays(columns, schema=schema)
