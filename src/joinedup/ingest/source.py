"""What every reader hands on: a :class:`Source`, its rejected rows, and the checks they share."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from joinedup.errors import InputError
from joinedup.ingest.header_row import looks_like_data

if TYPE_CHECKING:  # the read-ahead imports this module before DuckDB, NumPy and Arrow are loaded
    import duckdb
    import numpy as np
    import pyarrow as pa

#: The formats ingest reads, by file extension.
FORMATS = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "csv",
    ".xlsx": "excel",
    ".xlsm": "excel",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}


def csv_delimiter(path: Path, delimiter: str) -> str:
    """The delimiter a CSV is read with: a tab for a ``.tsv`` file, else as given."""
    return "\t" if path.suffix.lower() == ".tsv" else delimiter


_CHUNK = 1 << 20
#: Characters removed from every value and header, in every format: NUL and the
#: byte-order mark (U+FEFF) are invisible, never part of a name or identifier, and
#: arrive from fixed-width padding and exports glued together.
INVISIBLE = "\x00\ufeff"


@dataclass
class Reject:
    """A row that could not be split into columns."""

    source_row: int
    problem: str
    text: str
    #: ``columns`` (wrong number of fields), ``json`` (a line that is not a usable
    #: JSON object) or ``encoding`` (a line that is not UTF-8).
    rule: str = "columns"
    #: The line split into the file's columns, only when that split is unambiguous (as
    #: many fields as the header): a ragged line has no reliable positions.
    cells: tuple[str, ...] | None = None


@dataclass
class Source:
    path: Path
    format: str
    columns: list[str]
    sha256: str
    size: int
    encoding: str | None
    #: SQL table expression with ``_source_row`` and ``c0..cN`` as VARCHAR.
    relation: str
    rejects: list[Reject] = field(default_factory=list)
    #: Temporary files to delete when the ingest ends (transcoded copies).
    scratch: list[Path] = field(default_factory=list)
    #: The 1-based row holding the header (CSV and Excel); the rows above it are not data.
    header_row: int = 1
    #: Columns that held nested JSON values (objects or arrays) in a JSON Lines file.
    nested: set[str] = field(default_factory=set)
    #: Given a registered table of ``_source_row`` numbers, a relation of those rows, shaped as
    #: ``relation``, for a reader that can pick them out without reading every cell; else None.
    picks: Callable[[duckdb.DuckDBPyConnection, str], str] | None = None

    def other_rows(self, con: duckdb.DuckDBPyConnection, marked: np.ndarray) -> str:
        """A relation of the rows whose ``_source_row`` is not marked (``marked`` has a mark per row number, from 0
        to the highest here)."""
        import numpy as np
        import pyarrow as pa

        # Every number not marked: the rows wanted, and numbers no row has (the header, lines set aside).
        con.register(_WANTED, pa.table([int64_array(np.flatnonzero(~marked))], names=["_source_row"]))
        if self.picks is not None:
            return self.picks(con, _WANTED)
        return f"(SELECT s.* FROM {self.relation} s SEMI JOIN {_WANTED} w ON s._source_row = w._source_row)"

    @property
    def rows_above_header(self) -> int:
        return self.header_row - 1

    def cleanup(self) -> None:
        for path in self.scratch:
            path.unlink(missing_ok=True)


_WANTED = "jd_wanted_rows"


def row_numbers(arrays: Sequence[pa.Array]) -> np.ndarray:
    """Row numbers (Arrow int64 arrays without nulls) as one NumPy array, sharing the arrays' memory.

    From the buffers: ``Array.to_numpy()`` imports pandas, a quarter of a second.
    """
    import numpy as np

    for a in arrays:
        if a.type != "int64" or a.null_count:
            raise TypeError(f"row numbers must be int64 without nulls, not {a.type} with {a.null_count} nulls")
    parts = [np.frombuffer(a.buffers()[1], dtype=np.int64, count=len(a), offset=a.offset * 8) for a in arrays if len(a)]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def int64_array(values: np.ndarray) -> pa.Array:
    """``values`` as an Arrow int64 array (built from the buffer: ``pa.array()`` would import pandas)."""
    import numpy as np
    import pyarrow as pa

    values = np.ascontiguousarray(values, dtype=np.int64)
    return pa.Array.from_buffers(pa.int64(), len(values), [None, pa.py_buffer(values)])


def checked_header(path: Path, header: list[str], row: int = 1) -> list[str]:
    """The header's names without invisible characters, refused when one is blank or repeated."""
    header = [without_invisible(name).strip() for name in header]
    seen: dict[str, int] = {}
    for position, name in enumerate(header, start=1):
        if not name:
            raise InputError(f"{path}: row {row}: column {position} has no name in the header{_hint(row)}")
        if name in seen:
            if looks_like_data(header):
                # A data row taken for the header repeats values (two people called Sam): never echo them.
                raise InputError(
                    f"{path}: row {row}: columns {seen[name]} and {position} of the header have the same value; "
                    "the row looks like data, not names: pass --header-row N"
                )
            raise InputError(f"{path}: row {row}: columns {seen[name]} and {position} are both called {name!r}")
        seen[name] = position
    return header


def _hint(row: int) -> str:
    # A title or notes above the header is the usual cause on row 1.
    return "; if the header is lower down, pass --header-row N" if row == 1 else ""


def without_invisible(text: str) -> str:
    if "\x00" in text or "\ufeff" in text:
        return text.replace("\x00", "").replace("\ufeff", "")
    return text


def visible_sql(expression: str) -> str:
    """SQL removing :data:`INVISIBLE` characters from a VARCHAR ``expression``."""
    return f"translate({expression}, chr(0) || chr(65279), '')"


def hash_file(path: Path) -> tuple[str, int]:
    sha = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            sha.update(chunk)
            size += len(chunk)
    return sha.hexdigest(), size


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def check_header_row(path: Path, fmt: str, header_row: int | None) -> None:
    if header_row is None:
        return
    if header_row < 1:
        raise InputError(f"{path}: --header-row must be 1 or more, not {header_row}")
    if fmt in ("parquet", "jsonl") and header_row != 1:
        raise InputError(
            f"{path}: a {fmt} file has no header row, but row {header_row} was given as one "
            "(--header-row or the schema's headerRow apply to CSV and Excel)"
        )
