"""Lifecycle: retention, legal holds, the requests register, erasure records.

Revision ID: 0010_lifecycle
Revises: 0009_publish
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from joinedup.estate.db import UTCDateTime

revision = "0010_lifecycle"
down_revision = "0009_publish"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lifecycle_requests",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("received", sa.Date, nullable=False),
        sa.Column("due", sa.Date, nullable=False),
        sa.Column("extension_months", sa.Integer, nullable=False, server_default="0"),
        sa.Column("extension_reason", sa.Text),
        sa.Column("subject_hashes", sa.JSON, nullable=False),
        sa.Column("sealed", sa.LargeBinary),
        sa.Column("opened_at", UTCDateTime(), nullable=False),
        sa.Column("opened_by", sa.String(255), nullable=False),
        sa.Column("closed_at", UTCDateTime()),
        sa.Column("closed_by", sa.String(255)),
        sa.Column("outcome", sa.Text),
    )
    op.create_table(
        "lifecycle_matches",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("request_id", sa.Integer, sa.ForeignKey("lifecycle_requests.id"), nullable=False),
        sa.Column("dataset", sa.String(63), nullable=False),
        sa.Column("part", sa.String(16), nullable=False),
        sa.Column("ingest", sa.Integer, nullable=False),
        sa.Column("source_row", sa.BigInteger, nullable=False),
        sa.Column("basis", sa.String(16), nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("decided_by", sa.String(255)),
        sa.UniqueConstraint("request_id", "dataset", "part", "ingest", "source_row"),
    )
    op.create_table(
        "lifecycle_holds",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("dataset", sa.String(63), nullable=False),
        sa.Column("subject_hash", sa.String(64)),
        sa.Column("sealed", sa.LargeBinary),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("added_at", UTCDateTime(), nullable=False),
        sa.Column("added_by", sa.String(255), nullable=False),
    )
    op.create_table(
        "lifecycle_retention",
        sa.Column("dataset", sa.String(63), primary_key=True),
        sa.Column("period", sa.String(32), nullable=False),
        sa.Column("from_column", sa.String(63), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("set_at", UTCDateTime(), nullable=False),
        sa.Column("set_by", sa.String(255), nullable=False),
    )
    op.create_table(
        "lifecycle_erasures",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("request_ids", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("proposed_by", sa.String(255), nullable=False),
        sa.Column("proposed_at", UTCDateTime(), nullable=False),
        sa.Column("approved_by", sa.String(255)),
        sa.Column("approved_at", UTCDateTime()),
        sa.Column("steps", sa.JSON, nullable=False),
        sa.Column("certificate", sa.JSON),
        sa.Column("finished_at", UTCDateTime()),
    )
    op.create_table(
        "lifecycle_purged_versions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("dataset", sa.String(63), nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    for name in (
        "lifecycle_purged_versions",
        "lifecycle_erasures",
        "lifecycle_retention",
        "lifecycle_holds",
        "lifecycle_matches",
        "lifecycle_requests",
    ):
        op.drop_table(name)
