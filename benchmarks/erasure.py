"""Erasure benchmark: one person across 5 datasets, then many people in one batch, purge and verification included.

Prints one JSON object. Run: ``.venv/bin/python benchmarks/erasure.py [--rows 1000000] [--batch 1000]``.

Each dataset is ingested as real use does (a Parquet file through ``ingest``).
The single erasure is timed end to end: ``subject find``, propose, approve (the
run: delete by row key, purge, catalogue rebuild, a read of every byte under the
estate, certificate). For the batch, the requests are opened and their rows
found and confirmed by a set-based lookup here (``subject find`` per request is
timed above); the timed part is the one erasure run that shares the rewrites.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import sqlalchemy as sa

from joinedup.access import add_principal, bootstrap_admin
from joinedup.estate import Estate
from joinedup.ingest import ingest
from joinedup.lifecycle import approve_erasure, find_subject, identifiers, open_request, propose_erasure
from joinedup.lifecycle.models import SubjectMatch
from joinedup.lifecycle.retention import run as run_retention
from joinedup.lifecycle.retention import set_rule
from joinedup.schema import parse_schema

SCHEMA = """
fields:
  - {name: id, type: integer}
  - {name: nhs_number, type: nhs_number, personal: true, category: identifier}
  - {name: name, type: string, format: person_name, personal: true, category: name}
  - {name: postcode, type: postcode, personal: true, category: address}
  - {name: note, type: string}
  - {name: seen, type: date}
primaryKey: [id]
"""
NHS, NAME = "9434765919", "Zebedee Quartermaine"
DATASETS = 5

#: NHS numbers from a row number: 9 digits, then the mod 11 check digit (rows whose check would be 10 skipped).
_NHS_SQL = """
WITH base AS (SELECT i, CAST(100000000 + i * 7 AS VARCHAR) AS d FROM range({rows} * 2) t(i)),
checked AS (
  SELECT i, d, 11 - (list_sum([CAST(d[k] AS INTEGER) * (11 - k) for k in range(1, 10)]) % 11) AS c FROM base
)
SELECT row_number() OVER () AS id, d || CAST(CASE WHEN c = 11 THEN 0 ELSE c END AS VARCHAR) AS nhs_number,
       'Person ' || i AS name, 'LS1 4AP' AS postcode, 'n' || (i % 97) AS note,
       DATE '2015-01-01' + CAST(i % 3650 AS INTEGER) AS seen
FROM checked WHERE c <> 10 LIMIT {rows}
"""


def build(root: Path, rows: int) -> tuple[Estate, float, list[str]]:
    estate = Estate.create(root / "estate")
    bootstrap_admin(estate, "admin")
    add_principal(estate, "admin", "dora", "dpo")
    add_principal(estate, "admin", "dan", "dpo")
    schema = parse_schema(SCHEMA)
    con = duckdb.connect()
    con.execute(f"CREATE TABLE people AS {_NHS_SQL.format(rows=rows - 1)}")
    con.execute(f"INSERT INTO people VALUES ({rows}, '{NHS}', '{NAME}', 'LS1 4AP', 'x', DATE '2024-01-01')")
    others = [r[0] for r in con.execute("SELECT nhs_number FROM people WHERE id <= 2000 ORDER BY id").fetchall()]
    source = root / "people.parquet"
    con.execute(f"COPY people TO '{source}' (FORMAT parquet)")
    con.close()
    started = time.perf_counter()
    for n in range(DATASETS):
        ingest(estate, source, dataset=f"d{n}", principal="admin", schema=schema, fmt="parquet")
    return estate, time.perf_counter() - started, others


def one_person(estate: Estate) -> dict[str, Any]:
    request = open_request(estate, "dora", "erasure", date.today(), identifiers(nhs_number=NHS, name=NAME))
    t0 = time.perf_counter()
    found = find_subject(estate, "dora", request.id)
    t1 = time.perf_counter()
    propose_erasure(estate, "dora", [request.id])
    result = approve_erasure(estate, "dan", [request.id])
    t2 = time.perf_counter()
    certificate = result["certificate"]
    return {
        "rows_found": len(found),
        "find_s": round(t1 - t0, 2),
        "erase_s": round(t2 - t1, 2),
        "total_s": round(t2 - t0, 2),
        "verified_clean": certificate["verification"]["clean"],
        "bytes_read_by_verification": certificate["verification"]["bytes_read"],
        "rows_removed": sum(r["table_rows"] for r in certificate["removed"]),
    }


def batch(estate: Estate, people: list[str]) -> dict[str, Any]:
    ids = [open_request(estate, "dora", "erasure", date.today(), identifiers(nhs_number=n)).id for n in people]
    # The rows of every person, found set-based (row keys: ingest 1, source row = id).
    keyed = {n: i + 1 for i, n in enumerate(people)}
    with estate.session() as session:
        session.execute(
            sa.insert(SubjectMatch),
            [
                {"request_id": rid, "dataset": f"d{d}", "part": "table", "ingest": 1, "source_row": keyed[n],
                 "basis": "identifier", "score": 1.0, "status": "confirmed", "decided_by": "dora"}
                for rid, n in zip(ids, people, strict=True) for d in range(DATASETS)
            ],
        )  # fmt: skip
    t0 = time.perf_counter()
    propose_erasure(estate, "dora", ids)
    result = approve_erasure(estate, "dan", ids)
    elapsed = time.perf_counter() - t0
    certificate = result["certificate"]
    return {
        "people": len(ids),
        "erase_s": round(elapsed, 2),
        "verified_clean": certificate["verification"]["clean"],
        "rows_removed": sum(r["table_rows"] for r in certificate["removed"]),
    }


def retention_run(estate: Estate) -> dict[str, Any]:
    """Every dataset keeps rows 6 years from ``seen``: about half of each is past its date."""
    for n in range(DATASETS):
        set_rule(estate, "dora", f"d{n}", "P6Y", "seen", "delete")
    t0 = time.perf_counter()
    done = run_retention(estate, "dora", today=date(2026, 12, 5))
    return {"rows_removed": sum(r["rows"] for r in done), "seconds": round(time.perf_counter() - t0, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows per dataset")
    parser.add_argument("--batch", type=int, default=1000, help="people erased in one batch")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        estate, setup, others = build(Path(folder), args.rows)
        report: dict[str, Any] = {
            "rows_per_dataset": args.rows,
            "datasets": DATASETS,
            "setup_ingest_s": round(setup, 1),
        }
        report["one_person"] = one_person(estate)
        report["batch"] = batch(estate, others[: args.batch])
        report["retention"] = retention_run(estate)
        report["targets"] = {"one_person_s": 10, "batch_1000_s": 60, "retention_5m_s": 30}
        estate.close()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
