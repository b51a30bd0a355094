"""Ingest: read a file, validate and standardise every row, write a new version.

The steps, and why the estate stays consistent if the process dies at any point:

1. take the dataset's lock; settle the schema and mode (:func:`_plan`); roll
   back any Delta commits a killed ingest left (:func:`_roll_back`);
2. read the file through DuckDB and run the validation query (see validate.py);
   append and upsert also check keys against the current version's rows;
3. stream valid rows into a new Delta commit of ``table/`` (an overwrite, an
   append or a merge, by mode) and rejected rows, with every reason, into a new
   commit of ``quarantine/`` (:func:`_write_version`);
4. record the version's :class:`Lineage` and its audit entry in the catalogue in
   one transaction (:func:`_commit`).

Step 4 is the commit point. Until it happens, readers keep opening the Delta
versions the catalogue names, so a half-finished ingest is never visible. A
failure in steps 2-3 rolls its Delta commits back at once.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
from deltalake.exceptions import DeltaError

import joinedup
from joinedup.access import authorize
from joinedup.audit import record
from joinedup.errors import EstateError, InputError, JoinedupError, SchemaError
from joinedup.estate import MODES, Catalogue, Estate, Lineage, VersionInfo, check_dataset_name
from joinedup.ingest.columns import match_columns
from joinedup.ingest.readers import Reject, Source, open_source, staged_size
from joinedup.ingest.source import row_numbers
from joinedup.ingest.validate import STORED_ROWS, build_query, macros_needed, preparation
from joinedup.quality import Prescan, measure_after_ingest, schema_rules
from joinedup.schema import Schema
from joinedup.storage import delta
from joinedup.storage.duck import connect, error_kind, interrupted, size_in_bytes
from joinedup.storage.scratch import new_folder as scratch_folder

#: Called with (stage, fraction done or None when unknown).
Progress = Callable[[str, float | None], None]
_BATCH_ROWS = 122_880
ERROR_TYPE = pa.list_(
    pa.struct([("column", pa.string()), ("rule", pa.string()), ("value", pa.string()), ("message", pa.string())])
)
_PIPELINE = f"joinedup {joinedup.__version__} ingest"


@dataclass(frozen=True)
class IngestResult(Lineage):
    """The summary of one ingest: the new version's lineage, and what the run noticed on the way."""

    dataset: str
    version: int
    schema_version: int
    columns_ignored: list[str] = field(default_factory=list)
    recovered: bool = False
    seconds: float = 0.0
    #: The new version's quality (scores, failing rules, drift, cost), or ``{"error": ...}``; never fails the ingest.
    quality: dict[str, Any] | None = None

    @property
    def source(self) -> str:
        return self.source_name

    @property
    def encoding(self) -> str | None:
        return self.source_encoding

    @property
    def counts_by_rule(self) -> dict[str, int]:
        """``{rule: count}`` over all columns."""
        return _by_rule(self.rule_counts)

    def to_dict(self) -> dict[str, Any]:
        return {
            **super().to_dict(),
            "source": self.source,
            "encoding": self.encoding,
            "counts_by_rule": self.counts_by_rule,
        }


@dataclass(frozen=True)
class _Plan:
    """What an ingest is about to do, settled before any data is read."""

    dataset: str
    path: Path
    schema: Schema
    mode: str
    current: VersionInfo | None
    schema_changed: bool

    @property
    def number(self) -> int:
        return (self.current.number if self.current else 0) + 1

    @property
    def stored(self) -> bool:
        """The file's keys are checked against the dataset's rows: an append's duplicates, an upsert's deletions.

        An upsert without deletions needs no such check: the merge itself tells inserts from updates.
        """
        if self.current is None:
            return False
        return self.mode == "append" or (self.mode == "upsert" and self.schema.deletion_flag is not None)


@dataclass(frozen=True)
class _Written:
    """The Delta commits of one ingest, and the run that made them."""

    table: delta.Committed
    quarantine_version: int | None
    quarantined: int
    run: _Run
    #: The quality scan of the kept rows, started once they were written (see quality.Prescan).
    prescan: Prescan | None = None

    @property
    def rows(self) -> pa.Table | None:
        """The new version's whole table, when the run kept it (a replace within its memory budget)."""
        return self.run.kept_table()


def ingest(
    estate: Estate,
    path: Path,
    *,
    dataset: str,
    principal: str,
    schema: Schema | None = None,
    mode: str = "replace",
    fmt: str | None = None,
    encoding: str | None = None,
    delimiter: str = ",",
    sheet: str | None = None,
    header_row: int | None = None,
    progress: Progress | None = None,
) -> IngestResult:
    """Ingest ``path`` as a new version of ``dataset``, acting as ``principal``.

    ``mode`` says how the file's valid rows combine with the current version:
    ``replace`` it, ``append`` to it, or ``upsert`` into it by primary key.
    The principal needs the right to load the dataset, and to change its schema
    when ``schema`` differs from the stored one. The audit entry commits in the
    same transaction as the version.
    """
    started = time.perf_counter()
    notify = progress or _silent
    check_dataset_name(dataset)
    if mode not in MODES:
        raise InputError(f"ingest mode {mode!r}: expected one of {', '.join(MODES)}")
    authorize(estate, principal, "dataset.ingest", dataset=dataset)
    with estate.lock(dataset):
        plan = _plan(estate, path, dataset, schema, mode)
        if plan.schema_changed:
            authorize(estate, principal, "dataset.schema", dataset=dataset)
        recovered = _roll_back(estate, plan)
        try:
            written = _write_version(
                estate,
                plan,
                notify,
                fmt=fmt,
                encoding=encoding,
                delimiter=delimiter,
                sheet=sheet,
                header_row=header_row,
            )
        except BaseException:
            # Nothing is visible before the catalogue commit, but the next reader should not find the debris either.
            _roll_back(estate, plan)
            raise
        try:
            lineage = _lineage(plan, written)
            notify("committing", None)
            result = _commit(
                estate, plan, lineage, principal, columns_ignored=written.run.columns_ignored, recovered=recovered
            )
        except BaseException:
            if written.prescan is not None:
                written.prescan.stop()
            raise
    # After the commit point: the version stands whatever measuring it does.
    notify("quality", None)
    quality = measure_after_ingest(
        estate, dataset, result.version, principal, rows=written.rows, prescan=written.prescan
    )
    notify("done", 1.0)
    return replace(result, seconds=round(time.perf_counter() - started, 3), quality=quality)


def _silent(stage: str, fraction: float | None) -> None:
    return None


def _plan(estate: Estate, path: Path, dataset: str, schema: Schema | None, mode: str) -> _Plan:
    """The schema to validate with and the version to build on; refuses a mode the schema cannot serve."""
    info = Catalogue(estate).find(dataset)
    stored = Schema.from_dict(info.schema, f"stored schema of {dataset!r}") if info and info.schema else None
    if schema is None:
        if stored is None:
            raise SchemaError(
                f"dataset {dataset!r} has no schema yet: pass --schema (make one with `joinedup schema infer {path}`)"
            )
        schema = stored
    # Bad quality rules in the schema stop the ingest before any data is read, as a bad field would.
    schema_rules(
        schema, source="the schema's quality section" if schema is not stored else f"stored schema of {dataset!r}"
    )
    if mode != "replace":
        if not schema.primary_key:
            raise SchemaError(
                f"--mode {mode} into {dataset!r} needs a primaryKey in the schema: rows are matched by it"
            )
        if stored is not None:
            _check_compatible(dataset, mode, stored, schema)
    changed = stored is not None and stored.digest() != schema.digest()
    return _Plan(dataset, path, schema, mode, info.current if info else None, changed)


def _check_compatible(dataset: str, mode: str, stored: Schema, schema: Schema) -> None:
    """Append and upsert add to stored rows: the columns, key and personal columns must stay as they are."""
    before = {f.name: f.type for f in stored.fields}
    after = {f.name: f.type for f in schema.fields}
    problems = [f"adds {name!r}" for name in after if name not in before]
    problems += [f"drops {name!r}" for name in before if name not in after]
    problems += [
        f"changes {name!r} from {before[name]} to {after[name]}"
        for name in after
        if before.get(name, after[name]) != after[name]
    ]
    # Files carried over keep the statistics they were written with: only a replace rewrites them all.
    problems += [
        f"marks {f.name!r} personal"
        for f in schema.personal_fields
        if f.name in before and not stored.field(f.name).personal
    ]
    if stored.primary_key != schema.primary_key:
        problems.append(f"changes the primary key from {list(stored.primary_key)} to {list(schema.primary_key)}")
    if problems:
        raise SchemaError(
            f"--mode {mode} into {dataset!r}: the schema {'; '.join(problems)}; "
            "only --mode replace changes a dataset's columns, types, key or personal columns"
        )


def _roll_back(estate: Estate, plan: _Plan) -> bool:
    """Undo Delta commits the catalogue does not name (left by a killed or failed ingest)."""
    current = plan.current
    recovered = delta.discard_uncatalogued(estate.table_path(plan.dataset), current.table_version if current else None)
    recovered |= delta.discard_uncatalogued(
        estate.quarantine_path(plan.dataset), current.quarantine_version if current else None
    )
    return recovered


def _write_version(estate: Estate, plan: _Plan, notify: Progress, **reading: Any) -> _Written:
    """Validate the file and commit its rows and its quarantine to Delta (not yet to the catalogue)."""
    scratch = scratch_folder(estate.tmp_dir, "ingest")
    prescan: list[Prescan] = []
    try:
        with _one_line_errors(estate, plan):
            table, run = _validate_and_store(estate, plan, scratch, notify, reading, prescan)
            notify("quarantine", None)
            quarantined = run.quarantine_table()
            quarantine_version = _store_quarantine(estate, plan, quarantined)
    except BaseException:
        for started in prescan:
            started.stop()
        raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return _Written(table, quarantine_version, quarantined.num_rows, run, prescan[0] if prescan else None)


def _validate_and_store(
    estate: Estate, plan: _Plan, scratch: Path, notify: Progress, reading: dict[str, Any], prescan: list[Prescan]
) -> tuple[delta.Committed, _Run]:
    """Read the file, run the validation query and stream its valid rows into the table.

    Once they are written, the quality scan of the kept rows starts (into ``prescan``),
    to run beside the rejected rows' pass, the quarantine and the commit.
    """
    with connect(
        memory_limit=estate.config.memory_limit,
        threads=estate.config.threads,
        temp_dir=scratch / "spill",
        database=_staging_database(plan.path, estate.config.memory_limit, scratch, reading),
        macros=macros_needed(plan.schema),
    ) as con:
        con.execute("SET TimeZone = 'UTC'")
        notify("reading", None)
        source = open_source(con, plan.path, scratch_dir=scratch, schema=plan.schema, **reading)
        try:
            positions, ignored = match_columns(plan.schema, source.columns, plan.path, source.header_row)
            mapping = {name: f"c{i}" for name, i in positions.items()}
            run = _Run(plan.schema, plan.number, source, ignored, positions, keep=_keep_budget(estate, plan))
            with _Poll(con, notify if notify is not _silent else None):
                run.split_rows, last_row = _prepare(con, estate, plan, mapping, source)
                run.marked = np.zeros(last_row + 1, dtype=bool)
                # Two passes: the valid rows stream to the table straight from DuckDB, then the
                # query runs again, building every reason, over only the rows the first did not
                # return. Splitting one output instead copied every valid row once more in Arrow
                # and carried a column of original text per field for every row (together about a
                # fifth of the CPU time of validating and writing).
                valid_query = build_query(
                    plan.schema, mapping, source.relation, mode=plan.mode, stored=plan.stored, rows="valid"
                )
                reader = con.sql(_with_version(valid_query, plan.number)).to_arrow_reader(_BATCH_ROWS)
                valid = pa.RecordBatchReader.from_batches(run.output_schema(reader.schema), run.pass_on(reader))
                committed = _store(estate, plan, run, valid)
                kept = run.kept_table()
                if kept is not None:
                    prescan.append(Prescan(estate, plan.dataset, plan.schema, kept))
                    prescan[-1].start()  # once in the list: a failure from here on stops it
                run.find_rejected(con, _rejected_query(con, plan, mapping, source, run))
                run.keep_unsplit(con)
                run.count_rules(con)
                return committed, run
        finally:
            source.cleanup()


def _with_version(query: str, number: int) -> str:
    """``query``'s rows with the version number as ``_ingest``.

    A column from DuckDB: building it in Arrow from a Python int would import pandas
    (a quarter of a second), which pyarrow loads on such calls.
    """
    return f"SELECT CAST({int(number)} AS INTEGER) AS _ingest, * FROM ({query})"


def _rejected_query(
    con: duckdb.DuckDBPyConnection, plan: _Plan, mapping: dict[str, str], source: Source, run: _Run
) -> str:
    """The validation query, with every reason, over the rows the valid pass did not return."""
    relation = source.other_rows(con, run.marked)
    query = build_query(plan.schema, mapping, relation, mode=plan.mode, stored=plan.stored, rows="rejected")
    return _with_version(query, plan.number)


def _prepare(
    con: duckdb.DuckDBPyConnection, estate: Estate, plan: _Plan, mapping: dict[str, str], source: Source
) -> tuple[int, int]:
    """Run the statements the validation query joins against.

    Returns how many rows the reader split into columns, and the highest of their row numbers.
    """
    if plan.stored:
        assert plan.current is not None
        con.register(STORED_ROWS, delta.snapshot(estate.table_path(plan.dataset), plan.current.table_version))
    for statement in preparation(plan.schema, mapping, source.relation, mode=plan.mode, stored=plan.stored):
        con.execute(statement)
    [(split_rows, last_row)] = con.execute(
        f"SELECT count(*), coalesce(max(_source_row), 0) FROM {source.relation}"
    ).fetchall()
    return int(split_rows), int(last_row)


def _store(estate: Estate, plan: _Plan, run: _Run, valid: pa.RecordBatchReader) -> delta.Committed:
    """Write the valid rows as the mode says."""
    schema = plan.schema
    target = estate.table_path(plan.dataset)
    personal = [f.name for f in schema.personal_fields]
    columns = [*delta.SYSTEM_COLUMNS, *schema.names]
    if plan.mode == "upsert" and plan.current is not None:
        return delta.merge(
            target,
            valid,
            keys=schema.primary_key,
            deletion_flag=schema.deletion_flag,
            personal_columns=personal,
            all_columns=columns,
        )
    version = delta.write(
        target,
        valid,
        mode="append" if plan.mode == "append" and plan.current is not None else "overwrite",
        personal_columns=personal,
        all_columns=columns,
        description=f"joinedup ingest ({plan.mode}) of {plan.path.name} as version {plan.number}",
    )
    return delta.Committed(version, inserted=run.loaded, updated=0, deleted=0)


def _store_quarantine(estate: Estate, plan: _Plan, quarantined: pa.Table) -> int | None:
    """Append the rejected rows to the quarantine; the quarantine's Delta version afterwards."""
    current = plan.current.quarantine_version if plan.current else None
    if not quarantined.num_rows:
        return current
    return delta.write(
        estate.quarantine_path(plan.dataset),
        quarantined,
        mode="append",
        personal_columns=[c for c in quarantined.column_names if c not in delta.SYSTEM_COLUMNS],
        all_columns=quarantined.column_names,
    )


def _lineage(plan: _Plan, written: _Written) -> Lineage:
    """The version's lineage, refused unless every row read is accounted for (nothing lost)."""
    before = plan.current.rows_total if plan.current and plan.mode != "replace" else 0
    source, table = written.run.source, written.table
    lineage = Lineage(
        mode=plan.mode,
        source_name=plan.path.name,
        source_sha256=source.sha256,
        source_bytes=source.size,
        source_format=source.format,
        source_encoding=source.encoding,
        pipeline=_PIPELINE,
        rows_above_header=source.rows_above_header,
        table_version=table.version,
        quarantine_version=written.quarantine_version,
        rows_read=written.run.split_rows + len(source.rejects),
        rows_inserted=table.inserted,
        rows_updated=table.updated,
        rows_deleted=table.deleted,
        rows_quarantined=written.quarantined,
        rows_total=before + table.inserted - table.deleted,
        rule_counts=written.run.rule_counts(),
    )
    if not lineage.accounts_for_every_row():
        raise EstateError(
            f"ingest of {plan.path}: read {lineage.rows_read} rows but inserted {lineage.rows_inserted}, updated "
            f"{lineage.rows_updated}, deleted {lineage.rows_deleted} and quarantined {lineage.rows_quarantined}; "
            "nothing was recorded"
        )
    return lineage


def _commit(
    estate: Estate, plan: _Plan, lineage: Lineage, principal: str, *, columns_ignored: list[str], recovered: bool
) -> IngestResult:
    """Record the version and its audit entry in one transaction: the commit point of the ingest."""
    schema = plan.schema
    with estate.session() as session:
        version = Catalogue.record_version(
            session,
            dataset=plan.dataset,
            schema=schema.to_dict(),
            schema_digest=schema.digest(),
            principal=principal,
            lineage=lineage,
        )
        assert version.number == plan.number, "the dataset lock should make version numbers predictable"
        record(
            session,
            estate,
            principal=principal,
            action="dataset.ingest",
            dataset=plan.dataset,
            dataset_version=version.number,
            columns=schema.names,
            row_count=lineage.rows_loaded,
            detail={
                **lineage.audit_detail(),
                "schema_version": version.schema_number,
                "schema_changed": plan.schema_changed,
            },
        )
    return IngestResult(
        **{f.name: getattr(lineage, f.name) for f in fields(Lineage)},
        dataset=plan.dataset,
        version=version.number,
        schema_version=version.schema_number,
        columns_ignored=columns_ignored,
        recovered=recovered,
    )


@contextlib.contextmanager
def _one_line_errors(estate: Estate, plan: _Plan) -> Iterator[None]:
    """Turn a failure of DuckDB, Arrow or Delta while validating or writing into one line naming the file.

    Their messages can quote values from the file, so only the kind of failure
    and the column (when the message names one) are shown.
    """
    what = f"{plan.path}: ingest into {plan.dataset!r} failed"
    try:
        yield
    except JoinedupError:
        raise
    except (duckdb.OutOfMemoryException, MemoryError):
        raise EstateError(
            f"{what}: out of memory (memory_limit {estate.config.memory_limit}); raise memory_limit in "
            f"joinedup.toml or split the file; nothing was recorded"
        ) from None
    except (duckdb.Error, pa.ArrowException, DeltaError, OSError) as exc:
        if interrupted(exc):
            raise  # stopped, not failed: the command ends as interrupted
        column = _column_named(str(exc), plan.schema)
        where = f" in column {column!r}" if column else ""
        raise EstateError(f"{what}{where} ({error_kind(exc)}); nothing was recorded") from None


# The raw (c3), trimmed (_v3), standardised (_s3) and kept (_raw_3) forms of field 3 in the validation query.
_COLUMN_ALIAS = re.compile(r"\b(?:c|_v|_s|_raw_)(\d+)\b")


def _column_named(message: str, schema: Schema) -> str | None:
    found = _COLUMN_ALIAS.search(message)
    if found and int(found.group(1)) < len(schema.fields):
        return schema.fields[int(found.group(1))].name
    return None


def _keep_budget(estate: Estate, plan: _Plan) -> int:
    """Bytes of valid rows to keep in memory for measuring quality after the commit; 0 keeps none.

    Only when the version will hold nothing but this file's valid rows (a replace,
    or the first version) are they the version's whole table. A quarter of the
    memory limit bounds them; past it, quality reads the version back instead.
    """
    if plan.mode != "replace" and plan.current is not None:
        return 0
    return size_in_bytes(estate.config.memory_limit) // 4


def _staging_database(path: Path, memory_limit: str, scratch: Path, reading: dict[str, Any]) -> Path | None:
    """A file for DuckDB to stage in when the input may not fit in memory; else None (faster).

    Only a file-backed database can move staged rows out of memory; for inputs
    well within the limit the in-memory one saves writing them to disk. The rows
    are measured as staged, not as the file's size: a CSV of empty cells takes many times it.
    """
    staged = staged_size(path, reading.get("fmt"), reading.get("delimiter", ",")) if path.is_file() else 0
    if staged * 4 > size_in_bytes(memory_limit):
        return scratch / "stage.duckdb"
    return None


class _Run:
    """Splits the validation output: valid rows stream on to Delta, rejected rows are kept for quarantine."""

    def __init__(
        self,
        schema: Schema,
        number: int,
        source: Source,
        columns_ignored: list[str],
        positions: dict[str, int],
        *,
        keep: int = 0,
    ) -> None:
        self.schema = schema
        self.number = number
        self.source = source
        self.columns_ignored = columns_ignored
        #: Field name → the file's column it was matched to.
        self.positions = positions
        #: Rows the reader split into columns (the validation query's input).
        self.split_rows = 0
        self.loaded = 0
        self.rejected: list[pa.RecordBatch] = []
        #: A mark per row number (``_source_row``), set for each valid row as it passes: one byte a row.
        self.marked = np.zeros(0, dtype=bool)
        #: The valid batches as written, while they fit in ``keep`` bytes; None once they do not.
        self.kept: list[pa.RecordBatch] | None = [] if keep > 0 else None
        self.keep = keep
        self.kept_bytes = 0
        self.written_schema: pa.Schema | None = None
        self.unsplit: pa.Table | None = None
        #: (column, rule, rows) of the rejected rows' reasons.
        self.reasons: list[tuple[str, str, int]] = []

    def output_schema(self, query_schema: pa.Schema) -> pa.Schema:
        fields = [query_schema.field(name) for name in self.schema.names]
        self.written_schema = pa.schema(
            [pa.field("_ingest", pa.int32(), nullable=False), query_schema.field("_source_row"), *fields]
        )
        return self.written_schema

    def pass_on(self, reader: pa.RecordBatchReader) -> Iterator[pa.RecordBatch]:
        """The valid rows as they go to the table, noting their row numbers for the rejected pass."""
        for batch in reader:
            if batch.num_rows:
                self.loaded += batch.num_rows
                self.marked[row_numbers([batch.column("_source_row")])] = True
                self._keep(batch)
                yield batch

    def find_rejected(self, con: duckdb.DuckDBPyConnection, query: str) -> None:
        """Run the rejected rows' query; every row the valid pass did not return must come back with reasons."""
        self.rejected = con.sql(query).to_arrow_table().to_batches()
        found = sum(b.num_rows for b in self.rejected)
        if self.loaded + found != self.split_rows:
            # The two passes are one query filtered two ways: this only fails if that stops being so.
            raise EstateError(
                f"{self.source.path}: ingest failed: the validation passes found {self.loaded} valid and {found} "
                f"rejected rows of {self.split_rows}; nothing was recorded"
            )

    def _keep(self, batch: pa.RecordBatch) -> None:
        if self.kept is None:
            return
        self.kept_bytes += batch.nbytes
        if self.kept_bytes > self.keep:
            self.kept = None  # over budget: let them go; quality reads the version back
        else:
            self.kept.append(batch)

    def kept_table(self) -> pa.Table | None:
        if self.kept is None or self.written_schema is None:
            return None
        return pa.Table.from_batches(self.kept) if self.kept else self.written_schema.empty_table()

    def quarantine_schema(self) -> pa.Schema:
        return pa.schema(
            [("_ingest", pa.int32()), ("_source_row", pa.int64()), ("_errors", ERROR_TYPE), ("_line", pa.string())]
            + [(name, pa.string()) for name in self.schema.names]
        )

    def keep_unsplit(self, con: duckdb.DuckDBPyConnection) -> None:
        """The rows the reader could not split, as quarantine rows (built while the connection is open)."""
        if self.source.rejects:
            schema = self.quarantine_schema()
            self.unsplit = _reject_table(con, self.source.rejects, self.number, schema, self.positions)

    def quarantine_table(self) -> pa.Table:
        """Rejected rows with every reason and their original text, plus rows that did not split."""
        fields = self.schema.names
        schema = self.quarantine_schema()
        parts = [] if self.unsplit is None else [self.unsplit]
        for batch in self.rejected:
            n = batch.num_rows
            parts.append(
                pa.table(
                    [
                        batch.column("_ingest"),
                        batch.column("_source_row"),
                        batch.column("_errors").cast(ERROR_TYPE),
                        pa.nulls(n, pa.string()),
                        *(batch.column(f"_raw_{i}") for i in range(len(fields))),
                    ],
                    schema=schema,
                )
            )
        if not parts:
            return schema.empty_table()
        return pa.concat_tables(parts).sort_by("_source_row")

    def count_rules(self, con: duckdb.DuckDBPyConnection) -> None:
        """Count the rejected rows' reasons by column and rule (while the connection is open).

        In DuckDB, not Arrow: Arrow's grouping loads pyarrow.dataset, and with it pandas.
        """
        if not self.rejected:
            return
        con.register("_rejected", pa.Table.from_batches(self.rejected))
        try:
            self.reasons = con.execute(
                'SELECT e."column", e."rule", count(*) FROM (SELECT unnest("_errors") AS e FROM "_rejected") '
                "GROUP BY ALL"
            ).fetchall()
        finally:
            con.unregister("_rejected")

    def rule_counts(self) -> dict[str, dict[str, int]]:
        counts: dict[str, dict[str, int]] = defaultdict(dict)
        for column, rule, count in self.reasons:
            counts[column][rule] = count
        for reject in self.source.rejects:
            counts["(row)"][reject.rule] = counts["(row)"].get(reject.rule, 0) + 1
        return {column: dict(sorted(rules.items())) for column, rules in sorted(counts.items())}


def _reject_table(
    con: duckdb.DuckDBPyConnection, rejects: list[Reject], number: int, schema: pa.Schema, positions: dict[str, int]
) -> pa.Table:
    """Rows that did not split, as quarantine rows.

    DuckDB builds the table from the readers' lists: building it with ``pa.array``
    would import pandas (a quarter of a second), which pyarrow loads for such calls.
    """
    fields = schema.names[4:]
    # A line that split unambiguously keeps its schema fields' cells, so those who may not
    # see the whole line (it can hold columns outside the schema) still see those.
    lists: list[list[Any]] = [
        [r.source_row for r in rejects],
        [r.rule for r in rejects],
        [r.text for r in rejects],
        [r.problem for r in rejects],
        *([r.cells[positions[name]] if r.cells else None for r in rejects] for name in fields),
    ]
    unnested = ", ".join(f"unnest(${i + 1}) AS u{i}" for i in range(len(lists)))
    cells = "".join(f", CAST(u{4 + j} AS VARCHAR)" for j in range(len(fields)))
    query = (
        f"SELECT CAST({int(number)} AS INTEGER), CAST(u0 AS BIGINT), "
        "[{'column': '(row)', 'rule': CAST(u1 AS VARCHAR), 'value': CAST(u2 AS VARCHAR), "
        f"'message': CAST(u3 AS VARCHAR)}}], CAST(u2 AS VARCHAR){cells} FROM (SELECT {unnested})"
    )
    table = con.sql(query, params=lists).to_arrow_table()
    return table.rename_columns(schema.names).cast(schema)


def _by_rule(rule_counts: dict[str, dict[str, int]]) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for rules in rule_counts.values():
        for rule, count in rules.items():
            totals[rule] += count
    return dict(sorted(totals.items()))


class _Poll:
    """Reports DuckDB's own progress on the validation query while it runs."""

    def __init__(self, con: duckdb.DuckDBPyConnection, notify: Progress | None) -> None:
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
