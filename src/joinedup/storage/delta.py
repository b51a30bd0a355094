"""Delta Lake tables: the open-format home of every dataset version and its quarantine.

deltalake is the only writer of the Delta log. The catalogue records which
Delta version belongs to each dataset version; readers open that version, so a
commit left behind by a process killed before its catalogue commit is never seen,
and :func:`discard_uncatalogued` rolls such commits back before the next write.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import pyarrow as pa
from deltalake import ColumnProperties, DeltaTable, WriterProperties, write_deltalake
from deltalake.exceptions import TableNotFoundError

from joinedup.storage.duck import quote_identifier as quote

if TYPE_CHECKING:
    # pyarrow.dataset imports pandas (a quarter of a second): only readers of a snapshot pay for it.
    import pyarrow.dataset as pads

#: Columns every data table carries: which ingest wrote the row and its row in the
#: source file. Together they are the surrogate row key used to delete rows
#: without putting an identifying value in a predicate.
SYSTEM_COLUMNS = ("_ingest", "_source_row")
WriteMode = Literal["overwrite", "append"]


def latest_version(path: Path) -> int | None:
    """The newest committed Delta version, or None when no table exists yet."""
    try:
        return DeltaTable(str(path)).version()
    except TableNotFoundError:
        return None


def discard_uncatalogued(path: Path, catalogued: int | None) -> bool:
    """Undo Delta commits newer than the catalogued version (left by a killed writer).

    Returns True when something was rolled back.
    """
    latest = latest_version(path)
    if latest is None:
        return False
    if catalogued is None:
        # Nothing in the catalogue refers to this table: all of it is left over.
        shutil.rmtree(path)
        return True
    if latest <= catalogued:
        return False
    DeltaTable(str(path)).restore(catalogued)
    return True


def write(
    path: Path,
    data: pa.RecordBatchReader | pa.Table,
    *,
    mode: WriteMode,
    personal_columns: Iterable[str],
    all_columns: Iterable[str],
    description: str | None = None,
) -> int:
    """Commit ``data`` as a new Delta version and return that version number.

    Personal columns get no min/max statistics, neither in the Delta log nor in
    the Parquet footers, so no person's values sit in table metadata.
    """
    stats_columns = _stats_columns(personal_columns, all_columns)
    write_deltalake(
        str(path),
        data,
        mode=mode,
        schema_mode="overwrite" if mode == "overwrite" else "merge",
        configuration={_STATS_COLUMNS: ",".join(stats_columns)},
        writer_properties=_writer_properties(stats_columns),
        description=description,
    )
    version = latest_version(path)
    assert version is not None
    return version


@dataclass(frozen=True)
class Committed:
    """What a write or merge did: the Delta version it left and the rows it inserted, updated and deleted."""

    version: int
    inserted: int
    updated: int
    deleted: int


def merge(
    path: Path,
    data: pa.RecordBatchReader,
    *,
    keys: Sequence[str],
    deletion_flag: str | None,
    personal_columns: Iterable[str],
    all_columns: Iterable[str],
) -> Committed:
    """Merge ``data`` into the table by ``keys``: update rows whose key matches, insert the others.

    A row whose ``deletion_flag`` column is true deletes the row with its key
    instead. Every column of a matched row is replaced, the surrogate row key
    too. Rewritten files get the same statistics rules as :func:`write`.
    """
    stats_columns = _stats_columns(personal_columns, all_columns)
    on = " AND ".join(f"t.{quote(k)} = s.{quote(k)}" for k in keys)
    merger = DeltaTable(str(path)).merge(
        data, on, source_alias="s", target_alias="t", writer_properties=_writer_properties(stats_columns)
    )
    if deletion_flag:
        flagged = f"s.{quote(deletion_flag)}"
        merger = merger.when_matched_delete(f"{flagged} IS TRUE")
        merger = merger.when_matched_update_all(f"{flagged} IS NOT TRUE").when_not_matched_insert_all(
            f"{flagged} IS NOT TRUE"
        )
    else:
        merger = merger.when_matched_update_all().when_not_matched_insert_all()
    metrics = merger.execute()
    version = latest_version(path)
    assert version is not None
    return Committed(
        version,
        metrics["num_target_rows_inserted"],
        metrics["num_target_rows_updated"],
        metrics["num_target_rows_deleted"],
    )


_STATS_COLUMNS = "delta.dataSkippingStatsColumns"


def _stats_columns(personal_columns: Iterable[str], all_columns: Iterable[str]) -> list[str]:
    personal = set(personal_columns)
    return [c for c in all_columns if c not in personal]


def _writer_properties(stats_columns: list[str]) -> WriterProperties:
    # Statistics are off unless a column is known not to be personal: nested
    # columns (quarantine reasons) and new columns are covered too.
    with_stats = ColumnProperties(statistics_enabled="PAGE")
    return WriterProperties(
        compression="ZSTD",
        compression_level=1,
        default_column_properties=ColumnProperties(statistics_enabled="NONE"),
        column_properties={name: with_stats for name in stats_columns},
    )


def snapshot(path: Path, version: int) -> pads.Dataset:
    """The table as it was at ``version``, as a pyarrow dataset (lazy, pushdown-capable)."""
    return DeltaTable(str(path), version=version).to_pyarrow_dataset()


def key_predicate(keys: Iterable[tuple[int, int]]) -> str:
    """A predicate naming rows by surrogate key only: numbers, never a person's value (it enters the Delta log)."""
    by_ingest: dict[int, list[int]] = {}
    for ingest, row in sorted(set(keys)):
        by_ingest.setdefault(int(ingest), []).append(int(row))
    return " OR ".join(
        f"(_ingest = {ingest} AND _source_row IN ({', '.join(map(str, rows))}))" for ingest, rows in by_ingest.items()
    )


def delete_rows(
    path: Path, keys: Iterable[tuple[int, int]], *, personal_columns: Iterable[str], all_columns: Iterable[str]
) -> Committed:
    """Delete the rows with these surrogate keys as a new Delta version; only files holding them are rewritten.

    Rewritten files get the same statistics rules as :func:`write`.
    """
    predicate = key_predicate(keys)
    if not predicate:
        return Committed(DeltaTable(str(path)).version(), 0, 0, 0)
    return delete_where(path, predicate, personal_columns=personal_columns, all_columns=all_columns)


def delete_where(
    path: Path, predicate: str, *, personal_columns: Iterable[str], all_columns: Iterable[str]
) -> Committed:
    """Delete the rows matching ``predicate`` as a new Delta version; only files holding them are rewritten.

    The predicate is written into the Delta log: it must name no person's value.
    """
    metrics = DeltaTable(str(path)).delete(
        predicate, writer_properties=_writer_properties(_stats_columns(personal_columns, all_columns))
    )
    version = latest_version(path)
    assert version is not None
    return Committed(version, 0, 0, int(metrics.get("num_deleted_rows", 0)))
