"""Catalogue exchange: export the estate's records (DCAT or a Data Package), import another body's, find.

Imported records live in their own tables, never mixed with the estate's
datasets, and no command changes them: they are what the other body said, with
where and when it came from.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from joinedup.access import Principal, authorize, resolve_principal
from joinedup.access.roles import PERMISSIONS
from joinedup.audit import record, record_now
from joinedup.estate import Catalogue, Estate
from joinedup.estate.db import now
from joinedup.publish import formats
from joinedup.publish.errors import CatalogueImportError, PublishError
from joinedup.publish.metadata import records
from joinedup.publish.models import CatalogueImport, ImportedDataset
from joinedup.schema import Schema, to_table_schema

EXPORT_FORMATS = ("dcat", "datapackage")
#: Roles that see datasets classified above OFFICIAL (those who look after the whole estate, or that dataset).
_SENSITIVE_ROLES = frozenset({"admin", "dpo", "auditor", "steward"})
#: Largest catalogue file read (a CKAN dump of all of data.gov.uk is about this size).
MAX_IMPORT_BYTES = 512 * 1024 * 1024


def may_see(principal: Principal, meta: Mapping[str, Any]) -> bool:
    """Whether ``principal`` may see a dataset's catalogue record: catalogue.read on it, and above OFFICIAL a role
    that looks after it (an analyst granted it sees only OFFICIAL records)."""
    permission = PERMISSIONS["catalogue.read"]
    held = principal.roles_on(meta["name"])
    allowed = {g.role for g in principal.grants if g.role in permission.anywhere} | held.intersection(permission.scoped)
    if not allowed:
        return False
    return meta.get("security_classification", "OFFICIAL") == "OFFICIAL" or bool(allowed & _SENSITIVE_ROLES)


def visible_records(estate: Estate, principal: Principal) -> list[dict[str, Any]]:
    return [meta for meta in records(estate) if may_see(principal, meta)]


def export_catalogue(estate: Estate, principal: str, fmt: str, out: Path) -> dict[str, Any]:
    """Write the records ``principal`` may see as DCAT JSON-LD or a Data Package descriptor; audited."""
    if fmt not in EXPORT_FORMATS:
        raise PublishError(f"--format must be one of {', '.join(EXPORT_FORMATS)}")
    if out.is_dir() or not out.parent.is_dir():
        raise PublishError(f"{out}: expected a file name in an existing folder")
    me = resolve_principal(estate, principal, "catalogue.read")
    shown = visible_records(estate, me)
    if fmt == "dcat":
        document = formats.dcat_document_catalogue([formats.dcat_dataset(m) for m in shown], estate.config.name)
    else:
        document = _datapackage(estate, shown)
    record_now(
        estate, principal=principal, action="catalogue.export",
        detail={"format": fmt, "datasets": [m["name"] for m in shown]},
    )  # fmt: skip
    out.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return {"format": fmt, "out": str(out), "datasets": [m["name"] for m in shown]}


def _datapackage(estate: Estate, shown: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    catalogue = Catalogue(estate)
    resources = []
    for meta in shown:
        info = catalogue.get(meta["name"])
        schema = Schema.from_dict(info.schema) if info.schema else None
        resources.append(
            {
                "name": meta["name"].replace("_", "-"),
                "title": meta["title"],
                "description": meta["description"],
                "path": f"datasets/{meta['name']}/data.csv",
                "profile": "tabular-data-resource",
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                **({"schema": to_table_schema(schema)} if schema else {}),
                "joinedup:securityClassification": meta["security_classification"],
            }
        )
    return {
        "name": re.sub(r"[^a-z0-9._-]+", "-", estate.config.name.lower()) or "estate",
        "title": f"Catalogue of {estate.config.name}",
        "resources": resources,
    }


# -- import ---------------------------------------------------------------------------------------------------


@dataclass
class ImportedRecord:
    identifier: str
    title: str
    description: str | None = None
    publisher: str | None = None
    keywords: list[str] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    landing_page: str | None = None


def import_catalogue(estate: Estate, principal: str, path: Path) -> dict[str, Any]:
    """Read another body's DCAT JSON-LD or CKAN ``package_search`` dump into the imported catalogue."""
    authorize(estate, principal, "catalogue.import")
    try:
        size = path.stat().st_size
        if size > MAX_IMPORT_BYTES:
            raise CatalogueImportError(f"{path}: larger than {MAX_IMPORT_BYTES // 2**20} MiB")
        raw = path.read_bytes()
    except OSError as exc:
        raise CatalogueImportError(f"{path}: cannot be read ({exc.strerror})") from None
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise CatalogueImportError(f"{path}: not JSON (expected DCAT JSON-LD or a CKAN package_search dump)") from None
    fmt, found = _parse(data, raw, path)
    if not found:
        raise CatalogueImportError(f"{path}: holds no datasets")
    digest = hashlib.sha256(raw).hexdigest()
    with estate.session() as session:
        origin = CatalogueImport(
            source=str(path.resolve()), format=fmt, sha256=digest, imported_at=now(), imported_by=principal
        )
        session.add(origin)
        session.flush()
        for item in found:
            session.add(ImportedDataset(import_id=origin.id, **item.__dict__))
        session.flush()
        record(
            session, estate, principal=principal, action="catalogue.import",
            detail={"import": origin.id, "format": fmt, "sha256": digest, "datasets": len(found)},
        )  # fmt: skip
        number = origin.id
    return {"import": number, "format": fmt, "source": str(path.resolve()), "sha256": digest, "datasets": len(found)}


def _parse(data: Any, raw: bytes, path: Path) -> tuple[str, list[ImportedRecord]]:
    packages = _ckan_packages(data)
    if packages is not None:
        return "ckan", [_from_ckan(p) for p in packages if isinstance(p, Mapping)]
    if isinstance(data, (Mapping, list)) and _has_context(data):
        return "dcat", _from_dcat(raw, path)
    raise CatalogueImportError(f"{path}: neither DCAT JSON-LD (no @context) nor a CKAN package_search dump")


def _has_context(data: Any) -> bool:
    if isinstance(data, Mapping):
        return "@context" in data or "@graph" in data
    return any(isinstance(item, Mapping) and "@context" in item for item in data)


def _ckan_packages(data: Any) -> list[Any] | None:
    """The packages of a CKAN dump: the API's answer, its ``result``, or a bare list of packages."""
    if isinstance(data, Mapping) and isinstance(data.get("result"), Mapping):
        data = data["result"]
    if isinstance(data, Mapping) and isinstance(data.get("results"), list):
        return list(data["results"])
    if (
        isinstance(data, list)
        and data
        and all(isinstance(p, Mapping) and "name" in p and "@context" not in p for p in data)
    ):
        return data
    return None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _from_ckan(package: Mapping[str, Any]) -> ImportedRecord:
    org = package.get("organization") or {}
    columns: list[str] = []
    for resource in package.get("resources") or []:
        schema = resource.get("schema") if isinstance(resource, Mapping) else None
        if isinstance(schema, str):
            try:
                schema = json.loads(schema)
            except json.JSONDecodeError:
                schema = None
        if isinstance(schema, Mapping):
            columns += [str(f.get("name")) for f in schema.get("fields", []) if isinstance(f, Mapping)]
    return ImportedRecord(
        identifier=str(package.get("id") or package.get("name")),
        title=str(package.get("title") or package.get("name")),
        description=_text(package.get("notes")),
        publisher=_text(org.get("title") if isinstance(org, Mapping) else None),
        keywords=[str(t.get("name")) for t in package.get("tags") or [] if isinstance(t, Mapping)],
        columns=columns,
        landing_page=_text(package.get("url")) or None,
    )


def _from_dcat(raw: bytes, path: Path) -> list[ImportedRecord]:
    import rdflib
    from rdflib.namespace import DCAT, DCTERMS, FOAF, RDF

    csvw = rdflib.Namespace("http://www.w3.org/ns/csvw#")
    graph = rdflib.Graph()
    try:
        graph.parse(data=raw, format="json-ld")
    except Exception as exc:  # rdflib raises many kinds; a remote @context cannot be fetched here
        raise CatalogueImportError(
            f"{path}: cannot be read as JSON-LD ({type(exc).__name__}); a remote @context must be inlined"
        ) from None
    found = []
    for node in sorted(set(graph.subjects(RDF.type, DCAT.Dataset)), key=str):
        publisher = graph.value(node, DCTERMS.publisher)
        name = graph.value(publisher, FOAF.name) if publisher is not None else None
        columns = [
            str(graph.value(column, csvw.name))
            for schema in graph.objects(node, csvw.tableSchema)
            for column in graph.objects(schema, csvw.column)
            if graph.value(column, csvw.name) is not None
        ]
        found.append(
            ImportedRecord(
                identifier=str(graph.value(node, DCTERMS.identifier) or node),
                title=str(graph.value(node, DCTERMS.title) or node),
                description=_text(graph.value(node, DCTERMS.description)),
                publisher=_text(name if name is not None else publisher),
                keywords=sorted(str(k) for k in graph.objects(node, DCAT.keyword)),
                columns=sorted(columns),
                landing_page=_text(graph.value(node, DCAT.landingPage)),
            )
        )
    return found


def imported(estate: Estate, principal: str) -> list[dict[str, Any]]:
    """Every import with its provenance and datasets (any registered principal may read it)."""
    resolve_principal(estate, principal)
    with estate.session() as session:
        rows = session.scalars(
            sa.select(CatalogueImport).options(selectinload(CatalogueImport.datasets)).order_by(CatalogueImport.id)
        ).all()
        return [
            {
                "import": row.id, "source": row.source, "format": row.format, "sha256": row.sha256,
                "imported_at": row.imported_at, "imported_by": row.imported_by,
                "datasets": [_imported_dict(d) for d in row.datasets],
            }
            for row in rows
        ]  # fmt: skip


def _imported_dict(row: ImportedDataset) -> dict[str, Any]:
    return {
        "identifier": row.identifier, "title": row.title, "description": row.description,
        "publisher": row.publisher, "keywords": list(row.keywords), "columns": list(row.columns),
        "landing_page": row.landing_page,
    }  # fmt: skip


# -- find -----------------------------------------------------------------------------------------------------

#: How people write each UK type; a query naming one finds columns of that type however they are named.
UK_TYPE_NAMES: dict[str, tuple[str, ...]] = {
    "nhs_number": ("nhs number", "nhs no", "nhs num", "nhs id"),
    "ni_number": ("national insurance number", "national insurance", "ni number", "nino", "ni no", "nin"),
    "postcode": ("postcode", "post code", "postal code", "pcode"),
    "uprn": ("uprn", "unique property reference number", "property reference"),
    "usrn": ("usrn", "unique street reference number", "street reference"),
    "company_number": ("company number", "companies house number", "company registration number", "crn", "co no"),
    "vat_number": ("vat number", "vat registration number", "vat no", "vat reg"),
    "utr": ("utr", "unique taxpayer reference", "tax reference"),
    "gss_code": ("gss code", "ons code", "local authority code", "la code", "lad code", "geography code"),
    "country_code": ("country code", "country", "iso country"),
}
_WEIGHTS = {"title": 3.0, "keywords": 2.0, "columns": 2.0, "description": 1.0, "uk_type": 5.0}


def _squash(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", text.lower())


def _words(text: str) -> set[str]:
    return {w for w in re.split(r"[^a-z0-9]+", text.lower()) if len(w) > 1}


def uk_types_named(query: str) -> set[str]:
    """UK types the query names ("NHS number" → nhs_number)."""
    squashed, words = _squash(query), _words(query)
    named = set()
    for uk_type, names in UK_TYPE_NAMES.items():
        # Several words are matched run together ("NHS-number", "nhsnumber"); one word must be a whole word.
        phrases = [_squash(n) for n in (*names, uk_type) if not n.isalpha()]
        single = [n for n in names if n.isalpha()]
        if any(p in squashed for p in phrases) or words.intersection(single):
            named.add(uk_type)
    return named


def column_uk_type(name: str) -> str | None:
    """The UK type a column's name suggests (``NHS_No`` → nhs_number), for catalogues without types."""
    squashed = _squash(name)
    for uk_type, names in UK_TYPE_NAMES.items():
        if squashed == _squash(uk_type) or squashed in {_squash(n) for n in names}:
            return uk_type
    return None


@dataclass
class Hit:
    source: str
    name: str
    title: str
    score: float
    publisher: str | None
    matched: list[str]

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def find(estate: Estate, principal: str, query: str) -> list[Hit]:
    """Datasets of the estate (those ``principal`` may see) and of imported catalogues, best match first."""
    if not query.strip():
        raise PublishError('find: give some words to look for, e.g. joinedup find "NHS number"')
    me = resolve_principal(estate, principal)
    words = _words(query)
    wanted_types = uk_types_named(query)
    hits = []
    for meta in visible_records(estate, me):
        typed = {c: t for c, t in meta["column_types"].items()}
        hits.append(_score("local", meta["name"], meta, typed, words, wanted_types, meta["publisher"]))
    for origin in imported(estate, principal):
        for item in origin["datasets"]:
            typed = {c: column_uk_type(c) or "string" for c in item["columns"]}
            hits.append(
                _score(
                    f"imported #{origin['import']}",
                    item["identifier"],
                    item,
                    typed,
                    words,
                    wanted_types,
                    item["publisher"],
                )
            )
    found = [h for h in hits if h.score > 0]
    return sorted(found, key=lambda h: (-h.score, h.source != "local", h.name))


def _score(
    source: str, name: str, item: Mapping[str, Any], typed: Mapping[str, str], words: set[str],
    wanted_types: Iterable[str], publisher: str | None,
) -> Hit:  # fmt: skip
    score = 0.0
    matched = []
    fields = {
        "title": _words(str(item.get("title") or "")),
        "description": _words(str(item.get("description") or "")),
        "keywords": set().union(*(_words(k) for k in item.get("keywords") or [])),
        "columns": set().union(*(_words(c) for c in typed)),
    }
    for where, present in fields.items():
        common = words & present
        if common:
            score += _WEIGHTS[where] * len(common)
            matched.append(f"{where}: {', '.join(sorted(common))}")
    for uk_type in sorted(wanted_types):
        columns = sorted(c for c, t in typed.items() if t == uk_type)
        if columns:
            score += _WEIGHTS["uk_type"]
            matched.append(f"{uk_type} column: {', '.join(columns)}")
    return Hit(source, name, str(item.get("title") or name), score, publisher, matched)
