"""CSV: staged by DuckDB's parallel reader; other encodings are transcoded to UTF-8 first.

A line that is not valid UTF-8 in a file that starts as UTF-8 is quarantined
(rule ``encoding``) and the rest loads as UTF-8; a file whose first megabyte is
not UTF-8 is read as Windows-1252 (or as ``--encoding`` says).
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import dataclasses
import hashlib
import io
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import duckdb

from joinedup.errors import InputError
from joinedup.ingest import read_ahead
from joinedup.ingest.header_row import SAMPLE_ROWS, find_header_row
from joinedup.ingest.source import (
    Reject,
    Source,
    checked_header,
    first_line,
    int64_array,
    row_numbers,
    visible_sql,
)
from joinedup.storage.duck import literal_path, quote_literal, size_in_bytes

if TYPE_CHECKING:
    # Loaded where used: the read-ahead thread starts DuckDB's reading before NumPy and
    # Arrow have loaded (DuckDB needs Arrow only to hand over the rows it has read).
    import pyarrow as pa

_CHUNK = 1 << 20
#: The longest CSV line (a row, quoted line breaks included) DuckDB will read.
_MAX_LINE = 16 << 20
#: Up to this many rejected rows, row numbers are corrected inline; beyond it, by a join.
_INLINE_GAPS = 1000
#: Encodings DuckDB reads as they are; anything else is transcoded to UTF-8 first.
_DUCKDB_READS = ("utf-8", "utf-8-sig")
#: The staged rows, in file order, with ``_k`` numbering them from 1.
_STAGED = "jd_rows"


@dataclass
class _Scan:
    """What one pass over the bytes found."""

    sha256: str
    size: int
    encoding: str
    #: Whether some value holds NUL or U+FEFF (beyond a leading byte-order mark).
    invisible: bool = False


def open_csv(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    scratch_dir: Path,
    encoding: str | None,
    delimiter: str,
    header_row: int | None,
    find_header: bool,
) -> Source:
    declared = _text_encoding(path, encoding) if encoding else None
    head = _first_bytes(path)
    likely = declared or _sniff_bom(head)
    scratch: list[Path] = []
    if _transcoded(head, likely, declared):
        scan = _hash_and_detect(path, declared)
        row = _header_row(path, head, scan.encoding, delimiter, header_row, find_header)
        staged, scratch = _stage_transcoded(con, path, scan.encoding, scratch_dir, delimiter, row)
    else:
        row = _header_row(path, head, likely, delimiter, header_row, find_header)
        ahead = _read_ahead(con, path, (declared, delimiter, row))
        if ahead is not None:
            staged, scan, problem = ahead.staged, ahead.scan, None
            _register(con, ahead.staged.rows)
        else:
            staged, scan, problem = _stage_utf8(con, path, declared, delimiter, row)
        if scan.encoding not in _DUCKDB_READS:
            staged, scratch = _stage_transcoded(con, path, scan.encoding, scratch_dir, delimiter, row)
        elif isinstance(problem, UnicodeError):
            raise InputError(f"{path}: not valid {scan.encoding} text: {problem}")
        elif problem is not None and _mixes_line_endings(path):
            # DuckDB's reader takes one line ending per file and refuses the whole file
            # otherwise: a copy with every ending outside quotes made "\n" reads.
            staged, scratch = _stage_transcoded(con, path, scan.encoding, scratch_dir, delimiter, row, one_ending=True)
        elif problem is not None:
            raise problem
    # Byte positions are in the copy DuckDB read: a transcoded file's bad line is shown from there.
    readable = scratch[0] if scratch else path
    invalid = "invalid UTF-8" if scan.encoding in _DUCKDB_READS else f"invalid {scan.encoding}"
    header = staged.header
    rejects = [_with_cells(_reject(readable, invalid, *r), delimiter, len(header)) for r in staged.rejected]
    numbering = _Numbering.of(con, rejects, row)
    columns = [visible_sql(f"c{i}") + f" AS c{i}" if scan.invisible else f"c{i}" for i in range(len(header))]
    relation = numbering.relation(_STAGED, columns)
    picker = None if staged.rows is None else _picker(staged.rows, numbering, columns)
    return Source(
        path, "csv", header, scan.sha256, scan.size, scan.encoding, relation, rejects, scratch, row, picks=picker
    )


def _transcoded(head: bytes, likely: str | None, declared: str | None) -> bool:
    """Whether the file goes through a UTF-8 copy, from its first megabyte: it is known, or
    seen there, not to be UTF-8, or DuckDB would misread it (a quote straight after a
    byte-order mark: a quoted line break in the first header then splits it)."""
    quoted_after_bom = head.startswith(codecs.BOM_UTF8 + b'"')
    return likely not in _DUCKDB_READS or quoted_after_bom or (declared is None and not _utf8_so_far(head))


@dataclass(frozen=True)
class _Staged:
    """What staging a file left: its header, the lines DuckDB set aside, and the rows when held in Arrow."""

    header: list[str]
    rejected: list[tuple[Any, ...]]
    rows: pa.Table | None = None


def _stage_utf8(
    con: duckdb.DuckDBPyConnection, path: Path, declared: str | None, delimiter: str, row: int
) -> tuple[_Staged, _Scan, Exception | None]:
    """Stage ``path`` as UTF-8; what was staged, the scan of its bytes and the problem met, if any."""
    # Most files are UTF-8: stage the file as such while another thread hashes it
    # and checks every byte really is UTF-8 (DuckDB's C++ runs without the GIL).
    # DuckDB itself sets aside the lines that are not.
    staged = _Staged([], [])
    problem: Exception | None = None
    with ThreadPoolExecutor(max_workers=1) as pool:
        checking = pool.submit(_hash_and_detect, path, declared)
        try:
            staged = _stage(con, path, path, delimiter, row)
        except (InputError, UnicodeError) as exc:
            problem = exc
        scan = checking.result()  # its errors (empty file, bad bytes) come first
    return staged, scan, problem


@dataclass(frozen=True)
class Ahead:
    """A CSV staged in Arrow before the ingest asked for it (see :mod:`joinedup.ingest.read_ahead`)."""

    #: What it was read with: declared encoding, delimiter, header row, DuckDB's memory limit and threads.
    settings: tuple[Any, ...]
    #: The file's identity (device, inode, size, modification and change times), the same before and after it was read.
    identity: tuple[int, ...]
    staged: _Staged
    scan: _Scan


def stage_ahead(
    con: duckdb.DuckDBPyConnection, path: Path, encoding: str | None, delimiter: str, header_row: int | None
) -> Ahead | None:
    """Stage a UTF-8 CSV that fits in memory as :func:`open_csv` would, for an ingest to take later.

    None when the file needs anything else (transcoding, a disk-backed staging, a
    fix for mixed line endings) or reading it failed: the ingest then reads it
    itself and reports any problem in its own order.
    """
    try:
        declared = _text_encoding(path, encoding) if encoding else None
        before = _identity(path)
        head = _first_bytes(path)
        likely = declared or _sniff_bom(head)
        if _transcoded(head, likely, declared):
            return None
        if not _fits_in_memory(con, path, delimiter):
            return None  # staged on disk by the reader: reading it here too would read it twice
        row = _header_row(path, head, likely, delimiter, header_row, False)
        staged, scan, problem = _stage_utf8(con, path, declared, delimiter, row)
        if problem is not None or staged.rows is None or scan.encoding not in _DUCKDB_READS:
            return None
        if _identity(path) != before:
            return None
    except (InputError, OSError, UnicodeError, duckdb.Error):
        return None
    return Ahead((declared, delimiter, row, *_engine(con)), before, staged, scan)


def _read_ahead(con: duckdb.DuckDBPyConnection, path: Path, settings: tuple[Any, ...]) -> Ahead | None:
    """The rows read ahead for this file, when read with these settings and the file has not changed since."""
    ahead = read_ahead.take(path)
    if not isinstance(ahead, Ahead) or ahead.settings != (*settings, *_engine(con)):
        return None
    try:
        unchanged = _identity(path) == ahead.identity
    except OSError:
        return None
    return ahead if unchanged and _fits_in_memory(con, path, settings[1]) else None


def _engine(con: duckdb.DuckDBPyConnection) -> tuple[str, str]:
    [(limit, threads)] = con.execute("SELECT current_setting('memory_limit'), current_setting('threads')").fetchall()
    return str(limit), str(threads)


def _identity(path: Path) -> tuple[int, ...]:
    status = path.stat()
    # The change time too: a modification time can be set back, the change time cannot.
    return status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns, status.st_ctime_ns


@dataclass(frozen=True)
class _Numbering:
    """How staged row ``_k`` (1-based, in file order) maps to its row in the file, skipping lines set aside."""

    #: SQL for the row in the file, over ``_k`` (and ``_before`` when ``asof``).
    number: str
    asof: bool

    @classmethod
    def of(cls, con: duckdb.DuckDBPyConnection, rejects: list[Reject], row: int) -> _Numbering:
        # Kept row k (1-based) sits after every rejected row i with line_i - row - i < k:
        # its row in the file is k + row (the header and the rows above it) + how many of those there are.
        gaps = [r.source_row - row - i for i, r in enumerate(rejects, start=1)]
        if len(gaps) <= _INLINE_GAPS:
            # A sum of comparisons: vectorised, cheap, and it keeps every pass parallel.
            return cls(" + ".join([f"_k + {row}", *(f"CAST(_k > {u} AS BIGINT)" for u in gaps)]), asof=False)
        # A badly broken file: an as-of join finds how many rejected rows came before each row.
        # Rejected lines in a row share a gap: the last of them counts all (the join would pick any).
        con.execute(
            "CREATE OR REPLACE TABLE jd_gaps AS SELECT u, max(n) AS n FROM (VALUES "
            + ", ".join(f"({u}, {n})" for n, u in enumerate(gaps, start=1))
            + ") AS g(u, n) GROUP BY u"
        )
        return cls(f"_k + {row} + coalesce(_before, 0)", asof=True)

    def relation(self, staged: str, columns: list[str]) -> str:
        """``staged``'s rows with their row numbers in the file, as ``_source_row``, and ``columns``."""
        numbered = staged
        if self.asof:
            numbered = f"(SELECT s.*, g.n AS _before FROM {staged} s ASOF LEFT JOIN jd_gaps g ON s._k > g.u)"
        return f"(SELECT CAST({self.number} AS BIGINT) AS _source_row, {', '.join(columns)} FROM {numbered})"


_PICKED = "jd_rows_picked"


def _picker(
    rows: pa.Table, numbering: _Numbering, columns: list[str]
) -> Callable[[duckdb.DuckDBPyConnection, str], str]:
    """Picks rows by number out of the staged Arrow table: reads one integer column, not every cell.

    Used for the rejected rows after the valid ones were loaded: filtering the whole
    relation converted every cell of every row from Arrow again.
    """

    def picked(con: duckdb.DuckDBPyConnection, numbers: str) -> str:
        keyed = numbering.relation(_STAGED, ["_k"])
        found = con.sql(
            f"SELECT _k FROM {keyed} WHERE _source_row IN (SELECT _source_row FROM {numbers}) ORDER BY _k"
        ).to_arrow_table()
        positions = int64_array(row_numbers(found.column(0).chunks) - 1)
        con.execute(f"DROP VIEW IF EXISTS {_PICKED}")
        con.register(_PICKED, rows.take(positions))
        return numbering.relation(_PICKED, columns)

    return picked


def _reject(path: Path, invalid: str, line: int, kind: str, message: str, text: str | None, at: int | None) -> Reject:
    if "ENCODING" in kind or "UNICODE" in kind:
        # DuckDB's copy of the line has lost the bad bytes; show them from the file.
        return Reject(int(line), invalid, _line_at(path, at, text), "encoding")
    return Reject(int(line), _ragged_message(message), (text or "").strip("\r\n"))


def _with_cells(reject: Reject, delimiter: str, width: int) -> Reject:
    """A line set aside for its bytes (not its shape) keeps its cells when it splits into ``width`` fields."""
    if reject.rule != "encoding":
        return reject
    records = list(csv.reader(io.StringIO(reject.text, newline=""), delimiter=delimiter))
    if len(records) != 1 or len(records[0]) != width:
        return reject
    return dataclasses.replace(reject, cells=tuple(records[0]))


#: How far back from DuckDB's position of a rejected line its start is looked for.
_BACK = 64


def _line_at(path: Path, at: int | None, seen: str | None) -> str:
    """The whole record starting near byte ``at``, its bad bytes escaped (``\\xff``).

    ``seen`` is DuckDB's copy of it (bad bytes lost): it tells how many physical lines the record spans.
    """
    if at is None:
        return ""
    with open(path, "rb") as handle:
        # DuckDB's position of a line it could not decode is sometimes one byte past its
        # start: the record starts after the last line break before it (a record never
        # starts with one).
        back = max(0, at - _BACK)
        handle.seek(back)
        before = handle.read(at - back)
        end_of_previous = max(before.rfind(b"\n"), before.rfind(b"\r"))
        start = back + end_of_previous + 1 if end_of_previous >= 0 or back == 0 else at
        handle.seek(start)
        # DuckDB's copy may carry the line break before it ("\n" of a "\r\n"): not one of its lines.
        lines = len(io.StringIO(seen.strip("\r\n"), newline="").readlines()) if seen else 0
        raw = _first_record(handle, lines or None)
    return raw.decode("utf-8", errors="backslashreplace").rstrip("\r\n")


def _first_record(handle: BinaryIO, lines: int | None) -> bytes:
    """The bytes of the CSV record at the handle's position: ``lines`` physical lines when
    known, else up to one that leaves no quote open (a doubled quote opens and closes)."""
    raw = b""
    count = 0
    while line := handle.readline(_MAX_LINE - len(raw)):
        raw += line
        count += 1
        if (count == lines if lines else raw.count(b'"') % 2 == 0) or len(raw) >= _MAX_LINE:
            break
    return raw


def _text_encoding(path: Path, encoding: str) -> str:
    """The codec's own name for a declared encoding; refused when unknown or not for text."""
    try:
        info = codecs.lookup(encoding)
    except LookupError:
        raise InputError(f"{path}: unknown encoding {encoding!r} (e.g. utf-8, cp1252, latin-1, utf-16)") from None
    # rot13, base64, zlib and the like are codecs, but not text encodings.
    if not getattr(info, "_is_text_encoding", True):
        raise InputError(f"{path}: {encoding!r} is not a text encoding (e.g. utf-8, cp1252, latin-1, utf-16)")
    return info.name


def _first_bytes(path: Path) -> bytes:
    with open(path, "rb") as handle:
        return handle.read(_CHUNK)


def _utf8_so_far(head: bytes) -> bool:
    """Whether ``head`` could begin a UTF-8 file (a character cut off at its end is allowed)."""
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return True


def _header_row(path: Path, head: bytes, encoding: str, delimiter: str, given: int | None, find: bool) -> int:
    """The header's row (a CSV record number): as given, else found in the first rows when asked, else 1."""
    if given is not None or not find:
        return given or 1
    text = head.decode(encoding, errors="replace") if encoding in _DUCKDB_READS else _decoded_head(path, encoding)
    # Only \n, \r and \r\n end a line, as for DuckDB (str.splitlines would also split at U+2028).
    lines = io.StringIO(text, newline="").readlines()[:SAMPLE_ROWS]
    rows: list[list[str | None]] = []
    # The sample may end mid-way through a quoted value; the rows read so far will do.
    with contextlib.suppress(csv.Error):
        for cells in csv.reader(lines, delimiter=delimiter):
            rows.append(list(cells))
    # A row number counts CSV records, not physical lines (a quoted line break does not
    # start a row): DuckDB's skip, the row numbers and rows_above_header count the same way.
    return find_header_row(rows) or 1


def _decoded_head(path: Path, encoding: str) -> str:
    with open(path, encoding=encoding, errors="replace", newline="") as handle:
        return handle.read(_CHUNK)


def _stage_transcoded(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    encoding: str,
    scratch_dir: Path,
    delimiter: str,
    row: int,
    *,
    one_ending: bool = False,
) -> tuple[_Staged, list[Path]]:
    # DuckDB reads UTF-8 only (its other encodings need an extension we cannot
    # download), so other encodings are transcoded into the estate's tmp/ first.
    if not one_ending and _mixes_line_endings(path):
        one_ending = True
    readable = _transcode(path, encoding, scratch_dir, one_ending=one_ending)
    try:
        staged = _stage(con, path, readable, delimiter, row)
    except BaseException:
        readable.unlink(missing_ok=True)
        raise
    return staged, [readable]


def _stage(con: duckdb.DuckDBPyConnection, path: Path, readable: Path, delimiter: str, row: int) -> _Staged:
    """Stage every row of ``readable`` (UTF-8) under the header on line ``row`` as ``jd_rows``.

    Returns the header, the rows that did not split or decode and the rows staged
    in Arrow (None when staged in a table); ``path`` is the user's file, named in errors.
    """
    header = _csv_header(path, readable, delimiter, row)
    columns = [f"c{i}" for i in range(len(header))]
    spec = "{" + ", ".join(f"'{c}': 'VARCHAR'" for c in columns) + "}"
    # DuckDB takes the first line break it meets, even one quoted in the header, as
    # the file's line ending, and then silently reads no rows: tell it the real one.
    ending = _header_ending(readable) if any("\n" in h or "\r" in h for h in header) else None
    new_line = f"new_line = {quote_literal(_ESCAPED_ENDINGS[ending])}, " if ending else ""
    try:
        with literal_path(readable) as plain:
            return _staged(con, header, plain, spec, delimiter, row, new_line)
    except duckdb.Error as exc:
        raise InputError(f"{path}: cannot read as CSV: {first_line(exc)}") from None


def _staged(
    con: duckdb.DuckDBPyConnection,
    header: list[str],
    readable: Path,
    spec: str,
    delimiter: str,
    row: int,
    new_line: str,
) -> _Staged:
    """:func:`_stage`'s DuckDB part, reading ``readable`` (a path DuckDB takes literally)."""
    # A buffer of twice the longest line DuckDB accepts: fewer, larger reads
    # parse faster than its default here.
    reader = (
        f"read_csv({quote_literal(str(readable))}, header = true, auto_detect = false, skip = {row - 1}, "
        f"columns = {spec}, delim = {quote_literal(delimiter)}, quote = '\"', escape = '\"', {new_line}"
        "store_rejects = true, rejects_table = 'jd_rejects', rejects_scan = 'jd_reject_scans', "
        f"max_line_size = {_MAX_LINE}, buffer_size = {2 * _MAX_LINE})"
    )
    con.execute("DROP TABLE IF EXISTS jd_rejects; DROP TABLE IF EXISTS jd_reject_scans")
    # One parallel pass stages the rows and finds those that do not split into
    # the header's columns. Numbering rows while reading would hold everything
    # above it to one thread: the rows are numbered by their place afterwards.
    rows: pa.Table | None = None
    if _fits_in_memory(con, readable, delimiter):
        rows = _stage_in_arrow(con, reader)
    else:
        _stage_in_table(con, reader)
    rejected = con.execute(
        "SELECT line, min(error_type), min(error_message), min(csv_line), min(line_byte_position) "
        "FROM jd_rejects GROUP BY line ORDER BY line"
    ).fetchall()
    return _Staged(header, rejected, rows)


_ESCAPED_ENDINGS = {"\r\n": "\\r\\n", "\n": "\\n", "\r": "\\r"}


def _fits_in_memory(con: duckdb.DuckDBPyConnection, readable: Path, delimiter: str) -> bool:
    """Whether to stage in Arrow: the connection is in memory and the Arrow copy well within its memory limit.

    A file-backed connection is chosen for inputs that may not fit (see the
    pipeline's staging database): there only a table can move rows to disk.
    """
    [(database, limit)] = con.execute(
        "SELECT (SELECT path FROM duckdb_databases() WHERE database_name = current_database()), "
        "current_setting('memory_limit')"
    ).fetchall()
    return database is None and staged_bytes(readable, delimiter) * 4 <= size_in_bytes(str(limit))


def staged_bytes(path: Path, delimiter: str) -> int:
    """About the bytes the file's rows take staged, from the cells a line has at the start of the file.

    Besides its text each cell takes an 8-byte offset in Arrow (large buffers), as
    does each row's number: a file of short or empty cells takes several times its
    size (an empty cell is 1 byte of the file, 8 in Arrow), and DuckDB's memory
    limit does not count Arrow's.
    """
    size = path.stat().st_size
    head = _first_bytes(path)
    if not head:
        return size
    lines = max(head.count(b"\n"), head.count(b"\r"))
    # Delimiters and line breaks in quoted text count too: an estimate on the safe side.
    cells = head.count(delimiter.encode("utf-8")) + 2 * lines
    return size + size * cells * 8 // len(head)


def _stage_in_arrow(con: duckdb.DuckDBPyConnection, reader: str) -> pa.Table:
    # Read in file order into Arrow and numbered there: faster than DuckDB's ordered
    # insert into a table (0.5 s against 0.6 s for a million rows), and the passes
    # that follow scan it as fast.
    # Large buffers: one batch of a long text column may pass Arrow's 2 GiB string limit.
    con.execute("SET arrow_large_buffer_size = true")
    try:
        staged = con.sql(f"SELECT * FROM {reader}").to_arrow_table()
    finally:
        con.execute("RESET arrow_large_buffer_size")
    import numpy as np

    count = staged.num_rows
    rows = staged.append_column("_k", int64_array(np.arange(1, count + 1, dtype=np.int64)))
    _register(con, rows)
    return rows


def _register(con: duckdb.DuckDBPyConnection, rows: pa.Table) -> None:
    con.execute(f"DROP VIEW IF EXISTS {_STAGED}")  # a view over a table staged before in this connection
    con.register(_STAGED, rows)


def _stage_in_table(con: duckdb.DuckDBPyConnection, reader: str) -> None:
    # A table's rowid is its insertion order, which DuckDB keeps equal to file order.
    con.execute(f"CREATE OR REPLACE TABLE jd_csv AS SELECT * FROM {reader}")
    con.execute(f"CREATE OR REPLACE TEMP VIEW {_STAGED} AS SELECT rowid + 1 AS _k, * FROM jd_csv")


def _header_ending(readable: Path) -> str | None:
    """The first line break outside quotes (the file's line ending), or None when there is none."""
    with open(readable, encoding="utf-8-sig", errors="replace", newline="") as handle:
        text = handle.read(_CHUNK)
    quoted = False
    for i, ch in enumerate(text):
        if ch == '"':
            quoted = not quoted
        elif ch in "\r\n" and not quoted:
            return "\r\n" if text[i : i + 2] == "\r\n" else ch
    return None


def _ragged_message(message: str) -> str:
    # DuckDB says "Expected Number of Columns: 3 Found: 4"; say it plainly.
    parts = [p for p in message.replace(":", " ").split() if p.isdigit()]
    if len(parts) >= 2:
        return f"row has {parts[1]} fields, the header has {parts[0]}"
    return message


def _csv_header(path: Path, readable: Path, delimiter: str, row: int) -> list[str]:
    # A bad byte below the header is its own line's problem (quarantined); one in the header is refused.
    with open(readable, encoding="utf-8-sig", errors="surrogateescape", newline="") as handle:
        # Records, not lines: a title above the header may hold a quoted line break.
        above = csv.reader(handle, delimiter=delimiter)
        for record in range(1, row):
            try:
                if next(above, None) is None:
                    break
            except csv.Error as exc:
                raise InputError(f"{path}: row {record}: a row above the header is not valid CSV: {exc}") from None
        try:
            header = next(csv.reader(handle, delimiter=delimiter, strict=True), None)
        except csv.Error as exc:
            raise InputError(f"{path}: row {row}: the header row is not valid CSV: {exc}") from None
    if header and any(_undecoded(name) for name in header):
        raise InputError(f"{path}: row {row}: the header row is not valid text in the file's encoding; pass --encoding")
    if not header or header == [""]:
        if row > 1:
            raise InputError(f"{path}: row {row}: expected the header row naming the columns, found no names")
        raise InputError(f"{path}: empty file: expected a header row naming the columns")
    return checked_header(path, header, row)


def _undecoded(text: str) -> bool:
    # surrogateescape stands for each byte it could not decode by U+DC80..U+DCFF.
    return any("\udc80" <= ch <= "\udcff" for ch in text)


def _hash_and_detect(path: Path, declared: str | None) -> _Scan:
    """Hash the file and find its encoding in one read: UTF-8 (with or without BOM),
    UTF-16 with a BOM, or else Windows-1252; a declared encoding is checked, not trusted.

    A UTF-8 file with bad bytes after its first megabyte stays UTF-8: those lines
    are quarantined, not the whole file re-read as something else.
    """
    sha = hashlib.sha256()
    size = 0
    encoding = declared
    decoder = None
    offset = 0
    invisible = False
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            if encoding is None:
                encoding = _sniff_bom(chunk)
                if encoding == "utf-8" and chunk.count(0) * 4 > len(chunk):
                    # Text is not a quarter NUL bytes; UTF-16 with no byte-order mark is.
                    raise InputError(
                        f"{path}: looks like UTF-16 text without a byte-order "
                        "mark; pass --encoding utf-16-le (or utf-16-be)"
                    )
            if decoder is None:
                decoder = _decoder(path, encoding)
            sha.update(chunk)
            size += len(chunk)
            try:
                text = decoder.decode(chunk)
            except UnicodeError as exc:
                at = offset + getattr(exc, "start", 0)
                if (offset and encoding in _DUCKDB_READS) or _byte_by_byte(encoding):
                    # Past UTF-8's first megabyte, or in a one-byte-per-character encoding
                    # (cp1252 leaves 0x81 undefined): DuckDB sets the bad lines aside; keep hashing.
                    decoder = _decoder(path, encoding, errors="replace")
                    text = decoder.decode(chunk)
                elif declared or encoding != "utf-8":
                    raise InputError(f"{path}: byte {at}: not valid {encoding} text; pass --encoding") from None
                else:
                    encoding = "cp1252"
                    decoder = None
                    sha, size, offset, invisible = hashlib.sha256(), 0, 0, False
                    handle.seek(0)
                    continue
            invisible = invisible or "\x00" in text or "\ufeff" in text
            offset += len(chunk)
        if decoder is not None:
            try:
                decoder.decode(b"", final=True)
            except UnicodeError:
                if encoding not in _DUCKDB_READS:
                    raise InputError(f"{path}: ends part-way through a character: not valid {encoding} text") from None
    if size == 0:
        raise InputError(f"{path}: empty file: expected a header row naming the columns")
    assert encoding is not None
    return _Scan(sha.hexdigest(), size, encoding, invisible)


def _sniff_bom(chunk: bytes) -> str:
    if chunk.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if chunk.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    return "utf-8"


def _decoder(path: Path, encoding: str, errors: str = "strict") -> codecs.IncrementalDecoder:
    try:
        return codecs.getincrementaldecoder(encoding)(errors=errors)
    except LookupError:
        raise InputError(f"{path}: unknown encoding {encoding!r}") from None


def _byte_by_byte(encoding: str) -> bool:
    """Whether a byte the encoding leaves undefined spoils only its own line (not UTF-8, -16 or -32)."""
    return encoding not in _DUCKDB_READS and not encoding.startswith("utf")


def _transcode(path: Path, encoding: str, scratch_dir: Path, *, one_ending: bool = False) -> Path:
    """A UTF-8 copy of ``path``; with ``one_ending``, every "\r\n" outside quotes becomes "\n"."""
    scratch_dir.mkdir(parents=True, exist_ok=True)
    target = scratch_dir / f"{path.stem}.utf8.csv"
    # An undefined byte is copied as it is, which is not UTF-8: DuckDB then sets its line
    # aside (rule ``encoding``) and the copy shows the byte escaped, as for a UTF-8 file.
    errors = "surrogateescape" if _byte_by_byte(encoding) else "strict"
    with (
        open(path, encoding=encoding, errors=errors, newline="") as src,
        open(target, "w", encoding="utf-8", errors=errors, newline="") as dst,
    ):
        ending = _OneEnding() if one_ending else None
        while text := src.read(_CHUNK):
            dst.write(ending.feed(text) if ending else text)
        if ending:
            dst.write(ending.flush())
    return target


def _mixes_line_endings(path: Path) -> bool:
    """Whether the file's first megabyte ends some lines with "\r\n" and others with a bare "\n"."""
    head = _first_bytes(path)
    crlf = head.count(b"\r\n")
    return 0 < crlf < head.count(b"\n")


class _OneEnding:
    """Rewrites "\r\n" outside double quotes as "\n", chunk by chunk (quoted values keep theirs)."""

    def __init__(self) -> None:
        self.quoted = False
        self.pending = ""

    def feed(self, text: str) -> str:
        text = self.pending + text
        # A "\r" at the end may be the first half of a "\r\n" split across chunks.
        self.pending = "\r" if text.endswith("\r") else ""
        if self.pending:
            text = text[:-1]
        parts = text.split('"')
        for i in range(len(parts)):
            # Even parts lie outside quotes when the chunk starts outside them.
            if (i % 2 == 0) != self.quoted:
                parts[i] = parts[i].replace("\r\n", "\n")
        if len(parts) % 2 == 0:
            self.quoted = not self.quoted
        return '"'.join(parts)

    def flush(self) -> str:
        rest, self.pending = self.pending, ""
        return rest
