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

    The table is as wide as most rows in the bottom half of the sample (the median
    of cells filled there: titles and notes sit at the top, and one ragged row does
    not count). It starts at the first row filling that many cells with rows under
    it; a title or a note fills fewer, in whichever column it sits. That row is the
    header when all its cells are non-empty text (not numbers); otherwise there is
    no telling (a data row is never taken for the header), and None says so.
    """
    filled = [sum(1 for cell in row if (cell or "").strip()) for row in rows]
    counted = [n for n in filled if n]
    if len(counted) < 2:
        return None
    table = statistics.median(counted[len(counted) // 2 :])
    for index, row in enumerate(rows):
        if filled[index] >= table and any(filled[index + 1 :]):
            return index + 1 if all(_is_text(c) for c in row[: _width(row)]) else None
    return None


#: A date, time or phone-number shape: digits joined by separators.
_DIGITS_JOINED = re.compile(r"\d[\d/\-:. T]*\d")


def looks_like_data(row: Sequence[str | None]) -> bool:
    """Whether a row meant as the header holds values rather than names: a number, a date or an email address.

    Such a row's cells may be a person's details, which never go into an error message.
    """
    for cell in row:
        text = (cell or "").strip()
        if _NUMBER.fullmatch(text) or _DIGITS_JOINED.fullmatch(text) or "@" in text:
            return True
    return False


def _width(row: Sequence[str | None]) -> int:
    end = len(row)
    while end and not (row[end - 1] or "").strip():
        end -= 1
    return end


def _is_text(cell: str | None) -> bool:
    text = (cell or "").strip()
    return bool(text) and not _NUMBER.fullmatch(text)
