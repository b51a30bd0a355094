"""The estate's Ed25519 key pair for signing audit checkpoints, made on first use in ``keys/``."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from joinedup.errors import EstateError
from joinedup.estate import Estate

PRIVATE_KEY_FILE = "audit-signing.key"
PUBLIC_KEY_FILE = "audit-signing.pub"


def signing_key(estate: Estate) -> Ed25519PrivateKey:
    """The private key, generated (mode 0600) the first time a checkpoint is signed."""
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
    path = estate.keys_dir / PUBLIC_KEY_FILE
    if not path.exists():
        return signing_key(estate).public_key() if (estate.keys_dir / PRIVATE_KEY_FILE).exists() else None
    key = serialization.load_pem_public_key(path.read_bytes())
    if not isinstance(key, Ed25519PublicKey):
        raise EstateError(f"{path}: not an Ed25519 public key")
    return key


def public_key_hex(key: Ed25519PublicKey) -> str:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


def public_key_from_hex(text: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(bytes.fromhex(text))


def _create(path: Path) -> None:
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    # Written aside and linked into place, so two processes signing their first
    # checkpoint at once agree on one key and nobody reads a half-written file.
    staged = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(staged, path)
    finally:
        staged.unlink(missing_ok=True)


def _publish(path: Path, key: Ed25519PublicKey) -> None:
    pem = key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    staged = path.with_name(f".{path.name}.{os.getpid()}")
    staged.write_bytes(pem)
    try:
        with contextlib.suppress(FileExistsError):
            os.link(staged, path)
    finally:
        staged.unlink(missing_ok=True)
