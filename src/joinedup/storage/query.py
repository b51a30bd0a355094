"""Read-only SQL over the estate's datasets, each visible as a view named after it."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa

from joinedup.errors import EstateError, QueryError
from joinedup.estate import Catalogue, Estate
from joinedup.storage import delta
from joinedup.storage.duck import error_kind, sealed

#: Seconds a query may take, checks and planning included, unless joinedup.toml says otherwise.
DEFAULT_TIME_LIMIT = 300.0


@dataclass
class QueryResult:
    columns: list[str]
    rows: list[tuple[Any, ...]]
    #: Dataset name → dataset version the query read.
    datasets: dict[str, int] = field(default_factory=dict)
    truncated: bool = False

    def records(self) -> list[dict[str, Any]]:
        """Rows as objects; a repeated column name gets ``_2``, ``_3`` … so no column is lost."""
        keys = unique_names(self.columns)
        return [dict(zip(keys, row, strict=True)) for row in self.rows]


def unique_names(names: list[str]) -> list[str]:
    """``names`` with repeats made distinct: ``["a", "a"]`` → ``["a", "a_2"]``."""
    seen: set[str] = set()
    result = []
    for name in names:
        candidate, n = name, 1
        while candidate in seen:
            n += 1
            candidate = f"{name}_{n}"
        seen.add(candidate)
        result.append(candidate)
    return result


def time_limit(estate: Estate) -> float:
    """Seconds a query may take: ``[query] time_limit_seconds`` in joinedup.toml, else :data:`DEFAULT_TIME_LIMIT`."""
    value = estate.config.extra.get("query", {}).get("time_limit_seconds", DEFAULT_TIME_LIMIT)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 1 <= value <= 86_400:
        raise EstateError(
            f"joinedup.toml: [query] time_limit_seconds must be a number of seconds from 1 to 86400, not {value!r}"
        )
    return float(value)


def query_deadline(estate: Estate) -> float:
    """The moment (on :func:`time.monotonic`'s clock) by which a query starting now must be done."""
    return time.monotonic() + time_limit(estate)


def referenced_datasets(estate: Estate, sql: str, *, deadline: float | None = None) -> dict[str, int]:
    """Check ``sql`` is one read-only query and name the datasets it reads (at their current versions)."""
    _check_text(sql)
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryError(f"query: {_first_line(exc)}") from None
    if len(statements) != 1:
        raise QueryError(f"query: expected exactly one statement, got {len(statements)}")
    if statements[0].type != duckdb.StatementType.SELECT:
        kind = statements[0].type.name
        raise QueryError(f"query: only SELECT queries are allowed (this is {kind}); the estate is read-only here")
    # Naming the tables binds the query, and binding a table function reads files:
    # it runs on a connection that can reach none.
    with sealed(estate.tmp_dir) as probe, _time_limit(estate, probe, deadline) as clock:
        try:
            names = probe.get_table_names(sql, qualified=False)
        except duckdb.Error as exc:
            clock.raise_if_expired()
            raise QueryError(f"query: {_first_line(exc)}") from None
    catalogue = {info.name: info for info in Catalogue(estate).datasets()}
    used: dict[str, int] = {}
    # SQL names are case-insensitive; dataset names are lower case.
    for name in sorted({n.lower() for n in names}):
        info = catalogue.get(name)
        if info is not None and info.current is not None:
            used[name] = info.current.number
    return used


def run_query(
    estate: Estate, sql: str, *, datasets: dict[str, int], limit: int | None = None, deadline: float | None = None
) -> QueryResult:
    """Run a query already checked by :func:`referenced_datasets` over exactly those dataset versions.

    ``deadline`` (from :func:`query_deadline`) defaults to the estate's time limit from now.
    """
    catalogue = Catalogue(estate)
    views: dict[str, Any] = {
        name: delta.snapshot(estate.table_path(name), catalogue.get(name).version(number).table_version)
        for name, number in datasets.items()
    }
    views.update(_key_views(estate, sql, datasets))
    with (
        sealed(
            estate.tmp_dir, views=views, memory_limit=estate.config.memory_limit, threads=estate.config.threads
        ) as con,
        _time_limit(estate, con, deadline) as clock,
    ):
        try:
            relation = con.sql(sql)  # parsed and bound: errors here are about the SQL, not the data
        except duckdb.Error as exc:
            clock.raise_if_expired()
            raise QueryError(f"query: {_first_line(exc)}") from None
        try:
            reader = relation.to_arrow_reader(10_000)
            batches = []
            count = 0
            for batch in reader:
                batches.append(batch)
                count += batch.num_rows
                if limit is not None and count > limit:
                    break
        except duckdb.Error as exc:
            clock.raise_if_expired()
            # A message from running can quote values from the data (a failed cast,
            # error(...) over a column): say what kind of failure, not the message.
            raise QueryRunError(
                f"query: failed while running ({error_kind(exc)}); DuckDB's "
                "message is not shown, as it can quote values from the data"
            ) from None
    table = pa.Table.from_batches(batches, schema=reader.schema)
    truncated = limit is not None and table.num_rows > limit
    if truncated:
        table = table.slice(0, limit)
    rows = list(zip(*(column.to_pylist() for column in table.columns), strict=True))
    return QueryResult(table.column_names, rows, dict(datasets), truncated)


#: Linkage's keys as views a query can join to: view → (entity, key column). Written by joinedup.linkage.
KEY_VIEWS = {"person_keys": ("person", "person_key"), "business_keys": ("business", "business_key")}


def _key_views(estate: Estate, sql: str, datasets: dict[str, int]) -> dict[str, pa.Table]:
    """``person_keys(dataset, id, person_key)`` (and business keys) for the records of the datasets the query reads.

    Keys are personal data: a query sees only the keys of datasets it was authorised to read.
    """
    import pyarrow.compute as pc

    found: dict[str, pa.Table] = {}
    for view, (entity, column) in KEY_VIEWS.items():
        path = estate.root / "linkage" / entity / "keys"
        if view not in sql.lower() or delta.latest_version(path) is None:
            continue
        wanted = pa.array(sorted(datasets), pa.string())
        table = delta.snapshot(path, int(delta.latest_version(path) or 0)).to_table(
            columns=["dataset", "id", "key"], filter=pc.field("dataset").isin(wanted)
        )
        found[view] = table.rename_columns(["dataset", "id", column])
    return found


class QueryRunError(QueryError):
    """The query was valid SQL but failed while running over the data."""


class QueryTimeout(QueryError):
    """The query was stopped at the estate's time limit."""


class _Clock:
    """Interrupts a connection at a deadline, unless stopped first."""

    def __init__(self, con: duckdb.DuckDBPyConnection, seconds: float, limit: float) -> None:
        self.limit = limit
        self.expired = False
        self._con = con
        self._lock = threading.Lock()
        self._stopped = False
        self._timer = threading.Timer(max(seconds, 0.0), self._interrupt)
        self._timer.daemon = True
        self._timer.start()

    def _interrupt(self) -> None:
        # Under the lock, so a connection is never interrupted after the query is over.
        with self._lock:
            if not self._stopped:
                self.expired = True
                self._con.interrupt()

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            self._timer.cancel()

    def raise_if_expired(self) -> None:
        if self.expired:
            raise QueryTimeout(
                f"query: stopped after {self.limit:g} seconds, the estate's time limit for a query; "
                "narrow it, or ask an admin to raise [query] time_limit_seconds in joinedup.toml"
            )


@contextlib.contextmanager
def _time_limit(estate: Estate, con: duckdb.DuckDBPyConnection, deadline: float | None) -> Iterator[_Clock]:
    """Interrupt ``con`` at ``deadline`` (default: the estate's time limit from now)."""
    limit = time_limit(estate)
    if deadline is None:
        deadline = time.monotonic() + limit
    clock = _Clock(con, deadline - time.monotonic(), limit)
    try:
        yield clock
    finally:
        clock.stop()


def _check_text(sql: str) -> None:
    if not sql.strip():
        raise QueryError("query: the query is empty; expected one SELECT statement")
    try:
        sql.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise QueryError(
            f"query: character {exc.start + 1} is not text (a byte that is not UTF-8?); expected a UTF-8 query"
        ) from None


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0]
