"""Releases end to end: files validated by independent tools, refusals, audit, nothing half-published."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

import csvw
import pytest
import rdflib
from frictionless import Package

from joinedup.access import add_principal
from joinedup.errors import AccessDenied
from joinedup.estate import Estate
from joinedup.publish import PersonalDataFound, PublishError, publish, releases
from joinedup.publish.formats import REQUIRED_DCAT
from tests.conftest import CliResult
from tests.publish.conftest import NHS, load


def _audit_text(estate: Estate) -> str:
    with estate.engine.connect() as con:
        return json.dumps([list(map(str, r)) for r in con.exec_driver_sql("SELECT * FROM audit_entries")])


def test_an_aggregate_release_validates_with_frictionless_csvw_and_rdflib(residents: Estate, tmp_path: Path) -> None:
    out = tmp_path / "release"
    result = publish(residents, "tester", "residents", out=out, aggregate="count by la_code, year")
    assert result.release == 1 and result.suppressed_primary >= 1
    assert sorted(p.name for p in out.iterdir()) == [
        "data.csv", "data.csv-metadata.json", "datapackage.json", "dcat.jsonld"
    ]  # fmt: skip
    report = Package(str(out / "datapackage.json")).validate()
    assert report.valid, report.flatten(["type", "note"])
    raw = (out / "data.csv").read_bytes()
    assert raw.startswith(b"la_code,year,count\r\n") and b"[c]" in raw
    table = csvw.Table.from_file(out / "data.csv-metadata.json")
    rows = list(table.iterdicts(fname=out / "data.csv"))
    assert len(rows) == result.rows
    assert any(r["count"] is None for r in rows), "[c] is read as a null value through the metadata"
    graph = rdflib.Graph().parse(out / "dcat.jsonld", format="json-ld")
    dcat = rdflib.Namespace("http://www.w3.org/ns/dcat#")
    [dataset] = graph.subjects(rdflib.RDF.type, dcat.Dataset)
    namespaces = json.loads((out / "dcat.jsonld").read_text())["@context"]
    for prop in REQUIRED_DCAT:
        prefix, local = prop.split(":")
        assert graph.value(dataset, rdflib.URIRef(namespaces[prefix] + local)) is not None, prop
    license_ = graph.value(dataset, rdflib.URIRef("http://purl.org/dc/terms/license"))
    assert "open-government-licence/version/3" in str(license_)


def test_a_column_release_is_guarded_and_valid(estate: Estate, tmp_path: Path) -> None:
    load(estate, tmp_path, notes={1: "=HYPERLINK(1)", 2: 'a, "quoted" note'})
    out = tmp_path / "cols"
    publish(estate, "tester", "residents", out=out, columns=["la_code", "year", "amount", "note"])
    with open(out / "data.csv", newline="", encoding="utf-8") as handle:
        cells = [row[3] for row in csv.reader(handle)]
    assert "'=HYPERLINK(1)" in cells and 'a, "quoted" note' in cells
    report = Package(str(out / "datapackage.json")).validate()
    assert report.valid, report.flatten(["type", "note"])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"columns": ["name"]}, "personal data"),
        ({"columns": ["nope"]}, "unknown column 'nope'"),
        ({"aggregate": "count by nhs_number"}, "personal data"),
        ({"aggregate": "sum note by year"}, "numeric"),
        ({}, "either --columns or --aggregate"),
    ],
)
def test_bad_requests_get_one_line_and_write_nothing(
    residents: Estate, tmp_path: Path, kwargs: dict[str, object], message: str
) -> None:
    out = tmp_path / "never"
    with pytest.raises(PublishError, match=message):
        publish(residents, "tester", "residents", out=out, **kwargs)  # type: ignore[arg-type]
    assert not out.exists() and releases(residents) == []
    assert not list(tmp_path.glob(".never*"))


@pytest.mark.parametrize("note", ["Resident Number5", f"call about {NHS[:3]} {NHS[3:6]} {NHS[6:]}", "AB123456C"])
def test_the_scan_refuses_personal_values_naming_only_the_column(estate: Estate, tmp_path: Path, note: str) -> None:
    load(estate, tmp_path, notes={3: note})
    out = tmp_path / "leak"
    with pytest.raises(PersonalDataFound, match="column 'note'") as caught:
        publish(estate, "tester", "residents", out=out, columns=["year", "note"])
    assert note not in str(caught.value) and NHS not in str(caught.value)
    assert not out.exists() and releases(estate) == []


def test_dry_run_writes_and_records_nothing(residents: Estate, tmp_path: Path) -> None:
    result = publish(residents, "tester", "residents", out=tmp_path / "o", aggregate="count by year", dry_run=True)
    assert result.dry_run and result.preview and result.release is None
    assert not (tmp_path / "o").exists() and releases(residents) == []


def test_an_analyst_is_refused_and_the_refusal_audited(residents: Estate, tmp_path: Path) -> None:
    add_principal(residents, "tester", "alice", "analyst", datasets=["residents"])
    with pytest.raises(AccessDenied):
        publish(residents, "alice", "residents", out=tmp_path / "o", aggregate="count by year")
    assert "access.denied" in _audit_text(residents)


def test_a_release_is_audited_without_personal_values(residents: Estate, tmp_path: Path) -> None:
    publish(residents, "tester", "residents", out=tmp_path / "a", aggregate="mean amount by la_code, year")
    text = _audit_text(residents)
    assert "data.publish" in text
    assert NHS not in text and "Resident Number" not in text and "Lonely" not in text
    assert releases(residents)[0]["release"] == 1


def test_an_existing_non_empty_folder_is_refused(residents: Estate, tmp_path: Path) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(PublishError, match="not an empty folder"):
        publish(residents, "tester", "residents", out=tmp_path / "full", aggregate="count by year")


def test_the_cli_publishes_and_refuses_in_one_line(cli: Callable[..., CliResult], residents: Estate,
                                                   tmp_path: Path) -> None:  # fmt: skip
    done = cli("publish", "-d", "residents", "--aggregate", "count by la_code, year", "--out", tmp_path / "r", "--json")
    assert done.exit_code == 0, done.stderr
    assert done.json()["suppressed"] >= 1
    refused = cli("publish", "-d", "residents", "--columns", "name", "--out", tmp_path / "s", "--json")
    assert refused.exit_code == 1
    assert json.loads(refused.stderr)["error"] == "publish"
    leaked = cli("publish", "-d", "residents", "--columns", "name", "--out", tmp_path / "s")
    assert len(leaked.stderr.strip().splitlines()) == 1


def test_a_cube_of_three_or_more_groupings_is_refused(residents: Estate, tmp_path: Path) -> None:
    # Suppression is exact only for one or two grouping columns: a third could let totals reveal a cell.
    two = publish(
        residents, "tester", "residents", out=tmp_path / "o", aggregate="count by la_code, year", dry_run=True
    )
    assert two.aggregate
    with pytest.raises(PublishError, match="at most 2 columns"):
        publish(residents, "tester", "residents", out=tmp_path / "p", aggregate="count by la_code, year, note")
    assert not (tmp_path / "p").exists()
