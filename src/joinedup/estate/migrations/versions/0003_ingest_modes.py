"""Ingest modes: what each version inserted, updated and deleted, how many rows it holds, and rows above its header.

Revision ID: 0003_ingest
Revises: 0002
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_ingest"
down_revision = "0002"
branch_labels = None
depends_on = None

_COUNTS = ("rows_inserted", "rows_updated", "rows_deleted", "rows_total", "rows_above_header")


def upgrade() -> None:
    with op.batch_alter_table("dataset_versions") as batch:
        for name in _COUNTS:
            batch.add_column(sa.Column(name, sa.BigInteger, nullable=False, server_default="0"))
    # Every version before this revision replaced the whole table with the rows it loaded.
    op.execute("UPDATE dataset_versions SET rows_inserted = rows_loaded, rows_total = rows_loaded")


def downgrade() -> None:
    with op.batch_alter_table("dataset_versions") as batch:
        for name in _COUNTS:
            batch.drop_column(name)
