"""Quality benchmark: ``joinedup.quality.measure`` against the same metrics written by hand in DuckDB.

    .venv/bin/python benchmarks/quality.py [--rows 1000000] [--out DIR] [--repeat 3]

Builds an estate (not timed) with a ``people`` dataset of ``--rows`` rows, a
``gp`` dataset (a tenth of the size, some dates of birth differing) and a
``postcodes`` reference list, and registers ten custom rules on ``people``
(every dimension: a conditional completeness, a combination uniqueness, a
cross-field and a cross-dataset consistency, a lag and a freshness, a range, a
code list, a regular expression and a UK type, a reference-list accuracy) on top of
its default rules. Then it times, alternately and each in its own process so wall
time and peak memory compare like for like:

* quality: ``measure(estate, "people")`` — rules compiled to one aggregate scan
  plus one for the joined rules, results, drift, cost, issues and audit entry stored;
* hand: the same metrics (rule counts, distinct counts, the drift profile) written
  by hand as two plain DuckDB queries over the same Delta snapshot.

Prints one JSON object on stdout: both medians, their ratio, peak memory.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TARGET_RATIO = 1.5
TARGET_SECONDS = 3.0
TARGET_PEAK_MB = 1024

SCHEMA = """
fields:
  - {name: person_id, type: integer, constraints: {required: true}}
  - {name: name, type: string, personal: true, category: name, constraints: {required: true}}
  - {name: nhs_number, type: nhs_number, personal: true, category: identifier}
  - {name: postcode, type: postcode, personal: true, category: address}
  - {name: date_of_birth, type: date, personal: true, category: date_of_birth}
  - {name: date_of_death, type: date}
  - {name: sex, type: string}
  - {name: gss_code, type: string}
  - {name: amount, type: number}
  - {name: event_date, type: date}
primaryKey: [person_id]
"""
RULES = """
update_frequency: daily
rules:
  - {id: gss-when-female, check: completeness, column: gss_code, where: "sex = 'F'", target: 0.9}
  - {id: name-dob-unique, check: uniqueness, columns: [name, date_of_birth], target: 0.99}
  - {id: death-after-birth, check: expression, expression: "date_of_death >= date_of_birth", importance: high}
  - {id: dob-as-at-gp, check: cross_dataset, columns: [nhs_number, date_of_birth], reference: gp, target: 0.99}
  - {id: event-loaded-soon, check: lag, column: event_date, max_lag_days: 1100, target: 0.9}
  - {id: amount-range, check: range, column: amount, minimum: 0, maximum: 9000}
  - {id: sex-coded, check: values, column: sex, values: [M, F, X]}
  - {id: name-capitalised, check: pattern, column: name, pattern: "[A-Z].*", importance: low}
  - {id: gss-valid, check: uk_type, column: gss_code, type: gss_code}
  - {id: postcode-known, check: reference, column: postcode, reference: postcodes.postcode, target: 0.95}
"""
POSTCODES = ["SW1A 1AA", "SW1A 2AA", "CF10 1AA", "BT1 1AA", "EH1 1YZ", "M1 1AE", "LS1 1UR", "B1 1BB", "NE1 7RU"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, help="scratch folder (default: a temporary one, removed after)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each side, alternating; medians compared")
    parser.add_argument("--side", choices=["quality", "hand", "build"], help=argparse.SUPPRESS)
    parser.add_argument("--estate", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.side == "build":
        build(args.estate, args.rows)
        return 0
    if args.side:
        print(json.dumps(_side(args.side, args.estate)))
        return 0
    scratch = args.out or Path(tempfile.mkdtemp(prefix="joinedup-qbench-"))
    try:
        print(json.dumps(run(scratch, args.rows, max(1, args.repeat)), indent=2))
    finally:
        if args.out is None:
            shutil.rmtree(scratch, ignore_errors=True)
    return 0


def run(scratch: Path, rows: int, repeat: int) -> dict[str, Any]:
    scratch.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    # Built in a child: a child forked from a parent that had held the data would inherit its peak memory.
    estate = scratch / "estate"
    subprocess.run([sys.executable, __file__, "--side", "build", "--rows", str(rows), "--estate", str(estate)],
                   check=True)  # fmt: skip
    built = round(time.perf_counter() - started, 1)
    runs: dict[str, list[dict[str, Any]]] = {"quality": [], "hand": []}
    for _ in range(repeat):
        for side in ("hand", "quality"):
            runs[side].append(_child(side, estate))
            _say(f"{side}: {runs[side][-1]['seconds']:.2f} s, peak {runs[side][-1]['peak_rss_mb']} MB")
    quality = _summary(runs["quality"])
    hand = _summary(runs["hand"])
    ratio = round(quality["seconds"] / hand["seconds"], 2) if hand["seconds"] else None
    return {
        "rows": rows,
        "rules": quality["result"]["rules"],
        "custom_rules": 10,
        "setup_seconds": built,
        "quality": {k: v for k, v in quality.items() if k != "result"},
        "hand": {k: v for k, v in hand.items() if k != "result"},
        "ratio": ratio,
        "ratios": [round(q["seconds"] / h["seconds"], 2) for q, h in zip(runs["quality"], runs["hand"], strict=True)],
        "counts_agree": quality["result"]["failing"] == hand["result"]["failing"],
        "failing_by_rule": quality["result"]["failing"],
        "targets": {
            "ratio_max": TARGET_RATIO,
            "seconds_max": TARGET_SECONDS,
            "peak_mb_max": TARGET_PEAK_MB,
            "ratio_met": ratio is not None and ratio <= TARGET_RATIO,
            "seconds_met": quality["seconds"] < TARGET_SECONDS,
            "memory_met": quality["peak_rss_mb"] < TARGET_PEAK_MB,
        },
    }


def build(root: Path, rows: int) -> Path:
    """An estate at ``root`` holding people (``rows``), gp and postcodes, with the ten custom rules registered."""
    import duckdb

    from joinedup.access import bootstrap_admin
    from joinedup.estate import Estate
    from joinedup.ingest import ingest
    from joinedup.quality import add_rules
    from joinedup.schema import parse_schema

    scratch = root.parent
    shutil.rmtree(root, ignore_errors=True)
    estate = Estate.create(root)
    bootstrap_admin(estate, "bench")
    con = duckdb.connect()
    postcodes = ", ".join(f"'{p}'" for p in POSTCODES)
    people = scratch / "people.parquet"
    _say(f"generating {rows:,} rows")
    con.execute(f"""
        COPY (
          WITH base AS (
            SELECT i, 100000000 + (hash(i) % 899999999)::BIGINT AS nine FROM range({rows}) t(i)
          ), digits AS (
            SELECT i, nine, 11 - (list_sum(list_transform(range(9),
                   lambda k: ((nine // (10 ** (8 - k))::BIGINT) % 10) * (10 - k))) % 11) AS c FROM base
          )
          SELECT i + 1 AS person_id,
                 ['Sam', 'Bill', 'Dai', 'Siobhan', 'Mohammed', 'ann'][1 + i % 6] || ' Person' || (i % 50000) AS name,
                 CASE WHEN c = 10 THEN NULL ELSE nine::VARCHAR || (CASE WHEN c = 11 THEN 0 ELSE c END)::VARCHAR
                 END AS nhs_number,
                 CASE WHEN i % 40 = 0 THEN 'AB10 1AB' ELSE [{postcodes}][1 + i % {len(POSTCODES)}] END AS postcode,
                 DATE '1930-01-01' + (i % 30000)::INTEGER AS date_of_birth,
                 CASE WHEN i % 97 = 0 THEN DATE '1930-01-01' + (i % 30000)::INTEGER - 5
                      WHEN i % 13 = 0 THEN DATE '2024-01-01' END AS date_of_death,
                 ['M', 'F', 'X', 'U'][1 + i % 4] AS sex,
                 CASE WHEN i % 11 = 0 THEN NULL WHEN i % 101 = 0 THEN 'Q99' ELSE 'E0600000' || (i % 10)
                 END AS gss_code,
                 (i % 10000)::DOUBLE AS amount,
                 DATE '2024-01-01' + (i % 700)::INTEGER AS event_date
          FROM digits
        ) TO '{people}' (FORMAT parquet)
    """)
    gp = scratch / "gp.parquet"
    con.execute(f"""COPY (SELECT person_id, name, nhs_number, postcode,
                   CASE WHEN person_id % 7 = 0 THEN date_of_birth + 1 ELSE date_of_birth END AS date_of_birth,
                   date_of_death, sex, gss_code, amount, event_date
                   FROM '{people}' WHERE person_id % 10 = 0) TO '{gp}' (FORMAT parquet)""")
    codes = scratch / "postcodes.csv"
    codes.write_text("postcode\n" + "\n".join(POSTCODES) + "\n", encoding="utf-8")
    schema = parse_schema(SCHEMA)
    _say("ingesting (not timed)")
    ingest(estate, people, dataset="people", principal="bench", schema=schema)
    ingest(estate, gp, dataset="gp", principal="bench", schema=schema)
    ingest(estate, codes, dataset="postcodes", principal="bench",
           schema=parse_schema("fields:\n  - {name: postcode, type: postcode}\n"))  # fmt: skip
    rules = scratch / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    add_rules(estate, "people", rules, principal="bench")
    estate.close()
    return root


def _side(side: str, root: Path) -> dict[str, Any]:
    """One timed run in this (fresh) process."""
    from joinedup.estate import Estate

    estate = Estate.open(root)
    started = time.perf_counter()
    if side == "quality":
        from joinedup.quality import measure

        result = measure(estate, "people", principal="bench")
        seconds = time.perf_counter() - started
        failing = {r["id"]: r["rows_failing"] for r in result.rules if r["check"] not in ("quarantine", "freshness")}
        return {"seconds": seconds, "rules": len(result.rules), "failing": failing}
    failing = _hand(estate)
    return {"seconds": time.perf_counter() - started, "rules": None, "failing": failing}


def _hand(estate: Any) -> dict[str, int]:
    """The same metrics, as someone would write them by hand in DuckDB over the same snapshots."""
    from joinedup.estate import Catalogue
    from joinedup.storage import delta
    from joinedup.storage.duck import connect

    catalogue = Catalogue(estate)
    con_context = connect(memory_limit=estate.config.memory_limit, threads=estate.config.threads,
                          temp_dir=estate.tmp_dir / "hand")  # fmt: skip
    with con_context as con:
        for name, view in (("people", "t"), ("gp", "gp"), ("postcodes", "pc")):
            current = catalogue.get(name).current
            assert current is not None
            con.register(view, delta.snapshot(estate.table_path(name), current.table_version))
        main = con.execute("""
            SELECT
              count(*) FILTER (WHERE person_id IS NULL) AS "completeness.person_id",
              count(*) FILTER (WHERE name IS NULL) AS "completeness.name",
              count(*) FILTER (WHERE nhs_number IS NULL) AS "completeness.nhs_number",
              count(*) FILTER (WHERE postcode IS NULL) AS "completeness.postcode",
              count(*) FILTER (WHERE date_of_birth IS NULL) AS "completeness.date_of_birth",
              count(person_id) - count(DISTINCT person_id) AS "uniqueness.person_id",
              count(nhs_number) - count(DISTINCT nhs_number) AS "uniqueness.nhs_number",
              count(*) FILTER (WHERE sex = 'F' AND gss_code IS NULL) AS "gss-when-female",
              count(*) FILTER (WHERE name IS NOT NULL AND date_of_birth IS NOT NULL)
                - count(DISTINCT row(name, date_of_birth)) AS "name-dob-unique",
              count(*) FILTER (WHERE date_of_death < date_of_birth) AS "death-after-birth",
              count(*) FILTER (WHERE date_diff('day', event_date, current_date) > 1100) AS "event-loaded-soon",
              count(*) FILTER (WHERE amount < 0 OR amount > 9000) AS "amount-range",
              count(*) FILTER (WHERE sex NOT IN ('M', 'F', 'X')) AS "sex-coded",
              count(*) FILTER (WHERE NOT regexp_full_match(name, '[A-Z].*')) AS "name-capitalised",
              count(*) FILTER (WHERE jd_gss_code(gss_code) IS NULL AND gss_code IS NOT NULL) AS "gss-valid",
              count(person_id), approx_count_distinct(person_id), avg(person_id),
              count(name), approx_count_distinct(name), count(nhs_number), approx_count_distinct(nhs_number),
              count(postcode), approx_count_distinct(postcode), count(date_of_birth),
              approx_count_distinct(date_of_birth), count(date_of_death), approx_count_distinct(date_of_death),
              count(sex), approx_count_distinct(sex), count(gss_code), approx_count_distinct(gss_code),
              count(amount), approx_count_distinct(amount), avg(amount),
              count(event_date), approx_count_distinct(event_date)
            FROM t
        """)
        names = [d[0] for d in main.description][:15]
        values = main.fetchone()
        assert values is not None
        failing = dict(zip(names, values[:15], strict=True))
        joined = con.execute("""
            SELECT
              count(*) FILTER (WHERE postcode IS NOT NULL AND postcode NOT IN (SELECT postcode FROM pc)),
              count(*) FILTER (WHERE EXISTS (SELECT 1 FROM gp WHERE gp.nhs_number = t.nhs_number
                                             AND gp.date_of_birth <> t.date_of_birth))
            FROM t
        """).fetchone()
        assert joined is not None
        failing["postcode-known"], failing["dob-as-at-gp"] = joined
    return {k: int(v) for k, v in failing.items()}


def _child(side: str, estate: Path) -> dict[str, Any]:
    """Run one side in its own process: its wall time (from inside) and peak RSS (``os.wait4``)."""
    command = [sys.executable, __file__, "--side", side, "--estate", str(estate)]
    with tempfile.TemporaryFile() as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(process.pid, 0)
        stderr = process.stderr.read().decode() if process.stderr else ""
        out.seek(0)
        text = out.read().decode()
    if status != 0:
        raise SystemExit(f"{side} failed: {stderr[-2000:]}")
    result = json.loads(text)
    return {"seconds": result["seconds"], "peak_rss_mb": round(usage.ru_maxrss / 1024, 1), "result": result}


def _summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "seconds": round(statistics.median(r["seconds"] for r in runs), 3),
        "runs_seconds": [round(r["seconds"], 3) for r in runs],
        "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
        "result": runs[-1]["result"],
    }


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
