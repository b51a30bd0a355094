"""Excel (.xlsx): read with calamine; error cells found in the sheet's XML, which calamine reports as blank."""

from __future__ import annotations

import datetime as dt
import json
import posixpath
import re
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import duckdb
import pyarrow as pa

from joinedup.errors import InputError
from joinedup.ingest.header_row import SAMPLE_ROWS, find_header_row
from joinedup.ingest.source import Reject, Source, checked_header, first_line, without_invisible

_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_PACKAGE_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_CELL = re.compile(r"([A-Z]+)(\d+)")


def open_excel(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    digest: str,
    size: int,
    sheet: str | None,
    header_row: int | None,
    find_header: bool,
) -> Source:
    name, grid = _read_sheet(path, sheet)
    text = [[_cell(v) for v in row] for row in grid]
    start = _header_index(path, name, text, header_row, find_header)
    names = _trim_row(text[start])
    if not names:
        raise InputError(
            f"{path}: row {start + 1} of sheet {name!r} is empty: expected the header row naming the columns"
        )
    header = checked_header(path, [v or "" for v in names], start + 1)
    width = len(header)
    body = text[start + 1 :]
    while body and not any(body[-1]):
        body.pop()
    errors = _error_cells(path, name)
    rejects: list[Reject] = []
    kept: list[tuple[int, list[str | None]]] = []
    for i, row in enumerate(body):
        number = start + 2 + i
        row = _trim_row(row)
        problem = _row_problem(row, width, number, errors, header)
        if problem is None:
            kept.append((number, row))
        else:
            rejects.append(Reject(number, problem[1], json.dumps(row, ensure_ascii=False), problem[0]))
    arrays = {"_source_row": pa.array([n for n, _ in kept], pa.int64())}
    for position in range(width):
        arrays[f"c{position}"] = pa.array([r[position] if position < len(r) else None for _, r in kept], pa.string())
    con.register("jd_excel", pa.table(arrays))
    return Source(path, "excel", header, digest, size, None, "jd_excel", rejects, header_row=start + 1)


def _read_sheet(path: Path, sheet: str | None) -> tuple[str, list[list[object]]]:
    from python_calamine import CalamineWorkbook

    try:
        book = CalamineWorkbook.from_path(str(path))
        names = book.sheet_names
        if sheet is not None and sheet not in names:
            raise InputError(f"{path}: no sheet {sheet!r} (sheets: {', '.join(names)})")
        if not names:
            raise InputError(f"{path}: the workbook has no sheets")
        name = sheet or names[0]
        grid: list[list[object]] = [list(row) for row in book.get_sheet_by_name(name).to_python(skip_empty_area=False)]
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"{path}: cannot read as an Excel workbook: {first_line(exc)}") from None
    if not any(_cell(v) for row in grid for v in row):
        others = [n for n in names if n != name]
        hint = f"; pass --sheet (other sheets: {', '.join(others)})" if others else ""
        raise InputError(f"{path}: sheet {name!r} is empty: expected a header row naming the columns{hint}")
    return name, grid


def _header_index(path: Path, sheet: str, text: list[list[str | None]], given: int | None, find: bool) -> int:
    """The 0-based index of the header row: as given, else found when asked, else the first non-empty row."""
    if given is not None:
        if given > len(text):
            raise InputError(f"{path}: header row {given} is past the end of sheet {sheet!r} ({len(text)} rows)")
        return given - 1
    found = find_header_row(text[:SAMPLE_ROWS]) if find else None
    if found:
        return found - 1
    # Leading blank rows are not data.
    return next(i for i, row in enumerate(text) if any(row))


def _row_problem(
    row: list[str | None], width: int, number: int, errors: dict[tuple[int, int], str], header: list[str]
) -> tuple[str, str] | None:
    """Why a data row cannot load as it is: (rule, message), or None."""
    if len(row) > width:
        return "columns", f"row has {len(row)} cells, the header has {width}"
    for column in range(width):
        error = errors.get((number, column))
        if error is not None:
            return (
                "excel_error",
                f"column {header[column]!r} (cell {_letters(column)}{number}) holds the Excel error {error}",
            )
    return None


def _error_cells(path: Path, sheet: str) -> dict[tuple[int, int], str]:
    """``{(row, column): "#DIV/0!"}`` for the sheet's error cells (1-based row, 0-based column)."""
    try:
        with zipfile.ZipFile(path) as archive:
            member = _sheet_member(archive, sheet)
            if member is None or not _mentions_errors(archive, member):
                return {}
            found: dict[tuple[int, int], str] = {}
            with archive.open(member) as handle:
                for _, element in ElementTree.iterparse(handle):
                    if element.tag == f"{_MAIN}c" and element.get("t") == "e":
                        place = _CELL.fullmatch(element.get("r") or "")
                        if place:
                            value = element.findtext(f"{_MAIN}v") or "#ERROR"
                            found[(int(place.group(2)), _column_index(place.group(1)))] = value
                    if element.tag == f"{_MAIN}c":
                        element.clear()
            return found
    except (zipfile.BadZipFile, ElementTree.ParseError, KeyError, OSError):
        # calamine read the workbook; an unusual layout only means no error cells are known.
        return {}


def _mentions_errors(archive: zipfile.ZipFile, member: str) -> bool:
    """Whether the sheet's XML has an error cell at all: a byte search, far cheaper than parsing it."""
    markers = (b't="e"', b"t='e'")
    tail = b""
    with archive.open(member) as handle:
        while chunk := handle.read(1 << 20):
            if any(marker in tail + chunk for marker in markers):
                return True
            tail = chunk[-5:]
    return False


def _sheet_member(archive: zipfile.ZipFile, sheet: str) -> str | None:
    book = ElementTree.fromstring(archive.read("xl/workbook.xml"))
    ids = [s.get(f"{_REL}id") for s in book.iter(f"{_MAIN}sheet") if s.get("name") == sheet]
    if not ids:
        return None
    rels = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    for rel in rels.iter(f"{_PACKAGE_REL}Relationship"):
        if rel.get("Id") == ids[0]:
            target = rel.get("Target") or ""
            return target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join("xl", target))
    return None


def _column_index(letters: str) -> int:
    index = 0
    for letter in letters:
        index = index * 26 + ord(letter) - ord("A") + 1
    return index - 1


def _letters(column: int) -> str:
    letters = ""
    column += 1
    while column:
        column, rest = divmod(column - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def _trim_row(row: list[str | None]) -> list[str | None]:
    end = len(row)
    while end and row[end - 1] is None:
        end -= 1
    return row[:end]


def _cell(value: object) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        # Excel keeps every number as a float; an NHS number typed as a number is still a whole number.
        return str(int(value))
    if isinstance(value, dt.datetime):
        return (
            value.isoformat()
            if (value.hour, value.minute, value.second, value.microsecond) != (0, 0, 0, 0)
            else value.date().isoformat()
        )
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value)
    return without_invisible(str(value)) or None
