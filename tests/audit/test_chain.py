"""The hash chain: a clean log verifies; every way of tampering with it is caught and located."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import stat
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from joinedup.audit import export_checkpoint, log, record_now, verify
from joinedup.audit.canonical import ZERO_HASH, canonical_json, encode_entry, entry_hash
from joinedup.estate import Estate
from tests.audit.conftest import fill, raw_catalogue


def test_a_clean_chain_verifies(estate: Estate) -> None:
    entries = fill(estate, 12)
    assert [e.seq for e in entries] == list(range(1, 13))
    assert entries[0].prev_hash == ZERO_HASH
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(entries))

    report = verify(estate)

    assert report.ok, report.problems
    assert (report.entries, report.last_seq, report.last_hash) == (12, 12, entries[-1].hash)
    assert report.first_bad_seq is None


def test_an_empty_log_verifies(estate: Estate) -> None:
    assert verify(estate).ok


def test_the_hash_is_sha256_of_canonical_json_anyone_can_recompute(estate: Estate) -> None:
    [entry] = fill(estate, 1)
    fields = {k: v for k, v in entry.to_dict().items() if k not in ("hash", "mac")}
    encoded = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    assert entry_hash(encoded) == entry.hash
    # The seal only the holder of keys/ can make: HMAC-SHA256 of "entry:" and the hash.
    key = bytes.fromhex(json.loads((estate.keys_dir / "audit-chain.key").read_text())["key"])
    assert hmac.new(key, b"entry:" + entry.hash.encode(), hashlib.sha256).hexdigest() == entry.mac


_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=20)


@settings(max_examples=200, deadline=None)
@given(
    seq=st.integers(1, 2**53),
    principal=_text,
    purpose=st.none() | _text,
    dataset=st.none() | _text,
    version=st.none() | st.integers(0, 2**31),
    columns=st.lists(_text, max_size=4),
    rows=st.none() | st.integers(0, 2**53),
    detail=st.dictionaries(
        _text, st.none() | st.booleans() | st.integers() | _text | st.lists(_text, max_size=3), max_size=4
    ),
)
def test_the_fast_encoder_is_exactly_canonical_json(
    seq: int, principal: str, purpose: str | None, dataset: str | None, version: int | None,
    columns: list[str], rows: int | None, detail: dict[str, object],
) -> None:  # fmt: skip
    fields = {
        "seq": seq, "at": "2026-01-02T03:04:05.000006Z", "principal": principal, "action": "data.query",
        "purpose": purpose, "dataset": dataset, "dataset_version": version, "row_count": rows, "prev_hash": ZERO_HASH,
    }  # fmt: skip
    fast = encode_entry(
        columns_json=canonical_json(columns), subjects_json="[]", detail_json=canonical_json(detail), **fields
    )
    everything = {**fields, "columns": columns, "subjects": [], "detail": detail}
    assert fast == canonical_json(everything).encode()


def test_an_edited_field_is_caught_at_its_seq(estate: Estate) -> None:
    fill(estate, 10)
    with raw_catalogue(estate) as con:
        con.execute("UPDATE audit_entries SET principal = 'someone_else' WHERE seq = 6")

    report = verify(estate)

    assert not report.ok
    assert report.first_bad_seq == 6
    assert "seq 6 does not match its hash" in report.problem


def test_an_edited_and_rehashed_entry_is_caught_by_the_next_link(estate: Estate) -> None:
    entries = fill(estate, 10)
    forged = entries[3].to_dict() | {"row_count": 0}
    forged_hash = entry_hash(canonical_json({k: v for k, v in forged.items() if k not in ("hash", "mac")}).encode())
    with raw_catalogue(estate) as con:
        con.execute("UPDATE audit_entries SET row_count = 0, hash = ? WHERE seq = 4", (forged_hash,))

    report = verify(estate)

    assert report.first_bad_seq == 4
    messages = [p.message for p in report.problems]
    assert any("seq 4 does not carry the chain key's MAC" in m for m in messages)
    assert any("seq 4 is not the entry seq 5 was chained to" in m for m in messages)


def test_a_deleted_entry_is_caught_as_a_gap(estate: Estate) -> None:
    fill(estate, 10)
    with raw_catalogue(estate) as con:
        con.execute("DELETE FROM audit_entries WHERE seq = 7")

    report = verify(estate)

    assert report.first_bad_seq == 7
    assert report.problem.startswith("seq 7 is missing")


def test_deleting_and_renumbering_is_still_caught(estate: Estate) -> None:
    fill(estate, 10)
    with raw_catalogue(estate) as con:
        con.execute("DELETE FROM audit_entries WHERE seq = 3")
        for seq in range(4, 11):
            con.execute("UPDATE audit_entries SET seq = seq - 1 WHERE seq = ?", (seq,))
        con.execute("UPDATE audit_head SET seq = 9")

    assert verify(estate).first_bad_seq == 3


def test_two_swapped_entries_are_caught_at_the_first(estate: Estate) -> None:
    fill(estate, 10)
    columns = (
        "at, principal, action, purpose, dataset, dataset_version, columns, row_count, subjects, detail, "
        "prev_hash, hash"
    )
    with raw_catalogue(estate) as con:
        three = con.execute(f"SELECT {columns} FROM audit_entries WHERE seq = 3").fetchone()
        four = con.execute(f"SELECT {columns} FROM audit_entries WHERE seq = 4").fetchone()
        assignments = ", ".join(f"{c.strip()} = ?" for c in columns.split(","))
        con.execute(f"UPDATE audit_entries SET {assignments} WHERE seq = 3", four)
        con.execute(f"UPDATE audit_entries SET {assignments} WHERE seq = 4", three)

    report = verify(estate)

    assert report.first_bad_seq == 3
    assert {p.seq for p in report.problems} >= {3, 4}


def test_truncation_after_an_exported_checkpoint_is_caught(estate: Estate, tmp_path: Path) -> None:
    fill(estate, 10)
    kept_elsewhere = tmp_path / "checkpoint-seq-10.json"
    exported = export_checkpoint(estate, kept_elsewhere)
    assert exported.seq == 10
    fill(estate, 5)
    # A careful forger: cut the tail, and tidy the head and stored checkpoints to match.
    with raw_catalogue(estate) as con:
        con.execute("DELETE FROM audit_entries WHERE seq > 7")
        con.execute("DELETE FROM audit_checkpoints")
        seq7 = con.execute("SELECT hash FROM audit_entries WHERE seq = 7").fetchone()[0]
        con.execute("UPDATE audit_head SET seq = 7, hash = ?", (seq7,))

    # The head's MAC and the checkpoint kept in keys/ give the cut away even without the file.
    alone = verify(estate)
    assert alone.first_bad_seq == 8
    assert any(
        "the checkpoint kept in keys/ vouches for seq 10 but the log ends at seq 7" in p.message for p in alone.problems
    )
    report = verify(estate, kept_elsewhere)

    assert report.first_bad_seq == 8
    assert any("the checkpoint file vouches for seq 10 but the log ends at seq 7" in p.message for p in report.problems)


def test_truncation_is_caught_by_the_head_and_stored_checkpoints_too(estate: Estate) -> None:
    fill(estate, 10)
    export_checkpoint(estate, estate.tmp_dir / "cp.json")
    with raw_catalogue(estate) as con:
        con.execute("DELETE FROM audit_entries WHERE seq > 8")

    report = verify(estate)

    assert report.first_bad_seq == 9
    assert any("head records seq 10" in p.message for p in report.problems)
    assert any("a stored checkpoint vouches for seq 10" in p.message for p in report.problems)


def test_a_rewritten_log_fails_against_the_exported_checkpoint(estate: Estate, tmp_path: Path) -> None:
    fill(estate, 6)
    kept_elsewhere = tmp_path / "cp.json"
    export_checkpoint(estate, kept_elsewhere)
    # A forger who holds keys/ as well: new keys, an emptied log, a different history of the same length.
    for made in estate.keys_dir.iterdir():
        if made.name != "estate.secret":
            made.unlink()
    with raw_catalogue(estate) as con:
        con.execute("DELETE FROM audit_entries")
        con.execute("DELETE FROM audit_checkpoints")
        con.execute("UPDATE audit_head SET seq = 0, hash = ?, mac = NULL, checkpoint_every = NULL", (ZERO_HASH,))
    estate_again = Estate.open(estate.root)
    fill(estate_again, 6)
    assert verify(estate_again).ok, "with keys/ in hand the rewrite is invisible from inside the estate"

    report = verify(estate_again, kept_elsewhere)

    assert report.first_bad_seq == 6
    assert "differs from the checkpoint file" in report.problem


def test_a_forged_checkpoint_signature_is_caught(estate: Estate) -> None:
    fill(estate, 4)
    export_checkpoint(estate, estate.tmp_dir / "cp.json")
    with raw_catalogue(estate) as con:
        con.execute("UPDATE audit_checkpoints SET at = '2020-01-01T00:00:00.000000Z'")

    report = verify(estate)

    assert any("signature that does not verify" in p.message for p in report.problems)


def test_checkpoints_are_written_every_n_entries(estate: Estate) -> None:
    estate.config.extra["audit"] = {"checkpoint_every": 5}
    fill(estate, 12)
    with raw_catalogue(estate) as con:
        seqs = [row[0] for row in con.execute("SELECT seq FROM audit_checkpoints ORDER BY seq")]
    assert seqs == [5, 10]
    report = verify(Estate.open(estate.root))
    assert report.ok and report.checkpoints == 2


def test_the_signing_key_is_private_and_the_export_carries_the_public_key(estate: Estate, tmp_path: Path) -> None:
    fill(estate, 2)
    path = tmp_path / "cp.json"
    made = export_checkpoint(estate, path)

    mode = stat.S_IMODE((estate.keys_dir / "audit-signing.key").stat().st_mode)
    assert mode == 0o600
    document = json.loads(path.read_text())
    assert document["type"] == "joinedup-audit-checkpoint"
    assert (document["seq"], document["hash"], document["estate"]) == (2, made.hash, estate.config.name)
    assert len(bytes.fromhex(document["public_key"])) == 32
    assert made.signature_valid()
    assert verify(estate, path).ok


def test_entries_read_back_as_written(estate: Estate) -> None:
    written = record_now(
        estate, principal="alice", action="data.export", purpose="quarterly return",
        dataset="people", dataset_version=2, columns=["name", "postcode"], row_count=42, detail={"format": "csv"},
    )  # fmt: skip
    [read] = log(estate)
    assert read == written
    assert read.when.tzinfo is not None


def test_a_chain_rebuilt_after_a_deletion_with_its_checkpoints_removed_is_caught(estate: Estate) -> None:
    # Someone with write access to the catalogue (not the signing key) removes entry 3,
    # renumbers and re-hashes everything after it, and deletes the stored checkpoints.
    estate.config.extra["audit"] = {"checkpoint_every": 5}
    estate.config.save(estate.root)
    estate = Estate.open(estate.root)
    fill(estate, 12)
    columns = "seq, at, principal, action, purpose, dataset, dataset_version, columns, row_count, subjects, detail"
    with raw_catalogue(estate) as con:
        rows = con.execute(f"SELECT {columns} FROM audit_entries WHERE seq <> 3 ORDER BY seq").fetchall()
        con.execute("DELETE FROM audit_entries")
        con.execute("DELETE FROM audit_checkpoints")
        prev = ZERO_HASH
        for seq, row in enumerate(rows, start=1):
            _, at, principal, action, purpose, dataset, version, cols, count, subjects, detail = row
            digest = entry_hash(
                encode_entry(
                    seq=seq, at=at, principal=principal, action=action, purpose=purpose, dataset=dataset,
                    dataset_version=version, columns_json=cols, row_count=count, subjects_json=subjects,
                    detail_json=detail, prev_hash=prev,
                )
            )  # fmt: skip
            con.execute(
                (
                    f"INSERT INTO audit_entries ({columns}, prev_hash, hash) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                ),
                (seq, at, principal, action, purpose, dataset, version, cols, count, subjects, detail, prev, digest),
            )
            prev = digest
        con.execute("UPDATE audit_head SET seq = ?, hash = ?", (len(rows), prev))

    report = verify(estate)

    assert report.first_bad_seq == 1
    messages = [p.message for p in report.problems]
    assert "seq 1 does not carry the chain key's MAC" in report.problem
    assert any(
        "the signing key exists but stored checkpoints are missing or fewer than expected: none at seq 5" in m
        for m in messages
    )
    assert any("differs from the checkpoint kept in keys/" in m for m in messages)
