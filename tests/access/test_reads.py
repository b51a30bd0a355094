"""Reading personal data through access: authorised per dataset, audited before the rows are returned."""

from __future__ import annotations

from pathlib import Path

import pytest

from joinedup.access import grant_role, query_as
from joinedup.audit import log, verify
from joinedup.errors import AccessDenied
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
