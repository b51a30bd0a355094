"""Open data: releases and imported catalogues.

Revision ID: 0009_publish
Revises: 0008_sharing
Create Date: 2026-12-05
"""

from __future__ import annotations

revision = "0009_publish"
down_revision = "0008_sharing"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
