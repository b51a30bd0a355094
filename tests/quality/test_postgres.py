"""Quality with the catalogue on PostgreSQL: results, issues and rules in JSON columns, the audit entry."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from joinedup.access import bootstrap_admin
from joinedup.audit import log
from joinedup.estate import Estate
from joinedup.ingest import ingest
from joinedup.quality import history, list_issues, note_issue
from joinedup.schema import load_schema
from tests.conftest import postgres_url, write_csv

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_estate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Estate]:
    """An estate whose catalogue lives in its own PostgreSQL schema, dropped afterwards."""
    url = postgres_url()
    if url is None:
        pytest.skip("PostgreSQL test server not reachable (postgres@127.0.0.1:5432/test, or $JOINEDUP_TEST_POSTGRES)")
    schema = f"jd_quality_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(url)
    with admin.begin() as con:
        con.exec_driver_sql(f"CREATE SCHEMA {schema}")
    monkeypatch.setenv("JOINEDUP_CATALOGUE_URL", f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}")
    estate = Estate.create(tmp_path / "estate")
    bootstrap_admin(estate, "tester")
    try:
        yield estate
    finally:
        estate.close()
        with admin.begin() as con:
            con.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


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
