"""Proposing a schema for an input file: the readers feed :mod:`joinedup.schema.infer`.

The proposal comes with what it would do: the file is run through the same
validation query ingest runs, so the counts of rows that would load and go to
quarantine cannot drift from what an ingest with that schema does.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from joinedup.errors import InputError
from joinedup.ingest.columns import normalise_header
from joinedup.ingest.readers import Source, open_source, validation_failed
from joinedup.ingest.validate import build_query, preparation
from joinedup.schema import Constraints, Field, Schema
from joinedup.schema.infer import ColumnProfile, data_like_headers, profile_columns, propose_schema
from joinedup.storage.duck import connect
from joinedup.storage.query import unique_names

#: Formats whose column names are a row of the file itself, which may be data.
_HEADER_ROW_FORMATS = ("csv", "excel")


@dataclass
class Proposal:
    """A proposed schema and what ingesting the file with it would do."""

    schema: Schema
    rows_read: int
    rows_loaded: int
    rows_quarantined: int
    #: ``{column: {rule: rows}}``, as an ingest reports it; rows that did not split count under ``"(row)"``.
    rule_counts: dict[str, dict[str, int]]

    def report(self) -> dict[str, Any]:
        return {
            "rows_read": self.rows_read,
            "rows_loaded": self.rows_loaded,
            "rows_quarantined": self.rows_quarantined,
            "rule_counts": self.rule_counts,
        }


def infer_file_schema(path: Path, **options: Any) -> Schema:
    """The proposed schema alone; ``options`` as for :func:`propose_file_schema`."""
    return propose_file_schema(path, **options).schema


def propose_file_schema(
    path: Path,
    *,
    fmt: str | None = None,
    encoding: str | None = None,
    delimiter: str = ",",
    sheet: str | None = None,
    header_row: int | None = None,
) -> Proposal:
    """Propose a schema for ``path`` and count what an ingest with it would load and quarantine.

    Without ``header_row`` the header is looked for below any title or notes rows.
    """
    scratch = Path(tempfile.mkdtemp(prefix="joinedup-infer-"))
    try:
        with connect(temp_dir=scratch / "spill", database=scratch / "stage.duckdb") as con:
            source = open_source(
                con,
                path,
                scratch_dir=scratch,
                fmt=fmt,
                encoding=encoding,
                delimiter=delimiter,
                sheet=sheet,
                header_row=header_row,
                find_header=header_row is None,
            )
            try:
                names = field_names(source.columns)
                try:
                    profiles = profile_columns(con, source.relation, source.columns, names)
                    if source.format in _HEADER_ROW_FORMATS:
                        _refuse_data_as_header(path, profiles, source.header_row)
                    schema = _fitted(propose_schema(profiles), source, names)
                    return _dry_run(con, schema, source)
                except duckdb.Error as exc:
                    raise validation_failed(path, exc) from None
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


def _refuse_data_as_header(path: Path, profiles: list[ColumnProfile], header_row: int) -> None:
    found = data_like_headers(profiles)
    if found:
        # Positions and kinds only: the cells may be a person's details.
        shown = ", ".join(f"column {position} {kind}" for position, kind in found[:4])
        raise InputError(
            f"{path}: row {header_row} looks like data, not a header ({shown}); "
            "add a first row naming the columns, then infer again"
        )


def _dry_run(con: duckdb.DuckDBPyConnection, schema: Schema, source: Source) -> Proposal:
    """Run ingest's own validation query over the staged file and count its outcome."""
    mapping = {f.name: f"c{i}" for i, f in enumerate(schema.fields)}
    for statement in preparation(schema, mapping, source.relation):
        con.execute(statement)
    query = build_query(schema, mapping, source.relation)
    con.execute(f"CREATE OR REPLACE TEMP TABLE jd_proposal AS SELECT _errors FROM ({query})")
    [(split_rows, rejected)] = con.execute("SELECT count(*), count(_errors) FROM jd_proposal").fetchall()
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    reasons = con.execute(
        "SELECT e.column, e.rule, count(*) FROM "
        "(SELECT unnest(_errors) AS e FROM jd_proposal WHERE _errors IS NOT NULL) GROUP BY ALL"
    ).fetchall()
    for column, rule, rows in reasons:
        counts[column][rule] = int(rows)
    for reject in source.rejects:
        counts["(row)"][reject.rule] = counts["(row)"].get(reject.rule, 0) + 1
    return Proposal(
        schema=schema,
        rows_read=int(split_rows) + len(source.rejects),
        rows_loaded=int(split_rows) - int(rejected),
        rows_quarantined=int(rejected) + len(source.rejects),
        rule_counts={column: dict(sorted(rules.items())) for column, rules in sorted(counts.items())},
    )


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
