"""Read-only SQL over the estate's datasets, each visible as a view named after it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa

from joinedup.errors import QueryError
from joinedup.estate import Catalogue, Estate
from joinedup.storage import delta
from joinedup.storage.duck import connect, error_kind, lock_down


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


def referenced_datasets(estate: Estate, sql: str) -> dict[str, int]:
    """Check ``sql`` is one read-only query and name the datasets it reads (at their current versions)."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryError(f"query: {_first_line(exc)}") from None
    if len(statements) != 1:
        raise QueryError(f"query: expected exactly one statement, got {len(statements)}")
    if statements[0].type != duckdb.StatementType.SELECT:
        kind = statements[0].type.name
        raise QueryError(f"query: only SELECT queries are allowed (this is {kind}); the estate is read-only here")
    try:
        with connect() as probe:
            names = probe.get_table_names(sql, qualified=False)
    except duckdb.Error as exc:
        raise QueryError(f"query: {_first_line(exc)}") from None
    catalogue = {info.name: info for info in Catalogue(estate).datasets()}
    used: dict[str, int] = {}
    # SQL names are case-insensitive; dataset names are lower case.
    for name in sorted({n.lower() for n in names}):
        info = catalogue.get(name)
        if info is not None and info.current is not None:
            used[name] = info.current.number
    return used


def run_query(estate: Estate, sql: str, *, datasets: dict[str, int], limit: int | None = None) -> QueryResult:
    """Run a query already checked by :func:`referenced_datasets` over exactly those dataset versions."""
    catalogue = Catalogue(estate)
    with connect(memory_limit=estate.config.memory_limit, threads=estate.config.threads) as con:
        for name, number in datasets.items():
            version = catalogue.get(name).version(number)
            con.register(name, delta.snapshot(estate.table_path(name), version.table_version))
        con.execute("SET TimeZone = 'UTC'")
        lock_down(con)
        try:
            relation = con.sql(sql)  # parsed and bound: errors here are about the SQL, not the data
        except duckdb.Error as exc:
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
            # A message from running can quote values from the data (a failed cast,
            # error(...) over a column): say what kind of failure, not the message.
            raise QueryRunError(f"query: failed while running ({error_kind(exc)}); DuckDB's message is not shown, as it can quote values from the data") from None
    table = pa.Table.from_batches(batches, schema=reader.schema)
    truncated = limit is not None and table.num_rows > limit
    if truncated:
        table = table.slice(0, limit)
    rows = list(zip(*(column.to_pylist() for column in table.columns), strict=True))
    return QueryResult(table.column_names, rows, dict(datasets), truncated)


class QueryRunError(QueryError):
    """The query was valid SQL but failed while running over the data."""


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0]
