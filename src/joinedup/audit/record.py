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

Each entry and the head are sealed with a MAC under the chain key in ``keys/``
(see :mod:`joinedup.audit.keys`). Holding the head, an append also checks the
head's own MAC (a head set by hand is recorded as an ``audit.tampering`` entry
first), notices a changed ``[audit] checkpoint_every`` (an ``audit.settings``
entry), and signs the checkpoint that falls due. The newest checkpoint reaches
``keys/`` only after its transaction commits: :func:`record_now` writes it
itself, and :func:`record` does when given an ORM session (given a bare
connection it cannot tell when that commits, and leaves it to the next one).
"""

from __future__ import annotations

import functools
import hmac
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session

from joinedup.audit.canonical import canonical_json, canonical_time, encode_entry, entry_hash
from joinedup.audit.checkpoints import DEFAULT_INTERVAL, Checkpoint, checkpoint_interval, keep_checkpoint
from joinedup.audit.entry import AuditEntry
from joinedup.audit.keys import ChainKey, chain_key, make_chain_key
from joinedup.audit.redact import redact_detail, redact_names, redact_sql, redact_text
from joinedup.audit.sealing import commitment, seal
from joinedup.audit.signing import sign_checked
from joinedup.audit.subjects import Subject, estate_secret, hash_subjects
from joinedup.audit.verify import SETTINGS_ACTION, TAMPERING_ACTION
from joinedup.errors import BusyError, EstateError, InputError, TamperingError
from joinedup.estate import Estate
from joinedup.estate.db import LOCKED, is_locked, now

T = TypeVar("T")

ACTION = re.compile(r"[a-z][a-z_]*(\.[a-z][a-z_]*)+")

# Plain DB-API statements: an append is three of them (a batch of appends too), and on this hot path
# SQLAlchemy's per-statement bookkeeping cost more than SQLite's own work.
_TAKE_HEAD = "UPDATE audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash, mac, checkpoint_every"
_MOVE_HEAD = "UPDATE audit_head SET seq = ?, hash = ?, mac = ?, checkpoint_every = ? WHERE id = 1"
_INSERT = (
    "INSERT INTO audit_entries (seq, at, principal, action, purpose, dataset, dataset_version,"
    " row_count, prev_hash, columns, subjects, detail, hash, mac) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)
_SEAL = "INSERT INTO audit_sealed (seq, sealed) VALUES (?, ?) ON CONFLICT (seq) DO UPDATE SET sealed = excluded.sealed"
_PENDING = "joinedup.audit.checkpoints"
#: Who an ``audit.settings`` entry names: the settings file changed the interval (the acting principal is in detail).
SETTINGS_PRINCIPAL = "(joinedup.toml)"


@dataclass(frozen=True)
class Fields:
    """An entry's fields as they will be stored (redacted, canonical), before it has a place in the chain."""

    principal: str
    action: str
    purpose: str | None = None
    dataset: str | None = None
    dataset_version: int | None = None
    row_count: int | None = None
    columns: tuple[str, ...] = ()
    subjects: tuple[str, ...] = ()
    detail: dict[str, Any] = field(default_factory=dict)
    #: The query text sealed outside the chain with this entry (see :mod:`joinedup.audit.sealing`), if any.
    sealed: bytes | None = None

    @functools.cached_property
    def encoded(self) -> tuple[str, str, str]:
        """The columns, subjects and detail as the canonical JSON the entry stores and hashes."""
        return _json_list(self.columns), canonical_json(list(self.subjects)), canonical_json(self.detail)


@functools.lru_cache(maxsize=1024)
def _json_list(texts: tuple[str, ...]) -> str:
    # An entry's columns: the same few lists again and again.
    return canonical_json(list(texts))


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
    follow_settings: bool = True,
) -> AuditEntry:
    """Append an entry in ``session``'s transaction (an ORM session or a Core connection).

    The entry exists when the caller commits.

    ``subjects`` name the people the action touched, stored as keyed hashes; a
    read that gives them must give everyone it returned (who-accessed then
    trusts the list instead of asking about the dataset). ``sql`` is a query's
    text: it is stored with literals replaced by ``?`` and their keyed hashes
    under ``detail["literals"]``; the text itself is sealed in ``audit_sealed``
    (see :mod:`joinedup.audit.sealing`) with its commitment under ``detail["sealed"]``.
    NHS and NI numbers anywhere in the text an entry stores (principal, purpose,
    dataset, columns, ``detail`` strings) are replaced the same way, their hashes
    under ``detail["mentions"]``. A read over several datasets leaves ``dataset``
    empty and gives ``detail={"versions": {name: version, ...}}``. ``names`` are
    the dataset and column names a query may use openly: given them, any other
    name in ``sql`` or ``columns`` (an alias, an expression's text) is replaced
    by ``?`` too, its hashes with the literals'.

    Call it last in the transaction: it takes the log's head lock, held until
    commit, so taking other locks after it would serialise (or on PostgreSQL
    risk deadlocking) unrelated work behind the log.
    """
    fields = prepare(
        estate, principal=principal, action=action, purpose=purpose, dataset=dataset,
        dataset_version=dataset_version, columns=columns, row_count=row_count, subjects=subjects, sql=sql,
        names=names, detail=detail,
    )  # fmt: skip
    connection = session.connection() if isinstance(session, Session) else session
    made, signed = append_prepared(connection, estate, [fields], follow_settings)
    _keep_when_committed(session, estate, signed)
    return made[0]


def prepare(
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
) -> Fields:
    """The entry's fields as they will be stored: checked, redacted and encoded (no database yet).

    Takes :func:`record`'s keywords. A writer batching other threads' entries (:mod:`joinedup.audit.group`) has
    them prepared by their submitters, so a bad entry fails there and the writer only chains and inserts.
    """
    if not ACTION.fullmatch(action):
        raise ValueError(f"audit action {action!r}: expected dotted lower-case words, e.g. 'data.query'")
    if not principal:
        raise ValueError("audit entries need a principal")
    people = list(subjects)
    secret = estate_secret(estate)
    facts: dict[str, Any] = {}
    mentions: set[str] = set()
    column_list = [str(c) for c in columns]
    if sql is None and names is None:
        # The usual entry (an API read, say) repeats the same principal, purpose, dataset, columns and detail
        # texts: cleaned once, remembered (a bounded cache, keyed by the secret too).
        remembered = _clean_repeated(secret, principal, purpose, dataset, column_list, detail)
        if remembered is not None:
            principal, purpose, dataset, cleaned_columns, cleaned_detail, found_all = remembered
            return _fields(
                action, principal, purpose, dataset, dataset_version, row_count, cleaned_columns,
                dict(cleaned_detail), set(found_all), secret, people,
            )  # fmt: skip

    def clean(text: str) -> str:
        # Every free-text field goes through the one detector; what it finds is kept as keyed hashes.
        redacted = redact_text(secret, text)
        mentions.update(redacted.hashes)
        return redacted.text

    if detail:
        cleaned, found = redact_detail(secret, detail)
        facts.update(cleaned)
        mentions.update(found)
    sealed: bytes | None = None
    if sql is not None:
        redacted = redact_sql(secret, sql, names)
        facts["sql"] = redacted.text
        facts["literals"] = redacted.hashes
        # The text itself, literals included, goes outside the chain; the entry commits to it.
        sealed = seal(estate, sql)
        facts["sealed"] = commitment(sealed)
    if names is not None:
        column_list, found = redact_names(secret, column_list, names)
        if found:
            facts["literals"] = sorted(set(facts.get("literals", [])).union(found))
    column_list = [clean(c) for c in column_list]
    principal = clean(principal)
    purpose = clean(purpose) if purpose else purpose
    dataset = clean(dataset) if dataset else dataset
    return _fields(
        action, principal, purpose, dataset, dataset_version, row_count, tuple(column_list), facts, mentions,
        secret, people, sealed,
    )  # fmt: skip


#: Repeated entries' cleaned texts remembered at most (each a few short strings), and how long each may be.
_REPEATED = 1024
_SHORT = 200
#: Detail values a remembered entry may hold: flat, hashable, and short when text. Not floats: -0.0 == 0.0 (same
#: type, same hash), so a remembered 0.0 would be stored for a -0.0.
_FLAT = frozenset({str, int, bool, type(None)})
_TEXT = frozenset({str})


def _clean_repeated(
    secret: bytes,
    principal: str,
    purpose: str | None,
    dataset: str | None,
    columns: list[str],
    detail: Mapping[str, Any] | None,
) -> tuple[str, str | None, str | None, tuple[str, ...], tuple[tuple[str, Any], ...], tuple[str, ...]] | None:
    """:func:`_cleaned` of these fields when they are short and ``detail`` is flat; else None (clean them afresh)."""
    names = tuple(detail) if detail else ()
    values = tuple(detail.values()) if detail else ()
    kinds = tuple(map(type, values))
    if not _FLAT.issuperset(kinds) or not _TEXT.issuperset(map(type, names)):
        return None
    texts = (principal, purpose or "", dataset or "", *columns, *(v for v in values if type(v) is str))
    if max(map(len, texts)) > _SHORT:
        return None
    # Each value's type is part of the key: 0 == False and 1 == 1.0, but they are stored differently.
    return _cleaned(secret, principal, purpose, dataset, tuple(columns), tuple(zip(names, kinds, values, strict=True)))


@functools.lru_cache(maxsize=_REPEATED)
def _cleaned(
    secret: bytes,
    principal: str,
    purpose: str | None,
    dataset: str | None,
    columns: tuple[str, ...],
    items: tuple[tuple[str, type, Any], ...],
) -> tuple[str, str | None, str | None, tuple[str, ...], tuple[tuple[str, Any], ...], tuple[str, ...]]:
    found: set[str] = set()

    def clean(text: str) -> str:
        redacted = redact_text(secret, text)
        found.update(redacted.hashes)
        return redacted.text

    cleaned_detail, in_detail = redact_detail(secret, {k: v for k, _, v in items}) if items else ({}, [])
    found.update(in_detail)
    # A tuple the caller copies: what is remembered cannot be changed through an entry.
    return (
        clean(principal),
        clean(purpose) if purpose else purpose,
        clean(dataset) if dataset else dataset,
        tuple(clean(c) for c in columns),
        tuple(cleaned_detail.items()),
        tuple(sorted(found)),
    )


def _fields(
    action: str,
    principal: str,
    purpose: str | None,
    dataset: str | None,
    dataset_version: int | None,
    row_count: int | None,
    columns: tuple[str, ...],
    facts: dict[str, Any],
    mentions: set[str],
    secret: bytes,
    people: list[Subject],
    sealed: bytes | None = None,
) -> Fields:
    """The entry's :class:`Fields` from its cleaned texts, with the mentions found and the subjects' hashes."""
    if mentions:
        facts["mentions"] = sorted(mentions)
    hashes = sorted(set(hash_subjects(secret, people)))
    fields = Fields(
        principal, action, purpose, dataset, dataset_version, row_count, columns, tuple(hashes), facts, sealed
    )
    try:
        for text in (principal, purpose, dataset, *fields.encoded):
            (text or "").encode("utf-8")
    except (TypeError, ValueError, UnicodeEncodeError) as exc:
        raise InputError(f"audit entry for {action}: cannot be encoded ({exc})") from None
    return fields


def append_prepared(
    connection: sa.Connection, estate: Estate, items: Sequence[Fields], follow_settings: bool = True
) -> tuple[list[AuditEntry], list[Checkpoint]]:
    """Write ``items`` as the next entries (after any entry the log itself needs first).

    With ``follow_settings`` false the interval in force is kept whatever joinedup.toml says (verify's own entry,
    which must be written even when the setting is invalid).

    Returns the entries written for ``items`` and the checkpoints signed with them (for ``keys/`` once committed).
    The log's head is taken and moved once for all of ``items``, and runs of entries are inserted in one statement.
    """
    cursor = connection.connection.cursor()
    signed: list[Checkpoint] = []
    made: list[AuditEntry] = []
    try:
        seq, prev_hash, head_mac, head_interval = _take_head(connection, cursor)
        wanted = checkpoint_interval(estate) if follow_settings else None
        key, pin = _key_for(connection, estate, seq, prev_hash, head_mac, wanted or DEFAULT_INTERVAL)
        signed += [pin] if pin else []
        interval = head_interval if head_interval is not None else key.checkpoint_every
        queue = []
        if _head_tampered(key, seq - 1, prev_hash, head_mac, head_interval):
            # Appending would re-seal a head someone set by hand; the finding goes into the chain first.
            queue.append(Fields(items[0].principal, TAMPERING_ACTION, detail={"head_seq": seq - 1}))
        if wanted is not None and wanted != interval:
            # The file changed the setting, not the principal acting: they are named in the detail (already redacted).
            queue.append(
                Fields(
                    SETTINGS_PRINCIPAL,
                    SETTINGS_ACTION,
                    detail={"checkpoint_every": wanted, "previous": interval, "acting": items[0].principal},
                )
            )
        first_item = len(queue)
        queue.extend(items)
        rows: list[tuple[Any, ...]] = []
        for position, item in enumerate(queue):
            if position:
                seq += 1
            if item.action == SETTINGS_ACTION and wanted is not None:
                interval = wanted
            entry, row = _entry(key, seq, prev_hash, item)
            rows.append(row)
            prev_hash = entry.hash
            if position >= first_item:
                made.append(entry)
            if item.sealed is not None:
                # Same transaction as the entry: both are committed, or neither. A text left at this seq by
                # entries deleted outside joinedup is not this entry's (its commitment says so): it gives way.
                _insert(connection, cursor, rows)
                _run(connection, cursor, _SEAL, (seq, item.sealed))
            # A changed interval is signed for at once: raising it then never leaves more than the new
            # interval (at most MAX_INTERVAL) of entries after the newest checkpoint, which is all that
            # someone without keys/ can cut unnoticed.
            if seq % interval == 0 or item.action == SETTINGS_ACTION:
                _insert(connection, cursor, rows)  # signing reads the entries back
                checkpoint = sign_checked(connection, estate, key, seq, entry.hash)
                if isinstance(checkpoint, Checkpoint):
                    signed.append(checkpoint)
        _insert(connection, cursor, rows)
        _run(connection, cursor, _MOVE_HEAD, (seq, prev_hash, key.head_mac(seq, prev_hash, interval), interval))
    finally:
        cursor.close()
    return made, signed


def _take_head(connection: sa.Connection, cursor: Any) -> tuple[int, str, str | None, int | None]:
    _run(connection, cursor, _TAKE_HEAD)
    rows = cursor.fetchall()
    if not rows:
        raise TamperingError(
            "the audit log's head row is missing: the catalogue was changed outside joinedup; "
            "run `joinedup audit verify`"
        )
    seq, prev_hash, mac, interval = rows[0]
    return int(seq), str(prev_hash), mac, None if interval is None else int(interval)


def _head_tampered(key: ChainKey, seq: int, entry_hash: str, mac: str | None, interval: int | None) -> bool:
    if mac is None:
        return seq != key.from_seq - 1  # only a head nothing has been written over with the key yet has no MAC
    return interval is None or not hmac.compare_digest(mac, key.head_mac(seq, entry_hash, interval))


def _key_for(
    connection: sa.Connection, estate: Estate, seq: int, prev_hash: str, head_mac: str | None, interval: int
) -> tuple[ChainKey, Checkpoint | None]:
    """The chain key, made (and the older, unkeyed entries pinned by a checkpoint) on the first keyed append."""
    key = chain_key(estate)
    if key is None:
        if head_mac is not None:
            raise EstateError(
                f"{estate.keys_dir / 'audit-chain.key'}: missing, but the "
                "audit log was written with it; restore keys/ from its backup"
            )
        key = make_chain_key(estate, seq, interval)
    if head_mac is None and seq == key.from_seq and seq > 1:
        # Entries from an older joinedup carry no MAC: a signed checkpoint vouches for them as they are now.
        pin = sign_checked(connection, estate, None, seq - 1, prev_hash)
        return key, pin if isinstance(pin, Checkpoint) else None
    return key, None


def _entry(key: ChainKey, seq: int, prev_hash: str, item: Fields) -> tuple[AuditEntry, tuple[Any, ...]]:
    """The entry ``item`` makes at ``seq`` after ``prev_hash``, and its row for the insert."""
    columns_json, subjects_json, detail_json = item.encoded
    # Stamped while holding the head, so times never run backwards along the chain.
    at = canonical_time(now())
    digest = entry_hash(
        encode_entry(
            seq=seq, at=at, principal=item.principal, action=item.action, purpose=item.purpose, dataset=item.dataset,
            dataset_version=item.dataset_version, row_count=item.row_count, prev_hash=prev_hash,
            columns_json=columns_json, subjects_json=subjects_json, detail_json=detail_json,
        )
    )  # fmt: skip
    mac = key.entry_mac(digest)
    row = (
        seq, at, item.principal, item.action, item.purpose, item.dataset, item.dataset_version, item.row_count,
        prev_hash, columns_json, subjects_json, detail_json, digest, mac,
    )  # fmt: skip
    entry = AuditEntry(
        seq=seq, at=at, principal=item.principal, action=item.action, purpose=item.purpose, dataset=item.dataset,
        dataset_version=item.dataset_version, columns=item.columns, row_count=item.row_count, subjects=item.subjects,
        detail=item.detail, prev_hash=prev_hash, hash=digest, mac=mac,
    )  # fmt: skip
    return entry, row


def _insert(connection: sa.Connection, cursor: Any, rows: list[tuple[Any, ...]]) -> None:
    """Insert the entries waiting in ``rows`` (in one statement) and empty it."""
    if not rows:
        return
    try:
        _run(connection, cursor, _INSERT, rows, many=True)
    except sa.exc.IntegrityError as exc:
        if not _seq_taken(exc):
            raise
        # seq is the primary key: an entry already there means the head was set back behind the log.
        raise TamperingError(
            f"the audit log's head (seq {rows[0][0] - 1}) is behind its entries: it was set back outside joinedup; "
            "run `joinedup audit verify`"
        ) from None
    rows.clear()


def _seq_taken(exc: sa.exc.IntegrityError) -> bool:
    """Whether the insert failed because an entry with its seq exists (not another constraint or trigger)."""
    code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    return code == "23505" or "UNIQUE constraint failed: audit_entries.seq" in str(exc.orig)


def _keep_when_committed(session: Session | sa.Connection, estate: Estate, signed: list[Checkpoint]) -> None:
    """Record the newest checkpoint in ``keys/`` once the transaction has committed it (never one rolled back)."""
    if not signed:
        return
    if isinstance(session, sa.Connection):
        # record_now commits this connection and then keeps these in keys/.
        session.info.setdefault(_PENDING, []).extend(signed)
        return
    pending = session.info.setdefault(_PENDING, [])
    if not pending:

        def keep_all(committed: Session) -> None:
            for made in committed.info.pop(_PENDING, []):
                keep_checkpoint(estate, made)

        sa.event.listen(session, "after_commit", keep_all, once=True)
        sa.event.listen(session, "after_rollback", lambda s: s.info.pop(_PENDING, None), once=True)
    pending.extend(signed)


def record_now(estate: Estate, **entry: Any) -> AuditEntry:
    """Append an entry and commit it before returning (see :func:`record` for the fields)."""
    with estate.engine.begin() as connection:
        # The info dict outlives this checkout (it is the pooled connection's): start it clean.
        connection.info.pop(_PENDING, None)
        made = record(connection, estate, **entry)
        signed = connection.info.pop(_PENDING, [])
    # Only now is the checkpoint committed, so only now may keys/ vouch for it.
    for checkpoint in signed:
        keep_checkpoint(estate, checkpoint)
    return made


def release(estate: Estate, data: T, **entry: Any) -> T:
    """Commit the audit entry for handing ``data`` over, then hand it over.

    If the entry cannot be written this raises and ``data`` goes nowhere::

        rows = run_query(...)                       # fetched, not yet returned
        return release(estate, rows, principal=..., action="data.query", ...)
    """
    record_now(estate, **entry)
    return data


def _run(connection: sa.Connection, cursor: Any, sql: str, params: Any = (), *, many: bool = False) -> None:
    """Execute on the driver's cursor, raising SQLAlchemy's exceptions as every other catalogue write does.

    With ``many``, ``params`` is a list of parameter tuples, one execution each.
    """
    dialect = connection.dialect
    if dialect.paramstyle != "qmark":
        sql = sql.replace("?", "%s")
    try:
        if many:
            cursor.executemany(sql, params)
        else:
            cursor.execute(sql, params)
    except dialect.loaded_dbapi.Error as exc:
        if is_locked(exc):
            raise BusyError(LOCKED) from None  # as every catalogue statement run through SQLAlchemy does
        raise sa.exc.DBAPIError.instance(sql, params, exc, dialect.loaded_dbapi.Error) from exc
