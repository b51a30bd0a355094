"""A CSV read ahead while the command starts is used only when it is exactly what the reader would stage."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from joinedup.ingest import csv_reader, read_ahead
from joinedup.ingest.csv_reader import open_csv
from joinedup.storage.duck import connect
from tests.conftest import CliResult, write_csv

MEMORY = "1GB"
THREADS = 2


@pytest.fixture(autouse=True)
def _nothing_held() -> Iterator[None]:
    yield
    read_ahead.discard()


@pytest.fixture
def staged_by_reader(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The files the reader staged itself (not taken from the read-ahead)."""
    seen: list[Path] = []
    original = csv_reader._stage_utf8

    def spy(con: Any, path: Path, *args: Any) -> Any:
        if threading.current_thread().name != "joinedup-read-ahead":
            seen.append(path)
        return original(con, path, *args)

    monkeypatch.setattr(csv_reader, "_stage_utf8", spy)
    return seen


def _people(path: Path, rows: int = 2_000) -> Path:
    lines = ["id,name,town"]
    for i in range(1, rows + 1):
        lines.append(f"{i},Person {i},Town,extra" if i % 499 == 0 else f"{i},Person {i},Town {i % 7}")
    return write_csv(path, "\n".join(lines))


def _start(path: Path, delimiter: str = ",", header_row: int | None = None) -> bool:
    return read_ahead.start(
        path,
        fmt=None,
        encoding=None,
        delimiter=delimiter,
        header_row=header_row,
        memory_limit=MEMORY,
        threads=THREADS,
    )


def _read(path: Path, tmp_path: Path, delimiter: str = ",", header_row: int | None = None) -> dict[str, Any]:
    with connect(memory_limit=MEMORY, threads=THREADS, temp_dir=tmp_path / "spill") as con:
        source = open_csv(con, path, tmp_path, None, delimiter, header_row, False)
        rows = con.execute(f"SELECT * FROM {source.relation} ORDER BY _source_row").fetchall()
        return {
            "header": source.columns,
            "rows": rows,
            "rejects": [(r.source_row, r.problem, r.text) for r in source.rejects],
            "sha256": source.sha256,
            "size": source.size,
        }


def _finished() -> None:
    """Wait until the read-ahead thread has staged the file (it is a few thousand rows)."""
    deadline = time.monotonic() + 30
    while any(t.name == "joinedup-read-ahead" for t in threading.enumerate()):
        assert time.monotonic() < deadline, "the read-ahead thread did not finish"
        time.sleep(0.01)


def test_rows_read_ahead_are_taken_and_are_what_the_reader_stages(tmp_path: Path, staged_by_reader: list[Path]) -> None:
    path = _people(tmp_path / "people.csv")
    expected = _read(path, tmp_path)
    assert staged_by_reader == [path]
    assert _start(path)
    assert _read(path, tmp_path) == expected
    assert staged_by_reader == [path]  # the second read took the staged rows: the reader staged nothing
    assert len(expected["rows"]) == 2_000 - 4 and len(expected["rejects"]) == 4


def test_a_file_changed_after_it_was_read_ahead_is_read_again(tmp_path: Path, staged_by_reader: list[Path]) -> None:
    path = _people(tmp_path / "people.csv", 100)
    assert _start(path)
    _finished()
    write_csv(path, "id,name,town\n1,Changed,Leeds")
    seen = _read(path, tmp_path)
    assert seen["rows"] == [(2, "1", "Changed", "Leeds")]  # row 2 of the file, under the header
    assert staged_by_reader == [path]


def test_a_file_rewritten_to_the_same_size_and_time_is_read_again(tmp_path: Path, staged_by_reader: list[Path]) -> None:
    path = _people(tmp_path / "people.csv", 100)
    assert _start(path)
    _finished()
    before = path.stat()
    text = path.read_bytes().replace(b"Person 1,", b"Persoo 1,")
    time.sleep(0.01)  # the change time moves on
    path.write_bytes(text)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # and the modification time is put back
    seen = _read(path, tmp_path)
    assert any("Persoo 1" in str(r) for r in seen["rows"])
    assert staged_by_reader == [path]


@pytest.mark.parametrize(
    ("delimiter", "header_row"),
    [(";", None), (",", 2)],
    ids=["another delimiter", "another header row"],
)
def test_rows_read_with_other_settings_are_not_taken(
    tmp_path: Path, staged_by_reader: list[Path], delimiter: str, header_row: int | None
) -> None:
    path = write_csv(tmp_path / "people.csv", "title line\nid,name\n1,Ann\n2,Bob")
    assert _start(path)
    seen = _read(path, tmp_path, delimiter=delimiter, header_row=header_row)
    assert staged_by_reader == [path]
    if header_row == 2:
        assert seen["header"] == ["id", "name"]


def test_a_file_too_big_for_memory_is_not_read_ahead(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The reader stages it on disk: reading it ahead as well would read it twice."""
    staged: list[Path] = []
    monkeypatch.setattr(csv_reader, "_fits_in_memory", lambda con, readable, delimiter: False)
    monkeypatch.setattr(csv_reader, "_stage", lambda con, path, *a: staged.append(path))
    path = _people(tmp_path / "people.csv", 100)
    with connect(memory_limit=MEMORY, threads=THREADS) as con:
        assert csv_reader.stage_ahead(con, path, None, ",", None) is None
    assert staged == []


@pytest.mark.parametrize(
    "write",
    [
        lambda p: p.write_bytes("id,name\r\n1,Zoë\r\n".encode("cp1252")),
        lambda p: p.write_bytes(b""),
        lambda p: p.write_bytes(b"id,name\r\n1,\xff\xfe broken\r\n"),
    ],
    ids=["windows-1252", "empty", "bad bytes"],
)
def test_files_the_reader_must_handle_itself_are_left_to_it(tmp_path: Path, write: Callable[[Path], Any]) -> None:
    path = tmp_path / "odd.csv"
    write(path)
    with connect(memory_limit=MEMORY, threads=THREADS) as con:
        assert csv_reader.stage_ahead(con, path, None, ",", None) is None


def test_only_csv_files_are_read_ahead(tmp_path: Path) -> None:
    other = tmp_path / "people.jsonl"
    other.write_text('{"id": 1}\n', encoding="utf-8")
    assert not _start(other)
    assert not _start(tmp_path / "missing.csv")
    assert read_ahead.take(other) is None


def test_discard_drops_the_rows_and_stops_a_read_under_way(tmp_path: Path, staged_by_reader: list[Path]) -> None:
    path = _people(tmp_path / "people.csv", 50_000)
    assert _start(path)
    read_ahead.discard()
    # Stopped and waited for: a Python exiting normally with DuckDB busy in a daemon thread aborts.
    assert not any(t.name == "joinedup-read-ahead" and t.is_alive() for t in threading.enumerate())
    assert read_ahead.take(path) is None
    _read(path, tmp_path)
    assert staged_by_reader == [path]


def test_discard_waits_for_the_thread_itself_not_only_its_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The thread lives on for a moment after it hands over its result; discard outlasts that."""
    real_run = read_ahead._run

    def slow_to_end(started: Any, *settings: Any) -> None:
        real_run(started, *settings)
        time.sleep(0.5)  # result already set: only joining the thread waits for this

    monkeypatch.setattr(read_ahead, "_run", slow_to_end)
    path = _people(tmp_path / "people.csv", 10)
    assert _start(path)
    read_ahead.discard()
    assert not any(t.name == "joinedup-read-ahead" and t.is_alive() for t in threading.enumerate())


def test_a_read_ahead_that_failed_is_discarded_quietly(tmp_path: Path) -> None:
    """Discarding runs as the command fails for its own reason: it must not raise one of its own."""
    path = _people(tmp_path / "people.csv", 10)
    assert _start(path, delimiter=";;")  # the reader refuses it later, with its own message
    _finished()
    read_ahead.discard()
    assert _start(path, delimiter=";;")
    assert read_ahead.take(path) is None


def test_a_second_start_replaces_the_first(tmp_path: Path) -> None:
    first = _people(tmp_path / "first.csv", 10)
    second = _people(tmp_path / "second.csv", 10)
    assert _start(first) and _start(second)
    assert read_ahead.take(first) is None
    assert read_ahead.take(second) is not None
    assert read_ahead.take(second) is None  # handed over once


def test_the_cli_ingest_takes_the_rows_and_reports_as_without(
    tmp_path: Path, cli: Callable[..., CliResult], people_schema: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_csv(
        tmp_path / "people.csv",
        "person_id,name,nhs_number,postcode,date_of_birth,sex\n"
        "1,Ann Smith,9434765919,SW1A 1AA,1980-01-02,F\n"
        "2,Bob Jones,123,NOT A POSTCODE,1990-13-01,Q\n"
        "3,Cat,,LS1 4AP,2001-05-06,X,extra",
    )
    taken: list[Any] = []
    original = csv_reader._read_ahead
    monkeypatch.setattr(csv_reader, "_read_ahead", lambda *a: taken.append(original(*a)) or taken[-1])
    with_read_ahead = cli("ingest", path, "-d", "one", "--schema", people_schema, "--json")
    assert with_read_ahead.exit_code == 0, with_read_ahead.stderr
    assert taken and taken[-1] is not None
    monkeypatch.setattr(read_ahead, "start", lambda *a, **k: False)
    without = cli("ingest", path, "-d", "two", "--schema", people_schema, "--json")
    assert without.exit_code == 0, without.stderr
    assert taken[-1] is None
    ours, theirs = with_read_ahead.json(), without.json()
    for key in ("rows_read", "rows_written", "rows_quarantined", "rule_counts", "source_sha256"):
        assert ours.get(key) == theirs.get(key), key
    assert ours["rows_quarantined"] == 2


def test_a_refused_ingest_is_refused_as_before_and_holds_nothing(
    tmp_path: Path, cli: Callable[..., CliResult], people_schema: Path
) -> None:
    path = write_csv(tmp_path / "people.csv", "person_id,name\n1,Ann Smith")
    refused = cli("ingest", path, "-d", "people", "--schema", people_schema, user="mallory")
    assert refused.exit_code != 0
    assert "mallory" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    assert read_ahead._slot is None
    assert cli("datasets", "--json").json() == []


def test_an_ingest_into_a_folder_that_is_no_estate_says_so_first(tmp_path: Path, people_schema: Path) -> None:
    from tests.conftest import cli_runner

    path = write_csv(tmp_path / "people.csv", "person_id,name\n1,Ann Smith")
    result = cli_runner(tmp_path / "nowhere")("ingest", path, "-d", "people", "--schema", people_schema)
    assert result.exit_code != 0
    assert "nowhere" in result.stderr and "estate" in result.stderr.lower()
    assert read_ahead._slot is None


def test_the_reader_starts_reading_before_numpy_and_arrow_have_loaded() -> None:
    """The read-ahead thread imports the CSV reader first: DuckDB reads while the command loads the rest."""
    script = "import sys, joinedup.ingest.csv_reader; print('numpy' in sys.modules, 'pyarrow' in sys.modules)"
    loaded = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert loaded.stdout.split() == ["False", "False"], loaded.stderr
