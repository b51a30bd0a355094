"""Finding the header row of an export that carries a title, notes or blank rows above it."""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence

#: Rows looked at: titles and notes above a header are a handful of lines.
SAMPLE_ROWS = 50
_NUMBER = re.compile(r"[-+]?[\d.,]+")


def find_header_row(rows: Sequence[Sequence[str | None]]) -> int | None:
    """The 1-based number of the first row that looks like the header, or None.

    A header names every column: all its cells are non-empty text (not numbers),
    rows follow it, and it is at least as wide as most of them (the median, so a
    ragged row does not count). A title or a note is narrower than the table below.
    """
    widths = [_width(row) for row in rows]
    for index, row in enumerate(rows):
        below = [w for w in widths[index + 1 :] if w]
        width = widths[index]
        if width and below and width >= statistics.median(below) and all(_is_text(c) for c in row[:width]):
            return index + 1
    return None


def _width(row: Sequence[str | None]) -> int:
    end = len(row)
    while end and not (row[end - 1] or "").strip():
        end -= 1
    return end


def _is_text(cell: str | None) -> bool:
    text = (cell or "").strip()
    return bool(text) and not _NUMBER.fullmatch(text)
