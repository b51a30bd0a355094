"""The sealed query texts: reading them back, and destroying those that name a person.

Lifecycle's erasure calls :func:`forget_sealed` with the person's values; the
entries keep their commitments, and the ``audit.sealed_forget`` entry written in
the same transaction tells verify those texts were destroyed on the record.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Collection, Iterable, Iterator

import duckdb
import sqlalchemy as sa
from sqlalchemy.orm import Session

from joinedup.audit.models import AuditSealedRow
from joinedup.audit.record import record
from joinedup.audit.sealing import commitment, existing_seal_key, seal, unseal
from joinedup.audit.verify import SEALED_FORGET_ACTION
from joinedup.estate import Estate

_CHUNK = 5_000
_SHORTEST = 3


def sealed_texts(estate: Estate) -> Iterator[tuple[int, str]]:
    """Every sealed query text that still opens, as (seq, text), in seq order.

    For scans that must look inside the sealed store (an erasure's check that no
    trace of the person is left). A text that does not open is skipped: verify reports it.
    """
    key = existing_seal_key(estate)
    if key is None:
        return
    query = sa.select(AuditSealedRow.seq, AuditSealedRow.sealed).order_by(AuditSealedRow.seq)
    with estate.engine.connect() as connection:
        for seq, sealed in connection.execution_options(stream_results=True, yield_per=_CHUNK).execute(query):
            text = unseal(key, bytes(sealed))
            if text is not None:
                yield int(seq), text


def load_sealed(estate: Estate, seqs: Collection[int]) -> dict[int, str]:
    """The sealed texts of ``seqs`` that still exist and open."""
    key = existing_seal_key(estate)
    if key is None or not seqs:
        return {}
    wanted = sorted(seqs)
    found: dict[int, str] = {}
    with estate.engine.connect() as connection:
        # Chunked: drivers cap the number of parameters in one statement.
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            rows = connection.execute(
                sa.select(AuditSealedRow.seq, AuditSealedRow.sealed).where(AuditSealedRow.seq.in_(chunk))
            )
            for seq, sealed in rows:
                text = unseal(key, bytes(sealed))
                if text is not None:
                    found[int(seq)] = text
    return found


def forget_sealed(
    session: Session | sa.Connection,
    estate: Estate,
    *,
    principal: str,
    values: Iterable[str],
    purpose: str | None = None,
) -> int:
    """Destroy every sealed query text containing any of ``values``; returns how many.

    A value matches ignoring case, and ignoring spaces and punctuation (``943 476 5919``
    matches ``'9434765919'``); values under three characters are ignored. Where the
    values appear only as literals, the text is sealed again with those literals
    as ``NULL`` (so who-accessed still answers for everyone else the query read);
    otherwise it is deleted. Runs in
    ``session``'s transaction with its ``audit.sealed_forget`` entry (which lists
    the seqs and the new commitments, never the values), so the chain still
    verifies. On SQLite the old rows' bytes are overwritten, not just freed.
    """
    # Values shorter than three characters would match inside almost every text: they are not searched for.
    wanted = [v for v in (_folded(v) for v in values) if len(v) >= _SHORTEST]
    compact = [c for c in (_compact(v) for v in wanted) if len(c) >= _SHORTEST]
    if not wanted:
        return 0

    def names(text: str) -> bool:
        return any(v in _folded(text) for v in wanted) or any(c in _compact(_folded(text)) for c in compact)

    doomed: list[int] = []
    resealed: dict[int, bytes] = {}
    for seq, text in sealed_texts(estate):
        if not names(text):
            continue
        blanked = _blank_literals(text, names)
        if blanked is not None and not names(blanked):
            resealed[seq] = seal(estate, blanked)
        else:
            doomed.append(seq)
    if not doomed and not resealed:
        return 0
    dialect = session.get_bind().dialect if isinstance(session, Session) else session.dialect
    if dialect.name == "sqlite":
        # Deleted rows' bytes are zeroed on their pages, so the text is gone from the file, not only unlinked.
        session.execute(sa.text("PRAGMA secure_delete = ON"))
    gone = sorted([*doomed, *resealed])
    for start in range(0, len(gone), _CHUNK):
        session.execute(sa.delete(AuditSealedRow).where(AuditSealedRow.seq.in_(gone[start : start + _CHUNK])))
    if resealed:
        session.execute(sa.insert(AuditSealedRow), [{"seq": k, "sealed": v} for k, v in resealed.items()])
    record(
        session, estate, principal=principal, action=SEALED_FORGET_ACTION, purpose=purpose, row_count=len(gone),
        detail={"seqs": sorted(doomed), "resealed": {str(k): commitment(v) for k, v in sorted(resealed.items())}},
    )  # fmt: skip
    return len(gone)


def _blank_literals(text: str, names: Callable[[str], bool]) -> str | None:
    """``text`` with each literal naming a value as ``NULL``, comments dropped; None when it cannot be split."""
    try:
        tokens = duckdb.tokenize(text)
    except Exception:
        return None
    raw = text.encode("utf-8")
    ends = [start for start, _ in tokens[1:]] + [len(raw)]
    parts = []
    for (start, kind), end in zip(tokens, ends, strict=True):
        piece = raw[start:end].decode("utf-8", errors="replace")
        if kind == duckdb.token_type.comment:
            parts.append(" ")
        elif kind in (duckdb.token_type.string_const, duckdb.token_type.numeric_const) and names(piece):
            parts.append("NULL" + (" " if piece != piece.rstrip() else ""))
        else:
            parts.append(piece)
    return "".join(parts)


def _folded(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold().strip()


_NOT_ALNUM = re.compile(r"[\W_]+")


def _compact(text: str) -> str:
    return _NOT_ALNUM.sub("", text)
