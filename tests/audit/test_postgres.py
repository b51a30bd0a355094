"""The same chain on PostgreSQL, where several processes share one catalogue."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa

from joinedup.audit import export_checkpoint, log, record_now, verify
from joinedup.estate import Estate
from tests.audit.conftest import fill
from tests.conftest import postgres_catalogue

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_estate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Estate, sa.Engine]]:
    """An estate whose catalogue lives in its own PostgreSQL schema, dropped afterwards."""
    with postgres_catalogue("audit", monkeypatch) as scoped:
        estate = Estate.create(tmp_path / "estate")
        tamper = sa.create_engine(scoped)
        try:
            yield estate, tamper
        finally:
            estate.close()
            tamper.dispose()


def test_chain_verifies_and_tampering_is_caught_on_postgres(
    pg_estate: tuple[Estate, sa.Engine], tmp_path: Path
) -> None:
    estate, tamper = pg_estate
    assert estate.engine.dialect.name == "postgresql"
    fill(estate, 9)
    kept = tmp_path / "cp.json"
    export_checkpoint(estate, kept)
    assert verify(estate, kept).ok

    with tamper.begin() as con:
        con.exec_driver_sql("UPDATE audit_entries SET purpose = 'nothing to see' WHERE seq = 4")
    assert verify(estate, kept).first_bad_seq == 4

    with tamper.begin() as con:
        con.exec_driver_sql("DELETE FROM audit_entries WHERE seq >= 4")
        con.exec_driver_sql("DELETE FROM audit_checkpoints")
        con.exec_driver_sql("UPDATE audit_head SET seq = 3, hash = (SELECT hash FROM audit_entries WHERE seq = 3)")
    # Without keys/ the forger cannot re-seal the head, and keys/ remembers the newest checkpoint.
    alone = verify(estate)
    assert alone.first_bad_seq == 4
    assert any("the log's head (seq 3) does not carry the chain key's MAC" in p.message for p in alone.problems)
    assert any("the checkpoint kept in keys/ vouches for seq 9" in p.message for p in alone.problems)
    report = verify(estate, kept)
    assert report.first_bad_seq == 4
    assert any("the checkpoint file vouches for seq 9 but the log ends at seq 3" in p.message for p in report.problems)


def test_concurrent_appends_on_postgres_stay_one_chain(pg_estate: tuple[Estate, sa.Engine]) -> None:
    estate, _ = pg_estate

    def append(worker: int) -> None:
        for i in range(40):
            record_now(estate, principal=f"worker{worker}", action="data.query", row_count=i)

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(append, range(4)))

    assert [e.seq for e in log(estate, limit=None)] == list(range(1, 161))
    assert verify(estate).ok
