"""Signed checkpoints: the estate's Ed25519 signature over (seq, hash, time, estate name).

A checkpoint vouches for the whole chain up to ``seq``, because that entry's hash
covers every entry before it. Checkpoints are stored in the catalogue every N
entries; exported to a file kept somewhere the operator cannot rewrite, one
also proves that nothing after it was cut off and nothing before it rewritten
and re-signed with a new key.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from cryptography.exceptions import InvalidSignature
from sqlalchemy.orm import Session

from joinedup.audit.canonical import canonical_json, canonical_time
from joinedup.audit.keys import public_key_from_hex, public_key_hex, signing_key
from joinedup.audit.models import AuditCheckpointRow, AuditEntryRow
from joinedup.errors import EstateError, InputError, NotFoundError
from joinedup.estate import Estate
from joinedup.estate.db import now

#: Written into exported files so a reader knows what it holds.
FILE_TYPE = "joinedup-audit-checkpoint"
FILE_VERSION = 1
#: Entries between automatic checkpoints unless ``[audit] checkpoint_every`` says otherwise.
DEFAULT_INTERVAL = 1000


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
    settings = estate.config.extra.get("audit", {})
    value = settings.get("checkpoint_every", DEFAULT_INTERVAL)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise EstateError(f"joinedup.toml: [audit] checkpoint_every must be a whole number of at least 1, not {value!r}")
    return value


def sign_checkpoint(connection: sa.Connection, estate: Estate, seq: int, entry_hash: str) -> Checkpoint:
    """Sign and store a checkpoint for entry ``seq`` in ``connection``'s transaction (the caller commits)."""
    key = signing_key(estate)
    unsigned = Checkpoint(seq, entry_hash, canonical_time(now()), estate.config.name, public_key_hex(key.public_key()), "")
    signed = Checkpoint(**{**unsigned.to_dict(), "signature": key.sign(unsigned.message()).hex()})
    connection.execute(AuditCheckpointRow.__table__.insert(), signed.to_dict())
    return signed


def checkpoint(estate: Estate) -> Checkpoint:
    """A signed checkpoint at the newest entry (the stored one when it is already there)."""
    with estate.session() as session:
        last = session.execute(
            sa.select(AuditEntryRow.seq, AuditEntryRow.hash).order_by(AuditEntryRow.seq.desc()).limit(1)
        ).one_or_none()
        if last is None:
            raise NotFoundError("the audit log is empty: there is nothing to checkpoint yet")
        stored = session.scalars(
            sa.select(AuditCheckpointRow)
            .where(AuditCheckpointRow.seq == last.seq, AuditCheckpointRow.hash == last.hash)
            .limit(1)
        ).one_or_none()
        if stored is not None:
            return Checkpoint.from_row(stored)
        return sign_checkpoint(session.connection(), estate, last.seq, last.hash)


def stored_checkpoints(session: Session) -> list[Checkpoint]:
    rows = session.scalars(sa.select(AuditCheckpointRow).order_by(AuditCheckpointRow.seq, AuditCheckpointRow.id))
    return [Checkpoint.from_row(row) for row in rows]


def export_checkpoint(estate: Estate, path: Path) -> Checkpoint:
    """Write a checkpoint at the newest entry to ``path`` (JSON, with the public key) and return it.

    Keep the file where whoever runs the estate cannot change it (another
    team's share, a write-once bucket, a printed copy); ``joinedup audit verify
    --checkpoint FILE`` then proves the log still holds everything up to it.
    """
    made = checkpoint(estate)
    document = {"type": FILE_TYPE, "version": FILE_VERSION, "algorithm": "Ed25519", **made.to_dict()}
    staged = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        staged.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        os.replace(staged, path)
    except OSError as exc:
        staged.unlink(missing_ok=True)
        raise InputError(f"{path}: cannot write the checkpoint: {exc.strerror}") from None
    return made


def load_checkpoint_file(path: Path) -> Checkpoint:
    """Read an exported checkpoint; its signature is checked by :func:`joinedup.audit.verify`."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: no such checkpoint file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not a readable checkpoint file ({exc})") from None
    if not isinstance(document, dict) or document.get("type") != FILE_TYPE:
        raise InputError(f"{path}: not a joinedup audit checkpoint (expected \"type\": \"{FILE_TYPE}\")")
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
