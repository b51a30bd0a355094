"""DuckDB connections: telling a query that was stopped from one that failed."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pytest

from joinedup.storage.duck import connect, interrupt_queries, interrupted, sealed


def _error_of(con: duckdb.DuckDBPyConnection, sql: str) -> BaseException:
    with pytest.raises(Exception) as caught:
        con.execute(sql).fetchall()
    return caught.value


def test_a_query_stopped_by_interrupt_is_told_from_one_that_failed() -> None:
    con = duckdb.connect()
    timer = threading.Timer(0.3, con.interrupt)
    timer.start()
    try:
        stopped = _error_of(con, "SELECT sum(i) FROM range(1000000000000) t(i)")
    finally:
        timer.cancel()
    assert interrupted(stopped)
    assert not interrupted(_error_of(con, "SELECT CAST('Sam' AS INTEGER)"))
    assert not interrupted(_error_of(con, "SELECT * FROM no_such_table"))
    assert not interrupted(RuntimeError("could not convert 'Sam Jackson'"))
    # What DuckDB raises when Ctrl-C arrives while it runs a query (tests/cli/test_output.py sends one).
    assert interrupted(RuntimeError("Query interrupted"))


def test_interrupt_queries_stops_a_query_on_every_open_connection(tmp_path: Path) -> None:
    stopped: list[BaseException] = []
    running = threading.Event()

    def work() -> None:
        with connect(temp_dir=tmp_path / "spill") as con:
            running.set()
            stopped.append(_error_of(con, "SELECT sum(i) FROM range(1000000000000) t(i)"))

    worker = threading.Thread(target=work)
    worker.start()
    assert running.wait(30)
    time.sleep(0.3)
    interrupt_queries()
    worker.join(30)
    assert not worker.is_alive() and len(stopped) == 1 and interrupted(stopped[0])
    interrupt_queries()  # nothing open: nothing to do


def test_scratch_left_by_a_killed_process_is_removed_by_the_next_query_and_a_live_ones_kept(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # its process id is free now (reused only after many more processes)
    tmp = tmp_path / "tmp"
    left = [tmp / f"query-{dead.pid}-abc", tmp / f"ingest-{dead.pid}-def"]
    live = tmp / f"query-{os.getpid()}-ghi"
    for folder in [*left, live]:
        folder.mkdir(parents=True)
        (folder / "spill.tmp").write_bytes(b"spilled rows")
    with sealed(tmp, views={}) as con:
        assert con.execute("SELECT 42").fetchall() == [(42,)]
        [own] = [p for p in tmp.glob(f"query-{os.getpid()}-*") if p != live]
    assert not any(p.exists() for p in left)
    assert live.exists() and not own.exists()
