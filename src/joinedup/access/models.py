"""Principals (people, services, and later partner clients) and the roles granted to them."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from joinedup.estate.db import Base


class PrincipalRow(Base):
    __tablename__ = "principals"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(255), unique=True)
    #: The name folded for comparison (NFKC, case-folded): ``Alice`` and ``alice`` are one principal.
    name_key: Mapped[str] = mapped_column(sa.String(255), unique=True)
    #: person, service or client (partner clients arrive with sharing agreements).
    kind: Mapped[str] = mapped_column(sa.String(16))
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(sa.String(255))
    disabled: Mapped[bool] = mapped_column(sa.Boolean, default=False)

    grants: Mapped[list[RoleGrantRow]] = relationship(
        back_populates="principal", order_by="RoleGrantRow.id", cascade="all, delete-orphan"
    )


class RoleGrantRow(Base):
    """A role held by a principal, for one dataset or (``dataset`` NULL) for all of them."""

    __tablename__ = "role_grants"
    __table_args__ = (sa.UniqueConstraint("principal_id", "role", "dataset"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    principal_id: Mapped[int] = mapped_column(sa.ForeignKey("principals.id"))
    role: Mapped[str] = mapped_column(sa.String(16))
    #: A dataset name rather than a key: a steward can be named before the first ingest creates it.
    dataset: Mapped[str | None] = mapped_column(sa.String(63))
    granted_at: Mapped[datetime]
    granted_by: Mapped[str] = mapped_column(sa.String(255))

    principal: Mapped[PrincipalRow] = relationship(back_populates="grants")
