"""Principals, roles and authorisation: who may do what, on which datasets, for what purpose.

See docs/audit.md for the roles and the permission table.
"""

from joinedup.access.authorize import authorize, resolve_principal
from joinedup.access.identity import (
    Principal,
    get_principal,
    list_principals,
)
from joinedup.access.principals import (
    KINDS,
    add_principal,
    bootstrap_admin,
    disable_principal,
    enable_principal,
    grant_role,
    revoke_role,
)
from joinedup.access.reads import query_as, query_datasets
from joinedup.access.roles import PERMISSIONS, ROLES

__all__ = [
    "KINDS",
    "PERMISSIONS",
    "ROLES",
    "Principal",
    "add_principal",
    "authorize",
    "bootstrap_admin",
    "disable_principal",
    "enable_principal",
    "get_principal",
    "grant_role",
    "list_principals",
    "query_as",
    "query_datasets",
    "resolve_principal",
    "revoke_role",
]
