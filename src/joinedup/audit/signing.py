"""Signing checkpoints: only ever over a chain that verifies from the checkpoint before it.

A checkpoint signed over a forged chain would make the forgery look vouched
for, so each signing first walks the entries since the newest trusted
checkpoint (a stored one signed by this estate's key, or the one kept in
``keys/``). When they do not verify, an automatic checkpoint is skipped (verify
keeps reporting the problem) and ``joinedup audit checkpoint`` refuses.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from joinedup.audit.canonical import canonical_time
from joinedup.audit.checkpoints import (
    Checkpoint,
    keep_checkpoint,
    kept_checkpoint,
    write_checkpoint_file,
)
from joinedup.audit.keys import ChainKey, chain_key, public_key_hex, signing_key, verifying_key
from joinedup.audit.models import AuditCheckpointRow
from joinedup.audit.verify import chain_problem
from joinedup.errors import NotFoundError, TamperingError
from joinedup.estate import Estate
from joinedup.estate.db import now

_NEWEST = sa.text("SELECT seq, hash FROM audit_head WHERE id = 1")


def sign_checked(
    connection: sa.Connection, estate: Estate, key: ChainKey | None, seq: int, entry_hash: str
) -> Checkpoint | str:
    """Sign and store a checkpoint for entry ``seq`` in ``connection``'s transaction, or say why not."""
    problem = _problem_since_previous(connection, estate, key, seq)
    if problem is not None:
        return problem
    signer = signing_key(estate)
    unsigned = Checkpoint(
        seq, entry_hash, canonical_time(now()), estate.config.name, public_key_hex(signer.public_key()), ""
    )
    signed = Checkpoint(**{**unsigned.to_dict(), "signature": signer.sign(unsigned.message()).hex()})
    connection.execute(sa.insert(AuditCheckpointRow), signed.to_dict())
    return signed


def checkpoint(estate: Estate) -> Checkpoint:
    """A signed checkpoint at the newest entry (the stored one when it is already there).

    Raises :class:`TamperingError` when the log does not verify since the previous checkpoint.
    """
    with estate.engine.begin() as connection:
        head = connection.execute(_NEWEST).one_or_none()
        if head is None or head.seq == 0:
            raise NotFoundError("the audit log is empty: there is nothing to checkpoint yet")
        stored = connection.execute(
            sa.select(AuditCheckpointRow.__table__)
            .where(AuditCheckpointRow.seq == head.seq, AuditCheckpointRow.hash == head.hash)
            .limit(1)
        ).one_or_none()
        if stored is not None:
            made = Checkpoint.from_row(stored)
        else:
            signed = sign_checked(connection, estate, chain_key(estate), head.seq, head.hash)
            if isinstance(signed, str):
                raise TamperingError(f"not signing a checkpoint at seq {head.seq}: {signed}")
            made = signed
    keep_checkpoint(estate, made)
    return made


def export_checkpoint(estate: Estate, path: Path) -> Checkpoint:
    """Write a checkpoint at the newest entry to ``path`` (JSON, with the public key) and return it.

    Keep the file where whoever runs the estate cannot change it (another
    team's share, a write-once bucket, a printed copy); ``joinedup audit verify
    --checkpoint FILE`` then proves the log still holds everything up to it.
    """
    made = checkpoint(estate)
    write_checkpoint_file(made, path)
    return made


def _problem_since_previous(connection: sa.Connection, estate: Estate, key: ChainKey | None, seq: int) -> str | None:
    trusted = verifying_key(estate)
    trusted_hex = public_key_hex(trusted) if trusted is not None else None
    rows = connection.execute(
        sa.select(AuditCheckpointRow.__table__)
        .where(AuditCheckpointRow.seq < seq)
        .order_by(AuditCheckpointRow.seq.desc())
    )
    previous = next(
        (c for c in map(Checkpoint.from_row, rows) if c.public_key == trusted_hex and c.signature_valid()), None
    )
    kept = kept_checkpoint(estate)
    if kept is not None and (previous is None or kept.seq > previous.seq):
        if kept.seq >= seq:
            return (
                f"the checkpoint kept in keys/ vouches for seq {kept.seq}, "
                "so entries after it were removed and the log rewritten"
            )
        return f"the stored checkpoint at seq {kept.seq}, which keys/ records, is missing from the catalogue"
    return chain_problem(connection, key, previous, seq)
