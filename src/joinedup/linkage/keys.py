"""Persistent keys: each new cluster takes over the earlier key it shares most records with.

Keys are random (``secrets``), so they say nothing about the person. A key
goes to at most one cluster (where most of its records went); a cluster whose
records carried several keys keeps the biggest share's and records a *merge*;
a key whose records went to several clusters stays with one and the others
get new keys, recorded as a *split*.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import duckdb
import pyarrow as pa

from joinedup.audit import opaque_id
from joinedup.estate import Estate

PREFIX = {"person": "P", "business": "B"}


def new_key(entity: str) -> str:
    return opaque_id(PREFIX[entity], 8, upper=True)


@dataclass
class Outcome:
    kept: int = 0
    new: int = 0
    #: (kept key, absorbed keys)
    merges: list[tuple[str, list[str]]] = field(default_factory=list)
    #: (key, keys its records moved to)
    splits: list[tuple[str, list[str]]] = field(default_factory=list)

    def events(self) -> Iterator[tuple[str, str, list[str], str]]:
        for key, others in self.merges:
            yield "merge", key, others, "records under these keys were linked by this run's evidence or a review"
        for key, others in self.splits:
            yield "split", key, others, "records under this key no longer link (changed values or a review)"


def assign(con: duckdb.DuckDBPyConnection, estate: Estate, entity: str) -> Outcome:
    """``jd_keys(rid, key)`` from ``jd_clusters`` and the last run's ``jd_prev_keys``."""
    # A record is found among the last run's by its id; failing that (a dataset without a primary key names
    # records by load and row, new on every reload) by the digest of its compared values, in the same dataset,
    # among the last run's records no longer present.
    # Both sides are cut down first and joined on digest and dataset together: joined on the dataset alone
    # (an order the planner may pick when the two conditions name different tables), a million records of
    # one dataset would meet each other.
    con.execute(
        """CREATE TABLE jd_by_digest AS
        WITH fresh AS (
            SELECT c.rid, c.cluster_id, r.digest, split_part(c.rid, ':', 1) AS dataset
            FROM jd_clusters c JOIN jd_records r ON r.rid = c.rid
            WHERE NOT EXISTS (SELECT 1 FROM jd_prev_keys x WHERE x.rid = c.rid)
        ),
        gone AS (
            SELECT p.key, p.digest, split_part(p.rid, ':', 1) AS dataset FROM jd_prev_keys p
            WHERE NOT EXISTS (SELECT 1 FROM jd_records y WHERE y.rid = p.rid)
        )
        SELECT f.rid, f.cluster_id, min(g.key) AS key
        FROM fresh f JOIN gone g ON g.digest = f.digest AND g.dataset = f.dataset
        GROUP BY f.rid, f.cluster_id"""
    )
    con.execute(
        """CREATE TABLE jd_overlap AS
        SELECT cluster_id, key, count(*) AS n FROM (
            SELECT c.cluster_id, p.key FROM jd_clusters c JOIN jd_prev_keys p ON p.rid = c.rid
            UNION ALL SELECT cluster_id, key FROM jd_by_digest
        ) GROUP BY ALL"""
    )
    # Each earlier key to the cluster holding most of its records; each cluster takes the biggest such key.
    con.execute(
        """CREATE TABLE jd_taken AS
        SELECT cluster_id, key FROM (
            SELECT * FROM jd_overlap QUALIFY row_number() OVER (PARTITION BY key ORDER BY n DESC, cluster_id) = 1
        ) QUALIFY row_number() OVER (PARTITION BY cluster_id ORDER BY n DESC, key) = 1"""
    )
    fresh = con.sql(
        "SELECT DISTINCT cluster_id FROM jd_clusters WHERE cluster_id NOT IN (SELECT cluster_id FROM jd_taken)"
    ).to_arrow_table()
    made = pa.table(
        {
            "cluster_id": fresh.column("cluster_id"),
            "key": pa.array([new_key(entity) for _ in range(fresh.num_rows)], pa.string()),
        }
    )
    con.register("jd_made_arrow", made)
    con.execute(
        """CREATE TABLE jd_cluster_keys AS SELECT cluster_id, key FROM jd_taken
        UNION ALL SELECT cluster_id, key FROM jd_made_arrow"""
    )
    con.unregister("jd_made_arrow")
    con.execute(
        "CREATE TABLE jd_keys AS SELECT c.rid, k.key FROM jd_clusters c JOIN jd_cluster_keys k USING (cluster_id)"
    )
    outcome = Outcome(kept=_scalar(con, "SELECT count(*) FROM jd_taken"), new=made.num_rows)
    merges = con.execute(
        """SELECT t.key, list(DISTINCT o.key ORDER BY o.key) FROM jd_taken t JOIN jd_overlap o USING (cluster_id)
        WHERE o.key <> t.key GROUP BY t.key ORDER BY t.key"""
    ).fetchall()
    outcome.merges = [(str(k), [str(x) for x in others]) for k, others in merges]
    splits = con.execute(
        """SELECT o.key, list(DISTINCT k.key ORDER BY k.key) FROM jd_overlap o
        JOIN jd_cluster_keys k USING (cluster_id)
        WHERE k.key <> o.key AND o.key IN (SELECT key FROM jd_taken) GROUP BY o.key ORDER BY o.key"""
    ).fetchall()
    outcome.splits = [(str(k), [str(x) for x in others]) for k, others in splits]
    return outcome


def _scalar(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    rows = con.execute(sql).fetchall()
    return int(rows[0][0]) if rows else 0
