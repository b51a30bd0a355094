"""The register of individual rights requests: access, erasure and rectification, each with its deadline.

A request keeps the person's identifiers as keyed hashes (for the audit log and
holds) and, sealed (see :mod:`joinedup.lifecycle.sealing`), what is needed to
answer it: the identifiers and the name, date of birth and postcode to search by.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from joinedup.access import authorize
from joinedup.audit import Subject, record
from joinedup.audit.subjects import canonical_identifier, estate_secret, subject_hash
from joinedup.errors import InputError, NotFoundError
from joinedup.estate import Estate
from joinedup.estate.db import now
from joinedup.lifecycle.deadlines import MAX_EXTENSION_MONTHS, days_left, due_date
from joinedup.lifecycle.labels import parse_label
from joinedup.lifecycle.models import SubjectRequest
from joinedup.lifecycle.sealing import destroy, seal, unseal
from joinedup.standards import STANDARD_TYPES

KINDS = ("access", "erasure", "rectification")
#: Who manages the register: the action every request command is authorised against.
MANAGE = "request.manage"


@dataclass(frozen=True)
class RequestInfo:
    id: int
    kind: str
    status: str
    received: date
    due: date
    extension_months: int
    extension_reason: str | None
    opened_at: datetime
    opened_by: str
    closed_at: datetime | None
    outcome: str | None
    identifier_kinds: tuple[str, ...]

    @property
    def label(self) -> str:
        return f"R{self.id}"

    def days_left(self, today: date | None = None) -> int:
        return days_left(self.due, today or date.today())

    def overdue(self, today: date | None = None) -> bool:
        return self.status == "open" and self.days_left(today) < 0

    def to_dict(self, today: date | None = None) -> dict[str, Any]:
        return {
            "request": self.label,
            "kind": self.kind,
            "status": self.status,
            "received": self.received.isoformat(),
            "due": self.due.isoformat(),
            "days_left": self.days_left(today) if self.status == "open" else None,
            "overdue": self.overdue(today),
            "extension_months": self.extension_months,
            "extension_reason": self.extension_reason,
            "opened_by": self.opened_by,
            "opened_at": self.opened_at.isoformat().replace("+00:00", "Z"),
            "closed_at": self.closed_at.isoformat().replace("+00:00", "Z") if self.closed_at else None,
            "outcome": self.outcome,
            "identifiers": list(self.identifier_kinds),
        }


def parse_request_id(text: str) -> int:
    """``R12``, ``r12`` or ``12`` as the number 12."""
    return parse_label(text, "R", "request")


def _info(row: SubjectRequest) -> RequestInfo:
    return RequestInfo(
        row.id, row.kind, row.status, row.received, row.due, row.extension_months, row.extension_reason,
        row.opened_at, row.opened_by, row.closed_at, row.outcome, tuple(sorted(row.subject_hashes)),
    )  # fmt: skip


def identifiers(
    nhs_number: str | None = None,
    ni_number: str | None = None,
    name: str | None = None,
    date_of_birth: str | None = None,
    postcode: str | None = None,
) -> dict[str, str]:
    """The details a request is answered with, canonical; one line naming (never quoting) what is invalid."""
    found: dict[str, str] = {}
    for kind, value in (("nhs_number", nhs_number), ("ni_number", ni_number)):
        if value is not None:
            canonical = canonical_identifier(kind, value)
            if canonical is None:
                raise InputError(f"--{kind.replace('_', '-')}: not a valid {kind.replace('_', ' ')}")
            found[kind] = canonical
    if name is not None and name.strip():
        found["name"] = " ".join(name.split())
    if date_of_birth is not None:
        try:
            found["date_of_birth"] = date.fromisoformat(date_of_birth.strip()).isoformat()
        except ValueError:
            raise InputError("--dob: expected an ISO 8601 date, e.g. 1980-02-29") from None
    if postcode is not None:
        canonical = STANDARD_TYPES["postcode"].reference(postcode)
        if canonical is None:
            raise InputError("--postcode: not a valid UK postcode")
        found["postcode"] = canonical
    if not {"nhs_number", "ni_number"} & found.keys() and not {"name", "date_of_birth"} <= found.keys():
        raise InputError("identify the person: --nhs-number or --ni-number, or at least --name and --dob")
    return found


def open_request(
    estate: Estate, principal: str, kind: str, received: date, details: dict[str, str], *, today: date | None = None
) -> RequestInfo:
    """Record a request received on ``received`` about the person ``details`` (from :func:`identifiers`)."""
    if kind not in KINDS:
        raise InputError(f"request kind {kind!r}: expected one of {', '.join(KINDS)}")
    if received > (today or date.today()):
        raise InputError(f"--received {received.isoformat()}: is in the future")
    me = authorize(estate, principal, MANAGE)
    secret = estate_secret(estate)
    hashes = {k: subject_hash(secret, k, v) for k, v in details.items() if k in ("nhs_number", "ni_number")}
    with estate.session() as session:
        row = SubjectRequest(
            kind=kind, status="open", received=received, due=due_date(received), extension_months=0,
            subject_hashes=hashes, sealed=None, opened_at=now(), opened_by=me.name,
        )  # fmt: skip
        session.add(row)
        session.flush()
        row.sealed = seal(estate, f"R{row.id}", details)
        _audit(session, estate, me.name, "request.open", row, {"kind": kind, "due": row.due.isoformat()}, details)
    return _info(row)


def subjects_of(details: dict[str, str]) -> list[Subject]:
    """The audit subjects for a request's details: its identifiers (only ever stored as keyed hashes)."""
    return [Subject(k, v) for k, v in details.items() if k in ("nhs_number", "ni_number")]


def _audit(
    session: Session, estate: Estate, principal: str, action: str, row: SubjectRequest,
    detail: dict[str, Any], details: dict[str, str] | None = None,
) -> None:  # fmt: skip
    record(
        session, estate, principal=principal, action=action, subjects=subjects_of(details or {}),
        detail={"request": f"R{row.id}", **detail},
    )  # fmt: skip


def get_row(session: Session, request_id: int) -> SubjectRequest:
    row = session.get(SubjectRequest, request_id)
    if row is None:
        raise NotFoundError(f"unknown request R{request_id} (see `joinedup request list`)")
    return row


def get_request(estate: Estate, request_id: int) -> RequestInfo:
    with estate.session() as session:
        return _info(get_row(session, request_id))


def request_details(estate: Estate, request_id: int) -> dict[str, str]:
    """The request's sealed details (identifiers, name, date of birth, postcode)."""
    with estate.session() as session:
        row = get_row(session, request_id)
        return unseal(estate, f"R{row.id}", row.sealed)


def list_requests(
    estate: Estate, principal: str, *, status: str | None = None, today: date | None = None
) -> list[RequestInfo]:
    """Requests, overdue first, then by deadline; ``status`` filters (``open``, ``closed``, ``erased``)."""
    authorize(estate, principal, MANAGE)
    with estate.session() as session:
        query = sa.select(SubjectRequest)
        if status is not None:
            query = query.where(SubjectRequest.status == status)
        found = [_info(r) for r in session.scalars(query)]
    day = today or date.today()
    return sorted(found, key=lambda r: (not r.overdue(day), r.status != "open", r.due, r.id))


def extend_request(estate: Estate, principal: str, request_id: int, months: int, reason: str) -> RequestInfo:
    """Extend the deadline by ``months`` more (at most two in all), recording why."""
    if not reason.strip():
        raise InputError("--reason: say why the request needs longer (complexity or number of requests)")
    me = authorize(estate, principal, MANAGE)
    with estate.session() as session:
        row = get_row(session, request_id)
        if row.status != "open":
            raise InputError(f"request R{request_id} is {row.status}; only open requests can be extended")
        total = row.extension_months + months
        if months < 1 or total > MAX_EXTENSION_MONTHS:
            raise InputError(
                f"request R{request_id}: already extended by {row.extension_months} month(s); "
                f"the extension can total at most {MAX_EXTENSION_MONTHS} months"
            )
        row.extension_months = total
        row.extension_reason = reason
        row.due = due_date(row.received, total)
        _audit(session, estate, me.name, "request.extend", row, {"months": total, "due": row.due.isoformat()})
    return _info(row)


def close_request(estate: Estate, principal: str, request_id: int, outcome: str) -> RequestInfo:
    """Close the request with its outcome (answered, refused and why, withdrawn)."""
    if not outcome.strip():
        raise InputError("--outcome: say how the request was answered")
    me = authorize(estate, principal, MANAGE)
    with estate.session() as session:
        row = get_row(session, request_id)
        if row.status != "open":
            raise InputError(f"request R{request_id} is already {row.status}")
        row.status, row.outcome, row.closed_at, row.closed_by = "closed", outcome, now(), me.name
        row.sealed = None  # minimisation: once answered, the details it was answered with are not kept
        _audit(session, estate, me.name, "request.close", row, {})
    destroy(estate, f"R{request_id}")
    return _info(row)
