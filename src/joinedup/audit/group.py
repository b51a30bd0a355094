"""Group commit: entries from concurrent readers appended in one transaction, each reader waiting for its own.

A front end serving many requests at once (the API) would otherwise commit one
transaction per response, and on SQLite with ``synchronous=FULL`` every commit
waits for the disk. The :class:`GroupCommitter` keeps one writer thread: it takes
every entry submitted since its last commit, appends them with
:func:`joinedup.audit.record.append_prepared` (the append path
:func:`joinedup.audit.record` takes too, so the chain, the MACs, the redaction and
the checkpoints are exactly those of single appends) inside one transaction,
commits, and only then resolves each submitter's future. Durability is unchanged:
nothing a submitter hands over may leave before its future says the entry is
committed, and a future that raises means the entry is not there.

The work is split where it costs least. A submitter checks, redacts and encodes
its own entry (:func:`joinedup.audit.record.prepare`) in its own thread, so a bad
entry fails there, before it is queued. The writer only chains, inserts and
commits, taking the log's head once per batch. On a busy server the writer and
the event loop share one interpreter lock, and every hand-off between them cost
more than the work handed over; so the writer also resolves a batch's asyncio
futures with one wake-up of their loop, not one each.

If a batch fails as a whole (the database locked past its timeout, a head set
by hand) it is rolled back and each of its entries is then tried in a
transaction of its own, so whatever went wrong fails only the entries it touches.

One committer per process and estate: several processes may each run one, as
appends from several processes are serialised by the log's head row anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import defaultdict
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from joinedup.audit.checkpoints import Checkpoint, keep_checkpoint
from joinedup.audit.entry import AuditEntry
from joinedup.audit.record import _PENDING, Fields, append_prepared, prepare
from joinedup.estate import Estate

#: The most entries one transaction takes; the rest wait for the next.
MAX_BATCH = 256
#: With a commit delay, a batch stops waiting once this many entries are queued.
GATHER = 16


@dataclass
class _Queued:
    fields: Fields
    follow_settings: bool
    #: Resolved by the writer thread itself (``submit``) ...
    future: Future[AuditEntry] | None = None
    #: ... or on its event loop (``submit_async``).
    waiter: asyncio.Future[AuditEntry] | None = None
    loop: asyncio.AbstractEventLoop | None = None


class GroupCommitter:
    """Appends submitted entries in batches from one writer thread (see the module's docstring).

    ::

        committer = GroupCommitter(estate)
        committer.submit(principal="client-x", action="data.read", ...).result()  # committed now
        await committer.submit_async(principal="client-x", ...)                     # from a coroutine
        ...
        committer.close()
    """

    def __init__(self, estate: Estate, *, max_batch: int = MAX_BATCH, delay: float = 0.0, gather: int = GATHER) -> None:
        self._estate = estate
        self._max_batch = max_batch
        #: Seconds a batch waits for more entries after its first (0: none), unless ``gather`` are queued sooner.
        self._delay = delay
        self._gather = max(1, min(gather, max_batch))
        self._idle = False
        self._queue: list[_Queued] = []
        self._ready = threading.Condition()
        self._closed = False
        #: Entries from coroutines, per event loop, not yet handed to the writer (see submit_async).
        self._held: dict[asyncio.AbstractEventLoop, list[_Queued]] = {}
        #: How many transactions and entries have been committed (for benchmarks and tests).
        self.batches = 0
        self.entries = 0
        self._thread = threading.Thread(target=self._run, name="joinedup-audit-group-commit", daemon=True)
        self._thread.start()

    def submit(self, **entry: Any) -> Future[AuditEntry]:
        """Queue an entry (the fields :func:`joinedup.audit.record` takes); the future resolves once it is committed."""
        future: Future[AuditEntry] = Future()
        try:
            queued = _prepared(self._estate, entry)
        except Exception as exc:  # a bad entry is refused to its own submitter, never queued
            future.set_exception(exc)
            return future
        queued.future = future
        self._enqueue(queued)
        return future

    def submit_async(self, **entry: Any) -> asyncio.Future[AuditEntry]:
        """:meth:`submit` for a coroutine: an asyncio future of the running loop (await it; no thread waits)."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[AuditEntry] = loop.create_future()
        try:
            queued = _prepared(self._estate, entry)
        except Exception as exc:
            waiter.set_exception(exc)
            return waiter
        queued.waiter, queued.loop = waiter, loop
        # Held until the loop has run every callback now ready (other requests' handlers among them), then
        # queued together: one wake-up of the writer for all of them instead of one each.
        held = self._held.get(loop)
        if held is None:
            held = self._held[loop] = []
            loop.call_soon(self._release, loop)
        held.append(queued)
        return waiter

    def _release(self, loop: asyncio.AbstractEventLoop) -> None:
        held = self._held.pop(loop, [])
        try:
            self._enqueue(*held)
        except RuntimeError as exc:  # closed meanwhile
            for queued in held:
                if queued.waiter is not None and not queued.waiter.done():
                    queued.waiter.set_exception(exc)

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

    def _enqueue(self, *queued: _Queued) -> None:
        with self._ready:
            if self._closed:
                raise RuntimeError("the audit group committer is closed")
            self._queue.extend(queued)
            # Woken only to start a batch or to end a commit delay early: a wake-up per entry cost more than it saved.
            if self._idle or len(self._queue) >= self._gather:
                self._ready.notify()

    def _run(self) -> None:
        while True:
            with self._ready:
                while not self._queue and not self._closed:
                    self._idle = True
                    self._ready.wait()
                self._idle = False
                if not self._queue:
                    return  # closed, and nothing left to write
                if self._delay and not self._closed:
                    # Commit delay (as PostgreSQL's commit_delay): a moment for more readers' entries to join
                    # this batch. A commit costs the same for one entry or many, and on a busy server each
                    # extra batch costs the event loop more than the wait.
                    until = time.monotonic() + self._delay
                    while len(self._queue) < self._gather and not self._closed:
                        left = until - time.monotonic()
                        if left <= 0:
                            break
                        self._ready.wait(left)
                batch = self._queue[: self._max_batch]
                del self._queue[: self._max_batch]
            self._commit(batch)

    def _commit(self, batch: list[_Queued]) -> None:
        live = [q for q in batch if q.future is None or q.future.set_running_or_notify_cancel()]
        if not live:
            return
        try:
            made, signed = self._append_all(live, all(q.follow_settings for q in live))
        except BaseException:
            # Rolled back: none of them is in the log. Each on its own, so a fault fails only what it touches.
            for queued in live:
                try:
                    one, signed = self._append_all([queued], queued.follow_settings)
                except BaseException as exc:
                    _settle([(queued, None, exc)])
                    continue
                self._committed(signed, 1)
                _settle([(queued, one[0], None)])
            return
        self._committed(signed, len(made))
        _settle([(queued, written, None) for queued, written in zip(live, made, strict=True)])

    def _append_all(self, batch: list[_Queued], follow_settings: bool) -> tuple[list[AuditEntry], list[Checkpoint]]:
        with self._estate.engine.begin() as connection:
            # The info dict belongs to the pooled connection: start it clean (as record_now does).
            connection.info.pop(_PENDING, None)
            made, signed = append_prepared(connection, self._estate, [q.fields for q in batch], follow_settings)
            connection.info.pop(_PENDING, None)
        return made, signed

    def _committed(self, signed: list[Checkpoint], entries: int) -> None:
        # Committed: only now may keys/ vouch for its checkpoints, and only now may the data go.
        for checkpoint in signed:
            keep_checkpoint(self._estate, checkpoint)
        self.batches += 1
        self.entries += entries


def _prepared(estate: Estate, entry: dict[str, Any]) -> _Queued:
    follow = bool(entry.pop("follow_settings", True))
    return _Queued(prepare(estate, **entry), follow)


def _settle(outcomes: list[tuple[_Queued, AuditEntry | None, BaseException | None]]) -> None:
    """Resolve each submitter's future; asyncio ones with one call into each loop for the lot."""
    by_loop: defaultdict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[AuditEntry], Any, Any]]]
    by_loop = defaultdict(list)
    for queued, written, error in outcomes:
        if queued.future is not None:
            if error is None:
                queued.future.set_result(written)  # type: ignore[arg-type]
            else:
                queued.future.set_exception(error)
        elif queued.waiter is not None and queued.loop is not None:
            by_loop[queued.loop].append((queued.waiter, written, error))
    for loop, waiters in by_loop.items():
        with contextlib.suppress(RuntimeError):  # the loop has closed: nobody is waiting any more
            loop.call_soon_threadsafe(_resolve, waiters)


def _resolve(waiters: list[tuple[asyncio.Future[AuditEntry], AuditEntry | None, BaseException | None]]) -> None:
    for waiter, written, error in waiters:
        if waiter.done():
            continue  # the request was cancelled (client gone); its entry stands, as it was committed
        if error is None:
            waiter.set_result(written)  # type: ignore[arg-type]
        else:
            waiter.set_exception(error)
