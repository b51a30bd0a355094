"""The default answer to "did this dataset version hold this person?", read from the Delta tables.

Who-accessed asks it about bulk reads. It looks in the columns the version's
schema declares as that identifier type (``nhs_number``, ``ni_number``), at the
Delta version the catalogue recorded, with a pushed-down filter. It cannot tell
(None) for quarantine, which holds raw text, or for a version whose files are gone.
"""

from __future__ import annotations

import functools
import operator

import pyarrow.compute as pc
import sqlalchemy as sa

from joinedup.audit.queries import Membership, ReadScope
from joinedup.estate import Estate
from joinedup.estate.models import Dataset, DatasetVersion, SchemaVersion
from joinedup.storage import delta


def dataset_membership(estate: Estate) -> Membership:
    def member(scope: ReadScope, kind: str, value: str) -> bool | None:
        if scope.part != "table":
            return None
        with estate.session() as session:
            found = session.execute(
                sa.select(DatasetVersion.table_version, SchemaVersion.definition)
                .join(Dataset, DatasetVersion.dataset_id == Dataset.id)
                .join(SchemaVersion, DatasetVersion.schema_version_id == SchemaVersion.id)
                .where(Dataset.name == scope.dataset, DatasetVersion.number == scope.version)
            ).one_or_none()
        if found is None:
            return None
        columns = [
            f["name"] for f in found.definition.get("fields", []) if kind in (f.get("type"), f.get("format"))
        ]
        if not columns:
            return False
        try:
            data = delta.snapshot(estate.table_path(scope.dataset), found.table_version)
            match = functools.reduce(operator.or_, (pc.field(c) == value for c in columns))
            return data.count_rows(filter=match) > 0
        except Exception:
            # Vacuumed or purged files: the version can no longer be consulted.
            return None

    return member
