"""One DuckDB connection with the macros for the whole standards suite, and a batch runner."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import duckdb
import pytest

from joinedup.standards import STANDARD_TYPES, install_macros

RunMacro = Callable[[str, Sequence[str | None]], list[str | None]]


@pytest.fixture(scope="session")
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect(":memory:")
    install_macros(connection)
    yield connection
    connection.close()


@pytest.fixture(scope="session")
def run_macro(con: duckdb.DuckDBPyConnection) -> RunMacro:
    """``run_macro(type, values)``: the macro's answers for many values in one query, in order."""

    def run(type_name: str, values: Sequence[str | None]) -> list[str | None]:
        macro = STANDARD_TYPES[type_name].macro
        rows = con.execute(
            f"SELECT {macro}(v) FROM unnest(CAST(? AS VARCHAR[])) WITH ORDINALITY AS t(v, i) ORDER BY i",
            [list(values)],
        ).fetchall()
        return [row[0] for row in rows]

    return run
