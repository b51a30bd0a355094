"""Proposing a schema for an input file: the readers feed :mod:`joinedup.schema.infer`."""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from pathlib import Path

import duckdb

from joinedup.ingest.columns import normalise_header
from joinedup.ingest.readers import Source, open_source, validation_failed
from joinedup.schema import Constraints, Field, Schema
from joinedup.schema.infer import infer_schema
from joinedup.storage.duck import connect


def infer_file_schema(
    path: Path,
    *,
    fmt: str | None = None,
    encoding: str | None = None,
    delimiter: str = ",",
    sheet: str | None = None,
    header_row: int | None = None,
) -> Schema:
    """Propose a schema for ``path``; without ``header_row`` the header is looked for below any title rows."""
    scratch = Path(tempfile.mkdtemp(prefix="joinedup-infer-"))
    try:
        with connect(temp_dir=scratch / "spill", database=scratch / "stage.duckdb") as con:
            source = open_source(
                con, path, scratch_dir=scratch, fmt=fmt, encoding=encoding, delimiter=delimiter, sheet=sheet,
                header_row=header_row, find_header=header_row is None,
            )
            try:
                names = _unique([normalise_header(h) for h in source.columns])
                try:
                    proposed = infer_schema(con, source.relation, source.columns, names)
                except duckdb.Error as exc:
                    raise validation_failed(path, exc) from None
                return _fitted(proposed, source, names)
            finally:
                source.cleanup()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _fitted(schema: Schema, source: Source, names: list[str]) -> Schema:
    """Record where the header was, and let columns that held nested JSON take any value."""
    nested = {name for name, column in zip(names, source.columns, strict=True) if column in source.nested}
    fields = [_any_value(f) if f.name in nested else f for f in schema.fields]
    return dataclasses.replace(schema.with_fields(fields), header_row=source.header_row)


def _any_value(field: Field) -> Field:
    # Limits proposed from the JSON text (lengths, patterns) say nothing about the values.
    kept = Constraints(required=field.constraints.required)
    return dataclasses.replace(field, type="any", format="default", constraints=kept)


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    result = []
    for name in names:
        count = seen.get(name, 0)
        seen[name] = count + 1
        result.append(name if count == 0 else f"{name}_{count + 1}")
    return result
