"""Data quality: rules, measured results per version, the issue log.

Revision ID: 0005_quality
Revises: 0004_audit
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from joinedup.estate.db import UTCDateTime

revision = "0005_quality"
down_revision = "0004_audit"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "quality_rules",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("dataset", sa.String(63), nullable=False),
        sa.Column("rule_id", sa.String(100), nullable=False),
        sa.Column("definition", sa.JSON, nullable=False),
        sa.Column("source", sa.String(1024), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.UniqueConstraint("dataset", "rule_id"),
    )
    op.create_table(
        "quality_results",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("dataset", sa.String(63), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("measured_at", UTCDateTime(), nullable=False),
        sa.Column("measured_by", sa.String(255), nullable=False),
        sa.Column("rows", sa.BigInteger, nullable=False),
        sa.Column("scores", sa.JSON, nullable=False),
        sa.Column("rules", sa.JSON, nullable=False),
        sa.Column("profile", sa.JSON, nullable=False),
        sa.Column("drift", sa.JSON, nullable=False),
        sa.Column("cost", sa.JSON, nullable=False),
        sa.Column("seconds", sa.Float, nullable=False),
    )
    op.create_index("ix_quality_results_dataset_version", "quality_results", ["dataset", "version"])
    op.create_table(
        "quality_issues",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("dataset", sa.String(63), nullable=False),
        sa.Column("rule_id", sa.String(100), nullable=False),
        sa.Column("dimension", sa.String(16), nullable=False),
        sa.Column("importance", sa.String(8), nullable=False),
        sa.Column("owner", sa.String(255)),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("first_version", sa.Integer, nullable=False),
        sa.Column("last_version", sa.Integer, nullable=False),
        sa.Column("closed_version", sa.Integer),
        sa.Column("impact", sa.JSON, nullable=False),
        sa.Column("notes", sa.JSON, nullable=False),
        sa.Column("opened_at", UTCDateTime(), nullable=False),
        sa.Column("closed_at", UTCDateTime()),
    )
    op.create_index("ix_quality_issues_dataset_status", "quality_issues", ["dataset", "status"])


def downgrade() -> None:
    op.drop_table("quality_issues")
    op.drop_table("quality_results")
    op.drop_table("quality_rules")
