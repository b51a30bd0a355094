"""Reading a dataset's quarantine: the rows an ingest rejected, with every reason."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyarrow.compute as pc

from joinedup.access import authorize
from joinedup.audit import release
from joinedup.estate import Catalogue, Estate
from joinedup.storage import delta


@dataclass
class QuarantineRows:
    dataset: str
    version: int
    #: The schema's field names, in order: the original text of each is kept.
    fields: list[str]
    rows: list[dict[str, Any]]

    def flat(self) -> tuple[list[str], list[list[Any]]]:
        """One line per row: row number, reasons joined, then the original values."""
        columns = ["row", "reasons", *self.fields, "line"]
        lines = [
            [
                row["_source_row"],
                "; ".join(f"{e['column']}: {e['rule']}: {e['message']} ({e['value']!r})" for e in row["_errors"]),
                *(row.get(f) for f in self.fields),
                row.get("_line"),
            ]
            for row in self.rows
        ]
        return columns, lines


def read_quarantine(estate: Estate, dataset: str, version: int | None = None) -> QuarantineRows:
    info = Catalogue(estate).get(dataset)
    chosen = info.version(version)
    fields = [f["name"] for f in (info.schema or {}).get("fields", [])]
    if chosen.rows_quarantined == 0 or chosen.quarantine_version is None:
        return QuarantineRows(dataset, chosen.number, fields, [])
    data = delta.snapshot(estate.quarantine_path(dataset), chosen.quarantine_version)
    table = data.to_table(filter=pc.field("_ingest") == chosen.number).sort_by("_source_row")
    present = [f for f in fields if f in table.column_names]
    return QuarantineRows(dataset, chosen.number, present, table.to_pylist())


def read_quarantine_as(
    estate: Estate,
    principal: str,
    dataset: str,
    version: int | None = None,
    *,
    purpose: str | None = None,
    export: bool = False,
) -> QuarantineRows:
    """:func:`read_quarantine` for ``principal``: authorised, and audited before the rows are returned.

    Quarantined rows are the original text of every column, personal ones included.
    """
    action = "quarantine.export" if export else "quarantine.read"
    authorize(estate, principal, action, dataset=dataset, purpose=purpose)
    found = read_quarantine(estate, dataset, version)
    return release(
        estate,
        found,
        principal=principal,
        action=action,
        purpose=purpose,
        dataset=dataset,
        dataset_version=found.version,
        columns=found.fields,
        row_count=len(found.rows),
    )
