"""Sealed audit literals: what precise who-accessed needs, outside the hash chain.

Revision ID: 0007_audit_sealed
Revises: 0006_linkage
Create Date: 2026-12-05
"""

from __future__ import annotations

revision = "0007_audit_sealed"
down_revision = "0006_linkage"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
