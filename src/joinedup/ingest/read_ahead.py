"""Reading a CSV ahead: staging it while the ingest command is still starting.

Starting ``joinedup ingest`` is mostly Python importing the catalogue, access
and audit code (about half a second), on one core, holding the GIL. Staging a
CSV is DuckDB's C++, which runs without the GIL on every core. So the command
starts the staging of its file in a thread first, before it imports the rest or
checks who is asking, and the reader takes the staged rows when it gets there.

Nothing read ahead is used unless it is exactly what the reader would have
staged: the same file, unchanged (device, inode, size, modification and change
times), read with the same encoding, delimiter, header row and DuckDB settings. Anything
else (another format, a file to transcode or stage on disk, a failure of any
kind) leaves nothing behind, and the reader reads the file itself and reports
any problem in its usual order: refusals and errors come out as without it. A
refused ingest has only read the user's own file into its own memory; the rows
are dropped when the command ends (:func:`discard`, which stops the thread and
waits for it).

This module imports nothing heavy: the thread imports DuckDB and the reader.
"""

from __future__ import annotations

import contextlib
import threading
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from joinedup.ingest.source import FORMATS, csv_delimiter

_lock = threading.Lock()
#: The one file being read ahead (path, result, the thread's DuckDB connection once open).
_slot: _Started | None = None


class _Started:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.result: Future[Any] = Future()
        self.cancelled = threading.Event()
        self.connection: Any = None
        self.thread: threading.Thread | None = None


def start(
    path: Path,
    *,
    fmt: str | None,
    encoding: str | None,
    delimiter: str,
    header_row: int | None,
    memory_limit: str,
    threads: int,
) -> bool:
    """Start staging ``path`` in a thread when it is a CSV; True when started.

    A later :func:`start` replaces an earlier one: only one file is held.
    """
    if (fmt or FORMATS.get(path.suffix.lower())) != "csv" or not path.is_file():
        return False
    started = _Started(path)
    settings = (encoding, csv_delimiter(path, delimiter), header_row, memory_limit, threads)
    started.thread = threading.Thread(target=_run, args=(started, *settings), name="joinedup-read-ahead", daemon=True)
    started.thread.start()  # before it is in the slot: whatever finds it there can join it
    with _lock:
        global _slot
        previous, _slot = _slot, started
    _cancel(previous)
    return True


def take(path: Path) -> Any:
    """What was read ahead for ``path`` (waiting for it to finish), or None; it is handed over once."""
    global _slot
    with _lock:
        started = _slot if _slot is not None and _slot.path == path else None
        if started is not None:
            _slot = None
    if started is None:
        return None
    return started.result.result()


def discard() -> None:
    """Drop whatever was read ahead and not taken, stopping a read still under way."""
    global _slot
    with _lock:
        started, _slot = _slot, None
    _cancel(started)


def _cancel(started: _Started | None) -> None:
    if started is None:
        return
    started.cancelled.set()
    with _lock:
        # Under the lock: the thread clears it, also under the lock, before it closes the connection.
        # Discarding runs in a finally: it must never hide the error being raised.
        if started.connection is not None:
            with contextlib.suppress(Exception):
                started.connection.interrupt()
    # Wait for the thread to stop: a Python that exits normally (under coverage or a
    # profiler, or a program calling the CLI in-process) with DuckDB still running in
    # a daemon thread aborts. Interrupted, it stops within moments. Joined, not only its
    # result waited for: the thread is still alive for a moment after it sets the result.
    if started.thread is not None:
        started.thread.join(timeout=_STOP_SECONDS)


_STOP_SECONDS = 30


def _run(
    started: _Started,
    encoding: str | None,
    delimiter: str,
    header_row: int | None,
    memory_limit: str,
    threads: int,
) -> None:
    ahead = None
    try:
        # Imported here, in this thread: the point is not to wait for them.
        from joinedup.ingest.csv_reader import stage_ahead
        from joinedup.storage.duck import connect

        with connect(memory_limit=memory_limit, threads=threads, macros=()) as con:
            # Only a file that fits in memory is read ahead: nothing to spill, so no temporary folder.
            con.execute("SET temp_directory = ''")
            with _lock:
                started.connection = con
            try:
                if not started.cancelled.is_set():
                    ahead = stage_ahead(con, started.path, encoding, delimiter, header_row)
            finally:
                with _lock:
                    started.connection = None  # closed next: there is nothing left to interrupt
    except Exception:  # whatever went wrong, the reader reads the file itself and says so
        ahead = None
    finally:
        # Always set, whatever ended the thread: the reader waits on it.
        started.result.set_result(None if started.cancelled.is_set() else ahead)
