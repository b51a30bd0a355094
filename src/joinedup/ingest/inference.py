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
                names = _unique([normalise_header(h) for h in source.columns])
                return infer_schema(con, source.relation, source.columns, names)
            finally:
                source.cleanup()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    result = []
    for name in names:
        count = seen.get(name, 0)
        seen[name] = count + 1
        result.append(name if count == 0 else f"{name}_{count + 1}")
    return result
