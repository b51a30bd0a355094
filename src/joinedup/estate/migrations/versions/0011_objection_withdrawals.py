"""An index on when objections were withdrawn: the API asks for the latest on every read.

Revision ID: 0011_objection_withdrawals
Revises: 0010_lifecycle
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0011_objection_withdrawals"
down_revision = "0010_lifecycle"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_sharing_objections_withdrawn_at", "sharing_objections", ["withdrawn_at"])


def downgrade() -> None:
    op.drop_index("ix_sharing_objections_withdrawn_at", "sharing_objections")
