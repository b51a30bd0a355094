"""Sharing: agreements, objections, API clients.

Revision ID: 0008_sharing
Revises: 0007_audit_sealed
Create Date: 2026-12-05
"""

from __future__ import annotations

revision = "0008_sharing"
down_revision = "0007_audit_sealed"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
