"""Ingest: read a file, validate and standardise every row, write a new version.

The steps, and why the estate stays consistent if the process dies at any point:

1. take the dataset's lock; roll back any Delta commits a killed ingest left;
2. read the file through DuckDB and run the validation query (see validate.py);
3. stream valid rows into a new Delta commit of ``table/`` and rejected rows,
   with every reason, into a new commit of ``quarantine/``;
4. record the version in the catalogue in one transaction.

Step 4 is the commit point. Until it happens, readers keep opening the Delta
versions the catalogue names, so a half-finished ingest is never visible.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

import joinedup
from joinedup.access import authorize
from joinedup.audit import record
from joinedup.errors import EstateError, SchemaError
from joinedup.estate import Catalogue, Estate, check_dataset_name
from joinedup.ingest.columns import match_columns
from joinedup.ingest.readers import (
    Reject,
    Source,
    open_source,
    remove_stale_scratch,
    validation_failed,
)
from joinedup.ingest.validate import build_query, macros_needed, preparation
from joinedup.schema import Schema
from joinedup.storage import delta
from joinedup.storage.duck import connect, size_in_bytes

#: Called with (stage, fraction done or None when unknown).
Progress = Callable[[str, float | None], None]
_BATCH_ROWS = 122_880
ERROR_TYPE = pa.list_(
    pa.struct([("column", pa.string()), ("rule", pa.string()), ("value", pa.string()), ("message", pa.string())])
)


@dataclass
class IngestResult:
    dataset: str
    version: int
    schema_version: int
    source: str
    source_sha256: str
    source_format: str
    encoding: str | None
    rows_read: int
    rows_loaded: int
    rows_quarantined: int
    #: ``{rule: count}`` over all columns.
    counts_by_rule: dict[str, int]
    #: ``{column: {rule: count}}``; rows that could not be split into columns count under ``"(row)"``.
    rule_counts: dict[str, dict[str, int]]
    columns_ignored: list[str] = field(default_factory=list)
    #: Rows above a CSV's or sheet's header (a title, notes, blank rows): not data, but counted.
    rows_skipped_above_header: int = 0
    recovered: bool = False
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def ingest(
    estate: Estate,
    path: Path,
    *,
    dataset: str,
    principal: str,
    schema: Schema | None = None,
    fmt: str | None = None,
    encoding: str | None = None,
    delimiter: str = ",",
    sheet: str | None = None,
    header_row: int | None = None,
    progress: Progress | None = None,
) -> IngestResult:
    """Ingest ``path`` as a new version of ``dataset``, acting as ``principal``.

    The principal needs the right to load the dataset, and to change its schema
    when ``schema`` differs from the stored one. The audit entry commits in the
    same transaction as the version.
    """
    started = time.perf_counter()
    catalogue = Catalogue(estate)
    notify = progress or (lambda stage, fraction: None)
    check_dataset_name(dataset)
    authorize(estate, principal, "dataset.ingest", dataset=dataset)
    with estate.lock(dataset):
        info = catalogue.find(dataset)
        if schema is None:
            if info is None or info.schema is None:
                raise SchemaError(f"dataset {dataset!r} has no schema yet: pass --schema (make one with `joinedup schema infer {path}`)")
            schema = Schema.from_dict(info.schema, f"stored schema of {dataset!r}")
        schema_changed = info is not None and info.schema is not None and Schema.from_dict(info.schema).digest() != schema.digest()
        if schema_changed:
            authorize(estate, principal, "dataset.schema", dataset=dataset)
        current = info.current if info else None
        remove_stale_scratch(estate.tmp_dir)
        scratch = estate.tmp_dir / f"ingest-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        scratch.mkdir(parents=True)
        try:
            with connect(
                memory_limit=estate.config.memory_limit,
                threads=estate.config.threads,
                temp_dir=scratch / "spill",
                database=_staging_database(path, estate.config.memory_limit, scratch),
                macros=macros_needed(schema),
            ) as con:
                con.execute("SET TimeZone = 'UTC'")
                notify("reading", None)
                source = open_source(
                    con, path, scratch_dir=scratch, fmt=fmt, encoding=encoding, delimiter=delimiter, sheet=sheet,
                    header_row=header_row, schema=schema,
                )
                try:
                    positions, ignored = match_columns(schema, source.columns, path)
                    mapping = {name: f"c{i}" for name, i in positions.items()}
                    recovered = delta.discard_uncatalogued(
                        estate.table_path(dataset), current.table_version if current else None
                    )
                    recovered |= delta.discard_uncatalogued(
                        estate.quarantine_path(dataset), current.quarantine_version if current else None
                    )
                    number = (current.number if current else 0) + 1
                    run = _Run(schema, number, source)
                    query = build_query(schema, mapping, source.relation)
                    with _Poll(con, progress):
                        for statement in preparation(schema, mapping, source.relation):
                            con.execute(statement)
                        [(split_rows,)] = con.execute(f"SELECT count(*) FROM {source.relation}").fetchall()
                        reader = con.sql(query).to_arrow_reader(_BATCH_ROWS)
                        table_version = delta.write(
                            estate.table_path(dataset),
                            pa.RecordBatchReader.from_batches(run.output_schema(reader.schema), run.split(reader)),
                            mode="overwrite",
                            personal_columns=[f.name for f in schema.personal_fields],
                            all_columns=[*delta.SYSTEM_COLUMNS, *schema.names],
                            description=f"joinedup ingest of {path.name} as version {number}",
                        )
                finally:
                    source.cleanup()
            notify("quarantine", None)
            quarantined = run.quarantine_table()
            quarantine_version = current.quarantine_version if current else None
            if quarantined.num_rows:
                quarantine_version = delta.write(
                    estate.quarantine_path(dataset),
                    quarantined,
                    mode="append",
                    personal_columns=[c for c in quarantined.column_names if c not in delta.SYSTEM_COLUMNS],
                    all_columns=quarantined.column_names,
                )
        except duckdb.Error as exc:
            # Nothing is catalogued yet: the previous version stays the current one.
            raise validation_failed(path, exc) from None
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

        # Nothing lost: every row the reader found is either loaded or in quarantine.
        rows_read = split_rows + len(source.rejects)
        if run.loaded + quarantined.num_rows != rows_read:
            raise EstateError(
                f"ingest of {path}: read {rows_read} rows but loaded {run.loaded} and quarantined "
                f"{quarantined.num_rows}; nothing was recorded"
            )
        rule_counts = run.rule_counts()
        result = IngestResult(
            dataset=dataset,
            version=number,
            schema_version=0,
            source=path.name,
            source_sha256=source.sha256,
            source_format=source.format,
            encoding=source.encoding,
            rows_read=rows_read,
            rows_loaded=run.loaded,
            rows_quarantined=quarantined.num_rows,
            counts_by_rule=_by_rule(rule_counts),
            rule_counts=rule_counts,
            columns_ignored=ignored,
            rows_skipped_above_header=source.rows_above_header,
            recovered=recovered,
        )
        notify("committing", None)
        with estate.session() as session:
            version = Catalogue.record_version(
                session,
                dataset=dataset,
                schema=schema.to_dict(),
                schema_digest=schema.digest(),
                principal=principal,
                mode="replace",
                table_version=table_version,
                quarantine_version=quarantine_version,
                source_name=path.name,
                source_sha256=source.sha256,
                source_bytes=source.size,
                source_format=source.format,
                source_encoding=source.encoding,
                pipeline=_pipeline(source),
                rows_read=result.rows_read,
                rows_loaded=result.rows_loaded,
                rows_quarantined=result.rows_quarantined,
                rule_counts=rule_counts,
            )
            assert version.number == number, "the dataset lock should make version numbers predictable"
            result.schema_version = version.schema_number
            record(
                session,
                estate,
                principal=principal,
                action="dataset.ingest",
                dataset=dataset,
                dataset_version=number,
                columns=schema.names,
                row_count=result.rows_loaded,
                detail={
                    "source_sha256": source.sha256,
                    "source_format": source.format,
                    "rows_read": result.rows_read,
                    "rows_quarantined": result.rows_quarantined,
                    "schema_version": version.schema_number,
                    "schema_changed": schema_changed,
                },
            )
    result.seconds = round(time.perf_counter() - started, 3)
    notify("done", 1.0)
    return result


def _pipeline(source: Source) -> str:
    """The version's lineage line; it says when rows above the header were not loaded."""
    described = f"joinedup {joinedup.__version__} ingest"
    if source.rows_above_header:
        described += f" (header on row {source.header_row}; {source.rows_above_header} rows above it not loaded)"
    return described


def _staging_database(path: Path, memory_limit: str, scratch: Path) -> Path | None:
    """A file for DuckDB to stage in when the input may not fit in memory; else None (faster).

    Only a file-backed database can move staged rows out of memory; for inputs
    well within the limit the in-memory one saves writing them to disk.
    """
    if path.exists() and path.stat().st_size * 4 > size_in_bytes(memory_limit):
        return scratch / "stage.duckdb"
    return None


class _Run:
    """Splits the validation output: valid rows stream on to Delta, rejected rows are kept for quarantine."""

    def __init__(self, schema: Schema, number: int, source: Source) -> None:
        self.schema = schema
        self.number = number
        self.source = source
        self.loaded = 0
        self.rejected: list[pa.RecordBatch] = []

    def output_schema(self, query_schema: pa.Schema) -> pa.Schema:
        fields = [query_schema.field(name) for name in self.schema.names]
        return pa.schema([pa.field("_ingest", pa.int32(), nullable=False), query_schema.field("_source_row"), *fields])

    def split(self, reader: pa.RecordBatchReader) -> Iterator[pa.RecordBatch]:
        names = ["_source_row", *self.schema.names]
        raw = ["_source_row", "_errors", *(f"_raw_{i}" for i in range(len(self.schema.fields)))]
        for batch in reader:
            valid = pc.is_null(batch.column("_errors"))
            good = batch.filter(valid).select(names)
            if good.num_rows < batch.num_rows:
                self.rejected.append(batch.filter(pc.invert(valid)).select(raw))
            if good.num_rows:
                self.loaded += good.num_rows
                ingest_column = pa.array([self.number] * good.num_rows, pa.int32())
                yield pa.RecordBatch.from_arrays([ingest_column, *good.columns], names=["_ingest", *names])

    def quarantine_table(self) -> pa.Table:
        """Rejected rows with every reason and their original text, plus rows that did not split."""
        fields = self.schema.names
        schema = pa.schema(
            [("_ingest", pa.int32()), ("_source_row", pa.int64()), ("_errors", ERROR_TYPE), ("_line", pa.string())]
            + [(name, pa.string()) for name in fields]
        )
        parts = []
        for batch in self.rejected:
            n = batch.num_rows
            parts.append(
                pa.table(
                    [
                        pa.array([self.number] * n, pa.int32()),
                        batch.column("_source_row"),
                        batch.column("_errors").cast(ERROR_TYPE),
                        pa.nulls(n, pa.string()),
                        *(batch.column(f"_raw_{i}") for i in range(len(fields))),
                    ],
                    schema=schema,
                )
            )
        if self.source.rejects:
            parts.append(_reject_table(self.source.rejects, self.number, schema))
        if not parts:
            return schema.empty_table()
        return pa.concat_tables(parts).sort_by("_source_row")

    def rule_counts(self) -> dict[str, dict[str, int]]:
        counts: dict[str, dict[str, int]] = defaultdict(dict)
        if self.rejected:
            errors = pa.concat_arrays([b.column("_errors").cast(ERROR_TYPE) for b in self.rejected])
            flat = pc.list_flatten(errors)
            grouped = pa.table({"column": flat.field("column"), "rule": flat.field("rule")}).group_by(
                ["column", "rule"]
            ).aggregate([("rule", "count")])
            for column, rule, count in zip(*(grouped.column(i).to_pylist() for i in range(3)), strict=True):
                counts[column][rule] = count
        for reject in self.source.rejects:
            counts["(row)"][reject.rule] = counts["(row)"].get(reject.rule, 0) + 1
        return {column: dict(sorted(rules.items())) for column, rules in sorted(counts.items())}


def _reject_table(rejects: list[Reject], number: int, schema: pa.Schema) -> pa.Table:
    n = len(rejects)
    errors = [[{"column": "(row)", "rule": r.rule, "value": r.text, "message": r.problem}] for r in rejects]
    columns: list[pa.Array] = [
        pa.array([number] * n, pa.int32()),
        pa.array([r.source_row for r in rejects], pa.int64()),
        pa.array(errors, ERROR_TYPE),
        pa.array([r.text for r in rejects], pa.string()),
    ]
    columns += [pa.nulls(n, pa.string()) for _ in schema.names[4:]]
    return pa.table(columns, schema=schema)


def _by_rule(rule_counts: dict[str, dict[str, int]]) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for rules in rule_counts.values():
        for rule, count in rules.items():
            totals[rule] += count
    return dict(sorted(totals.items()))


class _Poll:
    """Reports DuckDB's own progress on the validation query while it runs."""

    def __init__(self, con: Any, notify: Progress | None) -> None:
        self.con = con
        self.notify = notify
        self.stop = threading.Event()
        # Nobody to tell: no thread polling DuckDB.
        self.thread = threading.Thread(target=self.run, daemon=True) if notify else None

    def run(self) -> None:
        while not self.stop.wait(0.25):
            try:
                done = self.con.query_progress()
            except Exception:
                return
            if done is not None and done >= 0 and self.notify:
                self.notify("validating", min(done / 100.0, 1.0))

    def __enter__(self) -> _Poll:
        if self.thread:
            self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        if self.thread:
            self.thread.join()
