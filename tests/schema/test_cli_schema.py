"""``joinedup schema``: infer says what its proposal would do; headerless files are refused."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from joinedup.standards import generate
from tests.conftest import CliResult, write_csv

Cli = Callable[..., CliResult]


def _foreign_export(tmp_path: Path) -> Path:
    import random

    rng = random.Random(3)
    lines = ["id,born,street_number,nhs_number,seen"]
    for i in range(60):
        born = f"{i % 12 + 1:02d}/{i % 15 + 13}/19{40 + i % 50}" if i % 20 else f"{i % 15 + 13}/02/1945"
        nhs = generate.nhs_number(rng) if i != 7 else "123"
        lines.append(f"{i},{born},{i + 1}{'A' if i == 11 else ''},{nhs},2020-01-{i % 28 + 1:02d}")
    lines.append("61,02/20/1945,5")  # ragged: a field missing
    return write_csv(tmp_path / "foreign.csv", "\n".join(lines))


def test_infer_reports_what_ingest_would_do_and_ingest_does_exactly_that(cli: Cli, tmp_path: Path) -> None:
    data = _foreign_export(tmp_path)
    schema = tmp_path / "foreign.yaml"
    proposed = cli("schema", "infer", data, "--out", schema, "--json")
    assert proposed.exit_code == 0, proposed.stderr
    report = proposed.json()
    loaded = cli("ingest", data, "--dataset", "abroad", "--schema", schema, "--json").json()
    for key in ("rows_read", "rows_loaded", "rows_quarantined", "rule_counts"):
        assert report[key] == loaded[key], key
    assert report["rule_counts"] == {"(row)": {"columns": 1}, "born": {"date": 3}, "nhs_number": {"nhs_number": 1}}
    assert (report["rows_read"], report["rows_loaded"], report["rows_quarantined"]) == (61, 56, 5)


def test_infer_to_standard_output_keeps_the_schema_alone_there(cli: Cli, tmp_path: Path) -> None:
    data = _foreign_export(tmp_path)
    result = cli("schema", "infer", data, "--json")
    assert result.exit_code == 0
    assert [f["name"] for f in result.json()["fields"]] == ["id", "born", "street_number", "nhs_number", "seen"]
    assert "ingest would load 56 of 61 rows and quarantine 5" in result.stderr
    human = cli("schema", "infer", data)
    assert human.stdout.startswith("fields:") and "born" in human.stderr and "would be quarantined" in human.stderr


def test_a_csv_without_a_header_row_is_refused_without_quoting_its_values(cli: Cli, tmp_path: Path) -> None:
    data = write_csv(tmp_path / "people.csv", "1,Sam,Jackson,943 476 5919,12/03/1980\n2,Ann,Lee,401 023 2137,11/03/1980")
    result = cli("schema", "infer", data, "--out", tmp_path / "people.yaml")
    assert result.exit_code != 0 and not (tmp_path / "people.yaml").exists()
    assert "row 1 looks like data, not a header" in result.stderr
    assert "column 4 is an NHS number" in result.stderr and "column 5 is a date" in result.stderr
    for value in ("Sam", "Jackson", "943", "12/03/1980"):
        assert value not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_header_of_names_found_again_below_it_is_refused(cli: Cli, tmp_path: Path) -> None:
    rows = "\n".join(f"{['Sam', 'Ann', 'Omar'][i % 3]},{['Lee', 'Khan'][i % 2]}" for i in range(12))
    result = cli("schema", "infer", write_csv(tmp_path / "names.csv", "Sam,Lee\n" + rows))
    assert result.exit_code != 0 and "column 1 is a value found again below it" in result.stderr


def test_ordinary_headers_and_year_columns_are_accepted(cli: Cli, tmp_path: Path) -> None:
    text = "area,2019,2020\nLeeds,1,2\nYork,3,4\narea,2019,2020\n"  # a second export pasted below the first
    result = cli("schema", "infer", write_csv(tmp_path / "wide.csv", text), "--json")
    assert result.exit_code == 0, result.stderr
    assert [f["name"] for f in result.json()["fields"]] == ["area", "c_2019", "c_2020"]
