"""The metadata files of a release: CSVW, a Frictionless Data Package and a DCAT (Exchange Model) record."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from joinedup.publish.aggregate import SUPPRESSED
from joinedup.publish.metadata import OGL, OGL_TITLE

CSV_NAME = "data.csv"
CSVW_NAME = "data.csv-metadata.json"
DATAPACKAGE_NAME = "datapackage.json"
DCAT_NAME = "dcat.jsonld"

#: Table Schema types → CSVW (XML Schema) datatypes.
_CSVW_TYPES = {
    "string": "string",
    "integer": "integer",
    "number": "decimal",
    "boolean": "boolean",
    "date": "date",
    "datetime": "dateTime",
    "time": "time",
    "year": "gYear",
}

DCAT_CONTEXT = {
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "vcard": "http://www.w3.org/2006/vcard/ns#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "csvw": "http://www.w3.org/ns/csvw#",
    # The Exchange Model's own terms (securityClassification, summary ...), namespaced as its JSON-LD context does.
    "ukgov": "https://co-cddo.github.io/ukgov-metadata-exchange-model/ns#",
}
#: Exchange Model properties every dataset record must carry (tests check them with rdflib).
REQUIRED_DCAT = (
    "dct:identifier",
    "dct:title",
    "dct:description",
    "ukgov:summary",
    "dct:license",
    "dct:accessRights",
    "ukgov:securityClassification",
    "dct:publisher",
    "dct:creator",
    "dcat:contactPoint",
    "dct:modified",
    "dcat:version",
)


def csvw(
    meta: Mapping[str, Any], fields: Sequence[Mapping[str, Any]], suppressed_columns: Sequence[str]
) -> dict[str, Any]:
    """CSVW metadata for ``data.csv``: a suppressed cell (``[c]``) is declared as a null value of its column."""
    columns = []
    for f in fields:
        column: dict[str, Any] = {
            "name": f["name"],
            "titles": f["name"],
            "datatype": _CSVW_TYPES.get(str(f.get("type", "string")), "string"),
        }
        if f.get("description"):
            column["dc:description"] = f["description"]
        if f["name"] in suppressed_columns:
            column["null"] = ["", SUPPRESSED]
            column["rdfs:comment"] = f"{SUPPRESSED}: suppressed to protect small numbers"
        columns.append(column)
    return {
        "@context": ["http://www.w3.org/ns/csvw", {"@language": "en"}],
        "url": CSV_NAME,
        "dc:title": meta["title"],
        "dc:description": meta["description"],
        "dc:license": {"@id": meta.get("licence") or OGL},
        "dc:publisher": meta["publisher"],
        "dialect": {"header": True, "encoding": "utf-8", "lineTerminators": ["\r\n"]},
        "tableSchema": {"columns": columns},
    }


def datapackage(
    meta: Mapping[str, Any],
    table_schema: Mapping[str, Any],
    *,
    name: str,
    csv_sha256: str,
    csv_bytes: int,
    suppressed_columns: Sequence[str],
) -> dict[str, Any]:
    """A Frictionless Data Package with one tabular resource, ``data.csv``."""
    schema = dict(table_schema)
    if suppressed_columns:
        schema["missingValues"] = ["", SUPPRESSED]
    licence = meta.get("licence") or OGL
    return {
        "name": name,
        "title": meta["title"],
        "description": meta["description"],
        "version": meta["release_version"],
        "licenses": [{"name": "OGL-UK-3.0", "path": licence, "title": OGL_TITLE if licence == OGL else licence}],
        "keywords": list(meta.get("keywords") or []),
        "created": meta["released"],
        "resources": [
            {
                "name": "data",
                "path": CSV_NAME,
                "profile": "tabular-data-resource",
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                "bytes": csv_bytes,
                "hash": f"sha256:{csv_sha256}",
                "schema": schema,
                **({"joinedup:suppressed": SUPPRESSED} if suppressed_columns else {}),
            }
        ],
    }


def dcat_dataset(meta: Mapping[str, Any], distributions: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """One dataset as an Exchange Model (DCAT) JSON-LD node, without its ``@context``."""
    node: dict[str, Any] = {
        "@id": f"urn:joinedup:{meta['identifier']}",
        "@type": "dcat:Dataset",
        "dct:identifier": meta["identifier"],
        "dct:title": meta["title"],
        "dct:description": meta["description"],
        "ukgov:summary": meta.get("summary") or meta["title"],
        "dct:license": {"@id": meta.get("licence") or OGL},
        "dct:accessRights": meta.get("access_rights") or "OPEN",
        "ukgov:securityClassification": meta.get("security_classification") or "OFFICIAL",
        "dct:publisher": {"@type": "foaf:Organization", "foaf:name": meta["publisher"]},
        "dct:creator": {"@type": "foaf:Organization", "foaf:name": meta.get("creator") or meta["publisher"]},
        "dcat:contactPoint": _contact(meta),
        "dct:issued": {"@value": meta["issued"], "@type": "xsd:dateTime"},
        "dct:modified": {"@value": meta["modified"], "@type": "xsd:dateTime"},
        "dcat:version": str(meta["version"]),
        "dcat:keyword": list(meta.get("keywords") or []),
        "dcat:theme": list(meta.get("themes") or []),
        "dct:accrualPeriodicity": meta.get("update_frequency") or "irregular",
    }
    if meta.get("columns"):
        # DCAT has no columns; a CSVW table schema carries their names, so `find` elsewhere can match them.
        node["csvw:tableSchema"] = {"csvw:column": [{"csvw:name": c} for c in meta["columns"]]}
    if distributions:
        node["dcat:distribution"] = [dict(d) for d in distributions]
    return node


def _contact(meta: Mapping[str, Any]) -> dict[str, Any]:
    contact: dict[str, Any] = {"@type": "vcard:Kind", "vcard:fn": meta.get("contact_name") or meta["publisher"]}
    if meta.get("contact_email"):
        contact["vcard:hasEmail"] = {"@id": f"mailto:{meta['contact_email']}"}
    return contact


def distribution(title: str, path: str, media_type: str, licence: str | None) -> dict[str, Any]:
    return {
        "@type": "dcat:Distribution",
        "dct:title": title,
        "dcat:downloadURL": {"@id": path},
        "dcat:mediaType": media_type,
        "dct:license": {"@id": licence or OGL},
    }


def dcat_document(nodes: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """A JSON-LD document: one dataset node, or a ``dcat:Catalog`` of several."""
    if len(nodes) == 1:
        return {"@context": DCAT_CONTEXT, **nodes[0]}
    return {"@context": DCAT_CONTEXT, "@type": "dcat:Catalog", "dcat:dataset": [dict(n) for n in nodes]}


def dcat_document_catalogue(nodes: Sequence[Mapping[str, Any]], publisher: str) -> dict[str, Any]:
    """A ``dcat:Catalog`` of the estate's datasets (always a catalogue, even of one or none)."""
    return {
        "@context": DCAT_CONTEXT,
        "@type": "dcat:Catalog",
        "dct:title": f"Catalogue of {publisher}",
        "dct:publisher": {"@type": "foaf:Organization", "foaf:name": publisher},
        "dcat:dataset": [dict(n) for n in nodes],
    }
