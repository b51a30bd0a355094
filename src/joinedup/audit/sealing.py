"""Sealing a read's query text: AES-256-GCM under a key kept in ``keys/``, with a commitment for the chain.

Precise who-accessed re-runs a logged query, which needs its literals; the
chained entry keeps them only as keyed hashes. The text itself is sealed in
``audit_sealed``, outside the chain: only someone holding ``keys/`` can read it,
and the entry holds ``sha256(sealed)`` so any change to it is detected by
verify, while deleting it (to forget a person) leaves the chain whole.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from joinedup.audit.keys import key_file, read_cached, write_once
from joinedup.errors import EstateError
from joinedup.estate import Estate

SEAL_KEY_FILE = "audit-seal.key"
#: Bound into every ciphertext: a sealed text from another use of AES-GCM never opens here.
_CONTEXT = b"joinedup audit sealed query v1"
_NONCE = 12


def seal_key(estate: Estate) -> AESGCM:
    """The estate's sealing key, made (mode 0600) the first time a query is sealed."""
    name = key_file(estate.root, SEAL_KEY_FILE)
    found = read_cached(name, _load)
    if found is None:
        write_once(Path(name), (json.dumps({"key": secrets.token_hex(32)}) + "\n").encode(), 0o600)
        found = read_cached(name, _load)
    assert found is not None
    return found


def existing_seal_key(estate: Estate) -> AESGCM | None:
    """The sealing key, or None when nothing was ever sealed (reading never makes one)."""
    return read_cached(key_file(estate.root, SEAL_KEY_FILE), _load)


def _load(path: Path) -> AESGCM:
    if path.stat().st_mode & 0o077:
        raise EstateError(f"{path}: readable by others; run `chmod 600 {path}`")
    try:
        key = bytes.fromhex(json.loads(path.read_text(encoding="ascii"))["key"])
        return AESGCM(key)
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError):
        raise EstateError(f"{path}: not a joinedup audit sealing key; restore keys/ from its backup") from None


def seal(estate: Estate, text: str) -> bytes:
    """``text`` encrypted and authenticated: a fresh nonce followed by the ciphertext."""
    nonce = secrets.token_bytes(_NONCE)
    return nonce + seal_key(estate).encrypt(nonce, text.encode("utf-8"), _CONTEXT)


def commitment(sealed: bytes) -> str:
    """What the chained entry holds for its sealed text (64 hex digits)."""
    return hashlib.sha256(sealed).hexdigest()


def unseal(key: AESGCM, sealed: bytes) -> str | None:
    """The text, or None when it does not open under ``key`` (altered, or sealed under another key)."""
    try:
        return key.decrypt(sealed[:_NONCE], sealed[_NONCE:], _CONTEXT).decode("utf-8")
    except (InvalidTag, ValueError, UnicodeDecodeError):
        return None
