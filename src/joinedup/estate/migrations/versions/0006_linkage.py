"""Record linkage: runs, saved models, key history (merges and splits) and clerical review decisions.

Pairs and keys themselves are Delta tables under ``linkage/<entity>/`` in the estate.

Revision ID: 0006_linkage
Revises: 0005_quality
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from joinedup.estate.db import UTCDateTime

revision = "0006_linkage"
down_revision = "0005_quality"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "linkage_runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("entity", sa.String(16), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("principal", sa.String(255), nullable=False),
        sa.Column("datasets", sa.JSON, nullable=False),
        sa.Column("threshold", sa.Float, nullable=False),
        sa.Column("incremental", sa.Boolean, nullable=False),
        sa.Column("summary", sa.JSON, nullable=False),
    )
    op.create_table(
        "linkage_models",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("entity", sa.String(16), nullable=False),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("linkage_runs.id"), nullable=False),
        sa.Column("roles", sa.JSON, nullable=False),
        sa.Column("model", sa.JSON, nullable=False),
    )
    op.create_table(
        "linkage_history",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("entity", sa.String(16), nullable=False),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("linkage_runs.id"), nullable=False),
        sa.Column("event", sa.String(16), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("others", sa.JSON, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
    )
    op.create_table(
        "linkage_reviews",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("entity", sa.String(16), nullable=False),
        sa.Column("dataset_l", sa.String(63), nullable=False),
        sa.Column("id_l", sa.Text, nullable=False),
        sa.Column("dataset_r", sa.String(63), nullable=False),
        sa.Column("id_r", sa.Text, nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("principal", sa.String(255), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("entity", "dataset_l", "id_l", "dataset_r", "id_r"),
    )


def downgrade() -> None:
    op.drop_table("linkage_reviews")
    op.drop_table("linkage_history")
    op.drop_table("linkage_models")
    op.drop_table("linkage_runs")
