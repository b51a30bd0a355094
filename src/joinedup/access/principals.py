"""Registering principals and granting roles; every change is audited in the same transaction."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from joinedup.access.authorize import authorize
from joinedup.access.identity import Principal, load_principal
from joinedup.access.models import PrincipalRow, RoleGrantRow
from joinedup.access.roles import ADMIN, ESTATE_WIDE_ROLES, ROLES
from joinedup.audit import contains_identifier, principal_key, record
from joinedup.errors import EstateError, InputError, JoinedupError, NotFoundError
from joinedup.estate import Estate, check_dataset_name
from joinedup.estate.db import now

#: Login names and service names: what ``getpass.getuser()`` and service accounts look like,
#: in any script; no blanks, control or formatting characters (they forge lines and hide differences).
NAME = re.compile(r"[^\W_][\w.@+-]{0,254}")
#: ``client`` is kept for partner organisations, which arrive with sharing agreements.
KINDS = ("person", "service")


def bootstrap_admin(estate: Estate, name: str) -> Principal:
    """Register the estate's creator as its first admin (``joinedup init`` calls this).

    Refused once the estate has any principal: from then on only an admin adds people.
    """
    _check_name(name)
    with estate.session() as session:
        if session.scalar(sa.select(sa.func.count()).select_from(PrincipalRow)):
            raise EstateError(
                "this estate already has principals; ask an admin to add you with `joinedup principal add`"
            )
        row = _insert(session, name, "person", name)
        _grant(session, row, ADMIN, None, name)
        record(
            session,
            estate,
            principal=name,
            action="principal.add",
            detail={"principal": name, "kind": "person", "bootstrap": True},
        )
        record(
            session,
            estate,
            principal=name,
            action="principal.grant",
            detail={"principal": name, "role": ADMIN, "datasets": None},
        )
        session.flush()
        return Principal.from_row(row)


def add_principal(
    estate: Estate,
    actor: str,
    name: str,
    role: str,
    *,
    datasets: Iterable[str] = (),
    all_datasets: bool = False,
    kind: str = "person",
) -> Principal:
    """Register ``name`` with one role (more with :func:`grant_role`); ``actor`` must be an admin."""
    _check_name(name)
    if kind not in KINDS:
        raise InputError(
            f"principal kind {kind!r}: expected {' or '.join(KINDS)} (partner clients come with sharing agreements)"
        )
    scopes = _scopes(role, datasets, all_datasets)
    actor = authorize(estate, actor, "principal.manage").name
    with estate.session() as session:
        existing = load_principal(session, name)
        if existing is not None:
            same = "" if existing.name == name else f" as {existing.name!r} (names are compared ignoring case)"
            raise InputError(
                f"principal {name!r} already exists{same}; use `joinedup principal grant` to give it another role"
            )
        row = _insert(session, name, kind, actor)
        record(session, estate, principal=actor, action="principal.add", detail={"principal": name, "kind": kind})
        for scope in scopes:
            _grant(session, row, role, scope, actor)
        record(session, estate, principal=actor, action="principal.grant", detail=_grant_detail(name, role, scopes))
        session.flush()
        return Principal.from_row(row)


def grant_role(
    estate: Estate, actor: str, name: str, role: str, *, datasets: Iterable[str] = (), all_datasets: bool = False
) -> Principal:
    scopes = _scopes(role, datasets, all_datasets)
    actor = authorize(estate, actor, "principal.manage").name
    with estate.session() as session:
        row = _existing(session, name)
        held = {(g.role, g.dataset) for g in row.grants}
        new = [s for s in scopes if (role, s) not in held]
        for scope in new:
            _grant(session, row, role, scope, actor)
        if new:
            record(
                session, estate, principal=actor, action="principal.grant", detail=_grant_detail(row.name, role, new)
            )
        session.flush()
        return Principal.from_row(row)


def revoke_role(
    estate: Estate, actor: str, name: str, role: str, *, datasets: Iterable[str] = (), all_datasets: bool = False
) -> Principal:
    """Take a role away (for the datasets given; every grant of the role when none are)."""
    if role not in ROLES:
        raise InputError(f"unknown role {role!r} (roles: {', '.join(ROLES)})")
    names = {check_dataset_name(d) for d in datasets}
    actor = authorize(estate, actor, "principal.manage").name
    with estate.session() as session:
        row = _existing(session, name)
        going = [
            g
            for g in row.grants
            if g.role == role and (not names or g.dataset in names) and not (all_datasets and g.dataset)
        ]
        if not going:
            raise NotFoundError(f"{name} does not hold {role}{' of ' + ', '.join(sorted(names)) if names else ''}")
        if role == ADMIN:
            _keep_an_admin(session, excluding=row.name)
        for grant in going:
            row.grants.remove(grant)
        record(
            session,
            estate,
            principal=actor,
            action="principal.revoke",
            detail=_grant_detail(row.name, role, [g.dataset for g in going]),
        )
        session.flush()
        return Principal.from_row(row)


def disable_principal(estate: Estate, actor: str, name: str) -> Principal:
    """Stop ``name`` acting at all (its entries in the log stay, naming it)."""
    return _set_disabled(estate, actor, name, True)


def enable_principal(estate: Estate, actor: str, name: str) -> Principal:
    return _set_disabled(estate, actor, name, False)


def _set_disabled(estate: Estate, actor: str, name: str, disabled: bool) -> Principal:
    actor = authorize(estate, actor, "principal.manage").name
    with estate.session() as session:
        row = _existing(session, name)
        if row.disabled != disabled:
            if disabled and any(g.role == ADMIN for g in row.grants):
                _keep_an_admin(session, excluding=row.name)
            row.disabled = disabled
            record(
                session,
                estate,
                principal=actor,
                action="principal.disable" if disabled else "principal.enable",
                detail={"principal": row.name},
            )
        session.flush()
        return Principal.from_row(row)


def _existing(session: Session, name: str) -> PrincipalRow:
    row = load_principal(session, name)
    if row is None:
        raise NotFoundError(f"no principal called {name!r}; add it with `joinedup principal add {name} --role ROLE`")
    return row


def _insert(session: Session, name: str, kind: str, actor: str) -> PrincipalRow:
    row = PrincipalRow(
        name=name,
        name_key=principal_key(name),
        kind=kind,
        created_at=now(),
        created_by=actor,
        disabled=False,
        grants=[],
    )
    session.add(row)
    return row


def _grant(session: Session, row: PrincipalRow, role: str, dataset: str | None, actor: str) -> None:
    row.grants.append(RoleGrantRow(role=role, dataset=dataset, granted_at=now(), granted_by=actor))


def _scopes(role: str, datasets: Iterable[str], all_datasets: bool) -> list[str | None]:
    """The grants a role request stands for: one per dataset, or one estate-wide (None)."""
    if role not in ROLES:
        raise InputError(f"unknown role {role!r} (roles: {', '.join(ROLES)})")
    names = sorted({check_dataset_name(d) for d in datasets})
    if role in ESTATE_WIDE_ROLES:
        if names:
            raise InputError(f"{role} covers the whole estate; it cannot be limited to datasets (drop --dataset)")
        return [None]
    if names and all_datasets:
        raise InputError("give either --dataset or --all-datasets, not both")
    if not names and not all_datasets:
        raise InputError(f"{role} needs the datasets it covers: --dataset NAME (repeatable) or --all-datasets")
    return list(names) if names else [None]


def _grant_detail(name: str, role: str, scopes: Iterable[str | None]) -> dict[str, Any]:
    listed = list(scopes)
    return {"principal": name, "role": role, "datasets": None if listed == [None] else listed}


def _keep_an_admin(session: Session, *, excluding: str) -> None:
    others = session.scalar(
        sa.select(sa.func.count(sa.distinct(PrincipalRow.id)))
        .join(RoleGrantRow)
        .where(RoleGrantRow.role == ADMIN, PrincipalRow.name != excluding, sa.not_(PrincipalRow.disabled))
    )
    if not others:
        raise JoinedupError(
            f"that would leave the estate without an enabled admin; make someone else admin before changing {excluding}"
        )


def _check_name(name: str) -> None:
    if not NAME.fullmatch(name) or name != unicodedata.normalize("NFC", name):
        raise InputError(
            f"principal name {name!a}: expected letters, digits and . "
            "_ @ + - (starting with a letter or digit, at most 255)"
        )
    # Checked as folded too: the name is matched after NFKC folding, so "⁹⁴³⁴⁷⁶⁵⁹¹⁹" is "9434765919" to `--as`.
    if contains_identifier(name) or contains_identifier(principal_key(name)):
        # Principals are named in every entry they make; the log must never hold an identifier.
        raise InputError(
            "principal name: looks like an NHS or National Insurance number; choose a login or service name"
        )
