"""Appending: an entry commits with the change it records, before the data it records leaves, and never forks."""

from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from joinedup.access import add_principal, bootstrap_admin
from joinedup.audit import log, record, record_now, release, verify
from joinedup.audit.record import Fields, prepare
from joinedup.errors import BusyError, InputError, TamperingError
from joinedup.estate import Estate
from joinedup.estate.models import Dataset
from tests.audit.conftest import raw_catalogue


def _break_audit_writes(estate: Estate) -> None:
    """Make every audit insert fail inside SQLite, as a full disk or a broken table would."""
    with raw_catalogue(estate) as con:
        con.execute(
            "CREATE TRIGGER broken BEFORE INSERT ON audit_entries BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END"
        )


def test_a_change_and_its_entry_commit_together(estate: Estate) -> None:
    with estate.session() as session:
        session.add(Dataset(name="people", created_at=sa.func.now(), created_by="alice"))
        record(session, estate, principal="alice", action="dataset.create", dataset="people")

    assert [e.action for e in log(estate)] == ["dataset.create"]


def test_when_the_change_fails_its_entry_is_rolled_back_with_it(estate: Estate) -> None:
    with pytest.raises(RuntimeError), estate.session() as session:
        record(session, estate, principal="alice", action="dataset.create", dataset="people")
        raise RuntimeError("the change failed after its entry was written")

    assert log(estate) == []
    assert verify(estate).ok
    assert record_now(estate, principal="alice", action="data.query").seq == 1


def test_when_the_entry_fails_the_change_is_rolled_back(estate: Estate) -> None:
    _break_audit_writes(estate)
    with pytest.raises(sa.exc.DatabaseError), estate.session() as session:
        session.add(Dataset(name="people", created_at=sa.func.now(), created_by="alice"))
        session.flush()
        record(session, estate, principal="alice", action="dataset.create", dataset="people")

    with estate.session() as session:
        assert session.scalars(sa.select(Dataset)).all() == []


def test_release_hands_data_over_only_after_its_entry_is_committed(estate: Estate) -> None:
    rows = [{"name": "Sam Jackson"}]

    handed = release(estate, rows, principal="alice", action="data.query", dataset="people", row_count=1)

    assert handed is rows
    [entry] = log(estate)
    assert (entry.principal, entry.action, entry.row_count) == ("alice", "data.query", 1)


def test_a_read_whose_audit_write_fails_does_not_happen(estate: Estate) -> None:
    """The contract front ends rely on: no committed entry, no data."""
    _break_audit_writes(estate)
    received = []

    def read_people() -> list[dict[str, str]]:
        rows = [{"name": "Sam Jackson"}]
        return release(estate, rows, principal="alice", action="data.query", dataset="people", row_count=1)

    with pytest.raises(sa.exc.DatabaseError, match="disk I/O error"):
        received.extend(read_people())

    assert received == []


def test_actions_are_dotted_words_and_details_must_be_json(estate: Estate) -> None:
    with pytest.raises(ValueError, match="dotted"):
        record_now(estate, principal="alice", action="Query")
    with pytest.raises(InputError, match="cannot be encoded"):
        record_now(estate, principal="alice", action="data.query", detail={"when": object()})
    assert log(estate) == []


def _append_many(root: Path, who: str, count: int) -> None:
    estate = Estate.open(root)
    for i in range(count):
        record_now(estate, principal=who, action="data.query", row_count=i)
    estate.close()


def test_concurrent_processes_never_fork_the_chain(estate: Estate) -> None:
    workers, each = 4, 60
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_append_many, args=(estate.root, f"worker{w}", each)) for w in range(workers)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
        assert process.exitcode == 0

    entries = log(estate, limit=None)
    assert [e.seq for e in entries] == list(range(1, workers * each + 1))
    assert [e.at for e in entries] == sorted(e.at for e in entries), "times run forwards along the chain"
    assert verify(estate).ok


def test_an_append_that_bypasses_the_head_is_refused_not_forked(estate: Estate) -> None:
    record_now(estate, principal="alice", action="data.query")
    with raw_catalogue(estate) as con:
        con.execute("UPDATE audit_head SET seq = 0")
    with pytest.raises(TamperingError, match="behind its entries"):
        record_now(estate, principal="alice", action="data.query")
    with sqlite3.connect(estate.root / "catalogue.db") as con:
        assert con.execute("SELECT count(*) FROM audit_entries").fetchone() == (1,)


def test_a_catalogue_locked_by_another_process_is_a_one_line_busy_error(tmp_path: Path) -> None:
    estate = Estate.create(tmp_path / "estate")
    bootstrap_admin(estate, "tester")
    estate.engine.dispose()
    # Wait a fifth of a second for the lock rather than joinedup's 30 s.
    sa.event.listen(estate.engine, "connect", lambda con, _: con.execute("PRAGMA busy_timeout = 200"))
    other = sqlite3.connect(estate.root / "catalogue.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process writing, and holding the lock
    try:
        with pytest.raises(BusyError, match=r"^the catalogue is locked by another process; try again$"):
            record_now(estate, principal="tester", action="data.query")
        with pytest.raises(BusyError, match="locked by another process"):
            add_principal(estate, "tester", "alice", "dpo")
    finally:
        other.execute("ROLLBACK")
        other.close()
        estate.close()
    assert BusyError.exit_code == 1


# -- repeated entries: their cleaned texts are remembered, and must come out exactly as when cleaned afresh ---------


def _read_entry(estate: Estate, **detail: object) -> Fields:
    return prepare(
        estate,
        principal="partner-client",
        action="sharing.read",
        purpose="agreement DSA-1: research",
        dataset="people",
        columns=["person_id", "nhs_number"],
        row_count=1,
        detail=detail,
    )


def test_a_remembered_entry_keeps_each_value_s_type(estate: Estate) -> None:
    # 0 == False and 1 == 1.0 as keys of a cache; stored, they are different JSON.
    assert _read_entry(estate, excluded=0).encoded[2] == '{"excluded":0}'
    assert _read_entry(estate, excluded=False).encoded[2] == '{"excluded":false}'
    assert _read_entry(estate, excluded=1).encoded[2] == '{"excluded":1}'
    assert _read_entry(estate, excluded=1.0).encoded[2] == '{"excluded":1.0}'


def test_a_remembered_entry_keeps_the_sign_of_a_zero(estate: Estate) -> None:
    # -0.0 == 0.0 with the same type and hash: as a cache key it would come back as the other one.
    assert _read_entry(estate, offset=0.0).encoded[2] == '{"offset":0.0}'
    assert _read_entry(estate, offset=-0.0).encoded[2] == '{"offset":-0.0}'
    assert _read_entry(estate, offset=0.0).encoded[2] == '{"offset":0.0}'


def test_a_remembered_entry_is_redacted_as_a_fresh_one_is(estate: Estate) -> None:
    detail = {"note": "asked about 943 476 5919", "client": "c1", "count": 3}
    first = _read_entry(estate, **detail)
    again = _read_entry(estate, **detail)  # from the cache
    # Long text is never remembered: the same detail made too long to cache, cleaned afresh.
    padded = _read_entry(estate, **detail, padding="x" * 300)
    assert first == again
    assert "943" not in first.encoded[2] and "[nhs number]" in first.encoded[2]
    assert first.detail["mentions"] and first.detail["mentions"] == padded.detail["mentions"]
    assert {k: v for k, v in padded.detail.items() if k != "padding"} == first.detail


def test_changing_a_prepared_entry_does_not_change_the_next(estate: Estate) -> None:
    first = _read_entry(estate, client="c1")
    first.detail["client"] = "someone else"
    first.detail["mentions"] = ["forged"]
    assert _read_entry(estate, client="c1").detail == {"client": "c1"}
