"""Readers: turn an input file into a DuckDB relation of raw text columns.

Every reader yields the same shape: ``_source_row`` (where the row is in the
file) followed by one VARCHAR column per file column, named ``c0``, ``c1`` ...
(the real header names are kept on :class:`Source`), plus any rows that could
not be used at all (ragged CSV rows, lines that are not UTF-8, JSON lines that do
not parse), which go to quarantine whole. One bad row never stops the others.

Row numbers follow what a person sees: for CSV and Excel they are the file's own
rows, so with the header on row 1 the first data row is row 2, and with a title
above the header (``--header-row 3``) it is row 4; for JSON Lines the row is the
line number; for Parquet it is the 1-based row position.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from joinedup.errors import InputError
from joinedup.ingest.csv_reader import open_csv, staged_bytes
from joinedup.ingest.excel_reader import open_excel
from joinedup.ingest.jsonl_reader import open_jsonl
from joinedup.ingest.parquet_reader import open_parquet
from joinedup.ingest.source import FORMATS, Reject, Source, check_header_row, csv_delimiter, first_line, hash_file
from joinedup.schema import Schema
from joinedup.storage.duck import error_kind

__all__ = [
    "FORMATS",
    "Reject",
    "Source",
    "detect_format",
    "open_source",
    "staged_size",
    "validation_failed",
]


def detect_format(path: Path, declared: str | None = None) -> str:
    if declared:
        if declared not in set(FORMATS.values()):
            raise InputError(f"{path}: unknown format {declared!r} (formats: csv, excel, parquet, jsonl)")
        return declared
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        known = ", ".join(sorted(FORMATS))
        raise InputError(
            f"{path}: cannot tell the format from the extension {path.suffix!r} (known: {known}); pass --format"
        )
    return fmt


def open_source(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    *,
    scratch_dir: Path,
    fmt: str | None = None,
    encoding: str | None = None,
    delimiter: str = ",",
    sheet: str | None = None,
    header_row: int | None = None,
    find_header: bool = False,
    schema: Schema | None = None,
) -> Source:
    """Open ``path`` for ingest; raises :class:`InputError` with one line when it cannot be read.

    ``header_row`` (1-based) says where a CSV's or sheet's header is; without it the
    schema's ``headerRow`` does, else the header is found when ``find_header`` asks
    (``schema infer``), else it is row 1 (CSV) or the first non-empty row (Excel). ``schema``, when known, lets a JSON
    Lines reader quarantine lines that put an object where a field expects one value.
    """
    if not path.exists():
        raise InputError(f"{path}: file not found")
    if not path.is_file():
        raise InputError(f"{path}: not a file")
    fmt = detect_format(path, fmt)
    if len(delimiter) != 1 or delimiter in '"\r\n':
        raise InputError(
            f"{path}: --delimiter must be one character other than a quote or a line break, not {delimiter!r}"
        )
    if header_row is None and schema is not None and schema.header_row != 1 and fmt in ("csv", "excel"):
        header_row = schema.header_row
    check_header_row(path, fmt, header_row)
    try:
        return _open(con, path, scratch_dir, fmt, encoding, delimiter, sheet, header_row, find_header, schema)
    except MemoryError:
        raise InputError(
            f"{path}: not enough memory to read it; raise the estate's memory_limit or split the file"
        ) from None
    except duckdb.OutOfMemoryException as exc:
        raise InputError(
            f"{path}: not enough memory to read it ({first_line(exc)}); raise the estate's memory_limit"
        ) from None
    except duckdb.Error as exc:
        raise InputError(f"{path}: cannot read as {fmt}: {first_line(exc)}") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or first_line(exc)}") from None


def _open(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    scratch_dir: Path,
    fmt: str,
    encoding: str | None,
    delimiter: str,
    sheet: str | None,
    header_row: int | None,
    find_header: bool,
    schema: Schema | None,
) -> Source:
    if fmt == "csv":
        return open_csv(con, path, scratch_dir, encoding, csv_delimiter(path, delimiter), header_row, find_header)
    digest, size = hash_file(path)
    if fmt == "excel":
        return open_excel(con, path, digest, size, sheet, header_row, find_header)
    if fmt == "parquet":
        return open_parquet(con, path, digest, size)
    return open_jsonl(con, path, digest, size, schema)


def staged_size(path: Path, fmt: str | None = None, delimiter: str = ",") -> int:
    """About the bytes ``path``'s rows take once read: a CSV's short cells take more than their text."""
    try:
        if detect_format(path, fmt) == "csv":
            return staged_bytes(path, csv_delimiter(path, delimiter))
    except (InputError, OSError):
        pass  # an unknown format or an unreadable file: open_source says which
    return path.stat().st_size


def validation_failed(path: Path, exc: duckdb.Error) -> InputError:
    """The one line for a DuckDB error met while checking a file's rows.

    Only the kind of error is shown, as ingest does: DuckDB's message can quote the
    file's values (a failed cast names the text it could not convert).
    """
    if isinstance(exc, duckdb.OutOfMemoryException):
        return InputError(f"{path}: not enough memory to check it; raise the estate's memory_limit")
    return InputError(f"{path}: cannot check its rows ({error_kind(exc)})")
