"""Reading personal data through access: authorised per dataset, audited before the rows are returned."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from joinedup.access import Principal, grant_role, query_as
from joinedup.access.reads import Fetched, read_as
from joinedup.audit import log, verify
from joinedup.errors import AccessDenied, InputError, QueryError
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
    result = query_as(
        loaded, "alice", "SELECT name FROM residents WHERE nhs_number = '9434765919'", purpose="complaint 12"
    )

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
        con.execute(
            "CREATE TRIGGER broken BEFORE INSERT ON audit_entries WHEN NEW.action = 'data.query' "
            "BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END"
        )
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
    sql = "SELECT nhs_number AS \"Siobhan Quigley 9434765919\", upper('Siobhan') , name FROM residents r"
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


@pytest.mark.parametrize("sql", ["", "  ", "SELECT name FROM residents WHERE name = 'Zo\udceb'", "SELECT '\ud800'"])
def test_an_empty_or_undecodable_query_is_one_line_and_audited(loaded: Estate, sql: str) -> None:
    with pytest.raises(QueryError) as raised:
        query_as(loaded, "sam", sql)
    assert "\n" not in str(raised.value)
    entry = log(loaded)[-1]
    assert (entry.principal, entry.action, entry.detail["stage"]) == ("sam", "data.query.failed", "refused")
    assert verify(loaded).ok


def test_a_query_out_of_time_is_audited_as_failed(loaded: Estate) -> None:
    loaded.config.extra["query"] = {"time_limit_seconds": 1}
    with pytest.raises(QueryError, match="time limit"):
        query_as(loaded, "sam", "SELECT sum(hash(i + person_id)) FROM residents, range(1000000000000) t(i)")
    entry = log(loaded)[-1]
    assert (entry.action, entry.dataset, entry.detail["stage"], entry.detail["error"]) == (
        "data.query.failed", "residents", "time limit", "QueryTimeout",
    )  # fmt: skip


# read_as: the one way data leaves, whatever the front end.


def _fetched(estate: Estate, calls: list[str]) -> Callable[[Principal], Fetched[list[str]]]:
    def fetch(who: Principal) -> Fetched[list[str]]:
        calls.append(f"fetch as {who.name}")
        return Fetched(["row"], dataset="residents", dataset_version=1, columns=["name"], row_count=1)

    return fetch


def test_read_as_authorises_every_dataset_before_fetching(loaded: Estate) -> None:
    calls: list[str] = []
    with pytest.raises(AccessDenied, match="'visits'"):
        read_as(loaded, "sam", "data.query", datasets=["residents", "visits"], fetch=_fetched(loaded, calls))
    assert calls == []
    assert log(loaded)[-1].action == "access.denied"


def test_read_as_commits_the_entry_before_delivering(loaded: Estate) -> None:
    calls: list[str] = []

    def deliver(rows: list[str]) -> int:
        entry = log(loaded)[-1]  # already committed, read back through another session
        calls.append(f"deliver after {entry.action} by {entry.principal}")
        return len(rows)

    delivered = read_as(
        loaded, "sam", "quarantine.export", datasets=["residents"], fetch=_fetched(loaded, calls), deliver=deliver
    )
    assert delivered == 1
    assert calls == ["fetch as sam", "deliver after quarantine.export by sam"]


def test_read_as_delivers_nothing_when_the_entry_cannot_be_written(loaded: Estate) -> None:
    with raw_catalogue(loaded) as con:
        con.execute(
            "CREATE TRIGGER broken BEFORE INSERT ON audit_entries WHEN NEW.action = 'quarantine.export' "
            "BEGIN SELECT RAISE(ABORT, 'disk full'); END"
        )
    calls: list[str] = []
    with pytest.raises(Exception, match="disk full"):
        read_as(
            loaded,
            "sam",
            "quarantine.export",
            datasets=["residents"],
            fetch=_fetched(loaded, calls),
            deliver=calls.append,
        )
    assert calls == ["fetch as sam"]


@pytest.mark.parametrize("where", ["fetching", "delivering"])
def test_read_as_records_a_failure_without_its_message(loaded: Estate, where: str) -> None:
    def fail(*_: object) -> Fetched[list[str]]:
        raise InputError("cannot read Siobhan Quigley's row")

    fetch = fail if where == "fetching" else _fetched(loaded, [])
    deliver = fail if where == "delivering" else None
    with pytest.raises(InputError):
        read_as(loaded, "sam", "quarantine.export", datasets=["residents"], fetch=fetch, deliver=deliver,
                failure=lambda _: {"dataset": "residents"})  # fmt: skip
    entry = log(loaded)[-1]
    assert (entry.action, entry.dataset, entry.detail) == (
        "quarantine.export.failed", "residents", {"stage": where, "error": "InputError"},
    )  # fmt: skip
    assert "Siobhan" not in repr(entry)
