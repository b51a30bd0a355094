"""Sealed audit literals: what precise who-accessed needs, outside the hash chain.

Revision ID: 0007_audit_sealed
Revises: 0006_linkage
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_audit_sealed"
down_revision = "0006_linkage"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Keyed by the entry's seq; no foreign key, so deleting a sealed text never touches the chain.
    op.create_table(
        "audit_sealed",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("sealed", sa.LargeBinary, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("audit_sealed")
