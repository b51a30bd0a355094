"""Audit log benchmark: append throughput on SQLite, verify time for a 1M-entry chain, precise who-accessed.

Prints one JSON object. Run: ``.venv/bin/python benchmarks/audit.py [--entries 1000000]
[--people 1000000 --reads 100000]``.

Precise who-accessed is timed over ``--reads`` logged queries of a ``--people``
row dataset (lookups by NHS number, filters, aggregates), beside today's upper
bound (every bulk read of a version that held the person) on the same log.

Appends are measured as real use makes them (one committed transaction per
entry, at the estate's own ``synchronous=FULL``), with ``synchronous=NORMAL``
alongside to show what durability costs, and many entries in one transaction.
The 1M chain is built directly with executemany, but as real use leaves it:
hashes from the log's own encoder, each entry's MAC under the estate's chain
key, a checkpoint signed every ``checkpoint_every`` entries, the head sealed and
the newest checkpoint kept in ``keys/``. It is then checked by
:func:`joinedup.audit.verify`, which must find it valid: timing a failing
verify would measure nothing, so the script stops if it does not.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from joinedup.audit import Subject, log, record, record_now, verify, who_accessed
from joinedup.audit.canonical import ZERO_HASH, canonical_json, encode_entry, entry_hash
from joinedup.audit.checkpoints import Checkpoint, checkpoint_interval, keep_checkpoint
from joinedup.audit.keys import make_chain_key, public_key_hex, signing_key
from joinedup.estate import Estate

SQL = "SELECT name, date_of_birth FROM people WHERE postcode = 'SW1A 1AA' AND sex = 'F'"


def typical(i: int) -> dict[str, Any]:
    """A query entry as the query command writes it: redacted SQL, dataset, columns, counts."""
    return {
        "principal": "analyst1",
        "action": "data.query",
        "purpose": "monthly caseload report",
        "dataset": "people",
        "dataset_version": 3,
        "columns": ["name", "date_of_birth"],
        "row_count": 120 + i % 7,
        "sql": SQL,
        "detail": {"versions": {"people": 3}, "truncated": False},
    }


def single_record(i: int) -> dict[str, Any]:
    """A single-record read naming one person (the API's shape): one keyed hash, no SQL."""
    return {
        "principal": "service-api",
        "action": "data.read",
        "purpose": "case lookup",
        "dataset": "people",
        "dataset_version": 3,
        "columns": ["name", "nhs_number"],
        "row_count": 1,
        "subjects": [Subject("person_key", f"P{i:08d}")],
    }


def per_transaction(estate: Estate, make: Any, n: int) -> float:
    started = time.perf_counter()
    for i in range(n):
        record_now(estate, **make(i))
    return n / (time.perf_counter() - started)


def batched(estate: Estate, n: int) -> float:
    started = time.perf_counter()
    with estate.session() as session:
        for i in range(n):
            record(session, estate, **typical(i))
    return n / (time.perf_counter() - started)


def fresh(root: Path, name: str, synchronous: str = "FULL") -> Estate:
    estate = Estate.create(root / name)
    if synchronous != "FULL":
        # After the estate's own pragmas: a benchmark-only comparison, never the default.
        sa.event.listen(estate.engine, "connect", lambda dbapi, _: dbapi.execute(f"PRAGMA synchronous={synchronous}"))
        estate.engine.dispose()
    return estate


def build_chain(estate: Estate, n: int) -> float:
    """Write ``n`` valid, chained, MAC'd entries straight into the SQLite catalogue, with their checkpoints."""
    started = time.perf_counter()
    path = estate.catalogue_url.removeprefix("sqlite:///")
    columns_json = canonical_json(["name", "date_of_birth"])
    detail_json = canonical_json({"versions": {"people": 3}, "sql": "SELECT name FROM people WHERE postcode = ?"})
    subjects_json = canonical_json([])
    interval = checkpoint_interval(estate)
    key = make_chain_key(estate, 1, interval)
    signer = signing_key(estate)
    public = public_key_hex(signer.public_key())
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    prev = ZERO_HASH
    batch: list[tuple[Any, ...]] = []
    signed: list[Checkpoint] = []
    for seq in range(1, n + 1):
        at = f"2026-01-01T00:00:00.{seq % 1_000_000:06d}Z"
        fields = {
            "seq": seq, "at": at, "principal": "analyst1", "action": "data.query", "purpose": "caseload",
            "dataset": "people", "dataset_version": 3, "row_count": seq % 500, "prev_hash": prev,
        }  # fmt: skip
        digest = entry_hash(
            encode_entry(columns_json=columns_json, subjects_json=subjects_json, detail_json=detail_json, **fields)
        )
        batch.append((*fields.values(), columns_json, subjects_json, detail_json, digest, key.entry_mac(digest)))
        prev = digest
        if seq % interval == 0:
            unsigned = Checkpoint(seq, digest, at, estate.config.name, public, "")
            signed.append(Checkpoint(**{**unsigned.to_dict(), "signature": signer.sign(unsigned.message()).hex()}))
        if len(batch) == 50_000 or seq == n:
            con.executemany(
                "INSERT INTO audit_entries (seq, at, principal, action, purpose, dataset, dataset_version,"
                " row_count, prev_hash, columns, subjects, detail, hash, mac) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                batch,
            )
            batch.clear()
    con.executemany(
        "INSERT INTO audit_checkpoints (seq, hash, at, estate, public_key, signature) VALUES (?,?,?,?,?,?)",
        [(c.seq, c.hash, c.at, c.estate, c.public_key, c.signature) for c in signed],
    )
    con.execute(
        "UPDATE audit_head SET seq = ?, hash = ?, mac = ?, checkpoint_every = ? WHERE id = 1",
        (n, prev, key.head_mac(n, prev, interval), interval),
    )
    con.commit()
    con.close()
    if signed:
        keep_checkpoint(estate, signed[-1])
    return time.perf_counter() - started


PEOPLE_SCHEMA = """
fields:
  - {name: person_id, type: integer}
  - {name: name, type: string, personal: true, category: name}
  - {name: nhs_number, type: nhs_number, personal: true, category: identifier}
  - {name: postcode, type: postcode, personal: true, category: address}
  - {name: age, type: integer}
primaryKey: [person_id]
"""
POSTCODES = ["SW1A 1AA", "CF10 1EP", "M1 1AE", "B13 9AA", "E1 6AN", "LS1 4AP", "G2 1DY", "BT1 5GS"]


def people_csv(folder: Path, people: int) -> Path:
    """``people`` rows with valid, distinct NHS numbers (mod 11), written by DuckDB."""
    import duckdb

    path = folder / "people.csv"
    postcodes = ", ".join(f"'{p}'" for p in POSTCODES)
    digits = "CAST(400000000 + i AS VARCHAR)"
    weighted = f"list_sum(list_transform(range(1, 10), lambda k: CAST(substr({digits}, k, 1) AS INT) * (11 - k)))"
    con = duckdb.connect()
    con.execute(
        f"COPY (SELECT row_number() OVER (ORDER BY i) AS person_id, 'Person ' || i AS name, "
        f"{digits} || CAST(CASE WHEN c = 11 THEN 0 ELSE c END AS VARCHAR) AS nhs_number, "
        f"([{postcodes}])[1 + i % {len(POSTCODES)}] AS postcode, 18 + i % 80 AS age "
        f"FROM (SELECT i, 11 - ({weighted}) % 11 AS c FROM range({people * 11 // 10 + 20}) t(i)) "
        f"WHERE c != 10 LIMIT {people}) TO '{path}' (HEADER)"
    )
    con.close()
    return path


def logged_reads(estate: Estate, nhs: list[str], target: str, reads: int) -> None:
    """``reads`` query entries as the query command writes them: 60% lookups, 20% filters, 20% aggregates."""
    import random

    rng = random.Random(22)
    names = {"people", "person_id", "name", "nhs_number", "postcode", "age", "n"}
    for start in range(0, reads, 10_000):
        # One transaction per 10,000 entries, as a busy estate's batched writers would commit.
        with estate.session() as session:
            for i in range(start, min(start + 10_000, reads)):
                record(session, estate, **_read_entry(i, rng, nhs, target, names))


def _read_entry(i: int, rng: Any, nhs: list[str], target: str, names: set[str]) -> dict[str, Any]:
    pick = i % 10
    if pick < 6:
        who = target if i % 1000 == 0 else rng.choice(nhs)
        sql, columns = f"SELECT name, postcode FROM people WHERE nhs_number = '{who}'", ["name", "postcode"]
    elif pick < 8:
        place, age = rng.choice(POSTCODES), rng.randint(18, 97)
        sql = f"SELECT name, age FROM people WHERE postcode = '{place}' AND age > {age}"
        columns = ["name", "age"]
    elif pick == 8:
        sql, columns = f"SELECT count(*) AS n FROM people WHERE age < {rng.randint(18, 97)}", ["n"]
    else:
        sql, columns = "SELECT postcode, avg(age) AS n FROM people GROUP BY postcode", ["postcode", "n"]
    return {
        "principal": "analyst1", "action": "data.query", "purpose": "caseload", "dataset": "people",
        "dataset_version": 1, "columns": columns, "row_count": 1 + i % 50, "sql": sql, "names": names,
        "detail": {"versions": {"people": 1}, "truncated": False},
    }  # fmt: skip


def precise_who_accessed(root: Path, people: int, reads: int) -> dict[str, Any]:
    """Who-accessed over ``reads`` logged queries of a ``people``-row dataset: precise against the upper bound."""
    import duckdb

    from joinedup.access import bootstrap_admin
    from joinedup.audit import dataset_membership
    from joinedup.ingest import ingest
    from joinedup.schema import parse_schema

    estate = Estate.create(root / "precise")
    bootstrap_admin(estate, "admin1")
    started = time.perf_counter()
    source = people_csv(root, people)
    ingest(estate, source, dataset="people", principal="admin1", schema=parse_schema(PEOPLE_SCHEMA))
    load_s = time.perf_counter() - started
    nhs = [n for (n,) in duckdb.sql(f"SELECT nhs_number FROM read_csv('{source}', all_varchar=true)").fetchall()]
    target = nhs[len(nhs) // 2]
    started = time.perf_counter()
    logged_reads(estate, nhs, target, reads)
    log_s = time.perf_counter() - started
    started = time.perf_counter()
    bound = who_accessed(estate, "nhs_number", target, dataset_membership(estate))
    bound_s = time.perf_counter() - started
    started = time.perf_counter()
    precise = who_accessed(estate, "nhs_number", target)
    precise_s = time.perf_counter() - started
    estate.close()
    return {
        "people": people,
        "reads": reads,
        "ingest_s": round(load_s, 2),
        "log_write_s": round(log_s, 2),
        "upper_bound_s": round(bound_s, 2),
        "upper_bound_listed": len(bound.accesses) + len(bound.undetermined),
        "precise_s": round(precise_s, 2),
        "precise_counts": precise.counts(),
        "target_precise_s": 10,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000, help="chain length to verify")
    parser.add_argument("--appends", type=int, default=3_000, help="entries per append measurement")
    parser.add_argument("--people", type=int, default=1_000_000, help="rows of the dataset precise who-accessed reads")
    parser.add_argument("--reads", type=int, default=100_000, help="logged queries precise who-accessed decides")
    args = parser.parse_args()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as scratch:
        root = Path(scratch)
        full = fresh(root, "full")
        results["appends_per_s_one_per_transaction_full"] = round(per_transaction(full, typical, args.appends))
        results["appends_per_s_single_record_read_full"] = round(per_transaction(full, single_record, args.appends))
        normal = fresh(root, "normal", "NORMAL")
        results["appends_per_s_one_per_transaction_normal"] = round(per_transaction(normal, typical, args.appends))
        results["appends_per_s_batch_one_transaction"] = round(batched(full, 20_000))
        ok = verify(full)
        results["verify_after_appends_ok"] = ok.ok
        chain = fresh(root, "chain")
        results["chain_entries"] = args.entries
        results["chain_build_s"] = round(build_chain(chain, args.entries), 2)
        report = verify(chain)
        if not report.ok:
            raise SystemExit(f"the benchmark's own chain failed verification: {report.problem}")
        results["verify_s"] = report.seconds
        results["verify_entries_per_s"] = round(report.entries / report.seconds) if report.seconds else None
        results["verify_ok"] = report.ok
        # Filters scan the table (no secondary indexes, to keep appends cheap): measure what that costs.
        started = time.perf_counter()
        log(chain, principal="nobody", limit=100)
        results["log_filter_scan_s"] = round(time.perf_counter() - started, 2)
        started = time.perf_counter()
        who_accessed(chain, "nhs_number", "9434765919", lambda scope, kind, value: False)
        results["who_accessed_over_all_bulk_reads_s"] = round(time.perf_counter() - started, 2)
        results["targets"] = {"appends_per_s": 5_000, "verify_1m_s": 10}
        results["precise_who_accessed"] = precise_who_accessed(root, args.people, args.reads)
        for estate in (full, normal, chain):
            estate.close()
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
