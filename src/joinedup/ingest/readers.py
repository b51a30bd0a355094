"""Readers: turn an input file into a DuckDB relation of raw text columns.

Every reader yields the same shape: ``_source_row`` (where the row is in the
file) followed by one VARCHAR column per file column, named ``c0``, ``c1`` ...
(the real header names are kept on :class:`Source`), plus any rows that could
not be split into columns at all (ragged CSV rows, JSON lines that do not parse),
which go to quarantine whole.

Row numbers follow what a person sees: for CSV and Excel the header is row 1 and
the first data row is row 2; for JSON Lines the row is the line number; for
Parquet it is the 1-based row position.
"""

from __future__ import annotations

import codecs
import datetime as dt
import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from joinedup.errors import InputError
from joinedup.storage.duck import quote_literal

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
_CHUNK = 1 << 20
#: The longest CSV line (a row, quoted line breaks included) DuckDB will read.
_MAX_LINE = 16 << 20
_JSONL_BATCH = 50_000
#: Up to this many ragged rows, row numbers are corrected inline; beyond it, by a join.
_INLINE_GAPS = 1000


@dataclass
class Reject:
    """A row that could not be split into columns."""

    source_row: int
    problem: str
    text: str
    #: ``columns`` (wrong number of fields) or ``json`` (a line that is not a JSON object).
    rule: str = "columns"


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

    def cleanup(self) -> None:
        for path in self.scratch:
            path.unlink(missing_ok=True)


def detect_format(path: Path, declared: str | None = None) -> str:
    if declared:
        if declared not in set(FORMATS.values()):
            raise InputError(f"{path}: unknown format {declared!r} (formats: csv, excel, parquet, jsonl)")
        return declared
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        known = ", ".join(sorted(FORMATS))
        raise InputError(f"{path}: cannot tell the format from the extension {path.suffix!r} (known: {known}); pass --format")
    return fmt


def open_source(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    *,
    scratch_dir: Path,
    fmt: str | None = None,
    encoding: str | None = None,
    delimiter: str = ",",
    sheet: str | None = None,
) -> Source:
    """Open ``path`` for ingest; raises :class:`InputError` with one line when it cannot be read."""
    if not path.exists():
        raise InputError(f"{path}: file not found")
    if not path.is_file():
        raise InputError(f"{path}: not a file")
    fmt = detect_format(path, fmt)
    if len(delimiter) != 1 or delimiter in '"\r\n':
        raise InputError(f"{path}: --delimiter must be one character other than a quote or a line break, not {delimiter!r}")
    if fmt == "csv":
        return _open_csv(con, path, scratch_dir, encoding, "\t" if path.suffix.lower() == ".tsv" else delimiter)
    digest, size = _hash(path)
    if fmt == "excel":
        return _open_excel(con, path, digest, size, sheet)
    if fmt == "parquet":
        return _open_parquet(con, path, digest, size)
    return _open_jsonl(con, path, digest, size)


# -- CSV ------------------------------------------------------------------------


def _open_csv(
    con: duckdb.DuckDBPyConnection, path: Path, scratch_dir: Path, encoding: str | None, delimiter: str
) -> Source:
    head = _first_bytes(path)
    likely = encoding or _sniff_bom(head)
    # DuckDB misreads a quote straight after a byte-order mark (a quoted line break in
    # the first header then splits it): those files go through a copy without the mark.
    quoted_after_bom = head.startswith(codecs.BOM_UTF8 + b'"')
    if likely not in _DUCKDB_READS or quoted_after_bom or (encoding is None and not _utf8_so_far(head)):
        # Known, or seen in the first megabyte, not to be UTF-8: find out first, then transcode.
        digest, size, detected = _hash_and_detect(path, encoding)
        header, rejected, scratch = _stage_transcoded(con, path, detected, scratch_dir, delimiter)
    else:
        # Most files are UTF-8: stage the file as such while another thread hashes it
        # and checks every byte really is UTF-8 (DuckDB's C++ runs without the GIL).
        with ThreadPoolExecutor(max_workers=1) as pool:
            checking = pool.submit(_hash_and_detect, path, encoding)
            problem: Exception | None = None
            try:
                header, rejected = _stage(con, path, path, delimiter)
            except (InputError, UnicodeDecodeError) as exc:
                problem = exc
            digest, size, detected = checking.result()  # its errors (empty file, bad bytes) come first
        scratch: list[Path] = []
        if detected not in _DUCKDB_READS:
            header, rejected, scratch = _stage_transcoded(con, path, detected, scratch_dir, delimiter)
        elif isinstance(problem, UnicodeDecodeError):
            raise InputError(f"{path}: not valid {detected} text: {problem}")
        elif problem is not None:
            raise problem
    columns = [f"c{i}" for i in range(len(header))]
    rejects = [Reject(int(line), _ragged_message(message), (text or "").strip("\r\n")) for line, message, text in rejected]
    # Kept row k (1-based) sits after every rejected row i with line_i - 1 - i < k:
    # its row in the file is k + 1 (the header) + how many of those there are.
    gaps = [r.source_row - 1 - i for i, r in enumerate(rejects, start=1)]
    if len(gaps) <= _INLINE_GAPS:
        # A sum of comparisons: vectorised, cheap, and it keeps every pass parallel.
        row = " + ".join(["_k + 1", *(f"CAST(_k > {u} AS BIGINT)" for u in gaps)])
        numbered = "(SELECT rowid + 1 AS _k, * FROM jd_csv)"
    else:
        # A badly broken file: an as-of join finds how many rejected rows came before each row.
        con.execute(
            "CREATE OR REPLACE TABLE jd_gaps AS SELECT * FROM (VALUES "
            + ", ".join(f"({u}, {n})" for n, u in enumerate(gaps, start=1))
            + ") AS g(u, n)"
        )
        row = "_k + 1 + coalesce(_before, 0)"
        numbered = (
            "(SELECT s.*, g.n AS _before FROM (SELECT rowid + 1 AS _k, * FROM jd_csv) s "
            "ASOF LEFT JOIN jd_gaps g ON s._k > g.u)"
        )
    relation = f"(SELECT CAST({row} AS BIGINT) AS _source_row, {', '.join(columns)} FROM {numbered})"
    return Source(path, "csv", header, digest, size, detected, relation, rejects, scratch)


#: Encodings DuckDB reads as they are; anything else is transcoded to UTF-8 first.
_DUCKDB_READS = ("utf-8", "utf-8-sig")


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


def _stage_transcoded(
    con: duckdb.DuckDBPyConnection, path: Path, encoding: str, scratch_dir: Path, delimiter: str
) -> tuple[list[str], list[tuple[Any, ...]], list[Path]]:
    # DuckDB reads UTF-8 only (its other encodings need an extension we cannot
    # download), so other encodings are transcoded into the estate's tmp/ first.
    readable = _transcode(path, encoding, scratch_dir)
    try:
        header, rejected = _stage(con, path, readable, delimiter)
    except BaseException:
        readable.unlink(missing_ok=True)
        raise
    return header, rejected, [readable]


def _stage(
    con: duckdb.DuckDBPyConnection, path: Path, readable: Path, delimiter: str
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Load every row of ``readable`` (UTF-8) into ``jd_csv``; return the header and the rows that did not split.

    ``path`` is the user's file, named in errors.
    """
    header = _csv_header(path, readable, delimiter)
    columns = [f"c{i}" for i in range(len(header))]
    spec = "{" + ", ".join(f"'{c}': 'VARCHAR'" for c in columns) + "}"
    # DuckDB takes the first line break it meets, even one quoted in the header, as
    # the file's line ending, and then silently reads no rows: tell it the real one.
    ending = _header_ending(readable) if any("\n" in h or "\r" in h for h in header) else None
    new_line = f"new_line = {quote_literal(_ESCAPED_ENDINGS[ending])}, " if ending else ""
    # A buffer of twice the longest line DuckDB accepts: fewer, larger reads
    # parse faster than its default here.
    reader = (
        f"read_csv({quote_literal(str(readable))}, header = true, auto_detect = false, "
        f"columns = {spec}, delim = {quote_literal(delimiter)}, quote = '\"', escape = '\"', {new_line}"
        "store_rejects = true, rejects_table = 'jd_rejects', rejects_scan = 'jd_reject_scans', "
        f"max_line_size = {_MAX_LINE}, buffer_size = {2 * _MAX_LINE})"
    )
    try:
        con.execute("DROP TABLE IF EXISTS jd_rejects; DROP TABLE IF EXISTS jd_reject_scans")
        # One parallel pass stages the rows in DuckDB and finds those that do not
        # split into the header's columns. A table's rowid is its insertion order,
        # which DuckDB keeps equal to file order; numbering rows while reading
        # instead would hold everything above it to one thread.
        con.execute(f"CREATE OR REPLACE TABLE jd_csv AS SELECT * FROM {reader}")
        rejected = con.execute(
            "SELECT line, min(error_message), min(csv_line) FROM jd_rejects GROUP BY line ORDER BY line"
        ).fetchall()
    except duckdb.Error as exc:
        raise InputError(f"{path}: cannot read as CSV: {_first_line(exc)}") from None
    return header, rejected


_ESCAPED_ENDINGS = {"\r\n": "\\r\\n", "\n": "\\n", "\r": "\\r"}


def _header_ending(readable: Path) -> str | None:
    """The line break that ends the header record (outside quotes), or None when there is none."""
    with open(readable, encoding="utf-8-sig", newline="") as handle:
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


def _csv_header(path: Path, readable: Path, delimiter: str) -> list[str]:
    import csv

    with open(readable, encoding="utf-8-sig", newline="") as handle:
        try:
            header = next(csv.reader(handle, delimiter=delimiter, strict=True), None)
        except csv.Error as exc:
            raise InputError(f"{path}: row 1: the header row is not valid CSV: {exc}") from None
    if not header or header == [""]:
        raise InputError(f"{path}: empty file: expected a header row naming the columns")
    return _checked_header(path, [h.strip() for h in header])


def _checked_header(path: Path, header: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    for position, name in enumerate(header, start=1):
        if not name:
            raise InputError(f"{path}: row 1: column {position} has no name in the header")
        if name in seen:
            raise InputError(f"{path}: row 1: columns {seen[name]} and {position} are both called {name!r}")
        seen[name] = position
    return header


def _hash(path: Path) -> tuple[str, int]:
    sha = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            sha.update(chunk)
            size += len(chunk)
    return sha.hexdigest(), size


def _hash_and_detect(path: Path, declared: str | None) -> tuple[str, int, str]:
    """Hash the file and find its encoding in one read: UTF-8 (with or without BOM),
    UTF-16 with a BOM, or else Windows-1252; a declared encoding is checked, not trusted."""
    sha = hashlib.sha256()
    size = 0
    encoding = declared
    decoder = None
    offset = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            if encoding is None:
                encoding = _sniff_bom(chunk)
                if encoding == "utf-8" and chunk.count(0) * 4 > len(chunk):
                    # Text is not a quarter NUL bytes; UTF-16 with no byte-order mark is.
                    raise InputError(
                        f"{path}: looks like UTF-16 text without a byte-order mark; pass --encoding utf-16-le (or utf-16-be)"
                    )
            if decoder is None:
                decoder = _decoder(path, encoding)
            sha.update(chunk)
            size += len(chunk)
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                if declared or encoding != "utf-8":
                    raise InputError(
                        f"{path}: byte {offset + exc.start}: not valid {encoding} text; pass --encoding"
                    ) from None
                encoding = "cp1252"
                decoder = None
                sha, size, offset = hashlib.sha256(), 0, 0
                handle.seek(0)
                continue
            offset += len(chunk)
        if decoder is not None:
            try:
                decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                raise InputError(f"{path}: ends part-way through a character: not valid {encoding} text") from None
    if size == 0:
        raise InputError(f"{path}: empty file: expected a header row naming the columns")
    assert encoding is not None
    return sha.hexdigest(), size, encoding


def _sniff_bom(chunk: bytes) -> str:
    if chunk.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if chunk.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    return "utf-8"


def _decoder(path: Path, encoding: str) -> codecs.IncrementalDecoder:
    try:
        return codecs.getincrementaldecoder(encoding)(errors="strict")
    except LookupError:
        raise InputError(f"{path}: unknown encoding {encoding!r}") from None


def _transcode(path: Path, encoding: str, scratch_dir: Path) -> Path:
    scratch_dir.mkdir(parents=True, exist_ok=True)
    target = scratch_dir / f"{path.stem}.utf8.csv"
    with open(path, encoding=encoding, newline="") as src, open(target, "w", encoding="utf-8", newline="") as dst:
        while text := src.read(_CHUNK):
            dst.write(text)
    return target


# -- Excel ----------------------------------------------------------------------


def _open_excel(con: duckdb.DuckDBPyConnection, path: Path, digest: str, size: int, sheet: str | None) -> Source:
    from python_calamine import CalamineWorkbook

    try:
        book = CalamineWorkbook.from_path(str(path))
        names = book.sheet_names
        if sheet is not None and sheet not in names:
            raise InputError(f"{path}: no sheet {sheet!r} (sheets: {', '.join(names)})")
        grid = book.get_sheet_by_name(sheet or names[0]).to_python(skip_empty_area=False)
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"{path}: cannot read as an Excel workbook: {_first_line(exc)}") from None
    # Leading blank rows are not data: the header is the first non-empty row.
    start = next((i for i, row in enumerate(grid) if any(_cell(v) for v in row)), None)
    if start is None:
        raise InputError(f"{path}: the sheet is empty: expected a header row naming the columns")
    header = _checked_header(path, [_cell(v) or "" for v in _trim_row(grid[start])])
    width = len(header)
    body = grid[start + 1 :]
    while body and not any(_cell(v) for v in body[-1]):
        body.pop()
    rows = [_trim_row(r) for r in body]
    rejects = [
        Reject(start + 2 + i, f"row has {len(r)} cells, the header has {width}", json.dumps([_cell(v) for v in r]))
        for i, r in enumerate(rows)
        if len(r) > width
    ]
    bad = {r.source_row for r in rejects}
    kept = [(start + 2 + i, r) for i, r in enumerate(rows) if start + 2 + i not in bad]
    arrays = {"_source_row": pa.array([n for n, _ in kept], pa.int64())}
    for position in range(width):
        arrays[f"c{position}"] = pa.array(
            [_cell(r[position]) if position < len(r) else None for _, r in kept], pa.string()
        )
    con.register("jd_excel", pa.table(arrays))
    return Source(path, "excel", header, digest, size, None, "jd_excel", rejects)


def _trim_row(row: list[object]) -> list[object]:
    end = len(row)
    while end and _cell(row[end - 1]) is None:
        end -= 1
    return row[:end]


def _cell(value: object) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        # Excel keeps every number as a float; an NHS number typed as a number is still a whole number.
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.isoformat() if (value.hour, value.minute, value.second, value.microsecond) != (0, 0, 0, 0) else value.date().isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value)
    return str(value)


# -- Parquet --------------------------------------------------------------------


def _open_parquet(con: duckdb.DuckDBPyConnection, path: Path, digest: str, size: int) -> Source:
    try:
        names = pq.read_schema(path).names
    except Exception as exc:
        raise InputError(f"{path}: cannot read as Parquet: {_first_line(exc)}") from None
    if not names:
        raise InputError(f"{path}: the Parquet file has no columns")
    header = _checked_header(path, list(names))
    # Columns are renamed by position: DuckDB matches names ignoring case, so a file
    # with columns "NAME" and "name" would otherwise read the first one twice.
    positional = ", ".join(f"p{i}" for i in range(len(header)))
    casts = ", ".join(f"CAST(p{i} AS VARCHAR) AS c{i}" for i in range(len(header)))
    relation = (
        f"(SELECT CAST(file_row_number + 1 AS BIGINT) AS _source_row, {casts} "
        f"FROM read_parquet({quote_literal(str(path))}, file_row_number = true) AS p({positional}))"
    )
    return Source(path, "parquet", header, digest, size, None, relation)


# -- JSON Lines -------------------------------------------------------------------


def _open_jsonl(con: duckdb.DuckDBPyConnection, path: Path, digest: str, size: int) -> Source:
    header: list[str] = []
    rejects: list[Reject] = []
    # One pass to learn the keys (the union over all objects, in first-seen order) and the bad lines.
    with open(path, encoding="utf-8-sig") as handle:
        try:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    value = json.loads(line)
                except json.JSONDecodeError as exc:
                    rejects.append(Reject(number, f"not valid JSON: {exc.msg} at column {exc.colno}", line.rstrip("\r\n"), "json"))
                    continue
                if not isinstance(value, dict):
                    rejects.append(Reject(number, "expected a JSON object on each line", line.rstrip("\r\n"), "json"))
                    continue
                for key in value:
                    if key not in header:
                        header.append(key)
        except UnicodeDecodeError as exc:
            raise InputError(f"{path}: byte {exc.start}: JSON Lines must be UTF-8") from None
    if not header:
        raise InputError(f"{path}: no JSON objects found: expected one object per line")
    bad = {r.source_row for r in rejects}
    schema = pa.schema([("_source_row", pa.int64())] + [(f"c{i}", pa.string()) for i in range(len(header))])

    def batches() -> Iterator[pa.RecordBatch]:
        rows: list[int] = []
        values: list[list[str | None]] = [[] for _ in header]
        with open(path, encoding="utf-8-sig") as handle:
            for number, line in enumerate(handle, start=1):
                if number in bad or not line.strip():
                    continue
                record = json.loads(line)
                rows.append(number)
                for i, key in enumerate(header):
                    values[i].append(_json_text(record.get(key)))
                if len(rows) >= _JSONL_BATCH:
                    yield pa.record_batch([pa.array(rows, pa.int64()), *[pa.array(v, pa.string()) for v in values]], schema=schema)
                    rows, values = [], [[] for _ in header]
        if rows:
            yield pa.record_batch([pa.array(rows, pa.int64()), *[pa.array(v, pa.string()) for v in values]], schema=schema)

    # Staged batch by batch into a DuckDB table (validation scans the rows more than
    # once): only one batch is in Python at a time, and a file-backed staging
    # database moves the rest out of memory.
    columns = ", ".join(["_source_row BIGINT", *(f"c{i} VARCHAR" for i in range(len(header)))])
    con.execute(f"CREATE OR REPLACE TABLE jd_jsonl ({columns})")
    for batch in batches():
        con.register("jd_jsonl_batch", batch)
        try:
            con.execute("INSERT INTO jd_jsonl SELECT * FROM jd_jsonl_batch")
        finally:
            con.unregister("jd_jsonl_batch")
    return Source(path, "jsonl", _checked_header(path, header), digest, size, "utf-8", "jd_jsonl", rejects)


def _json_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, float) else str(value)
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def remove_stale_scratch(tmp_dir: Path) -> None:
    """Delete scratch folders left by ingests that were killed (their process is gone)."""
    if not tmp_dir.exists():
        return
    for entry in tmp_dir.glob("ingest-*"):
        try:
            pid = int(entry.name.split("-")[1])
        except (IndexError, ValueError):
            continue
        if not _alive(pid):
            shutil.rmtree(entry, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True

