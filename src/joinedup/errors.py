"""The errors joinedup raises for things a user can put right, and the CLI's exit statuses.

Each error carries one line saying what was wrong and where (file, row, column or
field) and what was expected. The CLI prints that line (as JSON with ``--json``)
and exits with the error's status from :class:`ExitCode`; nothing in the estate
has changed. (An API answering problem+json is planned, not built.)
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Every exit status the ``joinedup`` command uses; the README lists the same table."""

    OK = 0
    ERROR = 1
    #: Click's own status for a command line it cannot parse.
    USAGE = 2
    ACCESS_DENIED = 3
    AUDIT_TAMPERING = 4
    #: The command ran, and what it checked did not pass (a value, the demo's quarantine).
    CHECK_FAILED = 5
    #: Ctrl-C (128 + SIGINT, as shells report it): Typer ends an interrupted command so, and so does a query DuckDB
    #: stopped for it (see ``joinedup.cli.main``).
    INTERRUPTED = 130


class JoinedupError(Exception):
    """A problem the user can fix; ``str(error)`` is the one line to show."""

    #: Short machine-readable kind, shown as ``{"error": kind, ...}`` with ``--json``.
    kind = "error"
    exit_code: int = ExitCode.ERROR


class NotFoundError(JoinedupError):
    kind = "not-found"


class EstateError(JoinedupError):
    """The estate is missing, already exists, or is not in a usable state."""

    kind = "estate"


class SchemaError(JoinedupError):
    """A schema file is invalid or does not fit the data."""

    kind = "schema"


class InputError(JoinedupError):
    """An input file cannot be read: missing, unreadable, unknown format or encoding."""

    kind = "input"


class QueryError(JoinedupError):
    """A query was refused (not read-only) or failed."""

    kind = "query"


class AccessDenied(JoinedupError):
    """The acting principal has no authority for this action."""

    kind = "access-denied"
    exit_code = ExitCode.ACCESS_DENIED


class BusyError(JoinedupError):
    """Another process holds the lock on this dataset."""

    kind = "busy"


class TamperingError(JoinedupError):
    """The audit log was changed outside joinedup (an entry edited, deleted, reordered or cut off).

    Nothing is signed or appended over it.
    """

    kind = "audit-tampering"
    exit_code = ExitCode.AUDIT_TAMPERING


class CheckFailed(JoinedupError):
    """What a command was asked to check did not pass (the command itself worked)."""

    kind = "check-failed"
    exit_code = ExitCode.CHECK_FAILED


class MissingExtra(JoinedupError):
    """A command needs an optional part of joinedup that is not installed."""

    kind = "missing-extra"
