"""Finding the header row of an export that carries a title, notes or blank rows above it."""

from __future__ import annotations

import re
from collections.abc import Sequence

#: Rows looked at: titles and notes above a header are a handful of lines.
SAMPLE_ROWS = 50
_NUMBER = re.compile(r"[-+]?[\d.,]+")


def find_header_row(rows: Sequence[Sequence[str | None]]) -> int | None:
    """The 1-based number of the row that looks like the header, or None.

    The header is the first row as wide as the table: a title or a note above it is
    narrower. It qualifies when every cell is non-empty text (not a number) and
    rows follow it; otherwise there is no telling, and None says so.
    """
    widths = [_width(row) for row in rows]
    if not any(widths):
        return None
    index = widths.index(max(widths))
    row = rows[index]
    if any(widths[index + 1 :]) and all(_is_text(cell) for cell in row[: widths[index]]):
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
