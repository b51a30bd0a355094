"""The audit log's keys, made on first use in ``keys/``: the Ed25519 pair that signs
checkpoints, and the chain key every entry's MAC is made with.
"""

from __future__ import annotations

import contextlib
import functools
import hmac
import json
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar, cast

from joinedup.errors import EstateError
from joinedup.estate import Estate

if TYPE_CHECKING:  # imported where used: most commands write entries and never sign (a tenth of a second to load)
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

T = TypeVar("T")

PRIVATE_KEY_FILE = "audit-signing.key"
PUBLIC_KEY_FILE = "audit-signing.pub"
CHAIN_KEY_FILE = "audit-chain.key"


def signing_key(estate: Estate) -> Ed25519PrivateKey:
    """The private key, generated (mode 0600) the first time a checkpoint is signed."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    path = estate.keys_dir / PRIVATE_KEY_FILE
    if not path.exists():
        _create(path)
    if path.stat().st_mode & 0o077:
        raise EstateError(f"{path}: readable by others; run `chmod 600 {path}`")
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise EstateError(f"{path}: not an Ed25519 private key")
    public_path = estate.keys_dir / PUBLIC_KEY_FILE
    if not public_path.exists():
        _publish(public_path, key.public_key())
    return key


def verifying_key(estate: Estate) -> Ed25519PublicKey | None:
    """The public key, or None when no checkpoint has ever been signed."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    path = estate.keys_dir / PUBLIC_KEY_FILE
    if not path.exists():
        return signing_key(estate).public_key() if (estate.keys_dir / PRIVATE_KEY_FILE).exists() else None
    key = serialization.load_pem_public_key(path.read_bytes())
    if not isinstance(key, Ed25519PublicKey):
        raise EstateError(f"{path}: not an Ed25519 public key")
    return key


def public_key_hex(key: Ed25519PublicKey) -> str:
    from cryptography.hazmat.primitives import serialization

    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


def public_key_from_hex(text: str) -> Ed25519PublicKey:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    return Ed25519PublicKey.from_public_bytes(bytes.fromhex(text))


def _create(path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    _write_once(path, pem, 0o600)


def _write_once(path: Path, content: bytes, mode: int) -> None:
    """Write ``path`` unless it exists; the first writer wins and nobody reads a half-written file."""
    # Written aside and linked into place, so two processes making a key at once
    # agree on one key.
    staged = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(staged, path)
    finally:
        staged.unlink(missing_ok=True)


#: For the other keys the log keeps in ``keys/``.
write_once = _write_once


def _publish(path: Path, key: Ed25519PublicKey) -> None:
    from cryptography.hazmat.primitives import serialization

    _write_once(
        path, key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo), 0o644
    )


@dataclass(frozen=True)
class ChainKey:
    """The key every entry's MAC is made with, and where in the log it took over.

    Kept in ``keys/`` with the signing key, never in the catalogue: someone who
    can write the catalogue but not ``keys/`` cannot make an entry, or a head,
    that verifies. Entries before ``from_seq`` were written by an older joinedup
    without a MAC; the checkpoint signed when the key was made vouches for them.
    """

    secret: bytes = field(repr=False)
    #: The first seq written with a MAC.
    from_seq: int
    #: ``[audit] checkpoint_every`` when the key was made; later changes are entries in the log.
    checkpoint_every: int

    def entry_mac(self, entry_hash: str) -> str:
        return entry_mac(self.secret, entry_hash)

    def head_mac(self, seq: int, entry_hash: str, checkpoint_every: int) -> str:
        return hmac.digest(self.secret, f"head:{seq}:{entry_hash}:{checkpoint_every}".encode(), "sha256").hex()


def entry_mac(secret: bytes, entry_hash: str) -> str:
    """HMAC-SHA256 of an entry's hash; the prefix keeps it from ever equalling a head's MAC."""
    # hmac.digest is the one-shot C path: verify calls this once per entry.
    return hmac.digest(secret, b"entry:" + entry_hash.encode(), "sha256").hex()


def chain_key(estate: Estate) -> ChainKey | None:
    """The estate's chain key, or None when no entry has been written with one yet."""
    return read_cached(key_file(estate.root, CHAIN_KEY_FILE), _load_chain_key)


def _load_chain_key(path: Path) -> ChainKey:
    if path.stat().st_mode & 0o077:
        raise EstateError(f"{path}: readable by others; run `chmod 600 {path}`")
    try:
        document = json.loads(path.read_text(encoding="ascii"))
        return ChainKey(bytes.fromhex(document["key"]), int(document["from_seq"]), int(document["checkpoint_every"]))
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError):
        raise EstateError(f"{path}: not a joinedup audit chain key; restore keys/ from its backup") from None


@functools.lru_cache(maxsize=64)
def key_file(root: Path, name: str) -> str:
    """The path of the key file ``name`` in the estate at ``root``, as the plain string :func:`read_cached` takes.

    Remembered: every audit append asks for it, and joining the path each time showed in profiles.
    """
    return os.path.join(root, "keys", name)


def read_cached(name: str, load: Callable[[Path], T]) -> T | None:
    """``load(path)`` of the file ``name``, read again only when the file changes; None when it does not exist.

    Every append needs the estate's keys: a stat of a plain string path is all
    this costs then (pathlib's joins showed up in profiles).
    """
    try:
        info = os.stat(name)
    except FileNotFoundError:
        return None
    stamp = (info.st_ino, info.st_mtime_ns, info.st_mode)
    cached = _cache.get(name)
    if cached is None or cached[0] != stamp:
        cached = (stamp, load(Path(name)))
        _cache[name] = cached
    return cast(T, cached[1])


def make_chain_key(estate: Estate, from_seq: int, checkpoint_every: int) -> ChainKey:
    """Create the chain key (the caller holds the log's head, so ``from_seq`` cannot move underneath)."""
    document = {"key": secrets.token_hex(32), "from_seq": from_seq, "checkpoint_every": checkpoint_every}
    _write_once(estate.keys_dir / CHAIN_KEY_FILE, (json.dumps(document) + "\n").encode(), 0o600)
    made = chain_key(estate)
    assert made is not None
    return made


_cache: dict[str, tuple[tuple[int, int, int], object]] = {}
