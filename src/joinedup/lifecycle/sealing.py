"""A request's identifiers, sealed under a key of their own that erasure destroys.

Answering a request needs the person's values (to find their rows, to prove
after an erasure that no byte still holds them), but the catalogue must not keep
them in clear: its free pages and the erasure's own byte scan would find them.
So they are sealed with AES-GCM under a random key in ``keys/requests/`` (0600);
destroying that key file (crypto-shredding) leaves only ciphertext nobody can open.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from joinedup.errors import EstateError
from joinedup.estate import Estate

_NONCE = 12


def _key_path(estate: Estate, name: str) -> Path:
    return estate.keys_dir / "requests" / f"{name}.key"


def seal(estate: Estate, name: str, values: dict[str, Any]) -> bytes:
    """``values`` sealed under a new key for ``name`` (request ``R12``, hold ``H3``), key on disk first."""
    folder = estate.keys_dir / "requests"
    folder.mkdir(mode=0o700, exist_ok=True)
    key = AESGCM.generate_key(bit_length=256)
    fd = os.open(_key_path(estate, name), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key)
        handle.flush()
        os.fsync(handle.fileno())
    nonce = secrets.token_bytes(_NONCE)
    return nonce + AESGCM(key).encrypt(nonce, json.dumps(values).encode(), name.encode())


def unseal(estate: Estate, name: str, sealed: bytes | None) -> dict[str, Any]:
    """The values sealed for ``name`` (a request ``R12`` or a hold ``H3``); an error once they have been destroyed."""
    path = _key_path(estate, name)
    if sealed is None or not path.exists():
        raise EstateError(f"{name}: its identifiers were destroyed when it was answered")
    key = path.read_bytes()
    try:
        data = AESGCM(key).decrypt(sealed[:_NONCE], sealed[_NONCE:], name.encode())
    except (InvalidTag, ValueError):
        # A changed key file, a changed (or another request's) sealed value: say so, never guess.
        raise EstateError(
            f"{name}: its sealed identifiers do not open with its key; the key file in keys/requests "
            "or its catalogue row was changed (restore both from backup)"
        ) from None
    values: dict[str, Any] = json.loads(data)
    return values


def destroy(estate: Estate, name: str) -> None:
    """Shred the request's key: its sealed identifiers can never be read again."""
    path = _key_path(estate, name)
    if path.exists():
        size = path.stat().st_size
        with open(path, "r+b") as handle:
            handle.write(secrets.token_bytes(size))
            handle.flush()
            os.fsync(handle.fileno())
        path.unlink()
