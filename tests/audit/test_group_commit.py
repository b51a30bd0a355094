"""Group commit: entries from concurrent submitters share transactions, each gets its own entry, the chain verifies."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
import sqlalchemy as sa

from joinedup.audit import GroupCommitter, Subject, log, verify
from joinedup.estate import Estate
from tests.audit.conftest import fill, raw_catalogue


def _read(i: int) -> dict[str, Any]:
    return {
        "principal": f"client-{i % 3}",
        "action": "data.read",
        "purpose": "agreement A-1",
        "dataset": "people",
        "dataset_version": 1,
        "columns": ["name", "postcode"],
        "row_count": 1,
        "subjects": [Subject("nhs_number", "9434765919")] if i % 2 else [],
    }


def test_concurrent_submitters_each_get_their_committed_entry_and_the_chain_verifies(estate: Estate) -> None:
    # A small checkpoint interval so batches cross checkpoints, which must be signed and kept as alone.
    estate.config.extra["audit"] = {"checkpoint_every": 7}
    threads, per_thread = 8, 25
    got: dict[int, list[int]] = {}
    start = threading.Barrier(threads)

    with GroupCommitter(estate) as committer:

        def work(t: int) -> None:
            start.wait()
            got[t] = [committer.append(**_read(t * per_thread + i)).seq for i in range(per_thread)]

        workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        batches, entries = committer.batches, committer.entries

    seqs = sorted(seq for mine in got.values() for seq in mine)
    assert len(seqs) == threads * per_thread == entries
    assert len(set(seqs)) == len(seqs)  # every submitter got its own place in the chain
    # Concurrent submitters shared transactions (the point of it): fewer commits than entries.
    assert batches < entries
    with estate.engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT count(*) FROM audit_entries WHERE action = 'data.read'")).scalar_one()
    assert stored == entries
    report = verify(estate)
    assert report.ok, report.problems
    assert report.checkpoints >= entries // 7 - 1
    # Each entry holds what its submitter gave: the principal, and a subject only where one was named.
    by_seq = {e.seq: e for e in log(estate, limit=10_000)}
    for t, mine in got.items():
        for i, seq in enumerate(mine):
            entry = by_seq[seq]
            assert entry.principal == f"client-{(t * per_thread + i) % 3}"
            assert bool(entry.subjects) == bool((t * per_thread + i) % 2)


def test_a_bad_entry_fails_only_its_own_submitter(estate: Estate) -> None:
    with GroupCommitter(estate) as committer:
        good = [committer.submit(**_read(i)) for i in range(5)]
        bad = committer.submit(principal="client-1", action="Not An Action")
        more = [committer.submit(**_read(i)) for i in range(5, 8)]
        with pytest.raises(ValueError, match="audit action"):
            bad.result()
        written = [f.result().seq for f in good + more]
    assert len(set(written)) == 8
    assert verify(estate).ok


def test_a_closed_committer_takes_no_more_entries(estate: Estate) -> None:
    committer = GroupCommitter(estate)
    first = committer.submit(**_read(0))
    committer.close()
    assert first.result().seq >= 1  # queued before close: committed
    with pytest.raises(RuntimeError, match="closed"):
        committer.submit(**_read(1))


def test_a_batch_holding_sealed_queries_and_a_checkpoint_stores_each_text_with_its_own_entry(estate: Estate) -> None:
    # One transaction for all of them: the sealed texts and the checkpoint signed midway must land exactly as
    # single appends would put them, or verify (which checks commitments and checkpoints) would say so.
    estate.config.extra["audit"] = {"checkpoint_every": 3}
    entries = [
        {**_read(i), "sql": "SELECT name FROM people WHERE nhs_number = '9434765919'"} if i % 2 else _read(i)
        for i in range(9)
    ]
    with GroupCommitter(estate, delay=0.05, gather=9) as committer:
        written = [f.result() for f in [committer.submit(**e) for e in entries]]
        assert committer.batches == 1  # the delay let all nine share one commit
    assert [w.seq for w in written] == list(range(written[0].seq, written[0].seq + 9))
    for entry, given in zip(written, entries, strict=True):
        assert ("sealed" in entry.detail) == ("sql" in given)
        assert "9434765919" not in str(entry.detail)
    report = verify(estate)
    assert report.ok, report.problems
    assert report.checkpoints >= 3


def test_a_head_set_by_hand_is_recorded_once_before_a_batch(estate: Estate) -> None:
    fill(estate, 8)
    with raw_catalogue(estate) as con:
        con.execute("DELETE FROM audit_entries WHERE seq > 6")
        con.execute("UPDATE audit_head SET seq = 6, hash = (SELECT hash FROM audit_entries WHERE seq = 6)")
    with GroupCommitter(estate, delay=0.05, gather=4) as committer:
        seqs = [f.result().seq for f in [committer.submit(**_read(i)) for i in range(4)]]
    assert seqs == [8, 9, 10, 11]  # seq 7 is the finding, written first
    [finding] = log(estate, action="audit.tampering")
    assert (finding.seq, finding.detail) == (7, {"head_seq": 6})


def test_a_bad_entry_is_refused_to_its_submitter_before_it_is_queued(estate: Estate) -> None:
    with GroupCommitter(estate) as committer:
        bad = committer.submit(principal="", action="data.read")
        assert bad.done()  # refused at once: the writer never saw it
        with pytest.raises(ValueError, match="principal"):
            bad.result()
        assert committer.append(**_read(0)).seq >= 1
        assert committer.batches == 1


def test_coroutines_await_their_entries_and_share_commits(estate: Estate) -> None:
    async def reads(committer: GroupCommitter) -> list[int]:
        written = await asyncio.gather(*(committer.submit_async(**_read(i)) for i in range(20)))
        return [w.seq for w in written]

    with GroupCommitter(estate, delay=0.05) as committer:
        seqs = asyncio.run(reads(committer))
        assert committer.batches < 20
    assert sorted(seqs) == seqs and len(set(seqs)) == 20
    assert verify(estate).ok


def test_a_coroutine_gets_a_bad_entry_refused_and_a_closed_committer_refused(estate: Estate) -> None:
    committer = GroupCommitter(estate)

    async def bad() -> None:
        await committer.submit_async(principal="x", action="Not An Action")

    with pytest.raises(ValueError, match="audit action"):
        asyncio.run(bad())
    committer.close()

    async def late() -> None:
        await committer.submit_async(**_read(0))

    with pytest.raises(RuntimeError, match="closed"):
        asyncio.run(late())
