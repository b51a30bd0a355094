"""Input files that cannot be read get one line saying what and where."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from joinedup.errors import InputError, SchemaError
from joinedup.estate import Catalogue, Estate
from joinedup.ingest import ingest
from joinedup.schema import load_schema
from joinedup.storage.duck import literal_path
from tests.conftest import write_csv


def attempt(estate: Estate, path: Path, schema: Path, **options) -> None:
    ingest(estate, path, dataset="people", principal="tester", schema=load_schema(schema), **options)


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("empty.csv", b"", "empty file"),
        ("dupe.csv", b"a,b,a\r\n1,2,3\r\n", "row 1: columns 1 and 3 are both called 'a'"),
        ("blank.csv", b"a,,c\r\n1,2,3\r\n", "row 1: column 2 has no name"),
        ("data.xls", b"whatever", "cannot tell the format from the extension '.xls'"),
        ("fake.xlsx", b"not a zip", "cannot read as an Excel workbook"),
        ("fake.parquet", b"not parquet", "cannot read as Parquet"),
        ("none.jsonl", b"[1, 2]\n", "no JSON objects found"),
    ],
)
def test_unreadable_inputs(
    estate: Estate, tmp_path: Path, people_schema: Path, name: str, content: bytes, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputError) as caught:
        attempt(estate, path, people_schema)
    assert message in str(caught.value) and str(path) in str(caught.value)
    assert Catalogue(estate).find("people") is None


def test_a_declared_encoding_is_checked(estate: Estate, tmp_path: Path, people_schema: Path) -> None:
    path = write_csv(tmp_path / "p.csv", "person_id,name\n1,Zoë\n", encoding="cp1252")
    with pytest.raises(InputError, match="not valid utf-8"):
        attempt(estate, path, people_schema, encoding="utf-8")


def test_a_missing_excel_sheet_is_named(estate: Estate, tmp_path: Path, people_schema: Path) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    book.active.title = "Residents"
    book.active.append(["person_id"])
    book.save(tmp_path / "p.xlsx")
    with pytest.raises(InputError, match="no sheet 'Sheet9' \\(sheets: Residents\\)"):
        attempt(estate, tmp_path / "p.xlsx", people_schema, sheet="Sheet9")


def test_a_header_only_file_is_a_version_with_no_rows(estate: Estate, tmp_path: Path, people_schema: Path) -> None:
    path = write_csv(tmp_path / "p.csv", "person_id,name,nhs_number,postcode,date_of_birth,sex\n")
    result = ingest(estate, path, dataset="people", principal="tester", schema=load_schema(people_schema))
    assert (result.version, result.rows_read) == (1, 0)


def test_headers_match_by_title_and_normalised_name(estate: Estate, tmp_path: Path, people_schema: Path) -> None:
    path = write_csv(
        tmp_path / "p.csv",
        "Extra,PERSON ID,Name,NHS Number,Post-code,Date of Birth,Sex\nx,1,Sam,9434765919,E1 6AN,1980-01-01,F\n",
    )
    result = ingest(estate, path, dataset="people", principal="tester", schema=load_schema(people_schema))
    assert result.rows_loaded == 1 and result.columns_ignored == ["Extra"]


def test_two_columns_that_both_match_a_field_are_refused_not_guessed(estate: Estate, tmp_path: Path) -> None:
    schema = tmp_path / "s.yaml"
    schema.write_text("fields:\n- {name: person_name, type: string}\n- {name: id, type: integer}\n")
    ambiguous = write_csv(tmp_path / "a.csv", "id,Person Name,PERSON_NAME_\n1,Sam,Samuel\n")
    with pytest.raises(
        SchemaError, match="columns 'Person Name' and 'PERSON_NAME_' both match the schema's field 'person_name'"
    ):
        ingest(estate, ambiguous, dataset="a", principal="tester", schema=load_schema(schema))
    assert Catalogue(estate).find("a") is None
    # An exact name settles it.
    exact = write_csv(tmp_path / "b.csv", "id,person_name,PERSON NAME\n1,Sam,Samuel\n")
    result = ingest(estate, exact, dataset="b", principal="tester", schema=load_schema(schema))
    assert result.columns_ignored == ["PERSON NAME"]


def test_utf16_without_a_byte_order_mark_is_refused_not_read_as_junk(
    estate: Estate, tmp_path: Path, people_schema: Path
) -> None:
    path = tmp_path / "no_bom.csv"
    path.write_bytes("person_id,name\r\n1,Siobhán\r\n".encode("utf-16-le"))
    with pytest.raises(InputError, match="UTF-16 text without a byte-order mark; pass --encoding utf-16-le"):
        ingest(estate, path, dataset="p", principal="tester", schema=load_schema(people_schema))
    assert Catalogue(estate).find("p") is None


@pytest.mark.parametrize(
    "name",
    ["people[1].csv", "people?.csv", "people*.csv", "people[1].parquet", "x*.parquet", "in[p]ut/people[1].csv"],
)
def test_a_file_name_with_pattern_characters_reads_that_file_only(estate: Estate, tmp_path: Path, name: str) -> None:
    """DuckDB's readers take * ? [ ] in a path as a pattern: 'people[1].csv' would read people1.csv."""
    schema = load_schema(_write(tmp_path / "s.yaml", "fields: [{name: id, type: integer}, {name: name, type: string}]"))
    folder = tmp_path / Path(name).parent
    folder.mkdir(exist_ok=True)
    (tmp_path / "input").mkdir()  # what "in[p]ut" matches as a pattern
    name = Path(name).name
    suffix = Path(name).suffix
    wanted, sibling = folder / name, folder / f"people1{suffix}"
    for path, rows in ((wanted, "1,Ann\n2,Bo"), (sibling, "7,Other\n8,File\n9,Entirely")):
        _write_table(path, "id,name\n" + rows)
    (folder / f"x2{suffix}").write_bytes(sibling.read_bytes())
    (tmp_path / "input" / name.replace("[1]", "1")).write_bytes(sibling.read_bytes())
    result = ingest(estate, wanted, dataset="people", principal="tester", schema=schema)
    assert (result.rows_read, result.rows_loaded) == (2, 2)
    assert not list(Path(tempfile.gettempdir()).glob("joinedup-read-*"))  # the link to the file is gone


def test_a_plain_path_is_read_as_it_is(tmp_path: Path) -> None:
    plain = tmp_path / "people.csv"
    with literal_path(plain) as read:
        assert read == plain
    patterned = tmp_path / "people[1].csv"
    patterned.write_text("id\n1\n", encoding="utf-8")
    with literal_path(patterned) as read:
        assert read.name == "input.csv" and read.resolve() == patterned.resolve()
        assert not {"*", "?", "["} & set(str(read))
    assert not read.exists()


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _write_table(path: Path, csv_text: str) -> None:
    if path.suffix == ".csv":
        write_csv(path, csv_text)
        return
    header, *rows = csv_text.splitlines()
    cells = [row.split(",") for row in rows]
    table = pa.table({name: [row[i] for row in cells] for i, name in enumerate(header.split(","))})
    pq.write_table(table, path)
