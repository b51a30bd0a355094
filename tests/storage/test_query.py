"""`query` is read-only and sealed: it cannot write, attach, read or list files, install extensions, or run forever."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from joinedup.errors import EstateError, QueryError
from joinedup.estate import Estate
from joinedup.ingest import ingest
from joinedup.schema import load_schema
from joinedup.storage.query import (
    DEFAULT_TIME_LIMIT,
    QueryTimeout,
    referenced_datasets,
    run_query,
    time_limit,
)
from tests.conftest import write_csv


@pytest.fixture
def loaded(estate: Estate, tmp_path: Path, people_schema: Path) -> Estate:
    path = write_csv(
        tmp_path / "p.csv",
        "person_id,name,nhs_number,postcode,date_of_birth,sex\n1,Sam,9434765919,E1 6AN,1980-01-01,F\n",
    )
    ingest(estate, path, dataset="people", principal="tester", schema=load_schema(people_schema))
    return estate


def query(estate: Estate, sql: str):
    return run_query(estate, sql, datasets=referenced_datasets(estate, sql))


def test_a_select_over_a_dataset_view(loaded: Estate) -> None:
    result = query(loaded, "SELECT name, postcode FROM people")
    assert result.columns == ["name", "postcode"]
    assert result.rows == [("Sam", "E1 6AN")]
    assert result.datasets == {"people": 1}


@pytest.mark.parametrize(
    "sql, message",
    [
        ("CREATE TABLE x AS SELECT 1", "only SELECT"),
        ("DELETE FROM people", "only SELECT"),
        ("COPY people TO '/tmp/leak.csv'", "only SELECT"),
        ("ATTACH '/tmp/other.db'", "only SELECT"),
        ("INSTALL httpfs", "only SELECT"),
        ("SET memory_limit = '1TB'", "only SELECT"),
        ("SELECT 1; SELECT 2", "exactly one statement"),
        ("SELEC 1", "query:"),
    ],
)
def test_anything_but_one_select_is_refused(loaded: Estate, sql: str, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        query(loaded, sql)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM '/etc/hostname'",
        "SELECT * FROM read_text('/etc/hostname')",
        "SELECT * FROM read_parquet('{table}/*.parquet')",
    ],
)
def test_files_cannot_be_read_even_inside_a_select(loaded: Estate, sql: str) -> None:
    with pytest.raises(QueryError):
        query(loaded, sql.format(table=loaded.table_path("people")))


def test_limit_truncates(loaded: Estate) -> None:
    result = run_query(loaded, "SELECT * FROM range(10)", datasets={}, limit=3)
    assert len(result.rows) == 3 and result.truncated


def test_dataset_names_are_case_insensitive_as_sql_is(loaded: Estate) -> None:
    assert query(loaded, "SELECT count(*) FROM PEOPLE").rows == [(1,)]
    assert query(loaded, 'SELECT count(*) FROM "People"').rows == [(1,)]


def test_a_dataset_named_only_inside_a_string_is_not_reachable(loaded: Estate) -> None:
    # query() runs SQL from a string; the dataset in it was never checked, so it is not there.
    with pytest.raises(QueryError):
        run_query(loaded, "SELECT * FROM query('SELECT * FROM people')", datasets={})


# The sandbox: the dataset check binds the SQL, and binding a table function
# touches files, so the check must be as sealed as the run.


def test_a_file_pattern_does_not_name_the_files_it_would_match(loaded: Estate) -> None:
    secret_files = [p.name for p in (loaded.root / "keys").iterdir()]
    assert secret_files
    with pytest.raises(QueryError) as raised:
        query(loaded, f"SELECT * FROM read_parquet('{loaded.root}/keys/*')")
    assert not any(name in str(raised.value) for name in secret_files)
    assert "disabled" in str(raised.value)


#: Run in a child process: DuckDB blocked opening a FIFO holds the interpreter, so a
#: hang could not be detected (or ended) from inside this one.
_QUERY_A_FILE = """
import sys
from pathlib import Path
from joinedup.errors import QueryError
from joinedup.estate import Estate
from joinedup.storage.query import referenced_datasets, run_query
estate = Estate.open(Path(sys.argv[1]))
sql = f"SELECT * FROM read_csv('{sys.argv[2]}')"
try:
    run_query(estate, sql, datasets=referenced_datasets(estate, sql))
except QueryError as exc:
    print("refused:", exc)
"""


def test_a_fifo_is_refused_not_waited_on(loaded: Estate, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    try:
        # A guard against hanging the suite, not a measure of speed.
        done = subprocess.run(
            [sys.executable, "-c", _QUERY_A_FILE, str(loaded.root), str(fifo)],
            capture_output=True,
            text=True,
            timeout=120,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("the query waited on the FIFO instead of refusing it")
    assert done.stdout.startswith("refused: query:"), done.stderr


def test_an_unknown_extension_function_installs_nothing(
    loaded: Estate, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    with pytest.raises(QueryError, match="delta_scan"):
        query(loaded, "SELECT * FROM delta_scan('somewhere')")
    assert list(home.iterdir()) == []


def test_the_default_temp_folder_under_the_working_directory_is_not_readable(
    loaded: Estate, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = tmp_path / "work"
    (work / ".tmp").mkdir(parents=True)
    (work / ".tmp" / "left.csv").write_text("nhs_number\n9434765919\n", encoding="utf-8")
    monkeypatch.chdir(work)
    with pytest.raises(QueryError, match="disabled"):
        query(loaded, "SELECT * FROM read_csv('.tmp/left.csv')")


def test_a_query_spills_only_into_a_private_folder_under_the_estate_removed_afterwards(loaded: Estate) -> None:
    sql = (
        "SELECT current_setting('temp_directory'), current_setting('allowed_directories'), "
        "current_setting('allowed_paths')"
    )
    [(temp, directories, paths)] = query(loaded, sql).rows
    private = Path(temp)
    assert private.parent == loaded.tmp_dir
    assert [Path(d) for d in directories] == [private] and paths == []
    assert not private.exists()


def test_a_query_bigger_than_memory_still_runs_by_spilling(loaded: Estate) -> None:
    loaded.config.memory_limit = "64MB"
    sql = "SELECT count(DISTINCT s) FROM (SELECT i::VARCHAR || repeat('x', 40) AS s FROM range(3000000) t(i))"
    assert query(loaded, sql).rows == [(3_000_000,)]
    assert list(loaded.tmp_dir.iterdir()) == []


def test_a_query_past_the_time_limit_is_stopped_with_one_line(loaded: Estate) -> None:
    loaded.config.extra["query"] = {"time_limit_seconds": 1}
    # Hours of work: only the time limit ends it.
    with pytest.raises(QueryTimeout) as raised:
        query(loaded, "SELECT sum(hash(i)) FROM range(1000000000000) t(i)")
    assert str(raised.value).count("\n") == 0
    assert "time limit" in str(raised.value) and "time_limit_seconds" in str(raised.value)


@pytest.mark.parametrize("value", ["soon", 0, 0.5, -5, True, 10**9])
def test_a_time_limit_that_is_not_a_number_of_seconds_is_named(loaded: Estate, value: object) -> None:
    loaded.config.extra["query"] = {"time_limit_seconds": value}
    with pytest.raises(EstateError, match=r"\[query\] time_limit_seconds"):
        query(loaded, "SELECT 1")


def test_the_time_limit_defaults_when_unset(loaded: Estate) -> None:
    assert time_limit(loaded) == DEFAULT_TIME_LIMIT


@pytest.mark.parametrize(
    "sql, message",
    [
        ("", "the query is empty"),
        ("   \n\t", "the query is empty"),
        ("SELECT 'Sam \udcff'", "character 13 is not text"),
    ],
)
def test_an_empty_or_undecodable_query_gets_one_line(loaded: Estate, sql: str, message: str) -> None:
    with pytest.raises(QueryError, match=message) as raised:
        query(loaded, sql)
    assert "\n" not in str(raised.value)
