"""Signed checkpoints: the estate's Ed25519 signature over (seq, hash, time, estate name).

A checkpoint vouches for the whole chain up to ``seq``, because that entry's hash
covers every entry before it. Checkpoints are stored in the catalogue every N
entries, and the newest committed one is kept in ``keys/`` too, out of reach of
anyone who can only write the catalogue. Exported to a file kept somewhere the
operator cannot rewrite, one also proves that nothing after it was cut off and
nothing before it rewritten and re-signed with a new key.
"""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from cryptography.exceptions import InvalidSignature

from joinedup.audit.canonical import canonical_json
from joinedup.audit.keys import public_key_from_hex
from joinedup.audit.models import AuditCheckpointRow
from joinedup.errors import EstateError, InputError
from joinedup.estate import Estate

#: Written into exported files so a reader knows what it holds.
FILE_TYPE = "joinedup-audit-checkpoint"
FILE_VERSION = 1
#: Entries between automatic checkpoints unless ``[audit] checkpoint_every`` says otherwise.
DEFAULT_INTERVAL = 1000
#: The largest interval allowed. Someone who can write the catalogue but not ``keys/`` can cut the entries
#: after the newest checkpoint unnoticed, so the interval bounds what they can cut.
MAX_INTERVAL = 10_000
#: The newest committed checkpoint, kept in ``keys/`` where catalogue writers cannot reach.
KEPT_FILE = "audit-checkpoint.json"


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    hash: str
    at: str
    estate: str
    public_key: str
    signature: str

    def message(self) -> bytes:
        """The bytes signed: canonical JSON of seq, hash, time and estate name."""
        return canonical_json({"at": self.at, "estate": self.estate, "hash": self.hash, "seq": self.seq}).encode()

    def signature_valid(self) -> bool:
        """True when ``signature`` is this checkpoint's, made by the key in ``public_key``."""
        try:
            public_key_from_hex(self.public_key).verify(bytes.fromhex(self.signature), self.message())
        except (InvalidSignature, ValueError):
            return False
        return True

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_row(cls, row: AuditCheckpointRow | sa.Row[Any]) -> Checkpoint:
        return cls(row.seq, row.hash, row.at, row.estate, row.public_key, row.signature)


def checkpoint_interval(estate: Estate) -> int:
    """``[audit] checkpoint_every`` from joinedup.toml; raises :class:`EstateError` naming it when it is invalid."""
    problem = interval_problem(estate)
    if problem is not None:
        raise EstateError(problem)
    value = estate.config.extra.get("audit", {}).get("checkpoint_every", DEFAULT_INTERVAL)
    assert isinstance(value, int)  # interval_problem checked it
    return value


def interval_problem(estate: Estate) -> str | None:
    """One line naming the setting when ``[audit] checkpoint_every`` is not a whole number from 1 to the cap."""
    settings = estate.config.extra.get("audit", {})
    value = settings.get("checkpoint_every", DEFAULT_INTERVAL) if isinstance(settings, dict) else None
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_INTERVAL:
        shown = repr(value) if len(repr(value)) <= 40 else f"{repr(value)[:37]}..."
        return f"joinedup.toml: [audit] checkpoint_every must be a whole number from 1 to {MAX_INTERVAL:,}, not {shown}"
    return None


def write_checkpoint_file(made: Checkpoint, path: Path) -> None:
    """``made`` as a checkpoint file (JSON, with the public key), replacing ``path`` in one step."""
    document = {"type": FILE_TYPE, "version": FILE_VERSION, "algorithm": "Ed25519", **made.to_dict()}
    staged = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        staged.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        os.replace(staged, path)
    except OSError as exc:
        staged.unlink(missing_ok=True)
        raise InputError(f"{path}: cannot write the checkpoint: {exc.strerror}") from None


def kept_checkpoint(estate: Estate) -> Checkpoint | None:
    """The newest committed checkpoint as recorded in ``keys/`` (outside the catalogue), if any."""
    path = estate.keys_dir / KEPT_FILE
    return load_checkpoint_file(path) if path.exists() else None


def keep_checkpoint(estate: Estate, made: Checkpoint) -> None:
    """Record ``made`` in ``keys/`` when it is newer than the one there; call it only once ``made`` is committed.

    Deleting stored checkpoints and the entries after them then no longer goes
    unnoticed by someone who cannot write ``keys/``.
    """
    path = estate.keys_dir / KEPT_FILE
    with open(estate.keys_dir / f".{KEPT_FILE}.lock", "a") as lock:
        # Several processes commit checkpoints; the newest seq must win whatever order they finish in.
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            kept = kept_checkpoint(estate) if path.exists() else None
            if kept is None or kept.seq < made.seq:
                write_checkpoint_file(made, path)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def load_checkpoint_file(path: Path) -> Checkpoint:
    """Read an exported checkpoint; its signature is checked by :func:`joinedup.audit.verify`."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: no such checkpoint file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not a readable checkpoint file ({exc})") from None
    if not isinstance(document, dict) or document.get("type") != FILE_TYPE:
        raise InputError(f'{path}: not a joinedup audit checkpoint (expected "type": "{FILE_TYPE}")')
    try:
        made = Checkpoint(
            seq=int(document["seq"]),
            hash=str(document["hash"]),
            at=str(document["at"]),
            estate=str(document["estate"]),
            public_key=str(document["public_key"]),
            signature=str(document["signature"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{path}: checkpoint field {exc} is missing or invalid") from None
    return made
