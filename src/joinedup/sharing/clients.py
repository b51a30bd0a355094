"""Partner clients: a principal of kind ``client`` bound to one agreement, with a secret shown once.

The secret is kept only as a salted scrypt hash. The client's principal holds no
role, so it can run no command; it reads only through its agreement (the API),
and every read names it in the audit log.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from joinedup.access import authorize
from joinedup.access.identity import load_principal
from joinedup.access.models import PrincipalRow
from joinedup.access.principals import NAME
from joinedup.audit import contains_identifier, opaque_id, principal_key, record
from joinedup.errors import InputError
from joinedup.estate import Estate
from joinedup.estate.db import now
from joinedup.sharing.agreements import get_agreement
from joinedup.sharing.errors import BadCredentials, ClientRefused, NotFound
from joinedup.sharing.models import ClientRow

MANAGE = "client.manage"
KIND = "client"
#: scrypt cost: 2**14 (16 MiB, some tens of milliseconds), paid once per token, not per request.
_N, _R, _P = 2**14, 8, 1
#: Compared against when the client id is unknown, so an unknown id takes as long as a wrong secret.
_DUMMY = "scrypt$16384$8$1$" + "00" * 16 + "$" + "00" * 32
#: Every refusal of a token request says the same: who asks without the secret learns nothing from it.
_REFUSED = "client id or secret not recognised, or the client was revoked"


@dataclass(frozen=True)
class Client:
    id: str
    name: str
    agreement_id: str
    #: The principal the audit log names for this client's reads.
    principal: str
    revoked: bool
    created_at: datetime | None = None
    created_by: str | None = None
    rotated_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "agreement": self.agreement_id,
            "principal": self.principal,
            "revoked": self.revoked,
            "created_at": self.created_at,
            "created_by": self.created_by,
            "rotated_at": self.rotated_at,
        }

    @classmethod
    def from_row(cls, row: ClientRow) -> Client:
        return cls(
            row.id, row.name, row.agreement_id, row.principal, row.revoked_at is not None,
            row.created_at, row.created_by, row.rotated_at,
        )  # fmt: skip


@dataclass(frozen=True)
class Issued:
    """A client just made or rotated, with its secret: shown once, never stored."""

    client: Client
    secret: str

    def to_dict(self) -> dict[str, Any]:
        return {**self.client.to_dict(), "secret": self.secret}


def hash_secret(secret: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(secret.encode("utf-8"), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${_N}${_R}${_P}${salt.hex()}${digest.hex()}"


def secret_matches(secret: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        made = hashlib.scrypt(secret.encode("utf-8"), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p), dklen=32)
    except (ValueError, UnicodeEncodeError):
        return False
    return hmac.compare_digest(made, bytes.fromhex(digest))


def add_client(estate: Estate, actor: str, name: str, agreement_id: str) -> Issued:
    """Register client ``name`` for the agreement; its principal is ``name`` (kind client, no roles)."""
    actor = authorize(estate, actor, MANAGE).name
    if not NAME.fullmatch(name) or contains_identifier(name) or contains_identifier(principal_key(name)):
        raise InputError(
            f"client name {name!a}: expected letters, digits and . _ @ + - (starting with a letter or digit), "
            "not an NHS or National Insurance number"
        )
    agreement = get_agreement(estate, agreement_id)
    if agreement.revoked_at is not None:
        raise InputError(f"agreement {agreement.id} was revoked; a client cannot be added under it")
    secret = secrets.token_urlsafe(32)
    with estate.session() as session:
        if load_principal(session, name) is not None:
            raise InputError(f"client name {name!r}: a principal of that name exists; choose another")
        client_id = opaque_id("jdc_", 12)
        session.add(
            PrincipalRow(name=name, name_key=principal_key(name), kind=KIND, created_at=now(), created_by=actor)
        )
        row = ClientRow(
            id=client_id, name=name, agreement_id=agreement.id, principal=name, secret_hash=hash_secret(secret),
            created_at=now(), created_by=actor,
        )  # fmt: skip
        session.add(row)
        session.flush()
        record(session, estate, principal=actor, action="client.add",
               detail={"client": client_id, "name": name, "agreement": agreement.id})  # fmt: skip
        return Issued(Client.from_row(row), secret)


def list_clients(estate: Estate, actor: str, agreement_id: str | None = None) -> list[Client]:
    authorize(estate, actor, MANAGE)
    query = sa.select(ClientRow).order_by(ClientRow.name)
    if agreement_id is not None:
        query = query.where(ClientRow.agreement_id == agreement_id)
    with estate.session() as session:
        return [Client.from_row(r) for r in session.scalars(query).all()]


def clients_of(estate: Estate, agreement_id: str) -> list[Client]:
    with estate.session() as session:
        rows = session.scalars(sa.select(ClientRow).where(ClientRow.agreement_id == agreement_id)).all()
        return [Client.from_row(r) for r in rows]


def _client(session: Session, ident: str) -> ClientRow:
    row = (
        session.get(ClientRow, ident)
        or session.scalars(sa.select(ClientRow).where(ClientRow.name == ident)).one_or_none()
    )
    if row is None:
        raise NotFound(f"no client {ident!r}; see `joinedup client list`")
    return row


def revoke_client(estate: Estate, actor: str, ident: str) -> Client:
    """Revoke a client (by id or name): its secret stops working and its principal is disabled."""
    actor = authorize(estate, actor, MANAGE).name
    with estate.session() as session:
        row = _client(session, ident)
        if row.revoked_at is not None:
            raise InputError(f"client {row.name} was already revoked")
        row.revoked_at = now()
        row.revoked_by = actor
        principal = load_principal(session, row.principal)
        if principal is not None:
            principal.disabled = True
        session.flush()
        record(session, estate, principal=actor, action="client.revoke", detail={"client": row.id, "name": row.name})
        return Client.from_row(row)


def rotate_client(estate: Estate, actor: str, ident: str) -> Issued:
    """Give a client a new secret (shown once); the old one stops working at once."""
    actor = authorize(estate, actor, MANAGE).name
    secret = secrets.token_urlsafe(32)
    with estate.session() as session:
        row = _client(session, ident)
        if row.revoked_at is not None:
            raise InputError(f"client {row.name} was revoked; add a new client instead")
        row.secret_hash = hash_secret(secret)
        row.rotated_at = now()
        session.flush()
        record(session, estate, principal=actor, action="client.rotate", detail={"client": row.id, "name": row.name})
        return Issued(Client.from_row(row), secret)


def client_exists(estate: Estate, client_id: str) -> bool:
    """Whether ``client_id`` is a registered client's id (revoked or not)."""
    if len(client_id) > 63:
        return False
    with estate.session() as session:
        return session.get(ClientRow, client_id) is not None


def authenticate_client(estate: Estate, client_id: str, secret: str) -> Client:
    """The client, when ``secret`` is its secret and it is not revoked; else :class:`BadCredentials`.

    The comparison is constant-time, and an unknown id costs the same scrypt as a wrong secret. The right secret
    of a revoked or disabled client is :class:`ClientRefused`: the same message, but naming the client and why, since
    the secret proved who is asking (the API audits it; a wrong secret identifies nobody and is not audited).
    """
    with estate.session() as session:
        row = session.get(ClientRow, client_id) if len(client_id) <= 63 else None
        stored = row.secret_hash if row is not None else _DUMMY
        found = Client.from_row(row) if row is not None else None
        principal = load_principal(session, row.principal) if row is not None else None
        # An admin may disable the client's principal like any other: that stops it too.
        disabled = principal is None or principal.disabled
    matched = secret_matches(secret, stored)
    if found is None or not matched:
        raise BadCredentials(_REFUSED)
    if found.revoked:
        raise ClientRefused(_REFUSED, found, "client-revoked")
    if disabled:
        raise ClientRefused(_REFUSED, found, "client-disabled")
    return found
