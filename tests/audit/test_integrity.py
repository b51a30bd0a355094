"""Without keys/, nobody can rewrite the log, cut its tail or hide checkpoints and have verify pass."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from joinedup.audit import checkpoint, log, record, record_now, verify
from joinedup.audit.canonical import ZERO_HASH, encode_entry, entry_hash
from joinedup.errors import EstateError, TamperingError
from joinedup.estate import Estate
from joinedup.estate.db import alembic_config
from tests.audit.conftest import fill, raw_catalogue

_COLUMNS = (
    "seq, at, principal, action, purpose, dataset, dataset_version, columns, row_count, subjects, detail, prev_hash"
)


def _every(estate: Estate, n: int) -> Estate:
    estate.config.extra["audit"] = {"checkpoint_every": n}
    estate.config.save(estate.root)
    return Estate.open(estate.root)


def _rehash_from(con: sqlite3.Connection, seq: int) -> str:
    """Recompute the plain SHA-256 chain from ``seq`` on, as a forger without keys/ can; returns the last hash."""
    prev = con.execute("SELECT hash FROM audit_entries WHERE seq = ?", (seq - 1,)).fetchone()
    prev_hash = prev[0] if prev else ZERO_HASH
    for row in con.execute(f"SELECT {_COLUMNS} FROM audit_entries WHERE seq >= ? ORDER BY seq", (seq,)).fetchall():
        n, at, principal, action, purpose, dataset, version, cols, count, subjects, detail, _ = row
        digest = entry_hash(
            encode_entry(
                seq=n, at=at, principal=principal, action=action, purpose=purpose, dataset=dataset,
                dataset_version=version, columns_json=cols, row_count=count, subjects_json=subjects,
                detail_json=detail, prev_hash=prev_hash,
            )
        )  # fmt: skip
        con.execute("UPDATE audit_entries SET prev_hash = ?, hash = ? WHERE seq = ?", (prev_hash, digest, n))
        prev_hash = digest
    return prev_hash


def _stored_seqs(estate: Estate) -> list[int]:
    with raw_catalogue(estate) as con:
        return [row[0] for row in con.execute("SELECT seq FROM audit_checkpoints ORDER BY seq")]


def test_the_tail_rewritten_with_checkpoints_deleted_and_head_fixed_is_caught(estate: Estate) -> None:
    """The issue's forgery: fewer than checkpoint_every entries uncovered, plain chain recomputed, head fixed."""
    estate = _every(estate, 5)
    fill(estate, 12)
    with raw_catalogue(estate) as con:
        con.execute("DELETE FROM audit_checkpoints")
        con.execute("DELETE FROM audit_entries WHERE seq > 10")
        con.execute("UPDATE audit_entries SET principal = 'someone_else' WHERE seq = 8")
        last = _rehash_from(con, 8)
        con.execute("UPDATE audit_head SET seq = 10, hash = ?", (last,))

    report = verify(estate)

    assert report.first_bad_seq == 5
    messages = [p.message for p in report.problems]
    assert any(
        m.startswith(
            "the signing key exists but stored checkpoints are missing or fewer than expected: none at seq 5 and 1 more"
        )
        for m in messages
    )
    assert any("seq 8 does not carry the chain key's MAC" in m for m in messages)
    assert any("the log's head (seq 10) does not carry the chain key's MAC" in m for m in messages)


def test_cutting_the_tail_and_setting_the_head_by_hand_is_caught(estate: Estate) -> None:
    fill(estate, 8)
    with raw_catalogue(estate) as con:
        con.execute("DELETE FROM audit_entries WHERE seq > 6")
        con.execute("UPDATE audit_head SET seq = 6, hash = (SELECT hash FROM audit_entries WHERE seq = 6)")

    report = verify(estate)

    assert report.first_bad_seq == 7
    assert "the log's head (seq 6) does not carry the chain key's MAC" in report.problem


def test_the_next_append_over_a_head_set_by_hand_records_it_in_the_chain(estate: Estate) -> None:
    fill(estate, 8)
    with raw_catalogue(estate) as con:
        con.execute("DELETE FROM audit_entries WHERE seq > 6")
        con.execute("UPDATE audit_head SET seq = 6, hash = (SELECT hash FROM audit_entries WHERE seq = 6)")

    written = record_now(estate, principal="alice", action="data.query")

    assert written.seq == 8
    [finding] = log(estate, action="audit.tampering")
    assert (finding.seq, finding.detail) == (7, {"head_seq": 6})
    report = verify(estate)
    assert report.first_bad_seq == 7
    assert "seq 7 records that the log's head had been set outside joinedup" in report.problem


def test_deleting_stored_checkpoints_is_reported(estate: Estate) -> None:
    estate = _every(estate, 5)
    fill(estate, 12)
    with raw_catalogue(estate) as con:
        con.execute("DELETE FROM audit_checkpoints WHERE seq = 5")

    report = verify(estate)

    assert report.first_bad_seq == 5
    assert report.problem.startswith(
        "the signing key exists but stored checkpoints are missing or fewer than expected: none at seq 5;"
    )


def test_raising_checkpoint_every_in_the_settings_file_does_not_excuse_missing_checkpoints(estate: Estate) -> None:
    estate = _every(estate, 5)
    fill(estate, 12)
    with raw_catalogue(estate) as con:
        con.execute("DELETE FROM audit_checkpoints")
    # The log, not joinedup.toml, says which interval was in force.
    raised = _every(estate, 1_000_000)

    report = verify(raised)

    assert "none at seq 5 and 1 more" in report.problem


def test_a_changed_checkpoint_every_is_recorded_and_followed(estate: Estate) -> None:
    estate = _every(estate, 5)
    fill(estate, 3)
    estate = _every(estate, 2)

    written = record_now(estate, principal="alice", action="data.query")

    changed = [e for e in log(estate) if e.action == "audit.settings"]
    assert [(e.seq, e.principal, e.detail) for e in changed] == [(4, "alice", {"checkpoint_every": 2, "previous": 5})]
    assert written.seq == 5
    fill(estate, 3)
    assert _stored_seqs(estate) == [4, 6, 8]
    report = verify(estate)
    assert report.ok, report.problems


def test_no_checkpoint_is_signed_over_a_chain_that_does_not_verify(estate: Estate) -> None:
    estate = _every(estate, 5)
    fill(estate, 6)
    with raw_catalogue(estate) as con:
        con.execute("UPDATE audit_entries SET principal = 'someone_else' WHERE seq = 6")
        _rehash_from(con, 6)

    fill(estate, 4)  # seq 10 falls due

    assert _stored_seqs(estate) == [5]
    with pytest.raises(
        TamperingError, match="not signing a checkpoint at seq 10: seq 6 does not carry the chain key's MAC"
    ):
        checkpoint(estate)
    assert TamperingError.exit_code == 4


def test_the_newest_checkpoint_is_kept_in_keys_only_once_committed(estate: Estate) -> None:
    estate = _every(estate, 2)
    record_now(estate, principal="alice", action="data.query")
    with pytest.raises(RuntimeError), estate.session() as session:
        record(session, estate, principal="alice", action="data.query")
        raise RuntimeError("the change failed")
    assert not (estate.keys_dir / "audit-checkpoint.json").exists()

    fill(estate, 1)

    kept = json.loads((estate.keys_dir / "audit-checkpoint.json").read_text())
    assert kept["seq"] == 2 and kept["type"] == "joinedup-audit-checkpoint"


def _legacy_estate(estate: Estate, count: int) -> Estate:
    """An estate as an older joinedup left it: plain SHA-256 entries, no chain key, a checkpoint-free log."""
    from alembic import command

    with estate.engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0002")
    estate.close()
    with sqlite3.connect(estate.root / "catalogue.db") as con:
        prev = ZERO_HASH
        for seq in range(1, count + 1):
            fields = {
                "seq": seq, "at": f"2026-01-01T00:00:{seq:02d}.000000Z", "principal": "old", "action": "data.query",
                "purpose": None, "dataset": "people", "dataset_version": 1, "row_count": seq, "prev_hash": prev,
            }  # fmt: skip
            digest = entry_hash(encode_entry(columns_json="[]", subjects_json="[]", detail_json="{}", **fields))
            con.execute(
                f"INSERT INTO audit_entries ({_COLUMNS}, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (seq, fields["at"], "old", "data.query", None, "people", 1, "[]", seq, "[]", "{}", prev, digest),
            )
            prev = digest
        con.execute("UPDATE audit_head SET seq = ?, hash = ?", (count, prev))
    return Estate.open(estate.root)


def test_a_log_from_an_older_joinedup_still_verifies_and_is_pinned_by_a_checkpoint(estate: Estate) -> None:
    old = _legacy_estate(estate, 7)
    assert verify(old).ok

    record_now(old, principal="alice", action="data.query")

    assert _stored_seqs(old) == [7], "the unkeyed entries are vouched for when the chain key is made"
    assert json.loads((old.keys_dir / "audit-chain.key").read_text())["from_seq"] == 8
    assert verify(old).ok
    with raw_catalogue(old) as con:
        con.execute("UPDATE audit_entries SET row_count = 0 WHERE seq = 3")
        last = _rehash_from(con, 3)
        con.execute("UPDATE audit_entries SET prev_hash = ? WHERE seq = 8", (last,))
    report = verify(old)
    assert any("seq 7 differs from a stored checkpoint signed for it" in p.message for p in report.problems)


def test_a_lost_chain_key_stops_appends_with_one_line(estate: Estate) -> None:
    fill(estate, 2)
    (estate.keys_dir / "audit-chain.key").unlink()

    with pytest.raises(EstateError, match=r"audit-chain.key: missing, but the audit log was written with it"):
        record_now(estate, principal="alice", action="data.query")
    with estate.engine.connect() as con:
        assert con.execute(sa.text("SELECT count(*) FROM audit_entries")).scalar() == 2


_TAMPERING = st.sampled_from(
    ["edit", "edit_and_rehash", "delete", "delete_and_rehash", "swap", "cut_tail", "drop_checkpoints"]
)


@pytest.fixture(scope="module")
def _filled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One log of 23 entries with checkpoints every 5, copied afresh for each example."""
    made = _every(Estate.create(tmp_path_factory.mktemp("filled") / "estate"), 5)
    fill(made, 23)
    made.close()
    return made.root


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(how=_TAMPERING, seq=st.integers(1, 23), other=st.integers(1, 23))
def test_any_change_made_without_keys_is_caught(_filled: Path, tmp_path: Path, how: str, seq: int, other: int) -> None:
    root = tmp_path / f"copy-{how}-{seq}-{other}"
    shutil.copytree(_filled, root)
    with sqlite3.connect(root / "catalogue.db") as con:
        if how == "edit":
            con.execute("UPDATE audit_entries SET row_count = coalesce(row_count, 0) + 1 WHERE seq = ?", (seq,))
        elif how == "edit_and_rehash":
            con.execute("UPDATE audit_entries SET principal = principal || 'x' WHERE seq = ?", (seq,))
            con.execute("UPDATE audit_head SET hash = ?", (_rehash_from(con, seq),))
        elif how == "delete":
            con.execute("DELETE FROM audit_entries WHERE seq = ?", (seq,))
        elif how == "delete_and_rehash":
            con.execute("DELETE FROM audit_entries WHERE seq = ?", (seq,))
            con.execute("UPDATE audit_entries SET seq = seq - 1 WHERE seq > ?", (seq,))
            con.execute("UPDATE audit_head SET seq = seq - 1, hash = ?", (_rehash_from(con, seq),))
        elif how == "swap" and seq != other:
            con.execute("UPDATE audit_entries SET seq = -1 WHERE seq = ?", (seq,))
            con.execute("UPDATE audit_entries SET seq = ? WHERE seq = ?", (seq, other))
            con.execute("UPDATE audit_entries SET seq = ? WHERE seq = -1", (other,))
        elif how == "swap":
            return
        elif how == "cut_tail":
            con.execute("DELETE FROM audit_entries WHERE seq >= ?", (seq,))
            con.execute("DELETE FROM audit_checkpoints WHERE seq >= ?", (seq,))
            last = con.execute("SELECT hash FROM audit_entries WHERE seq = ?", (seq - 1,)).fetchone()
            con.execute("UPDATE audit_head SET seq = ?, hash = ?", (seq - 1, last[0] if last else ZERO_HASH))
        else:
            con.execute("DELETE FROM audit_checkpoints WHERE seq >= ?", (seq,))
            if seq > 20:
                return  # no checkpoint at or after seq 21 to drop
    estate = Estate.open(root)

    report = verify(estate)

    estate.close()
    assert not report.ok, (how, seq, other)
