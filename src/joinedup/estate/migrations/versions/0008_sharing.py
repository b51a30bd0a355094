"""Sharing: agreements, objections, API clients.

Revision ID: 0008_sharing
Revises: 0007_audit_sealed
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from joinedup.estate.db import UTCDateTime

revision = "0008_sharing"
down_revision = "0007_audit_sealed"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sharing_agreements",
        sa.Column("id", sa.String(63), primary_key=True),
        sa.Column("definition", sa.JSON, nullable=False),
        sa.Column("source_sha256", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("revoked_at", UTCDateTime()),
        sa.Column("revoked_by", sa.String(255)),
        sa.Column("revoked_reason", sa.Text),
    )
    op.create_table(
        "sharing_clients",
        sa.Column("id", sa.String(63), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False, unique=True),
        sa.Column("agreement_id", sa.String(63), sa.ForeignKey("sharing_agreements.id"), nullable=False),
        sa.Column("principal", sa.String(255), nullable=False),
        sa.Column("secret_hash", sa.String(255), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("rotated_at", UTCDateTime()),
        sa.Column("revoked_at", UTCDateTime()),
        sa.Column("revoked_by", sa.String(255)),
    )
    op.create_table(
        "sharing_objections",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("subject_hashes", sa.JSON, nullable=False),
        sa.Column("purposes", sa.JSON, nullable=False),
        sa.Column("source", sa.Text),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("withdrawn_at", UTCDateTime()),
        sa.Column("withdrawn_by", sa.String(255)),
    )
    op.create_table(
        "sharing_extracts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("agreement_id", sa.String(63), sa.ForeignKey("sharing_agreements.id"), nullable=False),
        sa.Column("datasets", sa.JSON, nullable=False),
        sa.Column("format", sa.String(16), nullable=False),
        sa.Column("out_dir", sa.String(1024), nullable=False),
        sa.Column("manifest_sha256", sa.String(64), nullable=False),
        sa.Column("rows", sa.BigInteger, nullable=False),
        sa.Column("excluded", sa.BigInteger, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
    )


def downgrade() -> None:
    for table in ("sharing_extracts", "sharing_objections", "sharing_clients", "sharing_agreements"):
        op.drop_table(table)
