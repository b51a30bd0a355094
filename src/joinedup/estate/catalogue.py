"""Reading and recording datasets and their versions in the catalogue."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from joinedup.errors import NotFoundError
from joinedup.estate.db import now
from joinedup.estate.estate import Estate, check_dataset_name
from joinedup.estate.lineage import Lineage
from joinedup.estate.models import Dataset, DatasetVersion, SchemaVersion


@dataclass(frozen=True)
class VersionInfo(Lineage):
    """A recorded version: its lineage and where it sits in the dataset's history."""

    number: int
    schema_number: int
    created_at: datetime
    created_by: str

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        data["created_at"] = self.created_at.isoformat().replace("+00:00", "Z")
        return data


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    title: str | None
    description: str | None
    created_at: datetime
    created_by: str
    schema: dict[str, Any] | None
    schema_number: int | None
    versions: tuple[VersionInfo, ...]

    @property
    def current(self) -> VersionInfo | None:
        return self.versions[-1] if self.versions else None

    def version(self, number: int | None) -> VersionInfo:
        """The given version, or the current one when ``number`` is None."""
        if number is None:
            if self.current is None:
                raise NotFoundError(f"dataset {self.name!r} has no versions yet")
            return self.current
        for version in self.versions:
            if version.number == number:
                return version
        known = ", ".join(str(v.number) for v in self.versions) or "none"
        raise NotFoundError(f"dataset {self.name!r} has no version {number} (versions: {known})")

    def to_dict(self, *, with_schema: bool = True) -> dict[str, Any]:
        current = self.current
        data: dict[str, Any] = {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "created_at": self.created_at.isoformat().replace("+00:00", "Z"),
            "created_by": self.created_by,
            "current_version": current.number if current else None,
            "rows": current.rows_total if current else 0,
            "versions": [v.to_dict() for v in self.versions],
        }
        if with_schema:
            data["schema_version"] = self.schema_number
            data["schema"] = self.schema
        return data


class Catalogue:
    """What the estate holds: datasets, their schemas and versions."""

    def __init__(self, estate: Estate) -> None:
        self.estate = estate

    def datasets(self) -> list[DatasetInfo]:
        with self.estate.session() as session:
            rows = session.scalars(_dataset_query().order_by(Dataset.name)).all()
            return [_info(row) for row in rows]

    def find(self, name: str) -> DatasetInfo | None:
        with self.estate.session() as session:
            row = session.scalars(_dataset_query().where(Dataset.name == name)).one_or_none()
            return _info(row) if row else None

    def get(self, name: str) -> DatasetInfo:
        info = self.find(name)
        if info is None:
            known = ", ".join(d.name for d in self.datasets()) or "none yet"
            raise NotFoundError(f"unknown dataset {name!r} (datasets: {known})")
        return info

    @staticmethod
    def record_version(
        session: Session,
        *,
        dataset: str,
        schema: dict[str, Any],
        schema_digest: str,
        principal: str,
        lineage: Lineage,
        title: str | None = None,
        description: str | None = None,
    ) -> VersionInfo:
        """Add a version (and the dataset and schema version if new) in ``session``.

        The caller commits; that commit is what makes the version exist.
        """
        check_dataset_name(dataset)
        stamp = now()
        row = session.scalars(sa.select(Dataset).where(Dataset.name == dataset).with_for_update()).one_or_none()
        if row is None:
            row = Dataset(
                name=dataset,
                title=title or schema.get("title"),
                description=description or schema.get("description"),
                created_at=stamp,
                created_by=principal,
            )
            session.add(row)
            session.flush()
        latest_schema = session.scalars(
            sa.select(SchemaVersion)
            .where(SchemaVersion.dataset_id == row.id)
            .order_by(SchemaVersion.number.desc())
            .limit(1)
        ).one_or_none()
        if latest_schema is None or latest_schema.digest != schema_digest:
            latest_schema = SchemaVersion(
                dataset_id=row.id,
                number=(latest_schema.number + 1) if latest_schema else 1,
                definition=schema,
                digest=schema_digest,
                created_at=stamp,
                created_by=principal,
            )
            session.add(latest_schema)
            session.flush()
        last_number = session.scalar(
            sa.select(sa.func.max(DatasetVersion.number)).where(DatasetVersion.dataset_id == row.id)
        )
        entry = DatasetVersion(
            dataset_id=row.id,
            number=(last_number or 0) + 1,
            schema_version_id=latest_schema.id,
            created_at=stamp,
            created_by=principal,
            **lineage.to_dict(),
        )
        session.add(entry)
        session.flush()
        return _version_info(entry, latest_schema.number)


def _dataset_query() -> sa.Select[Any]:  # Select[tuple[Dataset]] before SQLAlchemy 2.1, Select[Dataset] after
    return sa.select(Dataset).options(
        selectinload(Dataset.versions).selectinload(DatasetVersion.schema),
        selectinload(Dataset.schemas),
    )


def _version_info(row: DatasetVersion, schema_number: int) -> VersionInfo:
    lineage = {f.name: getattr(row, f.name) for f in fields(Lineage)}
    lineage["rule_counts"] = dict(row.rule_counts)
    return VersionInfo(
        **lineage,
        number=row.number,
        schema_number=schema_number,
        created_at=row.created_at,
        created_by=row.created_by,
    )


def _info(row: Dataset) -> DatasetInfo:
    latest_schema = row.schemas[-1] if row.schemas else None
    return DatasetInfo(
        name=row.name,
        title=row.title,
        description=row.description,
        created_at=row.created_at,
        created_by=row.created_by,
        schema=dict(latest_schema.definition) if latest_schema else None,
        schema_number=latest_schema.number if latest_schema else None,
        versions=tuple(_version_info(v, v.schema.number) for v in row.versions),
    )
