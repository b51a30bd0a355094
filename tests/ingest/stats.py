"""What a Delta table's metadata says about its columns' values: min/max statistics in the log and the Parquet
footers."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq


def _added_files(table: Path, from_version: int) -> list[dict]:
    """The ``add`` actions of every commit from ``from_version`` on."""
    added = []
    for log in sorted((table / "_delta_log").glob("*.json")):
        if int(log.stem) < from_version:
            continue
        for line in log.read_text().splitlines():
            action = json.loads(line)
            if "add" in action:
                added.append(action["add"])
    return added


def columns_with_statistics(table: Path, from_version: int = 0) -> set[str]:
    """Top-level columns with a min or max anywhere in the log or the footers of files added since ``from_version``."""
    found: set[str] = set()
    for add in _added_files(table, from_version):
        stats = json.loads(add.get("stats") or "{}")
        for key in ("minValues", "maxValues"):
            found |= set(stats.get(key, {}))
        meta = pq.ParquetFile(table / add["path"]).metadata
        for g in range(meta.num_row_groups):
            for c in range(meta.num_columns):
                column = meta.row_group(g).column(c)
                if column.statistics is not None and column.statistics.has_min_max:
                    found.add(column.path_in_schema.split(".")[0])
    return found


def assert_no_statistics_of(table: Path, columns: set[str], from_version: int = 0) -> None:
    assert _added_files(table, from_version), "no files were added: nothing was checked"
    leaked = columns_with_statistics(table, from_version) & columns
    assert not leaked, f"statistics of {sorted(leaked)} in {table}"
