"""Open data: releases, Exchange Model metadata and imported catalogues.

Revision ID: 0009_publish
Revises: 0008_sharing
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from joinedup.estate.db import UTCDateTime

revision = "0009_publish"
down_revision = "0008_sharing"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "publish_releases",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("dataset", sa.String(63), nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("dataset_version", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("spec", sa.JSON, nullable=False),
        sa.Column("rows", sa.BigInteger, nullable=False),
        sa.Column("suppressed", sa.BigInteger, nullable=False),
        sa.Column("files", sa.JSON, nullable=False),
        sa.Column("out_dir", sa.String(1024), nullable=False),
        sa.Column("ckan_url", sa.String(1024)),
        sa.Column("ckan_package", sa.String(255)),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.UniqueConstraint("dataset", "number"),
    )
    op.create_table(
        "dataset_metadata",
        sa.Column("dataset", sa.String(63), primary_key=True),
        sa.Column("fields", sa.JSON, nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("updated_by", sa.String(255), nullable=False),
    )
    op.create_table(
        "catalogue_imports",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("source", sa.String(1024), nullable=False),
        sa.Column("format", sa.String(16), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("imported_at", UTCDateTime(), nullable=False),
        sa.Column("imported_by", sa.String(255), nullable=False),
    )
    op.create_table(
        "imported_datasets",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("import_id", sa.Integer, sa.ForeignKey("catalogue_imports.id"), nullable=False),
        sa.Column("identifier", sa.String(1024), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("publisher", sa.Text),
        sa.Column("keywords", sa.JSON, nullable=False),
        sa.Column("columns", sa.JSON, nullable=False),
        sa.Column("landing_page", sa.Text),
    )


def downgrade() -> None:
    for name in ("imported_datasets", "catalogue_imports", "dataset_metadata", "publish_releases"):
        op.drop_table(name)
