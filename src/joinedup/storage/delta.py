"""Delta Lake tables: the open-format home of every dataset version and its quarantine.

deltalake is the only writer of the Delta log. The catalogue records which
Delta version belongs to each dataset version; readers open that version, so a
commit left behind by a process killed before its catalogue commit is never seen,
and :func:`discard_uncatalogued` rolls such commits back before the next write.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

import pyarrow as pa
import pyarrow.dataset as pads
from deltalake import ColumnProperties, DeltaTable, WriterProperties, write_deltalake
from deltalake.exceptions import TableNotFoundError

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
    personal = set(personal_columns)
    stats_columns = [c for c in all_columns if c not in personal]
    # Statistics are off unless a column is known not to be personal: nested
    # columns (quarantine reasons) and new columns are covered too.
    with_stats = ColumnProperties(statistics_enabled="PAGE")
    properties = WriterProperties(
        compression="ZSTD",
        compression_level=1,
        default_column_properties=ColumnProperties(statistics_enabled="NONE"),
        column_properties={name: with_stats for name in stats_columns},
    )
    write_deltalake(
        str(path),
        data,
        mode=mode,
        schema_mode="overwrite" if mode == "overwrite" else "merge",
        configuration={"delta.dataSkippingStatsColumns": ",".join(stats_columns)},
        writer_properties=properties,
        description=description,
    )
    version = latest_version(path)
    assert version is not None
    return version


def snapshot(path: Path, version: int) -> pads.Dataset:
    """The table as it was at ``version``, as a pyarrow dataset (lazy, pushdown-capable)."""
    return DeltaTable(str(path), version=version).to_pyarrow_dataset()
