"""Sharing with the catalogue on PostgreSQL: agreements, clients, objections, a read and its entry, an extract."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from joinedup.access import bootstrap_admin
from joinedup.audit import log, record_now, who_accessed
from joinedup.estate import Estate
from joinedup.sharing import authenticate_client, live_agreement, read_records, recipients_for
from joinedup.sharing.extract import extract
from joinedup.sharing.objections import add_objection
from tests.conftest import postgres_catalogue
from tests.sharing.conftest import OBJECTOR, build

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_estate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Estate]:
    """An estate whose catalogue lives in its own PostgreSQL schema, dropped afterwards."""
    with postgres_catalogue("sharing", monkeypatch):
        estate = Estate.create(tmp_path / "estate")
        bootstrap_admin(estate, "tester")
        try:
            yield estate
        finally:
            estate.close()


def test_sharing_on_postgres(pg_estate: Estate, tmp_path: Path) -> None:
    shared = build(pg_estate, tmp_path)
    add_objection(pg_estate, "dora", nhs_number=OBJECTOR, purposes=("service_delivery",))
    client = authenticate_client(pg_estate, shared.client.client.id, shared.client.secret)
    page = read_records(
        pg_estate, client=client, agreement=live_agreement(pg_estate, "DSA-1"), dataset="people",
        filters={}, cursor=None, limit=2,
    )  # fmt: skip
    assert len(page.records) == 2 and page.excluded == 1 and page.next_cursor
    record_now(pg_estate, **page.entry)
    [entry] = log(pg_estate, action="sharing.read")
    assert entry.principal == "dwp-api" and entry.detail["excluded"] == 1
    found = who_accessed(pg_estate, "nhs_number", "4000000004")
    assert [a.entry.principal for a in found.accesses if a.entry.action == "sharing.read"] == ["dwp-api"]
    made = extract(pg_estate, "dora", "DSA-1", tmp_path / "out")
    assert made.rows == {"people": 3} and made.excluded == {"people": 1}
    [recipient] = recipients_for(pg_estate, ["people"])
    assert recipient.via == ("api", "extract")
