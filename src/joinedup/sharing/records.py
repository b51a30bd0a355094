"""Reading a dataset under an agreement: only its fields and rows, pseudonymised, without objectors.

One parameterised DuckDB query does the work over the dataset's current Delta
version: the agreement's row filters and the caller's equality filters,
pseudonymised fields as HMACs under the agreement's key, and a flag on every
row of a person with an objection covering the agreement's purpose (by their
NHS or NI number, hashed as the objections register keeps them, and by any
linkage person key shared with such a record anywhere in the estate). Flagged
rows are counted and dropped; their values never leave DuckDB.

Nothing here writes the audit entry: each result carries the keyword arguments
of :func:`joinedup.audit.record_now` for it (``entry``), and the caller commits
that entry before it hands the data over.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from joinedup.audit import Subject
from joinedup.audit.subjects import estate_secret
from joinedup.estate import Catalogue, Estate
from joinedup.estate.catalogue import DatasetInfo, VersionInfo
from joinedup.linkage import store as linkage_store
from joinedup.linkage.columns import DatasetColumns
from joinedup.linkage.prepare import record_id_sql
from joinedup.sharing import keys, views
from joinedup.sharing.agreements import Agreement, DatasetTerms
from joinedup.sharing.clients import Client
from joinedup.sharing.errors import AgreementNotLive, BadRequest, FilterNotPermitted, NotFound, NotPermitted
from joinedup.sharing.names import snake
from joinedup.sharing.objections import KINDS, objector_hashes, register_version
from joinedup.storage import delta
from joinedup.storage.duck import lock_down, quote_identifier, quote_literal

#: The audit action of a read through the API, and of an extract.
READ_ACTION = "sharing.read"
EXPORT_ACTION = "sharing.export"
#: The most records one read returns (the API's page_limit_max may be set up to this).
MAX_LIMIT = 10_000
#: Past this many people an extract's entry names the dataset version instead of every person
#: (who-accessed then answers from the dataset version: an upper bound).
MAX_SUBJECTS = 100_000
_IDENTIFIER_TYPES = ("nhs_number", "ni_number")


@dataclass(frozen=True)
class SharedDataset:
    name: str
    title: str | None
    description: str | None
    #: (name as the API shows it, type, pseudonymised)
    fields: list[tuple[str, str, bool]]
    version: int | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "version": self.version,
            "fields": [{"name": n, "type": t, "pseudonymised": p} for n, t, p in self.fields],
        }


@dataclass
class RecordPage:
    records: list[dict[str, Any]]
    next_cursor: str | None
    excluded: int
    #: Keyword arguments of ``joinedup.audit.record_now(estate, **entry)`` for this read.
    entry: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _Column:
    out: str
    name: str
    type: str
    pseudonymised: bool


class _Plan:
    """What one read under an agreement selects from one dataset version."""

    def __init__(self, estate: Estate, agreement: Agreement, dataset: str) -> None:
        terms = agreement.terms(dataset)
        if terms is None:
            raise NotPermitted(f"dataset {dataset!r} is not shared under agreement {agreement.id}")
        info = Catalogue(estate).find(dataset)
        if info is None or info.current is None or info.schema is None:
            raise NotFound(f"dataset {dataset!r} has no data yet")
        self.estate = estate
        self.agreement = agreement
        self.terms: DatasetTerms = terms
        self.info: DatasetInfo = info
        self.version: VersionInfo = info.current
        self.specs = {str(f["name"]): f for f in info.schema.get("fields", [])}
        self.columns = [
            _Column(snake(n), n, str(self.specs[n].get("type", "string")), n in terms.pseudonymised)
            for n in terms.fields
            if n in self.specs
        ]
        self.key = keys.agreement_key(estate, agreement.id)
        key_names = info.schema.get("primaryKey") or ()
        key_names = (key_names,) if isinstance(key_names, str) else tuple(str(k) for k in key_names)
        self.lid_sql = record_id_sql(DatasetColumns(dataset, {}, key_names, False))
        self.identifiers = [
            (n, str(f.get("type"))) for n, f in self.specs.items() if f.get("type") in _IDENTIFIER_TYPES
        ]

    @property
    def dataset(self) -> str:
        return self.info.name

    def binding(self, filters: Mapping[str, str]) -> dict[str, Any]:
        return {
            "agreement": self.agreement.id,
            "dataset": self.dataset,
            "version": self.version.number,
            "filters": dict(sorted(filters.items())),
        }

    def output_sql(self, column: _Column) -> str:
        c = quote_identifier(column.name)
        if column.pseudonymised:
            message = f"{quote_literal(column.name + ':')} || CAST({c} AS VARCHAR)"
            return f"CASE WHEN {c} IS NULL THEN NULL ELSE {keys.hmac_sql(message, 'pi', 'po')} END"
        if column.type == "date":
            return f"strftime({c}, '%Y-%m-%d')"
        if column.type == "datetime":
            return f"strftime({c}, '%Y-%m-%dT%H:%M:%SZ')"
        return c

    def filter_sql(self, filters: Mapping[str, str], params: dict[str, Any]) -> str:
        by_out = {c.out: c for c in self.columns}
        refused = sorted(name for name in filters if name not in by_out)
        if refused:
            known = {snake(n) for n in self.specs}
            raise FilterNotPermitted(
                f"filter {refused[0]!r}: not a field agreement {self.agreement.id} shares from {self.dataset!r}",
                tuple(sorted({name if name in known else "?" for name in refused})),
            )
        parts = []
        for index, (name, value) in enumerate(sorted(filters.items())):
            column = by_out[name]
            if not isinstance(value, str):
                raise BadRequest(f"filter {name!r}: expected one value")
            params[f"f{index}"] = value
            if column.pseudonymised or column.type in ("date", "datetime"):
                parts.append(f"({self.output_sql(column)}) = $f{index}")
            else:
                parts.append(f"{quote_identifier(column.name)} = $f{index}")
        return " AND ".join(parts) or "TRUE"

    def objecting_sql(self, con: duckdb.DuckDBPyConnection, params: dict[str, Any]) -> str:
        """SQL true on rows of people objecting to this agreement's purpose (registers the linked ids it needs)."""
        hashes = objector_hashes(self.estate, self.agreement.purpose_category)
        if not hashes:
            return "FALSE"
        tests = []
        for name, kind in self.identifiers:
            if kind in hashes:
                params[f"oh_{kind}"] = hashes[kind]
                message = f"{quote_literal(kind + ':')} || CAST({quote_identifier(name)} AS VARCHAR)"
                tests.append(f"{keys.hmac_sql(message, 'ei', 'eo')} IN (SELECT unnest($oh_{kind}))")
        linked = objecting_records(self.estate, self.agreement.purpose_category).get(self.dataset)
        if linked:
            con.register("jd_objecting", pa.table({"id": pa.array(sorted(linked), pa.string())}))
            tests.append(f"({self.lid_sql}) IN (SELECT id FROM jd_objecting)")
        return " OR ".join(f"coalesce({t}, FALSE)" for t in tests) or "FALSE"

    def select_sql(self, con: duckdb.DuckDBPyConnection, where: str, params: dict[str, Any]) -> str:
        mine = keys.hmac_pads(self.key)
        pads = keys.hmac_pads(estate_secret(self.estate))
        params.update({"pi": mine["ipad"], "po": mine["opad"]})
        params.update({"ei": pads["ipad"], "eo": pads["opad"]})
        rows_sql, rows_params = self.terms.filter_sql()
        params.update(rows_params)
        outs = [f"{self.output_sql(c)} AS {quote_identifier(c.out)}" for c in self.columns]
        inner = [
            "_ingest AS __jd_i",
            "_source_row AS __jd_r",
            f"({self.lid_sql}) AS __jd_lid",
            *(f"CAST({quote_identifier(n)} AS VARCHAR) AS __jd_s_{k}_{i}" for i, (n, k) in enumerate(self.identifiers)),
            f"({self.objecting_sql(con, params)}) AS __jd_obj",
        ]
        return f"SELECT {', '.join([*outs, *inner])} FROM t WHERE ({rows_sql}) AND ({where})"

    def ids(self, table: pa.Table) -> pa.Array:
        """Each row's record id under this agreement: its surrogate key, encrypted (one AES block per row)."""
        ingest = table.column("__jd_i").to_numpy().astype("<u8")
        rows = table.column("__jd_r").to_numpy().astype("<u8")
        plain = np.column_stack([ingest, rows]).astype("<u8").tobytes()
        cipher = np.frombuffer(keys.encrypt_ids(self.key, self.dataset, plain), dtype="<u8").reshape(-1, 2)
        return pa.array([f"{hi:016x}{lo:016x}" for hi, lo in cipher.tolist()], pa.string())

    def records_table(self, table: pa.Table) -> pa.Table:
        """The rows as they leave: permitted fields (pseudonymised where agreed) and the record id."""
        return table.select([c.out for c in self.columns]).append_column("id", self.ids(table))

    def records(self, table: pa.Table) -> list[dict[str, Any]]:
        return list(self.records_table(table).to_pylist())

    def subjects(self, con: duckdb.DuckDBPyConnection, table: pa.Table) -> list[Subject]:
        """Everyone the rows are about: their identifiers, and the linkage person keys of their records."""
        found: set[tuple[str, str]] = set()
        for index, (_, kind) in enumerate(self.identifiers):
            column = f"__jd_s_{kind}_{index}"
            found.update((kind, v) for v in pc_unique(table.column(column)) if v)
        person_keys = _keys_table(self.estate)
        if person_keys is not None and table.num_rows:
            con.register("jd_keys", person_keys)
            con.register("jd_lids", table.select(["__jd_lid"]))
            rows = con.execute(
                "SELECT DISTINCT key FROM jd_keys WHERE dataset = $d AND id IN (SELECT __jd_lid FROM jd_lids)",
                {"d": self.dataset},
            ).fetchall()
            found.update(("person_key", str(k)) for (k,) in rows)
        return [Subject(k, v) for k, v in sorted(found)]

    def entry(
        self, client_principal: str, action: str, table: pa.Table, subjects: list[Subject], excluded: int, **detail: Any
    ) -> dict[str, Any]:
        return {
            "principal": client_principal,
            "action": action,
            "purpose": self.agreement.audit_purpose,
            "dataset": self.dataset,
            "dataset_version": self.version.number,
            "columns": [c.out for c in self.columns] + ["id"],
            "row_count": table.num_rows,
            "subjects": subjects,
            "detail": {
                "agreement": self.agreement.id,
                "purpose_category": self.agreement.purpose_category,
                "excluded": excluded,
                **detail,
            },
        }


def pc_unique(column: pa.ChunkedArray) -> list[Any]:
    return [v for v in column.unique().to_pylist() if v is not None]


#: One locked in-memory DuckDB per estate, shared by every read: each read takes a cursor of its own (its own
#: registered views), which costs microseconds where a new database costs about 10 ms.
_databases: dict[str, duckdb.DuckDBPyConnection] = {}
#: Open Delta versions (immutable once committed), most recently used last.
_snapshots: dict[tuple[str, int, int, int], Any] = {}
_SNAPSHOTS = 32


def _database(estate: Estate) -> duckdb.DuckDBPyConnection:
    name = os.fspath(estate.root)
    with _cache_lock:
        found = _databases.get(name)
        if found is None:
            found = duckdb.connect(":memory:")
            scratch = estate.tmp_dir / "sharing"
            scratch.mkdir(parents=True, exist_ok=True)
            found.execute(f"SET memory_limit = '{_plain_setting(estate.config.memory_limit)}'")
            found.execute(f"SET temp_directory = '{_plain_setting(os.fspath(scratch))}'")
            found.execute("SET GLOBAL TimeZone = 'UTC'")
            # Reads only what each cursor registers: no files, no extensions, settings fixed.
            lock_down(found)
            _databases[name] = found
        return found


def _plain_setting(value: str) -> str:
    if "'" in value:
        raise ValueError(f"invalid DuckDB setting value {value!r}")
    return value


def _snapshot(estate: Estate, dataset: str, version: int) -> Any:
    path = estate.table_path(dataset)
    # The log folder's stamp too: a table rewritten by erasure reuses version numbers with new files.
    log = os.stat(path / "_delta_log")
    key = (os.fspath(path), version, log.st_ino, log.st_mtime_ns)
    with _cache_lock:
        found = _snapshots.pop(key, None)
    if found is None:
        found = delta.snapshot(estate.table_path(dataset), version)
    with _cache_lock:
        _snapshots[key] = found
        while len(_snapshots) > _SNAPSHOTS:
            _snapshots.pop(next(iter(_snapshots)))
    return found


@contextmanager
def cursor(estate: Estate) -> Iterator[duckdb.DuckDBPyConnection]:
    """A cursor of the estate's shared, locked DuckDB: it sees only what is registered on it."""
    con = _database(estate).cursor()
    try:
        yield con
    finally:
        con.close()


@contextmanager
def _connection(estate: Estate, plan: _Plan) -> Iterator[duckdb.DuckDBPyConnection]:
    with cursor(estate) as con:
        con.register("t", _snapshot(estate, plan.dataset, plan.version.table_version))
        yield con


def shared_datasets(estate: Estate, agreement: Agreement) -> list[SharedDataset]:
    """The datasets the agreement shares, with the fields it allows from each as the API names them."""
    found = []
    catalogue = Catalogue(estate)
    for terms in agreement.datasets:
        info = catalogue.find(terms.name)
        specs = {str(f["name"]): f for f in ((info.schema if info else None) or {}).get("fields", [])}
        fields = [
            (snake(n), str(specs[n].get("type", "string")), n in terms.pseudonymised)
            for n in terms.fields
            if n in specs
        ]
        current = info.current if info else None
        found.append(
            SharedDataset(
                terms.name, info.title if info else None, info.description if info else None, fields,
                current.number if current else None,
            )
        )  # fmt: skip
    return found


def _check_client(client: Client, agreement: Agreement) -> None:
    if client.agreement_id != agreement.id:
        raise NotPermitted(f"client {client.name} reads under agreement {client.agreement_id}, not {agreement.id}")


def read_records(
    estate: Estate,
    *,
    client: Client,
    agreement: Agreement,
    dataset: str,
    filters: Mapping[str, str],
    cursor: str | None,
    limit: int,
) -> RecordPage:
    """One page of the dataset's records as the agreement allows them (see the module's docstring)."""
    _check_client(client, agreement)
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIMIT:
        raise BadRequest(f"limit: expected a whole number from 1 to {MAX_LIMIT}")
    plan = _Plan(estate, agreement, dataset)
    binding = plan.binding(filters)
    params: dict[str, Any] = {}
    where = plan.filter_sql(filters, params)
    if cursor is not None:
        after = keys.read_cursor(plan.key, binding, cursor)
        params.update({"ci": after[0], "cr": after[1]})
        where += " AND (_ingest > $ci OR (_ingest = $ci AND _source_row > $cr))"
    params["lim"] = limit
    with _connection(estate, plan) as con:
        select = plan.select_sql(con, where, params)
        sql = f"""
            WITH s AS ({select}),
            w AS (SELECT *, sum(CASE WHEN __jd_obj THEN 0 ELSE 1 END)
                            OVER (ORDER BY __jd_i, __jd_r ROWS UNBOUNDED PRECEDING) AS __jd_n FROM s)
            SELECT * FROM w WHERE __jd_n <= $lim + 1 ORDER BY __jd_i, __jd_r"""
        window = _run(con, sql, params)
        kept = window.filter(pc.invert(window.column("__jd_obj")))
        more = kept.num_rows > limit
        page = kept.slice(0, limit)
        objecting = window.filter(window.column("__jd_obj"))
        if more:
            objecting = objecting.filter(pc.less(objecting.column("__jd_n"), limit))
        excluded = objecting.num_rows
        subjects = plan.subjects(con, page)
    next_cursor = None
    if more and page.num_rows:
        last = [int(page.column("__jd_i")[-1].as_py()), int(page.column("__jd_r")[-1].as_py())]
        next_cursor = keys.sign_cursor(plan.key, binding, last)
    entry = plan.entry(
        client.principal, READ_ACTION, page, subjects, excluded,
        client=client.id, filters=sorted(filters), page="next" if cursor else "first",
    )  # fmt: skip
    return RecordPage(plan.records(page), next_cursor, excluded, entry)


def read_record(estate: Estate, *, client: Client, agreement: Agreement, dataset: str, record_id: str) -> RecordPage:
    """The one record with this id under the agreement; :class:`NotFound` otherwise (an objector's too).

    Answered from the agreement's materialised view of the dataset version when
    it can be held (:mod:`joinedup.sharing.views`), else with a query of its own.
    """
    _check_record_read(estate, client, agreement, dataset)
    found = _from_view(estate, client, agreement, dataset, record_id, build=True)
    if found is not None:
        return found
    plan = _Plan(estate, agreement, dataset)
    surrogate = keys.decode_record_id(plan.key, plan.dataset, record_id)
    if surrogate is None:
        raise NotFound(f"no record {record_id!r} in {dataset!r} under agreement {agreement.id}")
    params: dict[str, Any] = {"ci": surrogate[0], "cr": surrogate[1]}
    with _connection(estate, plan) as con:
        select = plan.select_sql(con, "_ingest = $ci AND _source_row = $cr", params)
        found = _run(con, select, params)
        excluded = int(sum(found.column("__jd_obj").to_pylist()))
        page = found.filter(pc.invert(found.column("__jd_obj")))
        if not page.num_rows:
            raise NotFound(f"no record {record_id!r} in {dataset!r} under agreement {agreement.id}")
        subjects = plan.subjects(con, page)
    entry = plan.entry(client.principal, READ_ACTION, page, subjects, excluded, client=client.id, record=True)
    return RecordPage(plan.records(page), None, excluded, entry)


def read_held_record(
    estate: Estate, *, client: Client, agreement: Agreement, dataset: str, record_id: str
) -> RecordPage | None:
    """:func:`read_record` when the agreement's current view is already held (no query of the dataset, no build).

    None when answering needs more (a view to build, a query): then call :func:`read_record`.
    """
    _check_record_read(estate, client, agreement, dataset)
    return _from_view(estate, client, agreement, dataset, record_id, build=False)


def _check_record_read(estate: Estate, client: Client, agreement: Agreement, dataset: str) -> None:
    _check_client(client, agreement)
    status = agreement.status()
    if status != "live":
        views.VIEWS.forget(os.fspath(estate.root), agreement.id)
        raise AgreementNotLive(f"agreement {agreement.id} is {status}; no data is shared under it")
    if agreement.terms(dataset) is None:
        raise NotPermitted(f"dataset {dataset!r} is not shared under agreement {agreement.id}")


def _from_view(
    estate: Estate, client: Client, agreement: Agreement, dataset: str, record_id: str, *, build: bool
) -> RecordPage | None:
    """The record from the agreement's view of the current version; None when no view is (or can be) held."""
    limit = views.row_limit(estate)
    key = views.stamp(estate, agreement, dataset) if limit else None
    if key is None:
        return None
    view = views.VIEWS.get(key)
    if view is None and not build:
        return None
    if view is None:
        with views.VIEWS.builder(key):
            view = views.VIEWS.get(key)
            if view is None:
                plan = _Plan(estate, agreement, dataset)
                if plan.version.rows_total > limit:
                    views.VIEWS.done(key)
                    return None
                try:
                    view = _materialise(estate, plan)
                except BaseException:
                    views.VIEWS.done(key)
                    raise
                views.VIEWS.put(key, view, limit)
    index = views.decode(view, record_id)
    if index is None:
        raise NotFound(f"no record {record_id!r} in {dataset!r} under agreement {agreement.id}")
    plan = view.plan
    row = view.records.slice(index, 1)
    entry = plan.entry(client.principal, READ_ACTION, row, view.subjects(index), 0, client=client.id, record=True)
    return RecordPage([view.record(index)], None, 0, entry)


def _materialise(estate: Estate, plan: _Plan) -> views.View:
    """Everything the agreement may see of the version, objectors' rows dropped: one set-based query."""
    params: dict[str, Any] = {}
    with _connection(estate, plan) as con:
        select = plan.select_sql(con, "TRUE", params)
        table = _run(con, f"SELECT * FROM ({select}) WHERE NOT __jd_obj ORDER BY __jd_i, __jd_r", params)
        person_keys = _keys_table(estate)
        linked: pa.ChunkedArray | None = None
        if person_keys is not None:
            con.register("jd_keys", person_keys)
            con.register("jd_lids", pa.table({"lid": table.column("__jd_lid"), "n": pa.array(range(table.num_rows))}))
            linked = _run(
                con,
                """SELECT l.n, list(DISTINCT CAST(k.key AS VARCHAR)) FILTER (WHERE k.key IS NOT NULL) AS keys
                   FROM jd_lids l LEFT JOIN jd_keys k ON k.dataset = $d AND k.id = l.lid
                   GROUP BY l.n ORDER BY l.n""",
                {"d": plan.dataset},
            ).column("keys")
    identifiers = [(kind, table.column(f"__jd_s_{kind}_{i}")) for i, (_, kind) in enumerate(plan.identifiers)]
    return views.View(
        plan=plan,
        records=plan.records_table(table).combine_chunks(),
        ingest=table.column("__jd_i").to_numpy().astype(np.int64),
        rows=table.column("__jd_r").to_numpy().astype(np.int64),
        identifiers=identifiers,
        person_keys=linked,
    )


def _run(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any]) -> pa.Table:
    # DuckDB refuses parameters the statement does not use (no pseudonymised field, no objection).
    used = {name: value for name, value in params.items() if re.search(rf"\${name}\b", sql)}
    try:
        return con.sql(sql, params=used).to_arrow_table()
    except duckdb.ConversionException:
        # DuckDB's message quotes the value: the filter's name is all the caller needs.
        raise BadRequest("a filter value does not fit its field's type") from None


def select_all(estate: Estate, agreement: Agreement, dataset: str) -> tuple[_Plan, pa.Table, int]:
    """Every permitted row for an extract: (plan, internal table, excluded count)."""
    plan = _Plan(estate, agreement, dataset)
    params: dict[str, Any] = {}
    with _connection(estate, plan) as con:
        select = plan.select_sql(con, "TRUE", params)
        table = _run(con, f"SELECT * FROM ({select}) ORDER BY __jd_i, __jd_r", params)
    objecting = table.column("__jd_obj")
    excluded = int(pc.sum(objecting).as_py() or 0)
    return plan, table.filter(pc.invert(objecting)), excluded


# -- who objects, found through linkage ---------------------------------------

_cache_lock = threading.Lock()
_objecting_cache: dict[tuple[Any, ...], dict[str, set[str]]] = {}
_keys_cache: dict[str, tuple[tuple[int, int], pa.Table]] = {}


def _keys_table(estate: Estate) -> pa.Table | None:
    """Linkage's person keys (dataset, id, key), read again only when linkage rewrites them."""
    path = linkage_store.keys_path(estate, "person")
    try:
        info = os.stat(path / "_delta_log")
    except FileNotFoundError:
        return None
    stamp = (info.st_ino, info.st_mtime_ns)
    name = os.fspath(path)
    with _cache_lock:
        cached = _keys_cache.get(name)
    if cached is None or cached[0] != stamp:
        table = linkage_store.read(path)
        if table is None:
            return None
        cached = (stamp, table.select(["dataset", "id", "key"]))
        with _cache_lock:
            _keys_cache[name] = cached
    return cached[1]


def objecting_records(estate: Estate, purpose_category: str) -> dict[str, set[str]]:
    """``{dataset: {linkage id}}`` of every record sharing a person key with a record of an objector.

    Objectors are found by identifier in every dataset's current version, then
    their person keys, then every record carrying one of those keys. Cached until
    the register, a dataset or the keys change.
    """
    person_keys = _keys_table(estate)
    if person_keys is None:
        return {}
    hashes = objector_hashes(estate, purpose_category)
    if not hashes:
        return {}
    catalogue = Catalogue(estate).datasets()
    fingerprint = (
        os.fspath(estate.root), purpose_category, register_version(estate),
        tuple((d.name, d.current.table_version if d.current else None) for d in catalogue),
        _keys_cache.get(os.fspath(linkage_store.keys_path(estate, "person")), ((0, 0), None))[0],
    )  # fmt: skip
    with _cache_lock:
        if fingerprint in _objecting_cache:
            return _objecting_cache[fingerprint]
    pads = keys.hmac_pads(estate_secret(estate))
    found_ids: list[tuple[str, str]] = []
    with cursor(estate) as con:
        for info in catalogue:
            fields = (info.schema or {}).get("fields", [])
            idents = [
                (str(f["name"]), str(f["type"])) for f in fields if f.get("type") in KINDS and f["type"] in hashes
            ]
            if not idents or info.current is None:
                continue
            key_names = (info.schema or {}).get("primaryKey") or ()
            key_names = (key_names,) if isinstance(key_names, str) else tuple(str(k) for k in key_names)
            lid = record_id_sql(DatasetColumns(info.name, {}, key_names, False))
            tests = []
            params: dict[str, Any] = {"ei": pads["ipad"], "eo": pads["opad"]}
            for name, kind in idents:
                params[f"oh_{kind}"] = hashes[kind]
                message = f"{quote_literal(kind + ':')} || CAST({quote_identifier(name)} AS VARCHAR)"
                tests.append(f"coalesce({keys.hmac_sql(message, 'ei', 'eo')} IN (SELECT unnest($oh_{kind})), FALSE)")
            con.register("t", _snapshot(estate, info.name, info.current.table_version))
            rows = con.execute(f"SELECT DISTINCT {lid} FROM t WHERE {' OR '.join(tests)}", params).fetchall()
            con.unregister("t")
            found_ids += [(info.name, str(r[0])) for r in rows]
        con.register("k", person_keys)
        con.register("o", pa.table({"dataset": [d for d, _ in found_ids], "id": [i for _, i in found_ids]},
                                    schema=pa.schema([("dataset", pa.string()), ("id", pa.string())])))  # fmt: skip
        linked = con.execute(
            """SELECT DISTINCT k2.dataset, k2.id FROM k k1 JOIN o ON k1.dataset = o.dataset AND k1.id = o.id
               JOIN k k2 ON k2.key = k1.key"""
        ).fetchall()
    result: dict[str, set[str]] = {}
    for dataset, ident in linked:
        result.setdefault(str(dataset), set()).add(str(ident))
    with _cache_lock:
        _objecting_cache.clear()
        _objecting_cache[fingerprint] = result
    return result
