"""Record linkage: models, pairs, clusters, persistent keys, review decisions.

Revision ID: 0006_linkage
Revises: 0005_quality
Create Date: 2026-12-05
"""

from __future__ import annotations

revision = "0006_linkage"
down_revision = "0005_quality"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
