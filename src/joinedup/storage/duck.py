"""DuckDB connections for set-based work over the estate."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import threading
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import duckdb

from joinedup.standards import install_macros
from joinedup.storage.scratch import new_folder


@contextlib.contextmanager
def connect(
    *,
    memory_limit: str = "1GB",
    threads: int = 0,
    temp_dir: Path | None = None,
    database: Path | None = None,
    macros: Iterable[str] | None = None,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A DuckDB with joinedup's macros, spilling to ``temp_dir`` past the memory limit.

    In memory by default. Work that stages tables bigger than memory gives a
    ``database`` file (in scratch space): only a file-backed database can move
    table data out of memory. ``macros`` limits the ``jd_<type>`` macros defined
    to those types (default: all).
    """
    con = duckdb.connect(str(database) if database is not None else ":memory:")
    with _open_lock:
        _open.add(con)
    try:
        con.execute(f"SET memory_limit = '{_setting(memory_limit)}'")
        if threads:
            con.execute(f"SET threads = {int(threads)}")
        if temp_dir is not None:
            temp_dir.mkdir(parents=True, exist_ok=True)
            con.execute(f"SET temp_directory = '{_setting(str(temp_dir))}'")
        install_macros(con, macros)
        yield con
    finally:
        with _open_lock:
            _open.discard(con)  # before closing: interrupt_queries() never reaches a closed connection
        con.close()


#: Connections :func:`connect` opened and has not closed yet. Reentrant: the Ctrl-C handler runs in the main
#: thread, which may hold the lock at that moment.
_open_lock = threading.RLock()
_open: set[duckdb.DuckDBPyConnection] = set()


def interrupt_queries() -> None:
    """Stop every query running on a connection :func:`connect` opened (Ctrl-C calls this).

    Left to itself, DuckDB answers Ctrl-C during a query by cancelling its tasks and
    waiting for them, which can take until the query's time limit; interrupted, its
    tasks stop within milliseconds. A connection with nothing running is unaffected.
    """
    with _open_lock:
        for con in list(_open):
            with contextlib.suppress(Exception):
                con.interrupt()


_UNITS = {"": 1, "B": 1, "KB": 1000, "MB": 1000**2, "GB": 1000**3, "TB": 1000**4,
          "KIB": 1024, "MIB": 1024**2, "GIB": 1024**3, "TIB": 1024**4}  # fmt: skip


def size_in_bytes(text: str) -> int:
    """``"1GB"`` → 1000000000, as DuckDB reads its memory settings (``GiB`` for powers of two)."""
    number = text.strip().upper().rstrip("S")
    digits = number.rstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ ")
    unit = number[len(digits) :].strip()
    if unit not in _UNITS or not digits:
        raise ValueError(f"not a size: {text!r} (e.g. '1GB', '512MiB')")
    return int(float(digits) * _UNITS[unit])


def lock_down(con: duckdb.DuckDBPyConnection) -> None:
    """From here on the connection reads only what is already registered.

    File reads and writes, ATTACH, INSTALL and LOAD are refused, and settings
    cannot be changed back. DuckDB still lets a locked connection use its temp
    folder (``./.tmp`` under the working directory unless set): give the
    connection a private ``temp_dir`` first (see :func:`sealed`).
    """
    # An unknown function such as delta_scan would otherwise download and load an
    # extension, writing under the home folder, even while the SQL is only bound.
    con.execute("SET autoinstall_known_extensions = false")
    con.execute("SET autoload_known_extensions = false")
    con.execute("SET allowed_directories = []")
    con.execute("SET allowed_paths = []")
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")


def error_kind(exc: BaseException) -> str:
    """DuckDB's name for the kind of an error ("Conversion Error"), else the exception's class; never its message.

    DuckDB's messages can quote values from the data, so they are not shown to users or logged.
    """
    first = str(exc).strip().split("\n", 1)[0]
    kind = first.split(":", 1)[0] if ":" in first else ""
    return kind if kind.endswith("Error") and len(kind) < 40 else type(exc).__name__


def interrupted(exc: BaseException) -> bool:
    """Whether ``exc`` is DuckDB stopping a query because it was interrupted, not failing.

    Ctrl-C (SIGINT) while DuckDB runs a query reaches Python as
    ``RuntimeError("Query interrupted")``, not as KeyboardInterrupt;
    ``connection.interrupt()`` from another thread raises InterruptException.
    """
    if isinstance(exc, duckdb.InterruptException):
        return True
    return type(exc) is RuntimeError and str(exc) == "Query interrupted"


@contextlib.contextmanager
def sealed(
    scratch: Path,
    *,
    views: Mapping[str, Any] | None = None,
    memory_limit: str = "1GB",
    threads: int = 0,
    macros: Iterable[str] | None = None,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A locked connection that sees only ``views`` (name → Arrow data) and joinedup's macros.

    ``macros`` limits the ``jd_<type>`` macros to those types (default: all), as :func:`connect`.

    It spills into a folder of its own under ``scratch``, removed afterwards:
    DuckDB lets a locked connection read its temp folder, so that folder must
    hold nothing but this connection's own spill files.
    """
    private = new_folder(scratch, "query")
    try:
        with connect(memory_limit=memory_limit, threads=threads, temp_dir=private, macros=macros) as con:
            for name, data in (views or {}).items():
                con.register(name, data)
            con.execute("SET TimeZone = 'UTC'")
            lock_down(con)
            yield con
    finally:
        shutil.rmtree(private, ignore_errors=True)


#: Characters DuckDB's file readers take as a pattern in a path (``read_csv('report[1].csv')`` reads report1.csv).
_GLOB = frozenset("*?[")


@contextlib.contextmanager
def literal_path(path: Path) -> Iterator[Path]:
    """``path`` as DuckDB's file readers will read it, and no other file.

    They expand ``*``, ``?`` and ``[...]`` anywhere in a path, with no way to say a
    name is meant as it is: ``x*.parquet`` reads every file it matches and
    ``report[1].csv`` reads ``report1.csv``. A path holding any of them is read
    through a link with a plain name, in a temporary folder of its own that is
    removed afterwards (so use the path only inside the ``with``).
    """
    if not _GLOB.intersection(str(path)):
        yield path
        return
    folder = Path(tempfile.mkdtemp(prefix="joinedup-read-"))
    try:
        if _GLOB.intersection(str(folder)):
            raise OSError(f"the temporary folder {folder} has *, ? or [ in its path; set TMPDIR to another")
        link = folder / ("input" + "".join(c for c in path.suffix if c.isalnum() or c == "."))
        link.symlink_to(path.absolute())
        yield link
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _setting(value: str) -> str:
    if "'" in value:
        raise ValueError(f"invalid DuckDB setting value {value!r}")
    return value
