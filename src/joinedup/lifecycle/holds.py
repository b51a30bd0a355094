"""Legal holds: a dataset, or one person in it, that neither retention nor erasure may touch while the hold stands."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from joinedup.access import authorize
from joinedup.audit import Subject, record
from joinedup.audit.subjects import canonical_identifier, estate_secret, subject_hash
from joinedup.errors import InputError, NotFoundError
from joinedup.estate import Catalogue, Estate
from joinedup.estate.db import now
from joinedup.lifecycle.find import exact_keys
from joinedup.lifecycle.labels import parse_label
from joinedup.lifecycle.models import LegalHold
from joinedup.lifecycle.sealing import destroy, seal, unseal


@dataclass(frozen=True)
class Hold:
    id: int
    dataset: str
    person: bool
    reason: str
    added_at: datetime
    added_by: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "hold": f"H{self.id}",
            "dataset": self.dataset,
            "scope": "one person" if self.person else "whole dataset",
            "reason": self.reason,
            "added_at": self.added_at.isoformat().replace("+00:00", "Z"),
            "added_by": self.added_by,
        }


def _hold(row: LegalHold) -> Hold:
    return Hold(row.id, row.dataset, row.subject_hash is not None, row.reason, row.added_at, row.added_by)


def add_hold(estate: Estate, principal: str, dataset: str, reason: str, nhs_number: str | None = None) -> Hold:
    """Put ``dataset`` (or the person with ``nhs_number`` in it) under a legal hold."""
    if not reason.strip():
        raise InputError("--reason: say why the data must be kept (the litigation, inquiry or investigation)")
    Catalogue(estate).get(dataset)
    me = authorize(estate, principal, "hold.manage", dataset=dataset)
    hashed = None
    subjects: list[Subject] = []
    if nhs_number is not None:
        canonical = canonical_identifier("nhs_number", nhs_number)
        if canonical is None:
            raise InputError("--nhs-number: not a valid NHS number")
        hashed = subject_hash(estate_secret(estate), "nhs_number", canonical)
        subjects = [Subject("nhs_number", canonical)]
    with estate.session() as session:
        row = LegalHold(dataset=dataset, subject_hash=hashed, reason=reason, added_at=now(), added_by=me.name)
        session.add(row)
        session.flush()
        if nhs_number is not None:
            row.sealed = seal(estate, f"H{row.id}", {"nhs_number": subjects[0].value})
        record(
            session, estate, principal=me.name, action="hold.add", dataset=dataset, subjects=subjects,
            detail={"hold": f"H{row.id}", "scope": "person" if hashed else "dataset"},
        )  # fmt: skip
        return _hold(row)


def list_holds(estate: Estate, principal: str, dataset: str | None = None) -> list[Hold]:
    """Holds in force, of one dataset when ``dataset`` is given (an unknown name is an error, not "no holds")."""
    authorize(estate, principal, "hold.manage", dataset=dataset)
    if dataset is not None:
        Catalogue(estate).get(dataset)
    with estate.session() as session:
        query = sa.select(LegalHold).order_by(LegalHold.id)
        if dataset is not None:
            query = query.where(LegalHold.dataset == dataset)
        return [_hold(r) for r in session.scalars(query)]


def remove_hold(estate: Estate, principal: str, hold_id: int) -> Hold:
    me = authorize(estate, principal, "hold.manage")
    with estate.session() as session:
        row = session.get(LegalHold, hold_id)
        if row is None:
            raise NotFoundError(f"unknown hold H{hold_id} (see `joinedup hold list`)")
        found = _hold(row)
        session.delete(row)
        record(
            session,
            estate,
            principal=me.name,
            action="hold.remove",
            dataset=row.dataset,
            detail={"hold": f"H{hold_id}"},
        )
    destroy(estate, f"H{hold_id}")
    return found


def holds_over(estate: Estate, keys: dict[tuple[str, str], set[tuple[int, int]]], hashes: set[str]) -> list[Hold]:
    """Holds that stop erasing the rows ``keys`` (``{(dataset, part): {(ingest, row)}}``) of the person ``hashes``.

    A person hold names someone by NHS number; the request may have found them
    another way (an NI number, a confirmed name and date of birth), so a hold
    also applies when the held person's rows are among those to erase.
    """
    found: list[Hold] = []
    with estate.session() as session:
        rows = session.scalars(
            sa.select(LegalHold).where(LegalHold.dataset.in_(sorted({d for d, _ in keys}))).order_by(LegalHold.id)
        ).all()
        holds = [(_hold(r), r.subject_hash, r.sealed) for r in rows]
    for hold, hashed, sealed in holds:
        if hashed is None or hashed in hashes:
            found.append(hold)
            continue
        held = {"nhs_number": str(unseal(estate, f"H{hold.id}", sealed)["nhs_number"])}
        if any(
            keys.get((hold.dataset, part), set()) & exact_keys(estate, hold.dataset, part, held)
            for part in ("table", "quarantine")
        ):
            found.append(hold)
    return found


def held_people(estate: Estate, dataset: str) -> tuple[bool, list[str]]:
    """(whole dataset held, NHS numbers of the people held in it) for retention to leave alone."""
    with estate.session() as session:
        rows = session.scalars(sa.select(LegalHold).where(LegalHold.dataset == dataset)).all()
        whole = any(r.subject_hash is None for r in rows)
        people = [str(unseal(estate, f"H{r.id}", r.sealed)["nhs_number"]) for r in rows if r.subject_hash is not None]
        return whole, people


def parse_hold_id(text: str) -> int:
    return parse_label(text, "H", "hold")
