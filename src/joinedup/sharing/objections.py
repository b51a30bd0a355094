"""The objections register (UK GDPR Art. 21, like the NHS national data opt-out).

A person objects to their data being shared for some purpose categories. They
are kept only as keyed hashes of their identifiers: the same HMAC under the
estate's secret that names people in the audit log
(:func:`joinedup.audit.subjects.subject_hash`), so the register holds no
identifier in clear and a read can match it in DuckDB by hashing the dataset's
identifier columns the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from joinedup.access import authorize
from joinedup.audit import Subject, contains_identifier, record
from joinedup.audit.subjects import estate_secret, subject_hash
from joinedup.errors import InputError
from joinedup.estate import Estate
from joinedup.estate.db import now
from joinedup.sharing.agreements import PURPOSES
from joinedup.sharing.errors import NotFound
from joinedup.sharing.models import ObjectionRow

MANAGE = "objection.manage"
#: Identifier kinds an objection names a person by.
KINDS = ("nhs_number", "ni_number")
_ID = re.compile(r"[Oo]?([1-9][0-9]{0,17})")


@dataclass(frozen=True)
class Objection:
    id: int
    purposes: tuple[str, ...]
    #: Which identifiers were given (their kinds; never their values).
    identified_by: tuple[str, ...]
    source: str | None
    created_at: datetime
    created_by: str
    withdrawn_at: datetime | None

    @property
    def label(self) -> str:
        return f"O{self.id}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.label,
            "purposes": list(self.purposes),
            "identified_by": list(self.identified_by),
            "source": self.source,
            "status": "withdrawn" if self.withdrawn_at else "in force",
            "created_at": self.created_at,
            "created_by": self.created_by,
            "withdrawn_at": self.withdrawn_at,
        }

    @classmethod
    def from_row(cls, row: ObjectionRow) -> Objection:
        return cls(
            row.id, tuple(row.purposes), tuple(sorted(row.subject_hashes)), row.source,
            row.created_at, row.created_by, row.withdrawn_at,
        )  # fmt: skip


def parse_purposes(text: str) -> tuple[str, ...]:
    found = tuple(dict.fromkeys(p.strip() for p in text.split(",") if p.strip()))
    if not found:
        raise InputError(f"--purposes: name at least one of: {', '.join(PURPOSES)}")
    for purpose in found:
        if purpose not in PURPOSES:
            raise InputError(f"--purposes: {purpose!r} is not a purpose category ({', '.join(PURPOSES)})")
    return found


def parse_objection_id(text: str) -> int:
    match = _ID.fullmatch(text.strip())
    if match is None:
        raise InputError(f"objection {text!r}: expected an objection id such as O3")
    return int(match.group(1))


def add_objection(
    estate: Estate,
    actor: str,
    *,
    nhs_number: str,
    ni_number: str | None = None,
    purposes: tuple[str, ...],
    source: str | None = None,
) -> Objection:
    """Record an objection; audited (``objection.add``) with the person as keyed hashes only."""
    actor = authorize(estate, actor, MANAGE).name
    secret = estate_secret(estate)
    given = {"nhs_number": nhs_number, **({"ni_number": ni_number} if ni_number else {})}
    hashes: dict[str, str] = {}
    for kind, value in given.items():
        try:
            hashes[kind] = subject_hash(secret, kind, value)
        except InputError as exc:
            raise InputError(f"--{kind.replace('_', '-')}: {exc}") from None
    if source and contains_identifier(source):
        # The register keeps people as keyed hashes only: a free-text note must not carry their number in clear.
        raise InputError("--source: holds an NHS or National Insurance number; describe the source without it")
    for purpose in purposes:
        if purpose not in PURPOSES:
            raise InputError(f"--purposes: {purpose!r} is not a purpose category ({', '.join(PURPOSES)})")
    with estate.session() as session:
        for row in session.scalars(sa.select(ObjectionRow).where(ObjectionRow.withdrawn_at.is_(None))).all():
            if set(row.subject_hashes.items()) & set(hashes.items()):
                raise InputError(
                    f"this person already has objection O{row.id} in force; withdraw it and record a new one "
                    "to change its purposes"
                )
        row = ObjectionRow(
            subject_hashes=hashes, purposes=list(purposes), source=(source or "").strip() or None,
            created_at=now(), created_by=actor,
        )  # fmt: skip
        session.add(row)
        session.flush()
        record(
            session, estate, principal=actor, action="objection.add",
            subjects=[Subject(k, v) for k, v in given.items()],
            detail={"objection": f"O{row.id}", "purposes": list(purposes)},
        )  # fmt: skip
        return Objection.from_row(row)


def list_objections(estate: Estate, actor: str, *, include_withdrawn: bool = False) -> list[Objection]:
    authorize(estate, actor, MANAGE)
    query = sa.select(ObjectionRow).order_by(ObjectionRow.id)
    if not include_withdrawn:
        query = query.where(ObjectionRow.withdrawn_at.is_(None))
    with estate.session() as session:
        return [Objection.from_row(r) for r in session.scalars(query).all()]


def withdraw_objection(estate: Estate, actor: str, objection_id: int) -> Objection:
    actor = authorize(estate, actor, MANAGE).name
    with estate.session() as session:
        row = session.get(ObjectionRow, objection_id)
        if row is None:
            raise NotFound(f"no objection O{objection_id}; see `joinedup objection list`")
        if row.withdrawn_at is not None:
            raise InputError(f"objection O{objection_id} was already withdrawn")
        row.withdrawn_at = now()
        row.withdrawn_by = actor
        session.flush()
        record(session, estate, principal=actor, action="objection.withdraw", detail={"objection": f"O{row.id}"})
        return Objection.from_row(row)


def objector_hashes(estate: Estate, purpose_category: str) -> dict[str, list[str]]:
    """``{kind: [keyed hash, ...]}`` of everyone with an objection in force covering ``purpose_category``."""
    found: dict[str, set[str]] = {kind: set() for kind in KINDS}
    with estate.session() as session:
        rows = session.execute(
            sa.select(ObjectionRow.subject_hashes, ObjectionRow.purposes).where(ObjectionRow.withdrawn_at.is_(None))
        ).all()
    for hashes, purposes in rows:
        if purpose_category in purposes:
            for kind, digest in hashes.items():
                found.setdefault(kind, set()).add(digest)
    return {kind: sorted(values) for kind, values in found.items() if values}


def register_version(estate: Estate) -> tuple[int, int]:
    """Changes whenever the register does (for caching what is derived from it)."""
    with estate.session() as session:
        count, withdrawn = session.execute(
            sa.select(sa.func.coalesce(sa.func.max(ObjectionRow.id), 0), sa.func.count(ObjectionRow.withdrawn_at))
        ).one()
    return int(count), int(withdrawn)
