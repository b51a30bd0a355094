"""DuckDB connections for set-based work over the estate."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import duckdb

from joinedup.standards import install_macros


@contextlib.contextmanager
def connect(
    *, memory_limit: str = "1GB", threads: int = 0, temp_dir: Path | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB with joinedup's macros, spilling to ``temp_dir`` past the memory limit."""
    con = duckdb.connect(":memory:")
    try:
        con.execute(f"SET memory_limit = '{_setting(memory_limit)}'")
        if threads:
            con.execute(f"SET threads = {int(threads)}")
        if temp_dir is not None:
            temp_dir.mkdir(parents=True, exist_ok=True)
            con.execute(f"SET temp_directory = '{_setting(str(temp_dir))}'")
        install_macros(con)
        yield con
    finally:
        con.close()


def lock_down(con: duckdb.DuckDBPyConnection) -> None:
    """From here on the connection reads only what is already registered.

    File reads and writes, ATTACH and INSTALL are refused, and settings cannot
    be changed back.
    """
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _setting(value: str) -> str:
    if "'" in value:
        raise ValueError(f"invalid DuckDB setting value {value!r}")
    return value
