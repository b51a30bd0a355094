"""What sharing refuses, each with the HTTP status the API answers it with.

Messages are one line and never quote a value from the data or a secret.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from joinedup.errors import ExitCode, JoinedupError

if TYPE_CHECKING:
    from joinedup.sharing.clients import Client


class SharingError(JoinedupError):
    """A sharing request that cannot be served; :attr:`status` is the HTTP status the API gives it."""

    kind = "sharing"
    status = 400


class BadCredentials(SharingError):
    """Unknown client, wrong secret, or a revoked client (the API's 401)."""

    kind = "bad-credentials"
    status = 401
    exit_code = ExitCode.ACCESS_DENIED


class ClientRefused(BadCredentials):
    """The right secret of a client that is revoked or whose principal is disabled (still the API's 401).

    The message is a wrong secret's: whoever asks learns nothing more. The secret proved who is asking, though, so
    :attr:`client` and :attr:`reason` (``client-revoked``,
    ``client-disabled``) let the API put the refusal on the audit trail.
    """

    def __init__(self, message: str, client: Client, reason: str) -> None:
        super().__init__(message)
        self.client = client
        self.reason = reason


class AgreementNotLive(SharingError):
    """The agreement is revoked, has expired or has not yet started (the API's 403)."""

    kind = "agreement-not-live"
    status = 403
    exit_code = ExitCode.ACCESS_DENIED


class NotPermitted(SharingError):
    """The dataset (or field) is not in the agreement (the API's 403)."""

    kind = "not-permitted"
    status = 403
    exit_code = ExitCode.ACCESS_DENIED


class NotFound(SharingError):
    """No such record, agreement or client (the API's 404)."""

    kind = "not-found"
    status = 404


class BadRequest(SharingError):
    """A filter on a field that may not be filtered, a bad or foreign cursor, a bad limit (the API's 400)."""

    kind = "bad-request"
    status = 400


class FilterNotPermitted(BadRequest):
    """A filter on a field the agreement does not share (the API's 400, audited as a refusal).

    :attr:`fields` names each refused filter as a field of the dataset, or ``?`` where it is none: a filter's name
    is whatever the caller typed, and only the catalogue's own names are safe to keep.
    """

    def __init__(self, message: str, fields: tuple[str, ...]) -> None:
        super().__init__(message)
        self.fields = fields


class BadCursor(BadRequest):
    """A page cursor that is malformed, edited, or from another query or dataset version (the API's 400)."""

    kind = "bad-cursor"
