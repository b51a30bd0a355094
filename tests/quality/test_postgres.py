"""Quality with the catalogue on PostgreSQL: results, issues and rules in JSON columns, the audit entry."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from joinedup.access import bootstrap_admin
from joinedup.audit import log
from joinedup.estate import Estate
from joinedup.ingest import ingest
from joinedup.quality import history, list_issues, note_issue
from joinedup.schema import load_schema
from tests.conftest import postgres_catalogue, write_csv

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_estate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Estate]:
    """An estate whose catalogue lives in its own PostgreSQL schema, dropped afterwards."""
    with postgres_catalogue("quality", monkeypatch):
        estate = Estate.create(tmp_path / "estate")
        bootstrap_admin(estate, "tester")
        try:
            yield estate
        finally:
            estate.close()


def test_measuring_at_ingest_records_results_and_issues_on_postgres(
    pg_estate: Estate, people_schema: Path, tmp_path: Path
) -> None:
    text = "person_id,name,nhs_number,postcode,date_of_birth,sex\n1,Sam Jackson,,SW1A 1AA,1980-01-02,F"
    result = ingest(pg_estate, write_csv(tmp_path / "p.csv", text), dataset="people", principal="tester",
                    schema=load_schema(people_schema))  # fmt: skip
    assert result.quality is not None and "completeness.nhs_number" in result.quality["failing_rules"]
    assert [h["version"] for h in history(pg_estate, "people", principal="tester")] == [1]
    [issue] = [i for i in list_issues(pg_estate, principal="tester") if i["rule"] == "completeness.nhs_number"]
    assert note_issue(pg_estate, issue["id"], "asked the GP", principal="tester")["notes"][0]["text"] == "asked the GP"
    assert {"quality.measure", "quality.read", "quality.issue_note"} <= {e.action for e in log(pg_estate)}
