"""An independent check of invariant 2: every byte and every decoded Parquet value under the estate."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow.parquet as pq


def occurrences(root: Path, values: list[str]) -> list[str]:
    """Files (relative) where any of ``values`` appears, raw or decoded, ignoring case."""
    wanted = [v.lower() for v in values]
    found = []
    for folder, _, names in os.walk(root):
        for name in names:
            path = Path(folder) / name
            raw = path.read_bytes().lower()
            texts = [raw.decode("latin-1")]
            if name.endswith(".parquet"):
                # Every value, dictionaries and nested quarantine reasons included, as Python sees them.
                texts.append(repr(pq.read_table(path).to_pylist()).lower())
                texts.append(str(pq.ParquetFile(path).metadata.to_dict()).lower())
            if any(w in t for w in wanted for t in texts):
                found.append(str(path.relative_to(root)))
    return sorted(found)
