"""Writing a drawn table as a file in each format, and what its reader should see.

:class:`Written` records, for every row the file holds, the row number ingest
should give it and the text of each cell as the reader will see it (``UNKNOWN``
where a typed cell's text is the reader's business, e.g. a Parquet double), and
which rows should be quarantined whole (ragged CSV or Excel rows, bad JSON lines).
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import strategies as st

from tests.fuzz.schemas import field_values

#: A cell whose text the test does not predict.
UNKNOWN = object()
Cell = Any  # str | None | UNKNOWN
ENCODINGS = ("utf-8", "utf-8-sig", "utf-16", "cp1252")
DELIMITERS = (",", ";", "\t", "|")
#: Characters the xlsx format cannot hold (openpyxl refuses them).
_NOT_IN_XLSX = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_CANONICAL_INT = re.compile(r"0|-?[1-9][0-9]{0,14}")


@dataclass
class Table:
    headers: list[str]
    #: Cells per row; a ragged row has more or fewer cells than there are headers.
    rows: list[list[str | None]]


@dataclass
class Written:
    path: Path
    format: str
    headers: list[str]
    #: Source row number -> {header: text as read}.
    rows: dict[int, dict[str, Cell]] = field(default_factory=dict)
    #: Source rows that go to quarantine whole.
    rejects: set[int] = field(default_factory=set)
    #: Keyword arguments for ingest / inference (encoding, delimiter, sheet, fmt).
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def row_count(self) -> int:
        return len(self.rows) + len(self.rejects)


@st.composite
def tables(draw: st.DrawFn, schema_doc: dict[str, Any], *, case_twins: bool = True) -> Table:
    """Columns for the schema's fields (by name, title or a variant; sometimes one missing), extra columns, rows."""
    columns: list[tuple[str, st.SearchStrategy[str]]] = []
    for doc in schema_doc["fields"]:
        if draw(st.integers(0, 15)) == 0:
            continue  # a field with no column: ingest must refuse the file in one line
        header = doc["name"]
        if draw(st.integers(0, 6)) == 0:
            header = draw(st.sampled_from([doc.get("title") or header, header.upper(), header.replace("_", " ")]))
        columns.append((header, field_values(doc)))
    extra = st.text(max_size=8).filter(lambda t: "\x00" not in t)
    for i in range(draw(st.integers(0, 2))):
        columns.append((f"extra {i}", extra))
    first = columns[0][0] if columns else ""
    if case_twins and first.swapcase() != first and draw(st.booleans()):
        columns.append((first.swapcase(), extra))  # a column whose header differs from a field's only in case
    columns = draw(st.permutations(columns))
    headers = [h for h, _ in columns]
    rows = []
    for _ in range(draw(st.integers(0, 8))):
        row: list[str | None] = [draw(values) for _, values in columns]
        shape = draw(st.integers(0, 12))
        if shape == 0 and row:
            row = row[: draw(st.integers(1, len(row)))] if len(row) > 1 else row
        elif shape == 1:
            row = [*row, draw(st.sampled_from(["", "surplus", "a,b"]))]
        rows.append(row)
    return Table(headers, rows)


def write(draw: st.DrawFn, table: Table, folder: Path, fmt: str) -> Written:
    return {"csv": _csv, "jsonl": _jsonl, "parquet": _parquet, "excel": _excel}[fmt](draw, table, folder)


# -- CSV ----------------------------------------------------------------------------


def _csv(draw: st.DrawFn, table: Table, folder: Path) -> Written:
    delimiter = draw(st.sampled_from(DELIMITERS))
    suffix = ".tsv" if delimiter == "\t" and draw(st.booleans()) else draw(st.sampled_from([".csv", ".txt"]))
    buffer = io.StringIO()
    ending = draw(st.sampled_from(["\r\n", "\n"]))
    quoting = draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]))
    # Python quotes only the characters of its own line ending: a bare carriage return
    # left unquoted is a line break to CSV readers (DuckDB's included), not a value.
    if any("\r" in str(v) for row in [table.headers, *table.rows] for v in row if v is not None):
        quoting = csv.QUOTE_ALL
    writer = csv.writer(buffer, delimiter=delimiter, quoting=quoting, lineterminator=ending)
    writer.writerow(table.headers)
    for row in table.rows:
        writer.writerow(["" if v is None else v for v in row])
    text = buffer.getvalue()
    encoding = draw(st.sampled_from(ENCODINGS))
    data = _encoded(text, encoding)
    if data is None:
        encoding, data = "utf-8", text.encode("utf-8")
    path = folder / f"data{suffix}"
    path.write_bytes(data)
    options: dict[str, Any] = {} if suffix == ".tsv" else {"delimiter": delimiter}
    if draw(st.integers(0, 3)) == 0:
        options["encoding"] = encoding
    written = Written(path, "csv", table.headers, options=options)
    width = len(table.headers)
    for i, row in enumerate(table.rows):
        number = i + 2  # the header is row 1; rows count records, not lines
        # Empty fields after the last column hold nothing to lose: the row is read without them.
        if len(row) < width or any(row[width:]):
            written.rejects.add(number)
        else:
            written.rows[number] = dict(zip(table.headers, row[:width], strict=True))
    return written


def _encoded(text: str, encoding: str) -> bytes | None:
    """The text in ``encoding``, or None when it cannot be written so or would be read back differently."""
    try:
        data = text.encode(encoding)
    except UnicodeEncodeError:
        return None
    if encoding == "cp1252" and not text.isascii():
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return data
        return None  # these cp1252 bytes also spell UTF-8: detection rightly reads them as such
    return data


# -- JSON Lines -------------------------------------------------------------------------


def _json_value(draw: st.DrawFn, text: str | None) -> Any:
    """The text as JSON: sometimes a number or boolean that the reader turns back into the same text."""
    if text is None or not draw(st.booleans()):
        return text
    if _CANONICAL_INT.fullmatch(text):
        return int(text)
    if text in ("true", "false"):
        return text == "true"
    return text


def _jsonl(draw: st.DrawFn, table: Table, folder: Path) -> Written:
    lines: list[str] = []
    written = Written(folder / draw(st.sampled_from(["data.jsonl", "data.ndjson"])), "jsonl", [])
    for row in table.rows:
        if draw(st.integers(0, 15)) == 0:
            lines.append(draw(st.sampled_from(["not json", "[1, 2]", '{"open": ', '"text"', "null"])))
            written.rejects.add(len(lines))
        if draw(st.integers(0, 15)) == 0:
            lines.append("")  # a blank line is not a row
        record: dict[str, Any] = {}
        seen: dict[str, Cell] = {}
        for header, text in zip(table.headers, row, strict=False):
            if text is None and draw(st.booleans()):
                continue  # an absent key reads as missing
            record[header] = _json_value(draw, text)
            seen[header] = text
            if header not in written.headers:
                written.headers.append(header)  # the reader's columns: keys in first-seen order
        lines.append(json.dumps(record, ensure_ascii=draw(st.booleans())))
        written.rows[len(lines)] = {h: seen.get(h) for h in table.headers}
    written.path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return written


# -- Parquet ------------------------------------------------------------------------------


def _parquet_column(draw: st.DrawFn, texts: list[str | None]) -> tuple[pa.Array, bool]:
    """An Arrow column for the texts, and whether the reader's text is predicted (it is for exact types)."""
    present = [t for t in texts if t is not None]
    kind = draw(st.sampled_from(["string", "large_string", "dictionary", "typed", "typed", "binary", "list", "struct"]))
    if kind == "binary":
        return pa.array([None if t is None else t.encode("utf-8") for t in texts], pa.binary()), False
    if kind == "list":
        return pa.array([None if t is None else [t, t] for t in texts], pa.list_(pa.string())), False
    if kind == "struct":
        return pa.array([None if t is None else {"text": t} for t in texts], pa.struct([("text", pa.string())])), False
    if kind == "large_string":
        return pa.array(texts, pa.large_string()), True
    if kind == "dictionary":
        return pa.array(texts, pa.string()).dictionary_encode(), True
    if kind == "typed" and present:
        if all(_CANONICAL_INT.fullmatch(t) for t in present):
            return pa.array([None if t is None else int(t) for t in texts], pa.int64()), True
        if all(t in ("true", "false") for t in present):
            return pa.array([None if t is None else t == "true" for t in texts], pa.bool_()), True
        if all(_iso_date(t) for t in present):
            return pa.array([None if t is None else date.fromisoformat(t) for t in texts], pa.date32()), True
        if all(_float(t) is not None for t in present):
            return pa.array([None if t is None else _float(t) for t in texts], pa.float64()), False
    if kind == "typed" and not present:
        return pa.nulls(len(texts)), True
    return pa.array(texts, pa.string()), True


def _iso_date(text: str) -> bool:
    try:
        return date.fromisoformat(text).isoformat() == text
    except ValueError:
        return False


def _float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _parquet(draw: st.DrawFn, table: Table, folder: Path) -> Written:
    width = len(table.headers)
    rows = [(row + [None] * width)[:width] for row in table.rows]
    columns, known = [], []
    for i in range(width):
        array, exact = _parquet_column(draw, [r[i] for r in rows])
        columns.append(array)
        known.append(exact)
    path = folder / "data.parquet"
    pq.write_table(
        pa.table(columns, names=table.headers),
        path,
        row_group_size=draw(st.integers(1, 4)),
        compression=draw(st.sampled_from(["snappy", "zstd", "none"])),
    )
    written = Written(path, "parquet", table.headers)
    for i, row in enumerate(rows):
        written.rows[i + 1] = {
            h: (v if known[j] else UNKNOWN) for j, (h, v) in enumerate(zip(table.headers, row, strict=True))
        }
    return written


# -- Excel ----------------------------------------------------------------------------------


def _xlsx_text(text: str | None) -> str | None:
    if text is None:
        return None
    # XML reads every line ending in the sheet back as a line feed.
    return _NOT_IN_XLSX.sub("?", text).replace("\r\n", "\n").replace("\r", "\n")


def _excel_cell(draw: st.DrawFn, sheet: Any, row: int, column: int, text: str | None) -> Cell:
    """Write one cell, sometimes typed as Excel would type it; return the text the reader gives back."""
    if text is None or text == "":
        return None
    if not text.strip(" \t\n"):
        sheet.cell(row, column, text).data_type = "s"
        return None  # the xlsx reader gives a cell of only spaces and line breaks back empty
    typed = draw(st.integers(0, 2)) == 0
    if typed and _CANONICAL_INT.fullmatch(text):
        sheet.cell(row, column, int(text))
        return text
    if typed and text in ("true", "false"):
        sheet.cell(row, column, text == "true")
        return text
    if typed and _iso_date(text):
        sheet.cell(row, column, date.fromisoformat(text))
        return UNKNOWN
    if typed and text.startswith("="):
        sheet.cell(row, column, text)  # a formula with no value worked out: what the reader sees is its business
        return UNKNOWN
    if typed and _float(text) is not None and abs(_float(text) or 0) < 1e300:
        sheet.cell(row, column, _float(text))
        return UNKNOWN
    cell = sheet.cell(row, column, text)
    cell.data_type = "s"  # text, even when it starts with '=': never a formula
    return text


def _excel(draw: st.DrawFn, table: Table, folder: Path) -> Written:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = draw(st.sampled_from(["Sheet1", "Données 2024", "it's", "1"]))
    options: dict[str, Any] = {}
    if draw(st.integers(0, 3)) == 0:
        decoy = book.create_sheet("Notes", 0)
        decoy["A1"] = "not the data"
        options["sheet"] = sheet.title
    top = 1 + draw(st.integers(0, 2))  # blank rows above the header
    headers = [_xlsx_text(h) or "" for h in table.headers]
    for j, header in enumerate(headers, start=1):
        sheet.cell(top, j, header).data_type = "s"
    written = Written(folder / "data.xlsx", "excel", headers, options=options)
    rows: list[tuple[int, list[Cell]]] = []
    for i, row in enumerate(table.rows):
        number = top + 1 + i
        cells = [_excel_cell(draw, sheet, number, j, _xlsx_text(v)) for j, v in enumerate(row, start=1)]
        rows.append((number, cells))
    # Trailing empty rows and cells are not data; a row wider than the header is quarantined.
    while rows and all(c is None for c in rows[-1][1]):
        rows.pop()
    for number, cells in rows:
        while cells and cells[-1] is None:
            cells.pop()
        if len(cells) > len(headers):
            written.rejects.add(number)
        else:
            padded = cells + [None] * (len(headers) - len(cells))
            written.rows[number] = dict(zip(headers, padded, strict=True))
    first = written.rows.get(top + 1)
    if first and len(headers) > 1 and isinstance(first[headers[0]], str) and draw(st.integers(0, 5)) == 0:
        # A merged cell keeps its first cell's value; the others read as empty.
        sheet.merge_cells(start_row=top + 1, start_column=1, end_row=top + 1, end_column=2)
        first[headers[1]] = None
    book.save(written.path)
    return written
