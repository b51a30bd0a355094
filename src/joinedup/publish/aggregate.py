"""Aggregate releases: ``count by la_code, year`` with small-number suppression, in DuckDB.

Every cell of the CUBE (each combination and every total) is computed; cells
counting fewer than the threshold are suppressed (primary), then more cells are
suppressed (secondary) until no suppressed cell can be recovered by subtracting
published cells from a published total. A "line" is a total and the cells that
add up to it along one dimension; a line with exactly one suppressed member
leaks it, so the smallest published member of such a line is suppressed too,
repeated until no line has exactly one.

With two grouping columns that is not enough: suppressed cells can each share
their lines with others and one can still be worked out from a combination of
lines. There the check is exact (:func:`close_cycles`): the table with its
totals is a grid whose every row and column adds up, a suppressed cell is an
edge between its row and its column, and a cell is determined by the published
ones exactly when its edge lies on no cycle (a bridge). Bridges are found in
linear time and each is closed by suppressing one more published cell.
With three or more grouping columns only the line rule applies
(docs/publishing.md says what that leaves open).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import duckdb
import pyarrow as pa

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
    if len(spec.by) == 2:
        close_cycles(con, spec.by)
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


#: Rounds of :func:`close_cycles` before giving up (each round suppresses at least one more cell).
MAX_ROUNDS = 200


def close_cycles(con: duckdb.DuckDBPyConnection, by: tuple[str, ...]) -> None:
    """Two grouping columns: suppress more cells of ``cells`` until no suppressed cell is a bridge."""
    first, second = (q(d) for d in by)
    # Row nodes are 1.. (0: the total row), column nodes -2.. (-1: the total column).
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE cell_nodes AS SELECT id,
          CASE WHEN (gid & 2) <> 0 THEN 0 ELSE dense_rank() OVER (ORDER BY {first}) END AS rn,
          CASE WHEN (gid & 1) <> 0 THEN -1 ELSE -1 - dense_rank() OVER (ORDER BY {second}) END AS cn
        FROM cells
        """
    )
    for _ in range(MAX_ROUNDS):
        edges = con.execute("SELECT n.rn, n.cn FROM cell_nodes n JOIN cells c ON c.id = n.id WHERE c.s").fetchall()
        nodes, bridges = _bridges(edges)
        if not bridges:
            return
        con.register(
            "graph_nodes", pa.table({k: [row[i] for row in nodes] for i, k in enumerate(("node", "comp", "tin"))})
        )
        con.register(
            "bridges", pa.table({k: [row[i] for row in bridges] for i, k in enumerate(("bid", "comp", "lo", "hi"))})
        )
        # A published cell joining the bridge's two sides puts it on a cycle: the smallest such cell is suppressed.
        picked = con.execute(
            """
            WITH crossing AS (
              SELECT b.bid, c.id, c.n FROM cells c JOIN cell_nodes e ON e.id = c.id
              JOIN graph_nodes x ON x.node = e.rn JOIN graph_nodes y ON y.node = e.cn AND y.comp = x.comp
              JOIN bridges b ON b.comp = x.comp
              WHERE NOT c.s AND (x.tin BETWEEN b.lo AND b.hi) <> (y.tin BETWEEN b.lo AND b.hi)
            )
            UPDATE cells SET s = TRUE
            WHERE id IN (SELECT arg_min(id, n * 1e12 + id) FROM crossing GROUP BY bid)
            """
        ).fetchall()
        con.unregister("graph_nodes")
        con.unregister("bridges")
        if not sum(int(row[0]) for row in picked):
            break
    raise PublishError(
        "--aggregate: suppression could not protect every small cell of this table; "
        "group by fewer values or raise --threshold"
    )


def _bridges(edges: Sequence[tuple[int, int]]) -> tuple[list[tuple[int, int, int]], list[tuple[int, int, int, int]]]:
    """Tarjan's bridge search over the suppressed cells' graph, without recursion.

    Returns every node as ``(node, component, entry time)`` and every bridge as
    ``(number, component, lo, hi)``: the nodes on the far side of the bridge are those
    of the component entered at times ``lo`` to ``hi``.
    """
    adjacent: dict[int, list[tuple[int, int]]] = {}
    for index, (a, b) in enumerate(edges):
        adjacent.setdefault(a, []).append((b, index))
        adjacent.setdefault(b, []).append((a, index))
    tin: dict[int, int] = {}
    low: dict[int, int] = {}
    comp: dict[int, int] = {}
    bridges: list[tuple[int, int, int, int]] = []
    clock = 0
    for root in adjacent:
        if root in tin:
            continue
        tin[root] = low[root] = clock
        comp[root] = root
        clock += 1
        stack: list[tuple[int, int, int]] = [(root, -1, 0)]  # node, edge it was entered by, next neighbour
        while stack:
            node, via, position = stack[-1]
            if position < len(adjacent[node]):
                stack[-1] = (node, via, position + 1)
                other, edge = adjacent[node][position]
                if edge == via:
                    continue
                if other in tin:
                    low[node] = min(low[node], tin[other])
                else:
                    tin[other] = low[other] = clock
                    comp[other] = root
                    clock += 1
                    stack.append((other, edge, 0))
                continue
            stack.pop()
            if stack:
                parent = stack[-1][0]
                low[parent] = min(low[parent], low[node])
                if low[node] > tin[parent]:
                    # Every node entered since ``node`` (up to now) lies beyond the bridge.
                    bridges.append((len(bridges), root, tin[node], clock - 1))
    return [(n, comp[n], tin[n]) for n in tin], bridges


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
