"""The benchmark scripts still run end to end (tiny sizes: their figures are not checked here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def test_the_ingest_benchmark_runs_and_its_three_counts_agree(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "ingest.py"), "--rows", "2000", "--repeat", "2", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["repeat"] == 2 and len(report["ratios"]) == 2
    assert len(report["baseline"]["runs_seconds"]) == len(report["ingest"]["runs_seconds"]) == 2
    assert report["ingest"]["summary"]["rows_read"] == report["baseline"]["rows_read"] == 2000
    assert report["counts_agree"], report["counts_by_rule"]


def test_the_audit_benchmark_runs(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "audit.py"), "--entries", "2000", "--appends", "200"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["verify_ok"] and report["verify_after_appends_ok"], "the timed verify must be of a valid log"
