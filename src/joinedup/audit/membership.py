"""The default answer to "did this dataset version hold this person?", read from the Delta tables.

Who-accessed asks it about bulk reads. It looks in the columns the version's
schema declares as that identifier type (``nhs_number``, ``ni_number``), at the
Delta version the catalogue recorded, with a pushed-down filter. In a quarantine,
which holds the text as it arrived, it standardises those columns with the same
macros ingest uses. It cannot tell (None) for a version whose files are gone.
"""

from __future__ import annotations

import functools
import operator
from typing import Any

import sqlalchemy as sa

from joinedup.audit.queries import Membership, ReadScope
from joinedup.estate import Estate
from joinedup.estate.models import Dataset, DatasetVersion, SchemaVersion
from joinedup.standards import STANDARD_TYPES
from joinedup.standards.facts import BLANKS
from joinedup.storage import delta
from joinedup.storage.duck import connect, interrupted, quote_identifier, quote_literal


def dataset_membership(estate: Estate) -> Membership:
    def member(scope: ReadScope, kind: str, value: str) -> bool | None:
        if scope.part == "quarantine":
            return _in_quarantine(estate, scope, kind, value)
        found = _version(estate, scope, DatasetVersion.table_version)
        if found is None:
            return None
        columns = _columns_of(found.definition, kind)
        if not columns:
            return False
        # Here, not at the top: loading it takes a tenth of a second, which every command would pay.
        import pyarrow.compute as pc

        try:
            data = delta.snapshot(estate.table_path(scope.dataset), found.table_version)
            match = functools.reduce(operator.or_, (pc.field(c) == value for c in columns))
            return bool(data.count_rows(filter=match) > 0)
        except Exception:
            # Vacuumed or purged files: the version can no longer be consulted.
            return None

    return member


#: What separates the parts of an identifier as people type it: every blank and the hyphen.
_SEPARATORS = "[" + BLANKS + "-]"


def _version(estate: Estate, scope: ReadScope, *wanted: Any) -> Any:
    """The catalogue's ``wanted`` columns and schema definition for the scope's dataset version, or None."""
    with estate.session() as session:
        return session.execute(
            sa.select(*wanted, SchemaVersion.definition)
            .join(Dataset, DatasetVersion.dataset_id == Dataset.id)
            .join(SchemaVersion, DatasetVersion.schema_version_id == SchemaVersion.id)
            .where(Dataset.name == scope.dataset, DatasetVersion.number == scope.version)
        ).one_or_none()


def _columns_of(definition: dict[str, Any], kind: str) -> list[str]:
    """The schema's fields declared as identifier type (or format) ``kind``."""
    return [f["name"] for f in definition.get("fields", []) if kind in (f.get("type"), f.get("format"))]


def _in_quarantine(estate: Estate, scope: ReadScope, kind: str, value: str) -> bool | None:
    """Whether the version's quarantined rows held the person: their text, standardised as ingest would.

    A row that did not split into columns (a ragged line) counts when its text,
    without spaces and hyphens, contains the identifier: a read of it showed the person.
    """
    if kind not in STANDARD_TYPES:
        return None
    found = _version(estate, scope, DatasetVersion.quarantine_version, DatasetVersion.rows_quarantined)
    if found is None:
        return None
    if not found.rows_quarantined or found.quarantine_version is None:
        return False
    columns = _columns_of(found.definition, kind)
    macro = STANDARD_TYPES[kind].macro
    # Standardised as ingest would, or (for a value that failed its check) compacted as typed.
    tests = [
        f"({macro}({quote_identifier(c)}) = $value OR regexp_replace(upper({quote_identifier(c)}), "
        f"{quote_literal(_SEPARATORS)}, '', 'g') = $value)"
        for c in columns
    ]
    tests.append(f"contains(regexp_replace(upper(_line), {quote_literal(_SEPARATORS)}, '', 'g'), $value)")
    try:
        data = delta.snapshot(estate.quarantine_path(scope.dataset), found.quarantine_version)
        with connect(macros=[kind]) as con:
            con.register("q", data)
            present = {name for (name,) in con.execute("SELECT column_name FROM (DESCRIBE q)").fetchall()}
            usable = [t for t, c in zip(tests, [*columns, "_line"], strict=True) if c in present]
            if not usable:
                return False
            [(count,)] = con.execute(
                f"SELECT count(*) FROM q WHERE _ingest = $version AND ({' OR '.join(usable)})",
                {"value": value, "version": scope.version},
            ).fetchall()
        return bool(count > 0)
    except Exception as exc:
        if interrupted(exc):
            raise  # Ctrl-C, not a version that cannot be consulted
        # Vacuumed or purged files: the version can no longer be consulted.
        return None
