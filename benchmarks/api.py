"""API benchmark: a single-record read through joinedup's API against a bare FastAPI endpoint serving the same JSON.

Prints one JSON object. Run: ``.venv/bin/python benchmarks/api.py [--rows 10000]
[--concurrency 16] [--seconds 10] [--repeat 3] [--rate 100] [--rate-seconds 10] [--quick] [--postgres URL]``.

Both servers run in their own process under uvicorn on loopback (same uvicorn
settings), and the same load generator (``benchmarks/loadgen.py``, raw asyncio
sockets with keep-alive) drives both in this process:

- **joinedup**: ``GET /v1/datasets/people/records/{id}`` with a bearer token:
  token check, quota, the client's and agreement's revocation looked up, the
  agreement's fields and row filters, the objections filter, pseudonyms, and the
  audit entry committed (group commit, ``synchronous=FULL``) before the answer;
  cycling over ``--ids`` different records (different people);
- **bare**: a FastAPI ``async def`` endpoint at the same path returning that
  record's JSON, parsed once at start, from memory.

Phases: a short warm-up of each server; closed loops at ``--concurrency``
connections for ``--seconds`` (throughput), alternating bare and joinedup
``--repeat`` times so both meet the same spells of load on a shared machine
(the median pair's ratio is reported, with every pair's); then an open loop on
each at ``--rate`` requests a second for ``--rate-seconds`` (latency measured
from each request's scheduled time). Afterwards the audit log must
hold one entry per joinedup read and verify.

Targets (PRODUCT.md): joinedup at least half the bare throughput; p99 under
50 ms at 100 requests a second.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import loadgen  # a sibling script

RECORD = "/v1/datasets/people/records"
ADMIN = "bench"
SCHEMA = """
fields:
  - {name: person_id, type: integer, constraints: {required: true}}
  - {name: name, type: string, personal: true, category: name}
  - {name: nhs_number, type: nhs_number, personal: true, category: identifier}
  - {name: postcode, type: postcode, personal: true, category: address}
  - {name: date_of_birth, type: date, personal: true, category: date_of_birth}
  - {name: sex, type: string, constraints: {enum: [M, F, X, U]}}
primaryKey: [person_id]
"""
AGREEMENT = """
id: DSA-BENCH
title: Benchmark agreement
parties:
  - {name: Example Council, role: controller}
  - {name: Partner University, role: controller, receives: true}
purpose: Research into housing need
purpose_category: research
legal_gateway: {name: Digital Economy Act 2017 Part 5, objective: research}
lawful_basis: {article_6: public_task}
datasets:
  - name: people
    fields: [person_id, nhs_number, postcode, date_of_birth, sex]
    pseudonymised: [nhs_number]
    rows:
      - {field: sex, op: ne, value: U}
recipient_retention: {period: 2 years, deletion: secure deletion}
security: [Cyber Essentials Plus]
start: 2020-01-01
end: 2099-12-31
review: 2099-01-01
dpia: DPIA-BENCH
"""


def nhs_number(n: int) -> str:
    """The ``n``-th valid NHS number (mod 11 check digit) from a fixed start."""
    while True:
        digits = f"{400000000 + n:09d}"
        check = 11 - sum(int(d) * w for d, w in zip(digits, range(10, 1, -1), strict=True)) % 11
        if check != 10:
            return digits + str(0 if check == 11 else check)
        n += 10_000_000


def build_estate(root: Path, rows: int, objectors: int) -> None:
    from joinedup.access import bootstrap_admin
    from joinedup.estate import Estate
    from joinedup.ingest import ingest
    from joinedup.schema import parse_schema
    from joinedup.sharing.agreements import add_agreement
    from joinedup.sharing.clients import add_client
    from joinedup.sharing.objections import add_objection

    estate = Estate.create(root / "estate")
    bootstrap_admin(estate, ADMIN)
    csv = root / "people.csv"
    postcodes = ["SW1A 1AA", "LS1 4AP", "M1 1AE", "CF10 1EP", "EH1 1YZ"]
    with csv.open("w", encoding="utf-8") as out:
        out.write("person_id,name,nhs_number,postcode,date_of_birth,sex\n")
        for i in range(rows):
            born = f"{1940 + i % 60}-{1 + i % 12:02d}-{1 + i % 28:02d}"
            out.write(f"{i},Person {i},{nhs_number(i)},{postcodes[i % 5]},{born},{'MFX'[i % 3]}\n")
    ingest(estate, csv, dataset="people", principal=ADMIN, schema=parse_schema(SCHEMA))
    (root / "agreement.yaml").write_text(AGREEMENT, encoding="utf-8")
    add_agreement(estate, ADMIN, root / "agreement.yaml")
    issued = add_client(estate, ADMIN, "bench-partner", "DSA-BENCH")
    for i in range(objectors):
        add_objection(estate, ADMIN, nhs_number=nhs_number(i * (rows // max(objectors, 1))), purposes=("research",))
    estate.config.extra["api"] = {"quota_per_minute": 1_000_000, "quota_burst": 100_000}
    estate.config.save(estate.root)
    estate.close()
    (root / "client.json").write_text(json.dumps({"id": issued.client.id, "secret": issued.secret}))


def serve(kind: str, port: int, target: Path) -> None:
    """The child process: one uvicorn server, joinedup's API or the bare endpoint."""
    import uvicorn
    from fastapi import FastAPI

    if kind == "joinedup":
        from joinedup.api import create_app

        app = create_app(target)
    else:
        payload = json.loads(target.read_text(encoding="utf-8"))
        app = FastAPI()

        @app.get(RECORD + "/{record_id}")
        async def bare(record_id: str) -> dict[str, Any]:
            return payload  # type: ignore[no-any-return]

    uvicorn.run(app, host="127.0.0.1", port=port, access_log=False, log_level="warning")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start(kind: str, target: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    child = subprocess.Popen([sys.executable, __file__, "--serve", kind, "--port", str(port), "--target", str(target)])
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=2)
            return child, port
        except httpx.TransportError:
            if time.monotonic() > deadline or child.poll() is not None:
                raise RuntimeError(f"the {kind} server did not start") from None
            time.sleep(0.1)


def closed_loop(port: int, paths: Any, headers: dict[str, str], args: argparse.Namespace, seconds: float) -> Any:
    return asyncio.run(loadgen.throughput("127.0.0.1", port, paths, headers, args.concurrency, seconds)).summary()


def fixed_rate(port: int, paths: Any, headers: dict[str, str], args: argparse.Namespace) -> Any:
    return asyncio.run(loadgen.fixed_rate("127.0.0.1", port, paths, headers, args.rate, args.rate_seconds)).summary()


def side_by_side(
    ports: dict[str, int], paths: Any, headers: dict[str, str], args: argparse.Namespace
) -> dict[str, dict[str, Any]]:
    """Warm both up, then closed-loop phases alternating bare and joinedup ``--repeat`` times, then fixed rate.

    Alternating puts both sides under the same spells of a shared machine's load: a pair's ratio is fair even
    when the machine's speed drifts between pairs, and the median pair is reported.
    """
    for port in ports.values():
        closed_loop(port, paths, headers, args, args.warmup)
    runs: dict[str, list[Any]] = {kind: [] for kind in ports}
    for repeat in range(args.repeat):
        for kind, port in ports.items():
            print(f"{kind} throughput, run {repeat + 1} of {args.repeat} ...", file=sys.stderr)
            runs[kind].append(closed_loop(port, paths, headers, args, args.seconds))
    ratios = [
        j["requests_per_s"] / max(b["requests_per_s"], 1e-9)
        for b, j in zip(runs["bare"], runs["joinedup"], strict=True)
    ]
    middle = sorted(range(len(ratios)), key=ratios.__getitem__)[len(ratios) // 2]
    figures: dict[str, dict[str, Any]] = {}
    for kind, port in ports.items():
        print(f"{kind} at {args.rate:g} requests a second ...", file=sys.stderr)
        fixed = fixed_rate(port, paths, headers, args)
        figures[kind] = {
            "throughput": runs[kind][middle],
            "throughput_runs_per_s": [run["requests_per_s"] for run in runs[kind]],
            "fixed_rate": fixed,
            "answered_200": sum(phase["statuses"].get(200, 0) for phase in [*runs[kind], fixed]),
        }
    figures["ratios"] = {"runs": [round(r, 3) for r in ratios], "median": round(ratios[middle], 3)}
    return figures


def audit_count(root: Path) -> int:
    from joinedup.estate import Estate

    estate = Estate.open(root)
    try:
        with estate.engine.connect() as connection:
            import sqlalchemy as sa

            return int(connection.execute(sa.text("SELECT count(*) FROM audit_entries")).scalar_one())
    finally:
        estate.close()


@contextlib.contextmanager
def catalogue(url: str | None) -> Iterator[None]:
    """With a URL: a schema of the run's own in that PostgreSQL database, named to every process by the environment."""
    if url is None:
        yield
        return
    import uuid

    import sqlalchemy as sa

    schema = f"jd_api_bench_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(url)
    with admin.begin() as connection:
        connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
    os.environ["JOINEDUP_CATALOGUE_URL"] = f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"
    try:
        yield
    finally:
        del os.environ["JOINEDUP_CATALOGUE_URL"]
        with admin.begin() as connection:
            connection.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--objectors", type=int, default=100)
    parser.add_argument("--ids", type=int, default=500, help="distinct records the reads cycle over")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument(
        "--repeat", type=int, default=3, help="closed-loop runs of each side, alternating (default 3); median pair"
    )
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--rate-seconds", type=float, default=10.0)
    parser.add_argument("--quick", action="store_true", help="tiny sizes and short phases (a smoke run)")
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="keep the catalogue (and so the audit log) in PostgreSQL at URL, in a schema made for the run and "
        "dropped after it, e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test",
    )
    parser.add_argument("--serve", choices=["joinedup", "bare"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--target", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port, args.target)
        return
    if args.quick:
        args.rows, args.objectors, args.ids = 300, 5, 50
        args.seconds, args.warmup, args.rate_seconds, args.concurrency, args.repeat = 1.0, 0.3, 1.0, 4, 1
    with tempfile.TemporaryDirectory(prefix="joinedup-api-bench-") as folder, catalogue(args.postgres):
        root = Path(folder)
        began = time.perf_counter()
        build_estate(root, args.rows, args.objectors)
        print(f"estate built in {time.perf_counter() - began:.1f}s", file=sys.stderr)
        credentials = json.loads((root / "client.json").read_text())
        joinedup, jport = start("joinedup", root / "estate")
        bare: subprocess.Popen[bytes] | None = None
        try:
            base = f"http://127.0.0.1:{jport}"
            token = httpx.post(
                f"{base}/v1/token",
                data={"grant_type": "client_credentials", "client_id": credentials["id"],
                      "client_secret": credentials["secret"]},
            ).json()["access_token"]  # fmt: skip
            headers = {"Authorization": f"Bearer {token}"}
            ids: list[str] = []
            url: str | None = f"{RECORD}?limit={min(args.ids, 1000)}"
            while url and len(ids) < args.ids:
                page = httpx.get(base + url, headers=headers, timeout=60).json()
                ids += [r["id"] for r in page["data"]]
                url = page["links"]["next"]
            ids = ids[: args.ids]
            one = httpx.get(f"{base}{RECORD}/{ids[0]}", headers=headers).json()
            (root / "payload.json").write_text(json.dumps(one))
            bare, bport = start("bare", root / "payload.json")

            def paths(i: int) -> str:
                return f"{RECORD}/{ids[i % len(ids)]}"

            entries_before = audit_count(root / "estate")
            figures = side_by_side({"bare": bport, "joinedup": jport}, paths, headers, args)
            bare_figures, joinedup_figures = figures["bare"], figures["joinedup"]
        finally:
            for child in (joinedup, bare):
                if child is not None:
                    child.terminate()
                    child.wait(timeout=60)
        entries_written = audit_count(root / "estate") - entries_before
        reads = joinedup_figures["answered_200"]
        warm = "warm-up reads are audited too"
        from joinedup.audit import verify
        from joinedup.estate import Estate

        estate = Estate.open(root / "estate")
        verified = verify(estate).ok
        estate.close()
    ratio = figures["ratios"]["median"]
    report = {
        "rows": args.rows,
        "objectors": args.objectors,
        "distinct_records": len(ids),
        "concurrency": args.concurrency,
        "seconds": args.seconds,
        "rate": args.rate,
        "cores": os.cpu_count(),
        "catalogue": "postgresql" if args.postgres else "sqlite",
        "bare": bare_figures,
        "joinedup": joinedup_figures,
        "repeat": args.repeat,
        "throughput_ratio": ratio,
        "throughput_ratios": figures["ratios"]["runs"],
        "audit_entries_written": entries_written,
        "audited_reads_at_least": reads,
        "audit_note": warm,
        "audit_verifies": verified,
        "targets": {
            "throughput_ratio_min": 0.5,
            "p99_ms_at_rate_max": 50,
            "throughput_met": ratio >= 0.5,
            "latency_met": joinedup_figures["fixed_rate"]["p99_ms"] < 50,
        },
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
