"""Ingest benchmark: ``joinedup ingest`` against a plain DuckDB per-rule count of the same file.

    .venv/bin/python benchmarks/ingest.py [--rows 1000000] [--out DIR] [--seed 1]

Generates (seeded) a people CSV with about 2% planted errors and a few ragged
rows, then times two children, one after the other, each in its own process so
wall time and peak memory compare like for like:

* baseline: one DuckDB connection reads the file with ``read_csv(all_varchar=true)``
  and counts, per column and rule, the rows failing each rule the schema declares,
  using joinedup's SQL macros for the UK types and plain SQL for the rest;
* ingest: ``joinedup ingest FILE --dataset people --schema SCHEMA --json`` in a
  fresh estate (``joinedup init`` runs first and is not timed).

Then, in the estate the last ingest left, it times ``joinedup ingest CHANGES
--mode upsert`` of ``--upsert-rows`` (default 10,000) rows taken from the stored
table with their amount changed: the merge of a daily delta into the table.

Prints one JSON object on stdout (progress goes to stderr).
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

import yaml

from joinedup.storage.duck import quote_identifier as ident
from joinedup.storage.duck import quote_literal as literal

TARGET_RATIO = 2.5
TARGET_PEAK_MB = 1536  # 1.5 GiB for a million rows
TARGET_PEAK_MB_LARGE = 3072  # 3 GiB from ten million rows
TARGET_UPSERT_SECONDS = 3.0  # 10,000 changed rows into a million
LARGE = 10_000_000
ERROR_RATE = 0.02
#: One ragged row per this many rows: enough to exercise the reject path of both readers.
RAGGED_EVERY = 100_000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows to generate (default 1,000,000)")
    parser.add_argument(
        "--out", type=Path, help="scratch folder for the file and estate (default: a temporary one, removed after)"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs of each side, alternating (default 3); medians are compared"
    )
    parser.add_argument(
        "--upsert-rows", type=int, default=10_000, help="changed rows merged into the table afterwards (default 10,000)"
    )
    parser.add_argument("--baseline", nargs=2, metavar=("CSV", "SCHEMA"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.baseline:
        print(json.dumps(baseline_counts(Path(args.baseline[0]), Path(args.baseline[1]))))
        return 0
    scratch = args.out or Path(tempfile.mkdtemp(prefix="joinedup-bench-"))
    try:
        print(json.dumps(run(scratch, args.rows, args.seed, max(1, args.repeat), args.upsert_rows), indent=2))
    finally:
        if args.out is None:
            shutil.rmtree(scratch, ignore_errors=True)
    return 0


def run(scratch: Path, rows: int, seed: int, repeat: int = 3, upsert_rows: int = 10_000) -> dict[str, Any]:
    scratch.mkdir(parents=True, exist_ok=True)
    data, schema, planted, generation = prepare(scratch, rows, seed)
    cli = joinedup_command()
    estate = scratch / "estate"
    baseline_command = [sys.executable, str(Path(__file__).resolve()), "--baseline", str(data), str(schema)]
    ingest_command = [
        *cli,
        "ingest",
        str(data),
        "--dataset",
        "people",
        "--schema",
        str(schema),
        "--json",
        "--estate",
        str(estate),
    ]

    # The two alternate, so a burst of load from elsewhere on a shared machine
    # falls on both sides; the medians are compared.
    bases: list[dict[str, Any]] = []
    ingests: list[dict[str, Any]] = []
    for attempt in range(1, repeat + 1):
        say(f"[{attempt}/{repeat}] baseline: DuckDB per-rule counts ...")
        base = measure(baseline_command, scratch / "baseline")
        if base["exit_code"] != 0:
            raise SystemExit(f"the baseline failed:\n{base['stderr']}")
        bases.append(base)
        if (estate / "joinedup.toml").exists():
            shutil.rmtree(estate)
        subprocess.run([*cli, "init", str(estate), "--json"], check=True, capture_output=True)
        say(f"[{attempt}/{repeat}] ingest: joinedup ingest ...")
        ing = measure(ingest_command, scratch / "ingest")
        ingests.append(ing)
        if ing["exit_code"] != 0:
            break
    base_counts = json.loads(bases[-1]["stdout"])
    ing = ingests[-1]
    summary = json.loads(ing["stdout"]) if ing["exit_code"] == 0 else None

    large = rows >= LARGE
    peak_target = TARGET_PEAK_MB_LARGE if large else TARGET_PEAK_MB
    base_seconds = statistics.median(b["seconds"] for b in bases)
    ingest_seconds = statistics.median(i["seconds"] for i in ingests)
    ratio = ingest_seconds / base_seconds if base_seconds else None
    ingest_peak = max(i["peak_rss_mb"] for i in ingests)
    by_rule = compare(planted, base_counts["rule_counts"], summary["rule_counts"] if summary else {})
    upsert = measure_upsert(cli, estate, scratch, upsert_rows, repeat) if summary else None
    return {
        "rows": rows,
        "columns": len(yaml.safe_load(schema.read_text(encoding="utf-8"))["fields"]),
        "file": str(data),
        "file_mb": round(data.stat().st_size / 2**20, 1),
        "generation_seconds": generation,
        "cores": os.cpu_count(),
        "repeat": len(ingests),
        "baseline": {**_summarised(bases), "rows_read": base_counts["rows_read"]},
        "ingest": {**_summarised(ingests), "summary": summary},
        "ratio": round(ratio, 2) if ratio is not None else None,
        "ratios": [round(i["seconds"] / b["seconds"], 2) for b, i in zip(bases, ingests, strict=False)],
        "targets": {
            "ratio_max": TARGET_RATIO,
            "ingest_peak_mb_max": peak_target,
            "ratio_met": summary is not None and ratio is not None and ratio <= TARGET_RATIO,
            "memory_met": summary is not None and ingest_peak < peak_target,
            "upsert_seconds_max": TARGET_UPSERT_SECONDS,
            "upsert_met": upsert is not None
            and upsert["exit_code"] == 0
            and upsert["seconds"] <= TARGET_UPSERT_SECONDS,
        },
        "upsert": upsert,
        "counts_agree": all(r["planted"] == r["baseline"] == r["ingest"] for r in by_rule),
        "counts_by_rule": by_rule,
    }


def measure_upsert(cli: list[str], estate: Path, scratch: Path, changed: int, repeat: int) -> dict[str, Any]:
    """Time ``--mode upsert`` of ``changed`` stored rows with a new amount, ``repeat`` times (each a new version)."""
    changes = scratch / "changes.csv"
    changed = write_changes(estate, changes, changed)
    command = [
        *cli,
        "ingest",
        str(changes),
        "--dataset",
        "people",
        "--mode",
        "upsert",
        "--json",
        "--estate",
        str(estate),
    ]
    runs = []
    for attempt in range(1, repeat + 1):
        say(f"[{attempt}/{repeat}] upsert: joinedup ingest --mode upsert of {changed:,} changed rows ...")
        runs.append(measure(command, scratch / "upsert"))
        if runs[-1]["exit_code"] != 0:
            break
    last = runs[-1]
    summary = json.loads(last["stdout"]) if last["exit_code"] == 0 else None
    return {**_summarised(runs), "rows_changed": changed, "summary": summary}


def write_changes(estate: Path, path: Path, changed: int) -> int:
    """Write a CSV of ``changed`` rows of the stored table (fewer if it is smaller), spread through it, each with
    its amount raised by a penny; returns how many it wrote."""
    import duckdb

    from joinedup.estate import Catalogue, Estate
    from joinedup.storage import delta

    opened = Estate.open(estate)
    try:
        info = Catalogue(opened).get("people")
        stored = delta.snapshot(opened.table_path("people"), info.version(None).table_version)
        fields = [f["name"] for f in (info.schema or {})["fields"]]
    finally:
        opened.close()
    con = duckdb.connect()
    con.register("stored", stored)
    columns = ", ".join(
        "round(coalesce(amount, 0) + 0.01, 2) AS amount" if name == "amount" else ident(name) for name in fields
    )
    # Evenly spread keys touch most of the table's files, as a real daily delta does.
    [(written,)] = con.execute(
        f"COPY (SELECT {columns} FROM (SELECT *, row_number() OVER (ORDER BY person_id) AS n, "
        "count(*) OVER () AS total FROM stored) "
        f"WHERE n % greatest(total // {int(changed)}, 1) = 0 ORDER BY person_id LIMIT {int(changed)}) "
        f"TO {literal(str(path))} (HEADER)"
    ).fetchall()
    con.close()
    return int(written)


def _summarised(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Median seconds (the figure compared), every run's seconds, the highest peak memory, the last exit code."""
    last = runs[-1]
    summary = {
        "seconds": round(statistics.median(r["seconds"] for r in runs), 2),
        "runs_seconds": [r["seconds"] for r in runs],
        "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
        "exit_code": last["exit_code"],
    }
    if "stderr" in last:
        summary["stderr"] = last["stderr"]
    return summary


def prepare(scratch: Path, rows: int, seed: int) -> tuple[Path, Path, dict[str, dict[str, int]], float | None]:
    """The CSV, its schema and the planted counts; a file from an earlier run with the same settings is reused."""
    from joinedup.synthetic import generate_people, people_schema, write_csv, write_schema

    data = scratch / "people.csv"
    schema = write_schema(scratch / "people.yaml", people_schema())
    manifest = scratch / "people.manifest.json"
    settings = {"rows": rows, "seed": seed, "error_rate": ERROR_RATE, "ragged_rows": rows // RAGGED_EVERY}
    if data.exists() and manifest.exists():
        known = json.loads(manifest.read_text(encoding="utf-8"))
        if known["settings"] == settings and known["bytes"] == data.stat().st_size:
            say(f"reusing {data}")
            return data, schema, known["rule_counts"], None
    say(f"generating {rows:,} rows into {data} ...")
    started = time.perf_counter()
    truth = write_csv(
        data, generate_people(rows, seed=seed, error_rate=ERROR_RATE, ragged_rows=settings["ragged_rows"])
    )
    seconds = round(time.perf_counter() - started, 2)
    counts = truth.rule_counts()
    manifest.write_text(
        json.dumps({"settings": settings, "bytes": data.stat().st_size, "rule_counts": counts}), encoding="utf-8"
    )
    return data, schema, counts, seconds


def measure(command: list[str], log: Path) -> dict[str, Any]:
    """Run ``command`` alone; its own wall time and peak RSS (``os.wait4`` reports only that child)."""
    out, err = log.with_suffix(".out"), log.with_suffix(".err")
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=stdout, stderr=stderr)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)  # already reaped: Popen must not wait again
    result: dict[str, Any] = {
        "seconds": round(seconds, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),  # Linux reports KiB
        "exit_code": process.returncode,
        "stdout": out.read_text(encoding="utf-8"),
    }
    if process.returncode != 0:
        result["stderr"] = err.read_text(encoding="utf-8", errors="replace")[-2000:]
    return result


def joinedup_command() -> list[str]:
    script = Path(sys.executable).with_name("joinedup")
    return [str(script)] if script.exists() else [sys.executable, "-m", "joinedup.cli.main"]


def compare(
    planted: dict[str, dict[str, int]], base: dict[str, dict[str, int]], ingest: dict[str, dict[str, int]]
) -> list[dict[str, Any]]:
    keys = sorted({(c, r) for counts in (planted, base, ingest) for c, rules in counts.items() for r in rules})
    return [
        {
            "column": column,
            "rule": rule,
            "planted": planted.get(column, {}).get(rule, 0),
            "baseline": base.get(column, {}).get(rule, 0),
            "ingest": ingest.get(column, {}).get(rule, 0),
        }
        for column, rule in keys
    ]


# -- the baseline, run in its own process -------------------------------------------


def baseline_counts(data: Path, schema_path: Path) -> dict[str, Any]:
    """Per-rule failure counts straight from DuckDB: what ingest's validation costs at the least."""
    import duckdb

    from joinedup.standards import UK_TYPES, install_macros

    schema = yaml.safe_load(schema_path.read_text(encoding="utf-8"))
    fields = schema["fields"]
    con = duckdb.connect()
    install_macros(con, [f["type"] for f in fields if f["type"] in UK_TYPES])
    source = (
        f"read_csv({literal(str(data))}, header = true, all_varchar = true, store_rejects = true, "
        "rejects_table = 'bench_rejects', rejects_scan = 'bench_scans')"
    )
    texts = ", ".join(f"NULLIF(trim({ident(f['name'])}), '') AS t{i}" for i, f in enumerate(fields))
    values = ", ".join(f"{typed(f, f't{i}')} AS v{i}" for i, f in enumerate(fields))
    checks = [(f["name"], rule, sql) for i, f in enumerate(fields) for rule, sql in rules(f, f"t{i}", f"v{i}")]
    counts = ", ".join(f"count(*) FILTER (WHERE {sql})" for *_, sql in checks)
    keys = [[k] for k in schema.get("primaryKey", [])[:1]] + [
        [f["name"]]
        for f in fields
        if f.get("constraints", {}).get("unique") and [f["name"]] != schema.get("primaryKey")
    ]
    duplicates = []
    for names in keys:
        i = next(j for j, f in enumerate(fields) if f["name"] == names[0])
        rule = "primaryKey" if names == schema.get("primaryKey") else "unique"
        duplicates.append(
            (
                names[0],
                rule,
                (
                    "(SELECT coalesce(sum(n - 1), 0) FROM "
                    f"(SELECT count(*) AS n FROM s WHERE v{i} IS NOT NULL GROUP BY v{i} HAVING n > 1))"
                ),
            )
        )
    tail = "".join(f", {sql}" for *_, sql in duplicates)
    query = f"WITH s AS (SELECT *, {values} FROM (SELECT {texts} FROM {source})) SELECT count(*), {counts}{tail} FROM s"
    # fetchall, not fetchone: DuckDB writes the rejects table only when the result is read to the end.
    [row] = con.execute(query).fetchall()
    [(ragged,)] = con.execute("SELECT count(DISTINCT (file_id, line)) FROM bench_rejects").fetchall()
    result: dict[str, dict[str, int]] = {}
    for (column, rule, _), count in zip([*checks, *duplicates], row[1:], strict=True):
        if count:
            result.setdefault(column, {})[rule] = int(count)
    if ragged:
        result["(row)"] = {"columns": int(ragged)}
    return {"rows_read": int(row[0]) + int(ragged), "rule_counts": dict(sorted(result.items()))}


_NUMBER = r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?"


def typed(field: dict[str, Any], t: str) -> str:
    """SQL for the typed value of the trimmed text ``t``; NULL when it is not a valid value."""
    kind = field["type"]
    if kind in ("string", "any"):
        return t
    if kind == "integer":
        return f"CASE WHEN regexp_full_match({t}, '[+-]?[0-9]+') THEN TRY_CAST({t} AS BIGINT) END"
    if kind == "number":
        return f"CASE WHEN regexp_full_match({t}, {literal(_NUMBER)}) THEN TRY_CAST({t} AS DOUBLE) END"
    if kind == "date":
        return f"CASE WHEN regexp_full_match({t}, '[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}') THEN TRY_CAST({t} AS DATE) END"
    return f"jd_{kind}({t})"  # a UK type: the project's macro


def rules(field: dict[str, Any], t: str, v: str) -> list[tuple[str, str]]:
    constraints = field.get("constraints", {})
    found = []
    if constraints.get("required"):
        found.append(("required", f"{t} IS NULL"))
    if field["type"] not in ("string", "any"):
        found.append((field["type"], f"{t} IS NOT NULL AND {v} IS NULL"))
    if "pattern" in constraints:
        found.append(("pattern", f"{t} IS NOT NULL AND NOT regexp_full_match({t}, {literal(constraints['pattern'])})"))
    if "enum" in constraints:
        found.append(("enum", f"{v} NOT IN ({', '.join(literal(str(x)) for x in constraints['enum'])})"))
    for rule, op in (("minimum", "<"), ("maximum", ">")):
        if rule in constraints:
            bound = constraints[rule]
            found.append((rule, f"{v} {op} {f'DATE {literal(str(bound))}' if field['type'] == 'date' else bound}"))
    return found


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
