"""Catalogue tables for datasets, their schemas and their versions.

Later capabilities add their own tables (principals, audit, agreements ...)
through their own Alembic revisions on the same :class:`Base`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from joinedup.estate.db import Base


class Dataset(Base):
    __tablename__ = "datasets"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(63), unique=True)
    title: Mapped[str | None] = mapped_column(sa.String(255))
    description: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(sa.String(255))

    schemas: Mapped[list[SchemaVersion]] = relationship(back_populates="dataset", order_by="SchemaVersion.number")
    versions: Mapped[list[DatasetVersion]] = relationship(back_populates="dataset", order_by="DatasetVersion.number")


class SchemaVersion(Base):
    """A dataset's schema as it was when one or more versions were ingested with it."""

    __tablename__ = "schema_versions"
    __table_args__ = (sa.UniqueConstraint("dataset_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dataset_id: Mapped[int] = mapped_column(sa.ForeignKey("datasets.id"))
    number: Mapped[int]
    definition: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    digest: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(sa.String(255))

    dataset: Mapped[Dataset] = relationship(back_populates="schemas")


class DatasetVersion(Base):
    """One ingest: which Delta versions hold it, where it came from, what happened.

    This row is the commit point of an ingest. Delta commits written before it
    (by a process that then died) are never read, because readers open the
    Delta table at ``table_version``.
    """

    __tablename__ = "dataset_versions"
    __table_args__ = (sa.UniqueConstraint("dataset_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dataset_id: Mapped[int] = mapped_column(sa.ForeignKey("datasets.id"))
    number: Mapped[int]
    schema_version_id: Mapped[int] = mapped_column(sa.ForeignKey("schema_versions.id"))
    #: ``replace``, ``append`` or ``upsert``.
    mode: Mapped[str] = mapped_column(sa.String(16))
    table_version: Mapped[int]
    quarantine_version: Mapped[int | None]
    source_name: Mapped[str] = mapped_column(sa.String(1024))
    source_sha256: Mapped[str] = mapped_column(sa.String(64))
    source_bytes: Mapped[int] = mapped_column(sa.BigInteger)
    source_format: Mapped[str] = mapped_column(sa.String(16))
    source_encoding: Mapped[str | None] = mapped_column(sa.String(32))
    pipeline: Mapped[str] = mapped_column(sa.String(255))
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(sa.String(255))
    rows_read: Mapped[int] = mapped_column(sa.BigInteger)
    #: ``rows_inserted + rows_updated``, kept for readers of the catalogue from before ingest modes.
    rows_loaded: Mapped[int] = mapped_column(sa.BigInteger)
    rows_inserted: Mapped[int] = mapped_column(sa.BigInteger)
    rows_updated: Mapped[int] = mapped_column(sa.BigInteger)
    rows_deleted: Mapped[int] = mapped_column(sa.BigInteger)
    rows_quarantined: Mapped[int] = mapped_column(sa.BigInteger)
    #: Rows the dataset holds at this version (carried over, inserted and updated).
    rows_total: Mapped[int] = mapped_column(sa.BigInteger)
    rows_above_header: Mapped[int] = mapped_column(sa.BigInteger)
    #: ``{"<column>": {"<rule>": count}}``; structural problems under ``"(row)"``.
    rule_counts: Mapped[dict[str, dict[str, int]]] = mapped_column(sa.JSON)

    dataset: Mapped[Dataset] = relationship(back_populates="versions")
    schema: Mapped[SchemaVersion] = relationship()
