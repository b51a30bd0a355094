"""Writing CSV for people to open: RFC 4180, UTF-8, safe in spreadsheet programs, readable only by its owner."""

from __future__ import annotations

import contextlib
import csv
import os
import re
import tempfile
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from joinedup.errors import JoinedupError

#: After leading blanks, a cell starting with one of these is run as a formula by
#: spreadsheet programs; their full-width and small forms (＝ ﹦ …) fold onto them.
FORMULA_STARTS = frozenset("=+-@")
#: Characters that make a spreadsheet treat what follows as a formula even before blanks are skipped.
CONTROL_STARTS = ("\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


class ExportError(JoinedupError):
    """An export's destination cannot be written."""

    kind = "export"


def safe_cell(value: Any) -> str:
    """The cell's text, with a leading apostrophe where a spreadsheet would run it as a formula."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    return "'" + text if runs_as_formula(text) else text


def runs_as_formula(text: str) -> bool:
    """Whether a spreadsheet opening ``text`` as a cell could run it: its first non-blank
    character is ``= + - @`` (or a full-width or small form of one), or it starts with a
    tab or carriage return. A plain number such as ``-12.5`` is data, not a formula."""
    if text.startswith(CONTROL_STARTS):
        return True
    stripped = text.strip()
    if not stripped or _PLAIN_NUMBER.fullmatch(stripped):
        return False
    return unicodedata.normalize("NFKC", stripped[0])[:1] in FORMULA_STARTS


class CsvDestination:
    """A CSV file about to be written, its folder already checked.

    The rows go to a private temporary file beside the destination (mode 0600:
    exports hold personal data), moved into place only when complete, so a
    failed export leaves no partial file and an existing one unchanged.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        _check_destination(path)
        try:
            handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
        except OSError as exc:
            raise ExportError(f"{path}: cannot write in {path.parent} ({exc.strerror})") from None
        os.close(handle)
        self._temporary = Path(name)

    def write(self, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
        """Write a header and rows and move the file into place; returns the number of rows written."""
        count = 0
        try:
            with open(self._temporary, "w", encoding="utf-8", newline="") as handle:
                writer = csv.writer(handle, lineterminator="\r\n")
                writer.writerow([safe_cell(c) for c in columns])
                for row in rows:
                    writer.writerow([safe_cell(v) for v in row])
                    count += 1
            os.replace(self._temporary, self.path)
        except OSError as exc:
            raise ExportError(f"{self.path}: cannot write the CSV ({exc.strerror})") from None
        return count

    def discard(self) -> None:
        self._temporary.unlink(missing_ok=True)


@contextlib.contextmanager
def csv_destination(path: Path) -> Iterator[CsvDestination]:
    """A checked destination for one CSV; anything not written by the end is removed."""
    destination = CsvDestination(path)
    try:
        yield destination
    finally:
        destination.discard()


def write_csv(path: Path, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Write a header and rows to ``path``; returns the number of rows written."""
    with csv_destination(path) as destination:
        return destination.write(columns, rows)


def _check_destination(path: Path) -> None:
    if path.is_dir():
        raise ExportError(f"{path}: is a folder; expected the name of a CSV file to write")
    if not path.parent.is_dir():
        raise ExportError(f"{path}: folder {path.parent} does not exist; create it first or write elsewhere")
