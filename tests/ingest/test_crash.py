"""A killed ingest leaves the previous version whole and the catalogue with no half version."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from joinedup.estate import Catalogue, Estate
from joinedup.ingest import ingest
from joinedup.schema import load_schema
from joinedup.storage import delta
from joinedup.storage.query import run_query
from tests.conftest import write_csv

GOOD = (
    "person_id,name,nhs_number,postcode,date_of_birth,sex\n"
    "1,Sam Jackson,9434765919,E1 6AN,1980-01-01,F\n"
    "2,Bill Smith,,,1975-01-01,M\n"
)


def big_csv(path: Path, rows: int) -> Path:
    con = duckdb.connect()
    con.execute(
        f"""COPY (SELECT i AS person_id, 'Person ' || i AS name, '9434765919' AS nhs_number,
                  'SW1A 1AA' AS postcode, '1980-01-01' AS date_of_birth,
                  CASE WHEN i % 50 = 0 THEN 'Q' ELSE 'F' END AS sex
            FROM range(1, {rows + 1}) t(i)) TO '{path}' (HEADER, DELIMITER ',')"""
    )
    con.close()
    return path


def count_rows(estate: Estate) -> int:
    return run_query(
        estate, "SELECT count(*) FROM people", datasets={"people": Catalogue(estate).get("people").current.number}
    ).rows[0][0]


def assert_only_version_1(estate: Estate) -> None:
    info = Catalogue(estate).get("people")
    assert [v.number for v in info.versions] == [1]
    assert count_rows(estate) == 2


PEOPLE_SCHEMA_WITH_KEY = """
fields:
  - {name: person_id, type: integer}
  - {name: name, type: string}
  - {name: nhs_number, type: nhs_number, personal: true}
  - {name: postcode, type: postcode}
  - {name: date_of_birth, type: date}
  - {name: sex, type: string, constraints: {enum: [M, F]}}
primaryKey: [person_id]
"""

KILL_AT_COMMIT = """
import os, signal, sys
from pathlib import Path
from joinedup.estate import Catalogue, Estate
from joinedup.ingest import ingest

def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

Catalogue.record_version = staticmethod(die)
mode = sys.argv[3] if len(sys.argv) > 3 else "replace"
ingest(Estate.open(Path(sys.argv[1])), Path(sys.argv[2]), dataset="people", principal="tester", mode=mode)
"""


@pytest.mark.parametrize(
    ("mode", "inserted", "updated", "quarantined"),
    # Rows 1 and 2 are in version 1: an append quarantines them, an upsert updates them.
    [("replace", 4_900, 0, 100), ("append", 4_898, 0, 102), ("upsert", 4_898, 2, 100)],
)
def test_killed_just_before_the_catalogue_commit(
    estate: Estate, tmp_path: Path, people_schema: Path, mode: str, inserted: int, updated: int, quarantined: int
) -> None:
    ingest(
        estate,
        write_csv(tmp_path / "v1.csv", GOOD),
        dataset="people",
        principal="tester",
        schema=load_schema(people_schema),
    )
    v2 = big_csv(tmp_path / "v2.csv", 5_000)
    done = subprocess.run(
        [sys.executable, "-c", KILL_AT_COMMIT, str(estate.root), str(v2), mode], capture_output=True, timeout=120
    )
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()
    # The Delta table and quarantine did get new commits; nothing reads them.
    assert delta.latest_version(estate.table_path("people")) > Catalogue(estate).get("people").current.table_version
    assert_only_version_1(estate)

    again = ingest(estate, v2, dataset="people", principal="tester", mode=mode)
    assert again.version == 2 and again.recovered
    assert (again.rows_inserted, again.rows_updated, again.rows_quarantined) == (inserted, updated, quarantined)
    assert again.rows_total == count_rows(estate) == 4_900
    assert run_query(estate, "SELECT count(*) FROM people", datasets={"people": 1}).rows == [(2,)]


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["replace", "append", "upsert"])
def test_killed_at_any_moment(estate: Estate, tmp_path: Path, people_schema: Path, mode: str) -> None:
    ingest(
        estate,
        write_csv(tmp_path / "v1.csv", GOOD),
        dataset="people",
        principal="tester",
        schema=load_schema(people_schema),
    )
    big = big_csv(tmp_path / "big.csv", 300_000)
    joinedup = [
        sys.executable,
        "-m",
        "joinedup.cli.main",
        "ingest",
        str(big),
        "--dataset",
        "people",
        "--mode",
        mode,
        "--estate",
        str(estate.root),
    ]
    killed = 0
    for delay in (0.3, 0.6, 0.9, 1.2, 1.6, 2.0):
        process = subprocess.Popen(
            joinedup,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "JOINEDUP_USER": "tester"},
        )
        time.sleep(delay)
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            killed += 1
        process.wait()
        info = Catalogue(estate).get("people")
        if info.current.number == 1:
            assert_only_version_1(estate)
        else:
            # It finished before the kill: then it is whole.
            assert count_rows(estate) == 294_000
            break
    assert killed, "the machine finished every ingest before the first kill; nothing was tested"
    result = ingest(estate, big, dataset="people", principal="tester", mode=mode)
    # Whichever the mode, rows 1 and 2 of version 1 end up among the 294,000 (replaced, kept or updated).
    assert result.rows_read == 300_000 and result.rows_total == 294_000
    assert count_rows(estate) == 294_000
    assert not list(estate.tmp_dir.glob("ingest-*"))


def test_a_file_larger_than_a_quarter_of_the_memory_limit_is_staged_on_disk(
    estate: Estate, tmp_path: Path, people_schema: Path
) -> None:
    from joinedup.estate.config import EstateConfig

    config = EstateConfig.load(estate.root)
    config.memory_limit = "64MB"
    config.save(estate.root)
    small = Estate.open(estate.root)
    big = big_csv(tmp_path / "big.csv", 400_000)
    assert big.stat().st_size * 4 > 64_000_000
    result = ingest(small, big, dataset="people", principal="tester", schema=load_schema(people_schema))
    assert result.rows_read == 400_000 and result.rows_loaded == 392_000
    assert not list(small.tmp_dir.iterdir())


def test_killed_during_the_first_ingest_leaves_no_dataset_and_no_stray_rows(estate: Estate, tmp_path: Path) -> None:
    schema = tmp_path / "s.yaml"
    schema.write_text(PEOPLE_SCHEMA_WITH_KEY)
    first = big_csv(tmp_path / "first.csv", 1_000)
    script = KILL_AT_COMMIT.replace("mode=mode)", f"mode=mode, schema=load_schema(Path({str(schema)!r})))")
    script = script.replace(
        "from joinedup.ingest import ingest",
        "from joinedup.ingest import ingest\nfrom joinedup.schema import load_schema",
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(estate.root), str(first)], capture_output=True, timeout=120
    )
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()
    assert Catalogue(estate).find("people") is None
    again = ingest(estate, first, dataset="people", principal="tester", schema=load_schema(schema))
    assert again.version == 1 and again.recovered
    from joinedup.ingest.quarantine import read_quarantine

    assert len(read_quarantine(estate, "people").rows) == again.rows_quarantined == 20
