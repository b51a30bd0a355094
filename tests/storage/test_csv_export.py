"""CSV exports: nothing a spreadsheet would run as a formula, readable only by their owner, written whole or not at
all."""

from __future__ import annotations

import csv
import stat
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from joinedup.storage.csv_export import ExportError, safe_cell, write_csv


@pytest.mark.parametrize(
    "value",
    [
        "=1+1", "+44 7700 900123", "-2+3", "@SUM(A1)", "\t=1", "\r=1",
        " =HYPERLINK(\"http://x\")", "\t\t+cmd", "\n=1", "  \n @x", "\u3000=1",
        "＝1+1", "＋1", "－1", "＠SUM(A1)", " ＝cmd", "﹦1",
        "-inf", "+nan", "-1_000", "－１２",
    ],
)  # fmt: skip
def test_a_cell_a_spreadsheet_would_run_is_quoted(value: str) -> None:
    assert safe_cell(value) == "'" + value


@pytest.mark.parametrize("value", ["-12.5", "+44", "1e-3", " -7 ", "Sam Jackson", "a=b", "", "E1 6AN", "O'Neil"])
def test_numbers_and_ordinary_text_are_left_as_they_are(value: str) -> None:
    assert safe_cell(value) == value


def _first_visible(text: str) -> str:
    """What a spreadsheet looks at: the first character after blanks, full-width forms folded."""
    stripped = text.strip()
    return unicodedata.normalize("NFKC", stripped[0])[:1] if stripped else ""


@given(
    st.text(alphabet=st.sampled_from(list(" \t\r\n\u3000=+-@＝＋－＠0123456789.eE a")), max_size=8)
    | st.text(max_size=12)
)
def test_no_exported_cell_starts_a_formula_unless_it_is_a_plain_number(text: str) -> None:
    cell = safe_cell(text)
    if cell.startswith("'") and cell[1:] == text:
        return  # guarded
    assert cell == text
    assert not text.startswith(("\t", "\r"))
    if _first_visible(text) in "=+-@" and _first_visible(text):
        stripped = text.strip()
        float(stripped)  # the only cells left alone with such a start are numbers
        assert stripped.isascii()


def test_the_file_is_readable_only_by_its_owner_and_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    path.write_text("old", encoding="utf-8")
    path.chmod(0o644)
    assert write_csv(path, ["name", "note"], [["Zoë", "=1"], [None, 'a,"b"\nc']]) == 2
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with open(path, encoding="utf-8", newline="") as handle:
        assert list(csv.reader(handle)) == [["name", "note"], ["Zoë", "'=1"], ["", 'a,"b"\nc']]


@pytest.mark.parametrize("where", ["no/such/folder/out.csv", "."])
def test_a_destination_that_cannot_be_written_is_one_line(tmp_path: Path, where: str) -> None:
    with pytest.raises(ExportError) as raised:
        write_csv(tmp_path / where, ["a"], [["1"]])
    assert "\n" not in str(raised.value)
    assert list(tmp_path.iterdir()) == []


def test_a_failed_write_leaves_an_existing_file_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    path.write_text("before\r\n", encoding="utf-8")

    def rows():
        yield ["1"]
        raise OSError(28, "No space left on device")

    with pytest.raises(ExportError, match="No space left"):
        write_csv(path, ["a"], rows())
    assert path.read_bytes() == b"before\r\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]
