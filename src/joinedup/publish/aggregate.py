"""Aggregate releases: ``count by la_code, year`` with small-number suppression, in DuckDB.

Every cell of the CUBE (each combination and every total) is computed; cells
counting fewer than the threshold are suppressed (primary), then more cells are
suppressed (secondary) until no suppressed cell can be recovered by subtracting
published cells from a published total. A "line" is a total and the cells that
add up to it along one dimension; a line with exactly one suppressed member
leaks it, so the smallest published member of such a line is suppressed too,
repeated until no line has exactly one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import duckdb

from joinedup.publish.errors import PublishError
from joinedup.storage.duck import quote_identifier as q

#: What a rolled-up dimension shows in the release, and what a suppressed cell shows.
TOTAL = "Total"
SUPPRESSED = "[c]"
DEFAULT_THRESHOLD = 10
MEASURES = ("count", "sum", "mean")

_SPEC = re.compile(
    r"^\s*(?P<measure>count|sum|mean)(?:\s+(?:of\s+)?(?P<column>[^\s,]+))?\s+by\s+(?P<by>.+?)\s*$", re.IGNORECASE
)


@dataclass(frozen=True)
class AggregateSpec:
    measure: str
    column: str | None
    by: tuple[str, ...]

    @property
    def value_name(self) -> str:
        return self.measure if self.column is None else f"{self.measure}_{self.column}"

    def text(self) -> str:
        of = f" {self.column}" if self.column else ""
        return f"{self.measure}{of} by {', '.join(self.by)}"


def parse_aggregate(text: str) -> AggregateSpec:
    """``"count by la_code, year"``, ``"sum amount by la_code"``, ``"mean of age by year"``."""
    match = _SPEC.match(text)
    if not match:
        raise PublishError("--aggregate: expected 'count by COL[, COL...]' or 'sum|mean COLUMN by COL[, COL...]'")
    measure = match["measure"].lower()
    column = match["column"]
    if measure == "count" and column:
        raise PublishError("--aggregate: count takes no column ('count by la_code, year')")
    if measure != "count" and not column:
        raise PublishError(f"--aggregate: {measure} needs a numeric column ('{measure} amount by la_code')")
    by = tuple(part.strip() for part in match["by"].split(","))
    if any(not part for part in by) or len(set(by)) != len(by):
        raise PublishError("--aggregate: list each grouping column once, separated by commas")
    if column in by:
        raise PublishError(f"--aggregate: {column!r} cannot be both measured and grouped by")
    return AggregateSpec(measure, column, by)


@dataclass(frozen=True)
class Cells:
    """The CUBE in table ``cells`` of the connection: dims as text, ``gid``, ``n``, ``value``, ``primary_s``, ``s``."""

    primary: int
    secondary: int
    total: int


def build_cells(con: duckdb.DuckDBPyConnection, source: str, spec: AggregateSpec, threshold: int) -> Cells:
    """Compute the CUBE of ``source`` into table ``cells`` and suppress it; counts of what was suppressed."""
    dims = [q(d) for d in spec.by]
    value = {
        "count": "count(*)",
        "sum": f"sum({q(spec.column or '')})",
        "mean": f"avg({q(spec.column or '')})",
    }[spec.measure]
    keys = ", ".join(f"CAST({d} AS VARCHAR) AS {d}" for d in dims)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE cells AS SELECT row_number() OVER () AS id, "
        f"GROUPING({', '.join(dims)}) AS gid, {keys}, count(*) AS n, {value} AS value, "
        f"count(*) < {int(threshold)} AS primary_s, count(*) < {int(threshold)} AS s "
        f"FROM {source} GROUP BY CUBE ({', '.join(dims)})"
    )
    secondary_suppression(con, spec.by)
    [(primary, secondary, total)] = con.execute(
        "SELECT count(*) FILTER (primary_s), count(*) FILTER (s AND NOT primary_s), count(*) FROM cells"
    ).fetchall()
    return Cells(primary, secondary, total)


def secondary_suppression(con: duckdb.DuckDBPyConnection, by: tuple[str, ...]) -> None:
    """Suppress more cells of ``cells`` until no line has exactly one suppressed member.

    The loop runs over rounds, not rows: each round is one set-based UPDATE per
    dimension, and the set of suppressed cells only grows, so it ends.
    """
    dims = [q(d) for d in by]
    while True:
        changed = 0
        for position, dim in enumerate(dims):
            # GROUPING(a, b, c) gives a the highest bit.
            bit = 1 << (len(dims) - 1 - position)
            others = " AND ".join(f"c.{o} IS NOT DISTINCT FROM p.{o}" for o in dims if o != dim) or "TRUE"
            con.execute(
                f"""
                CREATE OR REPLACE TEMP TABLE line_members AS
                SELECT p.id AS line, c.id AS cell FROM cells c JOIN cells p
                  ON (c.gid & {bit}) = 0 AND p.gid = (c.gid | {bit}) AND {others}
                UNION ALL
                SELECT id, id FROM cells WHERE (gid & {bit}) <> 0
                """
            )
            picked = con.execute(
                """
                WITH leaking AS (
                  SELECT m.line FROM line_members m JOIN cells c ON c.id = m.cell
                  GROUP BY m.line HAVING count(*) FILTER (c.s) = 1
                ), pick AS (
                  SELECT arg_min(c.id, c.n * 1e12 + c.id) AS id FROM leaking l
                  JOIN line_members m ON m.line = l.line JOIN cells c ON c.id = m.cell
                  WHERE NOT c.s GROUP BY l.line
                )
                UPDATE cells SET s = TRUE WHERE id IN (SELECT id FROM pick)
                """
            ).fetchall()
            changed += sum(int(row[0]) for row in picked)
        if not changed:
            return


def released_cells(con: duckdb.DuckDBPyConnection, spec: AggregateSpec) -> duckdb.DuckDBPyRelation:
    """The cells as the CSV shows them: ``Total`` for a rolled-up dimension, ``[c]`` for a suppressed value."""
    dims = [q(d) for d in spec.by]
    shown = []
    for position, dim in enumerate(dims):
        bit = 1 << (len(dims) - 1 - position)
        shown.append(f"CASE WHEN (gid & {bit}) <> 0 THEN '{TOTAL}' ELSE {dim} END AS {dim}")
    number = "CAST(value AS VARCHAR)" if spec.measure != "mean" else "CAST(round(value, 2) AS VARCHAR)"
    value = f"CASE WHEN s THEN '{SUPPRESSED}' ELSE {number} END AS {q(spec.value_name)}"
    order = ", ".join(f"(gid & {1 << (len(dims) - 1 - i)}) <> 0, {d}" for i, d in enumerate(dims))
    return con.sql(f"SELECT {', '.join(shown)}, {value} FROM cells ORDER BY {order}")
