"""Retention: rows past their date go as a new version, old files holding them too; holds keep rows."""

from __future__ import annotations

from datetime import date

import pyarrow.parquet as pq

from joinedup.estate import Catalogue
from joinedup.lifecycle.retention import cutoff
from joinedup.storage import delta
from tests.lifecycle.conftest import OTHERS, Planted


def _dobs(planted: Planted) -> list[str]:
    current = Catalogue(planted.estate).get("people").version(None)
    table = delta.snapshot(planted.estate.table_path("people"), current.table_version).to_table()
    return sorted(str(d) for d in table.column("date_of_birth").to_pylist())


def test_cutoff() -> None:
    assert cutoff("P6Y", date(2026, 2, 28)) == date(2020, 2, 28)
    assert cutoff("P1M", date(2026, 3, 31)) == date(2026, 2, 28)
    assert cutoff("P10D", date(2026, 1, 5)) == date(2025, 12, 26)


def test_retention_run_dry_run_holds_and_archive(planted: Planted) -> None:
    cli = planted.cli
    bad = cli("retention", "set", "-d", "people", "--period", "6 years", "--from", "date_of_birth",
              "--action", "delete", user="dora")  # fmt: skip
    assert bad.exit_code == 1 and "P6Y" in bad.stderr
    # Born before 1975 is "past the date" for a 51-year period counted from date of birth.
    assert cli("retention", "set", "-d", "people", "--period", "P51Y", "--from", "date_of_birth",
               "--action", "archive", user="dora").exit_code == 0  # fmt: skip
    before = _dobs(planted)
    dry = cli("retention", "run", "--dry-run", "--json", user="dora")
    assert dry.exit_code == 0, dry.stderr
    assert dry.json()[0]["rows"] == 4 and _dobs(planted) == before
    # One of the 1970s people is under a person hold; the planted 1980 person is not expired.
    cli("hold", "add", "-d", "people", "--nhs-number", OTHERS[0][1], "--reason", "inquiry", user="dora")
    no_archive = cli("retention", "run", user="dora")
    assert no_archive.exit_code == 1 and "--archive" in no_archive.stderr
    archive = planted.tmp / "archive"
    assert cli("init", archive).exit_code == 0
    done = cli("retention", "run", "--archive", archive, "--json", user="dora")
    assert done.exit_code == 0, done.stderr
    assert done.json()[0]["rows"] == 3 and done.json()[0]["held_rows"] == 1
    assert len(_dobs(planted)) == len(before) - 3 and "1970-01-01" in _dobs(planted)
    archived = list((archive / "archive" / "people").glob("*.parquet"))
    assert len(archived) == 1 and pq.read_table(archived[0]).num_rows == 3
    assert "1980-02-29" in _dobs(planted)  # the planted person (born 1980) is within the period


def test_a_whole_dataset_hold_stops_retention(planted: Planted) -> None:
    cli = planted.cli
    cli("retention", "set", "-d", "people", "--period", "P1D", "--from", "ingest", "--action", "delete", user="dora")
    cli("hold", "add", "-d", "people", "--reason", "litigation", user="dora")
    done = cli("retention", "run", "--json", user="dora").json()
    assert done[0]["status"].startswith("held")
    assert cli("retention", "run", user="ann").exit_code == 3


def test_an_archive_inside_the_estate_is_refused(planted: Planted) -> None:
    """Archived rows left under the estate would not be gone from it (and erasure's byte scan would find them)."""
    cli = planted.cli
    cli("retention", "set", "-d", "people", "--period", "P51Y", "--from", "date_of_birth", "--action", "archive",
        user="dora")  # fmt: skip
    before = _dobs(planted)
    nested = planted.estate.root / "old"
    assert cli("init", nested).exit_code == 0
    for target in (planted.estate.root, nested, planted.estate.root / "." / "old" / ".." / "old"):
        refused = cli("retention", "run", "--archive", target, user="dora")
        assert refused.exit_code == 1 and "--archive" in refused.stderr and "inside" in refused.stderr, target
    assert _dobs(planted) == before
    assert not (planted.estate.root / "archive").exists() and not (nested / "archive").exists()
