"""What other capabilities ask of linkage: the records behind a key, the keys of records, erasure.

These run as the estate itself (the caller has authorised its own action:
who-accessed, subject access, objections, erasure); they read and rewrite the
Delta outputs directly.
"""

from __future__ import annotations

from collections.abc import Iterable

import duckdb
import pyarrow as pa
import sqlalchemy as sa

from joinedup.estate import Catalogue, Estate
from joinedup.linkage import store
from joinedup.linkage.columns import ENTITIES, DatasetColumns
from joinedup.linkage.prepare import record_id_sql
from joinedup.storage import delta
from joinedup.storage.duck import interrupted


def _pairs_of(records: Iterable[tuple[str, str]]) -> pa.Table:
    wanted = sorted({(str(d), str(i)) for d, i in records})
    return pa.table({"dataset": [d for d, _ in wanted], "id": [i for _, i in wanted]})


def records_for_key(estate: Estate, person_key: str) -> list[tuple[str, str]]:
    """(dataset, primary-key value) of every record carrying ``person_key`` (a person or business key)."""
    found: list[tuple[str, str]] = []
    for entity in ENTITIES:
        keys = store.read(store.keys_path(estate, entity))
        if keys is None:
            continue
        with duckdb.connect() as con:
            con.register("k", keys)
            rows = con.execute("SELECT dataset, id FROM k WHERE key = ? ORDER BY ALL", [person_key]).fetchall()
        found += [(str(d), str(i)) for d, i in rows]
    return found


def keys_for_records(estate: Estate, records: Iterable[tuple[str, str]]) -> set[str]:
    """The keys (person and business) carried by any of ``records`` ((dataset, primary-key value) pairs)."""
    wanted = _pairs_of(records)
    found: set[str] = set()
    for entity in ENTITIES:
        keys = store.read(store.keys_path(estate, entity))
        if keys is None or not wanted.num_rows:
            continue
        with duckdb.connect() as con:
            con.register("k", keys)
            con.register("w", wanted)
            rows = con.execute(
                "SELECT DISTINCT k.key FROM k JOIN w ON k.dataset = w.dataset AND k.id = w.id"
            ).fetchall()
        found.update(str(r[0]) for r in rows)
    return found


def erase_records(estate: Estate, records: Iterable[tuple[str, str]]) -> int:
    """Remove ``records`` from pairs, keys and review decisions, physically; returns the rows removed.

    The Delta outputs are rewritten without them as fresh tables (no older
    version or file keeps them). A key whose every record is erased is gone
    with them; key history holds keys only, never records.
    """
    wanted = _pairs_of(records)
    if not wanted.num_rows:
        return 0
    removed = 0
    for entity in ENTITIES:
        # After any run under way: its rewrite of keys and pairs would otherwise bring the records back.
        with store.lock(estate, entity, wait=True):
            removed += _erase_from(estate, store.keys_path(estate, entity), wanted, ("dataset", "id"))
            pairs = store.pairs_path(estate, entity)
            removed += _erase_from(estate, pairs, wanted, ("dataset_l", "id_l"), ("dataset_r", "id_r"))
    r = store.reviews.c
    with estate.engine.begin() as c:
        for dataset, record_id in zip(
            wanted.column("dataset").to_pylist(), wanted.column("id").to_pylist(), strict=True
        ):
            gone = c.execute(
                sa.delete(store.reviews).where(
                    sa.or_(
                        sa.and_(r.dataset_l == dataset, r.id_l == record_id),
                        sa.and_(r.dataset_r == dataset, r.id_r == record_id),
                    )
                )
            )
            removed += gone.rowcount or 0
    return removed


def _erase_from(estate: Estate, path: object, wanted: pa.Table, *sides: tuple[str, str]) -> int:
    from pathlib import Path

    assert isinstance(path, Path)
    table = store.read(path)
    if table is None:
        return 0
    match = " OR ".join(f"(t.{d} = w.dataset AND t.{i} = w.id)" for d, i in sides)
    with duckdb.connect() as con:
        con.register("t", table)
        con.register("w", wanted)
        kept = con.sql(f"SELECT t.* FROM t WHERE NOT EXISTS (SELECT 1 FROM w WHERE {match})").to_arrow_table()
        if "key" in table.column_names and "digest" in table.column_names:
            # The others under an erased record's key lost a link: marked changed (no digest), so the next
            # incremental run clusters them again, as a full run would, instead of keeping their key as it was.
            con.register("k", kept)
            kept = con.sql(
                f"SELECT k.* REPLACE (CASE WHEN k.key IN (SELECT t.key FROM t JOIN w ON {match}) "
                "THEN NULL ELSE k.digest END AS digest) FROM k"
            ).to_arrow_table()
    removed = int(table.num_rows - kept.num_rows)
    if removed:
        store.replace(path, kept.cast(table.schema))
    return removed


def record_ids(estate: Estate, dataset: str, rows: Iterable[tuple[int, int]]) -> list[tuple[str, str]]:
    """(dataset, linkage id) of the rows named by surrogate key ``(_ingest, _source_row)`` in any kept version.

    Erasure knows rows by surrogate key; linkage names a record by its primary key
    (else its surrogate key), so the ids are read back from the data before the rows go.
    Every version is searched because a person may be confirmed in a version since replaced.
    """
    predicate = delta.key_predicate(rows)
    if not predicate:
        return []
    info = Catalogue(estate).get(dataset)
    id_sql = record_id_sql(DatasetColumns(dataset, {}, _primary_key(info.schema), False))
    found: set[str] = set()
    path = estate.table_path(dataset)
    with duckdb.connect() as con:
        for version in sorted({v.table_version for v in info.versions}):
            try:
                con.register("t", delta.snapshot(path, version))
                found.update(str(r[0]) for r in con.execute(f"SELECT {id_sql} FROM t WHERE {predicate}").fetchall())
            except Exception as exc:
                if interrupted(exc):
                    raise  # Ctrl-C, not a version that cannot be read
                continue
            finally:
                con.unregister("t")
    return [(dataset, i) for i in sorted(found)]


def rows_for_ids(estate: Estate, dataset: str, ids: Iterable[str]) -> set[tuple[int, int]]:
    """Surrogate keys ``(_ingest, _source_row)`` of the current version's records with these linkage ids."""
    wanted = pa.table({"id": sorted({str(i) for i in ids})})
    if not wanted.num_rows:
        return set()
    info = Catalogue(estate).get(dataset)
    id_sql = record_id_sql(DatasetColumns(dataset, {}, _primary_key(info.schema), False))
    current = info.version(None)
    with duckdb.connect() as con:
        con.register("t", delta.snapshot(estate.table_path(dataset), current.table_version))
        con.register("w", wanted)
        rows = con.execute(f"SELECT _ingest, _source_row FROM t WHERE {id_sql} IN (SELECT id FROM w)").fetchall()
    return {(int(i), int(r)) for i, r in rows}


def _primary_key(schema: dict[str, object] | None) -> tuple[str, ...]:
    key = (schema or {}).get("primaryKey") or ()
    return (key,) if isinstance(key, str) else tuple(str(k) for k in key)  # type: ignore[attr-defined]
