"""Text that is not quite right: bad bytes late in a UTF-8 file, NUL and BOM in values, odd encodings."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from joinedup.errors import InputError
from joinedup.estate import Catalogue, Estate
from joinedup.ingest import ingest
from joinedup.ingest.quarantine import read_quarantine
from joinedup.schema import parse_schema
from joinedup.storage.query import referenced_datasets, run_query

NAMES = parse_schema("fields:\n- {name: id, type: integer}\n- {name: name, type: string}\nprimaryKey: [id]\n")


def load(estate: Estate, path: Path, **options):
    return ingest(estate, path, dataset="names", principal="tester", schema=NAMES, **options)


def names(estate: Estate) -> dict[int, str]:
    sql = "SELECT id, name FROM names ORDER BY id"
    return {r["id"]: r["name"] for r in run_query(estate, sql, datasets=referenced_datasets(estate, sql)).records()}


def test_a_bad_byte_after_the_first_megabyte_quarantines_its_line_and_keeps_utf8(
    estate: Estate, tmp_path: Path
) -> None:
    good = "".join(f"{i},Zoë Brontë {i}\r\n" for i in range(1, 60_001)).encode("utf-8")
    assert len(good) > 1 << 20
    path = tmp_path / "late.csv"
    path.write_bytes(b"id,name\r\n" + good + b"60001,Zo\xeb\r\n60002,Ren\xc3\xa9e\r\n")
    result = load(estate, path)
    assert result.encoding == "utf-8"
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (60_002, 60_001, 1)
    assert result.rule_counts == {"(row)": {"encoding": 1}}
    stored = names(estate)
    assert stored[1] == "Zoë Brontë 1" and stored[60_002] == "Renée"
    [bad] = read_quarantine(estate, "names").rows
    assert bad["_source_row"] == 60_002  # the header is row 1
    assert bad["_errors"][0]["message"] == "invalid UTF-8"
    assert bad["_line"] == "60001,Zo\\xeb"


@pytest.mark.parametrize("end", [b"\n", b"\r\n"])
def test_a_late_bad_record_is_quarantined_whole_from_its_first_character(
    estate: Estate, tmp_path: Path, end: bytes
) -> None:
    good = "".join(f"{i},Name number {i}\n" for i in range(1, 60_001)).encode().replace(b"\n", end)
    assert len(good) > 1 << 20
    late = b'987654321,Ren\xe9e\n987654322,"Al\nX\xff"\n60003,Ok\n'.replace(b"\n", end)
    path = tmp_path / "late.csv"
    path.write_bytes(b"id,name" + end + good + late)
    result = load(estate, path)
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (60_003, 60_001, 2)
    rows = read_quarantine(estate, "names").rows
    assert [r["_source_row"] for r in rows] == [60_002, 60_003]
    # The stored text is the record's own: nothing cut from its start, every physical line of it.
    assert [r["_line"] for r in rows] == ["987654321,Ren\\xe9e", '987654322,"Al' + end.decode() + 'X\\xff"']
    assert names(estate)[60_003] == "Ok"


def test_a_file_whose_first_megabyte_is_not_utf8_stays_windows_1252(estate: Estate, tmp_path: Path) -> None:
    path = tmp_path / "old.csv"
    path.write_bytes("id,name\r\n1,Zoë\r\n2,O’Brien\r\n".encode("cp1252"))
    result = load(estate, path)
    assert (result.encoding, result.rows_loaded) == ("cp1252", 2)
    assert names(estate) == {1: "Zoë", 2: "O’Brien"}


@pytest.mark.parametrize("declared", [None, "cp1252"])
def test_an_undefined_windows_1252_byte_quarantines_its_line_and_loads_the_rest(
    estate: Estate, tmp_path: Path, declared: str | None
) -> None:
    path = tmp_path / "old.csv"
    # 0x81 is a byte Windows-1252 leaves undefined; the other lines are good cp1252.
    path.write_bytes(b"id,name\r\n1,Zo\xeb\r\n2,Bad\x81name\r\n3,O\x92Brien\r\n")
    result = load(estate, path, encoding=declared)
    assert (result.encoding, result.rows_read, result.rows_loaded, result.rows_quarantined) == ("cp1252", 3, 2, 1)
    assert result.rule_counts == {"(row)": {"encoding": 1}}
    assert names(estate) == {1: "Zoë", 3: "O’Brien"}
    [bad] = read_quarantine(estate, "names").rows
    assert (bad["_source_row"], bad["_line"]) == (3, "2,Bad\\x81name")
    assert bad["_errors"][0]["message"] == "invalid cp1252"


def test_an_undefined_byte_in_the_header_is_refused_in_one_line(estate: Estate, tmp_path: Path) -> None:
    path = tmp_path / "old.csv"
    path.write_bytes(b"id,na\x81me\r\n1,Zo\xeb\r\n")
    with pytest.raises(InputError, match=r"row 1: the header row is not valid text in the file's encoding"):
        load(estate, path)


@pytest.mark.parametrize(
    "encoding, message",
    [
        ("rot13", "'rot13' is not a text encoding"),
        ("base64", "'base64' is not a text encoding"),
        ("klingon", "unknown encoding 'klingon'"),
    ],
)
def test_an_unknown_or_non_text_encoding_is_one_line(
    estate: Estate, tmp_path: Path, encoding: str, message: str
) -> None:
    path = tmp_path / "p.csv"
    path.write_bytes(b"id,name\r\n1,Sam\r\n")
    with pytest.raises(InputError) as caught:
        load(estate, path, encoding=encoding)
    assert message in str(caught.value) and str(path) in str(caught.value)
    assert "\n" not in str(caught.value)
    assert Catalogue(estate).find("names") is None


def test_the_cli_gives_one_line_for_rot13(cli, tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_bytes(b"id,name\r\n1,Sam\r\n")
    result = cli("schema", "infer", path, "--encoding", "rot13")
    assert result.exit_code != 0
    assert "Traceback" not in result.stderr + result.stdout
    assert "'rot13' is not a text encoding" in result.stderr


def _csv(path: Path, rows: list[tuple[int, str]]) -> Path:
    path.write_bytes(("id,name\r\n" + "".join(f"{i},{n}\r\n" for i, n in rows)).encode("utf-8"))
    return path


def _jsonl(path: Path, rows: list[tuple[int, str]]) -> Path:
    path.write_text("".join(json.dumps({"id": i, "name": n}) + "\n" for i, n in rows), encoding="utf-8")
    return path


def _parquet(path: Path, rows: list[tuple[int, str]]) -> Path:
    pq.write_table(pa.table({"id": [i for i, _ in rows], "name": [n for _, n in rows]}), path)
    return path


def _excel(path: Path, rows: list[tuple[int, str]]) -> Path:
    import openpyxl

    book = openpyxl.Workbook()
    book.active.append(["id", "name"])
    for row in rows:
        book.active.append(list(row))
    book.save(path)
    return path


@pytest.mark.parametrize("writer, suffix", [(_csv, "csv"), (_jsonl, "jsonl"), (_parquet, "parquet"), (_excel, "xlsx")])
def test_nul_and_byte_order_marks_are_removed_from_values_in_every_format(
    estate: Estate, tmp_path: Path, writer, suffix: str
) -> None:
    rows = [(1, "Zo\x00ë"), (2, "\ufeffSam"), (3, "Ann\ufeff Lee\x00")]
    if suffix == "xlsx":
        rows = [(i, n.replace("\x00", "")) for i, n in rows]  # openpyxl refuses NUL; the BOM is the case here
    result = load(estate, writer(tmp_path / f"p.{suffix}", rows))
    assert result.rows_loaded == 3
    assert names(estate) == {1: "Zoë", 2: "Sam", 3: "Ann Lee"}


def test_a_byte_order_mark_in_a_header_name_is_removed(estate: Estate, tmp_path: Path) -> None:
    path = tmp_path / "glued.jsonl"
    path.write_text('{"\\ufeffid": 1, "name": "Sam"}\n', encoding="utf-8")
    assert load(estate, path).rows_loaded == 1
    assert names(estate) == {1: "Sam"}


@pytest.mark.parametrize("encoding", ["utf-8", "cp1252"])
def test_a_file_mixing_line_endings_loads_and_quoted_values_keep_theirs(
    estate: Estate, tmp_path: Path, encoding: str
) -> None:
    # Exports glued together from two systems: some lines end "\r\n", others "\n".
    text = 'id,name\n1,Zoë\r\n2,"Jo\r\nX"\n3,Al\r\n4,"too",many\n5,Bo\n'
    path = tmp_path / "mixed.csv"
    path.write_bytes(text.encode(encoding))
    result = load(estate, path)
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (5, 4, 1)
    assert names(estate) == {1: "Zoë", 2: "Jo\r\nX", 3: "Al", 5: "Bo"}
    [ragged] = read_quarantine(estate, "names").rows
    assert ragged["_source_row"] == 5 and ragged["_line"] == '4,"too",many'
