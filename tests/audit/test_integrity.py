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

MAX_INTERVAL = 10_000  # the documented cap on [audit] checkpoint_every

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
    assert [(e.seq, e.principal, e.detail) for e in changed] == [
        (4, "(joinedup.toml)", {"checkpoint_every": 2, "previous": 5, "acting": "alice"})
    ]
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


def _head(estate: Estate) -> tuple[int, str, str, int]:
    with raw_catalogue(estate) as con:
        row = con.execute("SELECT seq, hash, mac, checkpoint_every FROM audit_head WHERE id = 1").fetchone()
        return row[0], row[1], row[2], row[3]


def _cut_back_to(estate: Estate, head: tuple[int, str, str, int]) -> None:
    """The reviewer's attack without keys/: put back a head row copied earlier and delete everything after it."""
    with raw_catalogue(estate) as con:
        con.execute("UPDATE audit_head SET seq = ?, hash = ?, mac = ?, checkpoint_every = ? WHERE id = 1", head)
        con.execute("DELETE FROM audit_entries WHERE seq > ?", (head[0],))
        con.execute("DELETE FROM audit_checkpoints WHERE seq > ?", (head[0],))


def test_checkpoint_every_beyond_the_cap_is_refused_with_one_line_naming_it(estate: Estate) -> None:
    fill(estate, 2)
    for bad in (MAX_INTERVAL + 1, 10**21, 0, "abc"):
        raised = _every(estate, bad)  # type: ignore[arg-type]
        with pytest.raises(
            EstateError, match=r"joinedup.toml: \[audit\] checkpoint_every must be a whole number from 1"
        ):
            record_now(raised, principal="alice", action="data.query")
    assert [e.seq for e in log(_every(estate, 5))] == [1, 2]


def test_raising_checkpoint_every_signs_at_the_change_so_cutting_back_before_it_is_caught(estate: Estate) -> None:
    estate = _every(estate, 5)
    fill(estate, 6)
    before_raise = _head(estate)  # seq 6, copied by someone who can write the catalogue
    raised = _every(estate, MAX_INTERVAL)
    fill(raised, 30)  # seq 7 is the audit.settings entry, signed at once

    _cut_back_to(raised, before_raise)
    report = verify(raised)

    assert not report.ok
    assert "the checkpoint kept in keys/ vouches for seq 7 but the log ends at seq 6" in report.problem


def test_after_a_raised_interval_no_more_than_the_interval_can_be_cut_unnoticed(estate: Estate) -> None:
    estate = _every(estate, 3)
    fill(estate, 4)
    raised = _every(estate, 8)
    fill(raised, 2)  # seq 5 records the change (signed), seq 6 and 7 follow
    copied = _head(raised)
    fill(raised, 10)  # a checkpoint falls due at seq 8 and 16, whatever the file said before

    _cut_back_to(raised, copied)

    report = verify(raised)
    assert "vouches for seq 16 but the log ends at seq 7" in report.problem
    assert [c for c in _stored_seqs(raised)] == [3, 5]


def test_a_head_set_back_behind_its_entries_stops_appends_with_tampering_not_a_database_error(estate: Estate) -> None:
    fill(estate, 3)
    old = _head(estate)
    fill(estate, 2)
    with raw_catalogue(estate) as con:
        con.execute("UPDATE audit_head SET seq = ?, hash = ?, mac = ?, checkpoint_every = ? WHERE id = 1", old)

    with pytest.raises(TamperingError, match=r"head \(seq 3\) is behind its entries.*run `joinedup audit verify`"):
        record_now(estate, principal="alice", action="data.query")
    assert "entries after seq 3 lie beyond the log's head" in verify(estate).problem


def test_a_missing_head_row_stops_appends_with_tampering(estate: Estate) -> None:
    fill(estate, 3)
    with raw_catalogue(estate) as con:
        con.execute("DELETE FROM audit_head")

    with pytest.raises(TamperingError, match=r"head row is missing.*run `joinedup audit verify`"):
        record_now(estate, principal="alice", action="data.query")
    assert TamperingError.exit_code == 4
    assert "the audit head row is missing" in verify(estate).problem


def test_verify_reports_a_dropped_checkpoint_table(estate: Estate) -> None:
    estate = _every(estate, 2)
    fill(estate, 5)
    with raw_catalogue(estate) as con:
        con.execute("DROP TABLE audit_checkpoints")

    report = verify(estate)

    assert any("the catalogue's audit_checkpoints table is missing" in p.message for p in report.problems)
