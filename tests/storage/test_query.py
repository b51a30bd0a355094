"""`query` is read-only: it cannot write, attach, or read files outside the estate."""

from __future__ import annotations

from pathlib import Path

import pytest

from joinedup.errors import QueryError
from joinedup.estate import Estate
from joinedup.ingest import ingest
from joinedup.schema import load_schema
from joinedup.storage.query import referenced_datasets, run_query
from tests.conftest import write_csv


@pytest.fixture
def loaded(estate: Estate, tmp_path: Path, people_schema: Path) -> Estate:
    path = write_csv(tmp_path / "p.csv", "person_id,name,nhs_number,postcode,date_of_birth,sex\n1,Sam,9434765919,E1 6AN,1980-01-01,F\n")
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
    assert query(loaded, 'SELECT count(*) FROM PEOPLE').rows == [(1,)]
    assert query(loaded, 'SELECT count(*) FROM "People"').rows == [(1,)]


def test_a_dataset_named_only_inside_a_string_is_not_reachable(loaded: Estate) -> None:
    # query() runs SQL from a string; the dataset in it was never checked, so it is not there.
    with pytest.raises(QueryError):
        run_query(loaded, "SELECT * FROM query('SELECT * FROM people')", datasets={})
