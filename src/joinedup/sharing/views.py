"""Materialised views for single-record reads: one set-based query per agreement and dataset version.

A read of one record used to run the whole plan (catalogue lookup, objector
hashes, one DuckDB query with HMACs) for one row: about 8 ms. Here the first
read of a record under an agreement materialises what that agreement may see of
the dataset's current version, with the same SQL as every other read (its
fields and row filters, pseudonyms, record ids, objectors dropped), into Arrow
in memory, sorted by surrogate row key. Later reads decode the record id, find
the row by binary search and answer from memory.

A view is used only while everything it was made from is unchanged. Each read
checks, with one indexed catalogue query and two ``stat`` calls:

- the dataset's newest version and schema, and (when linkage keys exist) the
  newest version of any dataset, since an objector found elsewhere excludes
  their linked records here;
- the objections register (its newest objection and latest withdrawal: an
  objection is never deleted and a withdrawal never undone, so these only grow);
- the Delta log folder of the dataset (erasure rewrites a table in place) and of
  linkage's person keys;
- the agreement: its id, source digest and revocation are part of the key, and
  :func:`joinedup.sharing.records.read_record` refuses an agreement that is not
  live (and forgets its views) before it looks here.

Memory is bounded by ``[sharing] view_cache_rows`` in joinedup.toml (rows held
over all views, least recently used dropped first; default 2,000,000; 0 turns
views off). A dataset version larger than that is read with a query per read.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from joinedup.audit import Subject
from joinedup.errors import EstateError
from joinedup.estate import Estate
from joinedup.linkage import store as linkage_store
from joinedup.sharing import keys
from joinedup.sharing.agreements import Agreement

#: Rows held over all views when joinedup.toml does not say.
DEFAULT_ROWS = 2_000_000
_MAX_ROWS = 100_000_000

_STAMP = (
    "SELECT"
    " (SELECT max(v.id) FROM dataset_versions v JOIN datasets d ON d.id = v.dataset_id WHERE d.name = ?),"
    " (SELECT max(s.id) FROM schema_versions s JOIN datasets d ON d.id = s.dataset_id WHERE d.name = ?),"
    " (SELECT max(id) FROM dataset_versions),"
    " (SELECT max(id) FROM sharing_objections),"
    # The latest withdrawal, by index (a count scanned the register on every read). Withdrawals only ever come
    # later, and one this misses (a clock set back) keeps its person excluded a while longer: the safe side.
    " (SELECT max(withdrawn_at) FROM sharing_objections)"
)


@dataclass
class View:
    """What one agreement may see of one dataset version, objectors dropped, sorted by surrogate key."""

    #: The read's plan (a ``records._Plan``): fields, version and the audit entry's shape.
    plan: Any
    #: The rows as they leave (permitted fields, pseudonyms, ``id``).
    records: pa.Table
    ingest: np.ndarray[Any, np.dtype[np.int64]]
    rows: np.ndarray[Any, np.dtype[np.int64]]
    #: Per row: the identifiers (kind, value) and person keys the audit entry names.
    identifiers: list[tuple[str, pa.ChunkedArray]]
    person_keys: pa.ChunkedArray | None

    @property
    def size(self) -> int:
        return int(self.records.num_rows)

    def find(self, ingest: int, row: int) -> int | None:
        # The arrays' own methods: np.searchsorted's dispatch through Python cost more than the search.
        low = int(self.ingest.searchsorted(ingest, side="left"))
        high = int(self.ingest.searchsorted(ingest, side="right"))
        if low == high:
            return None
        at = low + int(self.rows[low:high].searchsorted(row, side="left"))
        return at if at < high and int(self.rows[at]) == row else None

    def __post_init__(self) -> None:
        self._columns = [(name, self.records.column(name)) for name in self.records.column_names]

    def record(self, index: int) -> dict[str, Any]:
        # A scalar per column converts in a third of the time a one-row slice's to_pylist takes.
        return {name: column[index].as_py() for name, column in self._columns}

    def subjects(self, index: int) -> list[Subject]:
        found: set[tuple[str, str]] = set()
        for kind, column in self.identifiers:
            value = column[index].as_py()
            if value:
                found.add((kind, value))
        if self.person_keys is not None:
            found.update(("person_key", str(k)) for k in (self.person_keys[index].as_py() or ()))
        return [Subject(k, v) for k, v in sorted(found)]


class Views:
    """The estate's views, least recently used first, with at most ``limit`` rows over all of them."""

    def __init__(self) -> None:
        self._views: OrderedDict[tuple[Any, ...], View] = OrderedDict()
        self._lock = threading.Lock()
        #: One lock per key being built, so concurrent first reads build it once.
        self._building: dict[tuple[Any, ...], threading.Lock] = {}
        self.builds = 0

    def get(self, key: tuple[Any, ...]) -> View | None:
        with self._lock:
            found = self._views.get(key)
            if found is not None:
                self._views.move_to_end(key)
            return found

    def builder(self, key: tuple[Any, ...]) -> threading.Lock:
        with self._lock:
            return self._building.setdefault(key, threading.Lock())

    def put(self, key: tuple[Any, ...], view: View, limit: int) -> None:
        with self._lock:
            self.builds += 1
            # A newer stamp of the same (estate, agreement, dataset) makes the older view useless: drop it now.
            for old in [k for k in self._views if k[:3] == key[:3]]:
                del self._views[old]
            self._views[key] = view
            total = sum(v.size for v in self._views.values())
            while total > limit and len(self._views) > 1:
                _, dropped = self._views.popitem(last=False)
                total -= dropped.size
            self._building.pop(key, None)

    def done(self, key: tuple[Any, ...]) -> None:
        """The build for ``key`` ended without a view (too large to hold, or it failed)."""
        with self._lock:
            self._building.pop(key, None)

    def forget(self, root: str, agreement_id: str) -> None:
        with self._lock:
            for old in [k for k in self._views if k[0] == root and k[1] == agreement_id]:
                del self._views[old]

    def clear(self) -> None:
        with self._lock:
            self._views.clear()

    def held(self, root: str, agreement_id: str | None = None) -> int:
        """How many views are held for the estate (and agreement): for tests and benchmarks."""
        with self._lock:
            return sum(1 for k in self._views if k[0] == root and (agreement_id is None or k[1] == agreement_id))


VIEWS = Views()


def row_limit(estate: Estate) -> int:
    """``[sharing] view_cache_rows`` from joinedup.toml (0: no views)."""
    section = estate.config.extra.get("sharing", {})
    if not isinstance(section, dict):
        raise EstateError("joinedup.toml: [sharing] must be a table of settings")
    value = section.get("view_cache_rows", DEFAULT_ROWS)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= _MAX_ROWS:
        raise EstateError(f"joinedup.toml: [sharing] view_cache_rows must be a whole number from 0 to {_MAX_ROWS:,}")
    return value


def stamp(estate: Estate, agreement: Agreement, dataset: str) -> tuple[Any, ...] | None:
    """The key of the view this read may use; None when the dataset has no version (the full path explains)."""
    found = estate.lookups.one(_STAMP, (dataset, dataset))
    if found is None:
        return None
    version, schema, any_version, objections, withdrawn = found
    if version is None or schema is None:
        return None
    table_log, keys_log = _logs(estate, dataset)
    table = _log_stamp(table_log)
    person_keys = _log_stamp(keys_log)
    return (
        os.fspath(estate.root), agreement.id, dataset,
        agreement.source_sha256, agreement.revoked_at, agreement.purpose_category,
        int(version), int(schema), table, objections, withdrawn,
        # Linked objectors come from every dataset: only then does another dataset's new version matter.
        (person_keys, any_version) if person_keys is not None else None,
    )  # fmt: skip


#: (estate root, dataset) -> its Delta log folders as plain strings: pathlib's joins showed in profiles of reads.
_LOGS: dict[tuple[str, str], tuple[str, str]] = {}


def _logs(estate: Estate, dataset: str) -> tuple[str, str]:
    """The Delta log folders a view of ``dataset`` depends on: its table's and linkage's person keys'."""
    key = (os.fspath(estate.root), dataset)
    found = _LOGS.get(key)
    if found is None:
        found = (
            os.fspath(estate.table_path(dataset) / "_delta_log"),
            os.fspath(linkage_store.keys_path(estate, "person") / "_delta_log"),
        )
        if len(_LOGS) < 4096:
            _LOGS[key] = found
    return found


def _log_stamp(path: str) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None
    return info.st_ino, info.st_mtime_ns


def decode(view: View, record_id: str) -> int | None:
    """The view's row index of ``record_id``, or None when the agreement may not see such a record."""
    surrogate = keys.decode_record_id(view.plan.key, view.plan.dataset, record_id)
    if surrogate is None:
        return None
    return view.find(*surrogate)
