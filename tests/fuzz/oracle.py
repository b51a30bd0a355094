"""What must hold after an ingest of a fuzzed file, checked against plain-Python rules.

A loaded value is checked against the standards' reference implementations
(:mod:`joinedup.standards.reference`) and the schema's constraints, using the
text the file held for that row; a failed ingest must have said one line and
left the estate as it was.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from joinedup.errors import JoinedupError
from joinedup.estate import Catalogue, Estate
from joinedup.ingest.columns import match_columns
from joinedup.ingest.pipeline import IngestResult
from joinedup.schema import Field, Schema
from joinedup.standards import STANDARD_TYPES
from joinedup.standards.facts import BLANKS
from joinedup.standards.reference import (
    canonical_iso_date,
    canonical_iso_datetime_in,
    canonical_person_name,
)
from joinedup.storage import delta
from tests.fuzz.files import UNKNOWN, Written


@dataclass(frozen=True)
class State:
    """What a dataset looked like before an ingest: its versions and the current version's rows."""

    versions: tuple[int, ...]
    rows: list[dict[str, Any]]


def state_of(estate: Estate, dataset: str) -> State:
    info = Catalogue(estate).find(dataset)
    if info is None or info.current is None:
        return State((), [])
    table = delta.snapshot(estate.table_path(dataset), info.current.table_version).to_table()
    return State(tuple(v.number for v in info.versions), table.sort_by("_source_row").to_pylist())


def assert_refused_cleanly(exc: JoinedupError, estate: Estate, dataset: str, before: State) -> None:
    message = str(exc)
    assert message.strip() and "\n" not in message and "Traceback" not in message, repr(message)
    assert state_of(estate, dataset) == before, "a failed ingest changed the estate"


def assert_nothing_lost(estate: Estate, schema: Schema, written: Written, result: IngestResult) -> None:
    assert result.rows_read == result.rows_loaded + result.rows_quarantined
    assert result.rows_read == written.row_count, "ingest read a different number of rows than the file holds"
    info = Catalogue(estate).get(result.dataset)
    version = info.current
    assert version is not None and version.number == result.version
    loaded = delta.snapshot(estate.table_path(result.dataset), version.table_version).to_table()
    assert loaded.num_rows == result.rows_loaded
    assert set(pc.unique(loaded.column("_ingest")).to_pylist()) <= {result.version}
    quarantined = _quarantined(estate, result)
    assert quarantined.num_rows == result.rows_quarantined
    for errors in quarantined.column("_errors").to_pylist():
        assert errors, "a quarantined row has no reason"
    loaded_rows = loaded.column("_source_row").to_pylist()
    quarantined_rows = quarantined.column("_source_row").to_pylist()
    assert len(set(loaded_rows)) == len(loaded_rows) and len(set(quarantined_rows)) == len(quarantined_rows)
    assert not set(loaded_rows) & set(quarantined_rows)
    assert set(loaded_rows) | set(quarantined_rows) == set(written.rows) | written.rejects
    assert written.rejects <= set(quarantined_rows)
    _assert_loaded_values_valid(schema, written, loaded)


def _quarantined(estate: Estate, result: IngestResult) -> pa.Table:
    info = Catalogue(estate).get(result.dataset)
    number = info.current.quarantine_version if info.current else None
    if number is None:
        return pa.table({"_source_row": pa.array([], pa.int64()), "_errors": pa.array([], pa.list_(pa.string()))})
    table = delta.snapshot(estate.quarantine_path(result.dataset), number).to_table()
    return table.filter(pc.equal(table.column("_ingest"), result.version))


def _assert_loaded_values_valid(schema: Schema, written: Written, loaded: pa.Table) -> None:
    positions, _ = match_columns(schema, written.headers, written.path)
    header_of = {name: written.headers[i] for name, i in positions.items()}
    rows = loaded.to_pylist()
    for row in rows:
        original = written.rows[row["_source_row"]]
        for f in schema.fields:
            where = f"row {row['_source_row']}, field {f.name!r}"
            _assert_value_valid(f, schema, row[f.name], original[header_of[f.name]], where)
    groups = [("primaryKey", schema.primary_key)] if schema.primary_key else []
    groups += [("unique", (f.name,)) for f in schema.fields if f.constraints.unique]
    for rule, names in groups:
        keys = [tuple(row[n] for n in names) for row in rows]
        complete = [k for k in keys if None not in k]
        assert len(set(complete)) == len(complete), f"{rule} {names}: a repeated key was loaded"


def _normalised(text: Any, missing: tuple[str, ...]) -> Any:
    """The text as validation sees it: without NULs and byte-order marks (the readers remove
    them, docs/ingest.md), trimmed, and None when it means "no value"."""
    if text is None or text is UNKNOWN:
        return text
    trimmed = text.replace("\x00", "").replace("\ufeff", "").strip(BLANKS)
    if missing == ("",):
        return trimmed or None
    return None if trimmed in missing else trimmed


def _assert_value_valid(f: Field, schema: Schema, stored: Any, original: Any, where: str) -> None:
    v = _normalised(original, schema.missing_values)
    if stored is None:
        assert not f.constraints.required, f"{where}: a required value is missing"
        # A CSV reader may give an empty field as no value at all.
        assert v is None or v is UNKNOWN or v == "", f"{where}: {original!r} was loaded as no value"
        return
    assert v is not None, f"{where}: a missing value was loaded as {stored!r}"
    _assert_type(f, stored, v, where)
    _assert_constraints(f, stored, v, where)


def _assert_type(f: Field, stored: Any, v: Any, where: str) -> None:
    known = v is not UNKNOWN
    t = f.type
    if t in STANDARD_TYPES:
        rule = STANDARD_TYPES[t]
        assert rule.reference(str(stored)) == str(stored), f"{where}: {stored!r} is not a canonical {t}"
        if known:
            assert rule.reference(v) == str(stored), f"{where}: {v!r} loaded as {stored!r}"
    elif t in ("string", "any"):
        assert isinstance(stored, str)
        if known and f.format == "person_name":
            assert stored == canonical_person_name(v), f"{where}: {v!r} cased as {stored!r}"
        elif known:
            assert stored == v, f"{where}: {v!r} loaded as {stored!r}"
    elif t in ("integer", "year"):
        assert isinstance(stored, int) and not isinstance(stored, bool)
        plain = f.bare_number and not f.group_char
        if known and plain:
            assert stored == int(v), f"{where}: {v!r} loaded as {stored!r}"
        if t == "year":
            assert 0 <= stored <= 9999
    elif t == "number":
        assert isinstance(stored, float) and math.isfinite(stored), f"{where}: {stored!r}"
        if known and f.bare_number and not f.group_char and f.decimal_char == ".":
            assert stored == float(v), f"{where}: {v!r} loaded as {stored!r}"
    elif t == "boolean":
        assert isinstance(stored, bool)
        if known:
            assert v in f.true_values + f.false_values and stored == (v in f.true_values), (
                f"{where}: {v!r} loaded as {stored!r}"
            )
    elif t == "date":
        assert isinstance(stored, date) and not isinstance(stored, datetime)
        if known and f.format == "default":
            assert stored.isoformat() == canonical_iso_date(v), f"{where}: {v!r} loaded as {stored!r}"
    elif t == "datetime":
        assert isinstance(stored, datetime) and stored.tzinfo is not None
        if known and f.format == "default":
            reference = canonical_iso_datetime_in(v, f.timezone)
            assert reference is not None and stored == datetime.fromisoformat(reference.replace("Z", "+00:00")), (
                f"{where}: {v!r} loaded as {stored!r}"
            )
    else:
        raise AssertionError(f"unhandled type {t}")


def _assert_constraints(f: Field, stored: Any, v: Any, where: str) -> None:
    c = f.constraints
    known = v is not UNKNOWN
    if c.enum is not None:
        if f.type in ("integer", "year", "number"):
            assert stored in c.enum, f"{where}: {stored!r} is not in {c.enum}"
        elif f.type == "date":
            assert stored.isoformat() in c.enum, f"{where}: {stored!r} is not in {c.enum}"
        elif f.type == "boolean":
            assert str(stored).lower() in c.enum, f"{where}: {stored!r} is not in {c.enum}"
        elif f.type != "datetime":
            assert str(stored) in c.enum, f"{where}: {stored!r} is not in {c.enum}"
    if c.pattern is not None and known:
        assert re.fullmatch(c.pattern, v), f"{where}: {v!r} does not match {c.pattern!r}"
    for bound, ok in ((c.minimum, lambda b: stored >= b), (c.maximum, lambda b: stored <= b)):
        if bound is not None:
            assert ok(_bound(f, bound)), f"{where}: {stored!r} is outside {c.minimum}..{c.maximum}"
    if known and c.min_length is not None:
        assert len(v) >= c.min_length, f"{where}: {v!r} is shorter than {c.min_length}"
    if known and c.max_length is not None:
        assert len(v) <= c.max_length, f"{where}: {v!r} is longer than {c.max_length}"


def _bound(f: Field, bound: Any) -> Any:
    if f.type == "date":
        return date.fromisoformat(bound)
    if f.type == "datetime":
        moment = datetime.fromisoformat(bound)
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return bound
