"""Audit hardening: a keyed MAC on every entry and on the head, the checkpoint interval in force, principal name keys.

Revision ID: 0004_audit
Revises: 0003_ingest
Create Date: 2026-11-30

Entries written before this revision keep an empty ``mac``; joinedup accepts
them up to the seq recorded with the chain key in ``keys/audit-chain.key`` and
pins them with a signed checkpoint when that key is made (docs/audit.md).
"""

from __future__ import annotations

import unicodedata

import sqlalchemy as sa
from alembic import op

revision = "0004_audit"
down_revision = "0003_ingest"
branch_labels = None
depends_on = None


def _name_key(name: str) -> str:
    # Kept in step with joinedup.access.principals.name_key; a migration must not import
    # code that may change after it ships.
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())


def upgrade() -> None:
    with op.batch_alter_table("audit_entries") as batch:
        batch.add_column(sa.Column("mac", sa.String(64)))
    with op.batch_alter_table("audit_head") as batch:
        batch.add_column(sa.Column("mac", sa.String(64)))
        batch.add_column(sa.Column("checkpoint_every", sa.BigInteger))
    with op.batch_alter_table("principals") as batch:
        batch.add_column(sa.Column("name_key", sa.String(255)))
    connection = op.get_bind()
    principals = sa.table(
        "principals", sa.column("id", sa.Integer), sa.column("name", sa.String), sa.column("name_key", sa.String)
    )
    taken: set[str] = set()
    for row_id, name in connection.execute(
        sa.select(principals.c.id, principals.c.name).order_by(principals.c.id)
    ).all():
        key = _name_key(name)
        # Names that differ only in case were allowed before; the later ones keep working
        # under their exact name, and no new name can collide with either.
        if key in taken:
            key = f"{key}#{row_id}"
        taken.add(key)
        connection.execute(principals.update().where(principals.c.id == row_id).values(name_key=key))
    # An index, not a constraint: SQLite adds a constraint only by rebuilding the table,
    # which the role grants' foreign key forbids.
    op.create_index("uq_principals_name_key", "principals", ["name_key"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_principals_name_key", "principals")
    # Plain ALTER TABLE (SQLite 3.35+ and PostgreSQL): a batch rebuild of principals
    # would drop the table the role grants' foreign key points at.
    for table, column in (
        ("principals", "name_key"),
        ("audit_head", "checkpoint_every"),
        ("audit_head", "mac"),
        ("audit_entries", "mac"),
    ):
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
