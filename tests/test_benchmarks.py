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
    assert report["rows"] == 2000 and report["columns"] == 10 and report["file_mb"] > 0
    assert report["repeat"] == 2 and len(report["ratios"]) == 2
    for side in ("baseline", "ingest"):
        figures = report[side]
        assert len(figures["runs_seconds"]) == 2 and figures["seconds"] > 0, side
        assert figures["peak_rss_mb"] > 0 and figures["exit_code"] == 0, side
    assert report["ratio"] > 0
    assert report["ingest"]["summary"]["rows_read"] == report["baseline"]["rows_read"] == 2000
    targets = report["targets"]
    assert (targets["ratio_max"], targets["ingest_peak_mb_max"]) == (2.5, 1536)
    assert isinstance(targets["ratio_met"], bool) and isinstance(targets["memory_met"], bool)
    assert report["counts_by_rule"] and all(
        {"column", "rule", "planted", "baseline", "ingest"} <= set(row) for row in report["counts_by_rule"]
    )
    assert report["counts_agree"], report["counts_by_rule"]
    upsert = report["upsert"]
    assert upsert["exit_code"] == 0, upsert.get("stderr")
    changed = upsert["rows_changed"]
    assert 0 < changed <= report["ingest"]["summary"]["rows_loaded"]
    assert (upsert["summary"]["mode"], upsert["summary"]["rows_updated"], upsert["summary"]["rows_read"]) == (
        "upsert",
        changed,
        changed,
    )


def test_the_audit_benchmark_runs(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(BENCHMARKS / "audit.py"),
            "--entries",
            "2000",
            "--appends",
            "200",
            "--people",
            "500",
            "--reads",
            "100",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    rates = [key for key in report if key.startswith("appends_per_s_")]
    assert len(rates) == 4 and all(report[key] > 0 for key in rates)
    assert report["verify_after_appends_ok"] is True
    # The timed verify must be of a valid log, built as real use builds it.
    assert report["verify_ok"] is True and report["verify_entries_per_s"] > 0
    assert report["chain_entries"] == 2000 and report["verify_s"] >= 0
    assert report["targets"] == {"appends_per_s": 5_000, "verify_1m_s": 10}


def test_the_precise_who_accessed_benchmark_runs(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(BENCHMARKS / "audit.py"),
            "--entries",
            "100",
            "--appends",
            "20",
            "--people",
            "2000",
            "--reads",
            "500",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    precise = json.loads(done.stdout)["precise_who_accessed"]
    assert (precise["people"], precise["reads"]) == (2000, 500)
    # The upper bound lists every read of the version; the precise answer only those that touched the person.
    assert precise["upper_bound_listed"] == 500
    assert 0 < sum(precise["precise_counts"].values()) < 500
    assert precise["precise_counts"].get("returned", 0) >= 1 and "undetermined" not in precise["precise_counts"]


def test_the_quality_benchmark_runs_and_agrees_with_the_hand_written_queries(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "quality.py"), "--rows", "3000", "--repeat", "1", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["rows"] == 3000 and report["custom_rules"] == 10 and report["rules"] > 10
    assert report["counts_agree"], report["failing_by_rule"]
    for side in ("quality", "hand"):
        assert report[side]["seconds"] > 0 and report[side]["peak_rss_mb"] > 0, side
    assert report["ratio"] > 0
    targets = report["targets"]
    assert (targets["ratio_max"], targets["seconds_max"], targets["peak_mb_max"]) == (1.5, 3.0, 1024)


def test_the_publish_benchmark_runs(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "publish.py"), "--rows", "5000"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["rows"] == 5000 and report["cells_released"] > report["groups"]
    assert report["suppressed_primary"] > 0 and report["publish_s"] > 0 and report["target_publish_s"] == 5


def test_the_erasure_benchmark_runs(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "erasure.py"), "--rows", "5000", "--batch", "20"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["one_person"]["verified_clean"] and report["one_person"]["rows_removed"] == 5
    assert report["batch"]["verified_clean"] and report["batch"]["rows_removed"] == 100
    assert 0 < report["retention"]["rows_removed"] < 5 * 5000


def test_the_linkage_benchmark_runs(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "linkage.py"), "--quick", "--skip", "febrl"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    pair = report["synthetic_pair"]
    assert pair["with_name_variants"]["f1"] > 0.9 and 0 <= pair["baseline"]["f1"] <= 1
    assert pair["plain_jaro_winkler_names"]["f1"] <= pair["with_name_variants"]["f1"]
    incremental = report["dedupe"]["incremental"]
    assert incremental["was_incremental"] and incremental["records_changed"] > 0
    assert incremental["keys_new"] <= incremental["records_changed"]


def test_the_api_benchmark_runs_both_servers_and_audits_every_read(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "api.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    for side in ("bare", "joinedup"):
        for phase in ("throughput", "fixed_rate"):
            figures = report[side][phase]
            assert figures["requests"] > 0 and figures["errors"] == 0, (side, phase, figures)
            assert figures["requests_per_s"] > 0 and figures["p50_ms"] <= figures["p99_ms"], (side, phase)
    assert report["throughput_ratio"] > 0
    # Every joinedup read was audited (warm-up reads too), and the log still verifies.
    assert report["audit_entries_written"] >= report["audited_reads_at_least"] > 0
    assert report["audit_verifies"] is True
    assert report["targets"]["throughput_ratio_min"] == 0.5 and report["targets"]["p99_ms_at_rate_max"] == 50
