"""Alembic environment: runs against the connection joinedup hands over."""

from __future__ import annotations

from alembic import context

from joinedup.estate.db import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
