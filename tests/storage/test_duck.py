"""DuckDB connections: telling a query that was stopped from one that failed."""

from __future__ import annotations

import threading

import duckdb
import pytest

from joinedup.storage.duck import interrupted


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
