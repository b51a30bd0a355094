"""Data quality: rules, measured results per version, the issue log.

Revision ID: 0005_quality
Revises: 0004_audit
Create Date: 2026-12-05
"""

from __future__ import annotations

revision = "0005_quality"
down_revision = "0004_audit"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
