"""Writing CSV for people to open: RFC 4180, UTF-8, safe in spreadsheet programs."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

#: A cell starting with one of these is run as a formula by spreadsheet programs.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> str:
    """The cell's text, with a leading apostrophe where a spreadsheet would run it as a formula."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    if text.startswith(FORMULA_STARTS) and not _is_number(text):
        return "'" + text
    return text


def write_csv(path: Path, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Write a header and rows; returns the number of rows written."""
    count = 0
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow([safe_cell(c) for c in columns])
        for row in rows:
            writer.writerow([safe_cell(v) for v in row])
            count += 1
    return count


def _is_number(text: str) -> bool:
    # "-12.5" is a negative number, not a formula: leave it as it is.
    try:
        float(text)
    except ValueError:
        return False
    return True
