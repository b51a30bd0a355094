"""Deciding whether a principal may do something, and refusing in one clear, audited line."""

from __future__ import annotations

import getpass
import hashlib
import hmac
import os
import unicodedata
from collections.abc import Callable
from typing import Any, NoReturn

import sqlalchemy as sa

from joinedup.access.identity import Principal, find_principal
from joinedup.access.models import PrincipalRow
from joinedup.access.roles import PERMISSIONS
from joinedup.audit import principal_key, record_now
from joinedup.errors import AccessDenied
from joinedup.estate import Estate

#: The audit action of a refusal; its detail names the action that was attempted.
DENIED = "access.denied"
#: The principal an entry names when the name given is not registered (only its keyed hash is kept).
UNREGISTERED = "(unregistered)"


def authorize(
    estate: Estate, principal_name: str, action: str, dataset: str | None = None, purpose: str | None = None
) -> Principal:
    """The principal, when it may do ``action`` (on ``dataset``); else :class:`AccessDenied`.

    A refusal is itself an audit entry (``access.denied``), committed before the error is raised.
    """
    permission = PERMISSIONS.get(action)
    if permission is None:
        raise ValueError(f"no permission rule for action {action!r}; add it to joinedup.access.roles.PERMISSIONS")
    principal = _registered(estate, principal_name, action, dataset, purpose)
    principal_name = principal.name
    held = principal.roles_on(dataset)
    allowed = {r for r in permission.anywhere if any(g.role == r for g in principal.grants)}
    allowed |= held.intersection(permission.scoped)
    if not allowed:
        _deny(
            estate, principal_name, action, dataset, purpose,
            f"{principal.describe()} may not {permission.doing(dataset)}; needs {permission.needs(dataset)}",
        )  # fmt: skip
    if allowed <= set(permission.purpose_required) and not (purpose and purpose.strip()):
        roles = " and ".join(sorted(allowed))
        _deny(
            estate, principal_name, action, dataset, purpose,
            f"{principal.name} ({roles}) must state a purpose to {permission.doing(dataset)} (--purpose)",
        )  # fmt: skip
    return principal


def resolve_principal(
    estate: Estate,
    explicit: str | None,
    action: str | None = None,
    *,
    dataset: str | Callable[[], list[str]] | None = None,
    purpose: str | None = None,
) -> Principal:
    """Who is acting: ``--as NAME``, else ``$JOINEDUP_USER``, else the login name; registered and enabled.

    ``action`` (with its ``dataset`` and ``purpose``) is what the command is about to do: a refusal here records it
    as the attempted action, as every refusal must. ``dataset`` may be a function naming the datasets (a query's),
    called only when the principal is refused.
    """
    name = explicit or os.environ.get("JOINEDUP_USER")
    if not name:
        try:
            name = getpass.getuser()
        except OSError:
            raise AccessDenied("cannot tell who you are: pass --as NAME or set JOINEDUP_USER") from None
    return _registered(estate, name, action, dataset, purpose)


def _registered(
    estate: Estate,
    name: str,
    action: str | None,
    dataset: str | Callable[[], list[str]] | None,
    purpose: str | None,
) -> Principal:
    if any(unicodedata.category(ch)[0] in "CZ" and ch != " " for ch in name) or not name.strip():
        # Shown nowhere, logged nowhere: a control character could forge a line of either.
        _deny(
            estate,
            UNREGISTERED,
            action,
            dataset,
            purpose,
            "the principal name given is blank or holds control characters; give a registered name",
            name,
        )
    principal = find_principal(estate, name)
    if principal is None:
        if _no_principals(estate):
            message = (
                f"{name} is not a principal of estate {estate.config.name!r}, which has none yet; "
                f"make yourself its admin with `joinedup principal bootstrap`"
            )
        else:
            message = (
                f"{name} is not a registered principal of estate {estate.config.name!r}; "
                f"an admin can add it with `joinedup principal add {name} --role ROLE`"
            )
        _deny(estate, UNREGISTERED, action, dataset, purpose, message, name)
    if principal.disabled:
        _deny(
            estate,
            principal.name,
            action,
            dataset,
            purpose,
            f"{principal.name} is disabled in estate {estate.config.name!r}; an admin can enable it again",
        )
    return principal


def _no_principals(estate: Estate) -> bool:
    with estate.session() as session:
        return not session.scalar(sa.select(sa.func.count()).select_from(PrincipalRow))


def _deny(
    estate: Estate,
    name: str,
    action: str | None,
    dataset: str | Callable[[], list[str]] | None,
    purpose: str | None,
    message: str,
    unregistered: str | None = None,
) -> NoReturn:
    """Record the refusal, then raise it.

    A name that is not a registered principal is whatever someone typed after
    ``--as`` (an NHS number, a person's name): the entry names
    :data:`UNREGISTERED` and keeps only a keyed hash of it, and leaves the reason
    (which quotes it) out.
    """
    detail: dict[str, Any] = {"attempted": action, "reason": message}
    if unregistered is not None:
        digest = hmac.new(
            estate.secret, b"principal:" + principal_key(unregistered).encode(), hashlib.sha256
        ).hexdigest()
        detail = {"attempted": action, "reason": "not a registered principal", "name_hash": digest}
    if callable(dataset):
        # One dataset is the entry's dataset; several are listed in the detail, as a query over several records them.
        named = dataset()
        dataset = named[0] if len(named) == 1 else None
        if len(named) > 1:
            detail["datasets"] = named
    record_now(estate, principal=name, action=DENIED, purpose=purpose, dataset=dataset, detail=detail)
    raise AccessDenied(message)
