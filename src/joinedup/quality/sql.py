"""Rules as SQL: each row-level rule becomes two boolean expressions (applies, passes) in one aggregate scan.

Every rule of a version is measured by :func:`scan_sql` in one statement: a
single pass over the version's rows evaluates all the ``FILTER`` aggregates, and
each uniqueness rule's distinct count is a subquery DuckDB runs beside it; rules
that join another dataset go into :func:`joined_sql`, one more pass.
A failing row is named only by its surrogate key (``_ingest``, ``_source_row``),
packed into one integer so DuckDB keeps the few smallest with ``min(key, n)``
instead of collecting them all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from joinedup.quality.rules import JOINED, Rule
from joinedup.schema import Schema
from joinedup.standards import STANDARD_TYPES
from joinedup.storage.duck import quote_identifier as ident
from joinedup.storage.duck import quote_literal as lit

#: Failing rows' keys kept per rule.
SAMPLE = 5
#: ``_ingest`` and ``_source_row`` in one BIGINT: ``_ingest * 2^32 + _source_row``.
KEY_SHIFT = 2**32
KEY = f"(CAST(_ingest AS BIGINT) * {KEY_SHIFT} + _source_row)"
_SQL_TYPES = {
    "string": "VARCHAR", "any": "VARCHAR", "integer": "BIGINT", "year": "INTEGER", "number": "DOUBLE",
    "boolean": "BOOLEAN", "date": "DATE", "datetime": "TIMESTAMPTZ",
}  # fmt: skip
NUMERIC = frozenset({"BIGINT", "INTEGER", "DOUBLE"})


def sql_type(schema: Schema, column: str) -> str:
    fld = schema.field(column)
    if fld.type in STANDARD_TYPES:
        return STANDARD_TYPES[fld.type].sql_type
    return _SQL_TYPES.get(fld.type, "VARCHAR")


def empty_relation(schema: Schema) -> str:
    """A query with the stored table's columns and no rows (for checking expressions)."""
    columns = ", ".join(f"CAST(NULL AS {sql_type(schema, n)}) AS {ident(n)}" for n in schema.names)
    return f"SELECT CAST(NULL AS INTEGER) AS _ingest, CAST(NULL AS BIGINT) AS _source_row, {columns} LIMIT 0"


@dataclass(frozen=True)
class Compiled:
    """A row-level rule's SQL: the rows it applies to and those that pass (both booleans)."""

    rule: Rule
    applies: str
    passes: str


def compile_rule(rule: Rule, schema: Schema, loaded_at: datetime, references: dict[str, str]) -> Compiled | None:
    """The rule's two expressions, or None for a rule not measured row by row (quarantine, freshness, uniqueness)."""
    cols = [ident(c) for c in rule.columns]
    col = cols[0] if cols else ""

    def applies(*conditions: str) -> str:
        # Kept minimal: the scan counts "TRUE" and "x IS NOT NULL" without a filter.
        parts = [f"({rule.where})"] if rule.where else []
        return " AND ".join([*parts, *conditions]) or "TRUE"

    present = f"{col} IS NOT NULL"
    match rule.check:
        case "completeness":
            return Compiled(rule, applies(), " AND ".join(f"{c} IS NOT NULL" for c in cols))
        case "expression":
            return Compiled(rule, applies(), f"(({rule.expression}) IS NOT FALSE)")
        case "range":
            bounds = []
            typed = sql_type(schema, rule.columns[0])
            if rule.minimum is not None:
                bounds.append(f"{col} >= CAST({lit(str(rule.minimum))} AS {typed})")
            if rule.maximum is not None:
                bounds.append(f"{col} <= CAST({lit(str(rule.maximum))} AS {typed})")
            return Compiled(rule, applies(present), " AND ".join(bounds))
        case "values":
            assert rule.values is not None
            options = ", ".join(lit(str(v)) for v in rule.values)
            return Compiled(rule, applies(present), f"CAST({col} AS VARCHAR) IN ({options})")
        case "pattern":
            assert rule.pattern is not None
            matches = f"regexp_full_match(CAST({col} AS VARCHAR), {lit(rule.pattern)})"
            return Compiled(rule, applies(present), matches)
        case "uk_type":
            return Compiled(rule, applies(present), f"jd_{rule.type}(CAST({col} AS VARCHAR)) IS NOT NULL")
        case "lag":
            loaded = lit(loaded_at.date().isoformat())
            days = int(rule.max_lag_days or 0)
            return Compiled(rule, applies(present), f"date_diff('day', CAST({col} AS DATE), DATE {loaded}) <= {days}")
        case "reference":
            view = references[rule.id]
            column = ident((rule.reference or "").partition(".")[2])
            return Compiled(rule, applies(present), f"{col} IN (SELECT {column} FROM {view})")
        case "cross_dataset":
            view = references[rule.id]
            key, value = cols
            conflict = (
                f"EXISTS (SELECT 1 FROM {view} o WHERE o.{key} = t.{key} "
                f"AND o.{value} IS NOT NULL AND o.{value} <> t.{value})"
            )
            return Compiled(rule, applies(f"t.{key} IS NOT NULL", f"t.{value} IS NOT NULL"), f"NOT {conflict}")
    return None


_PRESENT = re.compile(r'("(?:[^"]|"")+") IS NOT NULL')


def _checked(applies: str, i: int) -> str:
    """The count of rows a rule applies to, as cheap as it can be: the row count, a column's count, or a filter."""
    if applies == "TRUE":
        return f"count(*) AS r{i}_n"
    present = _PRESENT.fullmatch(applies)
    if present:
        return f"count({present.group(1)}) AS r{i}_n"
    return f"count(*) FILTER (WHERE {applies}) AS r{i}_n"


def _fails(c: Compiled) -> str:
    """The rows a rule applies to and does not pass (a NULL from ``passes`` fails)."""
    # A test of presence is never NULL: without coalesce() DuckDB filters on it directly.
    never_null = all(_PRESENT.fullmatch(part) for part in c.passes.split(" AND "))
    failing = f"NOT ({c.passes})" if never_null else f"NOT coalesce({c.passes}, FALSE)"
    return failing if c.applies == "TRUE" else f"({c.applies}) AND {failing}"


def _failed(c: Compiled, fails: str, i: int) -> str:
    """The count of failing rows; a completeness rule over every row is the rows less the column's count."""
    present = _PRESENT.fullmatch(c.passes)
    if c.applies == "TRUE" and present:
        return f"count(*) - count({present.group(1)}) AS r{i}_f"
    return f"count(*) FILTER (WHERE {fails}) AS r{i}_f"


def scan_sql(
    rules: list[Compiled], uniques: list[Rule], schema: Schema, *, profile: bool = True
) -> tuple[str, list[str]]:
    """The one aggregate over the version: every row-level rule, every uniqueness rule and the drift profile.

    Returns the SQL and the names of its output columns, in order.
    """
    parts: list[str] = ["count(*) AS n_rows"]
    for i, c in enumerate(rules):
        fails = _fails(c)
        parts += [
            _checked(c.applies, i),
            _failed(c, fails, i),
            f"min({KEY}, {SAMPLE}) FILTER (WHERE {fails}) AS r{i}_s",
        ]
    for i, rule in enumerate(uniques):
        cols = [ident(c) for c in rule.columns]
        present = " AND ".join(f"{c} IS NOT NULL" for c in cols)
        where = f"({rule.where}) AND {present}" if rule.where else present
        key = cols[0] if len(cols) == 1 else f"row({', '.join(cols)})"
        # The distinct count as a subquery of its own: DuckDB then builds its hash table in a
        # pipeline of its own, instead of inside the one aggregate, where a million-row version
        # spent a third of the whole scan on it.
        parts += [
            f"count(*) FILTER (WHERE {where}) AS u{i}_n",
            f"(SELECT count(DISTINCT {key}) FROM t WHERE {where}) AS u{i}_d",
        ]
    for j, name in enumerate(schema.names if profile else ()):
        column = ident(name)
        parts += [f"count({column}) AS p{j}_present", f"approx_count_distinct({column}) AS p{j}_distinct"]
        # A mean over a personal column could be one person's value (a dataset of one row).
        if sql_type(schema, name) in NUMERIC and not schema.field(name).personal:
            parts.append(f"avg({column}) AS p{j}_mean")
    names = [p.rsplit(" AS ", 1)[1] for p in parts]
    return "SELECT " + ",\n  ".join(parts) + "\nFROM t", names


def joined_sql(rules: list[Compiled]) -> tuple[str, list[str]]:
    """The rules that look into other datasets, in one more pass over the version."""
    flags = ", ".join(f"({c.applies}) AS a{i}, coalesce({c.passes}, FALSE) AS p{i}" for i, c in enumerate(rules))
    parts: list[str] = []
    for i in range(len(rules)):
        parts += [
            f"count(*) FILTER (WHERE a{i}) AS r{i}_n",
            f"count(*) FILTER (WHERE a{i} AND NOT p{i}) AS r{i}_f",
            f"min(_key, {SAMPLE}) FILTER (WHERE a{i} AND NOT p{i}) AS r{i}_s",
        ]
    names = [p.rsplit(" AS ", 1)[1] for p in parts]
    return f"SELECT {', '.join(parts)} FROM (SELECT {KEY} AS _key, {flags} FROM t) s", names


def is_joined(rule: Rule) -> bool:
    return rule.check in JOINED


def unpack_key(key: int) -> list[int]:
    """A packed surrogate key as ``[_ingest, _source_row]``."""
    return [key // KEY_SHIFT, key % KEY_SHIFT]
