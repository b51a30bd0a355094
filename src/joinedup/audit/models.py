"""Audit tables: the entries, the head of the chain, and signed checkpoints.

Times in entries are canonical ISO text (not a datetime column) because the
hash covers the exact text; a driver round-tripping a timestamp could change it.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from joinedup.estate.db import Base


class AuditEntryRow(Base):
    # No secondary indexes: each would cost a page write on every append, while
    # `audit log` filters are occasional scans (a fraction of a second per million entries).
    __tablename__ = "audit_entries"

    #: 1, 2, 3 ... with no gaps; the primary key is what stops two writers forking the chain.
    seq: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[str] = mapped_column(sa.String(32))
    principal: Mapped[str] = mapped_column(sa.String(255))
    action: Mapped[str] = mapped_column(sa.String(64))
    purpose: Mapped[str | None] = mapped_column(sa.Text)
    dataset: Mapped[str | None] = mapped_column(sa.String(63))
    dataset_version: Mapped[int | None] = mapped_column(sa.Integer)
    #: Canonical JSON list of column names.
    columns: Mapped[str] = mapped_column(sa.Text)
    row_count: Mapped[int | None] = mapped_column(sa.BigInteger)
    #: Canonical JSON list of keyed hashes of the people the entry is about.
    subjects: Mapped[str] = mapped_column(sa.Text)
    #: Canonical JSON object; identifiers are redacted out of it before it is stored.
    detail: Mapped[str] = mapped_column(sa.Text)
    prev_hash: Mapped[str] = mapped_column(sa.String(64))
    hash: Mapped[str] = mapped_column(sa.String(64))
    #: HMAC of ``hash`` under the chain key in ``keys/``; empty for entries older than that key.
    mac: Mapped[str | None] = mapped_column(sa.String(64))


class AuditHead(Base):
    """One row: the last sequence number and hash.

    Appending starts by updating this row, which takes the write lock (SQLite)
    or the row lock (PostgreSQL) before the previous hash is read, so appends
    are serialised and the chain cannot fork.
    """

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(sa.BigInteger)
    hash: Mapped[str] = mapped_column(sa.String(64))
    #: HMAC of (seq, hash, checkpoint_every) under the chain key: a head set by hand does not match it.
    mac: Mapped[str | None] = mapped_column(sa.String(64))
    #: The ``[audit] checkpoint_every`` in force; a change to the setting is itself an entry.
    checkpoint_every: Mapped[int | None] = mapped_column(sa.BigInteger)


class AuditCheckpointRow(Base):
    __tablename__ = "audit_checkpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(sa.BigInteger)
    hash: Mapped[str] = mapped_column(sa.String(64))
    at: Mapped[str] = mapped_column(sa.String(32))
    estate: Mapped[str] = mapped_column(sa.String(255))
    #: Raw Ed25519 public key, hex.
    public_key: Mapped[str] = mapped_column(sa.String(64))
    signature: Mapped[str] = mapped_column(sa.String(128))


class AuditSealedRow(Base):
    """A read's query text, sealed (AES-256-GCM under ``keys/audit-seal.key``), outside the hash chain.

    The entry it belongs to holds only a commitment to it (``detail["sealed"]``, the
    SHA-256 of ``sealed``), so verify notices a changed or swapped text, while an
    erasure can delete the text that names a person without touching the chain.
    """

    __tablename__ = "audit_sealed"

    seq: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    #: 12-byte nonce followed by the ciphertext and its tag.
    sealed: Mapped[bytes] = mapped_column(sa.LargeBinary)
