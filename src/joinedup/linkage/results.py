"""Reading linkage results: runs and key history, the model in plain words, pairs explained, review, evaluation."""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from joinedup.audit import Subject
from joinedup.audit.subjects import canonical_identifier
from joinedup.errors import InputError, NotFoundError
from joinedup.estate import Catalogue, Estate
from joinedup.linkage import names, prepare, store
from joinedup.linkage.columns import ENTITIES, map_columns
from joinedup.storage import delta
from joinedup.storage.duck import connect, literal_path
from joinedup.storage.duck import quote_identifier as q

DECISIONS = ("match", "non-match")


def check_entity(entity: str) -> str:
    if entity not in ENTITIES:
        raise InputError(f"entity {entity!r}: expected one of {', '.join(ENTITIES)}")
    return entity


def latest_run(estate: Estate, entity: str) -> dict[str, Any]:
    """The newest run for ``entity``; NotFoundError when there is none yet."""
    r = store.runs.c
    with estate.engine.connect() as c:
        row = c.execute(sa.select(store.runs).where(r.entity == entity).order_by(r.id.desc()).limit(1)).first()
    if row is None:
        raise NotFoundError(f"no {entity} linkage has run in this estate yet; run `joinedup link run` first")
    return dict(row._mapping)


def history(estate: Estate, entity: str, datasets: Collection[str] | None = None) -> dict[str, Any]:
    """Every run (who, when, datasets and versions, counts) and every merge and split of keys, oldest first.

    With ``datasets``, only the runs over those datasets (and their events): keys are personal data.
    """
    r, h = store.runs.c, store.history.c
    with estate.engine.connect() as c:
        runs = [dict(row._mapping) for row in c.execute(sa.select(store.runs).where(r.entity == entity).order_by(r.id))]
        events = [
            dict(row._mapping)
            for row in c.execute(
                sa.select(h.run_id, h.event, h.key, h.others, h.reason).where(h.entity == entity).order_by(h.id)
            )
        ]
    if datasets is not None:
        runs = [run for run in runs if set(run["datasets"]) <= set(datasets)]
        shown = {run["id"] for run in runs}
        events = [e for e in events if e["run_id"] in shown]
    for run in runs:
        run["at"] = run["at"].isoformat().replace("+00:00", "Z")
    return {"entity": entity, "runs": runs, "events": events}


@dataclass(frozen=True)
class LevelWeight:
    comparison: str
    label: str
    m: float | None
    u: float | None

    @property
    def weight(self) -> float | None:
        if not self.m or not self.u:
            return None
        return math.log2(self.m / self.u)


def model_levels(estate: Estate, entity: str) -> tuple[list[LevelWeight], float, list[str]]:
    """The saved model's levels with m, u and weight; the prior match probability; the roles compared."""
    m = store.models.c
    with estate.engine.connect() as c:
        row = c.execute(sa.select(m.model, m.roles).where(m.entity == entity).order_by(m.id.desc()).limit(1)).first()
    if row is None:
        raise NotFoundError(f"no {entity} linkage model yet; run `joinedup link run` first")
    saved = dict(row.model)
    levels = []
    for comparison in saved.get("comparisons", []):
        name = comparison.get("output_column_name", "?")
        for level in comparison.get("comparison_levels", []):
            if level.get("is_null_level"):
                continue
            levels.append(
                LevelWeight(
                    name, level.get("label_for_charts", ""), level.get("m_probability"), level.get("u_probability")
                )
            )
    return levels, float(saved.get("probability_two_random_records_match", 0.0)), list(row.roles)


def describe_model(estate: Estate, entity: str) -> dict[str, Any]:
    levels, prior, roles = model_levels(estate, entity)
    return {
        "entity": entity,
        "roles": roles,
        "probability_two_random_records_match": prior,
        "levels": [
            {
                "comparison": lv.comparison,
                "level": lv.label,
                "m_probability": lv.m,
                "u_probability": lv.u,
                "match_weight": None if lv.weight is None else round(lv.weight, 3),
                "in_words": _in_words(lv),
            }
            for lv in levels
        ],
    }


def _in_words(lv: LevelWeight) -> str:
    if lv.m is None or lv.u is None or lv.weight is None:
        return f"{lv.label}: not trained"
    side = "for" if lv.weight >= 0 else "against"
    return (
        f"{lv.label}: seen in {lv.m:.1%} of true matches and {lv.u:.3%} of non-matches, "
        f"so evidence {side} a match ({lv.weight:+.1f})"
    )


def _pairs(estate: Estate, entity: str, datasets: Collection[str] | None = None) -> pa.Table:
    """The stored pairs; with ``datasets``, only pairs with both records in them (what the reader may see)."""
    table = store.read(store.pairs_path(estate, entity))
    if table is None:
        raise NotFoundError(f"no {entity} linkage has run in this estate yet; run `joinedup link run` first")
    if datasets is None:
        return table
    allowed = pa.array(sorted(datasets), pa.string())
    keep = pc.and_(pc.is_in(table["dataset_l"], allowed), pc.is_in(table["dataset_r"], allowed))
    return table.filter(keep)


def find_pair(estate: Estate, entity: str, pair_id: str, datasets: Collection[str] | None = None) -> dict[str, Any]:
    with duckdb.connect() as con:
        con.register("p", _pairs(estate, entity, datasets))
        found = con.sql("SELECT * FROM p WHERE pair_id = ?", params=[pair_id]).to_arrow_table().to_pylist()
    if not found:
        raise NotFoundError(f"no {entity} pair {pair_id!r} in the latest run (see `joinedup review list`)")
    return dict(found[0])


def explain(estate: Estate, entity: str, pair: dict[str, Any]) -> dict[str, Any]:
    """A waterfall of match weights for one pair: the prior, then each comparison's level and weight."""
    levels, prior, _ = model_levels(estate, entity)
    steps: list[dict[str, Any]] = [
        {"step": "prior", "level": "how often two random records match", "match_weight": _log_odds(prior)}
    ]
    for column, value in pair.items():
        if not column.startswith("mw_") or value is None:
            continue
        name = column[3:]
        if name.startswith("tf_adj_"):
            if abs(value) < 1e-9:
                continue
            steps.append(
                {"step": name[7:], "level": "adjusted for how common the value is", "match_weight": round(value, 3)}
            )
            continue
        steps.append({"step": name, "level": _closest_label(levels, name, value), "match_weight": round(value, 3)})
    total = sum(s["match_weight"] for s in steps)
    return {
        "pair": pair["pair_id"],
        "status": pair["status"],
        "match_probability": pair["match_probability"],
        "match_weight": round(float(pair["match_weight"]), 3),
        "total_of_steps": round(total, 3),
        "steps": steps,
    }


def _log_odds(p: float) -> float:
    return round(math.log2(p / (1 - p)), 3) if 0 < p < 1 else 0.0


def _closest_label(levels: Sequence[LevelWeight], comparison: str, value: float) -> str:
    if value == 0:
        return "missing on one side (no evidence)"
    candidates = [lv for lv in levels if lv.comparison == comparison and lv.weight is not None]
    if not candidates:
        return "?"
    return min(candidates, key=lambda lv: abs((lv.weight or 0) - value)).label


def evidence_words(steps: Sequence[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """The steps of an explanation as plain phrases: (for a match, against it)."""
    for_: list[str] = []
    against: list[str] = []
    for step in steps:
        if step["step"] == "prior" or abs(step["match_weight"]) < 0.05:
            continue
        phrase = f"{step['level']} ({step['match_weight']:+.1f})"
        (for_ if step["match_weight"] > 0 else against).append(phrase)
    return for_, against


def review_queue(
    estate: Estate, entity: str, limit: int, datasets: Collection[str] | None = None
) -> list[dict[str, Any]]:
    """Pairs in the uncertain band, most likely first, each with both records' compared values side by side.

    With ``datasets``, only pairs between records of those datasets.
    """
    r = store.reviews.c
    with estate.engine.connect() as c:
        decided = c.execute(sa.select(r.dataset_l, r.id_l, r.dataset_r, r.id_r).where(r.entity == entity)).all()
    sides = ("dataset_l", "id_l", "dataset_r", "id_r")
    with duckdb.connect() as con:
        con.register("p", _pairs(estate, entity, datasets))
        # Decided since the run: off the list at once, not offered again until the next run.
        con.register(
            "d", pa.table({n: pa.array([row[i] for row in decided], pa.string()) for i, n in enumerate(sides)})
        )
        pairs = con.sql(
            "SELECT * FROM p WHERE status = 'review' AND NOT EXISTS (SELECT 1 FROM d WHERE d.dataset_l = p.dataset_l "
            "AND d.id_l = p.id_l AND d.dataset_r = p.dataset_r AND d.id_r = p.id_r) "
            f"ORDER BY match_probability DESC, pair_id LIMIT {int(limit)}"
        ).to_arrow_table()
    values = _values(estate, entity, pairs)
    queue = []
    for pair in pairs.to_pylist():
        explained = explain(estate, entity, pair)
        for_, against = evidence_words(explained["steps"])
        queue.append(
            {
                "pair": pair["pair_id"],
                "match_probability": round(pair["match_probability"], 4),
                "left": {
                    "dataset": pair["dataset_l"],
                    "id": pair["id_l"],
                    **values.get((pair["dataset_l"], pair["id_l"]), {}),
                },
                "right": {
                    "dataset": pair["dataset_r"],
                    "id": pair["id_r"],
                    **values.get((pair["dataset_r"], pair["id_r"]), {}),
                },
                "for": for_,
                "against": against,
            }
        )
    return queue


def shown_subjects(estate: Estate, entity: str, queue: Sequence[dict[str, Any]]) -> list[Subject]:
    """The people a review list shows, as audit subjects: each record's key, and its NHS or NI number if shown.

    So that "who accessed this person?" finds the reviewer who saw them side by side.
    """
    records = {(item[side]["dataset"], item[side]["id"]) for item in queue for side in ("left", "right")}
    found: set[tuple[str, str]] = set()
    keys = store.read(store.keys_path(estate, entity))
    if keys is not None and records:
        with duckdb.connect() as con:
            con.register("k", keys)
            con.register("w", pa.table({"dataset": [d for d, _ in records], "id": [i for _, i in records]}))
            rows = con.execute("SELECT DISTINCT k.key FROM k JOIN w ON k.dataset = w.dataset AND k.id = w.id")
            found.update(("person_key", str(r[0])) for r in rows.fetchall())
    for item in queue:
        for side in ("left", "right"):
            for kind in ("nhs_number", "ni_number"):
                value = item[side].get(kind)
                if value and canonical_identifier(kind, str(value)) is not None:
                    found.add((kind, str(value)))
    return [Subject(kind, value) for kind, value in sorted(found)]


def _values(estate: Estate, entity: str, pairs: pa.Table) -> dict[tuple[str, str], dict[str, Any]]:
    """The compared values of the records in ``pairs`` as the model saw them, from each dataset's current version."""
    if not pairs.num_rows:
        return {}
    _, _, roles = model_levels(estate, entity)
    wanted: dict[str, set[str]] = {}
    for side in ("l", "r"):
        for dataset, record_id in zip(
            pairs.column(f"dataset_{side}").to_pylist(), pairs.column(f"id_{side}").to_pylist(), strict=True
        ):
            wanted.setdefault(dataset, set()).add(record_id)
    found: dict[tuple[str, str], dict[str, Any]] = {}
    compared = dict(latest_run(estate, entity)["summary"].get("columns") or {})
    catalogue = Catalogue(estate)
    with connect(memory_limit=estate.config.memory_limit, temp_dir=estate.tmp_dir, macros=()) as con:
        names.register(con)
        for dataset, ids in wanted.items():
            info = catalogue.find(dataset)
            if info is None or info.current is None:
                continue
            # The columns the run compared (a settings file may have named them), else the schema's guess.
            present = {str(f.get("name")) for f in (info.schema or {}).get("fields", []) if isinstance(f, dict)}
            named = {r: c for r, c in dict(compared.get(dataset, {})).items() if set(c) <= present}
            columns = map_columns(dataset, info.schema or {}, entity, {"columns": named})
            if not set(roles) <= columns.roles():
                continue
            con.register("src", delta.snapshot(estate.table_path(dataset), info.current.table_version))
            con.register("wanted", pa.table({"id": sorted(ids)}))
            shown = ", ".join(q(r) for r in roles)
            rows = (
                con.sql(
                    f"SELECT unique_id, {shown} FROM ({prepare.frame_sql(columns, roles, 'src')}) "
                    "WHERE unique_id IN (SELECT id FROM wanted)"
                )
                .to_arrow_table()
                .to_pylist()
            )
            for row in rows:
                found[(dataset, str(row.pop("unique_id")))] = row
            con.unregister("src")
            con.unregister("wanted")
    return found


def evaluate(estate: Estate, entity: str, truth: Path, datasets: Collection[str] | None = None) -> dict[str, Any]:
    """Precision, recall and F1 of the latest run's clusters against ``truth``.

    ``truth`` is a CSV of true cluster ids (``dataset,id,cluster``) or of true
    matching pairs (``dataset_l,id_l,dataset_r,id_r``, with an optional
    ``match`` column of 1/0). Pairs are compared as links between records
    (two records with one key count as linked). With ``datasets``, only the
    keys of records in those datasets count as linked records.
    """
    keys = store.read(store.keys_path(estate, entity))
    if keys is None:
        raise NotFoundError(f"no {entity} linkage has run in this estate yet; run `joinedup link run` first")
    if datasets is not None:
        keys = keys.filter(pc.is_in(keys["dataset"], pa.array(sorted(datasets), pa.string())))
    if truth.is_file() and truth.stat().st_size == 0:
        raise InputError(f"{truth}: is empty; it holds no true pairs to measure against")
    with duckdb.connect() as con:
        con.register("k", keys)
        try:
            with literal_path(truth) as plain:
                con.execute(
                    "CREATE TABLE t AS SELECT * FROM read_csv(?, all_varchar = true, header = true)", [str(plain)]
                ).fetchall()
        except duckdb.Error:
            raise InputError(f"{truth}: not a readable CSV file with a header row") from None
        columns = {str(r[0]) for r in con.execute("DESCRIBE t").fetchall()}
        cluster = next((c for c in ("cluster", "cluster_id", "true_id", "entity_id") if c in columns), None)
        if {"dataset", "id"} <= columns and cluster:
            # A repeated row is one record, not two: counted twice it would score precision above 1.
            con.execute(f"CREATE TABLE tc AS SELECT DISTINCT dataset, id, {q(cluster)} AS cluster FROM t").fetchall()
            twice = _count(con, "(SELECT dataset, id FROM tc GROUP BY ALL HAVING count(*) > 1)")
            if twice:
                raise InputError(
                    f"{truth}: {twice} record(s) are in more than one cluster; a record has one true cluster"
                )
            con.execute(
                "CREATE TABLE tp AS SELECT a.dataset || ':' || a.id AS l, b.dataset || ':' || b.id AS r "
                "FROM tc a JOIN tc b ON a.cluster = b.cluster "
                "AND a.dataset || ':' || a.id < b.dataset || ':' || b.id"
            ).fetchall()
            con.execute("CREATE TABLE ids AS SELECT DISTINCT dataset, id FROM tc").fetchall()
        elif {"dataset_l", "id_l", "dataset_r", "id_r"} <= columns:
            keep = "WHERE match IN ('1', 'true', 'True', 'yes')" if "match" in columns else ""
            # A pair given twice, or both ways round, is one pair; a record paired with itself is no pair.
            con.execute(
                f"CREATE TABLE tp AS SELECT DISTINCT least(dataset_l || ':' || id_l, dataset_r || ':' || id_r) AS l, "
                f"greatest(dataset_l || ':' || id_l, dataset_r || ':' || id_r) AS r FROM t {keep}"
            ).fetchall()
            con.execute("DELETE FROM tp WHERE l = r").fetchall()
            con.execute(
                "CREATE TABLE ids AS SELECT dataset_l AS dataset, id_l AS id FROM t UNION SELECT dataset_r, id_r FROM t"
            ).fetchall()
        else:
            raise InputError(
                f"{truth}: expected columns dataset,id,cluster (true cluster ids) "
                "or dataset_l,id_l,dataset_r,id_r[,match] (labelled pairs)"
            )
        if not _count(con, "tp"):
            raise InputError(
                f"{truth}: holds no true matching pairs (no two records share a cluster or are labelled a match); "
                "precision and recall need at least one"
            )
        unknown = con.execute(
            "SELECT count(*), min(dataset) FROM ids WHERE NOT EXISTS "
            "(SELECT 1 FROM k WHERE k.dataset = ids.dataset AND k.id = ids.id)"
        ).fetchall()[0]
        if unknown[0]:
            raise InputError(
                f"{truth}: {unknown[0]} record id(s) are not among the linked records "
                f"(first in dataset {unknown[1]!r}); the truth must name records of the latest run"
            )
        con.execute(
            "CREATE TABLE pp AS SELECT a.rid AS l, b.rid AS r FROM k a JOIN k b ON a.key = b.key AND a.rid < b.rid "
            "WHERE EXISTS (SELECT 1 FROM ids WHERE ids.dataset = a.dataset AND ids.id = a.id) "
            "AND EXISTS (SELECT 1 FROM ids WHERE ids.dataset = b.dataset AND ids.id = b.id)"
        ).fetchall()
        tp, predicted, actual = con.execute(
            "SELECT (SELECT count(*) FROM pp JOIN tp USING (l, r)), (SELECT count(*) FROM pp),"
            " (SELECT count(*) FROM tp)"
        ).fetchall()[0]
    precision = tp / predicted if predicted else 1.0
    recall = tp / actual if actual else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "entity": entity,
        "true_pairs": actual,
        "predicted_pairs": predicted,
        "true_positives": tp,
        "precision": round(precision, 5),
        "recall": round(recall, 5),
        "f1": round(f1, 5),
    }


def _count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    return int(con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])


def decide(
    estate: Estate,
    entity: str,
    pair: dict[str, Any],
    decision: str,
    note: str | None,
    principal: str,
    purpose: str | None,
) -> None:
    """Keep a reviewer's decision on a pair (replacing an earlier one), audited in the same transaction."""
    from joinedup.audit import record
    from joinedup.estate.db import now

    if decision not in DECISIONS:
        raise InputError(f"decision {decision!r}: expected one of {', '.join(DECISIONS)}")
    r = store.reviews.c
    where = sa.and_(
        r.entity == entity,
        r.dataset_l == pair["dataset_l"],
        r.id_l == pair["id_l"],
        r.dataset_r == pair["dataset_r"],
        r.id_r == pair["id_r"],
    )
    with estate.engine.begin() as c:
        c.execute(sa.delete(store.reviews).where(where))
        c.execute(
            sa.insert(store.reviews).values(
                entity=entity, dataset_l=pair["dataset_l"], id_l=pair["id_l"], dataset_r=pair["dataset_r"],
                id_r=pair["id_r"], decision=decision, note=note, principal=principal, at=now(),
            )
        )  # fmt: skip
        record(
            c, estate, principal=principal, action="linkage.review", purpose=purpose,
            detail={"entity": entity, "pair": pair["pair_id"], "decision": decision,
                    "datasets": sorted({pair["dataset_l"], pair["dataset_r"]}), "note_given": bool(note)},
        )  # fmt: skip
