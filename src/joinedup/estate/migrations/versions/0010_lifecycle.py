"""Lifecycle: retention, legal holds, the requests register, erasure records.

Revision ID: 0010_lifecycle
Revises: 0009_publish
Create Date: 2026-12-05
"""

from __future__ import annotations

revision = "0010_lifecycle"
down_revision = "0009_publish"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
