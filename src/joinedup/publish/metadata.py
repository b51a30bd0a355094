"""A dataset's catalogue record under the UK Cross-Government Metadata Exchange Model (DCAT 3 based).

Title and description live on the dataset itself; the other Exchange Model
fields are kept in ``dataset_metadata`` and fall back to sensible defaults
(the estate as publisher, the Open Government Licence, OFFICIAL).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from joinedup.audit import record
from joinedup.estate import Catalogue, Estate
from joinedup.estate.catalogue import DatasetInfo
from joinedup.estate.db import now
from joinedup.publish.errors import PublishError
from joinedup.publish.models import DatasetMetadata

OGL = "http://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/"
OGL_TITLE = "Open Government Licence v3.0"
#: Government Security Classifications, lowest first; only OFFICIAL may be published openly.
CLASSIFICATIONS = ("OFFICIAL", "OFFICIAL-SENSITIVE", "SECRET", "TOP-SECRET")
ACCESS_RIGHTS = ("OPEN", "INTERNAL", "COMMERCIAL")
FREQUENCIES = ("daily", "weekly", "monthly", "quarterly", "annual", "irregular", "never")
#: The fields ``catalogue describe`` may set, with their defaults (None: none unless set).
EDITABLE: dict[str, Any] = {
    "title": None,
    "description": None,
    "summary": None,
    "keywords": [],
    "themes": [],
    "licence": OGL,
    "access_rights": "OPEN",
    "security_classification": "OFFICIAL",
    "contact_name": None,
    "contact_email": None,
    "creator": None,
    "publisher": None,
    "update_frequency": "irregular",
}
_CHOICES = {
    "security_classification": CLASSIFICATIONS,
    "access_rights": ACCESS_RIGHTS,
    "update_frequency": FREQUENCIES,
}


def describe(estate: Estate, dataset: str) -> dict[str, Any]:
    """The dataset's Exchange Model record as plain fields (what ``catalogue describe`` shows)."""
    info = Catalogue(estate).get(dataset)
    with estate.session() as session:
        row = session.get(DatasetMetadata, dataset)
        stored = dict(row.fields) if row else {}
    return _record(estate, info, stored)


def _record(estate: Estate, info: DatasetInfo, stored: Mapping[str, Any]) -> dict[str, Any]:
    current = info.current
    fields = {key: stored.get(key, default) for key, default in EDITABLE.items()}
    fields["publisher"] = fields["publisher"] or estate.config.name
    fields["creator"] = fields["creator"] or fields["publisher"]
    schema = info.schema or {}
    return {
        "identifier": f"{estate.config.name}/{info.name}",
        "name": info.name,
        **fields,
        "title": fields["title"] or info.title or schema.get("title") or info.name,
        "description": fields["description"]
        or info.description
        or schema.get("description")
        or f"The dataset {info.name}.",
        "summary": fields["summary"] or fields["title"] or info.title or info.name,
        "version": str(current.number) if current else "0",
        "issued": _iso(info.created_at),
        "modified": _iso(current.created_at if current else info.created_at),
        "columns": [str(f["name"]) for f in schema.get("fields", [])],
        "column_types": {str(f["name"]): str(f.get("type", "string")) for f in schema.get("fields", [])},
        "personal_columns": [str(f["name"]) for f in schema.get("fields", []) if f.get("personal")],
    }


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def update(estate: Estate, dataset: str, principal: str, changes: Mapping[str, Any]) -> dict[str, Any]:
    """Set Exchange Model fields of ``dataset``; the change and its audit entry commit together."""
    info = Catalogue(estate).get(dataset)
    for key, value in changes.items():
        if key not in EDITABLE:
            raise PublishError(f"catalogue describe: unknown field {key!r} (fields: {', '.join(EDITABLE)})")
        allowed = _CHOICES.get(key)
        if allowed and value not in allowed:
            raise PublishError(f"catalogue describe: {key} must be one of {', '.join(allowed)}")
    with estate.session() as session:
        row = session.get(DatasetMetadata, dataset, with_for_update=True)
        merged = {**(dict(row.fields) if row else {}), **changes}
        if row is None:
            session.add(DatasetMetadata(dataset=dataset, fields=merged, updated_at=now(), updated_by=principal))
        else:
            row.fields = merged
            row.updated_at = now()
            row.updated_by = principal
        session.flush()
        # The entry names the fields changed, not their text (a contact is a person's name and address).
        record(
            session, estate, principal=principal, action="catalogue.describe", dataset=dataset,
            dataset_version=info.current.number if info.current else None, detail={"fields": sorted(changes)},
        )  # fmt: skip
    return _record(estate, info, merged)


def stored_fields(estate: Estate) -> dict[str, dict[str, Any]]:
    """Every dataset's stored Exchange Model fields, by dataset name."""
    with estate.session() as session:
        return {row.dataset: dict(row.fields) for row in session.scalars(sa.select(DatasetMetadata))}


def records(estate: Estate) -> list[dict[str, Any]]:
    """Exchange Model records of every dataset (callers filter by what the reader may see)."""
    stored = stored_fields(estate)
    return [_record(estate, info, stored.get(info.name, {})) for info in Catalogue(estate).datasets()]
