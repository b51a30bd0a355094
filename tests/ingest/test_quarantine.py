"""Reading and exporting the quarantine: authorised, audited first, raw lines only for those who manage the dataset."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from joinedup.access import add_principal
from joinedup.audit import log, verify
from joinedup.errors import AccessDenied, NotFoundError
from joinedup.estate import Estate
from joinedup.ingest import ingest
from joinedup.ingest.quarantine import export_quarantine_as, read_quarantine_as
from joinedup.schema import load_schema
from joinedup.storage.csv_export import ExportError
from tests.audit.conftest import raw_catalogue
from tests.conftest import write_csv

#: Row 3 has a seventh field the schema does not have: a diagnosis, the kind of
#: column a steward drops from a schema so analysts never see it.
PEOPLE = """person_id,name,nhs_number,postcode,date_of_birth,sex
1,Sam Jackson,9434765919,E1 6AN,1980-01-01,F
2,Bill Evans,9434765918,E1 6AN,1980-01-01,M
3,Dai Price,4010232137,CF10 1EP,1971-05-05,M,Type 2 diabetes
"""


@pytest.fixture
def loaded(estate: Estate, tmp_path: Path, people_schema: Path) -> Estate:
    add_principal(estate, "tester", "sam", "steward", datasets=["people"])
    add_principal(estate, "tester", "alice", "analyst", datasets=["people"])
    add_principal(estate, "tester", "ann", "analyst", all_datasets=True)
    ingest(
        estate,
        write_csv(tmp_path / "p.csv", PEOPLE),
        dataset="people",
        principal="tester",
        schema=load_schema(people_schema),
    )
    return estate


def _ragged(rows: list[dict]) -> dict:
    [row] = [r for r in rows if r["_source_row"] == 4]
    return row


@pytest.mark.parametrize("who", ["tester", "sam"])
def test_those_who_manage_the_dataset_see_a_line_that_did_not_split(loaded: Estate, who: str) -> None:
    found = read_quarantine_as(loaded, who, "people")
    row = _ragged(found.rows)
    assert "Type 2 diabetes" in row["_line"]
    assert found.lines_withheld is None
    entry = log(loaded)[-1]
    assert (entry.action, entry.detail["lines"]) == ("quarantine.read", "shown")
    assert "_line" in entry.columns


@pytest.mark.parametrize("who", ["alice", "ann"])
def test_analysts_get_the_line_withheld_with_a_note(loaded: Estate, who: str) -> None:
    found = read_quarantine_as(loaded, who, "people", purpose="fix rejected rows")
    row = _ragged(found.rows)
    assert row["_line"] is None
    assert "withheld" in row["_line_withheld"] and "steward of 'people'" in row["_line_withheld"]
    assert "diabetes" not in repr(found.rows)
    [reason] = row["_errors"]
    assert (reason["column"], reason["rule"], reason["value"]) == ("(row)", "columns", None)
    # A row that split keeps its original values and the reasons quoting them.
    [bad] = [r for r in found.rows if r["_source_row"] == 3]
    assert bad["nhs_number"] == "9434765918" and bad["_line_withheld"] is None
    entry = log(loaded)[-1]
    assert (entry.principal, entry.action, entry.detail["lines"]) == (who, "quarantine.read", "withheld")
    assert "_line" not in entry.columns


def test_an_analysts_csv_export_withholds_the_line_too(loaded: Estate, tmp_path: Path) -> None:
    out = tmp_path / "q.csv"
    export_quarantine_as(loaded, "alice", "people", out, purpose="fix rejected rows")
    text = out.read_text(encoding="utf-8")
    assert "diabetes" not in text and "[line withheld, as" in text
    assert "(row): columns:" in text and "(withheld)" in text


def test_an_export_is_written_0600_after_its_entry(loaded: Estate, tmp_path: Path) -> None:
    out = tmp_path / "q.csv"
    found, written = export_quarantine_as(loaded, "sam", "people", out)
    assert written == len(found.rows) == 2
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert "Type 2 diabetes" in out.read_text(encoding="utf-8")
    entry = log(loaded)[-1]
    assert (entry.principal, entry.action, entry.row_count) == ("sam", "quarantine.export", 2)
    assert list(tmp_path.glob(".q.csv*")) == []


@pytest.mark.parametrize("where", ["missing/q.csv", "."])
def test_an_export_to_a_missing_folder_or_a_folder_is_one_line_and_not_audited(
    loaded: Estate, tmp_path: Path, where: str
) -> None:
    before = log(loaded, limit=None)
    with pytest.raises(ExportError) as raised:
        export_quarantine_as(loaded, "sam", "people", tmp_path / where)
    assert "\n" not in str(raised.value) and str(tmp_path) in str(raised.value)
    assert log(loaded, limit=None) == before
    assert not (tmp_path / "missing").exists()


def test_an_export_that_fails_while_writing_is_recorded_and_leaves_no_file(
    loaded: Estate, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "q.csv"

    def full_disk(*_: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("joinedup.storage.csv_export.os.replace", full_disk)
    with pytest.raises(ExportError, match="No space left on device"):
        export_quarantine_as(loaded, "sam", "people", out)
    actions = [e.action for e in log(loaded)[-2:]]
    assert actions == ["quarantine.export", "quarantine.export.failed"]
    assert log(loaded)[-1].detail == {"stage": "delivering", "error": "ExportError"}
    assert list(tmp_path.glob("*q.csv*")) == []
    assert verify(loaded).ok


def test_an_export_whose_entry_cannot_be_written_writes_nothing(loaded: Estate, tmp_path: Path) -> None:
    with raw_catalogue(loaded) as con:
        con.execute(
            "CREATE TRIGGER broken BEFORE INSERT ON audit_entries WHEN NEW.action = 'quarantine.export' "
            "BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END"
        )
    with pytest.raises(Exception, match="disk I/O error"):
        export_quarantine_as(loaded, "sam", "people", tmp_path / "q.csv")
    assert list(tmp_path.glob("*q.csv*")) == []


def test_an_export_refused_writes_nothing(loaded: Estate, tmp_path: Path) -> None:
    add_principal(loaded, "tester", "vic", "steward", datasets=["visits"])
    with pytest.raises(AccessDenied):
        export_quarantine_as(loaded, "vic", "people", tmp_path / "q.csv")
    assert list(tmp_path.glob("*q.csv*")) == []


def test_a_read_of_a_version_that_does_not_exist_is_one_line_and_recorded(loaded: Estate) -> None:
    with pytest.raises(NotFoundError) as raised:
        read_quarantine_as(loaded, "sam", "people", 7)
    assert "\n" not in str(raised.value)
    entry = log(loaded)[-1]
    assert (entry.principal, entry.action, entry.dataset, entry.detail) == (
        "sam", "quarantine.read.failed", "people", {"stage": "fetching", "error": "NotFoundError"},
    )  # fmt: skip


def test_analysts_see_the_schema_cells_of_a_line_set_aside_for_its_bytes_not_its_shape(
    estate: Estate, tmp_path: Path, people_schema: Path
) -> None:
    # A file with a diagnosis column the schema leaves out, and a line beyond the first
    # megabyte with a byte that is not UTF-8: it splits into the header's columns, so the
    # schema's cells can be shown without the rest of the line.
    add_principal(estate, "tester", "alice", "analyst", datasets=["people"])
    header = "person_id,name,nhs_number,postcode,date_of_birth,sex,diagnosis\n"
    good = "".join(f"{i},Sam Jackson,9434765919,E1 6AN,1980-01-01,F,none\n" for i in range(1, 30_000))
    bad = b"30000,Zo\xeb Price,4010232137,CF10 1EP,1971-05-05,F,Type 2 diabetes\n"
    path = tmp_path / "p.csv"
    path.write_bytes((header + good).encode() + bad)
    people = load_schema(people_schema)
    ingest(estate, path, dataset="people", principal="tester", schema=people)
    found = read_quarantine_as(estate, "alice", "people", purpose="fix rejected rows")
    [row] = [r for r in found.rows if r["_source_row"] == 30_001]
    assert row["_line"] is None and "withheld" in row["_line_withheld"]
    assert (row["name"], row["nhs_number"], row["postcode"]) == ("Zo\\xeb Price", "4010232137", "CF10 1EP")
    assert "diabetes" not in repr(found.rows)
    shown = read_quarantine_as(estate, "tester", "people")
    [whole] = [r for r in shown.rows if r["_source_row"] == 30_001]
    assert "Type 2 diabetes" in whole["_line"]


def test_a_ragged_line_keeps_no_cells_for_anyone(loaded: Estate) -> None:
    # Its positions are unreliable: a cell of a left-out column could land under a schema column.
    row = _ragged(read_quarantine_as(loaded, "tester", "people").rows)
    assert (row["name"], row["nhs_number"], row["sex"]) == (None, None, None)
