"""Appending to the audit log.

Two ways in, one rule: the entry is committed no later than the thing it records.

- :func:`record` adds the entry inside the caller's transaction, so a change
  (an ingest, a grant, an erasure) and its entry commit together or not at all.
- :func:`record_now` commits the entry on its own, for reads: call it after the
  data has been fetched and before it is handed over. :func:`release` wraps that
  order up: if the entry cannot be written it raises, and the caller never
  receives the data. That is the contract every front end relies on.

Appends are serialised by updating the single ``audit_head`` row first: on
SQLite that statement takes the database write lock before the previous hash is
read (and waits for it, up to the busy timeout); on PostgreSQL it takes the row
lock. Two processes therefore cannot both append after the same entry, and the
primary key on ``seq`` turns any attempt that bypassed the head into an error
rather than a fork.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session

from joinedup.audit.canonical import canonical_json, canonical_time, encode_entry, entry_hash
from joinedup.audit.checkpoints import checkpoint_interval, sign_checkpoint
from joinedup.audit.entry import AuditEntry
from joinedup.audit.redact import redact_detail, redact_names, redact_sql, redact_text
from joinedup.audit.subjects import Subject, estate_secret, hash_subjects
from joinedup.errors import EstateError, InputError
from joinedup.estate import Estate
from joinedup.estate.db import now

T = TypeVar("T")

ACTION = re.compile(r"[a-z][a-z_]*(\.[a-z][a-z_]*)+")

# Plain DB-API statements: an append is three of them, and on this hot path
# SQLAlchemy's per-statement bookkeeping cost more than SQLite's own work.
_TAKE_HEAD = "UPDATE audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash"
_MOVE_HEAD = "UPDATE audit_head SET hash = ? WHERE id = 1"
_INSERT = (
    "INSERT INTO audit_entries (seq, at, principal, action, purpose, dataset, dataset_version,"
    " row_count, prev_hash, columns, subjects, detail, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)"
)


def record(
    session: Session | sa.Connection,
    estate: Estate,
    *,
    principal: str,
    action: str,
    purpose: str | None = None,
    dataset: str | None = None,
    dataset_version: int | None = None,
    columns: Iterable[str] = (),
    row_count: int | None = None,
    subjects: Iterable[Subject] = (),
    sql: str | None = None,
    names: Collection[str] | None = None,
    detail: Mapping[str, Any] | None = None,
) -> AuditEntry:
    """Append an entry in ``session``'s transaction (an ORM session or a Core connection); it exists when the caller commits.

    ``subjects`` name the people the action touched, stored as keyed hashes; a
    read that gives them must give everyone it returned (who-accessed then
    trusts the list instead of asking about the dataset). ``sql`` is a query's
    text: it is stored with literals replaced by ``?`` and their keyed hashes
    under ``detail["literals"]``. NHS and NI numbers in ``purpose`` and in
    ``detail`` strings are replaced the same way, their hashes under
    ``detail["mentions"]``. A read over several datasets leaves ``dataset``
    empty and gives ``detail={"versions": {name: version, ...}}``. ``names`` are
    the dataset and column names a query may use openly: given them, any other
    name in ``sql`` or ``columns`` (an alias, an expression's text) is replaced
    by ``?`` too, its hashes with the literals'.

    Call it last in the transaction: it takes the log's head lock, held until
    commit, so taking other locks after it would serialise (or on PostgreSQL
    risk deadlocking) unrelated work behind the log.
    """
    if not ACTION.fullmatch(action):
        raise ValueError(f"audit action {action!r}: expected dotted lower-case words, e.g. 'data.query'")
    if not principal:
        raise ValueError("audit entries need a principal")
    people = list(subjects)
    secret = estate_secret(estate) if (people or sql is not None or purpose or detail or names is not None) else b""
    facts: dict[str, Any] = {}
    mentions: set[str] = set()
    if detail:
        cleaned, found = redact_detail(secret, detail)
        facts.update(cleaned)
        mentions.update(found)
    column_list = [str(c) for c in columns]
    if sql is not None:
        redacted = redact_sql(secret, sql, names)
        facts["sql"] = redacted.text
        facts["literals"] = redacted.hashes
    if names is not None:
        column_list, found = redact_names(secret, column_list, names)
        if found:
            facts["literals"] = sorted(set(facts.get("literals", [])).union(found))
    if purpose:
        stated = redact_text(secret, purpose)
        purpose = stated.text
        mentions.update(stated.hashes)
    if mentions:
        facts["mentions"] = sorted(mentions)
    hashes = sorted(set(hash_subjects(secret, people)))
    try:
        columns_json = canonical_json(column_list)
        detail_json = canonical_json(facts)
        for text in (principal, purpose, dataset, columns_json, detail_json):
            (text or "").encode("utf-8")
    except (TypeError, ValueError, UnicodeEncodeError) as exc:
        raise InputError(f"audit entry for {action}: cannot be encoded ({exc})") from None
    subjects_json = canonical_json(hashes)

    connection = session.connection() if isinstance(session, Session) else session
    cursor = connection.connection.cursor()
    try:
        _run(connection, cursor, _TAKE_HEAD)
        head = cursor.fetchone()
        if head is None:
            raise EstateError("the audit log's head row is missing; run `joinedup audit verify` and restore the catalogue")
        seq, prev_hash = int(head[0]), str(head[1])
        # Stamped while holding the head, so times never run backwards along the chain.
        at = canonical_time(now())
        row = (seq, at, principal, action, purpose, dataset, dataset_version, row_count, prev_hash)
        digest = entry_hash(
            encode_entry(
                seq=seq, at=at, principal=principal, action=action, purpose=purpose, dataset=dataset,
                dataset_version=dataset_version, row_count=row_count, prev_hash=prev_hash,
                columns_json=columns_json, subjects_json=subjects_json, detail_json=detail_json,
            )
        )  # fmt: skip
        _run(connection, cursor, _INSERT, (*row, columns_json, subjects_json, detail_json, digest))
        _run(connection, cursor, _MOVE_HEAD, (digest,))
    finally:
        cursor.close()
    if seq % checkpoint_interval(estate) == 0:
        sign_checkpoint(connection, estate, seq, digest)
    return AuditEntry(
        seq=seq,
        at=at,
        principal=principal,
        action=action,
        purpose=purpose,
        dataset=dataset,
        dataset_version=dataset_version,
        columns=tuple(column_list),
        row_count=row_count,
        subjects=tuple(hashes),
        detail=facts,
        prev_hash=prev_hash,
        hash=digest,
    )


def record_now(estate: Estate, **entry: Any) -> AuditEntry:
    """Append an entry and commit it before returning (see :func:`record` for the fields)."""
    with estate.engine.begin() as connection:
        return record(connection, estate, **entry)


def release(estate: Estate, data: T, **entry: Any) -> T:
    """Commit the audit entry for handing ``data`` over, then hand it over.

    If the entry cannot be written this raises and ``data`` goes nowhere::

        rows = run_query(...)                       # fetched, not yet returned
        return release(estate, rows, principal=..., action="data.query", ...)
    """
    record_now(estate, **entry)
    return data


def _run(connection: sa.Connection, cursor: Any, sql: str, params: tuple[Any, ...] = ()) -> None:
    """Execute on the driver's cursor, raising SQLAlchemy's exceptions as every other catalogue write does."""
    dialect = connection.dialect
    if dialect.paramstyle != "qmark":
        sql = sql.replace("?", "%s")
    try:
        cursor.execute(sql, params)
    except dialect.loaded_dbapi.Error as exc:
        raise sa.exc.DBAPIError.instance(sql, params, exc, dialect.loaded_dbapi.Error) from exc
