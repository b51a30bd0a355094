"""Group commit: entries from concurrent submitters share transactions, each gets its own entry, the chain verifies."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import sqlalchemy as sa

from joinedup.audit import GroupCommitter, Subject, log, verify
from joinedup.estate import Estate


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
