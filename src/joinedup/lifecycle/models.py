"""Catalogue tables of the lifecycle: requests, the rows found for them, holds, retention rules, erasure runs.

No table holds a person's values in clear: a request's identifiers are sealed
(AES-GCM) under a key of their own in ``keys/requests/``, which erasure destroys
at the end (see :mod:`joinedup.lifecycle.sealing`); everything else is keyed
hashes, surrogate row keys and counts.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from joinedup.estate.db import Base


class SubjectRequest(Base):
    __tablename__ = "lifecycle_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: ``access``, ``erasure`` or ``rectification``.
    kind: Mapped[str] = mapped_column(sa.String(16))
    #: ``open``, ``closed`` or ``erased``.
    status: Mapped[str] = mapped_column(sa.String(16))
    received: Mapped[date] = mapped_column(sa.Date)
    due: Mapped[date] = mapped_column(sa.Date)
    extension_months: Mapped[int] = mapped_column(default=0)
    extension_reason: Mapped[str | None] = mapped_column(sa.Text)
    #: Keyed hashes of the identifiers given (``{kind: hash}``).
    subject_hashes: Mapped[dict[str, str]] = mapped_column(sa.JSON)
    #: The identifiers and search details, sealed; None once destroyed.
    sealed: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    opened_at: Mapped[datetime]
    opened_by: Mapped[str] = mapped_column(sa.String(255))
    closed_at: Mapped[datetime | None]
    closed_by: Mapped[str | None] = mapped_column(sa.String(255))
    outcome: Mapped[str | None] = mapped_column(sa.Text)


class SubjectMatch(Base):
    """A row (by its surrogate key) found for a request, and whether a person confirmed it."""

    __tablename__ = "lifecycle_matches"
    __table_args__ = (sa.UniqueConstraint("request_id", "dataset", "part", "ingest", "source_row"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(sa.ForeignKey("lifecycle_requests.id"))
    dataset: Mapped[str] = mapped_column(sa.String(63))
    #: ``table`` or ``quarantine``.
    part: Mapped[str] = mapped_column(sa.String(16))
    ingest: Mapped[int]
    source_row: Mapped[int] = mapped_column(sa.BigInteger)
    #: ``identifier`` (exact) or ``search`` (scored on name, date of birth, postcode).
    basis: Mapped[str] = mapped_column(sa.String(16))
    score: Mapped[float] = mapped_column(default=1.0)
    #: ``confirmed``, ``candidate`` or ``rejected``.
    status: Mapped[str] = mapped_column(sa.String(16))
    decided_by: Mapped[str | None] = mapped_column(sa.String(255))


class LegalHold(Base):
    __tablename__ = "lifecycle_holds"

    id: Mapped[int] = mapped_column(primary_key=True)
    dataset: Mapped[str] = mapped_column(sa.String(63))
    #: Keyed hash of the NHS number the hold covers; None for the whole dataset.
    subject_hash: Mapped[str | None] = mapped_column(sa.String(64))
    #: The NHS number, sealed (retention must leave that person's rows alone); None for the whole dataset.
    sealed: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    reason: Mapped[str] = mapped_column(sa.Text)
    added_at: Mapped[datetime]
    added_by: Mapped[str] = mapped_column(sa.String(255))


class RetentionRule(Base):
    __tablename__ = "lifecycle_retention"

    dataset: Mapped[str] = mapped_column(sa.String(63), primary_key=True)
    #: ISO 8601 period: ``P6Y``, ``P18M``, ``P30D``.
    period: Mapped[str] = mapped_column(sa.String(32))
    #: A date column of the dataset, or ``ingest`` (when the row's version was loaded).
    from_: Mapped[str] = mapped_column("from_column", sa.String(63))
    #: ``delete`` or ``archive``.
    action: Mapped[str] = mapped_column(sa.String(16))
    set_at: Mapped[datetime]
    set_by: Mapped[str] = mapped_column(sa.String(255))


class ErasureRun(Base):
    """One erasure (of one or more requests): who proposed and approved it, the steps done, the certificate."""

    __tablename__ = "lifecycle_erasures"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_ids: Mapped[list[int]] = mapped_column(sa.JSON)
    #: ``proposed``, ``running`` or ``done``.
    status: Mapped[str] = mapped_column(sa.String(16))
    proposed_by: Mapped[str] = mapped_column(sa.String(255))
    proposed_at: Mapped[datetime]
    approved_by: Mapped[str | None] = mapped_column(sa.String(255))
    approved_at: Mapped[datetime | None]
    #: ``{step: {"at": ..., ...what it did}}`` for every step finished.
    steps: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    certificate: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    finished_at: Mapped[datetime | None]


class PurgedVersion(Base):
    """A dataset version whose files an erasure or retention run had to remove: it no longer reads back."""

    __tablename__ = "lifecycle_purged_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    dataset: Mapped[str] = mapped_column(sa.String(63))
    number: Mapped[int]
    reason: Mapped[str] = mapped_column(sa.Text)
    at: Mapped[datetime]
