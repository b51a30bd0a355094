"""Proposing a schema for an input file: the readers feed :mod:`joinedup.schema.infer`."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from joinedup.ingest.columns import normalise_header
from joinedup.ingest.readers import open_source
from joinedup.schema import Schema
from joinedup.schema.infer import infer_schema
from joinedup.storage.duck import connect
from joinedup.storage.query import unique_names


def infer_file_schema(
    path: Path,
    *,
    fmt: str | None = None,
    encoding: str | None = None,
    delimiter: str = ",",
    sheet: str | None = None,
) -> Schema:
    scratch = Path(tempfile.mkdtemp(prefix="joinedup-infer-"))
    try:
        with connect(temp_dir=scratch / "spill", database=scratch / "stage.duckdb") as con:
            source = open_source(con, path, scratch_dir=scratch, fmt=fmt, encoding=encoding, delimiter=delimiter, sheet=sheet)
            try:
                names = field_names(source.columns)
                return infer_schema(con, source.relation, source.columns, names)
            finally:
                source.cleanup()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def field_names(headers: list[str]) -> list[str]:
    """A distinct field name per column, each one ingest matches back to its own column.

    A header already written as a field name (``name``) keeps it, so that ``Name``
    beside it becomes ``name_2`` titled ``Name`` rather than taking ``name`` and
    leaving ingest to match the field ``name`` to the wrong column.
    """
    normalised = [normalise_header(h) for h in headers]
    order = sorted(range(len(headers)), key=lambda i: (headers[i] != normalised[i], i))
    distinct = unique_names([normalised[i] for i in order])
    names = [""] * len(headers)
    for i, name in zip(order, distinct, strict=True):
        names[i] = name
    return names
