"""``POST /v1/token``: the OAuth 2.0 client credentials grant (RFC 6749 section 4.4).

The client authenticates with its id and secret, either with HTTP Basic
(section 2.3.1: both form-urlencoded, then joined by a colon) or as
``client_id`` and ``client_secret`` in the form body, never both. Errors here
are the JSON the RFC requires (``error``, ``error_description``, as
``application/json``), carrying the problem document's members as well, so a
client reading either shape understands them. Issuing a token is recorded on
the audit trail (``api.token``), and so is refusing one to a client that proved
its secret but is revoked, is disabled or whose agreement is not live
(``access.denied``); a wrong secret or an unknown id identifies nobody and is
not. A request that fails counts against its remote address's quota of requests
without a valid token; one that gets a token does not.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote_plus

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from joinedup.api.problems import TITLES, TYPE_PREFIX, Refusal
from joinedup.api.quota import remote_address
from joinedup.api.tokens import issue
from joinedup.sharing import AgreementNotLive, BadCredentials, ClientRefused, authenticate_client, live_agreement
from joinedup.sharing.clients import client_exists

if TYPE_CHECKING:
    from joinedup.api.app import Service

PATH = "/v1/token"
GRANT = "client_credentials"
_MAX_BODY = 4096
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}

REQUEST_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "application/x-www-form-urlencoded": {
            "schema": {
                "type": "object",
                "required": ["grant_type"],
                "properties": {
                    "grant_type": {"type": "string", "enum": [GRANT]},
                    "client_id": {"type": "string", "description": "Unless sent with HTTP Basic."},
                    "client_secret": {"type": "string", "description": "Unless sent with HTTP Basic."},
                    "scope": {"type": "string", "description": "Ignored: the agreement sets what the client sees."},
                },
            }
        }
    },
}


class _OAuthError(Exception):
    def __init__(self, error: str, description: str, status: int = 400, headers: dict[str, str] | None = None) -> None:
        super().__init__(description)
        self.error, self.description, self.status, self.headers = error, description, status, headers or {}


def _error_response(exc: _OAuthError) -> Response:
    body = {
        "error": exc.error,
        "error_description": exc.description,
        "type": TYPE_PREFIX + exc.error.replace("_", "-"),
        "title": TITLES.get(exc.status, "Error"),
        "status": exc.status,
        "detail": exc.description,
    }
    return Response(
        json.dumps(body).encode(),
        status_code=exc.status,
        media_type="application/json",
        headers={**_NO_STORE, **exc.headers},
    )


async def issue_token(request: Request, service: Service) -> Response:
    # Taken before the body is read or a secret checked (scrypt is slow on purpose), given back on success.
    address = remote_address(request.scope)
    service.take_anonymous(address)
    try:
        client_id, secret = await _credentials(request)
        answer = await run_in_threadpool(_grant, service, client_id, secret)
    except _OAuthError as exc:
        return _error_response(exc)
    service.anonymous.give_back(address)
    return answer


async def _credentials(request: Request) -> tuple[str, str]:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/x-www-form-urlencoded":
        raise _OAuthError("invalid_request", "send the request as application/x-www-form-urlencoded")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > _MAX_BODY:
            raise _OAuthError("invalid_request", "the request body is too large")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body))
    except (UnicodeDecodeError, ValueError):
        raise _OAuthError("invalid_request", "the request body is not a valid form") from None
    names = [name for name, _ in pairs]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise _OAuthError("invalid_request", f"parameter {repeated[0]!r} is given more than once")
    form = dict(pairs)
    grant = form.get("grant_type")
    if not grant:
        raise _OAuthError("invalid_request", "grant_type is required (client_credentials)")
    if grant != GRANT:
        raise _OAuthError("unsupported_grant_type", "only the client_credentials grant is supported")
    header = request.headers.get("authorization")
    in_body = "client_id" in form or "client_secret" in form
    if header is not None:
        if in_body:
            raise _OAuthError("invalid_request", "authenticate either with HTTP Basic or in the body, not both")
        return _basic(header)
    client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
    if not client_id or not secret:
        raise _OAuthError(
            "invalid_client",
            "client authentication is required: HTTP Basic, or client_id and client_secret in the body",
            401,
            {"WWW-Authenticate": 'Basic realm="joinedup"'},
        )
    return client_id, secret


def _basic(header: str) -> tuple[str, str]:
    scheme, _, encoded = header.partition(" ")
    challenge = {"WWW-Authenticate": 'Basic realm="joinedup"'}
    refused = _OAuthError("invalid_client", "the Authorization header must be HTTP Basic", 401, challenge)
    if scheme.lower() != "basic":
        raise refused
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise refused from None
    client_id, colon, secret = decoded.partition(":")
    if not colon:
        raise refused
    return unquote_plus(client_id), unquote_plus(secret)


#: The one bucket every token request naming an unknown client id shares.
UNKNOWN_BUCKET = "token:?"


def _grant(service: Service, client_id: str, secret: str) -> Response:
    estate = service.estate
    # A 429 problem, counted before the secret is checked, against guessing. Token requests have buckets of their
    # own: a client id is no secret, and failed guesses under it must not use up that client's reads. Ids that are
    # no client's share one bucket, so made-up ids cannot grow the server's memory.
    service.take_quota(f"token:{client_id}" if client_exists(estate, client_id) else UNKNOWN_BUCKET)
    try:
        client = authenticate_client(estate, client_id, secret)
    except BadCredentials as exc:
        if isinstance(exc, ClientRefused):
            # The right secret of a revoked or disabled client: it proved who is asking, so the refusal goes on the
            # trail before it is sent. The answer is a wrong secret's all the same: it tells the caller nothing more.
            refused = exc.client
            refusal = Refusal(refused.principal, refused.id, refused.agreement_id, exc.reason)
            service.record_refusal_sync(refusal, 401, f"POST {PATH}")
        headers = {"WWW-Authenticate": 'Basic realm="joinedup"'}
        raise _OAuthError("invalid_client", str(exc), 401, headers) from None
    try:
        agreement = live_agreement(estate, client.agreement_id)
    except AgreementNotLive as exc:
        # The secret proved who is asking: a refusal of an identified caller, on the trail before it is sent.
        refusal = Refusal(client.principal, client.id, client.agreement_id, "agreement-not-live")
        service.record_refusal_sync(refusal, 400, f"POST {PATH}")
        raise _OAuthError("unauthorized_client", str(exc)) from None
    ttl = service.settings.token_ttl_seconds
    token, claims = issue(service.key, estate.config.name, client.id, agreement.id, ttl)
    # Who was given access, under which agreement, until when: on the trail before the token leaves.
    service.audited(
        {
            "principal": client.principal,
            "action": "api.token",
            "purpose": agreement.audit_purpose,
            "detail": {"client": client.id, "agreement": agreement.id, "expires_at": claims.expires_at},
        }
    )
    body = {"access_token": token, "token_type": "Bearer", "expires_in": ttl}
    return Response(json.dumps(body).encode(), media_type="application/json", headers=_NO_STORE)
