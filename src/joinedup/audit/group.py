"""Group commit: entries from concurrent readers appended in one transaction, each reader waiting for its own.

A front end serving many requests at once (the API) would otherwise commit one
transaction per response, and on SQLite with ``synchronous=FULL`` every commit
waits for the disk. The :class:`GroupCommitter` keeps one writer thread: it takes
every entry submitted since its last commit, appends them with
:func:`joinedup.audit.record` (the one append path, so the chain, the MACs, the
redaction and the checkpoints are exactly those of a single append) inside one
transaction, commits, and only then resolves each submitter's future. Durability
is unchanged: nothing a submitter hands over may leave before its future says
the entry is committed, and a future that raises means the entry is not there.

If a batch fails as a whole (one entry that cannot be encoded, the database
locked past its timeout) it is rolled back and each of its entries is then tried
on its own with :func:`joinedup.audit.record_now`, so one bad entry fails only
its own submitter.

One committer per process and estate: several processes may each run one, as
appends from several processes are serialised by the log's head row anyway.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from concurrent.futures import Future
from typing import Any

from joinedup.audit.checkpoints import Checkpoint, keep_checkpoint
from joinedup.audit.entry import AuditEntry
from joinedup.audit.record import _PENDING, record, record_now
from joinedup.estate import Estate

#: The most entries one transaction takes; the rest wait for the next.
MAX_BATCH = 256


class GroupCommitter:
    """Appends submitted entries in batches from one writer thread (see the module's docstring).

    ::

        committer = GroupCommitter(estate)
        committer.submit(principal="client-x", action="data.read", ...).result()  # committed now
        ...
        committer.close()
    """

    def __init__(self, estate: Estate, *, max_batch: int = MAX_BATCH) -> None:
        self._estate = estate
        self._max_batch = max_batch
        self._queue: list[tuple[dict[str, Any], Future[AuditEntry]]] = []
        self._ready = threading.Condition()
        self._closed = False
        #: How many transactions and entries have been committed (for benchmarks and tests).
        self.batches = 0
        self.entries = 0
        self._thread = threading.Thread(target=self._run, name="joinedup-audit-group-commit", daemon=True)
        self._thread.start()

    def submit(self, **entry: Any) -> Future[AuditEntry]:
        """Queue an entry (the fields :func:`joinedup.audit.record` takes); the future resolves once it is committed."""
        future: Future[AuditEntry] = Future()
        with self._ready:
            if self._closed:
                raise RuntimeError("the audit group committer is closed")
            self._queue.append((dict(entry), future))
            self._ready.notify()
        return future

    def append(self, **entry: Any) -> AuditEntry:
        """Submit an entry and wait until it is committed (raises if it could not be)."""
        return self.submit(**entry).result()

    def close(self) -> None:
        """Commit what is queued, then stop the writer thread."""
        with self._ready:
            self._closed = True
            self._ready.notify()
        self._thread.join()

    def __enter__(self) -> GroupCommitter:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _run(self) -> None:
        while True:
            with self._ready:
                while not self._queue and not self._closed:
                    self._ready.wait()
                if not self._queue:
                    return  # closed, and nothing left to write
                batch = self._queue[: self._max_batch]
                del self._queue[: self._max_batch]
            self._commit(batch)

    def _commit(self, batch: list[tuple[dict[str, Any], Future[AuditEntry]]]) -> None:
        live = [(entry, future) for entry, future in batch if future.set_running_or_notify_cancel()]
        if not live:
            return
        try:
            made, signed = self._append_all([entry for entry, _ in live])
        except BaseException:
            # Rolled back: none of them is in the log. Each on its own, so a bad entry fails only its submitter.
            for entry, future in live:
                try:
                    future.set_result(record_now(self._estate, **entry))
                    self._count(1)
                except BaseException as exc:
                    future.set_exception(exc)
            return
        # Committed: only now may keys/ vouch for its checkpoints, and only now may the data go.
        for checkpoint in signed:
            keep_checkpoint(self._estate, checkpoint)
        self._count(len(made))
        for (_, future), written in zip(live, made, strict=True):
            future.set_result(written)

    def _append_all(self, entries: list[Mapping[str, Any]]) -> tuple[list[AuditEntry], list[Checkpoint]]:
        with self._estate.engine.begin() as connection:
            # The info dict belongs to the pooled connection: start it clean (as record_now does).
            connection.info.pop(_PENDING, None)
            made = [record(connection, self._estate, **entry) for entry in entries]
            signed: list[Checkpoint] = connection.info.pop(_PENDING, [])
        return made, signed

    def _count(self, entries: int) -> None:
        self.batches += 1
        self.entries += entries
