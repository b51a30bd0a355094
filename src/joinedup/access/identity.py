"""Who a principal is and what roles they hold, as read from the catalogue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from joinedup.access.models import PrincipalRow
from joinedup.audit import principal_key
from joinedup.errors import NotFoundError
from joinedup.estate import Estate


@dataclass(frozen=True)
class Grant:
    role: str
    #: None: every dataset.
    dataset: str | None

    def __str__(self) -> str:
        return self.role if self.dataset is None else f"{self.role} of {self.dataset}"


@dataclass(frozen=True)
class Principal:
    name: str
    kind: str
    disabled: bool
    created_at: datetime
    created_by: str
    grants: tuple[Grant, ...]

    def roles_on(self, dataset: str | None) -> set[str]:
        """Roles that apply to ``dataset``; with None, every role held anywhere."""
        return {g.role for g in self.grants if dataset is None or g.dataset in (None, dataset)}

    def describe(self) -> str:
        """``alice (analyst of people, steward of visits)``: who, as a refusal line names them."""
        held = ", ".join(str(g) for g in self.grants) or "no roles"
        return f"{self.name} ({held})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "disabled": self.disabled,
            "created_at": self.created_at,
            "created_by": self.created_by,
            "grants": [{"role": g.role, "dataset": g.dataset} for g in self.grants],
        }

    @classmethod
    def from_row(cls, row: PrincipalRow) -> Principal:
        return cls(
            name=row.name,
            kind=row.kind,
            disabled=row.disabled,
            created_at=row.created_at,
            created_by=row.created_by,
            grants=tuple(Grant(g.role, g.dataset) for g in row.grants),
        )


def find_principal(estate: Estate, name: str) -> Principal | None:
    with estate.session() as session:
        row = load_principal(session, name)
        return Principal.from_row(row) if row else None


def get_principal(estate: Estate, name: str) -> Principal:
    found = find_principal(estate, name)
    if found is None:
        raise NotFoundError(f"no principal called {name!r}; see `joinedup principal list`")
    return found


def list_principals(estate: Estate) -> list[Principal]:
    with estate.session() as session:
        rows = session.scalars(
            sa.select(PrincipalRow).options(selectinload(PrincipalRow.grants)).order_by(PrincipalRow.name)
        ).all()
        return [Principal.from_row(row) for row in rows]


def load_principal(session: Session, name: str) -> PrincipalRow | None:
    """The principal ``name`` stands for, ignoring case and Unicode width (``ALICE`` is ``alice``).

    An exact match wins: estates made before names were folded may hold two that fold alike.
    """
    return session.scalars(
        sa.select(PrincipalRow)
        .options(selectinload(PrincipalRow.grants))
        .where(sa.or_(PrincipalRow.name == name, PrincipalRow.name_key == principal_key(name)))
        .order_by((PrincipalRow.name == name).desc())
        .limit(1)
    ).one_or_none()
