"""A reference validator for the synthetic schemas, written from the rules in plain Python.

It applies the standards reference (``joinedup.standards.reference``) for UK
types and Table Schema's constraints for the rest, and names each failure the
way ingest does: (column, rule). Independent of the ingest SQL on purpose, so
the ground truth is checked against the rules themselves.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date
from typing import Any

from joinedup.standards import UK_TYPES, reference
from joinedup.synthetic import SyntheticRows

_BLANKS = " \t\r\n\u00a0"
_INTEGER = re.compile(r"[+-]?[0-9]+")
_NUMBER = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")

Failure = tuple[str, str]


def canonical(field: dict[str, Any], text: str) -> Any:
    """The standardised value, or None when ``text`` is not a valid value of the field's type."""
    kind = field["type"]
    if kind in UK_TYPES:
        return getattr(reference, f"canonical_{kind}")(text)
    if kind == "date":
        iso = reference.canonical_iso_date(text)
        return date.fromisoformat(iso) if iso else None
    if kind == "integer":
        return int(text) if _INTEGER.fullmatch(text) else None
    if kind == "number":
        return float(text) if _NUMBER.fullmatch(text) else None
    if kind == "string" and field.get("format") == "person_name":
        return reference.canonical_person_name(text)
    assert kind == "string", kind
    return text


def _bound(field: dict[str, Any], bound: Any) -> Any:
    return date.fromisoformat(bound) if field["type"] == "date" else bound


def row_failures(schema: dict[str, Any], values: dict[str, str]) -> set[Failure]:
    """Every (column, rule) a row fails, except key duplicates (see :func:`failures`)."""
    found: set[Failure] = set()
    missing = set(schema.get("missingValues", [""]))
    for field in schema["fields"]:
        name = field["name"]
        constraints = field.get("constraints", {})
        text = values[name].strip(_BLANKS)
        if text in missing:
            if constraints.get("required"):
                found.add((name, "required"))
            continue
        value = canonical(field, text)
        if value is None:
            found.add((name, field["type"]))
            continue
        if "enum" in constraints and value not in constraints["enum"]:
            found.add((name, "enum"))
        if "minimum" in constraints and value < _bound(field, constraints["minimum"]):
            found.add((name, "minimum"))
        if "maximum" in constraints and value > _bound(field, constraints["maximum"]):
            found.add((name, "maximum"))
    return found


def failures(
    schema: dict[str, Any], columns: tuple[str, ...], rows: Iterable[tuple[int, tuple[str, ...]]]
) -> dict[int, set[Failure]]:
    """``{index: failures}`` for every failing row; a later repeat of a primary key fails ``primaryKey``.

    ``rows`` are (index, values); a row whose field count differs from the header fails ``columns``.
    """
    [key] = schema["primaryKey"]
    key_field = next(f for f in schema["fields"] if f["name"] == key)
    seen: set[Any] = set()
    found: dict[int, set[Failure]] = {}
    for index, values in rows:
        if len(values) != len(columns):
            found[index] = {("(row)", "columns")}
            continue
        problems = row_failures(schema, dict(zip(columns, values, strict=True)))
        text = values[columns.index(key)].strip(_BLANKS)
        standard = canonical(key_field, text) if text else None
        if standard is not None:
            if standard in seen:
                problems.add((key, "primaryKey"))
            seen.add(standard)
        if problems:
            found[index] = problems
    return found


def check_against_truth(rows: SyntheticRows, schema: dict[str, Any]) -> None:
    """The oracle finds exactly the planted errors: clean rows pass, each bad row fails only as recorded."""
    records = list(rows)
    found = failures(schema, rows.columns, ((r.index, r.values) for r in records))
    planted = {r.index: {(e.column, e.rule) for e in r.errors} for r in records if r.errors}
    wrongly_failed = {i: found[i] for i in found.keys() - planted.keys()}
    assert not wrongly_failed, f"rows the ground truth calls clean fail: {dict(list(wrongly_failed.items())[:5])}"
    undetected = {i: planted[i] for i in planted.keys() - found.keys()}
    assert not undetected, f"planted errors nothing detects: {dict(list(undetected.items())[:5])}"
    mismatched = {i: (planted[i], found[i]) for i in planted if planted[i] != found[i]}
    assert not mismatched, f"rules differ from the ground truth (planted, found): {dict(list(mismatched.items())[:5])}"
