"""``link``: deduplicate within and link across datasets, cluster, and give every record a persistent key.

The steps, all in one DuckDB connection: prepare each dataset's records
(:mod:`prepare`), score candidate pairs with Splink (:mod:`engine`), keep
accepted pairs (threshold, household guard, review decisions, one-to-one
between datasets holding one record per entity), connect them into clusters,
carry earlier keys over by overlap (:mod:`keys`), then store pairs and keys and
commit the run, its model, its key history and its audit entry together.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import sqlalchemy as sa

from joinedup.access import authorize
from joinedup.audit import record
from joinedup.errors import EstateError, InputError, NotFoundError
from joinedup.estate import Catalogue, Estate
from joinedup.estate.db import now
from joinedup.linkage import engine, keys, model, names, prepare, store
from joinedup.linkage.columns import ENTITIES, DatasetColumns, check_settings, comparable, map_columns
from joinedup.storage import delta
from joinedup.storage.csv_export import write_csv
from joinedup.storage.duck import connect, quote_literal
from joinedup.storage.duck import quote_identifier as q

DEFAULT_THRESHOLD = 0.9
_HOUSEHOLD = "household: names or dates of birth differ"
#: Pairs from here up to the threshold are offered for clerical review.
REVIEW_FROM = 0.5
#: Incremental only when at most this share of records is new or changed; beyond it a full run is as quick.
_INCREMENTAL_UP_TO = 0.2


@dataclass
class LinkResult:
    run_id: int
    entity: str
    datasets: dict[str, int]
    records: int
    pairs_scored: int
    pairs_accepted: int
    clusters: int
    across: int
    keys_kept: int
    keys_new: int
    merges: int
    splits: int
    review: int
    incremental: bool
    changed: int
    seconds: float
    roles: list[str] = field(default_factory=list)
    #: Seconds per step (prepare, changes, score, accept, cluster, keys, store), to see where time goes.
    stages: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def link(
    estate: Estate,
    datasets: Sequence[str],
    *,
    principal: str,
    entity: str = "person",
    threshold: float = DEFAULT_THRESHOLD,
    one_per_entity: Sequence[str] = (),
    settings: Mapping[str, Any] | None = None,
    purpose: str | None = None,
    out: Path | None = None,
    full: bool = False,
    say: Callable[[str], None] = lambda _: None,
) -> LinkResult:
    """Link ``datasets`` for ``entity`` and store the pairs, clusters and keys (see the module's docstring).

    One run per entity at a time (:func:`store.lock`): a second is refused with :class:`BusyError`.
    """
    if entity not in ENTITIES:
        raise InputError(f"link: entity {entity!r}: expected one of {', '.join(ENTITIES)}")
    with store.lock(estate, entity):
        return _link(estate, datasets, principal, entity, threshold, one_per_entity, settings, purpose, out, full, say)


def _link(
    estate: Estate,
    datasets: Sequence[str],
    principal: str,
    entity: str,
    threshold: float,
    one_per_entity: Sequence[str],
    settings: Mapping[str, Any] | None,
    purpose: str | None,
    out: Path | None,
    full: bool,
    say: Callable[[str], None],
) -> LinkResult:
    started = time.perf_counter()
    chosen = _check_arguments(estate, datasets, entity, threshold, one_per_entity)
    check_settings(settings or {}, chosen, entity)
    for name in chosen:
        authorize(estate, principal, "linkage.run", dataset=name, purpose=purpose)
    catalogue = Catalogue(estate)
    infos = {name: catalogue.get(name) for name in chosen}
    versions = {name: info.version(None).number for name, info in infos.items()}
    per_dataset = dict((settings or {}).get("datasets", {}))
    mappings = []
    for name, info in infos.items():
        override = dict(per_dataset.get(name, {}))
        if name in one_per_entity:
            override["one_per_entity"] = True
        mappings.append(map_columns(name, info.schema or {}, entity, override))
    roles = comparable(mappings, entity)
    _check_roles(roles, entity, chosen)
    if out is not None:
        _check_out(out, estate)
    last = _last_run(estate, entity)
    if last is not None and not store.written(store.keys_path(estate, entity)):
        # Going on would give every record a new key: persistence broken without a word, unless asked for.
        if not full:
            raise EstateError(
                f"link: the {entity} keys of the last run are missing from the estate (linkage/{entity}/keys); "
                "restore the estate folder from a backup, or run with --full to give every record a new key"
            )
        say(f"the {entity} keys of the last run are missing: every record gets a new key")
    stages: dict[str, float] = {}
    with connect(
        memory_limit=estate.config.memory_limit, threads=estate.config.threads, temp_dir=estate.tmp_dir, macros=()
    ) as con:
        names.register(con)
        variants = bool((settings or {}).get("name_variants", True))
        tables = {n: infos[n].version(None).table_version for n in chosen}
        frames = _prepare(estate, con, mappings, roles, tables, variants)
        stages["prepare"] = _lap(started, stages)
        saved = _saved_model(estate, entity, roles)
        same = last == (set(chosen), variants)
        incremental, changed = _changes(estate, con, entity, frames, saved is not None and same and not full)
        stages["changes"] = _lap(started, stages)
        say(f"scoring {'changed records' if incremental else 'all records'}")
        scored = engine.score(con, frames, roles, saved_model=saved if incremental else None, only_changed=incremental)
        stages["score"] = _lap(started, stages)
        single = sorted(m.dataset for m in mappings if m.one_per_entity)
        # The last run's statuses tell the household guard's verdict on kept pairs only under the same constraints.
        reuse_guard = incremental and _last_single(estate, entity) == single
        _collect_pairs(estate, con, entity, scored.pairs, frames, roles, incremental, reuse_guard)
        pairs_scored = _count(con, "jd_pairs")
        _accept(estate, con, entity, roles, threshold, single)
        stages["accept"] = _lap(started, stages)
        say("clustering")
        if incremental:
            _affected(con, chosen)
        _cluster(con, "(SELECT rid FROM jd_affected)" if incremental else "jd_records")
        stages["cluster"] = _lap(started, stages)
        outcome = keys.assign(con, estate, entity)
        if incremental:
            outcome.kept += _keep_unaffected_keys(con)
        stages["keys"] = _lap(started, stages)
        summary = _summary(con)
        result = _store(
            estate, con, principal, purpose, entity, versions, threshold, roles, scored.model, outcome, incremental,
            variants, summary, single, written_out=out is not None, columns={m.dataset: m.columns for m in mappings},
        )  # fmt: skip
        stages["store"] = _lap(started, stages)
        if out is not None:
            _write_out(con, out, entity)
    return LinkResult(
        run_id=result, entity=entity, datasets=versions, records=summary["records"], pairs_scored=pairs_scored,
        pairs_accepted=summary["accepted"], clusters=summary["clusters"], across=summary["across"],
        keys_kept=outcome.kept, keys_new=outcome.new, merges=len(outcome.merges), splits=len(outcome.splits),
        review=summary["review"], incremental=incremental, changed=changed,
        seconds=round(time.perf_counter() - started, 3), roles=list(roles), stages=stages,
    )  # fmt: skip


def _lap(started: float, stages: Mapping[str, float]) -> float:
    """Seconds since the last stage ended (or since ``started``)."""
    return round(time.perf_counter() - started - sum(stages.values()), 3)


def _check_arguments(
    estate: Estate, datasets: Sequence[str], entity: str, threshold: float, one_per_entity: Sequence[str]
) -> list[str]:
    if entity not in ENTITIES:
        raise InputError(f"link: entity {entity!r}: expected one of {', '.join(ENTITIES)}")
    if not 0.0 < threshold <= 1.0 or threshold != threshold:
        raise InputError(f"link: threshold {threshold}: expected a probability above 0 and at most 1")
    chosen = list(dict.fromkeys(datasets))
    if not chosen:
        raise InputError("link: name at least one dataset (--dataset/-d)")
    catalogue = Catalogue(estate)
    for name in chosen:
        info = catalogue.find(name)
        if info is None:
            raise NotFoundError(f"link: no dataset {name!r} in estate {estate.config.name!r}")
        if info.current is None:
            raise NotFoundError(f"link: dataset {name!r} has no versions yet; ingest it first")
    for name in one_per_entity:
        if name not in chosen:
            raise InputError(f"link: --one-per-entity {name!r} is not one of the datasets being linked")
    return chosen


def _check_roles(roles: Sequence[str], entity: str, datasets: Sequence[str]) -> None:
    needed = {"person": ("given_name", "family_name"), "business": ("business_name",)}[entity]
    identifiers = {"nhs_number", "ni_number", "national_id", "company_number", "vat_number"}
    if not (set(needed) <= set(roles) or identifiers & set(roles)):
        found = ", ".join(roles) or "none"
        raise InputError(
            f"link: datasets {', '.join(datasets)} have no comparable {entity} columns in common "
            f"(need {' and '.join(needed)} or an identifier; shared: {found}); "
            "name them in a settings file (--settings)"
        )


def _check_out(out: Path, estate: Estate) -> None:
    """Everything that would stop pairs.csv and clusters.csv being written, found before the run, not after."""
    target = out.resolve()
    if estate.contains(out):
        raise InputError(f"link: --out {out}: is inside the estate; write outside the estate folder")
    if target.exists() and not target.is_dir():
        raise InputError(f"link: --out {out}: exists and is not a folder")
    existing = target
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise InputError(f"link: --out {out}: {existing} is a file, not a folder")


def _prepare(
    estate: Estate,
    con: duckdb.DuckDBPyConnection,
    mappings: Sequence[DatasetColumns],
    roles: Sequence[str],
    table_versions: Mapping[str, int],
    variants: bool,
) -> list[str]:
    frames = []
    salt = _salt(estate)
    digest = " || '|' || ".join(f"coalesce(CAST({q(r)} AS VARCHAR), '')" for r in roles)
    for i, columns in enumerate(mappings):
        source = f"jd_src_{i}"
        con.register(source, delta.snapshot(estate.table_path(columns.dataset), table_versions[columns.dataset]))
        frame = f"jd_frame_{i}"
        select = prepare.frame_sql(columns, roles, source, variants=variants)
        con.execute(
            f"CREATE TABLE {frame} AS SELECT *, sha256({salt} || {digest}) AS digest, "
            f"source_dataset || ':' || unique_id AS rid FROM ({select})"
        )
        con.unregister(source)
        frames.append(frame)
    return frames


def _saved_model(estate: Estate, entity: str, roles: Sequence[str]) -> dict[str, Any] | None:
    with estate.engine.connect() as c:
        row = c.execute(
            sa.select(store.models.c.roles, store.models.c.model)
            .where(store.models.c.entity == entity)
            .order_by(store.models.c.id.desc())
            .limit(1)
        ).first()
    if row is None or list(row.roles) != list(roles):
        return None
    return dict(row.model)


def _last_run(estate: Estate, entity: str) -> tuple[set[str], bool] | None:
    """What the last run for ``entity`` linked, and whether with name variants: an incremental run must match both.

    Otherwise the model, the kept pairs and the value frequencies describe other records (a dataset added
    or dropped) or other comparisons, and the result would not be the one a full run gives.
    """
    r = store.runs.c
    with estate.engine.connect() as c:
        row = c.execute(
            sa.select(r.datasets, r.summary).where(r.entity == entity).order_by(r.id.desc()).limit(1)
        ).first()
    if row is None:
        return None
    return set(row.datasets), bool((row.summary or {}).get("name_variants", True))


def _last_single(estate: Estate, entity: str) -> list[str] | None:
    """The datasets the last run for ``entity`` held to one record per entity (None when it did not say)."""
    r = store.runs.c
    with estate.engine.connect() as c:
        row = c.execute(sa.select(r.summary).where(r.entity == entity).order_by(r.id.desc()).limit(1)).first()
    single = (row.summary or {}).get("one_per_entity") if row is not None else None
    return sorted(single) if isinstance(single, list) else None


def _changes(
    estate: Estate, con: duckdb.DuckDBPyConnection, entity: str, frames: Sequence[str], allowed: bool
) -> tuple[bool, int]:
    """Mark each record ``changed`` (new, or its compared values differ from the last run); incremental or not."""
    previous = store.read(store.keys_path(estate, entity))
    if previous is None:
        previous = pa.table({n: pa.array([], pa.string()) for n in ("rid", "key", "digest")})
    con.register("jd_prev_keys_arrow", previous)
    con.execute("CREATE TABLE jd_prev_keys AS SELECT * FROM jd_prev_keys_arrow")
    con.unregister("jd_prev_keys_arrow")
    for frame in frames:
        con.execute(f"ALTER TABLE {frame} ADD COLUMN changed BOOLEAN")
        con.execute(
            f"UPDATE {frame} f SET changed = NOT EXISTS "
            f"(SELECT 1 FROM jd_prev_keys p WHERE p.rid = f.rid AND p.digest = f.digest)"
        ).fetchall()
    total = sum(_count(con, f) for f in frames)
    changed = sum(_count(con, f, "changed") for f in frames)
    incremental = allowed and previous.num_rows > 0 and changed <= _INCREMENTAL_UP_TO * max(total, 1)
    return incremental, changed


def _count(con: duckdb.DuckDBPyConnection, table: str, where: str = "TRUE") -> int:
    rows = con.execute(f"SELECT count(*) FROM {table} WHERE {where}").fetchall()
    return int(rows[0][0])


def _collect_pairs(
    estate: Estate,
    con: duckdb.DuckDBPyConnection,
    entity: str,
    scored: str,
    frames: Sequence[str],
    roles: Sequence[str],
    incremental: bool,
    reuse_guard: bool,
) -> None:
    """``jd_pairs``: this run's scored pairs, plus (incremental) the last run's pairs between unchanged records.

    ``guard``: the household guard's verdict when known without looking at the records again (see :func:`_accept`).
    """
    weights = [c for c in _columns(con, scored) if c.startswith("mw_")]
    # A view, not a copy: a million prepared records need not be written again.
    con.execute("CREATE VIEW jd_records AS " + " UNION ALL BY NAME ".join(f"SELECT * FROM {f}" for f in frames))
    mw = ", ".join(f"p.{q(c)}" for c in weights)
    # A dedupe of one dataset has no source_dataset columns in Splink's output: the dataset is the only one.
    columns = _columns(con, scored)
    only = con.execute(f"SELECT any_value(source_dataset) FROM {frames[0]}").fetchall()[0][0]
    side_l = "p.source_dataset_l" if "source_dataset_l" in columns else quote_literal(str(only))
    side_r = "p.source_dataset_r" if "source_dataset_r" in columns else quote_literal(str(only))
    con.sql(
        f"""CREATE TABLE jd_pairs AS
        SELECT {side_l} AS dataset_l, p.unique_id_l AS id_l,
               {side_r} AS dataset_r, p.unique_id_r AS id_r,
               p.match_probability, p.match_weight{", " + mw if mw else ""}, CAST(NULL AS BOOLEAN) AS guard
        FROM {scored} p"""
    )
    if not incremental:
        return
    previous = store.read(store.pairs_path(estate, entity))
    if previous is None:
        con.execute("CREATE TABLE jd_prev_accepted AS SELECT dataset_l, id_l, dataset_r, id_r FROM jd_pairs LIMIT 0")
        return
    con.register("jd_prev_pairs_arrow", previous)
    # Which pairs the last run accepted: a kept pair accepted then and not now (or now and not then) reclusters.
    con.execute(
        "CREATE TABLE jd_prev_accepted AS "
        "SELECT dataset_l, id_l, dataset_r, id_r FROM jd_prev_pairs_arrow WHERE accepted"
    )
    # Kept from the last run: pairs whose two records are both still here, unchanged.
    # Between unchanged records under the same constraints, the last status says what the guard said: stopped
    # them, or let them through to the threshold; a reviewed pair's status does not say, so it is looked at again.
    guard = (
        f"CASE WHEN p.status = {quote_literal(_HOUSEHOLD)} THEN FALSE "
        "WHEN p.status IN ('match', 'review', 'non-match', 'not the best match (one record per entity)') THEN TRUE END"
        if reuse_guard
        else "CAST(NULL AS BOOLEAN)"
    )
    con.execute(
        f"""INSERT INTO jd_pairs BY NAME
        SELECT p.* EXCLUDE (accepted, status, pair_id), {guard} AS guard FROM jd_prev_pairs_arrow p
        JOIN jd_records l ON l.rid = p.dataset_l || ':' || p.id_l AND NOT l.changed
        JOIN jd_records r ON r.rid = p.dataset_r || ':' || p.id_r AND NOT r.changed"""
    ).fetchall()
    con.unregister("jd_prev_pairs_arrow")


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    return [str(r[0]) for r in con.execute(f"DESCRIBE {table}").fetchall()]


def _accept(
    estate: Estate,
    con: duckdb.DuckDBPyConnection,
    entity: str,
    roles: Sequence[str],
    threshold: float,
    one_per_entity: Sequence[str],
) -> None:
    """Set each pair's ``status``: review decisions first, then threshold, household guard and one-to-one."""
    decisions = _decisions(estate, entity)
    salt = _salt(estate)
    con.register("jd_decisions_arrow", decisions)
    quoted = ", ".join(f"'{d}'" for d in one_per_entity)
    # Never NULL: NOT NULL would let a pair skip the household guard.
    both_single = f"(p.dataset_l IN ({quoted}) AND p.dataset_r IN ({quoted}))" if quoted else "FALSE"

    def status(guard: str) -> str:
        return f"""CASE
            WHEN d.decision = 'match' THEN 'match (reviewed)'
            WHEN d.decision = 'non-match' THEN 'non-match (reviewed)'
            WHEN {both_single} AND p.dataset_l = p.dataset_r THEN 'same dataset, one record per entity'
            WHEN NOT {both_single} AND NOT {guard} THEN {quote_literal(_HOUSEHOLD)}
            WHEN p.match_probability >= {threshold} THEN 'match'
            WHEN p.match_probability >= {min(REVIEW_FROM, threshold)} THEN 'review'
            ELSE 'non-match'
          END"""

    decided = """LEFT JOIN jd_decisions_arrow d
          ON d.dataset_l = p.dataset_l AND d.id_l = p.id_l AND d.dataset_r = p.dataset_r AND d.id_r = p.id_r"""
    # Pairs whose guard verdict is known (kept, unchanged records) are not joined to their records again.
    con.execute(
        f"""CREATE TABLE jd_status AS
        SELECT p.* EXCLUDE (guard), {status("p.guard")} AS status FROM jd_pairs p {decided} WHERE p.guard IS NOT NULL
        UNION ALL
        SELECT p.* EXCLUDE (guard), {status(model.guard_sql(roles))} AS status
        FROM jd_pairs p
        JOIN jd_records l ON l.rid = p.dataset_l || ':' || p.id_l
        JOIN jd_records r ON r.rid = p.dataset_r || ':' || p.id_r
        {decided}
        WHERE p.guard IS NULL"""
    )
    con.unregister("jd_decisions_arrow")
    if one_per_entity:
        _best_only(con, both_single)
    con.execute(
        f"""CREATE TABLE jd_scored AS SELECT
            left(sha256({salt} || s.dataset_l || ':' || s.id_l || '~' || s.dataset_r || ':' || s.id_r), 12) AS pair_id,
            s.*, s.status LIKE 'match%' AS accepted
        FROM jd_status s"""
    )


def _best_only(con: duckdb.DuckDBPyConnection, both_single: str) -> None:
    """Between two datasets that each hold one record per entity, a record keeps only its mutually best match."""
    con.execute(
        f"""CREATE TABLE jd_best AS
        SELECT p.dataset_l, p.id_l, p.dataset_r, p.id_r
        FROM jd_status p
        WHERE p.status = 'match' AND {both_single}
        QUALIFY row_number() OVER (
                PARTITION BY p.dataset_l, p.id_l, p.dataset_r ORDER BY p.match_probability DESC, p.id_r) = 1
            AND row_number() OVER (
                PARTITION BY p.dataset_r, p.id_r, p.dataset_l ORDER BY p.match_probability DESC, p.id_l) = 1"""
    )
    con.execute(
        f"""UPDATE jd_status s SET status = 'not the best match (one record per entity)'
        WHERE s.status = 'match' AND {both_single.replace("p.", "s.")}
          AND NOT EXISTS (SELECT 1 FROM jd_best b WHERE b.dataset_l = s.dataset_l AND b.id_l = s.id_l
                          AND b.dataset_r = s.dataset_r AND b.id_r = s.id_r)"""
    ).fetchall()


def _decisions(estate: Estate, entity: str) -> pa.Table:
    r = store.reviews.c
    with estate.engine.connect() as c:
        rows = c.execute(
            sa.select(r.dataset_l, r.id_l, r.dataset_r, r.id_r, r.decision).where(r.entity == entity)
        ).all()
    cols = ("dataset_l", "id_l", "dataset_r", "id_r", "decision")
    return pa.table({name: pa.array([row[i] for row in rows], pa.string()) for i, name in enumerate(cols)})


def _affected(con: duckdb.DuckDBPyConnection, datasets: Sequence[str]) -> None:
    """``jd_affected(rid)``: the records whose cluster may differ from the last run's (incremental runs).

    Seeds: new and changed records, both records of a pair accepted now or by the last run unless the pair
    is between unchanged records and accepted both times or neither, and the last run's records now gone.
    Every record sharing a last-run key with a seed is affected too. Any other record's cluster is the last
    run's, whole and unchanged (its accepted pairs are the same ones, among unchanged records), so it keeps
    its key without being clustered again: the result a full run gives, at the cost of the changes only.
    """
    listed = ", ".join(quote_literal(d) for d in datasets)
    con.execute(
        """CREATE TABLE jd_seeds AS
        WITH now_or_then AS (
            SELECT s.dataset_l || ':' || s.id_l AS rid_l, s.dataset_r || ':' || s.id_r AS rid_r,
                   s.accepted, a.id_l IS NOT NULL AS was
            FROM jd_scored s LEFT JOIN jd_prev_accepted a
              ON a.dataset_l = s.dataset_l AND a.id_l = s.id_l AND a.dataset_r = s.dataset_r AND a.id_r = s.id_r
            WHERE s.accepted OR a.id_l IS NOT NULL
        ),
        moved AS (
            SELECT p.rid_l, p.rid_r FROM now_or_then p
            JOIN jd_records l ON l.rid = p.rid_l JOIN jd_records r ON r.rid = p.rid_r
            WHERE l.changed OR r.changed OR p.accepted <> p.was
        )
        SELECT rid FROM jd_records WHERE changed
        UNION SELECT rid_l FROM moved UNION SELECT rid_r FROM moved"""
    )
    con.execute(
        f"""CREATE TABLE jd_affected AS
        WITH touched AS (
            SELECT p.key FROM jd_prev_keys p JOIN jd_seeds s ON s.rid = p.rid
            UNION SELECT p.key FROM jd_prev_keys p
            WHERE split_part(p.rid, ':', 1) IN ({listed})
              AND NOT EXISTS (SELECT 1 FROM jd_records r WHERE r.rid = p.rid)
        )
        SELECT rid FROM jd_seeds
        UNION SELECT r.rid FROM jd_records r JOIN jd_prev_keys p ON p.rid = r.rid JOIN touched t ON t.key = p.key"""
    )


def _keep_unaffected_keys(con: duckdb.DuckDBPyConnection) -> int:
    """Add the last run's key of every record not affected (see :func:`_affected`); how many keys were so kept."""
    con.execute(
        """CREATE TABLE jd_unaffected AS SELECT r.rid, p.key FROM jd_records r JOIN jd_prev_keys p ON p.rid = r.rid
        WHERE r.rid NOT IN (SELECT rid FROM jd_affected)"""
    )
    con.execute("INSERT INTO jd_keys SELECT rid, key FROM jd_unaffected")
    return _count(con, "(SELECT DISTINCT key FROM jd_unaffected)")


def _cluster(con: duckdb.DuckDBPyConnection, nodes: str) -> None:
    """``jd_clusters(rid, cluster_id)``: connected components of the accepted pairs among ``nodes`` (rids)."""
    from splink import DuckDBAPI
    from splink.clustering import cluster_pairwise_predictions_at_threshold

    con.execute(f"CREATE TABLE jd_nodes AS SELECT rid FROM {nodes}")
    con.execute(
        """CREATE TABLE jd_edges AS SELECT e.* FROM (
            SELECT dataset_l || ':' || id_l AS rid_l, dataset_r || ':' || id_r AS rid_r FROM jd_scored WHERE accepted
        ) e SEMI JOIN jd_nodes l ON l.rid = e.rid_l SEMI JOIN jd_nodes r ON r.rid = e.rid_r"""
    )
    engine._quiet()
    clustered = cluster_pairwise_predictions_at_threshold(
        "jd_nodes", "jd_edges", DuckDBAPI(connection=con), node_id_column_name="rid"
    )
    con.execute(f"CREATE TABLE jd_clusters AS SELECT rid, cluster_id FROM {clustered.physical_name}")


def _store(
    estate: Estate,
    con: duckdb.DuckDBPyConnection,
    principal: str,
    purpose: str | None,
    entity: str,
    versions: dict[str, int],
    threshold: float,
    roles: Sequence[str],
    trained: dict[str, Any],
    outcome: keys.Outcome,
    incremental: bool,
    variants: bool,
    counts: dict[str, int],
    single: Sequence[str],
    *,
    written_out: bool,
    columns: dict[str, dict[str, list[str]]],
) -> int:
    summary: dict[str, Any] = {**counts, "name_variants": variants}
    # Kept with the run, not in the audit entry: which columns played which part (a settings file may have said).
    summary_with_columns = {**summary, "columns": columns, "one_per_entity": list(single)}
    with estate.engine.begin() as c:
        run_id = int(
            c.execute(
                sa.insert(store.runs).values(
                    entity=entity, at=now(), principal=principal, datasets=versions, threshold=threshold,
                    incremental=incremental, summary=summary_with_columns,
                ).returning(store.runs.c.id)
            ).scalar_one()
        )  # fmt: skip
        c.execute(sa.insert(store.models).values(entity=entity, run_id=run_id, roles=list(roles), model=trained))
        events = [
            {"entity": entity, "run_id": run_id, "event": kind, "key": key, "others": others, "reason": reason}
            for kind, key, others, reason in outcome.events()
        ]
        if events:
            c.execute(sa.insert(store.history), events)
        pairs, keyed = _outputs(estate, con, entity, list(versions))
        store.replace(store.pairs_path(estate, entity), pairs)
        store.replace(store.keys_path(estate, entity), keyed)
        record(
            c, estate, principal=principal, action="linkage.run", purpose=purpose, row_count=summary["records"],
            detail={"entity": entity, "run": run_id, "versions": versions, "incremental": incremental, **summary,
                    # Pairs and keys about to leave the estate as pairs.csv and clusters.csv (--out).
                    "written_out": written_out},
        )  # fmt: skip
    return run_id


def _outputs(
    estate: Estate, con: duckdb.DuckDBPyConnection, entity: str, datasets: list[str]
) -> tuple[pa.Table, pa.Table]:
    """This run's pairs and keys, plus the earlier ones of datasets this run did not link (kept as they were)."""
    listed = ", ".join(quote_literal(d) for d in datasets)
    pairs = con.sql("SELECT * FROM jd_scored").to_arrow_table()
    earlier = store.read(store.pairs_path(estate, entity))
    if earlier is not None:
        con.register("jd_earlier_pairs", earlier)
        others = con.sql(
            f"SELECT * FROM jd_earlier_pairs WHERE dataset_l NOT IN ({listed}) AND dataset_r NOT IN ({listed})"
        ).to_arrow_table()
        pairs = pa.concat_tables([pairs, others.select(pairs.column_names).cast(pairs.schema)])
    keyed = con.sql(
        """SELECT split_part(k.rid, ':', 1) AS dataset, substr(k.rid, length(split_part(k.rid, ':', 1)) + 2) AS id,
                  k.rid, k.key, r.digest FROM jd_keys k JOIN jd_records r USING (rid)"""
    ).to_arrow_table()
    if "dataset" in con.sql("SELECT * FROM jd_prev_keys LIMIT 0").columns:
        others = con.sql(f"SELECT * FROM jd_prev_keys WHERE dataset NOT IN ({listed})").to_arrow_table()
        keyed = pa.concat_tables([keyed, others.select(keyed.column_names).cast(keyed.schema)])
    return pairs, keyed


def _summary(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    def one(sql: str) -> int:
        rows = con.execute(sql).fetchall()
        return int(rows[0][0]) if rows and rows[0][0] is not None else 0

    return {
        "records": one("SELECT count(*) FROM jd_records"),
        "accepted": one("SELECT count(*) FROM jd_scored WHERE accepted"),
        "review": one("SELECT count(*) FROM jd_scored WHERE status = 'review'"),
        "clusters": one("SELECT count(DISTINCT key) FROM jd_keys"),
        "across": one(
            "SELECT count(*) FROM (SELECT key FROM jd_keys GROUP BY key"
            " HAVING count(DISTINCT split_part(rid, ':', 1)) > 1)"
        ),
    }


def _write_out(con: duckdb.DuckDBPyConnection, out: Path, entity: str) -> None:
    """pairs.csv and clusters.csv, written as every export is: guarded against formulas, private, whole or not at all.

    Ids are each dataset's primary key, as loaded: an id such as ``=HYPERLINK(...)`` must not run when opened.
    """
    out.mkdir(parents=True, exist_ok=True)
    write_csv(
        out / "pairs.csv",
        ("dataset_l", "id_l", "dataset_r", "id_r", "match_probability"),
        _rows(con, "SELECT dataset_l, id_l, dataset_r, id_r, round(match_probability, 6) FROM jd_scored "
              "WHERE accepted ORDER BY ALL"),
    )  # fmt: skip
    write_csv(
        out / "clusters.csv",
        ("dataset", "id", f"{entity}_key"),
        _rows(con, "SELECT split_part(rid, ':', 1), substr(rid, length(split_part(rid, ':', 1)) + 2), key "
              "FROM jd_keys ORDER BY ALL"),
    )  # fmt: skip


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> Iterator[tuple[Any, ...]]:
    result = con.execute(sql)
    while batch := result.fetchmany(10_000):
        yield from batch


def _salt(estate: Estate) -> str:
    """A SQL literal keyed by the estate's secret, so digests and pair ids cannot be recomputed from guessed values."""
    return quote_literal(hashlib.sha256(b"linkage:" + estate.secret).hexdigest() + ":")
