"""Parquet: every column carried as text; nested ones (lists, structs, maps) as JSON text."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from joinedup.errors import InputError
from joinedup.ingest.source import Source, checked_header, first_line, visible_sql
from joinedup.storage.duck import literal_path, quote_identifier, quote_literal

#: DuckDB types whose plain text form is DuckDB's own syntax (``{a=1}``), not a format
#: other tools read: they are carried as JSON instead.
_NESTED = ("STRUCT(", "MAP(", "UNION(")


def open_parquet(con: duckdb.DuckDBPyConnection, path: Path, digest: str, size: int) -> Source:
    try:
        names = pq.read_schema(path).names
    except Exception as exc:
        raise InputError(f"{path}: cannot read as Parquet: {first_line(exc)}") from None
    if not names:
        raise InputError(f"{path}: the Parquet file has no columns")
    header = checked_header(path, list(names))
    # Columns are renamed by position: DuckDB matches names ignoring case, so a file
    # with columns "NAME" and "name" would otherwise read the first one twice.
    positional = [f"p{i}" for i in range(len(names))]
    with literal_path(path) as plain:
        scan = f"read_parquet({quote_literal(str(plain))}, file_row_number = true) AS p({', '.join(positional)})"
        _stage(con, path, scan, names, positional)
    return Source(path, "parquet", header, digest, size, None, "jd_parquet")


def _stage(con: duckdb.DuckDBPyConnection, path: Path, scan: str, names: list[str], positional: list[str]) -> None:
    """Stage the file read by ``scan`` as ``jd_parquet``, every column as text."""
    try:
        described = con.execute(f"DESCRIBE SELECT * FROM {scan}").fetchall()
    except duckdb.Error as exc:
        raise InputError(f"{path}: cannot read as Parquet: {first_line(exc)}") from None
    types = {name: kind for name, kind, *_ in described}
    texts = [_as_text(column, types.get(column, "VARCHAR")) for column in positional]
    columns = [f"{text} AS c{i}" for i, text in enumerate(texts)]
    try:
        # Staged now, so that a column DuckDB cannot decode is reported here, by name,
        # before anything is validated or written.
        con.execute(
            "CREATE OR REPLACE TABLE jd_parquet AS SELECT "
            f"CAST(file_row_number + 1 AS BIGINT) AS _source_row, {', '.join(columns)} FROM {scan}"
        )
    except duckdb.Error as exc:
        raise InputError(
            f"{path}: {_culprit(con, scan, names, texts)}cannot read as Parquet: {first_line(exc)}"
        ) from None


def _as_text(name: str, kind: str) -> str:
    column = quote_identifier(name)
    # Lists and arrays end in "]": INTEGER[], VARCHAR[3].
    if kind.endswith("]") or kind.startswith(_NESTED):
        return visible_sql(f"CAST(to_json({column}) AS VARCHAR)")
    if kind == "TIMESTAMP WITH TIME ZONE":
        # A moment (Parquet's isAdjustedToUTC): written in UTC with its Z, whatever the
        # session's time zone, because DuckDB's own text ("…+00") is not ISO 8601.
        return _iso_timestamp(f"timezone('UTC', {column})") + " || 'Z'"
    if kind.startswith("TIMESTAMP"):
        # A local time without a zone: the schema's timezone says where it was.
        return _iso_timestamp(column)
    # Dates are ISO 8601 already; integers (also 64-bit unsigned) and decimals are cast
    # from their exact values, never through a float.
    return visible_sql(f"CAST({column} AS VARCHAR)")


def _iso_timestamp(timestamp: str) -> str:
    """ISO 8601 text of a TIMESTAMP (any precision): DuckDB's text with a ``T`` for the first space."""
    return f"regexp_replace(CAST({timestamp} AS VARCHAR), ' ', 'T')"


def _culprit(con: duckdb.DuckDBPyConnection, scan: str, names: list[str], texts: list[str]) -> str:
    """``column 'x': `` for the first column that fails on its own, else nothing."""
    for name, text in zip(names, texts, strict=True):
        try:
            con.execute(f"SELECT count({text}) FROM {scan}").fetchall()
        except duckdb.Error:
            return f"column {name!r}: "
    return ""
