"""Benchmark: an aggregate open data release (CUBE, primary + secondary suppression, personal-data scan, CSV,
CSVW, Data Package and DCAT written, recorded and audited) from a 1M-row version, beside the plain DuckDB
GROUP BY over the same Delta snapshot. Prints JSON. Target: the release under 5 s at 1M rows.

    python benchmarks/publish.py --rows 1000000
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import duckdb

from joinedup.access import bootstrap_admin
from joinedup.estate import Catalogue, Estate
from joinedup.ingest import ingest
from joinedup.publish import publish
from joinedup.schema import parse_schema
from joinedup.storage import delta

SCHEMA = """
fields:
 - {name: person_id, type: integer}
 - {name: name, type: string, personal: true, category: name}
 - {name: la_code, type: gss_code}
 - {name: year, type: integer}
 - {name: amount, type: number}
"""
AGGREGATE = "count by la_code, year"


def _source(path: Path, rows: int) -> None:
    # 300 local authorities over 10 years, plus a thin tail of small ones so suppression has work to do.
    duckdb.sql(
        f"""
        COPY (
          SELECT i AS person_id, 'Person ' || i AS name,
                 'E06' || lpad(CAST(CASE WHEN i % 20011 = 0 THEN 300 + (i // 20011) % 50 ELSE i % 300 END AS VARCHAR),
                               6, '0') AS la_code,
                 2015 + (i % 10) AS year, (i % 997) * 1.5 AS amount
          FROM range({rows}) t(i)
        ) TO '{path}' (FORMAT parquet)
        """
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        root = Path(work)
        estate = Estate.create(root / "estate")
        bootstrap_admin(estate, "bench")
        source = root / "people.parquet"
        _source(source, args.rows)
        ingest(estate, source, dataset="people", principal="bench", schema=parse_schema(SCHEMA))
        version = Catalogue(estate).get("people").version(None)
        snapshot = delta.snapshot(estate.table_path("people"), version.table_version)
        con = duckdb.connect()
        con.register("people", snapshot)
        started = time.perf_counter()
        groups = con.execute("SELECT la_code, year, count(*) FROM people GROUP BY la_code, year").fetchall()
        group_by_s = time.perf_counter() - started
        started = time.perf_counter()
        result = publish(estate, "bench", "people", out=root / "release", aggregate=AGGREGATE)
        publish_s = time.perf_counter() - started
        estate.close()
    print(
        json.dumps(
            {
                "rows": args.rows,
                "aggregate": AGGREGATE,
                "groups": len(groups),
                "cells_released": result.rows,
                "suppressed_primary": result.suppressed_primary,
                "suppressed_secondary": result.suppressed_secondary,
                "plain_group_by_s": round(group_by_s, 3),
                "publish_s": round(publish_s, 3),
                "target_publish_s": 5,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
