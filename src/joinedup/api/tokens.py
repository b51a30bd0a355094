"""Short-lived bearer tokens: compact JWTs (RFC 7519) signed with HMAC-SHA256 under a key in ``keys/``.

A token says which client it was issued to, under which agreement, and until
when. It is checked without touching the catalogue (signature and expiry); the
client and the agreement are still looked up on every request, so revoking
either refuses its unexpired tokens at once.

The key (``keys/api-token.key``, 32 random bytes, mode 0600) is made on first
use, like the audit log's keys. Deleting it invalidates every token issued.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from joinedup.audit.keys import read_cached, write_once
from joinedup.errors import EstateError
from joinedup.estate import Estate

TOKEN_KEY_FILE = "api-token.key"
_HEADER = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=").decode()


class InvalidToken(Exception):
    """The bearer token is malformed, forged, or expired; ``str()`` says which without quoting it."""


@dataclass(frozen=True)
class TokenClaims:
    client_id: str
    agreement_id: str
    #: Seconds since the epoch to the microsecond: a secret rotated a moment before issue must not refuse it.
    issued_at: float
    expires_at: int


def token_key(estate: Estate) -> bytes:
    """The signing key, made on first use."""
    path = os.path.join(estate.root, "keys", TOKEN_KEY_FILE)
    key = read_cached(path, _load_key)
    if key is None:
        write_once(Path(path), (secrets.token_hex(32) + "\n").encode(), 0o600)
        key = read_cached(path, _load_key)
        assert key is not None
    return key


def _load_key(path: Path) -> bytes:
    if path.stat().st_mode & 0o077:
        raise EstateError(f"{path}: readable by others; run `chmod 600 {path}`")
    try:
        key = bytes.fromhex(path.read_text(encoding="ascii").strip())
    except (UnicodeDecodeError, ValueError):
        raise EstateError(f"{path}: not a joinedup API token key; delete it to make a new one") from None
    if len(key) < 32:
        raise EstateError(f"{path}: the API token key is too short; delete it to make a new one")
    return key


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue(key: bytes, issuer: str, client_id: str, agreement_id: str, ttl_seconds: int) -> tuple[str, TokenClaims]:
    """A signed token for ``client_id`` under ``agreement_id``, valid for ``ttl_seconds`` from now."""
    # RFC 7519 NumericDate may have a fraction: whole seconds would put a token issued just after a rotation
    # before it, and the token would be refused for its whole life.
    moment = time.time()
    claims = TokenClaims(client_id, agreement_id, round(moment, 6), int(moment) + ttl_seconds)
    payload = {
        "iss": issuer,
        "sub": client_id,
        "agreement_id": agreement_id,
        "iat": claims.issued_at,
        "exp": claims.expires_at,
        "jti": secrets.token_hex(8),
    }
    signing_input = f"{_HEADER}.{_b64(json.dumps(payload, separators=(',', ':')).encode())}"
    signature = hmac.digest(key, signing_input.encode(), hashlib.sha256)
    return f"{signing_input}.{_b64(signature)}", claims


def check(key: bytes, token: str, *, now: float | None = None) -> TokenClaims:
    """The claims of a token this estate signed and that has not expired; :class:`InvalidToken` otherwise."""
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != _HEADER or len(token) > 2048:
        raise InvalidToken("the bearer token is malformed")
    signing_input = f"{parts[0]}.{parts[1]}"
    try:
        signature = _unb64(parts[2])
        body = _unb64(parts[1])
        payload = json.loads(body)
    except (binascii.Error, ValueError):
        raise InvalidToken("the bearer token is malformed") from None
    # One token, one spelling: padding or other bits in a last digit would make copies that also verify.
    if _b64(signature) != parts[2] or _b64(body) != parts[1]:
        raise InvalidToken("the bearer token is malformed")
    if not hmac.compare_digest(signature, hmac.digest(key, signing_input.encode(), hashlib.sha256)):
        raise InvalidToken("the bearer token was not issued by this service")
    try:
        claims = TokenClaims(
            str(payload["sub"]), str(payload["agreement_id"]), float(payload["iat"]), int(payload["exp"])
        )
    except (KeyError, TypeError, ValueError):
        raise InvalidToken("the bearer token is malformed") from None
    if (time.time() if now is None else now) >= claims.expires_at:
        raise InvalidToken("the bearer token has expired; request a new one from /v1/token")
    return claims


def mac(key: bytes, purpose: str, data: bytes) -> bytes:
    """An HMAC under the token key for another purpose (page cursors), kept apart from tokens by ``purpose``."""
    return hmac.digest(key, purpose.encode() + b"\x00" + data, hashlib.sha256)
