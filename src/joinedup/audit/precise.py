"""Deciding, for one person, what each bulk read did with their rows: returned them, aggregated them, or missed them.

A logged query is re-run over the dataset versions it read, with each dataset
that can hold the person replaced three ways: by only the person's rows, by no
rows, and by the person's rows twice. Then, read by read:

- the person-only output equals the empty output: the query's filters left
  them out, or it never looked at their rows: not listed;
- otherwise, ``returned`` when their rows came out: doubling them adds output
  rows (a row-level query), or the output carries one of their identifying
  values (an identifier or a name, e.g. a lookup with ``LIMIT 1``);
- otherwise ``aggregate``: their rows changed a count, a sum, an average or a
  group's figures, but none of their values left.

Reads are batched by query shape: the literals of every read of one shape
become a parameter table joined ``LATERAL`` to the query, so 100,000 lookups
by different NHS numbers are three DuckDB queries over tiny tables, not 300,000.
A shape DuckDB cannot run that way (a literal where only a constant is
allowed) is re-run read by read.
"""

from __future__ import annotations

import contextlib
import functools
import operator
import threading
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from joinedup.audit.membership import dataset_membership
from joinedup.audit.queries import ReadScope
from joinedup.audit.redact import _literal_value
from joinedup.estate import Estate
from joinedup.estate.models import Dataset, DatasetVersion, SchemaVersion
from joinedup.storage import delta
from joinedup.storage.duck import sealed
from joinedup.storage.query import time_limit

RETURNED = "returned"
AGGREGATE = "aggregate"
UNDETERMINED = "undetermined"
#: Decided: the read did not touch the person (it is left out of the answer).
UNTOUCHED = "untouched"

#: Why a read is undetermined, as the answer says it.
VERSION_GONE = "the dataset version it read can no longer be consulted"
NOT_KEPT = "its query text was not kept (written before sealing, or forgotten)"
NOT_RERUN = "its query could not be re-run"
ERASED = "the person was erased from the version it read"

#: Schema categories whose values, in a query's output, show whose row it was.
_IDENTIFYING_CATEGORIES = frozenset({"identifier", "name"})
_IDENTIFIER_TYPES = frozenset({"nhs_number", "ni_number", "person_key"})
#: Identifiers that name one person, by which a quarantine (never linked) is searched.
_LOOKUP_KINDS = frozenset({"nhs_number", "ni_number"})
_PARAMS = "__jd_p"
_SEQ = "__jd_seq"
#: Keywords after which a string literal is a value the query compares with (so it can be a parameter).
_VALUE_KEYWORDS = frozenset({"like", "ilike", "glob", "similar", "between", "and", "or", "when", "then", "else", "in"})
_COMPARISONS = frozenset({"=", "==", "<", ">", "<=", ">=", "<>", "!="})


@dataclass(frozen=True)
class Person:
    """Whose rows to look for: an identifier (kind and canonical value), and/or known records by primary key."""

    kind: str | None = None
    value: str | None = None
    #: dataset → primary key values (as text) of the person's rows there.
    records: Mapping[str, frozenset[str]] | None = None


@dataclass(frozen=True)
class BulkRead:
    seq: int
    action: str
    scopes: tuple[tuple[str, int], ...]
    #: Whether the entry commits to a sealed query text.
    sealed: bool


@dataclass(frozen=True)
class Verdict:
    basis: str
    reason: str | None = None


@dataclass
class _Rows:
    """The person's rows in one dataset version, and the whole version for queries that read it."""

    person: pa.Table
    full: Any
    #: Whether the dataset can hold the person at all (it has their identifier column, or known records).
    replaced: bool
    #: Their identifying values as text, lower case.
    values: list[str]
    #: (kind, canonical value) of the standard identifiers their rows carry.
    identifiers: list[tuple[str, str]] = field(default_factory=list)


def decide(
    estate: Estate,
    person: Person,
    reads: list[BulkRead],
    load_texts: Callable[[list[int]], Mapping[int, str]],
    erased_from: set[tuple[str, int]],
) -> dict[int, Verdict]:
    """The verdict on each read; ``load_texts(seqs)`` gives the sealed query texts (only those re-run are asked for)."""
    found: dict[tuple[str, int], _Rows | None] = {}

    def rows(scope: tuple[str, int]) -> _Rows | None:
        if scope not in found:
            found[scope] = None if scope in erased_from else _person_rows(estate, person, *scope)
        return found[scope]

    member = dataset_membership(estate)
    verdicts: dict[int, Verdict] = {}
    rerun: list[BulkRead] = []
    for read in reads:
        if read.action.startswith("quarantine."):
            verdicts[read.seq] = _quarantine(member, person, read, rows)
            continue
        got = [rows(scope) for scope in read.scopes]
        if any(r is None for r in got):
            gone = any(scope in erased_from for scope in read.scopes)
            verdicts[read.seq] = Verdict(UNDETERMINED, ERASED if gone else VERSION_GONE)
            continue
        if not any(r is not None and r.person.num_rows for r in got):
            verdicts[read.seq] = Verdict(UNTOUCHED)
        elif not read.sealed:
            # A read without a query (an export, a whole-table read) handed over every row it read.
            query = read.action.endswith(".query")
            verdicts[read.seq] = Verdict(UNDETERMINED, NOT_KEPT) if query else Verdict(RETURNED)
        else:
            rerun.append(read)
    texts = load_texts([read.seq for read in rerun])
    queued: dict[tuple[Any, ...], list[tuple[int, str, list[Any]]]] = defaultdict(list)
    for read in rerun:
        if read.seq not in texts:
            verdicts[read.seq] = Verdict(UNDETERMINED, NOT_KEPT)
            continue
        shape, types, values = parameterise(texts[read.seq])
        queued[(shape, types, read.scopes)].append((read.seq, texts[read.seq], values))
    for (shape, types, scopes), group in queued.items():
        views = {name: rows((name, version)) for name, version in scopes}
        verdicts.update(_rerun(estate, shape, types, {n: r for n, r in views.items() if r is not None}, group))
    return verdicts


def _quarantine(
    member: Any, person: Person, read: BulkRead, rows: Callable[[tuple[str, int]], _Rows | None]
) -> Verdict:
    """A quarantine read hands over every rejected row of the ingest it names.

    Rejected rows were never linked, so they are looked for by the person's
    identifiers: the one given, and those their stored rows of that ingest carry.
    """
    answers = []
    for name, version in read.scopes:
        stored = rows((name, version))
        known = set(stored.identifiers) if stored is not None else set()
        if person.kind in _LOOKUP_KINDS and person.value is not None:
            known.add((person.kind, person.value))
        answers += [member(ReadScope(name, version, "quarantine"), kind, value) for kind, value in sorted(known)]
    if True in answers:
        return Verdict(RETURNED)
    return Verdict(UNDETERMINED, VERSION_GONE) if None in answers else Verdict(UNTOUCHED)


def _person_rows(estate: Estate, person: Person, dataset: str, version: int) -> _Rows | None:
    with estate.session() as session:
        found = session.execute(
            sa.select(DatasetVersion.table_version, SchemaVersion.definition)
            .join(Dataset, DatasetVersion.dataset_id == Dataset.id)
            .join(SchemaVersion, DatasetVersion.schema_version_id == SchemaVersion.id)
            .where(Dataset.name == dataset, DatasetVersion.number == version)
        ).one_or_none()
    if found is None:
        return None
    definition: dict[str, Any] = found.definition or {}
    fields = definition.get("fields", [])
    tests = []
    if person.kind is not None and person.value is not None:
        columns = [f["name"] for f in fields if person.kind in (f.get("type"), f.get("format"))]
        tests += [pc.field(c) == person.value for c in columns]
    keys = (person.records or {}).get(dataset)
    if keys:
        key = (definition.get("primaryKey") or ["_source_row"])[0]
        tests.append(pc.field(key).cast(pa.string()).isin(pa.array(sorted(keys), pa.string())))
    try:
        full = delta.snapshot(estate.table_path(dataset), found.table_version)
        if not tests:
            return _Rows(full.schema.empty_table(), full, False, [])
        mine = full.to_table(filter=functools.reduce(operator.or_, tests))
    except Exception:
        # Vacuumed or purged files: the version can no longer be consulted.
        return None
    identifying = [
        f["name"] for f in fields if f.get("type") in _IDENTIFIER_TYPES or f.get("category") in _IDENTIFYING_CATEGORIES
    ]
    values = {str(v).lower() for c in identifying if c in mine.column_names for v in mine.column(c).to_pylist() if v}
    if person.value:
        values.add(person.value.lower())
    carried = {
        (str(f["type"]), str(v))
        for f in fields
        if f.get("type") in _LOOKUP_KINDS and f["name"] in mine.column_names
        for v in mine.column(f["name"]).to_pylist()
        if v
    }
    return _Rows(mine, full, True, sorted(v for v in values if len(v) >= 3), sorted(carried))


def parameterise(sql: str) -> tuple[str, tuple[str, ...], list[Any]]:
    """``sql`` with its comparable literals as parameter columns: (shape, their types, their values).

    Only literals that stand as values (after a comparison, ``LIKE``, ``IN (``, …)
    become parameters; a literal after a type name (``DATE '2020-01-01'``), a
    ``LIMIT`` or a ``GROUP BY`` position stays in the shape.
    """
    try:
        tokens = duckdb.tokenize(sql)
    except Exception:
        return sql, (), []
    raw = sql.encode("utf-8")
    ends = [start for start, _ in tokens[1:]] + [len(raw)]
    parts: list[str] = []
    types: list[str] = []
    values: list[Any] = []
    previous = ("", duckdb.token_type.operator)
    for (start, kind), end in zip(tokens, ends, strict=True):
        piece = raw[start:end].decode("utf-8", errors="replace")
        token = piece.strip()
        value = _as_parameter(token, kind, previous)
        if kind == duckdb.token_type.comment:
            parts.append(" ")
            continue
        if value is not None:
            types.append(type(value).__name__)
            values.append(value)
            parts.append(f"{_PARAMS}.c{len(values)} ")
        else:
            parts.append(token + (" " if len(token) < len(piece) else ""))
        previous = (token.lower(), kind)
    return "".join(parts).strip().rstrip(";"), tuple(types), values


def _as_parameter(token: str, kind: Any, previous: tuple[str, Any]) -> Any:
    before, before_kind = previous
    if kind == duckdb.token_type.string_const and token.startswith("'"):
        if before_kind == duckdb.token_type.operator or before in _VALUE_KEYWORDS:
            return _literal_value(token)
    elif kind == duckdb.token_type.numeric_const and before in _COMPARISONS:
        with contextlib.suppress(ValueError):
            return int(token)
        with contextlib.suppress(ValueError):
            return float(token)
    return None


_Summary = tuple[int, int, bool]
_NONE: _Summary = (0, 0, False)


def _rerun(
    estate: Estate, shape: str, types: tuple[str, ...], views: dict[str, _Rows], group: list[tuple[int, str, list[Any]]]
) -> dict[int, Verdict]:
    """Verdicts for one shape over one set of dataset versions."""
    variants = {
        "person": {n: r.person if r.replaced else r.full for n, r in views.items()},
        "empty": {n: r.person.schema.empty_table() if r.replaced else r.full for n, r in views.items()},
        "doubled": {n: pa.concat_tables([r.person, r.person]) if r.replaced else r.full for n, r in views.items()},
    }
    values = sorted({v for r in views.values() for v in r.values})
    params = _parameter_table(types, group)
    results: Mapping[str, Mapping[int, _Summary | None] | None] = {}
    with contextlib.ExitStack() as stack:
        cons = {
            name: stack.enter_context(
                sealed(estate.tmp_dir, views={**tables, _PARAMS: params}, memory_limit=estate.config.memory_limit)
            )
            for name, tables in variants.items()
        }
        # The estate's query time limit holds for a re-run too: a shape past it is undetermined.
        expired = threading.Event()

        def stop() -> None:
            expired.set()
            for con in cons.values():
                con.interrupt()

        clock = threading.Timer(time_limit(estate), stop)
        clock.daemon = True
        clock.start()
        try:
            results = {name: _batched(con, shape, values, expired) for name, con in cons.items()}
            if any(r is None for r in results.values()) and not expired.is_set():
                results = {name: _one_by_one(con, group, values, expired) for name, con in cons.items()}
        finally:
            clock.cancel()
        if expired.is_set():
            results = dict.fromkeys(cons)
    verdicts: dict[int, Verdict] = {}
    for seq, _, _ in group:
        verdicts[seq] = _verdict(*(_of(results[name], seq) for name in ("person", "empty", "doubled")))
    return verdicts


def _of(summaries: Mapping[int, _Summary | None] | None, seq: int) -> _Summary | None:
    if summaries is None:
        return None
    return summaries.get(seq, _NONE)


def _verdict(person: _Summary | None, empty: _Summary | None, doubled: _Summary | None) -> Verdict:
    if person is None or empty is None or doubled is None:
        return Verdict(UNDETERMINED, NOT_RERUN)
    if person[:2] == empty[:2]:
        return Verdict(UNTOUCHED)
    if doubled[0] > person[0] or person[2]:
        return Verdict(RETURNED)
    return Verdict(AGGREGATE)


def _parameter_table(types: tuple[str, ...], group: list[tuple[int, str, list[Any]]]) -> pa.Table:
    kinds = {"str": pa.string(), "int": pa.int64(), "float": pa.float64()}
    columns = {_SEQ: pa.array([seq for seq, _, _ in group], pa.int64())}
    for index, kind in enumerate(types):
        columns[f"c{index + 1}"] = pa.array([values[index] for _, _, values in group], kinds[kind])
    return pa.table(columns)


_SUMMARY = (
    "count(*), coalesce(sum(hash(q)::HUGEINT), 0), "
    "coalesce(bool_or(len(list_filter($values::VARCHAR[], lambda v: contains(lower(CAST(q AS VARCHAR)), v))) > 0), "
    "false)"
)


def _batched(
    con: duckdb.DuckDBPyConnection, shape: str, values: list[str], expired: threading.Event
) -> dict[int, _Summary] | None:
    """Every read of the shape at once: the parameter table joined LATERAL to the query; None when it cannot run."""
    if expired.is_set():
        return None
    sql = f"SELECT {_PARAMS}.{_SEQ}, {_SUMMARY} FROM {_PARAMS}, LATERAL ({shape}) AS q GROUP BY 1"
    try:
        rows = con.execute(sql, {"values": values}).fetchall()
    except duckdb.Error:
        return None
    return {int(seq): (int(n), int(h), bool(c)) for seq, n, h, c in rows}


def _one_by_one(
    con: duckdb.DuckDBPyConnection, group: list[tuple[int, str, list[Any]]], values: list[str], expired: threading.Event
) -> dict[int, _Summary | None]:
    found: dict[int, _Summary | None] = {}
    for seq, text, _ in group:
        if expired.is_set():
            found[seq] = None
            continue
        try:
            [(n, h, c)] = con.execute(
                f"SELECT {_SUMMARY} FROM ({text.strip().rstrip(';')}) AS q", {"values": values}
            ).fetchall()
            found[seq] = (int(n), int(h), bool(c))
        except duckdb.Error:
            found[seq] = None
    return found
