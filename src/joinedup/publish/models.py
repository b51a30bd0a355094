"""Catalogue tables of open data publishing: releases, Exchange Model metadata, imported catalogues."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from joinedup.estate.db import Base, UTCDateTime


class Release(Base):
    """One open data release of a dataset version: what it holds and where it went."""

    __tablename__ = "publish_releases"
    __table_args__ = (sa.UniqueConstraint("dataset", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dataset: Mapped[str] = mapped_column(sa.String(63))
    #: The release's own version, counting from 1 per dataset.
    number: Mapped[int]
    dataset_version: Mapped[int]
    #: ``columns`` or ``aggregate``.
    kind: Mapped[str] = mapped_column(sa.String(16))
    spec: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    rows: Mapped[int] = mapped_column(sa.BigInteger)
    suppressed: Mapped[int] = mapped_column(sa.BigInteger)
    #: ``{file name: sha256}`` of what was written.
    files: Mapped[dict[str, str]] = mapped_column(sa.JSON)
    out_dir: Mapped[str] = mapped_column(sa.String(1024))
    ckan_url: Mapped[str | None] = mapped_column(sa.String(1024))
    ckan_package: Mapped[str | None] = mapped_column(sa.String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(sa.String(255))


class DatasetMetadata(Base):
    """A dataset's Exchange Model (DCAT) fields beyond its name, title and description."""

    __tablename__ = "dataset_metadata"

    dataset: Mapped[str] = mapped_column(sa.String(63), primary_key=True)
    fields: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_by: Mapped[str] = mapped_column(sa.String(255))


class CatalogueImport(Base):
    """Another body's catalogue, read once: where and when it came from."""

    __tablename__ = "catalogue_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(sa.String(1024))
    format: Mapped[str] = mapped_column(sa.String(16))
    sha256: Mapped[str] = mapped_column(sa.String(64))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime())
    imported_by: Mapped[str] = mapped_column(sa.String(255))

    datasets: Mapped[list[ImportedDataset]] = relationship(back_populates="origin", order_by="ImportedDataset.id")


class ImportedDataset(Base):
    """One dataset another body describes: read-only, found by ``joinedup find``."""

    __tablename__ = "imported_datasets"

    id: Mapped[int] = mapped_column(primary_key=True)
    import_id: Mapped[int] = mapped_column(sa.ForeignKey("catalogue_imports.id"))
    identifier: Mapped[str] = mapped_column(sa.String(1024))
    title: Mapped[str] = mapped_column(sa.Text)
    description: Mapped[str | None] = mapped_column(sa.Text)
    publisher: Mapped[str | None] = mapped_column(sa.Text)
    keywords: Mapped[list[str]] = mapped_column(sa.JSON)
    columns: Mapped[list[str]] = mapped_column(sa.JSON)
    landing_page: Mapped[str | None] = mapped_column(sa.Text)

    origin: Mapped[CatalogueImport] = relationship(back_populates="datasets")
