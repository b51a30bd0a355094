"""Per-agreement keys, and what is made with them: pseudonyms, record ids and cursors.

Each agreement has a random 256-bit key of its own in ``keys/sharing/`` (0600),
beside the audit log's keys and never in the catalogue. From it:

- a pseudonymised field is ``HMAC-SHA256(key, "field:<dataset>.<field>:" + value)``,
  computed in DuckDB (HMAC built from its ``sha256``), so it is stable within the
  agreement and unlinkable across agreements;
- a record's id is its surrogate row key encrypted with AES-256 under a key derived
  for (agreement, dataset): one 16-byte block, a keyed permutation, so the same
  record has the same id within the agreement, another id under every other
  agreement, and the id leads back to the row without scanning the table;
- a page cursor is signed with a key derived for cursors.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import os
import re
import secrets
import threading
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from joinedup.audit.keys import read_cached, write_once
from joinedup.errors import EstateError
from joinedup.estate import Estate
from joinedup.sharing.errors import BadCursor

KEY_FOLDER = "sharing"
_BLOCK = 64
#: A record id: 32 hex digits (one AES block).
RECORD_ID = re.compile(r"[0-9a-f]{32}")


def key_path(estate: Estate, agreement_id: str) -> Path:
    return estate.keys_dir / KEY_FOLDER / f"{agreement_id}.key"


def create_key(estate: Estate, agreement_id: str) -> None:
    """Make the agreement's key (first writer wins; an existing key is kept)."""
    path = key_path(estate, agreement_id)
    path.parent.mkdir(mode=0o700, exist_ok=True)
    write_once(path, (secrets.token_hex(32) + "\n").encode("ascii"), 0o600)


def agreement_key(estate: Estate, agreement_id: str) -> bytes:
    found = read_cached(os.fspath(key_path(estate, agreement_id)), _load)
    if found is None:
        raise EstateError(
            f"keys/{KEY_FOLDER}/{agreement_id}.key is missing; restore keys/ from its backup "
            "(without it the agreement's pseudonyms cannot be made again)"
        )
    return found


def _load(path: Path) -> bytes:
    if path.stat().st_mode & 0o077:
        raise EstateError(f"{path}: readable by others; run `chmod 600 {path}`")
    try:
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    except (UnicodeDecodeError, ValueError):
        raise EstateError(f"{path}: not a joinedup sharing key; restore keys/ from its backup") from None


def derive(key: bytes, purpose: str) -> bytes:
    return hmac.digest(key, purpose.encode("utf-8"), "sha256")


def hmac_pads(key: bytes) -> dict[str, bytes]:
    """The two padded keys DuckDB's :func:`hmac_sql` needs (RFC 2104 with SHA-256)."""
    padded = (hashlib.sha256(key).digest() if len(key) > _BLOCK else key).ljust(_BLOCK, b"\0")
    return {"ipad": bytes(b ^ 0x36 for b in padded), "opad": bytes(b ^ 0x5C for b in padded)}


def hmac_sql(message: str, ipad: str, opad: str) -> str:
    """SQL for HMAC-SHA256 (hex) of the text ``message`` under the key whose pads are parameters ``ipad``/``opad``."""
    return f"sha256(${opad} || unhex(sha256(${ipad} || encode({message}))))"


@functools.lru_cache(maxsize=1024)
def _cipher(key: bytes, dataset: str) -> Cipher[Any]:
    # Remembered: deriving the key and setting up the cipher cost more than decrypting the one block of a read.
    return Cipher(algorithms.AES(derive(key, f"record-id:{dataset}")), modes.ECB())


#: Per thread: a decryption context is not safe to share between threads.
_DECRYPTORS = threading.local()


def _decryptor(key: bytes, dataset: str) -> Any:
    """This thread's ECB decryption context for the dataset's record ids, kept open for the next read.

    ECB carries nothing from one block to the next, so one context decrypts any number of single blocks (each
    ``update`` of 16 bytes gives its 16 back); making a context per read cost more than the decryption.
    """
    held: dict[tuple[bytes, str], Any] | None = getattr(_DECRYPTORS, "held", None)
    if held is None:
        held = _DECRYPTORS.held = {}
    found = held.get((key, dataset))
    if found is None:
        if len(held) >= 64:
            held.clear()
        found = held[(key, dataset)] = _cipher(key, dataset).decryptor()
    return found


def encrypt_ids(key: bytes, dataset: str, plain: bytes) -> bytes:
    """Encrypt 16-byte blocks (``<u8`` ingest, ``<u8`` source row) in one call: each block is one record's id."""
    encryptor = _cipher(key, dataset).encryptor()
    return encryptor.update(plain) + encryptor.finalize()


def decode_record_id(key: bytes, dataset: str, record_id: str) -> tuple[int, int] | None:
    """The surrogate row key a record id stands for, or None when it is not a record id at all."""
    if not RECORD_ID.fullmatch(record_id):
        return None
    hi, lo = int(record_id[:16], 16), int(record_id[16:], 16)
    block = hi.to_bytes(8, "little") + lo.to_bytes(8, "little")
    plain = _decryptor(key, dataset).update(block)
    ingest, row = int.from_bytes(plain[:8], "little"), int.from_bytes(plain[8:], "little")
    if ingest >= 2**63 or row >= 2**63:
        return None
    return ingest, row


def sign_cursor(key: bytes, binding: dict[str, Any], position: list[int]) -> str:
    """An opaque cursor: the position after which the next page starts, MACed with the query it belongs to."""
    body = json.dumps(position, separators=(",", ":")).encode()
    mac = hmac.digest(derive(key, "cursor"), _bound(binding) + body, "sha256")[:16]
    return base64.urlsafe_b64encode(body + mac).decode("ascii").rstrip("=")


def read_cursor(key: bytes, binding: dict[str, Any], cursor: str) -> list[int]:
    """The position in ``cursor``; :class:`BadCursor` when it is malformed or belongs to another query."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (ValueError, TypeError):
        raise BadCursor("cursor: not a cursor this API issued") from None
    body, mac = raw[:-16], raw[-16:]
    expected = hmac.digest(derive(key, "cursor"), _bound(binding) + body, "sha256")[:16]
    if len(raw) <= 16 or not hmac.compare_digest(mac, expected):
        raise BadCursor(
            "cursor: not from this query (agreement, dataset, version and filters must be the same); "
            "start again without a cursor"
        )
    position = json.loads(body)
    if not (isinstance(position, list) and len(position) == 2 and all(isinstance(p, int) for p in position)):
        raise BadCursor("cursor: not a cursor this API issued")
    return [int(p) for p in position]


def _bound(binding: dict[str, Any]) -> bytes:
    return json.dumps(binding, sort_keys=True, separators=(",", ":")).encode("utf-8") + b"\n"
