"""What an ingest did: how it combined its rows with the dataset, and where every row went.

Kept apart from the catalogue's database code so the command line can name the
ingest modes without loading SQLAlchemy.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

#: How an ingest combines its rows with the dataset's current version.
MODES = ("replace", "append", "upsert")


@dataclass(frozen=True)
class Lineage:
    """Where one version's rows came from and what the ingest did with them.

    One record feeds the catalogue row, the ingest's summary and its audit
    entry. Nothing lost: ``rows_read`` = inserted + updated + deleted + quarantined.
    """

    mode: str
    source_name: str
    source_sha256: str
    source_bytes: int
    source_format: str
    source_encoding: str | None
    pipeline: str
    #: Delta versions of the table and the quarantine that hold this version.
    table_version: int
    quarantine_version: int | None
    rows_read: int
    rows_inserted: int
    rows_updated: int
    rows_deleted: int
    rows_quarantined: int
    #: Rows the dataset holds at this version, carried-over ones included.
    rows_total: int
    #: Rows above a CSV's or sheet's header row (a title, notes): not data, not in rows_read, but counted.
    rows_above_header: int
    #: ``{column: {rule: count}}``; rows that could not be split into columns count under ``"(row)"``.
    rule_counts: dict[str, dict[str, int]]

    @property
    def rows_loaded(self) -> int:
        """Rows of the file now in the dataset: inserted or updated."""
        return self.rows_inserted + self.rows_updated

    def accounts_for_every_row(self) -> bool:
        return self.rows_read == self.rows_inserted + self.rows_updated + self.rows_deleted + self.rows_quarantined

    def audit_detail(self) -> dict[str, Any]:
        """What the audit entry keeps: counts and the source's hash, never a file's values."""
        return {
            "mode": self.mode,
            "source_sha256": self.source_sha256,
            "source_format": self.source_format,
            **{name: getattr(self, name) for name in _COUNTS},
        }

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "rows_loaded": self.rows_loaded}


_COUNTS = (
    "rows_read",
    "rows_inserted",
    "rows_updated",
    "rows_deleted",
    "rows_quarantined",
    "rows_total",
    "rows_above_header",
)
