"""Reading a dataset's quarantine: the rows an ingest rejected, with every reason."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from joinedup.access import Principal
from joinedup.access.reads import Fetched, read_as
from joinedup.access.roles import ADMIN, DPO, STEWARD
from joinedup.estate import Catalogue, Estate
from joinedup.storage import delta
from joinedup.storage.csv_export import csv_destination

#: Roles that see a rejected line whole. A line that did not split into columns
#: can hold columns the schema leaves out (a dropped diagnosis column, say), so
#: only those who manage the dataset and may read everything in its files see it.
RAW_LINE_ROLES = frozenset({ADMIN, STEWARD, DPO})
#: The error "column" of a line that did not split; its value is the line.
WHOLE_ROW = "(row)"


@dataclass
class QuarantineRows:
    dataset: str
    version: int
    #: The schema's field names, in order: the original text of each is kept.
    fields: list[str]
    rows: list[dict[str, Any]]
    #: Why lines that did not split are not shown (None when they are).
    lines_withheld: str | None = None

    def flat(self) -> tuple[list[str], list[list[Any]]]:
        """One line per row: row number, reasons joined, then the original values."""
        columns = ["row", "reasons", *self.fields, "line"]
        lines = [
            [
                row["_source_row"],
                "; ".join(_reason(e) for e in row["_errors"]),
                *(row.get(f) for f in self.fields),
                row.get("_line") if row.get("_line_withheld") is None else f"[line {row['_line_withheld']}]",
            ]
            for row in self.rows
        ]
        return columns, lines


def _reason(error: dict[str, Any]) -> str:
    value = "withheld" if error["value"] is None and error["column"] == WHOLE_ROW else repr(error["value"])
    return f"{error['column']}: {error['rule']}: {error['message']} ({value})"


def read_quarantine(
    estate: Estate, dataset: str, version: int | None = None, *, raw_lines: bool = True
) -> QuarantineRows:
    """The rejected rows of ``dataset``'s ``version``; without ``raw_lines``, lines that did not split are withheld."""
    info = Catalogue(estate).get(dataset)
    chosen = info.version(version)
    fields = [f["name"] for f in (info.schema or {}).get("fields", [])]
    withheld = None if raw_lines else _withheld_note(dataset)
    if chosen.rows_quarantined == 0 or chosen.quarantine_version is None:
        return QuarantineRows(dataset, chosen.number, fields, [], withheld)
    data = delta.snapshot(estate.quarantine_path(dataset), chosen.quarantine_version)
    table = data.to_table(filter=pc.field("_ingest") == chosen.number).sort_by("_source_row")
    if withheld is not None:
        table = _withhold_lines(table, withheld)
    present = [f for f in fields if f in table.column_names]
    return QuarantineRows(dataset, chosen.number, present, table.to_pylist(), withheld)


def _sees_raw_lines(principal: Principal, dataset: str) -> bool:
    """Whether ``principal`` may see quarantined lines whole, columns outside the schema included."""
    return bool(principal.roles_on(dataset) & RAW_LINE_ROLES)


def read_quarantine_as(
    estate: Estate, principal: str, dataset: str, version: int | None = None, *, purpose: str | None = None
) -> QuarantineRows:
    """:func:`read_quarantine` for ``principal``: authorised, and audited before the rows are returned.

    Quarantined rows are the original text of every column, personal ones
    included; lines that did not split are shown only to :data:`RAW_LINE_ROLES`.
    """
    return read_as(
        estate, principal, "quarantine.read", datasets=[dataset], purpose=purpose,
        fetch=lambda who: _fetch(estate, who, dataset, version), failure=lambda _: {"dataset": dataset},
    )  # fmt: skip


def export_quarantine_as(
    estate: Estate, principal: str, dataset: str, path: Path, version: int | None = None, *, purpose: str | None = None
) -> tuple[QuarantineRows, int]:
    """Write ``dataset``'s quarantine to the CSV file ``path`` for ``principal``; the rows and the count written.

    The destination is checked before anything is read or audited; the file
    appears (mode 0600) only after the ``quarantine.export`` entry is committed.
    """
    with csv_destination(path) as destination:

        def deliver(found: QuarantineRows) -> tuple[QuarantineRows, int]:
            return found, destination.write(*found.flat())

        return read_as(
            estate, principal, "quarantine.export", datasets=[dataset], purpose=purpose,
            fetch=lambda who: _fetch(estate, who, dataset, version),
            failure=lambda _: {"dataset": dataset}, deliver=deliver,
        )  # fmt: skip


def _fetch(estate: Estate, who: Principal, dataset: str, version: int | None) -> Fetched[QuarantineRows]:
    found = read_quarantine(estate, dataset, version, raw_lines=_sees_raw_lines(who, dataset))
    shown = found.fields if found.lines_withheld else [*found.fields, "_line"]
    return Fetched(
        found,
        dataset=dataset,
        dataset_version=found.version,
        columns=shown,
        row_count=len(found.rows),
        detail={"lines": "withheld" if found.lines_withheld else "shown"},
    )


def _withheld_note(dataset: str) -> str:
    return (
        "withheld, as a line that did not split into columns can hold columns outside the schema; "
        f"an admin or a steward of {dataset!r} can see it"
    )


def _withhold_lines(table: pa.Table, note: str) -> pa.Table:
    """``table`` with each unsplit line (and the reason quoting it) blanked, and the note beside it."""
    line = table.column("_line")
    errors = table.column("_errors").combine_chunks()
    reasons = errors.values
    blanked = pc.if_else(
        pc.equal(reasons.field("column"), WHOLE_ROW), pa.scalar(None, pa.string()), reasons.field("value")
    )
    fields = [blanked if f.name == "value" else reasons.field(f.name) for f in reasons.type]
    reasons = pa.StructArray.from_arrays(fields, fields=list(reasons.type))
    errors = pa.ListArray.from_arrays(errors.offsets, reasons, type=errors.type, mask=errors.is_null())
    table = table.set_column(table.schema.get_field_index("_errors"), "_errors", errors)
    table = table.set_column(table.schema.get_field_index("_line"), "_line", pa.nulls(len(table), pa.string()))
    withheld = pc.if_else(pc.is_valid(line), pa.scalar(note), pa.scalar(None, pa.string()))
    return table.append_column("_line_withheld", withheld)
