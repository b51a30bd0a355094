"""Reading personal data through access: authorised per dataset, audited before the rows are returned."""

from __future__ import annotations

from pathlib import Path

import pytest

from joinedup.access import grant_role, query_as
from joinedup.audit import log, verify
from joinedup.errors import AccessDenied, QueryError
from joinedup.estate import Estate
from tests.audit.conftest import raw_catalogue
from tests.audit.workload import load_people


@pytest.fixture
def loaded(staffed: Estate, tmp_path: Path) -> Estate:
    grant_role(staffed, "tester", "alice", "analyst", datasets=["residents"])
    grant_role(staffed, "tester", "sam", "steward", datasets=["residents"])
    load_people(staffed, tmp_path, who="tester")
    return staffed


def test_a_query_is_audited_with_its_shape_not_its_values(loaded: Estate) -> None:
    result = query_as(loaded, "alice", "SELECT name FROM residents WHERE nhs_number = '9434765919'", purpose="complaint 12")

    assert result.rows == [("Siobhan Quigley",)]
    entry = log(loaded)[-1]
    assert (entry.principal, entry.action, entry.purpose) == ("alice", "data.query", "complaint 12")
    assert (entry.dataset, entry.dataset_version, entry.columns, entry.row_count) == ("residents", 1, ("name",), 1)
    assert entry.detail["sql"] == "SELECT name FROM residents WHERE nhs_number = ?"
    assert entry.detail["versions"] == {"residents": 1}


def test_an_analyst_without_the_dataset_is_refused_before_anything_is_read(loaded: Estate) -> None:
    with pytest.raises(AccessDenied, match=r"vic \(steward of visits\) may not query 'residents'"):
        query_as(loaded, "vic", "SELECT * FROM residents")
    assert [e.action for e in log(loaded)][-1] == "access.denied"


def test_a_query_whose_audit_write_fails_returns_nothing(loaded: Estate) -> None:
    with raw_catalogue(loaded) as con:
        con.execute("CREATE TRIGGER broken BEFORE INSERT ON audit_entries WHEN NEW.action = 'data.query' BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END")
    before = log(loaded, limit=None)
    handed_over = None

    with pytest.raises(Exception, match="disk I/O error"):
        handed_over = query_as(loaded, "sam", "SELECT * FROM residents")

    assert handed_over is None
    assert log(loaded, limit=None) == before
    assert verify(loaded).ok


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT error(string_agg(nhs_number || ' ' || name, '; ')) FROM residents",
        "SELECT CAST(name AS INTEGER) FROM residents",
    ],
)
def test_a_query_failing_over_the_data_says_what_kind_not_the_values_and_is_audited(loaded: Estate, sql: str) -> None:
    with pytest.raises(QueryError) as raised:
        query_as(loaded, "alice", sql, purpose="complaint 12")
    message = str(raised.value)
    assert "failed while running" in message
    assert "Siobhan" not in message and "9434765919" not in message
    entry = log(loaded)[-1]
    assert (entry.principal, entry.action, entry.dataset) == ("alice", "data.query.failed", "residents")
    assert entry.detail["stage"] == "running"
    assert "Siobhan" not in repr(entry) and "9434765919" not in repr(entry)


@pytest.mark.parametrize(
    "sql, stage",
    [
        ("COPY residents TO 'out.csv'", "refused"),
        ("ATTACH 'other.db'", "refused"),
        ("SELECT 1; SELECT 2", "refused"),
        # Files are refused while the query is checked, before any dataset is opened.
        ("SELECT * FROM read_csv('/etc/passwd')", "refused"),
        ("SELECT no_such_column FROM residents", "binding"),
    ],
)
def test_a_refused_query_is_audited_too(loaded: Estate, sql: str, stage: str) -> None:
    with pytest.raises(QueryError):
        query_as(loaded, "sam", sql)
    entry = log(loaded)[-1]
    assert (entry.principal, entry.action, entry.detail["stage"]) == ("sam", "data.query.failed", stage)
    assert verify(loaded).ok


def test_a_refused_querys_dataset_names_stay_readable_in_the_log(loaded: Estate) -> None:
    with pytest.raises(QueryError):
        query_as(loaded, "sam", "COPY residents TO 'out.csv'")
    assert log(loaded)[-1].detail["sql"] == "COPY residents TO ?"


def test_aliases_and_expression_names_do_not_carry_names_or_numbers_into_the_log(loaded: Estate) -> None:
    sql = 'SELECT nhs_number AS "Siobhan Quigley 9434765919", upper(\'Siobhan\') , name FROM residents r'
    result = query_as(loaded, "sam", sql)
    assert result.columns[0] == "Siobhan Quigley 9434765919"  # the person asking sees what they asked for
    entry = log(loaded)[-1]
    assert entry.columns == ("?", "?", "name")
    assert "Siobhan" not in entry.detail["sql"] and "9434765919" not in entry.detail["sql"]
    assert entry.detail["sql"] == "SELECT nhs_number AS ?, upper(?) , name FROM residents ?"


def test_names_with_accents_are_redacted_whole(loaded: Estate) -> None:
    # DuckDB's tokens are placed in UTF-8 bytes: a character count would cut the later literals apart.
    query_as(loaded, "sam", "SELECT name FROM residents WHERE name = 'Zoë Ñúñez' OR name = 'Siobhan Quigley'")
    entry = log(loaded)[-1]
    assert entry.detail["sql"] == "SELECT name FROM residents WHERE name = ? OR name = ?"
    query_as(loaded, "sam", 'SELECT name AS "Zoë", jd_nhs_number(nhs_number) FROM residents')
    assert log(loaded)[-1].detail["sql"] == "SELECT name AS ?, jd_nhs_number(nhs_number) FROM residents"
