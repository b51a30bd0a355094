"""The byte scan behind erasure's verification finds a name whatever its letters' case and Unicode form."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from joinedup.lifecycle.scan import patterns_for, scan

NAME = "Zoë Ødegård-Çelik"


@pytest.mark.parametrize(
    "written",
    [NAME, NAME.upper(), NAME.lower(), unicodedata.normalize("NFD", NAME), unicodedata.normalize("NFD", NAME.upper())],
)
@pytest.mark.parametrize("asked", [NAME, NAME.lower(), NAME.upper()])
def test_raw_bytes_of_a_non_ascii_name_are_found(tmp_path: Path, written: str, asked: str) -> None:
    (tmp_path / "notes.json").write_bytes(b'{"x": 1, "who": "' + written.encode() + b'"}\x00\xff\xfe')
    found = scan(tmp_path, patterns_for([("name", asked)]))
    assert found.hits == [("notes.json", "name")]


def test_a_latin1_file_is_searched_too(tmp_path: Path) -> None:
    (tmp_path / "legacy.csv").write_bytes(("id,name\n1," + NAME.upper() + "\n").encode("latin-1"))
    assert scan(tmp_path, patterns_for([("name", NAME)])).hits == [("legacy.csv", "name")]


def test_decoded_parquet_values_in_another_unicode_form_are_found(tmp_path: Path) -> None:
    pq.write_table(pa.table({"name": [unicodedata.normalize("NFD", NAME), "Someone Else"]}), tmp_path / "p.parquet")
    assert ("p.parquet", "name") in scan(tmp_path, patterns_for([("name", NAME)])).hits


def test_an_ascii_name_elsewhere_is_not_a_hit(tmp_path: Path) -> None:
    (tmp_path / "other.txt").write_bytes(b"Zoe Odegard-Celik")
    assert scan(tmp_path, patterns_for([("name", NAME)])).clean
