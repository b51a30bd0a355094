"""Catalogue exchange: describe, export (classification respected), import (DCAT and CKAN), find, export-all."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pytest
import rdflib
from frictionless import Package

from joinedup.access import add_principal
from joinedup.errors import AccessDenied
from joinedup.estate import Estate
from joinedup.publish import CatalogueImportError, PublishError, describe, update
from joinedup.publish.catalogue import export_catalogue, find, import_catalogue, imported
from joinedup.publish.export_all import export_all
from tests.conftest import CliResult
from tests.publish.conftest import NHS

CKAN_DUMP = {
    "help": "package_search",
    "success": True,
    "result": {
        "count": 2,
        "results": [
            {
                "id": "p1", "name": "gp-registrations", "title": "GP registrations",
                "notes": "Patients registered at GP practices", "organization": {"title": "NHS Digital"},
                "tags": [{"name": "health"}],
                "resources": [{"schema": {"fields": [{"name": "NHS_No"}, {"name": "practice"}]}}],
            },
            {"id": "p2", "name": "school-places", "title": "School places", "notes": "Places by school",
             "organization": {"title": "DfE"}, "tags": [], "resources": []},
        ],
    },
}  # fmt: skip


def test_describe_sets_fields_and_audits_their_names(residents: Estate) -> None:
    record = update(residents, "residents", "tester", {"keywords": ["health"], "contact_name": "Data Team"})
    assert record["keywords"] == ["health"] and describe(residents, "residents")["contact_name"] == "Data Team"
    with pytest.raises(PublishError, match="security_classification must be one of"):
        update(residents, "residents", "tester", {"security_classification": "SECRETISH"})


def test_export_respects_classification(residents: Estate, tmp_path: Path) -> None:
    add_principal(residents, "tester", "alice", "analyst", datasets=["residents"])
    out = tmp_path / "cat.jsonld"
    assert export_catalogue(residents, "alice", "dcat", out)["datasets"] == ["residents"]
    update(residents, "residents", "tester", {"security_classification": "OFFICIAL-SENSITIVE"})
    assert export_catalogue(residents, "alice", "dcat", out)["datasets"] == []
    assert export_catalogue(residents, "tester", "dcat", out)["datasets"] == ["residents"]
    graph = rdflib.Graph().parse(out, format="json-ld")
    assert len(list(graph.subjects(rdflib.RDF.type, rdflib.URIRef("http://www.w3.org/ns/dcat#Dataset")))) == 1
    package = tmp_path / "datapackage.json"
    export_catalogue(residents, "tester", "datapackage", package)
    report = Package.validate_descriptor(json.loads(package.read_text()))
    assert report.valid, report.flatten(["type", "note"])


def test_a_sensitive_dataset_is_not_published(residents: Estate, tmp_path: Path) -> None:
    from joinedup.publish import publish

    update(residents, "residents", "tester", {"security_classification": "OFFICIAL-SENSITIVE"})
    with pytest.raises(PublishError, match="only OFFICIAL, OPEN"):
        publish(residents, "tester", "residents", out=tmp_path / "o", aggregate="count by year")
    assert not (tmp_path / "o").exists()
    # A dry run shows what would be released: nothing, so it says so instead of showing the rows.
    with pytest.raises(PublishError, match="only OFFICIAL, OPEN"):
        publish(residents, "tester", "residents", out=tmp_path / "o", columns=["la_code", "year"], dry_run=True)


def test_import_of_a_dcat_export_and_a_ckan_dump_then_find(residents: Estate, tmp_path: Path) -> None:
    exported = tmp_path / "other.jsonld"
    export_catalogue(residents, "tester", "dcat", exported)
    dump = tmp_path / "ckan.json"
    dump.write_text(json.dumps(CKAN_DUMP), encoding="utf-8")
    first = import_catalogue(residents, "tester", exported)
    second = import_catalogue(residents, "tester", dump)
    assert (first["format"], second["format"], second["datasets"]) == ("dcat", "ckan", 2)
    assert second["sha256"] == hashlib.sha256(dump.read_bytes()).hexdigest()
    listing = imported(residents, "tester")
    assert [i["source"] for i in listing] == [str(exported.resolve()), str(dump.resolve())]
    hits = find(residents, "tester", "NHS number")
    names = [h.name for h in hits]
    # The estate's own nhs_number column and NHS Digital's NHS_No column are found; school places is not.
    assert names[0] == "residents" and "p1" in names and "p2" not in names
    assert any("nhs_number column: NHS_No" in m for h in hits for m in h.matched)
    assert [h.name for h in find(residents, "tester", "school")] == ["p2"]


@pytest.mark.parametrize("text", ["not json", "{}", '{"@context": {"x": "http://x/"}, "x:y": 1}'])
def test_bad_catalogue_files_get_one_line(residents: Estate, tmp_path: Path, text: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CatalogueImportError):
        import_catalogue(residents, "tester", path)
    assert imported(residents, "tester") == []


def test_export_all_writes_open_formats_with_checksums(residents: Estate, tmp_path: Path) -> None:
    out = tmp_path / "exit"
    summary = export_all(residents, "tester", out)
    manifest = json.loads((out / "manifest.json").read_text())
    assert hashlib.sha256((out / "manifest.json").read_bytes()).hexdigest() == summary["manifest_sha256"]
    for item in manifest["files"]:
        assert hashlib.sha256((out / item["path"]).read_bytes()).hexdigest() == item["sha256"]
    paths = {item["path"] for item in manifest["files"]}
    assert {"datasets/residents/data.parquet", "datasets/residents/data.csv", "catalogue/audit_entries.json",
            "catalogue.jsonld", "datasets/residents/schema.json"} <= paths  # fmt: skip
    secret = residents.secret.hex()
    for path in out.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path
    text = json.dumps(json.loads((out / "catalogue" / "audit_entries.json").read_text()))
    assert "estate.export_all" not in text, "the export's own entry is committed after the snapshot it describes"


def test_export_all_is_for_admins_only(residents: Estate, tmp_path: Path) -> None:
    add_principal(residents, "tester", "dana", "dpo")
    with pytest.raises(AccessDenied):
        export_all(residents, "dana", tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_the_cli_commands(cli: Callable[..., CliResult], residents: Estate, tmp_path: Path) -> None:
    assert cli("catalogue", "describe", "-d", "residents", "--keyword", "people", "--json").json()["keywords"] == [
        "people"
    ]
    assert cli("catalogue", "export", "--out", tmp_path / "c.jsonld").exit_code == 0
    assert cli("catalogue", "import", tmp_path / "c.jsonld", "--json").json()["datasets"] == 1
    assert cli("catalogue", "imported", "--json").json()[0]["format"] == "dcat"
    hits = cli("find", "NHS number", "--json").json()
    assert hits[0]["name"] == "residents" and NHS not in json.dumps(hits)
    done = cli("export-all", "--out", tmp_path / "all", "--json")
    assert done.exit_code == 0 and done.json()["datasets"] == {"residents": 1}
