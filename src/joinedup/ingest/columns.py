"""Matching a schema's fields to the columns of an input file."""

from __future__ import annotations

import re
from pathlib import Path

from joinedup.errors import SchemaError
from joinedup.ingest.header_row import looks_like_data
from joinedup.schema import Schema


def normalise_header(header: str) -> str:
    """``"NHS Number"`` → ``nhs_number``: how a header becomes a field name."""
    name = re.sub(r"[^0-9a-z]+", "_", header.strip().lower()).strip("_")
    if not name:
        return "column"
    return name if name[0].isalpha() else f"c_{name}"


def match_columns(
    schema: Schema, header: list[str], path: Path, header_row: int = 1
) -> tuple[dict[str, int], list[str]]:
    """Map each field to the position of its column; also return the file's columns the schema ignores.

    A column matches a field by exact name, then by the field's title, then by
    normalised name (``NHS Number`` matches ``nhs_number``), then ignoring
    underscores (``Post-code`` matches ``postcode``).
    """
    exact = {h: i for i, h in enumerate(header)}
    normalised: dict[str, list[int]] = {}
    squashed: dict[str, list[int]] = {}
    for i, h in enumerate(header):
        normalised.setdefault(normalise_header(h), []).append(i)
        squashed.setdefault(normalise_header(h).replace("_", ""), []).append(i)
    positions: dict[str, int] = {}
    for field in schema.fields:
        candidates = (
            [exact[field.name]] if field.name in exact else [],
            [exact[field.title]] if field.title in exact else [],
            normalised.get(field.name, []),
            squashed.get(field.name.replace("_", ""), []),
        )
        for found in candidates:
            free = [i for i in found if i not in positions.values()]
            if len(free) > 1:
                names = " and ".join(repr(header[i]) for i in free)
                raise SchemaError(
                    f"{path}: columns {names} both match the schema's field {field.name!r}; "
                    "rename one, or give the field the exact column name"
                )
            if free:
                positions[field.name] = free[0]
                break
        else:
            raise SchemaError(
                f"{path}: the schema's field {field.name!r} is not a column of the file {_listed(header, header_row)}"
            )
    used = set(positions.values())
    ignored = [h for i, h in enumerate(header) if i not in used]
    return positions, ignored


def _listed(header: list[str], header_row: int) -> str:
    if looks_like_data(header):
        # The cells are then most likely a person's details: count them, never show them.
        return (
            f"(row {header_row}, taken as the header, has {len(header)} columns and looks like data, not names; "
            "if the header is on another row, pass --header-row N)"
        )
    shown = ", ".join(_one_line(h) for h in header[:12]) + (" ..." if len(header) > 12 else "")
    return f"(columns: {shown})"


def _one_line(header: str) -> str:
    # A quoted header may hold a line break; the error message must stay one line.
    return header if header.isprintable() else repr(header)[1:-1]
