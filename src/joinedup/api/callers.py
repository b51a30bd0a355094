"""Who is calling: bearer token → client and live agreement, on every request, cheaply.

The token's signature and expiry are checked in memory (a token's signature
once per process: a token cannot change, so its checked claims are remembered;
its expiry on every request). Then one small
catalogue query reads the client's and the agreement's revocation, whether the
client's principal is disabled (and the client's last secret rotation): revoking either, or rotating the secret,
refuses every token issued before, at once. The agreement's terms themselves
(datasets, fields, dates) never change once recorded, so they are kept in memory
for ``agreement_cache_seconds``; whether it is live today is worked out from
its dates on every request.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from joinedup.api.problems import ApiProblem, Refusal
from joinedup.api.tokens import InvalidToken, TokenClaims, check
from joinedup.estate import Estate
from joinedup.sharing import Agreement, AgreementNotLive, Client, live_agreement

_STATE = (
    "SELECT c.name, c.principal, c.agreement_id, c.revoked_at, c.rotated_at, a.revoked_at, p.disabled"
    " FROM sharing_clients c JOIN sharing_agreements a ON a.id = c.agreement_id"
    " LEFT JOIN principals p ON p.name = c.principal WHERE c.id = ?"
)
BEARER_CHALLENGE = 'Bearer realm="joinedup"'
#: Verified tokens remembered at most; more clients than this at once only costs re-checking signatures.
_VERIFIED_TOKENS = 4096


@dataclass(frozen=True)
class Caller:
    #: The client (its principal is who the audit log names for its reads).
    client: Client
    agreement: Agreement

    @property
    def client_id(self) -> str:
        return self.client.id


def unauthorised(detail: str, *, invalid: bool = True) -> ApiProblem:
    challenge = BEARER_CHALLENGE + (', error="invalid_token"' if invalid else "")
    return ApiProblem(401, detail, headers={"WWW-Authenticate": challenge})


class Callers:
    def __init__(self, estate: Estate, key: bytes, cache_seconds: int) -> None:
        self._estate = estate
        self._key = key
        self._cache_seconds = cache_seconds
        self._agreements: dict[str, tuple[float, Agreement]] = {}
        #: Tokens whose signature has been checked, and their claims (a token is immutable once signed).
        self._verified: dict[str, TokenClaims] = {}
        self._lock = threading.Lock()

    def claims(self, authorization: str | None) -> TokenClaims:
        """The token's claims from an ``Authorization`` header; a 401 problem when there is none or it is bad."""
        if not authorization:
            raise unauthorised("a bearer token is required; request one from /v1/token", invalid=False)
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise unauthorised("the Authorization header must be 'Bearer <token>'")
        token = token.strip()
        verified = self._verified.get(token)
        if verified is not None and time.time() < verified.expires_at:
            return verified  # signature checked before; expiry is checked on every request
        try:
            claims = check(self._key, token)
        except InvalidToken as exc:
            raise unauthorised(str(exc)) from None
        with self._lock:
            # Bounded: a client holds one live token at a time (two across a renewal); forget them all when full.
            if len(self._verified) >= _VERIFIED_TOKENS:
                self._verified.clear()
            self._verified[token] = claims
        return claims

    def verifies(self, authorization: str | None) -> bool:
        """Whether the header carries a token this service signed that has not expired (no catalogue query)."""
        try:
            self.claims(authorization)
        except ApiProblem:
            return False
        return True

    def caller(self, claims: TokenClaims) -> Caller:
        """The client and its agreement, refused (401, 403) when revoked, rotated or no longer live.

        Past the token's signature the caller is identified (its client's principal): each refusal from here on
        carries a :class:`Refusal`, so it is audited before it is sent.
        """
        state = self._state(claims.client_id)
        if state is None:
            # Nobody to name: no principal is left to hold to account.
            raise unauthorised("the client this token was issued to no longer exists")
        name, principal, agreement_id, client_revoked, rotated, agreement_revoked, disabled = state

        def refused(detail: str, reason: str, **extra: str) -> ApiProblem:
            problem = unauthorised(detail)
            problem.refusal = Refusal(str(principal), claims.client_id, claims.agreement_id, reason, extra=extra)
            return problem

        if client_revoked is not None:
            raise refused("the client this token was issued to has been revoked", "client-revoked")
        # An admin may disable the client's principal like any other (`joinedup principal disable`): at once.
        if disabled is None or bool(disabled):
            raise refused("the client this token was issued to has been disabled", "client-disabled")
        if agreement_id != claims.agreement_id:
            raise refused(
                "the client's agreement has changed since this token was issued; request a new one",
                "agreement-changed",
                client_agreement=str(agreement_id),
            )
        if rotated is not None and _seconds(rotated) > claims.issued_at:
            raise refused(
                "the client's secret was rotated after this token was issued; request a new one", "secret-rotated"
            )
        try:
            agreement = self._agreement(agreement_id, revoked=agreement_revoked is not None)
        except ApiProblem as exc:
            exc.refusal = Refusal(str(principal), claims.client_id, claims.agreement_id, exc.slug)
            raise
        client = Client(claims.client_id, str(name), str(agreement_id), str(principal), False)
        return Caller(client, agreement)

    def _state(self, client_id: str) -> tuple[Any, ...] | None:
        # One indexed lookup: this runs on every request.
        return self._estate.lookups.one(_STATE, (client_id,))

    def _agreement(self, agreement_id: str, *, revoked: bool) -> Agreement:
        moment = time.monotonic()
        with self._lock:
            cached = self._agreements.get(agreement_id)
        if revoked or cached is None or moment - cached[0] > self._cache_seconds:
            # From the catalogue: live_agreement says why it is not live (revoked, expired, not started).
            try:
                agreement = live_agreement(self._estate, agreement_id)
            except AgreementNotLive as exc:
                with self._lock:
                    self._agreements.pop(agreement_id, None)
                raise ApiProblem(403, str(exc), slug="agreement-not-live", title="Agreement not live") from None
            with self._lock:
                self._agreements[agreement_id] = (moment, agreement)
            return agreement
        agreement = cached[1]
        if agreement.status() != "live":  # its dates passed since it was cached
            with self._lock:
                self._agreements.pop(agreement_id, None)
            return self._agreement(agreement_id, revoked=True)
        return agreement


def _seconds(value: Any) -> float:
    """A stored time (a datetime, or SQLite's text of one) as seconds since the epoch."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()
