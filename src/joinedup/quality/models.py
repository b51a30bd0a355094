"""Catalogue tables of the quality capability (created by migration 0005_quality)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from joinedup.estate.db import Base


class RuleRow(Base):
    """A rule registered for a dataset from a rules file (defaults are never stored: they follow the schema)."""

    __tablename__ = "quality_rules"
    __table_args__ = (sa.UniqueConstraint("dataset", "rule_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dataset: Mapped[str] = mapped_column(sa.String(63))
    rule_id: Mapped[str] = mapped_column(sa.String(100))
    definition: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    source: Mapped[str] = mapped_column(sa.String(1024))
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(sa.String(255))


class ResultRow(Base):
    """One measurement of one dataset version."""

    __tablename__ = "quality_results"

    id: Mapped[int] = mapped_column(primary_key=True)
    dataset: Mapped[str] = mapped_column(sa.String(63))
    version: Mapped[int]
    measured_at: Mapped[datetime]
    measured_by: Mapped[str] = mapped_column(sa.String(255))
    rows: Mapped[int] = mapped_column(sa.BigInteger)
    scores: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    rules: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON)
    profile: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    drift: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON)
    cost: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    seconds: Mapped[float]


class IssueRow(Base):
    """GDQF's issue log: a rule below target (or a drifting metric) from one version until a later one passes."""

    __tablename__ = "quality_issues"

    id: Mapped[int] = mapped_column(primary_key=True)
    dataset: Mapped[str] = mapped_column(sa.String(63))
    rule_id: Mapped[str] = mapped_column(sa.String(100))
    dimension: Mapped[str] = mapped_column(sa.String(16))
    importance: Mapped[str] = mapped_column(sa.String(8))
    owner: Mapped[str | None] = mapped_column(sa.String(255))
    status: Mapped[str] = mapped_column(sa.String(8))
    first_version: Mapped[int]
    last_version: Mapped[int]
    closed_version: Mapped[int | None]
    impact: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    notes: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON)
    opened_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
