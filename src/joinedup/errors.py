"""The errors joinedup raises for things a user can put right.

Each carries one line saying what was wrong and where (file, row, column or
field) and what was expected. Front ends print that line and exit non-zero (CLI)
or answer with a 4xx problem+json (API); nothing in the estate has changed.
"""

from __future__ import annotations


class JoinedupError(Exception):
    """A problem the user can fix; ``str(error)`` is the one line to show."""

    #: Short machine-readable kind, used as the problem+json ``type`` suffix and in ``--json`` output.
    kind = "error"
    #: Exit code for the CLI; HTTP status for the API.
    exit_code = 1
    http_status = 400


class NotFoundError(JoinedupError):
    kind = "not-found"
    http_status = 404


class EstateError(JoinedupError):
    """The estate is missing, already exists, or is not in a usable state."""

    kind = "estate"


class SchemaError(JoinedupError):
    """A schema file is invalid or does not fit the data."""

    kind = "schema"
    http_status = 422


class InputError(JoinedupError):
    """An input file cannot be read: missing, unreadable, unknown format or encoding."""

    kind = "input"
    http_status = 422


class QueryError(JoinedupError):
    """A query was refused (not read-only) or failed."""

    kind = "query"


class AccessDenied(JoinedupError):
    """The acting principal has no authority for this action."""

    kind = "access-denied"
    exit_code = 3
    http_status = 403


class BusyError(JoinedupError):
    """Another process holds the lock on this dataset."""

    kind = "busy"
    http_status = 409


class TamperingError(JoinedupError):
    """The audit log was changed outside joinedup; nothing is signed or appended over it."""

    kind = "audit-tampering"
    exit_code = 4
