"""JSON Lines: one object per line; a line that cannot be used is quarantined whole and the others load.

Keys are matched as CSV headers are: keys that differ only in case (``Name``,
``name``) are one column, named as first seen. A line is quarantined (rule
``json``) when it does not parse, is not an object, repeats a key, has a blank key,
holds two keys that differ only in case, holds a lone surrogate (``"\\ud800"``), or puts an object
or array in a field of the schema; (rule ``encoding``) when it is not UTF-8.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from joinedup.errors import InputError, SchemaError
from joinedup.ingest.columns import match_columns
from joinedup.ingest.source import Reject, Source, checked_header, without_invisible
from joinedup.schema import Schema

_BATCH = 50_000
#: A JSON escape of a UTF-16 surrogate: only such lines need the slower check.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


class _RepeatedKey(ValueError):
    pass


@dataclass
class _Layout:
    """What the first pass learns: the columns, and the lines that cannot load."""

    header: list[str] = field(default_factory=list)
    #: casefolded key → column position.
    positions: dict[str, int] = field(default_factory=dict)
    rejects: list[Reject] = field(default_factory=list)
    #: column position → the lines where it holds an object or array.
    nested: dict[int, list[int]] = field(default_factory=dict)


def open_jsonl(con: duckdb.DuckDBPyConnection, path: Path, digest: str, size: int, schema: Schema | None) -> Source:
    layout = _survey(path)
    if not layout.header:
        raise InputError(f"{path}: no JSON objects found: expected one object per line")
    header = checked_header(path, layout.header)
    rejects = layout.rejects + _nested_in_fields(path, header, layout.nested, schema)
    bad = {r.source_row for r in rejects}
    columns = ", ".join(["_source_row BIGINT", *(f"c{i} VARCHAR" for i in range(len(header)))])
    # Staged batch by batch into a DuckDB table (validation scans the rows more than
    # once): only one batch is in Python at a time, and a file-backed staging
    # database moves the rest out of memory.
    con.execute(f"CREATE OR REPLACE TABLE jd_jsonl ({columns})")
    for batch in _batches(path, layout, bad):
        con.register("jd_jsonl_batch", batch)
        try:
            con.execute("INSERT INTO jd_jsonl SELECT * FROM jd_jsonl_batch")
        finally:
            con.unregister("jd_jsonl_batch")
    nested = {header[i] for i in layout.nested}
    rejects.sort(key=lambda r: r.source_row)
    return Source(path, "jsonl", header, digest, size, "utf-8", "jd_jsonl", rejects, nested=nested)


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if raw.strip():
                yield number, raw


def _decoded(raw: bytes) -> str:
    # A byte-order mark opens the file, or a line where exports were glued together.
    return raw.decode("utf-8").lstrip("\ufeff").rstrip("\r\n")


def _survey(path: Path) -> _Layout:
    layout = _Layout()
    for number, raw in _lines(path):
        try:
            text = _decoded(raw)
        except UnicodeDecodeError:
            shown = raw.decode("utf-8", errors="backslashreplace").rstrip("\r\n")
            layout.rejects.append(Reject(number, "invalid UTF-8", shown, "encoding"))
            continue
        problem, value = _parse(text)
        if problem is not None:
            layout.rejects.append(Reject(number, problem, text, "json"))
            continue
        assert value is not None
        for key, item in value.items():
            position = _position(layout, key)
            if isinstance(item, dict | list):
                layout.nested.setdefault(position, []).append(number)
    return layout


def _parse(text: str) -> tuple[str | None, dict[str, object] | None]:
    """(problem, None) for a line that cannot load, else (None, the object)."""
    try:
        value = json.loads(text, object_pairs_hook=_unique_keys)
    except _RepeatedKey as exc:
        return f"key {exc.args[0]!r} appears more than once in the object", None
    except json.JSONDecodeError as exc:
        return f"not valid JSON: {exc.msg} at column {exc.colno}", None
    except RecursionError:
        return "not valid JSON: nested too deeply", None
    if not isinstance(value, dict):
        return "expected a JSON object on each line", None
    folded: dict[str, str] = {}
    for key in value:
        name = without_invisible(key).strip().casefold()
        if not name:
            return "has a key with no name: every value needs a column name", None
        other = folded.setdefault(name, key)
        if other != key:
            return f"keys {other!r} and {key!r} differ only in case: one column, two values", None
    if _SURROGATE_ESCAPE.search(text) and not _encodable(value):
        return "holds a lone UTF-16 surrogate escape (such as \\ud800), which is not a character", None
    return None, value


def _unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    value = dict(pairs)
    if len(value) < len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _RepeatedKey(key)
            seen.add(key)
    return value


def _encodable(value: object) -> bool:
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _position(layout: _Layout, key: str) -> int:
    name = without_invisible(key).strip()
    folded = name.casefold()
    position = layout.positions.get(folded)
    if position is None:
        position = layout.positions[folded] = len(layout.header)
        layout.header.append(name)
    return position


def _nested_in_fields(
    path: Path, header: list[str], nested: dict[int, list[int]], schema: Schema | None
) -> list[Reject]:
    """Lines putting an object or array where the schema expects one value (any type but ``any``)."""
    if schema is None or not nested:
        return []
    try:
        positions, _ = match_columns(schema, header, path)
    except SchemaError:
        return []  # the ingest reports the mismatch itself
    problems: dict[int, str] = {}
    for name, position in positions.items():
        if schema.field(name).type == "any":
            continue
        for line in nested.get(position, []):
            message = f"key {header[position]!r} holds a JSON object or array; field {name!r} expects one value"
            problems.setdefault(line, message)
    return [
        Reject(number, problems[number], _decoded(raw), "json") for number, raw in _lines(path) if number in problems
    ]


def _batches(path: Path, layout: _Layout, bad: set[int]) -> Iterator[pa.RecordBatch]:
    width = len(layout.header)
    schema = pa.schema([("_source_row", pa.int64())] + [(f"c{i}", pa.string()) for i in range(width)])
    rows: list[int] = []
    values: list[list[str | None]] = [[] for _ in range(width)]
    for number, raw in _lines(path):
        if number in bad:
            continue
        rows.append(number)
        cells: list[str | None] = [None] * width
        for key, item in json.loads(_decoded(raw)).items():
            cells[layout.positions[without_invisible(key).strip().casefold()]] = _json_text(item)
        for i, cell in enumerate(cells):
            values[i].append(cell)
        if len(rows) >= _BATCH:
            yield pa.record_batch(
                [pa.array(rows, pa.int64()), *[pa.array(v, pa.string()) for v in values]], schema=schema
            )
            rows, values = [], [[] for _ in range(width)]
    if rows:
        yield pa.record_batch([pa.array(rows, pa.int64()), *[pa.array(v, pa.string()) for v in values]], schema=schema)


def _json_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return without_invisible(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, float) else str(value)
    return without_invisible(json.dumps(value, ensure_ascii=False, sort_keys=True))
